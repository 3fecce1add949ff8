package io.passgate.control;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one status model the control API, the metrics and the status panel (LEDs) read: assembled by the
 * control thread every 250 ms from what the dataplane publishes (its counters, ten times a second) and the
 * switches. Immutable.
 *
 * @param timeMs          when it was assembled
 * @param dataplaneAlive  every dataplane thread completed a duty cycle within the last second
 * @param rulesApplied    passgate's rules are in place
 * @param fault           a short description of a fault, or null
 * @param switches        the passthrough switches
 * @param pptpTunnels     live PPTP calls
 * @param ipsecTunnels    live IKE, NAT-T and ESP sessions
 * @param l2tpTunnels     live L2TP sessions
 * @param sessions        live NAT sessions
 * @param capacity        session capacity
 */
public record StatusSnapshot(long timeMs, boolean dataplaneAlive, boolean rulesApplied, String fault, Switches switches,
    long pptpTunnels, long ipsecTunnels, long l2tpTunnels, long sessions, long capacity, Map<String, String> info)
{
    public static StatusSnapshot starting(final Switches switches)
    {
        return new StatusSnapshot(System.currentTimeMillis(), false, false, "starting", switches, 0, 0, 0, 0, 0, Map.of());
    }

    /** The same with new switches (published at once when a switch changes). */
    public StatusSnapshot withSwitches(final Switches newSwitches)
    {
        return new StatusSnapshot(System.currentTimeMillis(), dataplaneAlive, rulesApplied, fault, newSwitches, pptpTunnels,
            ipsecTunnels, l2tpTunnels, sessions, capacity, info);
    }

    /** Live tunnels of a passthrough: "pptp", "ipsec" (NAT-T included) or "l2tp". */
    public long tunnels(final String protocol)
    {
        return switch (protocol)
        {
            case "pptp" -> pptpTunnels;
            case "ipsec", "natt" -> ipsecTunnels;
            case "l2tp" -> l2tpTunnels;
            default -> 0;
        };
    }

    public boolean faulty()
    {
        return fault != null;
    }

    public Map<String, Object> toJson()
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("time-ms", timeMs);
        m.put("dataplane-alive", dataplaneAlive);
        m.put("rules-applied", rulesApplied);
        m.put("fault", fault);
        m.put("switches", switches.toJson());
        final Map<String, Object> tunnels = new LinkedHashMap<>();
        tunnels.put("pptp", pptpTunnels);
        tunnels.put("ipsec", ipsecTunnels);
        tunnels.put("l2tp", l2tpTunnels);
        m.put("tunnels", tunnels);
        m.put("sessions", sessions);
        m.put("capacity", capacity);
        m.putAll(info);
        return m;
    }
}

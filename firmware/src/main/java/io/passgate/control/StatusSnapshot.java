package io.passgate.control;

import java.util.LinkedHashMap;
import java.util.Map;

import io.passgate.alg.Helpers;

/**
 * The one status model the control API, the metrics and the status panel (LEDs) read: assembled by the
 * control thread every 250 ms from what the dataplane publishes (its counters, ten times a second) and the
 * switches, and at once when a switch changes. Immutable.
 *
 * @param timeMs          when it was assembled
 * @param dataplaneAlive  every dataplane thread completed a duty cycle within the last second
 * @param rulesApplied    passgate's rules are in place
 * @param fault           a short description of a fault, or null
 * @param switches        the passthrough switches
 * @param tunnels         live tunnels by tunnel group (pptp, ipsec with NAT-T, l2tp)
 * @param sessions        live NAT sessions
 * @param capacity        session capacity
 * @param info            what else the status shows (version, addresses, errors)
 */
public record StatusSnapshot(long timeMs, boolean dataplaneAlive, boolean rulesApplied, String fault, Switches switches,
    Map<String, Long> tunnels, long sessions, long capacity, Map<String, String> info)
{
    public StatusSnapshot
    {
        tunnels = Map.copyOf(tunnels);
        info = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(info));
    }

    public static StatusSnapshot starting(final Switches switches)
    {
        return new StatusSnapshot(System.currentTimeMillis(), false, false, "starting", switches, Map.of(), 0, 0, Map.of());
    }

    /** The same with new switches (published at once when a switch changes). */
    public StatusSnapshot withSwitches(final Switches newSwitches)
    {
        return new StatusSnapshot(System.currentTimeMillis(), dataplaneAlive, rulesApplied, fault, newSwitches, tunnels,
            sessions, capacity, info);
    }

    /** Live tunnels of a switch's group ("natt" counts with "ipsec"); 0 for anything else. */
    public long tunnels(final String protocol)
    {
        final int i = Helpers.PASSTHROUGHS.index(protocol);
        final String group = i < 0 ? protocol : Helpers.PASSTHROUGHS.get(i).tunnelGroup();
        return tunnels.getOrDefault(group, 0L);
    }

    /** Live tunnels of every protocol together. */
    public long allTunnels()
    {
        long sum = 0;
        for (final long n : tunnels.values())
        {
            sum += n;
        }
        return sum;
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
        final Map<String, Object> t = new LinkedHashMap<>();
        for (final String group : Helpers.PASSTHROUGHS.tunnelGroups())
        {
            t.put(group, tunnels.getOrDefault(group, 0L));
        }
        m.put("tunnels", t);
        m.put("sessions", sessions);
        m.put("capacity", capacity);
        m.putAll(info);
        return m;
    }
}

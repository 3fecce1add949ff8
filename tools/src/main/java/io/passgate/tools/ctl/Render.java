package io.passgate.tools.ctl;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

/** passgatectl's human-readable output of the daemon's answers. */
final class Render
{
    private Render()
    {
    }

    static void status(final Map<String, Object> response, final PrintStream out)
    {
        final Map<String, Object> s = PassgateCtl.map(response.get("status"));
        out.printf("passgate %s (pid %s): %s, %s, %s%n", s.get("version"), s.get("pid"),
            Boolean.TRUE.equals(s.get("dataplane-alive")) ? "dataplane running" : "DATAPLANE STALLED",
            Boolean.TRUE.equals(s.get("rules-applied")) ? "rules applied" : "RULES NOT APPLIED",
            s.get("fault") == null ? "no fault" : "FAULT: " + s.get("fault"));
        out.printf("mode %s, fail-%s, WAN %s (%s), LAN %s, %s thread(s), queue backend %s%n", s.get("mode"),
            s.get("fail-mode"), s.get("wan-address"), s.get("wan-interface"), s.get("lan-interface"), s.get("threads"),
            s.get("queue-backend"));
        final Map<String, Object> sw = PassgateCtl.map(s.get("switches"));
        final Map<String, Object> tunnels = PassgateCtl.map(s.get("tunnels"));
        final StringBuilder b = new StringBuilder("passthrough: all " + onOff(sw.get("all")));
        final Map<String, Object> settings = PassgateCtl.map(sw.get("settings"));
        final Map<String, Object> effective = PassgateCtl.map(sw.get("effective"));
        for (final String p : new String[] {"pptp", "ipsec", "natt", "l2tp"})
        {
            b.append(" | ").append(p).append(' ').append(onOff(effective.get(p)));
            if (!settings.get(p).equals(effective.get(p)))
            {
                b.append(" (set ").append(onOff(settings.get(p))).append(')');
            }
            if (tunnels.containsKey(p))
            {
                b.append(", ").append(tunnels.get(p)).append(" tunnel(s)");
            }
        }
        out.println(b);
        out.printf("NAT sessions %s of %s%n", s.get("sessions"), s.get("capacity"));
        final Object dataplaneErrors = s.getOrDefault("dataplane-errors", "0");
        final Object sendErrors = s.getOrDefault("send-errors", "0");
        if (!"0".equals(String.valueOf(dataplaneErrors)) || !"0".equals(String.valueOf(sendErrors)))
        {
            out.printf("errors: %s dataplane fault(s)%s, %s failed send(s)%s%n", dataplaneErrors,
                s.containsKey("last-error") ? " (last: " + s.get("last-error") + ")" : "", sendErrors,
                s.containsKey("last-send-error") ? " (last: " + s.get("last-send-error") + ")" : "");
        }
        else
        {
            out.println("errors: none");
        }
        if (response.containsKey("panel"))
        {
            final StringBuilder leds = new StringBuilder("status panel " + response.get("panel") + ":");
            PassgateCtl.map(response.get("leds")).forEach((k, v) -> leds.append(' ').append(k).append('=').append(v));
            out.println(leds);
        }
    }

    static void switches(final Map<String, Object> sw, final PrintStream out)
    {
        final Map<String, Object> settings = PassgateCtl.map(sw.get("settings"));
        final Map<String, Object> effective = PassgateCtl.map(sw.get("effective"));
        final StringBuilder b = new StringBuilder("passthrough: all " + onOff(sw.get("all")));
        for (final String p : new String[] {"pptp", "ipsec", "natt", "l2tp"})
        {
            b.append(" | ").append(p).append(' ').append(onOff(effective.get(p)));
            if (!settings.get(p).equals(effective.get(p)))
            {
                b.append(" (set ").append(onOff(settings.get(p))).append(')');
            }
        }
        out.println(b);
    }

    static void tunnels(final List<Object> rows, final PrintStream out)
    {
        if (rows.isEmpty())
        {
            out.println("no VPN tunnels");
            return;
        }
        out.printf("%-13s %-15s %-8s %-15s %-8s %-28s %10s %12s %10s %12s %7s %7s%n", "PROTOCOL", "CLIENT", "ID/PORT",
            "SERVER", "ID/PORT", "WAN", "PKTS-OUT", "BYTES-OUT", "PKTS-IN", "BYTES-IN", "AGE-S", "IDLE-S");
        for (final Object o : rows)
        {
            final Map<String, Object> r = PassgateCtl.map(o);
            out.printf("%-13s %-15s %-8s %-15s %-8s %-28s %10s %12s %10s %12s %7s %7s%n", r.get("protocol"),
                r.get("client"), or(r.get("client-call-id"), r.get("client-port")), r.get("server"),
                or(r.get("server-call-id"), r.get("server-port")), r.get("wan"), r.get("packets-out"), r.get("bytes-out"),
                r.get("packets-in"), r.get("bytes-in"), r.get("age-s"), r.get("idle-s"));
        }
    }

    static void counters(final Map<String, Object> counters, final PrintStream out)
    {
        counters.forEach((k, v) -> out.printf("%-40s %s%n", k, v));
    }

    static void reload(final Map<String, Object> r, final PrintStream out)
    {
        out.println("applied: " + r.get("applied"));
        final List<Object> restart = PassgateCtl.list(r.get("restart-required"));
        out.println(restart.isEmpty() ? "nothing else changed" : "changed, needs a restart: " + restart);
    }

    private static String onOff(final Object b)
    {
        return Boolean.TRUE.equals(b) ? "on" : "off";
    }

    private static Object or(final Object a, final Object b)
    {
        return a != null ? a : b == null ? "-" : b;
    }
}

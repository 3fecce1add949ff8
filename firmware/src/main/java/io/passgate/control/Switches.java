package io.passgate.control;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import io.passgate.alg.Helpers;
import io.passgate.nat.Passthroughs;

/**
 * The passthrough switches: a master switch (all passthrough on or off, the push-button's) and each switch the
 * helpers declare ({@link Helpers#PASSTHROUGHS}: pptp, ipsec, natt, l2tp), each one's own setting remembered
 * while the master is off. A switch passes when the master, its own setting and the switch it depends on (NAT-T
 * on IPsec) are on. OpenVPN, WireGuard and SSTP are plain NAT and have no switch.
 *
 * @param master   the master switch
 * @param settings every declared switch's own setting, in declaration order
 */
public record Switches(boolean master, Map<String, Boolean> settings)
{
    /** Every declared switch on. */
    public static final Switches ALL_ON = allOn();

    public Switches
    {
        final Map<String, Boolean> complete = new LinkedHashMap<>();
        for (final String name : names())
        {
            complete.put(name, settings.getOrDefault(name, Boolean.TRUE));
        }
        settings = Collections.unmodifiableMap(complete);
    }

    private static Switches allOn()
    {
        return new Switches(true, Map.of());
    }

    private static Passthroughs layout()
    {
        return Helpers.PASSTHROUGHS;
    }

    /** The declared switch names, in order ("all" is the master's). */
    public static List<String> names()
    {
        return layout().names();
    }

    private static int index(final String protocol)
    {
        final int i = layout().index(protocol);
        if (i < 0)
        {
            throw new IllegalArgumentException("unknown passthrough '" + protocol + "' (" + String.join(", ", names())
                + " or all)");
        }
        return i;
    }

    /** Whether switch {@code protocol} passes now (master, own setting, and the switch it depends on). */
    public boolean effective(final String protocol)
    {
        int i = index(protocol);
        if (!master)
        {
            return false;
        }
        while (i >= 0)
        {
            if (!settings.get(layout().name(i)))
            {
                return false;
            }
            i = layout().parent(i);
        }
        return true;
    }

    /** A switch's own setting; "all" is the master. */
    public boolean setting(final String protocol)
    {
        if (protocol.equals("all"))
        {
            return master;
        }
        return settings.get(layout().name(index(protocol)));
    }

    /** The same with one switch changed ("all" is the master switch). */
    public Switches with(final String protocol, final boolean on)
    {
        final String p = protocol.toLowerCase(Locale.ROOT);
        if (p.equals("all"))
        {
            return new Switches(on, settings);
        }
        final Map<String, Boolean> next = new LinkedHashMap<>(settings);
        next.put(layout().name(index(p)), on);
        return new Switches(master, next);
    }

    public Map<String, Object> toJson()
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("all", master);
        final Map<String, Object> own = new LinkedHashMap<>();
        final Map<String, Object> effective = new LinkedHashMap<>();
        for (final String p : names())
        {
            own.put(p, setting(p));
            effective.put(p, effective(p));
        }
        m.put("settings", own);
        m.put("effective", effective);
        return m;
    }

    @Override
    public String toString()
    {
        final StringBuilder b = new StringBuilder("all=" + onOff(master));
        for (final String p : names())
        {
            b.append(' ').append(p).append('=').append(onOff(setting(p)));
            if (setting(p) != effective(p))
            {
                b.append("(off)");
            }
        }
        return b.toString();
    }

    public static String onOff(final boolean on)
    {
        return on ? "on" : "off";
    }
}

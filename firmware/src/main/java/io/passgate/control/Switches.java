package io.passgate.control;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The passthrough switches: a master switch (all passthrough on or off, the push-button's) and each
 * protocol's own setting, remembered while the master is off. A protocol passes when the master and its own
 * switch are on; NAT-T also needs IPsec. OpenVPN, WireGuard and SSTP are plain NAT and have no switch.
 */
public record Switches(boolean master, boolean pptp, boolean ipsec, boolean natt, boolean l2tp)
{
    public static final String[] PROTOCOLS = {"pptp", "ipsec", "natt", "l2tp"};
    public static final Switches ALL_ON = new Switches(true, true, true, true, true);

    public boolean effective(final String protocol)
    {
        return master && switch (protocol)
        {
            case "pptp" -> pptp;
            case "ipsec" -> ipsec;
            case "natt" -> ipsec && natt;
            case "l2tp" -> l2tp;
            default -> throw new IllegalArgumentException("unknown passthrough '" + protocol + "'");
        };
    }

    public boolean setting(final String protocol)
    {
        return switch (protocol)
        {
            case "pptp" -> pptp;
            case "ipsec" -> ipsec;
            case "natt" -> natt;
            case "l2tp" -> l2tp;
            case "all" -> master;
            default -> throw new IllegalArgumentException("unknown passthrough '" + protocol + "'");
        };
    }

    /** The same with one switch changed ("all" is the master switch). */
    public Switches with(final String protocol, final boolean on)
    {
        return switch (protocol.toLowerCase(Locale.ROOT))
        {
            case "all" -> new Switches(on, pptp, ipsec, natt, l2tp);
            case "pptp" -> new Switches(master, on, ipsec, natt, l2tp);
            case "ipsec" -> new Switches(master, pptp, on, natt, l2tp);
            case "natt" -> new Switches(master, pptp, ipsec, on, l2tp);
            case "l2tp" -> new Switches(master, pptp, ipsec, natt, on);
            default -> throw new IllegalArgumentException("unknown passthrough '" + protocol
                + "' (pptp, ipsec, natt, l2tp or all)");
        };
    }

    public Map<String, Object> toJson()
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("all", master);
        final Map<String, Object> settings = new LinkedHashMap<>();
        final Map<String, Object> effective = new LinkedHashMap<>();
        for (final String p : PROTOCOLS)
        {
            settings.put(p, setting(p));
            effective.put(p, effective(p));
        }
        m.put("settings", settings);
        m.put("effective", effective);
        return m;
    }

    @Override
    public String toString()
    {
        final StringBuilder b = new StringBuilder("all=" + onOff(master));
        for (final String p : PROTOCOLS)
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

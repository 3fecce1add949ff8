package io.passgate.nat;

/** IP protocol numbers the NAT maps, and the port spaces it allocates from. */
public final class Protocols
{
    public static final int ICMP = 1;
    public static final int TCP = 6;
    public static final int UDP = 17;
    public static final int GRE = 47;
    public static final int ESP = 50;

    /** Port spaces: TCP ports, UDP ports, ICMP query identifiers, PPTP Call IDs are per server (ALG). */
    public static final int SPACE_TCP = 0;
    public static final int SPACE_UDP = 1;
    public static final int SPACE_ICMP = 2;
    public static final int SPACES = 3;

    private Protocols()
    {
    }

    public static int space(final int protocol)
    {
        return switch (protocol)
        {
            case TCP -> SPACE_TCP;
            case UDP -> SPACE_UDP;
            case ICMP -> SPACE_ICMP;
            default -> -1;
        };
    }

    public static String name(final int protocol)
    {
        return switch (protocol)
        {
            case ICMP -> "icmp";
            case TCP -> "tcp";
            case UDP -> "udp";
            case GRE -> "gre";
            case ESP -> "esp";
            default -> "proto-" + protocol;
        };
    }
}

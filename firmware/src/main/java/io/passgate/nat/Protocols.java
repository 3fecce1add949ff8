package io.passgate.nat;

/** IP protocol numbers the NAT maps, and the port spaces it allocates from. */
public final class Protocols
{
    public static final int ICMP = 1;
    public static final int TCP = 6;
    public static final int UDP = 17;
    public static final int GRE = 47;
    public static final int ESP = 50;
    public static final int AH = 51;
    public static final int DCCP = 33;
    public static final int SCTP = 132;
    public static final int UDPLITE = 136;

    /**
     * Port spaces: TCP, UDP, SCTP, DCCP and UDP-Lite ports and ICMP query identifiers each have their own (an
     * external port is owned per protocol). PPTP Call IDs are per server (the helper's).
     */
    public static final int SPACE_TCP = 0;
    public static final int SPACE_UDP = 1;
    public static final int SPACE_ICMP = 2;
    public static final int SPACE_SCTP = 3;
    public static final int SPACE_DCCP = 4;
    public static final int SPACE_UDPLITE = 5;
    public static final int SPACES = 6;

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
            case SCTP -> SPACE_SCTP;
            case DCCP -> SPACE_DCCP;
            case UDPLITE -> SPACE_UDPLITE;
            default -> -1;
        };
    }

    /** Whether the protocol carries a source and destination port in its first four bytes (translated by port). */
    public static boolean hasPorts(final int protocol)
    {
        return protocol == TCP || protocol == UDP || protocol == SCTP || protocol == DCCP || protocol == UDPLITE;
    }

    /**
     * Where a port protocol's checksum field lies from its header's start, for patching a quoted header
     * incrementally; -1 for SCTP, whose CRC32c covers the whole packet (a quote cannot be fixed).
     */
    public static int checksumOffset(final int protocol)
    {
        return switch (protocol)
        {
            case TCP -> 16;
            case UDP, UDPLITE, DCCP -> 6;
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
            case AH -> "ah";
            case SCTP -> "sctp";
            case DCCP -> "dccp";
            case UDPLITE -> "udplite";
            default -> "proto-" + protocol;
        };
    }
}

package io.passgate.nat;

/**
 * Which VPN passthroughs the NAT lets through, as the dataplane thread sees them (set only by commands it
 * runs). What each switch covers:
 * <ul>
 *   <li>{@code pptp}: TCP to port 1723 (the control connection) and enhanced GRE (version 1);</li>
 *   <li>{@code ipsec}: UDP to port 500 (IKE), ESP (IP protocol 50), AH (51), and UDP to port 4500;</li>
 *   <li>{@code natt}: UDP to port 4500 (IKE and ESP over NAT-T), on only when {@code ipsec} is on too;</li>
 *   <li>{@code l2tp}: UDP to port 1701.</li>
 * </ul>
 * Everything else, OpenVPN, WireGuard and SSTP included, is plain NAT whatever the switches say. The ports
 * are the server's (the destination of the client's packets); inbound packets are judged by their source.
 */
public final class PassthroughPolicy
{
    public static final int NONE = -1;
    public static final int PPTP = 0;
    public static final int IPSEC = 1;
    public static final int NATT = 2;
    public static final int L2TP = 3;
    public static final String[] NAMES = {"pptp", "ipsec", "natt", "l2tp"};

    public static final int PPTP_PORT = 1723;
    public static final int IKE_PORT = 500;
    public static final int NATT_PORT = 4500;
    public static final int L2TP_PORT = 1701;
    public static final int AH = 51;

    private boolean pptp = true;
    private boolean ipsec = true;
    private boolean natt = true;
    private boolean l2tp = true;

    public void set(final boolean pptpOn, final boolean ipsecOn, final boolean nattOn, final boolean l2tpOn)
    {
        this.pptp = pptpOn;
        this.ipsec = ipsecOn;
        this.natt = nattOn;
        this.l2tp = l2tpOn;
    }

    /** The passthrough a TCP/UDP session to (or, inbound, from) {@code port} belongs to, or {@link #NONE}. */
    public static int ofPort(final int protocol, final int port)
    {
        if (protocol == Protocols.TCP)
        {
            return port == PPTP_PORT ? PPTP : NONE;
        }
        if (protocol == Protocols.UDP)
        {
            return switch (port)
            {
                case IKE_PORT -> IPSEC;
                case NATT_PORT -> NATT;
                case L2TP_PORT -> L2TP;
                default -> NONE;
            };
        }
        return NONE;
    }

    /** The passthrough a port-less IP protocol belongs to ({@code greVersion1}: GRE carrying PPTP). */
    public static int ofProtocol(final int protocol, final boolean greVersion1)
    {
        if (protocol == Protocols.GRE)
        {
            return greVersion1 ? PPTP : NONE;
        }
        return protocol == Protocols.ESP || protocol == AH ? IPSEC : NONE;
    }

    /** Whether passthrough {@code which} (or {@link #NONE}: not a passthrough) is allowed now. */
    public boolean allows(final int which)
    {
        return switch (which)
        {
            case PPTP -> pptp;
            case IPSEC -> ipsec;
            case NATT -> ipsec && natt;
            case L2TP -> l2tp;
            default -> true;
        };
    }

    public boolean allowsPort(final int protocol, final int port)
    {
        return allows(ofPort(protocol, port));
    }
}

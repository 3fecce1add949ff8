package io.passgate.nat;

import io.passgate.wire.Ipv4Header;

/**
 * The hook a passthrough helper (application-level gateway) plugs into the NAT engine with.
 *
 * <ul>
 *   <li>A helper <b>claims</b> a TCP/UDP session when the engine creates it ({@link #claims}); the engine
 *       then calls {@link #outbound}/{@link #inbound} for each packet of that session after translating
 *       addresses and ports, so the helper may rewrite the payload in place (field sizes never change, so
 *       TCP sequence numbers stay; the helper keeps the transport checksum right in both forms, see
 *       {@link io.passgate.wire.Checksum}).</li>
 *   <li>A helper owns whole IP protocols the engine cannot map by ports (GRE for PPTP, ESP for IPsec):
 *       {@link #outboundOther}/{@link #inboundOther} see those packets first.</li>
 *   <li>Dependent mappings (the GRE call of a PPTP control session, the ESP SPI pair of an IKE exchange)
 *       are created in the engine's {@link FlowTable} through {@link NatEngine#createDependent}, found
 *       with its indexes, and removed with {@link NatEngine#removeFlow}; {@link #flowRemoved} tells the
 *       helper when a session it owns ends for any reason (expiry, eviction, teardown, switch off).</li>
 * </ul>
 * Everything runs on the dataplane thread and must not allocate.
 */
public interface Alg
{
    /** Verdict value meaning "the helper did not decide; continue as the engine would". */
    int CONTINUE = -1;

    /** Index of this helper in the engine (1-based; 0 = none), set by the engine at registration. */
    void attach(NatEngine engine, int index);

    String name();

    /** Whether this helper takes a new TCP/UDP session to {@code remotePort}. */
    boolean claims(int protocol, int remotePort);

    /** An outbound packet of a claimed session, already translated. Returns a verdict or {@link #CONTINUE}. */
    int outbound(int flow, Ipv4Header ip, int l4Offset, int l4Length, boolean partialChecksum, long nowMs);

    /** An inbound packet of a claimed session, already translated. */
    int inbound(int flow, Ipv4Header ip, int l4Offset, int l4Length, boolean partialChecksum, long nowMs);

    /** An outbound packet of an IP protocol without ports; {@link #CONTINUE} when not this helper's. */
    int outboundOther(Ipv4Header ip, long nowMs);

    /** An inbound packet of an IP protocol without ports; {@link #CONTINUE} when not this helper's. */
    int inboundOther(Ipv4Header ip, long nowMs);

    /** {@link #icmpErrorInbound}/{@link #icmpErrorOutbound}: not about this helper's traffic. */
    int NOT_MINE = -1;
    /** {@link #icmpErrorInbound}/{@link #icmpErrorOutbound}: this helper's, but it cannot be routed: drop it. */
    int REFUSE = -2;

    /** Rewrites a 16-bit word of an ICMP error's quoted packet, keeping the ICMP checksum right. */
    interface QuoteWriter
    {
        void word(int at, int oldWord, int newWord);
    }

    /**
     * An ICMP error from the WAN quoting a packet that left from the WAN address ({@code inner} wraps the
     * quoted header; its transport part starts at {@code transport} with {@code available} bytes). Asked before
     * any generic lookup. Returns the session it concerns (the engine rewrites the addresses; the helper has
     * rewritten its own fields with {@code quote}), {@link #NOT_MINE}, or {@link #REFUSE}.
     */
    default int icmpErrorInbound(final Ipv4Header inner, final int transport, final int available,
        final QuoteWriter quote)
    {
        return NOT_MINE;
    }

    /**
     * A LAN client's ICMP error quoting a packet it received through the NAT (the quote goes from the remote to
     * the client's internal endpoint). Asked before any generic lookup; returns as {@link #icmpErrorInbound}.
     */
    default int icmpErrorOutbound(final Ipv4Header inner, final int transport, final int available,
        final QuoteWriter quote)
    {
        return NOT_MINE;
    }

    /** A flow this helper claimed or created is gone. */
    void flowRemoved(int flow);

    /** The passthrough switches changed (on the dataplane thread, before the engine tears sessions down). */
    default void passthroughChanged(final PassthroughPolicy policy)
    {
    }

    /** Periodic work. */
    default int tick(final long nowMs)
    {
        return 0;
    }
}

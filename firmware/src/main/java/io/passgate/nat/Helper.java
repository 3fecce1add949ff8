package io.passgate.nat;

import io.passgate.wire.Ipv4Header;

/**
 * A passthrough helper (application-level gateway): one class per protocol, registered once (see
 * {@code io.passgate.alg.Helpers}). It sees the engine only through {@link HelperHost}; the engine asks it at
 * four points in the packet's order, and for the packets of the sessions it follows:
 * <ol>
 *   <li>{@link #claimOutbound}: before a new outbound session gets its mapping, the helper may follow it (the
 *       engine maps as usual), pick a shared external port it serves itself, or refuse it;</li>
 *   <li>{@link #demuxInbound}: a packet to an external port the helper serves ({@link HelperSpec#sharedUdpPorts})
 *       is handed to it before any generic lookup: it tells which session it belongs to by a field it reads;</li>
 *   <li>{@link #expect}: an inbound packet with no session yet, to a mapping the helper follows, before the
 *       filter: the helper may accept it as one it expects (a reply from another port, a data channel), under
 *       every filtering mode;</li>
 *   <li>{@link #icmpErrorInbound}/{@link #icmpErrorOutbound}: ICMP errors quoting its traffic, before any
 *       generic lookup.</li>
 * </ol>
 * {@link #outbound}/{@link #inbound} see each packet of a followed session after the engine translated its
 * addresses and ports (the helper may rewrite its payload in place: field sizes never change), and
 * {@link #outboundOther}/{@link #inboundOther} the packets of the IP protocols without ports it declared.
 * Everything runs on the dataplane thread and must not allocate.
 */
public interface Helper
{
    /** A hook's answer: not this helper's business, the engine goes on as without it. */
    int NOT_MINE = -1;
    /** A hook's answer: this helper's, refused: the packet is dropped (the helper counted why). */
    int REFUSE = -2;
    /** {@link #claimOutbound}: the helper follows the session; the engine gives it a mapping as usual. */
    int FOLLOW = -3;
    /** {@link #expect}: the helper expects the packet; the engine opens the session on the mapping. */
    int EXPECTED = -4;
    /** {@link #outbound}/{@link #inbound}: the helper did not decide; the engine's verdict stands. */
    int CONTINUE = -1;

    HelperSpec spec();

    /** The engine's host and this helper's index (1-based; the value of a session's helper field). */
    void attach(HelperHost host, int index);

    /**
     * (1) A new outbound TCP/UDP session from (src, sport) to (dst, dport), before any mapping: {@link #NOT_MINE},
     * {@link #FOLLOW} (the engine maps it as usual and the helper sees its packets), {@link #REFUSE}, or the
     * session the helper created itself on an external port it picked or shares
     * ({@link HelperHost#createSession}, for its {@link HelperSpec#sharedUdpPorts}). {@code packet} is the
     * session's first packet, untranslated (its transport header at {@code packet.payloadOffset()}).
     */
    int claimOutbound(int protocol, int src, int sport, int dst, int dport, Ipv4Header packet);

    /**
     * (2) An inbound TCP/UDP packet to an external port this helper serves ({@code ip} wraps it, untranslated):
     * the session it belongs to, or {@link #REFUSE}.
     */
    default int demuxInbound(final Ipv4Header ip, final int l4Offset, final int l4Length)
    {
        return REFUSE;
    }

    /**
     * (3) An inbound packet ({@code ip}, untranslated) with no session, to the external port of {@code mapping}
     * whose sessions the helper follows, before the filter: {@link #EXPECTED} (the engine opens a session for it
     * on the mapping, whatever the filtering mode; the helper sees it in {@link #inbound}) or {@link #NOT_MINE}
     * (the filter decides).
     */
    default int expect(final int mapping, final Ipv4Header ip, final int l4Offset, final int l4Length)
    {
        return NOT_MINE;
    }

    /** A packet of a followed session, translated. Returns a verdict or {@link #CONTINUE}. */
    int outbound(int flow, Ipv4Header ip, int l4Offset, int l4Length, boolean partialChecksum, long nowMs);

    /** An inbound packet of a followed session, translated. */
    int inbound(int flow, Ipv4Header ip, int l4Offset, int l4Length, boolean partialChecksum, long nowMs);

    /** An outbound packet of an IP protocol without ports; {@link #NOT_MINE} when not this helper's. */
    default int outboundOther(final Ipv4Header ip, final long nowMs)
    {
        return NOT_MINE;
    }

    /** An inbound packet of an IP protocol without ports; {@link #NOT_MINE} when not this helper's. */
    default int inboundOther(final Ipv4Header ip, final long nowMs)
    {
        return NOT_MINE;
    }

    /** Rewrites a 16-bit word of an ICMP error's quoted packet, keeping the ICMP checksum right. */
    interface QuoteWriter
    {
        void word(int at, int oldWord, int newWord);
    }

    /**
     * (4) An ICMP error from the WAN quoting a packet that left from the WAN address ({@code inner} wraps the
     * quoted header; its transport part starts at {@code transport} with {@code available} bytes). Returns the
     * session it concerns (the engine rewrites the addresses; the helper rewrote its own fields with
     * {@code quote}), {@link #NOT_MINE}, or {@link #REFUSE}.
     */
    default int icmpErrorInbound(final Ipv4Header inner, final int transport, final int available,
        final QuoteWriter quote)
    {
        return NOT_MINE;
    }

    /** (4) A LAN client's ICMP error quoting a packet it received through the NAT; returns as above. */
    default int icmpErrorOutbound(final Ipv4Header inner, final int transport, final int available,
        final QuoteWriter quote)
    {
        return NOT_MINE;
    }

    /**
     * The passthrough switch (index in the host's policy) a session of this helper belongs to, whatever its ports
     * say now (an L2TP tunnel moved to the server's other port is still L2TP); {@link PassthroughPolicy#NONE} to
     * let the engine judge by its ports and protocol.
     */
    default int passthroughOf(final int flow)
    {
        return PassthroughPolicy.NONE;
    }

    /** A session's idle timeout if the helper sets its own (ms), or -1 for the engine's by protocol. */
    default long timeoutOf(final int flow)
    {
        return -1;
    }

    /** {@link #offloadable}: the session must stay in passgate (the helper needs its packets). */
    int OFFLOAD_NEVER = -1;
    /** {@link #offloadable}: not yet (a tunnel not bound both ways); asked again at its next packets. */
    int OFFLOAD_NOT_YET = 0;
    /** {@link #offloadable}: the kernel may carry it (a bound ESP SA or PPTP call's GRE: stateless rewrites). */
    int OFFLOAD_YES = 1;

    /**
     * Whether a session of this helper's may be offloaded (with offload on, once it carried traffic both ways):
     * ESP and GRE sessions by stateless rewrites of their maps (see nft.Offloader); others never by default.
     */
    default int offloadable(final int flow)
    {
        return OFFLOAD_NEVER;
    }

    /** A session this helper follows or created is gone (expiry, eviction, teardown, switch off). */
    void flowRemoved(int flow);

    /** The passthrough switches changed (before the engine tears down the sessions they no longer allow). */
    default void passthroughChanged(final PassthroughPolicy policy)
    {
    }

    /** Periodic work. */
    default int tick(final long nowMs)
    {
        return 0;
    }

    /** Copies the helper's live tunnels into {@code sink} (its index is {@code helper}). */
    void collectTunnels(int helper, TunnelSink sink);

    /**
     * A restart restored this helper's tables verbatim (see {@link EngineImage}) and the sessions they name:
     * drop what cannot survive a process (held packets, a message half parsed), set the gauges.
     */
    default void afterRestore(final long nowMs)
    {
    }
}

package io.passgate.nat;

import io.passgate.counters.CounterSet;
import io.passgate.wire.Ipv4Header;
import org.agrona.DirectBuffer;

/**
 * The few engine operations a helper uses: its sessions in the shared table, the router's addresses and
 * clock, refusals and passgate's own packets. Nothing else of the engine is visible to a helper.
 *
 * <p>Removal is done in one place: {@link #removeSession} during a helper's {@link Helper#flowRemoved}
 * callback is queued and carried out when the callback returns (no engine-helper recursion).
 */
public interface HelperHost
{
    /** The session table (read its fields; a helper keeps its own state in a session's helper data). */
    FlowTable flows();

    CounterSet counters();

    /** The router's WAN address. */
    int wanAddress();

    /** The cached time of the packet or tick in progress (ms). */
    long now();

    /** The passthrough switches as this shard applies them. */
    PassthroughPolicy passthrough();

    /**
     * Creates a session the helper owns outright (no mapping in the mapping table): a shared external port's
     * session, a PPTP call's GRE, an ESP security association. Its keys are whatever the helper puts in the
     * port fields (see {@link FlowTable}). A {@code pinned} session never expires idle. Returns the session,
     * or -1 when the table is full (counted).
     */
    int createSession(int protocol, int intAddr, int intPort, int extPort, int remAddr, int remPort, boolean pinned);

    /** Ends a session (its helper is told through {@link Helper#flowRemoved}). */
    void removeSession(int flow);

    /** Changes a session's external port (an ESP security association's inbound SPI, once known). */
    void rekeyExternalPort(int flow, int extPort);

    /** Changes a session's remote port (a server answering from another port, RFC 2661 8.1). */
    void rekeyRemotePort(int flow, int remPort);

    /** A packet of a helper's session went out (time, counters). */
    void touchOutbound(int flow, Ipv4Header packet);

    /** A packet of a helper's session came in. */
    void touchInbound(int flow, Ipv4Header packet);

    /**
     * Whether the helper may serve {@code port} itself here: this shard owns it (with several shards, the
     * helpers' ports are the first shard's) and the router itself does not listen on it.
     */
    boolean mayShare(int protocol, int port);

    /** Refuses a LAN client's packet of a switched-off passthrough: ICMP 3/13 to it; returns the drop verdict. */
    int refuse(Ipv4Header packet);

    /** A TCP RST+ACK from (src, sport) to (dst, dport): how a helper ends a control connection it must refuse. */
    void sendTcpReset(int src, int sport, int dst, int dport, long seq, long ack);

    /** Sends an IPv4 packet passgate built or held (its addresses already translated). */
    void send(DirectBuffer buffer, int offset, int length, int destination);
}

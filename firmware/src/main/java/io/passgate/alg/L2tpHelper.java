package io.passgate.alg;

import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

import io.passgate.config.PassgateContext;
import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.FlowTable;
import io.passgate.nat.Helper;
import io.passgate.nat.HelperHost;
import io.passgate.nat.HelperSpec;
import io.passgate.nat.Passthrough;
import io.passgate.nat.PassthroughPolicy;
import io.passgate.nat.Protocols;
import io.passgate.nat.TunnelSink;
import io.passgate.nfq.PacketHandler;
import io.passgate.wire.Checksum;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.L2tpHeader;
import io.passgate.wire.UdpHeader;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2LongHashMap;

/**
 * L2TP passthrough (RFC 2661, L2TPv2 over UDP 1701): every LAN client keeps source port 1701 towards every server,
 * several clients to one server included, and a server may answer from another port.
 *
 * <p><b>The shared port 1701.</b> A client's L2TPv2 from port 1701 leaves from the WAN's port 1701, which this
 * helper serves for every client (never a mapping). A tunnel is known by the Tunnel ID its client assigned (the
 * Assigned Tunnel ID AVP of its SCCRQ, or of its SCCRP when the server opened the tunnel): the server puts it in
 * the header of everything it sends on that tunnel, control (T = 1) and data (T = 0), so an inbound message goes
 * to the client whose tunnel has that ID with that server. When a second client to the same server assigns an
 * ID already used there, its SCCRQ's (and later StopCCN's) Assigned Tunnel ID is rewritten to a free one and
 * every message to it gets its own ID back in the header (Session IDs are scoped by their tunnel and need no
 * change). An Assigned Tunnel ID that is hidden (H bit: encrypted with the tunnel secret) cannot be rewritten:
 * such a client keeps 1701 only when it is the server's first, and its ID is then learnt from the server's
 * answer; otherwise it gets its own external port (a mapping, told apart by port) and that is counted. A client
 * whose first packet is not L2TPv2 (L2TPv3 over UDP, RFC 3931, or anything else) is plain UDP NAT.
 *
 * <p><b>A server answering from another port</b> (RFC 2661 8.1: the recipient of an SCCRQ may answer from any
 * port, and the tunnel then uses it): until a tunnel's first answer, a message with its Tunnel ID from any port
 * of its server moves the tunnel there, whatever {@code nat.filtering} says (on the shared port the helper
 * decides; on a mapping its {@link #expect} opens the session before the filter). Control and data both follow;
 * the client's packets to either port go out from 1701.
 *
 * <p><b>Teardown.</b> StopCCN (either way) ends the tunnel after 31 s (RFC 2661 5.7: its sender keeps the tunnel
 * a full retransmission cycle for the acknowledgement); CDN ends a session (call); a tunnel with no traffic for
 * {@link #IDLE_MS} ends (HELLO, every 60 s by default, keeps it alive), and one whose SCCRQ got no answer within
 * {@link #SETUP_MS}. Retransmitted control messages (an Ns already seen) change nothing twice. Switching
 * {@code passthrough.l2tp} off ends every tunnel (the engine removes their sessions and refuses new ones).
 *
 * <p><b>Bad input</b>: a message whose header, Length or AVP lengths do not add up, a missing or hidden Message
 * Type, a mandatory AVP passgate does not know, or an inbound Tunnel ID no client assigned: a counted drop, the
 * other tunnels untouched.
 */
public final class L2tpHelper implements Helper
{
    public static final int PORT = 1701;
    /** A tunnel without traffic for this long ends (its sessions idle out as well). */
    public static final long IDLE_MS = 5 * 60_000;
    /** A tunnel whose SCCRQ (or SCCRP) got no answer within this ends. */
    public static final long SETUP_MS = 60_000;
    /** A tunnel after StopCCN lives this long for the acknowledgement and retransmissions (RFC 2661 5.7). */
    public static final long LINGER_MS = 31_000;
    private static final long SWEEP_MS = 1000;
    private static final int NONE = -1;
    private static final int WAIT = 1;
    private static final int UP = 2;
    private static final int CLOSING = 3;
    private static final int OUT = 0;
    private static final int IN = 1;

    public static final HelperSpec SPEC = new HelperSpec("l2tp",
        List.of(new Passthrough("l2tp", null, "UDP 1701 (L2TPv2)", new int[0], new int[] {PORT}, new int[0],
            Counter.TUNNELS_L2TP, "l2tp")),
        new int[] {PORT}, new int[0],
        List.of(new HelperSpec.TunnelKind("l2tp", List.of("client-port", "server-port", "wan-port", "tunnel-id",
            "wan-tunnel-id", "server-tunnel-id", "sessions"))));

    private final int maxTunnels;
    private boolean keepPortForAll = true;
    private HelperHost host;
    private FlowTable flows;
    private CounterSet counters;
    private int index;
    private int l2tp;

    // tunnels
    private final int[] tClient;
    private final int[] tServer;
    private final int[] tClientPort;
    private final int[] tServerPort;
    private final int[] tWanPort;
    private final int[] tIntTid;
    private final int[] tExtTid;
    private final int[] tSrvTid;
    private final int[] tState;
    private final int[] tSessions;
    private final int[] tNsNext;
    private final long[] tPacketsOut;
    private final long[] tBytesOut;
    private final long[] tPacketsIn;
    private final long[] tBytesIn;
    private final long[] tCreated;
    private final long[] tLastSeen;
    private final long[] tStateSince;
    private final boolean[] tHidden;
    private final int[] tNext;
    private int free;
    private int live;

    /** (server, WAN port, Tunnel ID the server sees) to the tunnel: inbound. */
    private final Index inIdx;
    /** (client, server, the client's Tunnel ID): the client's SCCRQ and StopCCN. */
    private final Index ownIdx;
    /** (client, server, the server's Tunnel ID): the client's other messages. */
    private final Index peerIdx;
    /** (server, WAN port) to the tunnel whose hidden ID is not known yet (its SCCRQ's answer tells it). */
    private final Index pendingIdx;

    /** (client, server) to its number of sessions on the shared port; server to (clients << 32 | xor of them). */
    private final Long2LongHashMap pairFlows;
    private final Long2LongHashMap serverClients;
    /** (client, server) to its number of tunnels. */
    private final Long2LongHashMap pairTunnels;

    private final UdpHeader udp = new UdpHeader();
    private final L2tpHeader msg = new L2tpHeader();
    private long random;
    private long now;
    private long nextSweepMs;
    private int lastTunnel = NONE;

    public L2tpHelper(final int maxTunnels, final long seed)
    {
        this.maxTunnels = maxTunnels;
        tClient = new int[maxTunnels];
        tServer = new int[maxTunnels];
        tClientPort = new int[maxTunnels];
        tServerPort = new int[maxTunnels];
        tWanPort = new int[maxTunnels];
        tIntTid = new int[maxTunnels];
        tExtTid = new int[maxTunnels];
        tSrvTid = new int[maxTunnels];
        tState = new int[maxTunnels];
        tSessions = new int[maxTunnels];
        tNsNext = new int[maxTunnels * 2];
        tPacketsOut = new long[maxTunnels];
        tBytesOut = new long[maxTunnels];
        tPacketsIn = new long[maxTunnels];
        tBytesIn = new long[maxTunnels];
        tCreated = new long[maxTunnels];
        tLastSeen = new long[maxTunnels];
        tStateSince = new long[maxTunnels];
        tNext = new int[maxTunnels];
        tHidden = new boolean[maxTunnels];
        for (int t = 0; t < maxTunnels; t++)
        {
            tNext[t] = t + 1 < maxTunnels ? t + 1 : NONE;
        }
        final int slots = Integer.highestOneBit(Math.max(64, maxTunnels * 2) * 2 - 1);
        inIdx = new Index(slots);
        ownIdx = new Index(slots);
        peerIdx = new Index(slots);
        pendingIdx = new Index(Math.max(64, slots / 8));
        pairFlows = new Long2LongHashMap(slots, 0.65f, 0, true);
        serverClients = new Long2LongHashMap(slots, 0.65f, 0, true);
        pairTunnels = new Long2LongHashMap(slots, 0.65f, 0, true);
        random = seed == 0 ? 0x9E3779B97F4A7C15L : seed;
    }

    /** The helper as the configuration sets it up: room for a tunnel per 16 sessions. */
    public static L2tpHelper create(final PassgateContext ctx, final long seed)
    {
        final L2tpHelper helper = new L2tpHelper(Math.max(64, ctx.natMaxFlows() / 16), seed ^ 0x4C32_5450L);
        helper.keepPortForAll(ctx.l2tpKeepPortForAll());
        return helper;
    }

    /** {@code l2tp.keep-port}: true (all) every client keeps 1701; false (first) only a server's first client does. */
    public L2tpHelper keepPortForAll(final boolean all)
    {
        this.keepPortForAll = all;
        return this;
    }

    @Override
    public HelperSpec spec()
    {
        return SPEC;
    }

    @Override
    public void attach(final HelperHost host, final int index)
    {
        this.host = host;
        this.flows = host.flows();
        this.counters = host.counters();
        this.index = index;
        this.l2tp = host.passthrough().layout().index("l2tp");
    }

    /** Live tunnels. */
    public int liveTunnels()
    {
        return live;
    }

    // ------------------------------------------------------------------------------------------- outbound

    /**
     * UDP from 1701 to 1701, L2TPv2: served on the shared port 1701 (a hidden Assigned Tunnel ID that could clash
     * gets a mapping instead); from 1701 to the other port a tunnel moved to: the same. Anything else to 1701: a
     * mapping, followed (L2TPv2 from another port) or not (not L2TPv2: plain UDP).
     */
    @Override
    public int claimOutbound(final int protocol, final int src, final int sport, final int dst, final int dport,
        final Ipv4Header packet)
    {
        if (protocol != Protocols.UDP || (dport != PORT && sport != PORT))
        {
            return NOT_MINE;
        }
        now = host.now();
        final boolean l2tpv2 = udp.wrap(packet.buffer(), packet.payloadOffset(), packet.payloadLength())
            && msg.wrap(packet.buffer(), udp.payloadOffset(), udp.payloadLength());
        if (!l2tpv2 && msg.error() == L2tpHeader.ERR_VERSION)
        {
            if (dport == PORT)
            {
                counters.increment(Counter.L2TP_OTHER_VERSIONS);
            }
            return NOT_MINE;   // L2TPv3 or not L2TP: plain UDP NAT
        }
        if (dport != PORT && !movedTo(src, dst, dport))
        {
            return NOT_MINE;
        }
        if (!host.passthrough().allows(l2tp))
        {
            host.refuse(packet);
            return REFUSE;
        }
        if (sport != PORT || !host.mayShare(Protocols.UDP, PORT))
        {
            return FOLLOW;
        }
        if (!keepPortForAll && !onlyClient(src, dst))
        {
            counters.increment(Counter.L2TP_PORT_FALLBACKS);
            return FOLLOW;   // l2tp.keep-port = first: another client has 1701 with this server
        }
        if (l2tpv2 && msg.control() && msg.readAvps() && msg.messageType() == L2tpHeader.SCCRQ
            && !canShare(src, dst, msg.assignedTunnelIdHidden()))
        {
            counters.increment(Counter.L2TP_PORT_FALLBACKS);
            return FOLLOW;
        }
        final int f = host.createSession(Protocols.UDP, src, PORT, PORT, dst, dport, false);
        if (f < 0)
        {
            return REFUSE;
        }
        sharedAdded(src, dst);
        return f;
    }

    /** Whether no other client shares 1701 with {@code server}. */
    private boolean onlyClient(final int client, final int server)
    {
        final long clients = serverClients.get(server);
        final int count = (int)(clients >>> 32);
        return count == 0 || (count == 1 && (int)clients == client);
    }

    /** Whether a tunnel of (client, server) moved to the server's {@code port}. */
    private boolean movedTo(final int client, final int server, final int port)
    {
        if (pairTunnels.get(pair(client, server)) == 0)
        {
            return false;
        }
        for (int t = 0; t < maxTunnels; t++)
        {
            if (tState[t] != 0 && tClient[t] == client && tServer[t] == server && tServerPort[t] == port)
            {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a new tunnel of {@code client} with {@code server} may share port 1701: never while another
     * client's hidden ID waits for its answer there (it could be any ID); with a hidden ID of its own, only as
     * the server's first client on 1701 (its ID is then learnt from the answer).
     */
    private boolean canShare(final int client, final int server, final boolean hidden)
    {
        final int pending = pendingIdx.get(server, PORT, 0);
        if (pending != NONE && tClient[pending] != client)
        {
            return false;
        }
        if (!hidden)
        {
            return true;
        }
        final long clients = serverClients.get(server);
        final int count = (int)(clients >>> 32);
        return pending == NONE && (count == 0 || (count == 1 && (int)clients == client));
    }

    @Override
    public int outbound(final int flow, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean partialChecksum, final long nowMs)
    {
        now = nowMs;
        if (!udp.wrap(ip.buffer(), l4Offset, l4Length) || !msg.wrap(ip.buffer(), udp.payloadOffset(), udp.payloadLength()))
        {
            return notL2tp(flow);
        }
        final int client = flows.intAddr(flow);
        final int server = flows.remAddr(flow);
        final boolean shared = shared(flow);
        int t = NONE;
        if (msg.control())
        {
            if (!readAvps())
            {
                return PacketHandler.VERDICT_DROP;
            }
            final int type = msg.messageType();
            if (type == L2tpHeader.SCCRQ || type == L2tpHeader.SCCRP)
            {
                t = opening(flow, client, server, shared, type, partialChecksum);
                if (t == REFUSE)
                {
                    return PacketHandler.VERDICT_DROP;
                }
            }
            else
            {
                t = msg.tunnelId() != 0 ? peerIdx.get(client, server, msg.tunnelId()) : NONE;
                if (t == NONE && msg.assignedTunnelId() > 0)
                {
                    t = ownIdx.get(client, server, msg.assignedTunnelId());
                }
                if (t != NONE)
                {
                    translateAssigned(t, partialChecksum);
                    control(t, OUT, type);
                }
            }
        }
        else if (msg.tunnelId() != 0)
        {
            t = peerIdx.get(client, server, msg.tunnelId());
        }
        if (t >= 0)
        {
            tPacketsOut[t]++;
            tBytesOut[t] += ip.totalLength();
            tLastSeen[t] = now;
        }
        return CONTINUE;
    }

    /** A packet of an L2TP session that is not L2TPv2 as passgate reads it: counted; malformed ones dropped. */
    private int notL2tp(final int flow)
    {
        if (msg.error() == L2tpHeader.ERR_VERSION && !shared(flow))
        {
            counters.increment(Counter.L2TP_OTHER_VERSIONS);
            return CONTINUE;
        }
        counters.increment(Counter.DROP_L2TP_MALFORMED);
        return PacketHandler.VERDICT_DROP;
    }

    private boolean readAvps()
    {
        if (msg.readAvps())
        {
            counters.increment(Counter.L2TP_CONTROL_MESSAGES);
            return true;
        }
        counters.increment(msg.error() == L2tpHeader.ERR_UNKNOWN_MANDATORY ? Counter.DROP_L2TP_UNKNOWN_MANDATORY
            : Counter.DROP_L2TP_MALFORMED);
        return false;
    }

    /**
     * A client's SCCRQ (it opens a tunnel) or SCCRP (it accepts the server's): the tunnel of its Assigned Tunnel
     * ID, made when new, with a free ID on the shared port if its own is taken there (the AVP rewritten).
     */
    private int opening(final int flow, final int client, final int server, final boolean shared, final int type,
        final boolean partial)
    {
        final int wanPort = flows.extPort(flow);
        if (msg.assignedTunnelIdHidden())
        {
            int t = pendingIdx.get(server, wanPort, 0);
            if (t != NONE && tClient[t] == client)
            {
                return t;
            }
            t = recentHidden(client, server, wanPort);
            if (t != NONE)
            {
                return t;   // its resent SCCRQ, after the answer told its ID
            }
            t = pendingIdx.get(server, wanPort, 0);
            if (t != NONE || (shared && !canShare(client, server, true)))
            {
                // another client's hidden ID is pending here, or this one could clash: its own port, if it can
                counters.increment(Counter.L2TP_PORT_FALLBACKS);
                if (shared && pairFlows.get(pair(client, server)) > 0 && pairTunnels.get(pair(client, server)) == 0)
                {
                    host.removeSession(flow);   // its resent SCCRQ gets a mapping
                }
                return REFUSE;
            }
            t = newTunnel(client, server, flows.intPort(flow), flows.remPort(flow), wanPort, 0, 0);
            if (t == NONE)
            {
                return REFUSE;
            }
            pendingIdx.put(server, wanPort, 0, t);
            tHidden[t] = true;
            tState[t] = WAIT;
            if (type == L2tpHeader.SCCRP)
            {
                tSrvTid[t] = msg.tunnelId();
            }
            return t;
        }
        final int own = msg.assignedTunnelId();
        if (own <= 0)
        {
            counters.increment(Counter.DROP_L2TP_MALFORMED);
            return REFUSE;
        }
        int t = ownIdx.get(client, server, own);
        if (t == NONE)
        {
            if (shared && pendingIdx.get(server, wanPort, 0) != NONE
                && tClient[pendingIdx.get(server, wanPort, 0)] != client)
            {
                counters.increment(Counter.DROP_L2TP_PENDING);
                return REFUSE;   // a second tunnel of a client already on 1701 while another's hidden ID is pending
            }
            final int ext = freeTunnelId(server, wanPort, own);
            if (ext == NONE)
            {
                counters.increment(Counter.DROP_L2TP_LIMIT);
                return REFUSE;
            }
            t = newTunnel(client, server, flows.intPort(flow), flows.remPort(flow), wanPort, own, ext);
            if (t == NONE)
            {
                return REFUSE;
            }
            if (type == L2tpHeader.SCCRP && msg.tunnelId() != 0)
            {
                learnServerTid(t, msg.tunnelId());
                tState[t] = UP;
            }
            else
            {
                tState[t] = WAIT;
            }
            tStateSince[t] = now;
        }
        translateAssigned(t, partial);
        control(t, OUT, type);
        return t;
    }

    /**
     * The tunnel of (client, server) opened with a hidden ID within {@link #SETUP_MS}: a hidden SCCRQ cannot be told
     * from its retransmission by its ID, so one that soon is the same tunnel's.
     */
    private int recentHidden(final int client, final int server, final int wanPort)
    {
        if (pairTunnels.get(pair(client, server)) == 0)
        {
            return NONE;
        }
        for (int t = 0; t < maxTunnels; t++)
        {
            if (tState[t] != 0 && tHidden[t] && tClient[t] == client && tServer[t] == server && tWanPort[t] == wanPort
                && now - tCreated[t] < SETUP_MS)
            {
                return t;
            }
        }
        return NONE;
    }

    /** The client's own Tunnel ID in an Assigned Tunnel ID AVP becomes the one the server sees. */
    private void translateAssigned(final int t, final boolean partial)
    {
        final int at = msg.assignedTunnelIdOffset();
        if (at >= 0 && tExtTid[t] != tIntTid[t] && msg.assignedTunnelId() == tIntTid[t])
        {
            rewrite16(at, tExtTid[t], partial);
            counters.increment(Counter.L2TP_TUNNEL_IDS_TRANSLATED);
        }
    }

    /** The ID the server will see: the client's own if free with that server on that WAN port, else a random one. */
    private int freeTunnelId(final int server, final int wanPort, final int own)
    {
        if (inIdx.get(server, wanPort, own) == NONE)
        {
            return own;
        }
        for (int i = 0; i < 64; i++)
        {
            final int candidate = (int)(next() & 0xFFFF);
            if (candidate != 0 && inIdx.get(server, wanPort, candidate) == NONE
                && pendingIdx.get(server, wanPort, 0) == NONE)
            {
                return candidate;
            }
        }
        return NONE;
    }

    private long next()
    {
        random ^= random << 13;
        random ^= random >>> 7;
        random ^= random << 17;
        return random;
    }

    // -------------------------------------------------------------------------------------------- inbound

    /** A message from a server to the shared port 1701: the client whose tunnel has its Tunnel ID. */
    @Override
    public int demuxInbound(final Ipv4Header ip, final int l4Offset, final int l4Length)
    {
        now = host.now();
        if (!udp.wrap(ip.buffer(), l4Offset, l4Length) || !msg.wrap(ip.buffer(), udp.payloadOffset(), udp.payloadLength()))
        {
            counters.increment(Counter.DROP_L2TP_MALFORMED);
            return REFUSE;
        }
        final int server = ip.source();
        final int sport = udp.sourcePort();
        final int tid = msg.tunnelId();
        int t = tid == 0 ? NONE : inIdx.get(server, PORT, tid);
        if (t == NONE)
        {
            t = unknownTunnel(server, PORT, sport, tid);
            if (t == NONE)
            {
                if (tid == 0)
                {
                    return toOnlyClient(server, sport);
                }
                counters.increment(Counter.DROP_L2TP_UNKNOWN_TUNNEL);
                return REFUSE;
            }
        }
        if (sport != tServerPort[t] && !moveTo(t, sport))
        {
            return REFUSE;
        }
        final int client = tClient[t];
        int f = flows.findOutbound(Protocols.UDP, client, PORT, server, sport);
        if (f == FlowTable.NONE)
        {
            f = host.createSession(Protocols.UDP, client, PORT, PORT, server, sport, false);
            if (f < 0)
            {
                return REFUSE;
            }
            sharedAdded(client, server);
        }
        else if (!shared(f))
        {
            counters.increment(Counter.DROP_L2TP_UNKNOWN_TUNNEL);
            return REFUSE;
        }
        lastTunnel = t;
        return f;
    }

    /**
     * An inbound Tunnel ID no tunnel has with this server and WAN port: the tunnel whose hidden ID is pending
     * there learns it; a client that has no tunnel with the server but is its only one there (passgate restarted
     * under a live tunnel) is given it. NONE otherwise.
     */
    private int unknownTunnel(final int server, final int wanPort, final int sport, final int tid)
    {
        if (tid == 0)
        {
            return NONE;
        }
        final int pending = pendingIdx.get(server, wanPort, 0);
        if (pending != NONE)
        {
            pendingIdx.remove(server, wanPort, 0);
            tIntTid[pending] = tid;
            tExtTid[pending] = tid;
            inIdx.put(server, wanPort, tid, pending);
            ownIdx.put(tClient[pending], server, tid, pending);
            counters.increment(Counter.L2TP_HIDDEN_IDS_LEARNT);
            return pending;
        }
        if (wanPort != PORT)
        {
            return NONE;
        }
        final long clients = serverClients.get(server);
        if ((clients >>> 32) != 1)
        {
            return NONE;
        }
        final int client = (int)clients;
        if (pairTunnels.get(pair(client, server)) != 0 || ownIdx.get(client, server, tid) != NONE)
        {
            return NONE;
        }
        final int t = newTunnel(client, server, PORT, sport, PORT, tid, tid);
        if (t != NONE)
        {
            tState[t] = UP;
            tStateSince[t] = now;
            counters.increment(Counter.L2TP_TUNNELS_ADOPTED);
        }
        return t;
    }

    /** A server's message with Tunnel ID 0 (it opens a tunnel): its only client on 1701, else dropped. */
    private int toOnlyClient(final int server, final int sport)
    {
        final long clients = serverClients.get(server);
        if ((clients >>> 32) != 1)
        {
            counters.increment(Counter.DROP_L2TP_UNKNOWN_TUNNEL);
            return REFUSE;
        }
        final int f = flows.findOutbound(Protocols.UDP, (int)clients, PORT, server, sport);
        if (f == FlowTable.NONE || !shared(f))
        {
            counters.increment(Counter.DROP_L2TP_UNKNOWN_TUNNEL);
            return REFUSE;
        }
        lastTunnel = NONE;
        return f;
    }

    /** A message of tunnel t from another port of its server: the tunnel moves there if it awaits its answer. */
    private boolean moveTo(final int t, final int sport)
    {
        if (tState[t] != WAIT)
        {
            counters.increment(Counter.DROP_L2TP_WRONG_PORT);
            return false;
        }
        tServerPort[t] = sport;
        counters.increment(Counter.L2TP_SERVER_PORT_MOVES);
        return true;
    }

    /**
     * A message from a server with no session on a mapping this helper follows (a client that is not on the
     * shared port): expected when it carries the Tunnel ID of a tunnel that awaits its answer (from any port of
     * that server) or of a live one from its port.
     */
    @Override
    public int expect(final int mapping, final Ipv4Header ip, final int l4Offset, final int l4Length)
    {
        if (ip.protocol() != Protocols.UDP || !udp.wrap(ip.buffer(), l4Offset, l4Length)
            || !msg.wrap(ip.buffer(), udp.payloadOffset(), udp.payloadLength()) || msg.tunnelId() == 0)
        {
            return NOT_MINE;
        }
        now = host.now();
        final int server = ip.source();
        final int wanPort = udp.destinationPort();
        int t = inIdx.get(server, wanPort, msg.tunnelId());
        if (t == NONE)
        {
            t = pendingIdx.get(server, wanPort, 0);
            if (t == NONE)
            {
                return NOT_MINE;
            }
        }
        final int sport = udp.sourcePort();
        if (sport == tServerPort[t] || (tState[t] == WAIT && moveTo(t, sport)))
        {
            return EXPECTED;
        }
        return NOT_MINE;
    }

    @Override
    public int inbound(final int flow, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean partialChecksum, final long nowMs)
    {
        now = nowMs;
        if (!udp.wrap(ip.buffer(), l4Offset, l4Length) || !msg.wrap(ip.buffer(), udp.payloadOffset(), udp.payloadLength()))
        {
            return notL2tp(flow);
        }
        final int server = flows.remAddr(flow);
        final int wanPort = flows.extPort(flow);
        final int tid = msg.tunnelId();
        int t = NONE;
        if (tid != 0)
        {
            t = lastTunnel != NONE && tServer[lastTunnel] == server && tWanPort[lastTunnel] == wanPort
                && tExtTid[lastTunnel] == tid ? lastTunnel : inIdx.get(server, wanPort, tid);
            if (t == NONE)
            {
                t = unknownTunnel(server, wanPort, flows.remPort(flow), tid);
            }
        }
        lastTunnel = NONE;
        if (t == NONE && tid != 0)
        {
            counters.increment(Counter.DROP_L2TP_UNKNOWN_TUNNEL);
            return PacketHandler.VERDICT_DROP;
        }
        if (msg.control() && !readAvps())
        {
            return PacketHandler.VERDICT_DROP;
        }
        if (t >= 0)
        {
            if (tExtTid[t] != tIntTid[t])
            {
                rewrite16(msg.tunnelIdOffset(), tIntTid[t], partialChecksum);
                counters.increment(Counter.L2TP_TUNNEL_IDS_TRANSLATED);
            }
            if (msg.control())
            {
                final int type = msg.messageType();
                if (type == L2tpHeader.SCCRP && msg.assignedTunnelId() > 0)
                {
                    learnServerTid(t, msg.assignedTunnelId());
                }
                if (type == L2tpHeader.SCCRP && tState[t] == WAIT)
                {
                    tState[t] = UP;
                    tStateSince[t] = now;
                    tServerPort[t] = flows.remPort(flow);
                }
                control(t, IN, type);
            }
            tPacketsIn[t]++;
            tBytesIn[t] += ip.totalLength();
            tLastSeen[t] = now;
        }
        return CONTINUE;
    }

    // ---------------------------------------------------------------------------------------------- tunnels

    private static long pair(final int client, final int server)
    {
        return ((client & 0xFFFF_FFFFL) << 32) | (server & 0xFFFF_FFFFL);
    }

    private boolean shared(final int flow)
    {
        return flows.mapping(flow) < 0 && flows.extPort(flow) == PORT;
    }

    private int newTunnel(final int client, final int server, final int clientPort, final int serverPort,
        final int wanPort, final int own, final int ext)
    {
        final int t = free;
        if (t == NONE)
        {
            counters.increment(Counter.DROP_L2TP_LIMIT);
            return NONE;
        }
        free = tNext[t];
        tNext[t] = NONE;
        tClient[t] = client;
        tServer[t] = server;
        tClientPort[t] = clientPort;
        tServerPort[t] = serverPort;
        tWanPort[t] = wanPort;
        tIntTid[t] = own;
        tExtTid[t] = ext;
        tSrvTid[t] = 0;
        tSessions[t] = 0;
        tNsNext[t * 2] = -1;
        tNsNext[t * 2 + 1] = -1;
        tPacketsOut[t] = 0;
        tBytesOut[t] = 0;
        tPacketsIn[t] = 0;
        tBytesIn[t] = 0;
        tCreated[t] = now;
        tLastSeen[t] = now;
        tStateSince[t] = now;
        tState[t] = WAIT;
        tHidden[t] = false;
        if (own != 0)
        {
            ownIdx.put(client, server, own, t);
            inIdx.put(server, wanPort, ext, t);
        }
        final long p = pair(client, server);
        pairTunnels.put(p, pairTunnels.get(p) + 1);
        live++;
        counters.increment(Counter.L2TP_TUNNELS);
        counters.set(Counter.TUNNELS_L2TP, live);
        return t;
    }

    private void learnServerTid(final int t, final int tid)
    {
        if (tSrvTid[t] == tid)
        {
            return;
        }
        if (tSrvTid[t] != 0 && peerIdx.get(tClient[t], tServer[t], tSrvTid[t]) == t)
        {
            peerIdx.remove(tClient[t], tServer[t], tSrvTid[t]);
        }
        tSrvTid[t] = tid;
        peerIdx.put(tClient[t], tServer[t], tid, t);
    }

    private void endTunnel(final int t)
    {
        if (tState[t] == 0)
        {
            return;
        }
        final int client = tClient[t];
        final int server = tServer[t];
        if (tIntTid[t] != 0 && ownIdx.get(client, server, tIntTid[t]) == t)
        {
            ownIdx.remove(client, server, tIntTid[t]);
        }
        if (tExtTid[t] != 0 && inIdx.get(server, tWanPort[t], tExtTid[t]) == t)
        {
            inIdx.remove(server, tWanPort[t], tExtTid[t]);
        }
        if (tSrvTid[t] != 0 && peerIdx.get(client, server, tSrvTid[t]) == t)
        {
            peerIdx.remove(client, server, tSrvTid[t]);
        }
        if (pendingIdx.get(server, tWanPort[t], 0) == t)
        {
            pendingIdx.remove(server, tWanPort[t], 0);
        }
        final long p = pair(client, server);
        final long left = pairTunnels.get(p) - 1;
        if (left <= 0)
        {
            pairTunnels.remove(p);
        }
        else
        {
            pairTunnels.put(p, left);
        }
        if (lastTunnel == t)
        {
            lastTunnel = NONE;
        }
        tState[t] = 0;
        tNext[t] = free;
        free = t;
        live--;
        counters.set(Counter.TUNNELS_L2TP, live);
    }

    /**
     * A control message of tunnel t, once per Ns in each direction (a retransmission changes nothing twice):
     * StopCCN starts the linger, ICCN/OCCN count a session, CDN ends one.
     */
    private void control(final int t, final int dir, final int type)
    {
        if (type == L2tpHeader.ZLB || !msg.hasSequence())
        {
            return;
        }
        final int ns = msg.ns();
        final int expected = tNsNext[t * 2 + dir];
        if (expected >= 0 && (short)(ns - expected) < 0)
        {
            counters.increment(Counter.L2TP_RETRANSMISSIONS);
            return;
        }
        tNsNext[t * 2 + dir] = (ns + 1) & 0xFFFF;
        switch (type)
        {
            case L2tpHeader.STOPCCN ->
            {
                if (tState[t] != CLOSING)
                {
                    tState[t] = CLOSING;
                    tStateSince[t] = now;
                    counters.increment(Counter.L2TP_STOPCCN);
                }
            }
            case L2tpHeader.ICCN, L2tpHeader.OCCN -> tSessions[t]++;
            case L2tpHeader.CDN ->
            {
                if (tSessions[t] > 0)
                {
                    tSessions[t]--;
                }
                counters.increment(Counter.L2TP_CDN);
            }
            default ->
            {
            }
        }
    }

    /** Rewrites a 16-bit word of the UDP payload, keeping the UDP checksum right (none or partial: nothing). */
    private void rewrite16(final int at, final int value, final boolean partial)
    {
        final MutableDirectBuffer buffer = udp.buffer();
        final int old = buffer.getShort(at, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        buffer.putShort(at, (short)value, ByteOrder.BIG_ENDIAN);
        if (!partial && udp.checksum() != 0)
        {
            // a word at an odd distance from the UDP header straddles two of the checksum's words: its bytes swap
            final boolean odd = ((at - udp.offset()) & 1) != 0;
            final int sum = odd ? Checksum.update16(udp.checksum(), swap(old), swap(value))
                : Checksum.update16(udp.checksum(), old, value);
            udp.checksum(sum == 0 ? 0xFFFF : sum);
        }
    }

    private static int swap(final int word)
    {
        return ((word & 0xFF) << 8) | ((word >>> 8) & 0xFF);
    }

    // ----------------------------------------------------------------------------- shared-port sessions

    private void sharedAdded(final int client, final int server)
    {
        final long p = pair(client, server);
        final long n = pairFlows.get(p);
        pairFlows.put(p, n + 1);
        if (n == 0)
        {
            final long c = serverClients.get(server);
            serverClients.put(server, (((c >>> 32) + 1) << 32) | ((c ^ client) & 0xFFFF_FFFFL));
        }
    }

    private void sharedRemoved(final int client, final int server)
    {
        final long p = pair(client, server);
        final long n = pairFlows.get(p) - 1;
        if (n > 0)
        {
            pairFlows.put(p, n);
            return;
        }
        pairFlows.remove(p);
        final long c = serverClients.get(server);
        final long count = (c >>> 32) - 1;
        if (count <= 0)
        {
            serverClients.remove(server);
        }
        else
        {
            serverClients.put(server, (count << 32) | ((c ^ client) & 0xFFFF_FFFFL));
        }
    }

    @Override
    public void flowRemoved(final int flow)
    {
        if (shared(flow))
        {
            sharedRemoved(flows.intAddr(flow), flows.remAddr(flow));
        }
    }

    // ------------------------------------------------------------------------------- time, switch, ICMP

    /** Tunnels that idled out, never got their answer, or lingered after StopCCN. */
    @Override
    public int tick(final long nowMs)
    {
        now = nowMs;
        if (nowMs < nextSweepMs)
        {
            return 0;
        }
        nextSweepMs = nowMs + SWEEP_MS;
        int work = 0;
        for (int t = 0; t < maxTunnels; t++)
        {
            final int state = tState[t];
            if (state == 0)
            {
                continue;
            }
            if (state == CLOSING && nowMs - tStateSince[t] >= LINGER_MS)
            {
                counters.increment(Counter.L2TP_TUNNELS_CLOSED);
            }
            else if (state == WAIT && nowMs - tStateSince[t] >= SETUP_MS)
            {
                counters.increment(Counter.L2TP_TUNNELS_UNANSWERED);
            }
            else if (nowMs - tLastSeen[t] >= IDLE_MS)
            {
                counters.increment(Counter.L2TP_TUNNELS_IDLE);
            }
            else
            {
                continue;
            }
            endTunnel(t);
            work++;
        }
        return work;
    }

    @Override
    public void passthroughChanged(final PassthroughPolicy policy)
    {
        if (!policy.allows(l2tp))
        {
            for (int t = 0; t < maxTunnels; t++)
            {
                if (tState[t] != 0)
                {
                    endTunnel(t);
                    counters.increment(Counter.L2TP_TUNNELS_SWITCHED_OFF);
                }
            }
        }
    }

    @Override
    public int passthroughOf(final int flow)
    {
        return l2tp;
    }

    @Override
    public long timeoutOf(final int flow)
    {
        return IDLE_MS;
    }

    /**
     * An ICMP error quoting a client's datagram to a server from the shared port 1701: the client whose tunnel
     * has the quoted Tunnel ID (the server's, in the client's message), else the server's only client there.
     */
    @Override
    public int icmpErrorInbound(final Ipv4Header inner, final int transport, final int available,
        final QuoteWriter quote)
    {
        if (inner.protocol() != Protocols.UDP || available < 4
            || (inner.buffer().getShort(transport, ByteOrder.BIG_ENDIAN) & 0xFFFF) != PORT)
        {
            return NOT_MINE;
        }
        final int server = inner.destination();
        final int dport = inner.buffer().getShort(transport + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        int client = 0;
        if (available >= UdpHeader.LENGTH + 6)
        {
            final int flags = inner.buffer().getShort(transport + UdpHeader.LENGTH, ByteOrder.BIG_ENDIAN) & 0xFFFF;
            final int at = transport + UdpHeader.LENGTH + ((flags & L2tpHeader.FLAG_LENGTH) != 0 ? 4 : 2);
            if ((flags & L2tpHeader.VERSION_MASK) == L2tpHeader.VERSION_2 && at + 2 <= transport + available)
            {
                final int tid = inner.buffer().getShort(at, ByteOrder.BIG_ENDIAN) & 0xFFFF;
                for (int t = 0; t < maxTunnels && client == 0; t++)
                {
                    if (tState[t] != 0 && tServer[t] == server && tWanPort[t] == PORT && tSrvTid[t] == tid && tid != 0)
                    {
                        client = tClient[t];
                    }
                }
            }
        }
        if (client == 0)
        {
            final long clients = serverClients.get(server);
            client = (clients >>> 32) == 1 ? (int)clients : 0;
        }
        final int f = client == 0 ? FlowTable.NONE : flows.findOutbound(Protocols.UDP, client, PORT, server, dport);
        if (f == FlowTable.NONE || !shared(f))
        {
            counters.increment(Counter.DROP_ICMP_AMBIGUOUS);
            return REFUSE;
        }
        return f;
    }

    /** A client's ICMP error about a datagram it got on 1701 (quoted: server to client): its shared session. */
    @Override
    public int icmpErrorOutbound(final Ipv4Header inner, final int transport, final int available,
        final QuoteWriter quote)
    {
        if (inner.protocol() != Protocols.UDP || available < 4
            || (inner.buffer().getShort(transport + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF) != PORT)
        {
            return NOT_MINE;
        }
        final int sport = inner.buffer().getShort(transport, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        final int f = flows.findOutbound(Protocols.UDP, inner.destination(), PORT, inner.source(), sport);
        return f != FlowTable.NONE && shared(f) ? f : NOT_MINE;
    }

    // ------------------------------------------------------------------------------------------- listing

    /** One row per tunnel: ports, the three Tunnel IDs (the client's, the one the server sees, the server's), sessions. */
    /** After a restart: the tables came back whole; the gauge follows. */
    @Override
    public void afterRestore(final long nowMs)
    {
        counters.set(Counter.TUNNELS_L2TP, live);
    }

    @Override
    public void collectTunnels(final int helper, final TunnelSink sink)
    {
        for (int t = 0; t < maxTunnels; t++)
        {
            if (tState[t] != 0 && !sink.row(helper, 0, tClient[t], tServer[t], tClientPort[t], tServerPort[t],
                tWanPort[t], tIntTid[t], tExtTid[t], tSrvTid[t], tSessions[t], tPacketsOut[t], tBytesOut[t],
                tPacketsIn[t], tBytesIn[t], tCreated[t], tLastSeen[t]))
            {
                return;
            }
        }
    }

    /**
     * An open-addressing map from (a, b, 16-bit c) to a tunnel, linear probing with backward-shift deletion:
     * allocation-free.
     */
    static final class Index
    {
        private final int mask;
        private final int[] ka;
        private final int[] kb;
        private final int[] kc;
        private final int[] value;
        private int size;

        Index(final int slots)
        {
            final int n = Integer.highestOneBit(slots * 2 - 1);
            mask = n - 1;
            ka = new int[n];
            kb = new int[n];
            kc = new int[n];
            value = new int[n];
            Arrays.fill(value, NONE);
        }

        private int home(final int a, final int b, final int c)
        {
            long h = ((a & 0xFFFF_FFFFL) << 32 | (b & 0xFFFF_FFFFL)) * 0x9E3779B97F4A7C15L + c * 0xC2B2AE3D27D4EB4FL;
            h ^= h >>> 29;
            return (int)h & mask;
        }

        int get(final int a, final int b, final int c)
        {
            for (int s = home(a, b, c), i = 0; i <= mask; s = (s + 1) & mask, i++)
            {
                if (value[s] == NONE)
                {
                    return NONE;
                }
                if (ka[s] == a && kb[s] == b && kc[s] == c)
                {
                    return value[s];
                }
            }
            return NONE;
        }

        /** Puts or replaces; false when full (never, sized at twice the tunnels). */
        boolean put(final int a, final int b, final int c, final int v)
        {
            for (int s = home(a, b, c), i = 0; i <= mask; s = (s + 1) & mask, i++)
            {
                if (value[s] == NONE || (ka[s] == a && kb[s] == b && kc[s] == c))
                {
                    if (value[s] == NONE)
                    {
                        if (size + 1 > mask)
                        {
                            return false;
                        }
                        size++;
                    }
                    ka[s] = a;
                    kb[s] = b;
                    kc[s] = c;
                    value[s] = v;
                    return true;
                }
            }
            return false;
        }

        void remove(final int a, final int b, final int c)
        {
            int s = home(a, b, c);
            for (int i = 0; i <= mask; s = (s + 1) & mask, i++)
            {
                if (value[s] == NONE)
                {
                    return;
                }
                if (ka[s] == a && kb[s] == b && kc[s] == c)
                {
                    break;
                }
            }
            if (value[s] == NONE || ka[s] != a || kb[s] != b || kc[s] != c)
            {
                return;
            }
            value[s] = NONE;
            size--;
            // backward shift: move later entries of the run into the hole when their home allows it
            int hole = s;
            for (int j = (s + 1) & mask; value[j] != NONE; j = (j + 1) & mask)
            {
                final int h = home(ka[j], kb[j], kc[j]);
                final boolean movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j);
                if (movable)
                {
                    ka[hole] = ka[j];
                    kb[hole] = kb[j];
                    kc[hole] = kc[j];
                    value[hole] = value[j];
                    value[j] = NONE;
                    hole = j;
                }
            }
        }

        int size()
        {
            return size;
        }
    }
}

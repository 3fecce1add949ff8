package io.passgate.alg;

import java.nio.ByteOrder;
import java.util.SplittableRandom;

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
import io.passgate.wire.GreHeader;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.PptpControl;
import io.passgate.wire.TcpHeader;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2LongHashMap;

/**
 * PPTP passthrough (RFC 2637): the control connection on TCP 1723 and its calls' enhanced GRE.
 *
 * <p>Behind a NAT two clients may pick the same Call ID for the same server, whose GRE (keyed by the
 * receiver's Call ID) could then not be told apart. passgate translates each client's Call ID to one unique
 * per (WAN address, server) in the messages the client sends (Outgoing-Call-Request, Incoming-Call-Reply,
 * Call-Clear-Request) and restores it in the server's (Outgoing-Call-Reply, Incoming-Call-Connected,
 * WAN-Error-Notify, Set-Link-Info, Call-Disconnect-Notify), and maps inbound GRE by (server, translated
 * Call ID). Unlike Linux's nf_nat_pptp it allows any number of calls per control connection and messages
 * split across segments or packed several to a segment.
 *
 * <p>The TCP stream is followed byte by byte per direction. A message's first 32 bytes are kept (the header
 * and every field used); a Call ID field is rewritten as its bytes pass. A translated Call ID keeps the
 * original's high byte whenever possible, so only the low byte changes: a field split between two segments
 * is then rewritten without holding the first one, the high byte being the same either way. Every rewrite is
 * remembered by its stream position until the peer acknowledges it, so a retransmitted segment is rewritten
 * identically however late it comes. Field sizes never change, so TCP sequence numbers stay; the checksum is
 * updated per rewritten byte.
 *
 * <p>A segment is parsed as a transaction: the parser's position, the calls it creates or changes and the
 * rewrites it remembers are undone when the segment is dropped ({@code pptp.on-invalid = drop}), so its
 * retransmission is parsed as if it came for the first time. Within a segment, sessions may be created (and
 * are removed again on undo) but never removed: a call that ends is marked and freed when the segment passes.
 *
 * <p>States follow nf_conntrack_pptp.c: one per control connection and one per call, a switch on the message
 * type with a state check in every case, and one {@link #invalid} path that counts, describes and applies the
 * policy ({@code pptp.on-invalid}: reset the control connection, or drop the offending segment). Teardown
 * races are normal: a Call-Clear-Request that crosses the server's Call-Disconnect-Notify, or follows its
 * Stop-Control-Connection-Request, passes translated (the call lingers {@link #LINGER_MS} after the server
 * ends it). A call's GRE lives as long as the call: it never expires idle while the control connection
 * lives. Calls requested but never answered end after {@link #REQUEST_TIMEOUT_MS} (Linux: PPTP_GRE_TIMEOUT).
 */
public final class PptpHelper implements Helper
{
    /** What PPTP passthrough is: its switch, what it covers, its tunnel rows. */
    public static final HelperSpec SPEC = new HelperSpec("pptp",
        List.of(new Passthrough("pptp", null, "TCP 1723 and enhanced GRE", new int[] {PptpControl.PORT}, new int[0],
            new int[] {Passthrough.ENHANCED_GRE}, Counter.TUNNELS_PPTP, "pptp")),
        new int[0], new int[0],
        List.of(new HelperSpec.TunnelKind("pptp-control", List.of("client-port", "server-port", "wan-port")),
            new HelperSpec.TunnelKind("pptp-call", List.of("client-call-id", "server-call-id", "wan-call-id"))));
    private static final int KIND_CONTROL = 0;
    private static final int KIND_CALL = 1;

    // control connection states
    static final int SESSION_NONE = 0;
    static final int SESSION_REQUESTED = 1;
    static final int SESSION_CONFIRMED = 2;
    static final int SESSION_STOP_REQUESTED = 3;

    // call states
    static final int CALL_FREE = 0;
    static final int CALL_OUT_REQUESTED = 1;
    static final int CALL_OUT_CONFIRMED = 2;
    static final int CALL_IN_REQUESTED = 3;
    static final int CALL_IN_REPLIED = 4;
    static final int CALL_IN_CONNECTED = 5;
    static final int CALL_CLEAR_REQUESTED = 6;
    /** The server ended the call (Call-Disconnect-Notify): its GRE is gone, its Call IDs linger for a crossing clear. */
    static final int CALL_DISCONNECTED = 7;
    /** Ended inside the segment being parsed: freed when the segment passes, restored when it is dropped. */
    static final int CALL_FREEING = 8;

    /** A call requested but not answered ends after this (Linux: PPTP_GRE_TIMEOUT, 10 minutes). */
    static final long REQUEST_TIMEOUT_MS = 10 * 60_000;
    /** How long a call the server ended still translates the client's Call-Clear-Request. */
    static final long LINGER_MS = 30_000;
    /** Rewritten bytes one direction may have unacknowledged (a pool shared by all connections holds them). */
    static final int REWRITES = 1024;
    private static final long SWEEP_MS = 1000;

    private static final int OUT = 0;
    private static final int IN = 1;
    private static final int PREFIX = 32;
    private static final int NONE = -1;
    /** algData of a control session's TCP flow once passgate ended it: its record is free, data is dropped. */
    private static final int CLOSED = Integer.MAX_VALUE;
    /** A translated Call ID held for an Incoming-Call-Reply still in progress. */
    private static final int RESERVED = Integer.MAX_VALUE;
    /** {@link #onField} results besides a Call ID: leave the field; drop the segment (already counted). */
    private static final int KEEP = -1;
    private static final int REFUSED = -2;
    // deferred actions, run when the segment passes
    private static final int FREE_CALL = 0;
    private static final int DROP_GRE = 1;

    /** What to do with an invalid control message. */
    public enum OnInvalid
    {
        /** Reset the control connection (TCP RST to both ends) and free its calls. */
        RESET,
        /** Drop the segment that carried it, undoing what it did; the connection stays. */
        DROP
    }

    private final int maxConnections;
    private final int maxCalls;
    private final int maxCallsPerConnection;
    private final OnInvalid onInvalid;
    private final SplittableRandom random;

    private HelperHost host;
    private FlowTable flows;
    private CounterSet counters;
    private int index;
    private volatile boolean enabled = true;

    // control connections
    private final int[] connFlow;
    private final int[] connClient;
    private final int[] connServer;
    private final int[] connState;
    private final int[] connCalls;
    private final boolean[] connSynced;
    private final int[] connNext;
    private int connFreeHead;
    private int connLive;
    // per connection and direction: next expected sequence, position in the current message, its length,
    // its first bytes, and the rewrites the peer has not acknowledged yet
    private final long[] nextSeq;
    /** Per direction: restored after a restart, and no segment parsed in order since (see {@link #afterRestore}). */
    private final boolean[] resync;
    private final int[] msgPos;
    private final int[] msgLen;
    private final int[] msgType;
    private final byte[] prefix;
    /** OCRP: the PAC's Call ID, seen before the restored field. */
    private final int[] pacSeen;
    /** The translated Call ID restored in the message in progress, NONE when none. */
    private final int[] restoredTrans;
    /** ICRP: the client's Call ID and its translation, until the PAC's Call ID after them is known. */
    private final int[] pendingPns;
    private final int[] pendingTrans;
    // remembered rewrites: a pool of entries, a list per direction in stream order (oldest first)
    private final int[] rewriteSeq;
    private final byte[] rewriteOld;
    private final byte[] rewriteNew;
    private final int[] rewriteNext;
    private int rewriteFree;
    private final int[] rewriteHead;
    private final int[] rewriteTail;
    private final int[] rewriteCount;

    // calls
    private final int[] callConn;
    private final int[] callState;
    private final int[] callPns;
    private final int[] callTrans;
    private final int[] callPac;
    private final int[] callGre;
    private final long[] callDeadline;
    private final int[] callNext;
    private int callFreeHead;
    private int callRecords;
    private int callLive;
    /** (server, translated Call ID) to the call: unique per server (what inbound GRE is keyed by). */
    private final Long2LongHashMap transIndex;
    /** (connection, PAC's Call ID) to the call: the PAC's Call IDs are unique per control connection only. */
    private final Long2LongHashMap pacIndex;

    // the segment being parsed: the calls it touched (with their values before it) and what runs when it passes
    private int epoch;
    private final int[] callTouched;
    private final int[] undoState;
    private final int[] undoPns;
    private final int[] undoTrans;
    private final int[] undoPac;
    private final int[] undoGre;
    private final long[] undoDeadline;
    private final int[] touched;
    private int touchedCount;
    private final int[] deferredCall;
    private final int[] deferredAction;
    private int deferredCount;
    private int savedMsgPos;
    private int savedMsgLen;
    private int savedMsgType;
    private final byte[] savedPrefix = new byte[PREFIX];
    private int savedPacSeen;
    private int savedRestored;
    private int savedRewriteTail;
    private int savedConnState;
    private int savedPendingPns;
    private int savedPendingTrans;

    // per packet
    private final TcpHeader tcp = new TcpHeader();
    private final GreHeader gre = new GreHeader();
    private MutableDirectBuffer buffer;
    private int payloadStart;
    private long segmentSeq;
    private boolean partial;
    private long now;
    private long nextSweepMs;
    private int invalidReason;
    private String lastInvalid = "";

    public PptpHelper(final int maxConnections, final int maxCalls, final int maxCallsPerConnection,
        final OnInvalid onInvalid, final long seed)
    {
        this.maxConnections = maxConnections;
        this.maxCalls = maxCalls;
        this.maxCallsPerConnection = maxCallsPerConnection;
        this.onInvalid = onInvalid;
        this.random = new SplittableRandom(seed);
        connFlow = new int[maxConnections];
        connClient = new int[maxConnections];
        connServer = new int[maxConnections];
        connState = new int[maxConnections];
        connCalls = new int[maxConnections];
        connSynced = new boolean[maxConnections];
        connNext = new int[maxConnections];
        nextSeq = new long[maxConnections * 2];
        msgPos = new int[maxConnections * 2];
        msgLen = new int[maxConnections * 2];
        msgType = new int[maxConnections * 2];
        prefix = new byte[maxConnections * 2 * PREFIX];
        pacSeen = new int[maxConnections * 2];
        restoredTrans = new int[maxConnections * 2];
        resync = new boolean[maxConnections * 2];
        pendingPns = new int[maxConnections];
        pendingTrans = new int[maxConnections];
        final int pool = Math.max(4096, maxConnections * 32);
        rewriteSeq = new int[pool];
        rewriteOld = new byte[pool];
        rewriteNew = new byte[pool];
        rewriteNext = new int[pool];
        for (int r = 0; r < pool; r++)
        {
            rewriteNext[r] = r + 1 < pool ? r + 1 : NONE;
        }
        rewriteHead = new int[maxConnections * 2];
        rewriteTail = new int[maxConnections * 2];
        rewriteCount = new int[maxConnections * 2];
        java.util.Arrays.fill(rewriteHead, NONE);
        java.util.Arrays.fill(rewriteTail, NONE);
        for (int c = 0; c < maxConnections; c++)
        {
            connNext[c] = c + 1 < maxConnections ? c + 1 : NONE;
            connFlow[c] = NONE;
            pendingTrans[c] = NONE;
        }
        callConn = new int[maxCalls];
        callState = new int[maxCalls];
        callPns = new int[maxCalls];
        callTrans = new int[maxCalls];
        callPac = new int[maxCalls];
        callGre = new int[maxCalls];
        callDeadline = new long[maxCalls];
        callNext = new int[maxCalls];
        callTouched = new int[maxCalls];
        undoState = new int[maxCalls];
        undoPns = new int[maxCalls];
        undoTrans = new int[maxCalls];
        undoPac = new int[maxCalls];
        undoGre = new int[maxCalls];
        undoDeadline = new long[maxCalls];
        for (int k = 0; k < maxCalls; k++)
        {
            callNext[k] = k + 1 < maxCalls ? k + 1 : NONE;
            callConn[k] = NONE;
            callGre[k] = NONE;
        }
        // a segment touches at most the calls of one connection: those it had and those it creates
        touched = new int[Math.min(maxCalls, maxCallsPerConnection * 2 + 2)];
        deferredCall = new int[touched.length * 2];
        deferredAction = new int[touched.length * 2];
        final int mapCapacity = Integer.highestOneBit(Math.max(16, maxCalls * 2) * 2 - 1);
        transIndex = new Long2LongHashMap(mapCapacity, 0.65f, NONE, true);
        pacIndex = new Long2LongHashMap(mapCapacity, 0.65f, NONE, true);
    }

    /** The helper as the configuration sets it up. */
    public static PptpHelper create(final PassgateContext ctx, final long seed)
    {
        return new PptpHelper(ctx.pptpMaxConnections(), ctx.pptpMaxCalls(), ctx.pptpMaxCallsPerConnection(),
            ctx.pptpResetOnInvalid() ? OnInvalid.RESET : OnInvalid.DROP, seed);
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
    }

    @Override
    public void passthroughChanged(final PassthroughPolicy policy)
    {
        final boolean on = policy.allows("pptp");
        if (enabled && !on)
        {
            // switched off: every control connection ends now, with a reset to both ends
            for (int c = 0; c < maxConnections; c++)
            {
                if (connFlow[c] != NONE)
                {
                    resetConnection(c);
                }
            }
        }
        enabled = on;
    }

    public boolean enabled()
    {
        return enabled;
    }

    /** Why the last invalid message was refused (for logs and tests; not per packet). */
    public String lastInvalid()
    {
        return lastInvalid;
    }

    /** Live calls: set up or being set up, not yet ended (the PPTP tunnel count). */
    public int liveCalls()
    {
        return callLive;
    }

    public int liveConnections()
    {
        return connLive;
    }

    /** A new TCP session to port 1723 is a control connection: followed (mapped as any TCP session). */
    @Override
    public int claimOutbound(final int protocol, final int src, final int sport, final int dst, final int dport,
        final Ipv4Header packet)
    {
        return protocol == Protocols.TCP && dport == PptpControl.PORT ? FOLLOW : NOT_MINE;
    }

    // ------------------------------------------------------------------------------------ control stream

    @Override
    public int outbound(final int flow, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean partialChecksum, final long nowMs)
    {
        return control(flow, ip, l4Offset, l4Length, partialChecksum, OUT, nowMs);
    }

    @Override
    public int inbound(final int flow, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean partialChecksum, final long nowMs)
    {
        return control(flow, ip, l4Offset, l4Length, partialChecksum, IN, nowMs);
    }

    private int control(final int flow, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean partialChecksum, final int dir, final long nowMs)
    {
        if (!tcp.wrap(ip.buffer(), l4Offset, l4Length))
        {
            return CONTINUE;
        }
        now = nowMs;
        final int flags = tcp.flags();
        int data = flows.algData(flow);
        if (dir == OUT && (flags & (TcpHeader.SYN | TcpHeader.ACK)) == TcpHeader.SYN && data != 0)
        {
            // a new connection on this 5-tuple (after a reset or a close): what was tracked on it is over
            if (data != CLOSED)
            {
                closeConnection(data - 1);
            }
            flows.algData(flow, 0);
            data = 0;
        }
        if (data == CLOSED)
        {
            return l4Length > tcp.headerLength() ? PacketHandler.VERDICT_DROP : CONTINUE;
        }
        int c = data - 1;
        if (c < 0)
        {
            c = openConnection(flow);
            if (c < 0)
            {
                refuseConnection(flow);
                return PacketHandler.VERDICT_DROP;
            }
        }
        final int d = c * 2 + dir;
        final long seq = tcp.sequence();
        if (tcp.syn())
        {
            nextSeq[d] = (seq + 1) & 0xFFFF_FFFFL;
            msgPos[d] = 0;
            if (dir == OUT)
            {
                connSynced[c] = true;
            }
        }
        if ((flags & TcpHeader.RST) != 0)
        {
            closeConnection(c);
            return CONTINUE;
        }
        if ((flags & TcpHeader.ACK) != 0)
        {
            forgetAcknowledged(c * 2 + (1 - dir), (int)tcp.acknowledgement());
        }
        final int dataLength = l4Length - tcp.headerLength();
        int verdict = CONTINUE;
        if (dataLength > 0)
        {
            if (!connSynced[c] || nextSeq[d] < 0)
            {
                counters.increment(Counter.PPTP_UNSYNCED);
            }
            else
            {
                buffer = ip.buffer();
                payloadStart = l4Offset + tcp.headerLength();
                segmentSeq = seq;
                partial = partialChecksum;
                verdict = segment(c, d, dir, dataLength);
            }
        }
        if ((flags & TcpHeader.FIN) != 0 && verdict != PacketHandler.VERDICT_DROP && connFlow[c] == flow
            && nextSeq[d] >= 0)
        {
            nextSeq[d] = (nextSeq[d] + 1) & 0xFFFF_FFFFL;
        }
        return verdict;
    }

    private int openConnection(final int flow)
    {
        final int c = connFreeHead;
        if (c == NONE)
        {
            return NONE;
        }
        connFreeHead = connNext[c];
        connNext[c] = NONE;
        connLive++;
        connFlow[c] = flow;
        connClient[c] = flows.intAddr(flow);
        connServer[c] = flows.remAddr(flow);
        connState[c] = SESSION_NONE;
        connCalls[c] = 0;
        connSynced[c] = false;
        pendingPns[c] = NONE;
        pendingTrans[c] = NONE;
        for (int dir = 0; dir < 2; dir++)
        {
            final int d = c * 2 + dir;
            nextSeq[d] = -1;
            msgPos[d] = 0;
            msgLen[d] = 0;
            msgType[d] = 0;
            restoredTrans[d] = NONE;
            releaseRewritesAfter(d, NONE);
        }
        flows.algData(flow, c + 1);
        counters.increment(Counter.PPTP_CONTROL_CONNECTIONS);
        counters.set(Counter.PPTP_CONTROL_LIVE, connLive);
        return c;
    }

    /**
     * No room for another control connection: refused like a switched-off passthrough (a reset to both ends,
     * counted); a new SYN on the same 5-tuple tries again.
     */
    private void refuseConnection(final int flow)
    {
        counters.increment(Counter.DROP_PPTP_LIMIT);
        host.sendTcpReset(flows.remAddr(flow), PptpControl.PORT, flows.intAddr(flow), flows.intPort(flow), 0,
            tcp.sequence() + 1);
        host.sendTcpReset(host.wanAddress(), flows.extPort(flow), flows.remAddr(flow), PptpControl.PORT, 0,
            0);
        flows.algData(flow, CLOSED);
    }

    /**
     * Walks the segment's payload: bytes before the expected sequence are retransmissions (rewritten from
     * memory), bytes from it on are new and parsed as one transaction; a segment after a gap is dropped until
     * the gap fills.
     */
    private int segment(final int c, final int d, final int dir, final int length)
    {
        final long expected = nextSeq[d];
        int ahead = (int)(segmentSeq - expected);
        if (ahead > 0 && resync[d] && startsMessage(length))
        {
            // restored from an image older than the stream: the segment begins a message, take it from here
            nextSeq[d] = segmentSeq;
            msgPos[d] = 0;
            msgLen[d] = 0;
            msgType[d] = 0;
            restoredTrans[d] = NONE;
            ahead = 0;
            counters.increment(Counter.PPTP_RESYNCED);
        }
        if (ahead > 0)
        {
            counters.increment(Counter.PPTP_OUT_OF_ORDER);
            return PacketHandler.VERDICT_DROP;
        }
        resync[d] = false;
        boolean modified = replayRewrites(d, length);
        int i = -ahead;   // bytes already seen
        if (i >= length)
        {
            return modified ? PacketHandler.VERDICT_ACCEPT_MODIFIED : CONTINUE;
        }
        begin(c, d);
        final int flow = connFlow[c];
        for (; i < length; i++)
        {
            final int result = onByte(c, d, dir, i);
            if (result == PacketHandler.VERDICT_DROP)
            {
                if (connFlow[c] == flow)
                {
                    rollback(c, d);
                }
                else
                {
                    forgetSegment();   // the connection was reset: everything of it is gone already
                }
                return PacketHandler.VERDICT_DROP;
            }
            modified |= result == PacketHandler.VERDICT_ACCEPT_MODIFIED;
        }
        commit();
        nextSeq[d] = (segmentSeq + length) & 0xFFFF_FFFFL;
        return modified ? PacketHandler.VERDICT_ACCEPT_MODIFIED : CONTINUE;
    }

    // ------------------------------------------------------------------------------------- transactions

    private void begin(final int c, final int d)
    {
        epoch = epoch == Integer.MAX_VALUE ? 1 : epoch + 1;
        touchedCount = 0;
        deferredCount = 0;
        savedMsgPos = msgPos[d];
        savedMsgLen = msgLen[d];
        savedMsgType = msgType[d];
        System.arraycopy(prefix, d * PREFIX, savedPrefix, 0, PREFIX);
        savedPacSeen = pacSeen[d];
        savedRestored = restoredTrans[d];
        savedRewriteTail = rewriteTail[d];
        savedConnState = connState[c];
        savedPendingPns = pendingPns[c];
        savedPendingTrans = pendingTrans[c];
    }

    /** Remembers a call's values before the segment changes it the first time. */
    private void touch(final int k)
    {
        if (callTouched[k] == epoch)
        {
            return;
        }
        callTouched[k] = epoch;
        undoState[k] = callState[k];
        undoPns[k] = callPns[k];
        undoTrans[k] = callTrans[k];
        undoPac[k] = callPac[k];
        undoGre[k] = callGre[k];
        undoDeadline[k] = callDeadline[k];
        touched[touchedCount++] = k;
    }

    private void defer(final int k, final int action)
    {
        deferredCall[deferredCount] = k;
        deferredAction[deferredCount++] = action;
    }

    /** The segment passes: what ended in it is freed. */
    private void commit()
    {
        for (int i = 0; i < deferredCount; i++)
        {
            final int k = deferredCall[i];
            if (callConn[k] < 0)
            {
                continue;
            }
            if (deferredAction[i] == FREE_CALL)
            {
                freeCall(k);
            }
            else
            {
                dropGre(k);
            }
        }
        forgetSegment();
    }

    private void forgetSegment()
    {
        touchedCount = 0;
        deferredCount = 0;
    }

    /** The segment is dropped: everything it did is undone, so its retransmission is parsed afresh. */
    private void rollback(final int c, final int d)
    {
        for (int i = touchedCount - 1; i >= 0; i--)
        {
            undo(touched[i], c);
        }
        msgPos[d] = savedMsgPos;
        msgLen[d] = savedMsgLen;
        msgType[d] = savedMsgType;
        System.arraycopy(savedPrefix, 0, prefix, d * PREFIX, PREFIX);
        pacSeen[d] = savedPacSeen;
        restoredTrans[d] = savedRestored;
        releaseRewritesAfter(d, savedRewriteTail);
        connState[c] = savedConnState;
        final int server = connServer[c];
        final int pending = pendingTrans[c];
        if (pending >= 0 && pending != savedPendingTrans && transIndex.get(transKey(server, pending)) == RESERVED)
        {
            transIndex.remove(transKey(server, pending));
        }
        pendingPns[c] = savedPendingPns;
        pendingTrans[c] = savedPendingTrans;
        if (savedPendingTrans >= 0 && transIndex.get(transKey(server, savedPendingTrans)) == NONE)
        {
            transIndex.put(transKey(server, savedPendingTrans), RESERVED);
        }
        forgetSegment();
        counters.increment(Counter.PPTP_SEGMENTS_UNDONE);
    }

    private void undo(final int k, final int c)
    {
        final int server = connServer[c];
        if (callTrans[k] >= 0 && transIndex.get(transKey(server, callTrans[k])) == k)
        {
            transIndex.remove(transKey(server, callTrans[k]));
        }
        if (callPac[k] >= 0 && pacIndex.get(pacKey(c, callPac[k])) == k)
        {
            pacIndex.remove(pacKey(c, callPac[k]));
        }
        if (callGre[k] != undoGre[k])
        {
            removeGreFlow(k, callGre[k]);   // created in this segment (removals are deferred, never undone)
        }
        if (undoState[k] == CALL_FREE)
        {
            releaseRecord(k);   // created in this segment
            return;
        }
        setState(k, undoState[k]);
        callPns[k] = undoPns[k];
        callTrans[k] = undoTrans[k];
        callPac[k] = undoPac[k];
        callGre[k] = undoGre[k];
        callDeadline[k] = undoDeadline[k];
        if (callTrans[k] >= 0)
        {
            transIndex.put(transKey(server, callTrans[k]), k);
        }
        if (callPac[k] >= 0)
        {
            pacIndex.put(pacKey(c, callPac[k]), k);
        }
    }

    // ------------------------------------------------------------------------------------------ rewrites

    /** Re-applies remembered rewrites that fall inside this segment (a retransmission). */
    private boolean replayRewrites(final int d, final int length)
    {
        boolean modified = false;
        for (int r = rewriteHead[d]; r != NONE; r = rewriteNext[r])
        {
            final int at = rewriteSeq[r];
            final int offset = at - (int)segmentSeq;
            if (offset >= 0 && offset < length && at - (int)nextSeq[d] < 0)
            {
                final int position = payloadStart + offset;
                if (buffer.getByte(position) == rewriteOld[r])
                {
                    patch(position, rewriteNew[r]);
                    counters.increment(Counter.PPTP_RETRANSMISSIONS_PATCHED);
                    modified = true;
                }
            }
        }
        return modified;
    }

    /**
     * The peer acknowledged the stream of {@code d} up to {@code ack}: rewrites before it are needed no more
     * (a retransmission of acknowledged bytes is discarded by the receiver whatever it carries).
     */
    private void forgetAcknowledged(final int d, final int ack)
    {
        int r = rewriteHead[d];
        while (r != NONE && rewriteSeq[r] - ack < 0)
        {
            final int next = rewriteNext[r];
            rewriteNext[r] = rewriteFree;
            rewriteFree = r;
            rewriteCount[d]--;
            r = next;
        }
        rewriteHead[d] = r;
        if (r == NONE)
        {
            rewriteTail[d] = NONE;
        }
    }

    /** Frees the rewrites of {@code d} after entry {@code keepTail} (all of them for {@link #NONE}). */
    private void releaseRewritesAfter(final int d, final int keepTail)
    {
        int r = keepTail == NONE ? rewriteHead[d] : rewriteNext[keepTail];
        while (r != NONE)
        {
            final int next = rewriteNext[r];
            rewriteNext[r] = rewriteFree;
            rewriteFree = r;
            rewriteCount[d]--;
            r = next;
        }
        if (keepTail == NONE)
        {
            rewriteHead[d] = NONE;
        }
        else
        {
            rewriteNext[keepTail] = NONE;
        }
        rewriteTail[d] = keepTail;
    }

    /** Remembers a rewritten byte until it is acknowledged; false when too many are outstanding. */
    private boolean remember(final int d, final long streamSeq, final byte old, final byte neu)
    {
        final int r = rewriteFree;
        if (r == NONE || rewriteCount[d] == REWRITES)
        {
            return false;
        }
        rewriteFree = rewriteNext[r];
        rewriteSeq[r] = (int)streamSeq;
        rewriteOld[r] = old;
        rewriteNew[r] = neu;
        rewriteNext[r] = NONE;
        if (rewriteTail[d] == NONE)
        {
            rewriteHead[d] = r;
        }
        else
        {
            rewriteNext[rewriteTail[d]] = r;
        }
        rewriteTail[d] = r;
        rewriteCount[d]++;
        return true;
    }

    /** Replaces one payload byte and keeps the TCP checksum right (complete form; partial needs nothing). */
    private void patch(final int position, final byte value)
    {
        final byte old = buffer.getByte(position);
        if (old == value)
        {
            return;
        }
        buffer.putByte(position, value);
        if (!partial)
        {
            final boolean high = ((position - tcp.offset()) & 1) == 0;
            final int oldWord = high ? (old & 0xFF) << 8 : old & 0xFF;
            final int newWord = high ? (value & 0xFF) << 8 : value & 0xFF;
            tcp.checksum(Checksum.update16(tcp.checksum(), oldWord, newWord));
        }
    }

    // ---------------------------------------------------------------------------------------- messages

    /** One new byte of the stream at payload index {@code i}. */
    private int onByte(final int c, final int d, final int dir, final int i)
    {
        final int position = payloadStart + i;
        final byte value = buffer.getByte(position);
        final int pos = msgPos[d];
        if (pos < PREFIX)
        {
            prefix[d * PREFIX + pos] = value;
        }
        msgPos[d] = pos + 1;
        int result = CONTINUE;
        switch (pos)
        {
            case 1:
                msgLen[d] = prefixShort(d, 0);
                if (msgLen[d] < 16 || msgLen[d] > PptpControl.MAX_LENGTH)
                {
                    return invalid(c, 1, "length " + msgLen[d] + " outside 16.." + PptpControl.MAX_LENGTH);
                }
                break;
            case 3:
                if (prefixShort(d, 2) != PptpControl.PPTP_CONTROL_MESSAGE)
                {
                    return invalid(c, 2, "PPTP message type " + prefixShort(d, 2) + " (only control messages)");
                }
                break;
            case 7:
                if (prefixInt(d, 4) != PptpControl.MAGIC_COOKIE)
                {
                    return invalid(c, 3, "bad magic cookie " + Integer.toHexString(prefixInt(d, 4)));
                }
                break;
            case 9:
            {
                final int type = prefixShort(d, 8);
                msgType[d] = type;
                restoredTrans[d] = NONE;
                if (!PptpControl.validType(type))
                {
                    return invalid(c, 4, "control message type " + type);
                }
                if (msgLen[d] < PptpControl.size(type))
                {
                    return invalid(c, 5, PptpControl.name(type) + " of " + msgLen[d] + " bytes, needs "
                        + PptpControl.size(type));
                }
                result = onType(c, dir, type);
                break;
            }
            default:
                if (pos >= 11)
                {
                    result = onField(c, d, dir, msgType[d], pos, i);
                }
                break;
        }
        if (result == PacketHandler.VERDICT_DROP)
        {
            return result;
        }
        if (msgPos[d] == msgLen[d])
        {
            final int end = onMessageEnd(c, d, dir, msgType[d]);
            msgPos[d] = 0;
            counters.increment(Counter.PPTP_MESSAGES);
            if (end == PacketHandler.VERDICT_DROP)
            {
                return end;
            }
        }
        return result;
    }

    private int prefixShort(final int d, final int at)
    {
        final int base = d * PREFIX + at;
        return ((prefix[base] & 0xFF) << 8) | (prefix[base + 1] & 0xFF);
    }

    private int prefixInt(final int d, final int at)
    {
        return (prefixShort(d, at) << 16) | prefixShort(d, at + 2);
    }

    /** Checks the message type against the direction and the session state, as soon as the type is known. */
    private int onType(final int c, final int dir, final int type)
    {
        final int s = connState[c];
        switch (type)
        {
            case PptpControl.START_CONTROL_CONNECTION_REQUEST:
                if (dir != OUT || s != SESSION_NONE)
                {
                    return invalid(c, 10, "Start-Control-Connection-Request " + (dir != OUT ? "from the server" : "twice"));
                }
                break;
            case PptpControl.START_CONTROL_CONNECTION_REPLY:
                if (dir != IN || s != SESSION_REQUESTED)
                {
                    return invalid(c, 11, "unexpected Start-Control-Connection-Reply");
                }
                break;
            case PptpControl.OUTGOING_CALL_REQUEST:
                if (dir != OUT)
                {
                    return invalid(c, 12, PptpControl.name(type) + " from the server");
                }
                if (s != SESSION_CONFIRMED)
                {
                    return invalid(c, 13, PptpControl.name(type) + " while the control connection is not up");
                }
                break;
            case PptpControl.INCOMING_CALL_REPLY, PptpControl.CALL_CLEAR_REQUEST:
                if (dir != OUT)
                {
                    return invalid(c, 12, PptpControl.name(type) + " from the server");
                }
                // may cross the server's Stop-Control-Connection-Request: a teardown race, not an error
                if (s != SESSION_CONFIRMED && s != SESSION_STOP_REQUESTED)
                {
                    return invalid(c, 13, PptpControl.name(type) + " before the control connection is up");
                }
                break;
            case PptpControl.OUTGOING_CALL_REPLY, PptpControl.INCOMING_CALL_REQUEST,
                PptpControl.INCOMING_CALL_CONNECTED, PptpControl.CALL_DISCONNECT_NOTIFY, PptpControl.WAN_ERROR_NOTIFY:
                if (dir != IN)
                {
                    return invalid(c, 14, PptpControl.name(type) + " from the client");
                }
                if (s != SESSION_CONFIRMED && s != SESSION_STOP_REQUESTED)
                {
                    return invalid(c, 15, PptpControl.name(type) + " before the control connection is up");
                }
                break;
            default:
                // stop, echo, set-link-info: either side, any state
                break;
        }
        return CONTINUE;
    }

    /**
     * A byte at message offset {@code pos} (11 or more). The Call ID fields are rewritten here: the high byte
     * stays, the low byte (offset 13 or 15) is replaced once the whole original value is known.
     */
    private int onField(final int c, final int d, final int dir, final int type, final int pos, final int i)
    {
        final int field = dir == OUT ? PptpControl.outboundCallIdOffset(type) : PptpControl.inboundPeerCallIdOffset(type);
        if (field < 0 || pos != field + 1)
        {
            if (dir == IN && type == PptpControl.INCOMING_CALL_REQUEST && pos == PptpControl.CALL_ID_OFFSET + 1)
            {
                return incomingCallRequest(c, prefixShort(d, PptpControl.CALL_ID_OFFSET));
            }
            if (dir == IN && type == PptpControl.OUTGOING_CALL_REPLY && pos == PptpControl.CALL_ID_OFFSET + 1)
            {
                pacSeen[d] = prefixShort(d, PptpControl.CALL_ID_OFFSET);   // the PAC's Call ID, for the field after it
            }
            return CONTINUE;
        }
        final int original = prefixShort(d, field);
        final int replacement;
        if (dir == OUT)
        {
            replacement = switch (type)
            {
                case PptpControl.OUTGOING_CALL_REQUEST -> outgoingCallRequest(c, original);
                case PptpControl.INCOMING_CALL_REPLY -> incomingCallReply(c, original);
                default -> callClearRequest(c, original);
            };
        }
        else
        {
            replacement = restore(c, d, type, original);
        }
        if (replacement == REFUSED)
        {
            return PacketHandler.VERDICT_DROP;
        }
        if (replacement == KEEP || replacement == original)
        {
            return CONTINUE;
        }
        // the high byte: the same (by allocation) or, when not, still in this segment
        final int highIndex = i - 1;
        if ((replacement >>> 8) != (original >>> 8))
        {
            if (highIndex < 0)
            {
                return invalid(c, 20, "Call ID split across segments with no same-high-byte translation free");
            }
            final int highPosition = payloadStart + highIndex;
            if (!remember(d, segmentSeq + highIndex, buffer.getByte(highPosition), (byte)(replacement >>> 8)))
            {
                return invalid(c, 29, "too many rewritten bytes unacknowledged (" + rewriteCount[d] + ")");
            }
            patch(highPosition, (byte)(replacement >>> 8));
        }
        final int lowPosition = payloadStart + i;
        if (!remember(d, segmentSeq + i, buffer.getByte(lowPosition), (byte)replacement))
        {
            return invalid(c, 29, "too many rewritten bytes unacknowledged (" + rewriteCount[d] + ")");
        }
        patch(lowPosition, (byte)replacement);
        counters.increment(Counter.PPTP_CALL_IDS_TRANSLATED);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    private int onMessageEnd(final int c, final int d, final int dir, final int type)
    {
        switch (type)
        {
            case PptpControl.START_CONTROL_CONNECTION_REQUEST:
                connState[c] = SESSION_REQUESTED;
                break;
            case PptpControl.START_CONTROL_CONNECTION_REPLY:
                connState[c] = (prefix[d * PREFIX + PptpControl.SCCRP_RESULT_OFFSET] & 0xFF) == PptpControl.RESULT_OK
                    ? SESSION_CONFIRMED : SESSION_NONE;
                break;
            case PptpControl.STOP_CONTROL_CONNECTION_REQUEST:
                connState[c] = SESSION_STOP_REQUESTED;
                break;
            case PptpControl.STOP_CONTROL_CONNECTION_REPLY:
                retireCalls(c);
                connState[c] = SESSION_NONE;
                break;
            case PptpControl.OUTGOING_CALL_REPLY:
                return outgoingCallReply(c, d);
            case PptpControl.INCOMING_CALL_REPLY:
                return incomingCallReplyEnd(c, d);
            case PptpControl.INCOMING_CALL_CONNECTED:
            {
                final int k = findByTrans(c, restoredTrans[d]);
                if (k >= 0 && callState[k] == CALL_IN_REPLIED)
                {
                    touch(k);
                    setState(k, CALL_IN_CONNECTED);
                }
                break;
            }
            case PptpControl.CALL_DISCONNECT_NOTIFY:
                callDisconnectNotify(c, prefixShort(d, PptpControl.CALL_ID_OFFSET));
                break;
            default:
                break;
        }
        return CONTINUE;
    }

    // ------------------------------------------------------------------------------------------- calls

    private static long transKey(final int server, final int callId)
    {
        return ((server & 0xFFFF_FFFFL) << 16) | (callId & 0xFFFF);
    }

    private static long pacKey(final int connection, final int callId)
    {
        return ((long)connection << 16) | (callId & 0xFFFF);
    }

    private static boolean live(final int state)
    {
        return state != CALL_FREE && state != CALL_DISCONNECTED && state != CALL_FREEING;
    }

    private void setState(final int k, final int state)
    {
        final int before = callState[k];
        callState[k] = state;
        if (live(before) != live(state))
        {
            callLive += live(state) ? 1 : -1;
            counters.set(Counter.PPTP_CALLS_LIVE, callLive);
            counters.set(Counter.TUNNELS_PPTP, callLive);
        }
    }

    /** A new call record on connection {@code c}, touched by the segment (undo releases it); NONE when full. */
    private int allocateCallRecord(final int c)
    {
        if (callFreeHead == NONE || connCalls[c] >= maxCallsPerConnection)
        {
            return NONE;
        }
        final int k = callFreeHead;
        callFreeHead = callNext[k];
        callNext[k] = NONE;
        callConn[k] = c;
        callState[k] = CALL_FREE;
        callPns[k] = NONE;
        callTrans[k] = NONE;
        callPac[k] = NONE;
        callGre[k] = NONE;
        callDeadline[k] = 0;
        connCalls[c]++;
        callRecords++;
        touch(k);
        return k;
    }

    private void releaseRecord(final int k)
    {
        final int c = callConn[k];
        if (c >= 0)
        {
            connCalls[c]--;
        }
        setState(k, CALL_FREE);
        callConn[k] = NONE;
        callGre[k] = NONE;
        callNext[k] = callFreeHead;
        callFreeHead = k;
        callRecords--;
    }

    /**
     * A translated Call ID for {@code original} unique for this server: the original itself when free,
     * else one with the same high byte, else any. Never 0 (kept apart from address-only GRE).
     */
    private int allocateCallId(final int server, final int original)
    {
        if (original != 0 && transIndex.get(transKey(server, original)) == NONE)
        {
            return original;
        }
        final int high = original & 0xFF00;
        final int start = random.nextInt(256);
        for (int i = 0; i < 256; i++)
        {
            final int id = high | ((start + i) & 0xFF);
            if (id != 0 && transIndex.get(transKey(server, id)) == NONE)
            {
                return id;
            }
        }
        final int any = random.nextInt(65536);
        for (int i = 0; i < 65536; i++)
        {
            final int id = (any + i) & 0xFFFF;
            if (id != 0 && transIndex.get(transKey(server, id)) == NONE)
            {
                return id;
            }
        }
        return NONE;
    }

    /** OCRQ: a new call with the client's Call ID; returns the translated one, or {@link #REFUSED}. */
    private int outgoingCallRequest(final int c, final int pns)
    {
        final int previous = findByPns(c, pns);
        if (previous >= 0)
        {
            if (callState[previous] != CALL_DISCONNECTED)
            {
                invalid(c, 22, "Outgoing-Call-Request reuses a live Call ID " + pns);
                return REFUSED;
            }
            retire(previous);   // the server ended it; the client reuses its Call ID at once
        }
        final int k = allocateCallRecord(c);
        final int trans = k < 0 ? NONE : allocateCallId(connServer[c], pns);
        if (k < 0 || trans < 0)
        {
            counters.increment(Counter.DROP_PPTP_LIMIT);
            invalid(c, 23, "no call or Call ID left (" + connCalls[c] + " calls on this connection, " + callRecords
                + " in all)");
            return REFUSED;
        }
        callPns[k] = pns;
        callTrans[k] = trans;
        callDeadline[k] = now + REQUEST_TIMEOUT_MS;
        setState(k, CALL_OUT_REQUESTED);
        transIndex.put(transKey(connServer[c], trans), k);
        counters.increment(Counter.PPTP_CALLS_CREATED);
        return trans;
    }

    /** OCRP from the server: the call is up (its GRE from now on) or declined. */
    private int outgoingCallReply(final int c, final int d)
    {
        final int k = findByTrans(c, restoredTrans[d]);
        if (k < 0 || callState[k] != CALL_OUT_REQUESTED)
        {
            return CONTINUE;
        }
        touch(k);
        if ((prefix[d * PREFIX + PptpControl.OCRP_RESULT_OFFSET] & 0xFF) != PptpControl.RESULT_OK)
        {
            retire(k);
            return CONTINUE;
        }
        callPac[k] = pacSeen[d];
        pacIndex.put(pacKey(c, callPac[k]), k);
        callDeadline[k] = 0;
        setState(k, CALL_OUT_CONFIRMED);
        return startGre(c, k);
    }

    /** ICRQ from the server: a call the server offers, known by its Call ID until the client replies. */
    private int incomingCallRequest(final int c, final int pac)
    {
        if (findByPac(c, pac) >= 0)
        {
            return CONTINUE;
        }
        final int k = allocateCallRecord(c);
        if (k < 0)
        {
            counters.increment(Counter.DROP_PPTP_LIMIT);
            return invalid(c, 24, "no call left for an Incoming-Call-Request");
        }
        callPac[k] = pac;
        callDeadline[k] = now + REQUEST_TIMEOUT_MS;
        setState(k, CALL_IN_REQUESTED);
        pacIndex.put(pacKey(c, pac), k);
        counters.increment(Counter.PPTP_CALLS_CREATED);
        return CONTINUE;
    }

    /**
     * ICRP: the client's Call ID comes before the server's it answers, so its translation is reserved for the
     * connection and joined with the Incoming-Call-Request's call at the end of the message.
     */
    private int incomingCallReply(final int c, final int pns)
    {
        final int server = connServer[c];
        if (pendingTrans[c] >= 0 && transIndex.get(transKey(server, pendingTrans[c])) == RESERVED)
        {
            transIndex.remove(transKey(server, pendingTrans[c]));
        }
        final int trans = allocateCallId(server, pns);
        if (trans < 0)
        {
            counters.increment(Counter.DROP_PPTP_LIMIT);
            invalid(c, 25, "no Call ID left for an Incoming-Call-Reply");
            return REFUSED;
        }
        transIndex.put(transKey(server, trans), RESERVED);
        pendingPns[c] = pns;
        pendingTrans[c] = trans;
        return trans;
    }

    /** The end of an ICRP: the PAC's Call ID after the client's is known now; a declined call ends here. */
    private int incomingCallReplyEnd(final int c, final int d)
    {
        final int pac = prefixShort(d, PptpControl.PEER_CALL_ID_OFFSET);
        final int k = findByPac(c, pac);
        final int trans = pendingTrans[c];
        if (k < 0 || callState[k] != CALL_IN_REQUESTED || trans < 0)
        {
            return invalid(c, 21, "Incoming-Call-Reply for no Incoming-Call-Request");
        }
        touch(k);
        transIndex.remove(transKey(connServer[c], trans));
        final int pns = pendingPns[c];
        pendingPns[c] = NONE;
        pendingTrans[c] = NONE;
        if ((prefix[d * PREFIX + PptpControl.ICRP_RESULT_OFFSET] & 0xFF) != PptpControl.RESULT_OK)
        {
            retire(k);   // declined: no GRE, the call ends
            return CONTINUE;
        }
        callPns[k] = pns;
        callTrans[k] = trans;
        transIndex.put(transKey(connServer[c], trans), k);
        callDeadline[k] = 0;
        setState(k, CALL_IN_REPLIED);
        return startGre(c, k);
    }

    /** CCRQ: translated while the call (or its linger after the server ended it) lasts; else passed as it is. */
    private int callClearRequest(final int c, final int pns)
    {
        final int k = findByPns(c, pns);
        if (k < 0)
        {
            // a race past the linger (or a call never seen): nothing to translate, nothing to tear down
            counters.increment(Counter.PPTP_CLEARS_UNKNOWN);
            return KEEP;
        }
        touch(k);
        if (callState[k] == CALL_DISCONNECTED)
        {
            retire(k);   // crossed the server's Call-Disconnect-Notify: the call is over on both sides now
        }
        else
        {
            setState(k, CALL_CLEAR_REQUESTED);
        }
        return callTrans[k];
    }

    /**
     * CDN: the call ends. Its Call ID field is the PAC's own (RFC 2637 2.13) or, from some peers, the
     * translated one the server knows (restored on the way in).
     */
    private void callDisconnectNotify(final int c, final int wireCallId)
    {
        int k = findByPac(c, wireCallId);
        if (k < 0)
        {
            k = findByTrans(c, wireCallId);
        }
        if (k < 0 || callState[k] == CALL_DISCONNECTED)
        {
            return;
        }
        touch(k);
        if (callState[k] == CALL_CLEAR_REQUESTED)
        {
            retire(k);   // the client asked, the server confirms: done
            return;
        }
        // the server ended it: the GRE goes, the Call IDs linger for the client's Call-Clear-Request
        setState(k, CALL_DISCONNECTED);
        callDeadline[k] = now + LINGER_MS;
        defer(k, DROP_GRE);
    }

    /** The server's message carries a translated Call ID: the client's original, or {@link #KEEP} when none matches. */
    private int restore(final int c, final int d, final int type, final int trans)
    {
        if (type == PptpControl.CALL_DISCONNECT_NOTIFY && findByPac(c, trans) >= 0)
        {
            return KEEP;   // the PAC's own Call ID (RFC 2637 2.13): nothing to restore
        }
        final int k = findByTrans(c, trans);
        if (k < 0)
        {
            return KEEP;
        }
        restoredTrans[d] = trans;
        return callPns[k];
    }

    /** Starts the call's GRE session: outbound keyed by the server's Call ID, inbound by the translated one. */
    private int startGre(final int c, final int k)
    {
        if (flows.findOutbound(Protocols.GRE, connClient[c], 0, connServer[c], callPac[k]) != FlowTable.NONE)
        {
            return invalid(c, 27, "the server's Call ID " + callPac[k]
                + " is already used by another call of this client to this server (its GRE could not be told apart)");
        }
        final int f = host.createSession(Protocols.GRE, connClient[c], callPns[k], callTrans[k], connServer[c],
            callPac[k], true);
        if (f < 0)
        {
            return invalid(c, 28, "no room in the session table for the call's GRE");
        }
        flows.algData(f, k + 1);
        callGre[k] = f;
        return CONTINUE;
    }

    private int findByTrans(final int c, final int trans)
    {
        if (trans < 0)
        {
            return NONE;
        }
        final long k = transIndex.get(transKey(connServer[c], trans));
        return k >= 0 && k != RESERVED && callConn[(int)k] == c && callState[(int)k] != CALL_FREEING ? (int)k : NONE;
    }

    private int findByPac(final int c, final int pac)
    {
        final int k = (int)pacIndex.get(pacKey(c, pac));
        return k >= 0 && callConn[k] == c && callState[k] != CALL_FREEING ? k : NONE;
    }

    private int findByPns(final int c, final int pns)
    {
        for (int k = 0; k < maxCalls; k++)
        {
            if (callConn[k] == c && callPns[k] == pns && callState[k] != CALL_FREE && callState[k] != CALL_FREEING)
            {
                return k;
            }
        }
        return NONE;
    }

    /** Ends a call when the segment passes (within a segment nothing is removed, so a drop can undo it). */
    private void retire(final int k)
    {
        touch(k);
        setState(k, CALL_FREEING);
        defer(k, FREE_CALL);
    }

    private void retireCalls(final int c)
    {
        for (int k = 0; k < maxCalls; k++)
        {
            if (callConn[k] == c && callState[k] != CALL_FREEING)
            {
                retire(k);
            }
        }
        if (pendingTrans[c] >= 0)
        {
            if (transIndex.get(transKey(connServer[c], pendingTrans[c])) == RESERVED)
            {
                transIndex.remove(transKey(connServer[c], pendingTrans[c]));
            }
            pendingPns[c] = NONE;
            pendingTrans[c] = NONE;
        }
    }

    /** Ends a call now: its GRE session, its Call IDs. */
    private void freeCall(final int k)
    {
        final int c = callConn[k];
        if (c < 0)
        {
            return;
        }
        final int server = connServer[c];
        if (callTrans[k] >= 0 && transIndex.get(transKey(server, callTrans[k])) == k)
        {
            transIndex.remove(transKey(server, callTrans[k]));
        }
        if (callPac[k] >= 0 && pacIndex.get(pacKey(c, callPac[k])) == k)
        {
            pacIndex.remove(pacKey(c, callPac[k]));
        }
        dropGre(k);
        releaseRecord(k);
    }

    private void dropGre(final int k)
    {
        final int f = callGre[k];
        callGre[k] = NONE;
        removeGreFlow(k, f);
    }

    private void removeGreFlow(final int k, final int f)
    {
        if (f >= 0 && flows.inUse(f) && flows.algData(f) == k + 1)
        {
            flows.algData(f, 0);
            host.removeSession(f);
        }
    }

    private void freeCalls(final int c)
    {
        for (int k = 0; k < maxCalls; k++)
        {
            if (callConn[k] == c)
            {
                freeCall(k);
            }
        }
        if (pendingTrans[c] >= 0)
        {
            if (transIndex.get(transKey(connServer[c], pendingTrans[c])) == RESERVED)
            {
                transIndex.remove(transKey(connServer[c], pendingTrans[c]));
            }
            pendingPns[c] = NONE;
            pendingTrans[c] = NONE;
        }
    }

    /** Ends a control session: its calls, its record; later segments of its TCP flow carry no more messages. */
    private void closeConnection(final int c)
    {
        final int flow = connFlow[c];
        if (flow == NONE)
        {
            return;
        }
        freeCalls(c);
        if (flows.inUse(flow) && flows.algData(flow) == c + 1)
        {
            flows.algData(flow, CLOSED);
        }
        releaseConnection(c);
    }

    private void releaseConnection(final int c)
    {
        releaseRewritesAfter(c * 2 + OUT, NONE);
        releaseRewritesAfter(c * 2 + IN, NONE);
        connFlow[c] = NONE;
        connState[c] = SESSION_NONE;
        connNext[c] = connFreeHead;
        connFreeHead = c;
        connLive--;
        counters.set(Counter.PPTP_CONTROL_LIVE, connLive);
    }

    /** The one invalid path: counts, describes, applies the policy. Returns the packet's verdict. */
    private int invalid(final int c, final int reason, final String description)
    {
        counters.increment(Counter.PPTP_INVALID);
        invalidReason = reason;
        lastInvalid = description;
        if (onInvalid == OnInvalid.RESET)
        {
            resetConnection(c);
        }
        return PacketHandler.VERDICT_DROP;
    }

    /** TCP RST to both ends of the control connection; its calls are freed. */
    public void resetConnection(final int c)
    {
        final int f = connFlow[c];
        if (f >= 0 && flows.inUse(f))
        {
            final long out = nextSeq[c * 2 + OUT];
            final long in = nextSeq[c * 2 + IN];
            final long outSeq = out < 0 ? 0 : out;
            final long inSeq = in < 0 ? 0 : in;
            host.sendTcpReset(connServer[c], PptpControl.PORT, connClient[c], flows.intPort(f), inSeq, outSeq);
            host.sendTcpReset(host.wanAddress(), flows.extPort(f), connServer[c], PptpControl.PORT, outSeq,
                inSeq);
            counters.increment(Counter.PPTP_RESETS_SENT);
        }
        closeConnection(c);
    }

    public int lastInvalidReason()
    {
        return invalidReason;
    }

    /** Ends calls whose request went unanswered and calls whose linger is over. */
    @Override
    public int tick(final long nowMs)
    {
        if (nowMs < nextSweepMs)
        {
            return 0;
        }
        nextSweepMs = nowMs + SWEEP_MS;
        int work = 0;
        for (int k = 0; k < maxCalls; k++)
        {
            final int s = callState[k];
            if ((s == CALL_OUT_REQUESTED || s == CALL_IN_REQUESTED || s == CALL_DISCONNECTED) && callConn[k] >= 0
                && callDeadline[k] != 0 && callDeadline[k] <= nowMs)
            {
                if (s != CALL_DISCONNECTED)
                {
                    counters.increment(Counter.PPTP_CALLS_TIMED_OUT);
                }
                freeCall(k);
                work++;
            }
        }
        return work;
    }

    // ------------------------------------------------------------------------------------------------ GRE

    @Override
    public int outboundOther(final Ipv4Header ip, final long nowMs)
    {
        if (ip.protocol() != Protocols.GRE || !gre.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength())
            || !gre.isPptp())
        {
            return NOT_MINE;   // GRE version 0 and other protocols are not PPTP
        }
        if (!enabled)
        {
            return host.refuse(ip);
        }
        final int f = flows.findOutbound(Protocols.GRE, ip.source(), 0, ip.destination(), gre.callId());
        if (f == FlowTable.NONE || flows.alg(f) != index)
        {
            counters.increment(Counter.DROP_GRE_NO_CALL);
            return PacketHandler.VERDICT_DROP;
        }
        host.touchOutbound(f, ip);
        ip.source(host.wanAddress());
        counters.increment(Counter.PPTP_GRE_OUT);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    @Override
    public int inboundOther(final Ipv4Header ip, final long nowMs)
    {
        if (ip.protocol() != Protocols.GRE || !gre.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength())
            || !gre.isPptp())
        {
            return NOT_MINE;
        }
        if (!enabled)
        {
            counters.increment(Counter.PASSTHROUGH_REFUSED);
            return PacketHandler.VERDICT_DROP;
        }
        final int f = flows.findInbound(Protocols.GRE, gre.callId(), ip.source(), 0);
        if (f == FlowTable.NONE || flows.alg(f) != index)
        {
            counters.increment(Counter.DROP_GRE_NO_CALL);
            return PacketHandler.VERDICT_DROP;
        }
        host.touchInbound(f, ip);
        ip.destination(flows.intAddr(f));
        gre.callId(flows.intPort(f));
        counters.increment(Counter.PPTP_GRE_IN);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    /** Whether the quoted transport part is enhanced GRE (version 1) with its Call ID present. */
    private static boolean quotesPptpGre(final Ipv4Header inner, final int transport, final int available)
    {
        return inner.protocol() == Protocols.GRE && available >= GreHeader.PPTP_MIN_LENGTH
            && (inner.buffer().getShort(transport, ByteOrder.BIG_ENDIAN) & GreHeader.VERSION_MASK) == 1;
    }

    /**
     * An ICMP error about GRE a client sent through the NAT (quoted: WAN address to server, the server's Call
     * ID in the key): the call whose server and server's Call ID match, before any generic GRE session (which
     * may belong to another client using GRE version 0 with that server). Two calls to one server with the same
     * server Call ID cannot be told apart by the quote: counted and dropped.
     */
    @Override
    public int icmpErrorInbound(final Ipv4Header inner, final int transport, final int available,
        final QuoteWriter quote)
    {
        if (!quotesPptpGre(inner, transport, available))
        {
            return NOT_MINE;
        }
        final int server = inner.destination();
        final int pac = inner.buffer().getShort(transport + GreHeader.CALL_ID_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        int found = NOT_MINE;
        for (int k = 0; k < maxCalls; k++)
        {
            if (callConn[k] >= 0 && callGre[k] >= 0 && callPac[k] == pac && connServer[callConn[k]] == server)
            {
                if (found != NOT_MINE)
                {
                    counters.increment(Counter.DROP_ICMP_AMBIGUOUS);
                    return REFUSE;
                }
                found = callGre[k];
            }
        }
        return found == NOT_MINE ? REFUSE : found;
    }

    /**
     * A LAN client's ICMP error about GRE it received (quoted: server to client, the client's own Call ID in
     * the key, as passgate restored it): the call, and the quote's key back to the translated Call ID the
     * server sent.
     */
    @Override
    public int icmpErrorOutbound(final Ipv4Header inner, final int transport, final int available,
        final QuoteWriter quote)
    {
        if (!quotesPptpGre(inner, transport, available))
        {
            return NOT_MINE;
        }
        final int client = inner.destination();
        final int server = inner.source();
        final int pns = inner.buffer().getShort(transport + GreHeader.CALL_ID_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        for (int k = 0; k < maxCalls; k++)
        {
            final int c = callConn[k];
            if (c >= 0 && callGre[k] >= 0 && callPns[k] == pns && connClient[c] == client && connServer[c] == server)
            {
                quote.word(transport + GreHeader.CALL_ID_OFFSET, pns, callTrans[k]);
                return callGre[k];
            }
        }
        return REFUSE;
    }

    /** One row per control connection and per call with its GRE (client's, server's and WAN Call IDs). */
    /** Whether the segment's payload starts with a PPTP control message header (length, type 1, the cookie). */
    private boolean startsMessage(final int length)
    {
        if (length < PptpControl.HEADER_LENGTH)
        {
            return false;
        }
        final int msgLength = buffer.getShort(payloadStart + PptpControl.LENGTH_OFFSET, java.nio.ByteOrder.BIG_ENDIAN)
            & 0xFFFF;
        return msgLength >= PptpControl.HEADER_LENGTH
            && (buffer.getShort(payloadStart + PptpControl.PPTP_TYPE_OFFSET, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF)
            == PptpControl.PPTP_CONTROL_MESSAGE
            && buffer.getInt(payloadStart + PptpControl.COOKIE_OFFSET, java.nio.ByteOrder.BIG_ENDIAN)
            == PptpControl.MAGIC_COOKIE;
    }

    /**
     * After a restart: each control connection's stream may have moved on since the image was written (a
     * message in the last moments before the crash), so a segment ahead of the restored position that begins
     * a message resynchronises the parser instead of waiting for a gap that will never be filled. Rewrites
     * remembered for retransmissions are kept (they name stream positions, still true).
     */
    @Override
    public void afterRestore(final long nowMs)
    {
        java.util.Arrays.fill(resync, true);
        counters.set(Counter.PPTP_CONTROL_LIVE, connLive);
        counters.set(Counter.TUNNELS_PPTP, callLive);
    }


    @Override
    public void collectTunnels(final int helper, final TunnelSink sink)
    {
        for (int c = 0; c < maxConnections; c++)
        {
            final int f = connFlow[c];
            if (f >= 0 && flows.inUse(f) && !sink.row(helper, KIND_CONTROL, connClient[c], connServer[c], flows.intPort(f),
                flows.remPort(f), flows.extPort(f), 0, 0, 0, 0, flows.packetsOut(f), flows.bytesOut(f), flows.packetsIn(f),
                flows.bytesIn(f), flows.created(f), flows.lastSeen(f)))
            {
                return;
            }
        }
        for (int k = 0; k < maxCalls; k++)
        {
            final int f = callGre[k];
            final int c = callConn[k];
            if (c >= 0 && f >= 0 && flows.inUse(f) && !sink.row(helper, KIND_CALL, connClient[c], connServer[c],
                callPns[k], callPac[k], callTrans[k], 0, 0, 0, 0, flows.packetsOut(f), flows.bytesOut(f),
                flows.packetsIn(f), flows.bytesIn(f), flows.created(f), flows.lastSeen(f)))
            {
                return;
            }
        }
    }

    /**
     * A call's GRE may be offloaded once it carried traffic both ways: the kernel rewrites it by (server, Call ID)
     * as this helper does (the address both ways, the Call ID passgate gave back to the client's own on the way
     * in); the control connection, whose messages this helper rewrites and follows, never is. Clearing the call
     * (or its connection ending, or pptp switched off) ends the GRE session and takes it back.
     */
    @Override
    public int offloadable(final int flow)
    {
        return flows.protocol(flow) == Protocols.GRE && flows.algData(flow) != 0 ? OFFLOAD_YES : OFFLOAD_NEVER;
    }

    @Override
    public void flowRemoved(final int flow)
    {
        final int data = flows.algData(flow);
        if (data == 0)
        {
            return;
        }
        if (flows.protocol(flow) == Protocols.GRE)
        {
            final int k = data - 1;
            if (callGre[k] == flow)
            {
                callGre[k] = NONE;
                freeCall(k);
            }
            return;
        }
        if (data == CLOSED)
        {
            return;
        }
        final int c = data - 1;
        if (connFlow[c] == flow)
        {
            freeCalls(c);
            releaseConnection(c);
        }
    }
}

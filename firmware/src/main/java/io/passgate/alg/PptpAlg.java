package io.passgate.alg;

import java.nio.ByteOrder;
import java.util.SplittableRandom;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.Alg;
import io.passgate.nat.FlowTable;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Protocols;
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
 * remembered by its stream position so a retransmitted segment is rewritten identically. Field sizes never
 * change, so TCP sequence numbers stay; the checksum is updated per rewritten byte.
 *
 * <p>States follow nf_conntrack_pptp.c: one per control connection and one per call, a switch on the message
 * type with a state check in every case, and one {@link #invalid} path that counts, describes and applies the
 * policy ({@code pptp.on-invalid}: reset the control connection, or drop the offending segment).
 */
public final class PptpAlg implements Alg
{
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

    private static final int OUT = 0;
    private static final int IN = 1;
    private static final int PREFIX = 32;
    private static final int RING = 16;
    private static final int NONE = -1;
    /** algData of a control session's TCP flow once passgate ended it: its record is free, data is dropped. */
    private static final int CLOSED = Integer.MAX_VALUE;
    /** A translated Call ID held for an Incoming-Call-Reply still in progress. */
    private static final int RESERVED = Integer.MAX_VALUE;

    /** What to do with an invalid control message. */
    public enum OnInvalid
    {
        /** Reset the control connection (TCP RST to both ends) and free its calls. */
        RESET,
        /** Drop the segment that carried it; the connection stays. */
        DROP
    }

    private final int maxConnections;
    private final int maxCalls;
    private final int maxCallsPerConnection;
    private final OnInvalid onInvalid;
    private final SplittableRandom random;

    private NatEngine engine;
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
    // its first bytes, the pending rewrite of the field in progress, and a ring of recent rewrites
    private final long[] nextSeq;
    private final int[] msgPos;
    private final int[] msgLen;
    private final int[] msgType;
    private final byte[] prefix;
    /** OCRP: the PAC's Call ID, seen before the restored field. */
    private final int[] pacSeen;
    /** The translated Call ID restored in the message in progress. */
    private final int[] restoredTrans;
    /** ICRP: the client's Call ID and its translation, until the PAC's Call ID after them is known. */
    private final int[] pendingPns;
    private final int[] pendingTrans;
    private final long[] ringSeq;
    private final byte[] ringOld;
    private final byte[] ringNew;
    private final int[] ringNext;

    // calls
    private final int[] callConn;
    private final int[] callState;
    private final int[] callPns;
    private final int[] callTrans;
    private final int[] callPac;
    private final int[] callGre;
    private final int[] callNext;
    private int callFreeHead;
    private int callLive;
    private final Long2LongHashMap transIndex;
    private final Long2LongHashMap pacIndex;

    // per packet
    private final TcpHeader tcp = new TcpHeader();
    private final GreHeader gre = new GreHeader();
    private MutableDirectBuffer buffer;
    private int payloadStart;
    private long segmentSeq;
    private boolean partial;
    private int invalidReason;
    private String lastInvalid = "";

    public PptpAlg(final int maxConnections, final int maxCalls, final int maxCallsPerConnection,
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
        pendingPns = new int[maxConnections];
        pendingTrans = new int[maxConnections];
        ringSeq = new long[maxConnections * 2 * RING];
        ringOld = new byte[maxConnections * 2 * RING];
        ringNew = new byte[maxConnections * 2 * RING];
        ringNext = new int[maxConnections * 2];
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
        callNext = new int[maxCalls];
        for (int k = 0; k < maxCalls; k++)
        {
            callNext[k] = k + 1 < maxCalls ? k + 1 : NONE;
            callConn[k] = NONE;
        }
        final int mapCapacity = Integer.highestOneBit(Math.max(16, maxCalls * 2) * 2 - 1);
        transIndex = new Long2LongHashMap(mapCapacity, 0.65f, NONE, true);
        pacIndex = new Long2LongHashMap(mapCapacity, 0.65f, NONE, true);
    }

    @Override
    public void attach(final NatEngine engine, final int index)
    {
        this.engine = engine;
        this.flows = engine.flows();
        this.counters = engine.counters();
        this.index = index;
    }

    @Override
    public String name()
    {
        return "pptp";
    }

    @Override
    public void passthroughChanged(final io.passgate.nat.PassthroughPolicy policy)
    {
        final boolean on = policy.allows(io.passgate.nat.PassthroughPolicy.PPTP);
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

    /** The passgate-side view of a live call, for the tunnel table (dataplane thread). */
    public int callCount()
    {
        return callLive;
    }

    /** Why the last invalid message was refused (for logs and tests; not per packet). */
    public String lastInvalid()
    {
        return lastInvalid;
    }

    public int liveCalls()
    {
        return callLive;
    }

    public int liveConnections()
    {
        return connLive;
    }

    @Override
    public boolean claims(final int protocol, final int remotePort)
    {
        return protocol == Protocols.TCP && remotePort == PptpControl.PORT;
    }

    // ------------------------------------------------------------------------------------ control stream

    @Override
    public int outbound(final int flow, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean partialChecksum, final long nowMs)
    {
        return control(flow, ip, l4Offset, l4Length, partialChecksum, OUT);
    }

    @Override
    public int inbound(final int flow, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean partialChecksum, final long nowMs)
    {
        return control(flow, ip, l4Offset, l4Length, partialChecksum, IN);
    }

    private int control(final int flow, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean partialChecksum, final int dir)
    {
        if (!tcp.wrap(ip.buffer(), l4Offset, l4Length))
        {
            return Alg.CONTINUE;
        }
        final int data = flows.algData(flow);
        if (data == CLOSED)
        {
            return l4Length > tcp.headerLength() ? PacketHandler.VERDICT_DROP : Alg.CONTINUE;
        }
        int c = data - 1;
        if (c < 0)
        {
            c = openConnection(flow);
            if (c < 0)
            {
                counters.increment(Counter.DROP_PPTP_LIMIT);
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
        final int flags = tcp.flags();
        if ((flags & TcpHeader.RST) != 0)
        {
            closeConnection(c);
            return Alg.CONTINUE;
        }
        final int dataLength = l4Length - tcp.headerLength();
        int verdict = Alg.CONTINUE;
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
                verdict = stream(c, d, dir, dataLength);
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
        for (int dir = 0; dir < 2; dir++)
        {
            final int d = c * 2 + dir;
            nextSeq[d] = -1;
            msgPos[d] = 0;
            msgLen[d] = 0;
            msgType[d] = 0;
            ringNext[d] = 0;
            for (int i = 0; i < RING; i++)
            {
                ringSeq[d * RING + i] = -1;
            }
        }
        flows.algData(flow, c + 1);
        counters.increment(Counter.PPTP_CONTROL_CONNECTIONS);
        counters.set(Counter.PPTP_CONTROL_LIVE, connLive);
        return c;
    }

    /**
     * Walks the segment's payload: bytes before the expected sequence are retransmissions (rewritten from
     * the ring), bytes from it on are new and parsed; a segment after a gap is dropped until the gap fills.
     */
    private int stream(final int c, final int d, final int dir, final int length)
    {
        final long expected = nextSeq[d];
        final int ahead = (int)(segmentSeq - expected);
        if (ahead > 0)
        {
            counters.increment(Counter.PPTP_OUT_OF_ORDER);
            return PacketHandler.VERDICT_DROP;
        }
        boolean modified = replayRewrites(d, length);
        int i = -ahead;   // bytes already seen
        if (i >= length)
        {
            return modified ? PacketHandler.VERDICT_ACCEPT_MODIFIED : Alg.CONTINUE;
        }
        for (; i < length; i++)
        {
            final int result = onByte(c, d, dir, i);
            if (result == PacketHandler.VERDICT_DROP)
            {
                return PacketHandler.VERDICT_DROP;
            }
            modified |= result == PacketHandler.VERDICT_ACCEPT_MODIFIED;
        }
        nextSeq[d] = (segmentSeq + length) & 0xFFFF_FFFFL;
        return modified ? PacketHandler.VERDICT_ACCEPT_MODIFIED : Alg.CONTINUE;
    }

    /** Re-applies remembered rewrites that fall inside this segment (a retransmission). */
    private boolean replayRewrites(final int d, final int length)
    {
        boolean modified = false;
        for (int r = 0; r < RING; r++)
        {
            final int slot = d * RING + r;
            final long at = ringSeq[slot];
            if (at < 0)
            {
                continue;
            }
            final int offset = (int)(at - segmentSeq);
            if (offset >= 0 && offset < length && (int)(at - nextSeq[d]) < 0)
            {
                final int position = payloadStart + offset;
                if (buffer.getByte(position) == ringOld[slot])
                {
                    patch(position, ringNew[slot]);
                    counters.increment(Counter.PPTP_RETRANSMISSIONS_PATCHED);
                    modified = true;
                }
            }
        }
        return modified;
    }

    private void remember(final int d, final long streamSeq, final byte old, final byte neu)
    {
        final int slot = d * RING + ringNext[d];
        ringNext[d] = (ringNext[d] + 1) % RING;
        ringSeq[slot] = streamSeq & 0xFFFF_FFFFL;
        ringOld[slot] = old;
        ringNew[slot] = neu;
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
        int result = Alg.CONTINUE;
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
            case PptpControl.OUTGOING_CALL_REQUEST, PptpControl.INCOMING_CALL_REPLY, PptpControl.CALL_CLEAR_REQUEST:
                if (dir != OUT)
                {
                    return invalid(c, 12, PptpControl.name(type) + " from the server");
                }
                if (s != SESSION_CONFIRMED)
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
        return Alg.CONTINUE;
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
            return Alg.CONTINUE;
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
            replacement = restore(c, type, original);
        }
        if (replacement < 0)
        {
            return replacement == -2 ? PacketHandler.VERDICT_DROP : Alg.CONTINUE;
        }
        if (replacement == original)
        {
            return Alg.CONTINUE;
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
            remember(d, segmentSeq + highIndex, buffer.getByte(highPosition), (byte)(replacement >>> 8));
            patch(highPosition, (byte)(replacement >>> 8));
        }
        final int lowPosition = payloadStart + i;
        remember(d, segmentSeq + i, buffer.getByte(lowPosition), (byte)replacement);
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
                freeCalls(c);
                connState[c] = SESSION_NONE;
                break;
            case PptpControl.OUTGOING_CALL_REPLY:
            {
                final int k = findByTrans(c, restoredTrans[d]);
                if (k >= 0 && callState[k] == CALL_OUT_REQUESTED)
                {
                    if ((prefix[d * PREFIX + PptpControl.OCRP_RESULT_OFFSET] & 0xFF) == PptpControl.RESULT_OK)
                    {
                        confirmCall(k, pacSeen[d]);
                        callState[k] = CALL_OUT_CONFIRMED;
                    }
                    else
                    {
                        freeCall(k);
                    }
                }
                break;
            }
            case PptpControl.INCOMING_CALL_REPLY:
            {
                // the PAC's Call ID (the peer's) follows the PNS's: complete the call now
                final int pac = prefixShort(d, PptpControl.PEER_CALL_ID_OFFSET);
                final int k = findByPac(c, pac);
                final int trans = pendingTrans[c];
                pendingTrans[c] = NONE;
                if (k < 0 || callState[k] != CALL_IN_REQUESTED || trans < 0)
                {
                    if (trans >= 0)
                    {
                        transIndex.remove(transKey(connServer[c], trans));
                    }
                    return invalid(c, 21, "Incoming-Call-Reply for no Incoming-Call-Request");
                }
                callPns[k] = pendingPns[c];
                callTrans[k] = trans;
                transIndex.put(transKey(connServer[c], trans), k);
                callState[k] = CALL_IN_REPLIED;
                if (!createGre(k))
                {
                    return PacketHandler.VERDICT_DROP;
                }
                break;
            }
            case PptpControl.INCOMING_CALL_CONNECTED:
            {
                final int k = findByTrans(c, restoredTrans[d]);
                if (k >= 0 && callState[k] == CALL_IN_REPLIED)
                {
                    callState[k] = CALL_IN_CONNECTED;
                }
                break;
            }
            case PptpControl.CALL_DISCONNECT_NOTIFY:
            {
                final int id = prefixShort(d, PptpControl.CALL_ID_OFFSET);
                int k = findByPac(c, id);
                if (k < 0)
                {
                    k = findByPns(c, id);   // a peer that put the client's (restored) Call ID there
                }
                if (k >= 0)
                {
                    freeCall(k);
                }
                break;
            }
            default:
                break;
        }
        return Alg.CONTINUE;
    }

    // ------------------------------------------------------------------------------------------- calls

    private static long transKey(final int server, final int callId)
    {
        return ((server & 0xFFFF_FFFFL) << 16) | (callId & 0xFFFF);
    }

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
        connCalls[c]++;
        callLive++;
        counters.set(Counter.PPTP_CALLS_LIVE, callLive);
        return k;
    }

    private void releaseRecord(final int k)
    {
        final int c = callConn[k];
        if (c >= 0)
        {
            connCalls[c]--;
        }
        callConn[k] = NONE;
        callState[k] = CALL_FREE;
        callNext[k] = callFreeHead;
        callFreeHead = k;
        callLive--;
        counters.set(Counter.PPTP_CALLS_LIVE, callLive);
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

    /** OCRQ: a new call with the client's Call ID; returns the translated one, or -2 (refused). */
    private int outgoingCallRequest(final int c, final int pns)
    {
        if (findByPns(c, pns) >= 0)
        {
            invalid(c, 22, "Outgoing-Call-Request reuses a live Call ID " + pns);
            return -2;
        }
        final int k = allocateCallRecord(c);
        final int trans = k < 0 ? NONE : allocateCallId(connServer[c], pns);
        if (k < 0 || trans < 0)
        {
            if (k >= 0)
            {
                releaseRecord(k);
            }
            counters.increment(Counter.DROP_PPTP_LIMIT);
            invalid(c, 23, "no call or Call ID left (" + connCalls[c] + " calls on this connection, " + callLive + " in all)");
            return -2;
        }
        callPns[k] = pns;
        callTrans[k] = trans;
        callState[k] = CALL_OUT_REQUESTED;
        transIndex.put(transKey(connServer[c], trans), k);
        counters.increment(Counter.PPTP_CALLS_CREATED);
        if (!createGre(k))
        {
            freeCall(k);
            return -2;
        }
        return trans;
    }

    /** ICRQ from the server: a call the server offers, known by its Call ID until the client replies. */
    private int incomingCallRequest(final int c, final int pac)
    {
        if (findByPac(c, pac) >= 0)
        {
            return Alg.CONTINUE;
        }
        final int k = allocateCallRecord(c);
        if (k < 0)
        {
            counters.increment(Counter.DROP_PPTP_LIMIT);
            return invalid(c, 24, "no call left for an Incoming-Call-Request");
        }
        callPac[k] = pac;
        callState[k] = CALL_IN_REQUESTED;
        pacIndex.put(transKey(connServer[c], pac), k);
        counters.increment(Counter.PPTP_CALLS_CREATED);
        return Alg.CONTINUE;
    }

    /**
     * ICRP: the client's Call ID comes before the server's it answers, so its translation is reserved for the
     * connection and joined with the Incoming-Call-Request's call at the end of the message.
     */
    private int incomingCallReply(final int c, final int pns)
    {
        final int trans = connCalls[c] > maxCallsPerConnection ? NONE : allocateCallId(connServer[c], pns);
        if (trans < 0)
        {
            counters.increment(Counter.DROP_PPTP_LIMIT);
            invalid(c, 25, "no Call ID left for an Incoming-Call-Reply");
            return -2;
        }
        transIndex.put(transKey(connServer[c], trans), RESERVED);
        pendingPns[c] = pns;
        pendingTrans[c] = trans;
        return trans;
    }

    private int callClearRequest(final int c, final int pns)
    {
        final int k = findByPns(c, pns);
        if (k < 0)
        {
            invalid(c, 26, "Call-Clear-Request for unknown Call ID " + pns);
            return -2;
        }
        callState[k] = CALL_CLEAR_REQUESTED;
        return callTrans[k];
    }

    /** The server's message carries a translated Call ID: the client's original, or -1 when none matches. */
    private int restore(final int c, final int type, final int trans)
    {
        if (type == PptpControl.CALL_DISCONNECT_NOTIFY && findByPac(c, trans) >= 0)
        {
            return NONE;   // the PAC's own Call ID (RFC 2637 2.13): nothing to restore
        }
        final int k = findByTrans(c, trans);
        if (k < 0)
        {
            return NONE;
        }
        restoredTrans[c * 2 + IN] = trans;
        return callPns[k];
    }

    private void confirmCall(final int k, final int pac)
    {
        callPac[k] = pac;
        final int c = callConn[k];
        pacIndex.put(transKey(connServer[c], pac), k);
        if (callGre[k] >= 0)
        {
            flows.rekeyRemotePort(callGre[k], pac);
        }
    }

    /** The call's GRE session: outbound keyed by the server's Call ID, inbound by the translated one. */
    private boolean createGre(final int k)
    {
        final int c = callConn[k];
        final int f = engine.createDependent(Protocols.GRE, connClient[c], callPns[k], callTrans[k], connServer[c],
            callPac[k] < 0 ? 0 : callPac[k], index, engine.now());
        if (f < 0)
        {
            return false;
        }
        flows.algData(f, k + 1);
        callGre[k] = f;
        return true;
    }

    private int findByTrans(final int c, final int trans)
    {
        final long k = transIndex.get(transKey(connServer[c], trans));
        return k >= 0 && k != RESERVED && callConn[(int)k] == c ? (int)k : NONE;
    }

    private int findByPac(final int c, final int pac)
    {
        final int k = (int)pacIndex.get(transKey(connServer[c], pac));
        return k >= 0 && callConn[k] == c ? k : NONE;
    }

    private int findByPns(final int c, final int pns)
    {
        for (int k = 0; k < maxCalls; k++)
        {
            if (callConn[k] == c && callPns[k] == pns && callState[k] != CALL_FREE)
            {
                return k;
            }
        }
        return NONE;
    }

    /** Ends a call: its GRE session, its Call IDs. */
    private void freeCall(final int k)
    {
        if (callConn[k] < 0)
        {
            return;
        }
        final int server = connServer[callConn[k]];
        if (callTrans[k] >= 0 && transIndex.get(transKey(server, callTrans[k])) == k)
        {
            transIndex.remove(transKey(server, callTrans[k]));
        }
        if (callPac[k] >= 0 && pacIndex.get(transKey(server, callPac[k])) == k)
        {
            pacIndex.remove(transKey(server, callPac[k]));
        }
        final int f = callGre[k];
        callGre[k] = NONE;
        if (f >= 0 && flows.inUse(f) && flows.algData(f) == k + 1)
        {
            flows.algData(f, 0);
            engine.removeFlow(f);
        }
        releaseRecord(k);
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
            transIndex.remove(transKey(connServer[c], pendingTrans[c]));
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
            engine.sendTcpReset(connServer[c], PptpControl.PORT, connClient[c], flows.intPort(f), inSeq, outSeq);
            engine.sendTcpReset(engine.config().wanAddress(), flows.extPort(f), connServer[c], PptpControl.PORT, outSeq,
                inSeq);
            counters.increment(Counter.PPTP_RESETS_SENT);
        }
        closeConnection(c);
    }

    public int lastInvalidReason()
    {
        return invalidReason;
    }

    // ------------------------------------------------------------------------------------------------ GRE

    @Override
    public int outboundOther(final Ipv4Header ip, final long nowMs)
    {
        if (ip.protocol() != Protocols.GRE || !gre.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength())
            || !gre.isPptp())
        {
            return Alg.CONTINUE;   // GRE version 0 and other protocols are not PPTP
        }
        if (!enabled)
        {
            return engine.refusePassthroughPacket(ip);
        }
        final int f = flows.findOutbound(Protocols.GRE, ip.source(), 0, ip.destination(), gre.callId());
        if (f == FlowTable.NONE || flows.alg(f) != index)
        {
            counters.increment(Counter.DROP_GRE_NO_CALL);
            return PacketHandler.VERDICT_DROP;
        }
        engine.touchOutbound(f, ip);
        ip.source(engine.config().wanAddress());
        counters.increment(Counter.PPTP_GRE_OUT);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    @Override
    public int inboundOther(final Ipv4Header ip, final long nowMs)
    {
        if (ip.protocol() != Protocols.GRE || !gre.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength())
            || !gre.isPptp())
        {
            return Alg.CONTINUE;
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
        engine.touchInbound(f, ip);
        ip.destination(flows.intAddr(f));
        gre.callId(flows.intPort(f));
        counters.increment(Counter.PPTP_GRE_IN);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    @Override
    public int icmpErrorHost(final Ipv4Header inner, final int transport, final int available)
    {
        if (inner.protocol() != Protocols.GRE || available < 8)
        {
            return 0;
        }
        final MutableDirectBuffer b = inner.buffer();
        if ((b.getShort(transport, ByteOrder.BIG_ENDIAN) & GreHeader.VERSION_MASK) != 1)
        {
            return 0;
        }
        // a GRE packet the client sent carries the server's Call ID
        final int pac = b.getShort(transport + 6, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        final long k = pacIndex.get(transKey(inner.destination(), pac));
        return k >= 0 && callConn[(int)k] >= 0 ? connClient[callConn[(int)k]] : 0;
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

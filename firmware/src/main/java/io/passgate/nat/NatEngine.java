package io.passgate.nat;

import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

import io.passgate.config.PassgateContext.Filtering;
import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nfq.PacketHandler;
import io.passgate.wire.Checksum;
import io.passgate.wire.GreHeader;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.TcpHeader;
import io.passgate.wire.PortsHeader;
import org.agrona.DeadlineTimerWheel;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The NAT: one shard's sessions, mappings and timers, and the translation of TCP, UDP, ICMP and
 * port-less protocols between the LAN and the router's WAN address, as RFC 4787 (UDP), RFC 5382 (TCP),
 * RFC 5508 (ICMP) and RFC 7857 ask. Split by direction: {@link #outbound} runs where the source is
 * rewritten (postrouting), {@link #inbound} where the destination is (prerouting).
 *
 * <p>Everything is preallocated; the per-packet path allocates nothing. Time is the caller's cached clock
 * (milliseconds), so tests drive it by hand. Session expiry is lazy: a packet only stores its time; the
 * {@link DeadlineTimerWheel} entry of a session is checked when it fires and rescheduled if the session
 * was used since.
 *
 * <p>Offload (planned): a settled session can later be handed to the kernel (a conntrack entry with its NAT
 * through ctnetlink, or nft map rewrites keyed by Call ID/SPI) and withdrawn on expiry or switch-off;
 * {@link #FLAG_OFFLOADED} is reserved in the session flags for that and nothing sets it yet.
 */
public final class NatEngine
{
    // session flags
    public static final int FLAG_INBOUND_CREATED = 1;
    public static final int FLAG_OFFLOADED = 1 << 1;
    public static final int FLAG_HAIRPIN = 1 << 2;
    public static final int FLAG_GENERIC = 1 << 3;
    /** No idle expiry: the helper that created the session ends it (a PPTP call's GRE lives as long as the call). */
    public static final int FLAG_PINNED = 1 << 4;

    // TCP state bits in FlowTable.state
    static final int TCP_SYN_OUT = 1;
    static final int TCP_SYN_IN = 2;
    static final int TCP_FIN_OUT = 4;
    static final int TCP_FIN_IN = 8;
    static final int TCP_RST = 16;
    static final int TCP_ESTABLISHED = 32;

    /** RFC 5382 REQ-4: an unsolicited SYN is not answered for at least 6 s. */
    static final long UNSOLICITED_SYN_HOLD_MS = 6_000;
    private static final int HELD_SYNS = 64;
    private static final int HELD_QUOTE = 68;
    private static final int FRAGMENT_CACHE = 256;
    /** {@link #createOutbound}: another shard holds the endpoint's mapping; see {@link #requeueShard()}. */
    static final int REQUEUED = -3;
    /** The helpers' UDP ports: kept only by sessions of their own protocol, handled by the first shard. */
    private static final int[] HELPER_UDP_PORTS = {PassthroughPolicy.IKE_PORT, PassthroughPolicy.L2TP_PORT,
        PassthroughPolicy.NATT_PORT};
    /** Expiry granularity: a session ends up to this much after its idle timeout. */
    public static final long TIMER_TICK_MS = 4096;
    private static final int TIMER_SPOKES = 16;

    private final NatConfig config;
    private final CounterSet counters;
    private final IcmpSender icmpSender;
    private final PacketSink sink;
    private final UnsafeBuffer reset = new UnsafeBuffer(new byte[40]);
    private final FlowTable flows;
    private final MappingTable mappings;
    /** Address-dependent filtering: (mapping, remote address) to the number of sessions with it. */
    private final Long2LongHashMap permissions;
    private final DeadlineTimerWheel timers;
    private final Long2LongHashMap timerFlows;
    private final DeadlineTimerWheel.TimerHandler onTimer = this::onTimerExpiry;
    private Alg[] algs = new Alg[0];
    private final PassthroughPolicy passthrough = new PassthroughPolicy();
    private long tunnelsIpsec;
    private long tunnelsL2tp;

    private final Ipv4Header ip = new Ipv4Header();
    private final TcpHeader tcp = new TcpHeader();
    private final PortsHeader ports = new PortsHeader();
    private final IcmpHeader icmp = new IcmpHeader();
    private final Ipv4Header inner = new Ipv4Header();
    private final GreHeader gre = new GreHeader();
    private final Alg.QuoteWriter quoteWriter = this::setInnerWord;

    // held unsolicited SYNs: remote address, remote port, external port, deadline, quoted header
    private final int[] heldRemAddr = new int[HELD_SYNS];
    private final int[] heldRemPort = new int[HELD_SYNS];
    private final int[] heldExtPort = new int[HELD_SYNS];
    private final long[] heldDeadline = new long[HELD_SYNS];
    private final int[] heldLength = new int[HELD_SYNS];
    private final UnsafeBuffer heldQuotes = new UnsafeBuffer(new byte[HELD_SYNS * HELD_QUOTE]);
    private int heldNext;

    // inbound fragments: (source, identification, protocol) of a translated first fragment to its LAN host
    private final long[] fragmentKey = new long[FRAGMENT_CACHE];
    private final int[] fragmentHost = new int[FRAGMENT_CACHE];
    private final long[] fragmentExpiry = new long[FRAGMENT_CACHE];

    private long now;
    private boolean partial;
    private boolean hairpinned;
    private int lastFlow = FlowTable.NONE;
    private final SharedEndpoints shared;
    private int requeueShard = -1;

    public NatEngine(final NatConfig config, final CounterSet counters, final PacketSink sink, final int icmpRate,
        final long startMs)
    {
        this(config, counters, sink, icmpRate, startMs, null);
    }

    /**
     * @param shared which shard holds each internal endpoint's mapping, shared by every shard's engine; null
     *               with one shard
     */
    public NatEngine(final NatConfig config, final CounterSet counters, final PacketSink sink, final int icmpRate,
        final long startMs, final SharedEndpoints shared)
    {
        this.shared = config.shards() > 1 ? shared : null;
        this.config = config;
        this.counters = counters;
        this.icmpSender = new IcmpSender(sink, counters, icmpRate);
        this.sink = sink;
        this.flows = new FlowTable(config.maxFlows(), config.seed());
        this.mappings = new MappingTable(config.maxFlows(), config.portMin(), config.portMax(), config.parity(),
            config.shard(), config.shards(), config.seed() * 31 + 7);
        final int mapCapacity = Math.max(16, Integer.highestOneBit(config.maxFlows() * 2) << 1);
        this.permissions = new Long2LongHashMap(mapCapacity, 0.65f, 0L, true);
        this.timerFlows = new Long2LongHashMap(mapCapacity, 0.65f, -1L, true);
        // 16 spokes of 4.096 s, each preallocated for every session: a burst of sessions that all expire in
        // one tick never grows the wheel (growth would allocate on the packet path and, doubling every
        // spoke, could take hundreds of MB); timers beyond the 65 s span are rechecked each rotation
        this.timers = new DeadlineTimerWheel(TimeUnit.MILLISECONDS, startMs, TIMER_TICK_MS, TIMER_SPOKES,
            Integer.highestOneBit(Math.max(16, config.maxFlows()) * 2 - 1));
        this.now = startMs;
        for (final int port : HELPER_UDP_PORTS)
        {
            // never for anything but their own protocol, and (with several shards) the first shard's: the queue
            // rules send the helpers' traffic there
            mappings.reserve(Protocols.SPACE_UDP, port, MappingTable.RESERVED_HELPER, true);
            mappings.assignToFirstShard(Protocols.SPACE_UDP, port);
        }
    }

    /** The shard to hand the last packet to when a call returned {@link PacketHandler#VERDICT_REQUEUE}. */
    public int requeueShard()
    {
        return requeueShard;
    }

    /**
     * Reserves (or frees) ports the router itself listens on, on the WAN address or the wildcard: no mapping may
     * take them (its replies would reach the router's socket). Existing mappings stay.
     */
    public void routerPort(final int protocol, final int port, final boolean listening)
    {
        final int space = Protocols.space(protocol);
        if (space >= 0)
        {
            mappings.reserve(space, port, MappingTable.RESERVED_LISTENER, listening);
        }
    }

    /** Registers a passthrough helper; called before the first packet. */
    public void register(final Alg alg)
    {
        final Alg[] grown = new Alg[algs.length + 1];
        System.arraycopy(algs, 0, grown, 0, algs.length);
        grown[algs.length] = alg;
        algs = grown;
        alg.attach(this, algs.length);
    }

    public NatConfig config()
    {
        return config;
    }

    public FlowTable flows()
    {
        return flows;
    }

    public MappingTable mappings()
    {
        return mappings;
    }

    public CounterSet counters()
    {
        return counters;
    }

    public IcmpSender icmpSender()
    {
        return icmpSender;
    }

    public long now()
    {
        return now;
    }

    /** The session the last translated packet belonged to (for tests and helpers). */
    public int lastFlow()
    {
        return lastFlow;
    }

    // ------------------------------------------------------------------------------------------- outbound

    /**
     * A packet leaving by the WAN (or, with {@code hairpin}, going back to the LAN after {@link #inbound}
     * rewrote its destination): rewrite its source to the WAN address and the mapped port.
     */
    public int outbound(final MutableDirectBuffer buffer, final int offset, final int length,
        final boolean partialChecksum, final boolean hairpin, final long nowMs)
    {
        now = nowMs;
        partial = partialChecksum;
        lastFlow = FlowTable.NONE;
        if (!ip.wrap(buffer, offset, length))
        {
            counters.increment(Counter.DROP_MALFORMED);
            return PacketHandler.VERDICT_DROP;
        }
        final int src = ip.source();
        if (src == config.wanAddress())
        {
            return PacketHandler.VERDICT_ACCEPT;
        }
        if (ip.fragmentOffset() > 0)
        {
            // later fragments carry no ports: the source address is all there is to translate
            ip.source(config.wanAddress());
            counters.increment(Counter.NAT_FRAGMENTS);
            return PacketHandler.VERDICT_ACCEPT_MODIFIED;
        }
        final int proto = ip.protocol();
        switch (proto)
        {
            case Protocols.TCP, Protocols.UDP, Protocols.SCTP, Protocols.DCCP, Protocols.UDPLITE:
                return outboundPorts(proto, src, hairpin);
            case Protocols.ICMP:
                return outboundIcmp(src);
            default:
                return outboundOther(proto, src);
        }
    }

    /** Wraps the transport header of a port protocol: {@link #tcp} for TCP, {@link #ports} for the others. */
    private boolean wrapPorts(final int proto)
    {
        return proto == Protocols.TCP ? tcp.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength())
            : ports.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength(), proto);
    }

    private int outboundPorts(final int proto, final int src, final boolean hairpin)
    {
        final boolean isTcp = proto == Protocols.TCP;
        if (!wrapPorts(proto))
        {
            counters.increment(Counter.DROP_MALFORMED);
            return PacketHandler.VERDICT_DROP;
        }
        final int sport = isTcp ? tcp.sourcePort() : ports.sourcePort();
        int dst = ip.destination();
        int dport = isTcp ? tcp.destinationPort() : ports.destinationPort();
        if (hairpin)
        {
            // the peer is the other client's external endpoint: the WAN address and its mapped port
            final int peer = mappings.find(proto, dst, dport);
            dport = peer >= 0 ? mappings.extPort(peer) : dport;
            dst = config.wanAddress();
        }
        final int tcpFlags = isTcp ? tcp.flags() : 0;
        int f = flows.findOutbound(proto, src, sport, dst, dport);
        if (f == FlowTable.NONE)
        {
            f = createOutbound(proto, src, sport, dst, dport, isTcp && (tcpFlags & TcpHeader.SYN) == 0);
            if (f < 0)
            {
                return f == REQUEUED ? PacketHandler.VERDICT_REQUEUE : PacketHandler.VERDICT_DROP;
            }
            if (hairpin)
            {
                flows.flags[f] |= FLAG_HAIRPIN;
            }
        }
        lastFlow = f;
        touchOut(f);
        if (isTcp)
        {
            tcpTrack(f, tcpFlags, true);
        }
        final int wan = config.wanAddress();
        final int ext = flows.extPort[f];
        ip.source(wan);
        if (isTcp)
        {
            tcp.addressChanged(src, wan, partial).sourcePort(ext, partial);
            if ((tcpFlags & TcpHeader.SYN) != 0)
            {
                clampMss();
            }
        }
        else
        {
            ports.addressChanged(src, wan, partial).sourcePort(ext, partial).finish(partial);
        }
        if (hairpin)
        {
            counters.increment(Counter.NAT_HAIRPIN_PACKETS);
        }
        final int a = flows.alg[f];
        if (a != 0)
        {
            final int v = algs[a - 1].outbound(f, ip, ip.payloadOffset(), ip.payloadLength(), partial, now);
            if (v != Alg.CONTINUE)
            {
                return v;
            }
        }
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    private void clampMss()
    {
        if (config.mssClamp() > 0 && tcp.clampMss(config.mssClamp(), partial))
        {
            counters.increment(Counter.NAT_MSS_CLAMPED);
        }
    }

    /** Enhanced GRE (version 1): PPTP's data channel, under the pptp switch. */
    private boolean isPptpGre(final int proto)
    {
        return proto == Protocols.GRE && gre.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength()) && gre.isPptp();
    }

    /** A helper's packet of session {@code f} went out: time and counters. */
    public void touchOutbound(final int f, final Ipv4Header packet)
    {
        flows.lastSeen[f] = now;
        flows.packetsOut[f]++;
        flows.bytesOut[f] += packet.totalLength();
        lastFlow = f;
    }

    /** A helper's packet of session {@code f} came in. */
    public void touchInbound(final int f, final Ipv4Header packet)
    {
        flows.lastSeen[f] = now;
        flows.packetsIn[f]++;
        flows.bytesIn[f] += packet.totalLength();
        lastFlow = f;
    }

    private void touchOut(final int f)
    {
        flows.lastSeen[f] = now;
        flows.packetsOut[f]++;
        flows.bytesOut[f] += ip.totalLength();
    }

    private void touchIn(final int f)
    {
        flows.lastSeen[f] = now;
        flows.packetsIn[f]++;
        flows.bytesIn[f] += ip.totalLength();
    }

    /**
     * Finds or creates the mapping for (proto, src, sport) and a session to (dst, dport). On failure sends
     * ICMP 3/13 to the client, counts, and returns -1.
     */
    private int createOutbound(final int proto, final int src, final int sport, final int dst, final int dport,
        final boolean tcpPickup)
    {
        if (!passthrough.allowsPort(proto, dport))
        {
            refusePassthrough(proto, src, sport, dst, dport);
            return -1;
        }
        if (!makeRoom())
        {
            refuse(Counter.DROP_TABLE_FULL, src);
            return -1;
        }
        final int space = Protocols.space(proto);
        int m = mappings.find(proto, src, sport);
        if (m < 0)
        {
            if (shared != null)
            {
                final int holder = shared.claim(proto, src, sport, config.shard());
                if (holder != config.shard())
                {
                    // this endpoint already has its mapping in another shard: one mapping per endpoint
                    requeueShard = holder;
                    counters.increment(Counter.NAT_REQUEUED_TO_HOLDER);
                    return REQUEUED;
                }
            }
            m = mappings.create(proto, space, src, sport, ownProtocolPort(proto, sport, dport));
            if (m < 0)
            {
                if (shared != null)
                {
                    shared.release(proto, src, sport, config.shard());
                }
                refuse(mappings.isFull() ? Counter.DROP_TABLE_FULL : Counter.DROP_PORTS_EXHAUSTED, src);
                return -1;
            }
            counters.increment(Counter.NAT_MAPPINGS_CREATED);
            counters.increment(mappings.lastPreserved() ? Counter.NAT_PORTS_PRESERVED : Counter.NAT_PORTS_RANDOM);
        }
        final int f = newFlow(proto, src, sport, mappings.extPort(m), dst, dport, m);
        if (tcpPickup)
        {
            flows.state[f] = TCP_SYN_OUT | TCP_SYN_IN | TCP_ESTABLISHED;
            counters.increment(Counter.NAT_TCP_PICKUPS);
        }
        for (int i = 0; i < algs.length; i++)
        {
            if (algs[i].claims(proto, dport))
            {
                flows.alg[f] = i + 1;
                break;
            }
        }
        schedule(f);
        return f;
    }

    /**
     * Whether a session from internal port {@code sport} to {@code dport} is of the protocol that reserved
     * {@code sport} (UDP 500 or 4500 to IKE/NAT-T, 1701 to L2TP): only then may it keep that port.
     */
    private static boolean ownProtocolPort(final int proto, final int sport, final int dport)
    {
        final int mine = PassthroughPolicy.ofPort(proto, sport);
        if (mine == PassthroughPolicy.NONE)
        {
            return false;
        }
        final int theirs = PassthroughPolicy.ofPort(proto, dport);
        final boolean ipsec = mine == PassthroughPolicy.IPSEC || mine == PassthroughPolicy.NATT;
        return theirs == mine || (ipsec && (theirs == PassthroughPolicy.IPSEC || theirs == PassthroughPolicy.NATT));
    }

    private int newFlow(final int proto, final int src, final int sport, final int ext, final int dst,
        final int dport, final int m)
    {
        final int f = flows.insert(proto, src, sport, ext, dst, dport, m, now);
        if (m >= 0)
        {
            mappings.addFlow(m);
            permissions.put(permissionKey(m, dst), permissions.get(permissionKey(m, dst)) + 1);
        }
        counters.increment(Counter.NAT_FLOWS_CREATED);
        counters.set(Counter.NAT_FLOWS_LIVE, flows.size());
        counters.set(Counter.NAT_MAPPINGS_LIVE, mappings.size());
        if (proto != Protocols.GRE)
        {
            countTunnel(f, 1);
        }
        return f;
    }

    /**
     * Frees a slot when the table is full by evicting the oldest transitory session; false if none. The
     * session of the packet in progress is never the victim (a helper may ask for room while handling it).
     */
    private boolean makeRoom()
    {
        if (!flows.isFull())
        {
            return true;
        }
        final int victim = flows.oldestTransitoryExcept(lastFlow);
        if (victim == FlowTable.NONE)
        {
            return false;
        }
        removeFlow(victim);
        counters.increment(Counter.NAT_FLOWS_EVICTED);
        return true;
    }

    /**
     * A switched-off passthrough refuses at once and clearly: a TCP RST for a new connection (as if from the
     * server), an ICMP 3/13 (administratively prohibited, rate-limited) for anything else.
     */
    private void refusePassthrough(final int proto, final int src, final int sport, final int dst, final int dport)
    {
        counters.increment(Counter.PASSTHROUGH_REFUSED);
        if (proto == Protocols.TCP)
        {
            if (tcp.syn() && !tcp.ack())
            {
                sendTcpReset(dst, dport, src, sport, 0, tcp.sequence() + 1);
            }
            else if (!tcp.rst())
            {
                sendTcpReset(dst, dport, src, sport, tcp.acknowledgement(), tcp.sequence() + 1);
            }
            return;
        }
        icmpSender.sendError(IcmpHeader.DESTINATION_UNREACHABLE, IcmpHeader.CODE_ADMIN_PROHIBITED,
            config.lanAddress(), src, ip, now);
    }

    /** Refuses a port-less packet of a switched-off passthrough from a LAN client (ICMP 3/13). */
    public int refusePassthroughPacket(final Ipv4Header packet)
    {
        counters.increment(Counter.PASSTHROUGH_REFUSED);
        icmpSender.sendError(IcmpHeader.DESTINATION_UNREACHABLE, IcmpHeader.CODE_ADMIN_PROHIBITED,
            config.lanAddress(), packet.source(), packet, now);
        return PacketHandler.VERDICT_DROP;
    }

    public PassthroughPolicy passthrough()
    {
        return passthrough;
    }

    /**
     * Applies switch states (on the dataplane thread): from now on new sessions of a switched-off passthrough
     * are refused, and its live sessions are torn down at once (a PPTP control connection with TCP resets to
     * both ends). Returns the sessions torn down.
     */
    public int applyPassthrough(final boolean pptpOn, final boolean ipsecOn, final boolean nattOn, final boolean l2tpOn)
    {
        passthrough.set(pptpOn, ipsecOn, nattOn, l2tpOn);
        for (final Alg alg : algs)
        {
            alg.passthroughChanged(passthrough);
        }
        int torn = 0;
        for (int f = 0; f < flows.capacity(); f++)
        {
            if (flows.inUse(f) && !passthrough.allows(passthroughOf(f)))
            {
                removeFlow(f);
                torn++;
            }
        }
        counters.add(Counter.PASSTHROUGH_TORN_DOWN, torn);
        return torn;
    }

    /** The passthrough a session belongs to, or {@link PassthroughPolicy#NONE}. */
    public int passthroughOf(final int f)
    {
        final int proto = flows.protocol(f);
        if (Protocols.hasPorts(proto))
        {
            return PassthroughPolicy.ofPort(proto, flows.remPort[f]);
        }
        return PassthroughPolicy.ofProtocol(proto, proto == Protocols.GRE && (flows.flags[f] & FLAG_GENERIC) == 0);
    }

    private void countTunnel(final int f, final int delta)
    {
        final int which = passthroughOf(f);
        if (which == PassthroughPolicy.IPSEC || which == PassthroughPolicy.NATT)
        {
            tunnelsIpsec += delta;
            counters.set(Counter.TUNNELS_IPSEC, tunnelsIpsec);
        }
        else if (which == PassthroughPolicy.L2TP)
        {
            tunnelsL2tp += delta;
            counters.set(Counter.TUNNELS_L2TP, tunnelsL2tp);
        }
    }

    private void refuse(final Counter reason, final int client)
    {
        counters.increment(reason);
        // RFC 5508 / RFC 4787: tell the client at once that no mapping can be made (3/13)
        icmpSender.sendError(IcmpHeader.DESTINATION_UNREACHABLE, IcmpHeader.CODE_ADMIN_PROHIBITED,
            config.lanAddress(), client, ip, now);
    }

    private static long permissionKey(final int mapping, final int remote)
    {
        return ((long)mapping << 32) | (remote & 0xFFFF_FFFFL);
    }

    private int outboundIcmp(final int src)
    {
        if (!icmp.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength()))
        {
            counters.increment(Counter.DROP_MALFORMED);
            return PacketHandler.VERDICT_DROP;
        }
        final int type = icmp.type();
        if (IcmpHeader.isQueryRequest(type))
        {
            final int id = icmp.identifier();
            final int dst = ip.destination();
            int f = flows.findOutbound(Protocols.ICMP, src, id, dst, 0);
            if (f == FlowTable.NONE)
            {
                f = createOutbound(Protocols.ICMP, src, id, dst, 0, false);
                if (f < 0)
                {
                    return f == REQUEUED ? PacketHandler.VERDICT_REQUEUE : PacketHandler.VERDICT_DROP;
                }
            }
            lastFlow = f;
            touchOut(f);
            ip.source(config.wanAddress());
            icmp.identifier(flows.extPort[f]);
            return PacketHandler.VERDICT_ACCEPT_MODIFIED;
        }
        if (IcmpHeader.isError(type))
        {
            return translateErrorOutbound(src);
        }
        // a query reply from the LAN answers nothing passgate mapped: it cannot leave with a LAN address
        counters.increment(Counter.DROP_UNTRANSLATABLE);
        return PacketHandler.VERDICT_DROP;
    }

    /**
     * A LAN host's ICMP error about a packet it received from outside: the embedded packet is (remote to
     * the host's internal endpoint); make it (remote to the WAN endpoint), the outer source the WAN address.
     */
    private int translateErrorOutbound(final int src)
    {
        if (!wrapInner())
        {
            counters.increment(Counter.DROP_UNTRANSLATABLE);
            return PacketHandler.VERDICT_DROP;
        }
        final int proto = inner.protocol();
        final int innerSrc = inner.source();
        final int innerDst = inner.destination();
        final int at = inner.payloadOffset();
        final int available = icmp.offset() + icmp.length() - at;
        int f = FlowTable.NONE;
        for (int i = 0; f == FlowTable.NONE && i < algs.length; i++)
        {
            f = algs[i].icmpErrorOutbound(inner, at, available, quoteWriter);
        }
        if (f == Alg.REFUSE)
        {
            counters.increment(Counter.DROP_UNTRANSLATABLE);
            return PacketHandler.VERDICT_DROP;
        }
        if (f != FlowTable.NONE)
        {
            // the helper rewrote its own fields of the quote
        }
        else if (Protocols.hasPorts(proto) && available >= 4)
        {
            final int innerSport = port(at);
            final int innerDport = port(at + 2);
            f = flows.findOutbound(proto, innerDst, innerDport, innerSrc, innerSport);
            if (f != FlowTable.NONE)
            {
                rewriteInnerPort(at, innerDport, flows.extPort[f], proto, available, 2);
            }
        }
        else if (proto == Protocols.ICMP && available >= 8)
        {
            final int id = port(at + 4);
            f = flows.findOutbound(Protocols.ICMP, innerDst, id, innerSrc, 0);
            if (f != FlowTable.NONE)
            {
                setInnerWord(at + 4, id, flows.extPort[f]);
                innerIcmpChecksumFix(at, available, id, flows.extPort[f]);
            }
        }
        else
        {
            f = flows.findOutbound(proto, innerDst, 0, innerSrc, 0);
        }
        if (f == FlowTable.NONE)
        {
            counters.increment(Counter.DROP_UNTRANSLATABLE);
            return PacketHandler.VERDICT_DROP;
        }
        lastFlow = f;
        final int wan = config.wanAddress();
        rewriteInnerAddress(Ipv4Header.DESTINATION_OFFSET, innerDst, wan, proto, at, available);
        ip.source(wan);
        counters.increment(Counter.NAT_ICMP_ERRORS_TRANSLATED);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    /** Protocols without ports: a helper's, or address-only NAT keyed by (protocol, client, server). */
    private int outboundOther(final int proto, final int src)
    {
        if (!passthrough.allows(PassthroughPolicy.ofProtocol(proto, isPptpGre(proto))))
        {
            return refusePassthroughPacket(ip);
        }
        for (final Alg alg : algs)
        {
            final int v = alg.outboundOther(ip, now);
            if (v != Alg.CONTINUE)
            {
                return v;
            }
        }
        final int dst = ip.destination();
        int f = flows.findOutbound(proto, src, 0, dst, 0);
        if (f == FlowTable.NONE)
        {
            if (flows.findInbound(proto, 0, dst, 0) != FlowTable.NONE)
            {
                // another client already talks this protocol with that server: replies could not be told apart
                counters.increment(Counter.DROP_CONFLICT);
                return PacketHandler.VERDICT_DROP;
            }
            if (!makeRoom())
            {
                refuse(Counter.DROP_TABLE_FULL, src);
                return PacketHandler.VERDICT_DROP;
            }
            f = newFlow(proto, src, 0, 0, dst, 0, -1);
            flows.flags[f] |= FLAG_GENERIC;
            schedule(f);
        }
        lastFlow = f;
        touchOut(f);
        ip.source(config.wanAddress());
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    // -------------------------------------------------------------------------------------------- inbound

    /**
     * A packet to the WAN address (from the WAN, or from the LAN: a hairpin): rewrite its destination to
     * the internal endpoint of its mapping, or refuse it.
     *
     * @param fromLan the packet arrived on the LAN interface
     * @return a verdict; for a hairpin, {@link #hairpinMark()} must be set on the packet
     */
    public int inbound(final MutableDirectBuffer buffer, final int offset, final int length,
        final boolean partialChecksum, final boolean fromLan, final long nowMs)
    {
        now = nowMs;
        partial = partialChecksum;
        lastFlow = FlowTable.NONE;
        hairpinned = false;
        if (!ip.wrap(buffer, offset, length))
        {
            counters.increment(Counter.DROP_MALFORMED);
            return PacketHandler.VERDICT_DROP;
        }
        if (ip.destination() != config.wanAddress())
        {
            return PacketHandler.VERDICT_ACCEPT;
        }
        if (ip.fragmentOffset() > 0)
        {
            return inboundFragment();
        }
        final int proto = ip.protocol();
        switch (proto)
        {
            case Protocols.TCP, Protocols.UDP, Protocols.SCTP, Protocols.DCCP, Protocols.UDPLITE:
                return fromLan ? hairpin(proto) : inboundPorts(proto);
            case Protocols.ICMP:
                return fromLan ? toRouter() : inboundIcmp();
            default:
                return fromLan ? toRouter() : inboundOther(proto);
        }
    }

    /** Whether the last {@link #inbound} turned the packet around to the LAN (the caller marks it). */
    public boolean hairpinned()
    {
        return hairpinned;
    }

    private int toRouter()
    {
        counters.increment(Counter.NAT_TO_ROUTER);
        return PacketHandler.VERDICT_ACCEPT;
    }

    private int inboundPorts(final int proto)
    {
        final boolean isTcp = proto == Protocols.TCP;
        if (!wrapPorts(proto))
        {
            counters.increment(Counter.DROP_MALFORMED);
            return PacketHandler.VERDICT_DROP;
        }
        final int src = ip.source();
        final int sport = isTcp ? tcp.sourcePort() : ports.sourcePort();
        final int dport = isTcp ? tcp.destinationPort() : ports.destinationPort();
        final int tcpFlags = isTcp ? tcp.flags() : 0;
        int f = flows.findInbound(proto, dport, src, sport);
        if (f == FlowTable.NONE)
        {
            final int m = mappings.byExternal(Protocols.space(proto), dport);
            if (m < 0 || mappings.protocol(m) != proto)
            {
                return unsolicited(isTcp, tcpFlags, src, sport, dport, Counter.DROP_NO_MAPPING);
            }
            if (!filterAllows(m, src))
            {
                return unsolicited(isTcp, tcpFlags, src, sport, dport, Counter.DROP_FILTERED);
            }
            if (!passthrough.allowsPort(proto, sport))
            {
                counters.increment(Counter.PASSTHROUGH_REFUSED);
                return PacketHandler.VERDICT_DROP;
            }
            if (!makeRoom())
            {
                counters.increment(Counter.DROP_TABLE_FULL);
                return PacketHandler.VERDICT_DROP;
            }
            f = newFlow(proto, mappings.intAddr(m), mappings.intPort(m), dport, src, sport, m);
            flows.flags[f] |= FLAG_INBOUND_CREATED;
            // a session opened from outside through an open filter belongs to the helper of the mapping's
            // other sessions, if any: helpers claim by the remote port, which for L2TP can change
            for (int i = 0; i < algs.length; i++)
            {
                if (algs[i].claims(proto, sport))
                {
                    flows.alg[f] = i + 1;
                    break;
                }
            }
            schedule(f);
        }
        lastFlow = f;
        touchIn(f);
        if (isTcp)
        {
            tcpTrack(f, tcpFlags, false);
        }
        final int host = flows.intAddr[f];
        final int hostPort = flows.intPort[f];
        final int wan = config.wanAddress();
        ip.destination(host);
        if (isTcp)
        {
            tcp.addressChanged(wan, host, partial).destinationPort(hostPort, partial);
            if ((tcpFlags & TcpHeader.SYN) != 0)
            {
                clampMss();
            }
        }
        else
        {
            ports.addressChanged(wan, host, partial).destinationPort(hostPort, partial).finish(partial);
        }
        if (ip.moreFragments())
        {
            rememberFragment(host);
        }
        final int a = flows.alg[f];
        if (a != 0)
        {
            final int v = algs[a - 1].inbound(f, ip, ip.payloadOffset(), ip.payloadLength(), partial, now);
            if (v != Alg.CONTINUE)
            {
                return v;
            }
        }
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    private boolean filterAllows(final int m, final int remote)
    {
        final Filtering filtering = config.filtering();
        return filtering == Filtering.ENDPOINT_INDEPENDENT
            || (filtering == Filtering.ADDRESS_DEPENDENT && permissions.get(permissionKey(m, remote)) > 0);
    }

    /** Counts and drops; an unsolicited SYN is held for a delayed port unreachable (RFC 5382 REQ-4). */
    private int unsolicited(final boolean isTcp, final int tcpFlags, final int src, final int sport, final int dport,
        final Counter reason)
    {
        counters.increment(reason);
        if (isTcp && config.unsolicitedSynIcmp() && (tcpFlags & (TcpHeader.SYN | TcpHeader.ACK)) == TcpHeader.SYN)
        {
            final int slot = heldNext;
            heldNext = (heldNext + 1) % HELD_SYNS;
            heldRemAddr[slot] = src;
            heldRemPort[slot] = sport;
            heldExtPort[slot] = dport;
            heldDeadline[slot] = now + UNSOLICITED_SYN_HOLD_MS;
            final int quote = Math.min(HELD_QUOTE, Math.min(ip.totalLength(), ip.headerLength() + 8));
            heldLength[slot] = quote;
            heldQuotes.putBytes(slot * HELD_QUOTE, ip.buffer(), ip.offset(), quote);
            counters.increment(Counter.NAT_UNSOLICITED_SYNS_HELD);
        }
        return PacketHandler.VERDICT_DROP;
    }

    /**
     * A LAN client sending to the WAN address and a mapped port: turn the packet to the mapping's internal
     * endpoint (its source is rewritten on the way out by the postrouting hook, see {@link #outbound}).
     */
    private int hairpin(final int proto)
    {
        final boolean isTcp = proto == Protocols.TCP;
        if (!wrapPorts(proto))
        {
            counters.increment(Counter.DROP_MALFORMED);
            return PacketHandler.VERDICT_DROP;
        }
        final int dport = isTcp ? tcp.destinationPort() : ports.destinationPort();
        final int m = mappings.byExternal(Protocols.space(proto), dport);
        if (m < 0 || mappings.protocol(m) != proto)
        {
            return toRouter();
        }
        // the packet goes out and comes back in (RFC 4787 REQ-9): its way out opens the sender's own
        // mapping towards the WAN address even when the receiver's filter then refuses it, as two clients
        // punching holes to each other need; done by the shard that owns the sender
        final int src = ip.source();
        final int sport = isTcp ? tcp.sourcePort() : ports.sourcePort();
        if ((src & (config.shards() - 1)) == config.shard()
            && flows.findOutbound(proto, src, sport, config.wanAddress(), dport) == FlowTable.NONE)
        {
            final int f = createOutbound(proto, src, sport, config.wanAddress(), dport, false);
            if (f < 0)
            {
                return f == REQUEUED ? PacketHandler.VERDICT_REQUEUE : PacketHandler.VERDICT_DROP;
            }
            flows.flags[f] |= FLAG_HAIRPIN;
        }
        final Filtering filtering = config.filtering();
        boolean allowed = filtering == Filtering.ENDPOINT_INDEPENDENT
            || (filtering == Filtering.ADDRESS_DEPENDENT && permissions.get(permissionKey(m, config.wanAddress())) > 0);
        if (filtering == Filtering.ADDRESS_AND_PORT_DEPENDENT)
        {
            final int peer = mappings.find(proto, src, sport);
            allowed = peer >= 0
                && flows.findInbound(proto, dport, config.wanAddress(), mappings.extPort(peer)) != FlowTable.NONE;
        }
        if (!allowed)
        {
            counters.increment(Counter.DROP_FILTERED);
            return PacketHandler.VERDICT_DROP;
        }
        final int host = mappings.intAddr(m);
        final int hostPort = mappings.intPort(m);
        final int wan = config.wanAddress();
        ip.destination(host);
        if (isTcp)
        {
            tcp.addressChanged(wan, host, partial).destinationPort(hostPort, partial);
        }
        else
        {
            ports.addressChanged(wan, host, partial).destinationPort(hostPort, partial).finish(partial);
        }
        hairpinned = true;
        counters.increment(Counter.NAT_HAIRPIN_PACKETS);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    public int hairpinMark()
    {
        return config.hairpinMark();
    }

    private int inboundIcmp()
    {
        if (!icmp.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength()))
        {
            counters.increment(Counter.DROP_MALFORMED);
            return PacketHandler.VERDICT_DROP;
        }
        final int type = icmp.type();
        if (IcmpHeader.isQueryReply(type))
        {
            final int f = flows.findInbound(Protocols.ICMP, icmp.identifier(), ip.source(), 0);
            if (f == FlowTable.NONE)
            {
                return toRouter();
            }
            lastFlow = f;
            touchIn(f);
            ip.destination(flows.intAddr[f]);
            icmp.identifier(flows.intPort[f]);
            return PacketHandler.VERDICT_ACCEPT_MODIFIED;
        }
        if (IcmpHeader.isError(type))
        {
            return translateErrorInbound();
        }
        return toRouter();
    }

    /**
     * An ICMP error about a packet passgate translated on its way out: the embedded packet is (WAN endpoint
     * to remote); make it (internal endpoint to remote) and send it to the internal host. The session is
     * not ended (RFC 4787 REQ-12, RFC 5382 REQ-8).
     */
    private int translateErrorInbound()
    {
        if (!wrapInner() || inner.source() != config.wanAddress())
        {
            // not about a translated packet: the router's own business
            return toRouter();
        }
        final int proto = inner.protocol();
        final int remote = inner.destination();
        final int at = inner.payloadOffset();
        final int available = icmp.offset() + icmp.length() - at;
        int f = FlowTable.NONE;
        for (int i = 0; f == FlowTable.NONE && i < algs.length; i++)
        {
            f = algs[i].icmpErrorInbound(inner, at, available, quoteWriter);
        }
        if (f == Alg.REFUSE)
        {
            counters.increment(Counter.DROP_UNTRANSLATABLE);
            return PacketHandler.VERDICT_DROP;
        }
        if (f != FlowTable.NONE)
        {
            // the helper rewrote its own fields of the quote
        }
        else if (Protocols.hasPorts(proto) && available >= 4)
        {
            final int sport = port(at);
            final int dport = port(at + 2);
            f = flows.findInbound(proto, sport, remote, dport);
            if (f != FlowTable.NONE)
            {
                rewriteInnerPort(at, sport, flows.intPort[f], proto, available, 0);
            }
        }
        else if (proto == Protocols.ICMP && available >= 8)
        {
            final int id = port(at + 4);
            f = flows.findInbound(Protocols.ICMP, id, remote, 0);
            if (f != FlowTable.NONE)
            {
                setInnerWord(at + 4, id, flows.intPort[f]);
                innerIcmpChecksumFix(at, available, id, flows.intPort[f]);
            }
        }
        else
        {
            f = flows.findInbound(proto, 0, remote, 0);
        }
        if (f == FlowTable.NONE)
        {
            return toRouter();
        }
        final int host = flows.intAddr[f];
        lastFlow = f;
        rewriteInnerAddress(Ipv4Header.SOURCE_OFFSET, config.wanAddress(), host, proto, at, available);
        ip.destination(host);
        counters.increment(Counter.NAT_ICMP_ERRORS_TRANSLATED);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    private int inboundOther(final int proto)
    {
        if (!passthrough.allows(PassthroughPolicy.ofProtocol(proto, isPptpGre(proto))))
        {
            counters.increment(Counter.PASSTHROUGH_REFUSED);
            return PacketHandler.VERDICT_DROP;
        }
        for (final Alg alg : algs)
        {
            final int v = alg.inboundOther(ip, now);
            if (v != Alg.CONTINUE)
            {
                return v;
            }
        }
        final int f = flows.findInbound(proto, 0, ip.source(), 0);
        if (f == FlowTable.NONE || (flows.flags[f] & FLAG_GENERIC) == 0)
        {
            counters.increment(Counter.DROP_NO_MAPPING);
            return PacketHandler.VERDICT_DROP;
        }
        lastFlow = f;
        touchIn(f);
        ip.destination(flows.intAddr[f]);
        if (ip.moreFragments())
        {
            rememberFragment(flows.intAddr[f]);
        }
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    // ------------------------------------------------------------------------------------ fragments

    private long fragmentKey()
    {
        return ((ip.source() & 0xFFFF_FFFFL) << 24) ^ ((long)ip.identification() << 8) ^ ip.protocol();
    }

    private void rememberFragment(final int host)
    {
        final long key = fragmentKey();
        final int slot = (int)(key ^ (key >>> 17)) & (FRAGMENT_CACHE - 1);
        fragmentKey[slot] = key;
        fragmentHost[slot] = host;
        fragmentExpiry[slot] = now + 30_000;
    }

    private int inboundFragment()
    {
        final long key = fragmentKey();
        final int slot = (int)(key ^ (key >>> 17)) & (FRAGMENT_CACHE - 1);
        if (fragmentKey[slot] != key || fragmentExpiry[slot] < now)
        {
            counters.increment(Counter.DROP_FRAGMENT_NO_STATE);
            return PacketHandler.VERDICT_DROP;
        }
        ip.destination(fragmentHost[slot]);
        counters.increment(Counter.NAT_FRAGMENTS);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    // ------------------------------------------------------------------------ embedded header rewriting

    private boolean wrapInner()
    {
        // the quote may be cut short: the inner header is checked against the bytes present
        return inner.wrapQuoted(ip.buffer(), icmp.embeddedOffset(), icmp.embeddedLength())
            && inner.headerLength() + 4 <= icmp.embeddedLength();
    }

    private int port(final int at)
    {
        return ip.buffer().getShort(at, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    /** Writes a 16-bit word of the embedded packet and keeps the ICMP checksum right. */
    private void setInnerWord(final int at, final int oldWord, final int newWord)
    {
        ip.buffer().putShort(at, (short)newWord, ByteOrder.BIG_ENDIAN);
        icmp.wordChanged(at, oldWord, newWord);
    }

    /**
     * Rewrites the embedded port at {@code transport + fieldOffset}, then the embedded transport checksum
     * when the quote holds it.
     */
    private void rewriteInnerPort(final int transport, final int oldPort, final int newPort, final int proto,
        final int available, final int fieldOffset)
    {
        setInnerWord(transport + fieldOffset, oldPort, newPort);
        patchInnerChecksum(transport, available, proto, oldPort, newPort, false);
    }

    /**
     * Keeps a quoted transport checksum right when the quote holds it (not a UDP "no checksum", not SCTP's
     * CRC32c, which the quote is too short to recompute): {@code value} says a 32-bit address changed.
     */
    private void patchInnerChecksum(final int transport, final int available, final int proto, final int oldValue,
        final int newValue, final boolean value)
    {
        final int field = Protocols.checksumOffset(proto);
        if (field < 0 || transport + field + 2 > transport + available)
        {
            return;
        }
        final int checksumAt = transport + field;
        final int old = port(checksumAt);
        if (proto == Protocols.UDP && old == 0)
        {
            return;
        }
        int updated = value ? Checksum.update32(old, oldValue, newValue) : Checksum.update16(old, oldValue, newValue);
        if (updated == 0 && (proto == Protocols.UDP || proto == Protocols.UDPLITE))
        {
            updated = 0xFFFF;
        }
        setInnerWord(checksumAt, old, updated);
    }

    /** An embedded ICMP query's identifier changed: fix its own checksum when quoted. */
    private void innerIcmpChecksumFix(final int transport, final int available, final int oldId, final int newId)
    {
        if (available >= 4)
        {
            final int old = port(transport + 2);
            setInnerWord(transport + 2, old, Checksum.update16(old, oldId, newId));
        }
    }

    /**
     * Rewrites the embedded header's source or destination address: its header checksum, its transport
     * checksum's pseudo-header when quoted (TCP/UDP), and the ICMP checksum for every word changed.
     */
    private void rewriteInnerAddress(final int field, final int oldAddress, final int newAddress, final int proto,
        final int transport, final int available)
    {
        final MutableDirectBuffer b = ip.buffer();
        final int at = inner.offset() + field;
        b.putInt(at, newAddress, ByteOrder.BIG_ENDIAN);
        icmp.valueChanged(at, oldAddress, newAddress);
        final int checksumAt = inner.offset() + Ipv4Header.CHECKSUM_OFFSET;
        final int oldHeaderChecksum = port(checksumAt);
        setInnerWord(checksumAt, oldHeaderChecksum, Checksum.update32(oldHeaderChecksum, oldAddress, newAddress));
        patchInnerChecksum(transport, available, proto, oldAddress, newAddress, true);
    }

    // ---------------------------------------------------------------------------------------- TCP state

    private void tcpTrack(final int f, final int tcpFlags, final boolean outbound)
    {
        final int before = flows.state[f];
        int s = before;
        if ((tcpFlags & TcpHeader.RST) != 0)
        {
            if ((s & TCP_RST) == 0)
            {
                counters.increment(Counter.NAT_TCP_RESETS);
            }
            s |= TCP_RST;
        }
        else if ((tcpFlags & TcpHeader.SYN) != 0)
        {
            if ((s & (TCP_RST | TCP_FIN_IN | TCP_FIN_OUT)) != 0 && (tcpFlags & TcpHeader.ACK) == 0)
            {
                s = 0;   // the 5-tuple is reused by a new connection
            }
            s |= outbound ? TCP_SYN_OUT : TCP_SYN_IN;
            if ((s & (TCP_SYN_OUT | TCP_SYN_IN)) == (TCP_SYN_OUT | TCP_SYN_IN))
            {
                s |= TCP_ESTABLISHED;
            }
        }
        if ((tcpFlags & TcpHeader.FIN) != 0)
        {
            s |= outbound ? TCP_FIN_OUT : TCP_FIN_IN;
        }
        if (s != before)
        {
            final boolean wasTransitory = transitory(before);
            flows.state[f] = (byte)s;
            final boolean isTransitory = transitory(s);
            if (isTransitory != wasTransitory)
            {
                if (isTransitory)
                {
                    flows.lruAppend(f);
                }
                else
                {
                    flows.lruUnlink(f);
                }
                reschedule(f);
            }
        }
    }

    private static boolean transitory(final int tcpState)
    {
        return (tcpState & TCP_ESTABLISHED) == 0 || (tcpState & (TCP_RST | TCP_FIN_IN | TCP_FIN_OUT)) != 0;
    }

    // -------------------------------------------------------------------------------------------- timers

    /** The idle timeout of a session now. */
    public long timeoutOf(final int f)
    {
        return switch (flows.protocol(f))
        {
            case Protocols.TCP -> transitory(flows.state[f]) ? config.tcpTransitoryMs() : config.tcpEstablishedMs();
            // DCCP keeps no state here: its sessions get TCP's established timer (Linux: 12 h once open)
            case Protocols.DCCP -> config.tcpEstablishedMs();
            case Protocols.ICMP -> config.icmpTimeoutMs();
            default -> config.udpTimeoutMs();
        };
    }

    private void schedule(final int f)
    {
        if ((flows.flags[f] & FLAG_PINNED) != 0)
        {
            flows.expiresAt[f] = Long.MAX_VALUE;
            flows.timerId[f] = -1;
            return;
        }
        if (flows.protocol(f) == Protocols.TCP && transitory(flows.state[f]))
        {
            flows.lruAppend(f);
        }
        final long deadline = flows.lastSeen[f] + timeoutOf(f);
        flows.expiresAt[f] = deadline;
        final long id = timers.scheduleTimer(deadline);
        flows.timerId[f] = id;
        timerFlows.put(id, f);
    }

    private void reschedule(final int f)
    {
        final long old = flows.timerId[f];
        if (old >= 0)
        {
            timers.cancelTimer(old);
            timerFlows.remove(old);
        }
        final long deadline = flows.lastSeen[f] + timeoutOf(f);
        flows.expiresAt[f] = deadline;
        final long id = timers.scheduleTimer(deadline);
        flows.timerId[f] = id;
        timerFlows.put(id, f);
    }

    private boolean onTimerExpiry(final TimeUnit unit, final long nowMs, final long timerId)
    {
        final int f = (int)timerFlows.remove(timerId);
        if (f < 0 || flows.timerId[f] != timerId)
        {
            return true;
        }
        flows.timerId[f] = -1;
        final long deadline = flows.lastSeen[f] + timeoutOf(f);
        if (deadline > nowMs)
        {
            flows.expiresAt[f] = deadline;
            final long id = timers.scheduleTimer(deadline);
            flows.timerId[f] = id;
            timerFlows.put(id, f);
            return true;
        }
        removeFlow(f);
        counters.increment(Counter.NAT_FLOWS_EXPIRED);
        return true;
    }

    /** Ends a session: its timer, filter permission, mapping reference, helper state. */
    public void removeFlow(final int f)
    {
        if (!flows.inUse(f))
        {
            return;
        }
        final long timer = flows.timerId[f];
        if (timer >= 0)
        {
            timers.cancelTimer(timer);
            timerFlows.remove(timer);
        }
        if (flows.protocol(f) != Protocols.GRE)
        {
            countTunnel(f, -1);
        }
        final int a = flows.alg[f];
        if (a != 0)
        {
            algs[a - 1].flowRemoved(f);
        }
        final int m = flows.mapping[f];
        if (m >= 0)
        {
            final long key = permissionKey(m, flows.remAddr[f]);
            final long count = permissions.get(key) - 1;
            if (count <= 0)
            {
                permissions.remove(key);
            }
            else
            {
                permissions.put(key, count);
            }
            final int mProto = mappings.protocol(m);
            final int mAddr = mappings.intAddr(m);
            final int mPort = mappings.intPort(m);
            if (mappings.removeFlow(m) && shared != null)
            {
                shared.release(mProto, mAddr, mPort, config.shard());
            }
        }
        flows.remove(f);
        counters.set(Counter.NAT_FLOWS_LIVE, flows.size());
        counters.set(Counter.NAT_MAPPINGS_LIVE, mappings.size());
    }

    /**
     * Creates a session a helper needs besides the one it claimed (a PPTP call's GRE, an ESP SPI pair),
     * with no port mapping: its keys are whatever the helper puts in the port fields. A {@code pinned} session
     * never expires idle: the helper ends it. Returns the flow, or -1 when the table is full.
     */
    public int createDependent(final int proto, final int intAddr, final int intPort, final int extPort,
        final int remAddr, final int remPort, final int algIndex, final long timeoutAnchorMs, final boolean pinned)
    {
        if (!makeRoom())
        {
            counters.increment(Counter.DROP_TABLE_FULL);
            return -1;
        }
        final int f = newFlow(proto, intAddr, intPort, extPort, remAddr, remPort, -1);
        flows.alg[f] = algIndex;
        flows.lastSeen[f] = timeoutAnchorMs;
        if (pinned)
        {
            flows.flags[f] |= FLAG_PINNED;
        }
        schedule(f);
        return f;
    }

    /** Runs expired timers and the held-SYN answers; returns the work done. */
    public int tick(final long nowMs)
    {
        now = nowMs;
        int work = 0;
        // the wheel advances one tick per poll: catch up after a long pause (or a test's jump in time)
        for (int i = 0; i < 4096 && timers.currentTickTime() <= nowMs; i++)
        {
            work += timers.poll(nowMs, onTimer, 4096);
        }
        work += timers.poll(nowMs, onTimer, 4096);
        for (int i = 0; i < HELD_SYNS; i++)
        {
            if (heldDeadline[i] != 0 && heldDeadline[i] <= nowMs)
            {
                heldDeadline[i] = 0;
                if (flows.findInbound(Protocols.TCP, heldExtPort[i], heldRemAddr[i], heldRemPort[i]) == FlowTable.NONE)
                {
                    icmpSender.sendError(IcmpHeader.DESTINATION_UNREACHABLE, IcmpHeader.CODE_PORT_UNREACHABLE,
                        config.wanAddress(), heldRemAddr[i], heldQuotes, i * HELD_QUOTE, heldLength[i], nowMs);
                }
                work++;
            }
        }
        for (final Alg alg : algs)
        {
            work += alg.tick(nowMs);
        }
        return work;
    }

    /**
     * Sends a TCP RST+ACK from (src, sport) to (dst, dport) through the raw socket: how a helper ends a
     * control connection it must refuse or can no longer translate.
     */
    public void sendTcpReset(final int src, final int sport, final int dst, final int dport, final long seq,
        final long ack)
    {
        Ipv4Header.write(reset, 0, 40, 0, 64, Protocols.TCP, src, dst);
        reset.putShort(20, (short)sport, ByteOrder.BIG_ENDIAN);
        reset.putShort(22, (short)dport, ByteOrder.BIG_ENDIAN);
        reset.putInt(24, (int)seq, ByteOrder.BIG_ENDIAN);
        reset.putInt(28, (int)ack, ByteOrder.BIG_ENDIAN);
        reset.putByte(32, (byte)0x50);
        reset.putByte(33, (byte)(TcpHeader.RST | TcpHeader.ACK));
        reset.putShort(34, (short)0, ByteOrder.BIG_ENDIAN);
        reset.putShort(36, (short)0, ByteOrder.BIG_ENDIAN);
        reset.putShort(38, (short)0, ByteOrder.BIG_ENDIAN);
        reset.putShort(36, (short)Checksum.compute(reset, 20, 20, Checksum.pseudoHeader(src, dst, Protocols.TCP, 20)),
            ByteOrder.BIG_ENDIAN);
        sink.send(reset, 0, 40, dst);
    }

    /** Forgets every session and mapping (a reset from the control plane). */
    public void clear()
    {
        for (int f = 0; f < flows.capacity(); f++)
        {
            removeFlow(f);
        }
    }
}

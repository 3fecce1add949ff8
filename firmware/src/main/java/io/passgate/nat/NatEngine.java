package io.passgate.nat;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nfq.PacketHandler;
import io.passgate.wire.Checksum;
import io.passgate.wire.GreHeader;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.PortsHeader;
import io.passgate.wire.TcpHeader;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The NAT: one shard's sessions and mappings, and the translation of TCP, UDP, SCTP, DCCP, UDP-Lite, ICMP and
 * port-less protocols between the LAN and the router's WAN address, as RFC 4787 (UDP), RFC 5382 (TCP), RFC
 * 5508 (ICMP) and RFC 7857 ask. Split by direction: {@link #outbound} runs where the source is rewritten
 * (postrouting), {@link #inbound} where the destination is (prerouting).
 *
 * <p>The packet's way, top to bottom: decode, look the session up, create it when new (the passthrough switch,
 * the helpers' claim, the mapping), translate, let the session's helper see the payload, verdict. The parts
 * live in their own classes: {@link FlowTable} and {@link MappingTable} (storage), {@link SessionTimers}
 * (expiry), {@link TcpTracker} (TCP state), {@link Filter} (inbound filtering), {@link IcmpErrors} (ICMP errors
 * with their quotes), {@link FragmentCache}, {@link UnsolicitedSyns} (RFC 5382 REQ-4), and the helpers
 * ({@link Helper}, each seeing only a {@link HelperHost}).
 *
 * <p>Everything is preallocated; the per-packet path allocates nothing. Time is the caller's cached clock
 * (milliseconds), so tests drive it by hand.
 *
 * <p>Offload ({@link Offload}): a settled TCP or UDP session that no helper needs is handed to the kernel
 * ({@link #FLAG_OFFLOADED}), which carries it with passgate's mapping; its traffic comes back as reports that
 * keep the session's counters and idle timer true, and the session is withdrawn when it ends here.
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
    /** Never to be offloaded (a helper's, a hairpin, a protocol without ports, or the kernel refused it). */
    public static final int FLAG_NO_OFFLOAD = 1 << 5;

    /** TCP states in {@link FlowTable#state(int)} (see {@link TcpTracker}). */
    public static final int TCP_ESTABLISHED = TcpTracker.ESTABLISHED;
    /** Expiry granularity: a session ends up to this much after its idle timeout. */
    public static final long TIMER_TICK_MS = SessionTimers.TICK_MS;
    /** RFC 5382 REQ-4: an unsolicited SYN is not answered for at least 6 s. */
    static final long UNSOLICITED_SYN_HOLD_MS = UnsolicitedSyns.HOLD_MS;

    /** A verdict of {@link #inbound} besides {@link PacketHandler}'s: accepted rewritten, back to the LAN (mark it). */
    public static final int VERDICT_HAIRPIN = 16;
    /** Verdicts from here on: hand the packet unchanged to shard (verdict - this)'s queue. */
    public static final int VERDICT_REQUEUE_BASE = 32;

    // what creating a session returns instead of one: dropped (counted, answered), or another shard holds it
    private static final int DROPPED = -1;
    private static final int REQUEUED = -100;

    private static int verdictOf(final int failed)
    {
        return failed == DROPPED ? PacketHandler.VERDICT_DROP : VERDICT_REQUEUE_BASE + (REQUEUED - failed);
    }

    private final NatConfig config;
    private final CounterSet counters;
    private final IcmpSender icmpSender;
    private final PacketSink sink;
    private final FlowTable flows;
    private final MappingTable mappings;
    private final Filter filter;
    private final SessionTimers timers;
    private final TcpTracker tcpTracker;
    private final IcmpErrors icmpErrors;
    private final FragmentCache fragments = new FragmentCache();
    private final UnsolicitedSyns syns;
    private final SharedEndpoints shared;
    private final UnsafeBuffer reset = new UnsafeBuffer(new byte[40]);

    private Helper[] helpers = new Helper[0];
    /** Where live flows are posted (the kernel's live set, see nft.LiveFlowSet); null: not kept. */
    private LiveFlows live;
    /** Where settled flows are offered to the kernel (see nft.Offloader); null: not offloaded. */
    private Offload offload;
    private int offloadAfterPackets = Integer.MAX_VALUE;
    private final Offload.Reports onOffloadReport = this::onOffloadReport;
    private final List<HelperSpec> specs = new ArrayList<>();
    private Passthroughs layout = Passthroughs.of(List.of());
    private PassthroughPolicy policy = new PassthroughPolicy(layout);
    /** External UDP ports a helper serves itself, and which (1-based). */
    private int[] sharedPorts = new int[0];
    private int[] sharedPortHelper = new int[0];

    // removal in one place: what helpers ask to remove while a removal is in progress waits its turn here
    private final int[] removals;
    private int removalHead;
    private int removalCount;
    private boolean removing;

    private final Ipv4Header ip = new Ipv4Header();
    private final TcpHeader tcp = new TcpHeader();
    private final PortsHeader ports = new PortsHeader();
    private final IcmpHeader icmp = new IcmpHeader();
    private final GreHeader gre = new GreHeader();

    private long now;
    private long activity;
    private boolean partial;
    /** The session of the packet in progress (never evicted for room); the last one, for tests. */
    private int current = FlowTable.NONE;

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
        this.config = config;
        this.counters = counters;
        this.sink = sink;
        this.shared = config.shards() > 1 ? shared : null;
        this.icmpSender = new IcmpSender(sink, counters, icmpRate);
        this.flows = new FlowTable(config.maxFlows(), config.seed());
        this.mappings = new MappingTable(config.maxFlows(), config.portMin(), config.portMax(), config.parity(),
            config.shard(), config.shards(), config.seed() * 31 + 7);
        this.filter = new Filter(config.filtering(), config.maxFlows());
        this.timers = new SessionTimers(flows, startMs, this::timeoutOf, this::expired);
        this.tcpTracker = new TcpTracker(flows, counters, timers);
        this.icmpErrors = new IcmpErrors(flows, counters, config.wanAddress());
        this.syns = new UnsolicitedSyns(flows, icmpSender, counters, config.wanAddress());
        this.removals = new int[config.maxFlows()];
        this.now = startMs;
    }

    /**
     * Registers a passthrough helper (before the first packet): its switches join the policy, its UDP ports are
     * reserved (served by it, or kept only by its protocol) and, with several shards, the first shard's.
     */
    public void register(final Helper helper)
    {
        final Helper[] grown = new Helper[helpers.length + 1];
        System.arraycopy(helpers, 0, grown, 0, helpers.length);
        grown[helpers.length] = helper;
        helpers = grown;
        final int index = helpers.length;
        final HelperSpec spec = helper.spec();
        specs.add(spec);
        layout = Passthroughs.of(specs);
        policy = new PassthroughPolicy(layout);
        for (final int port : spec.sharedUdpPorts())
        {
            sharedPorts = append(sharedPorts, port);
            sharedPortHelper = append(sharedPortHelper, index);
            reserveHelperPort(port);
        }
        for (final int port : spec.keptUdpPorts())
        {
            reserveHelperPort(port);
        }
        for (final Passthrough p : spec.passthroughs())
        {
            for (final int port : p.udpServerPorts())
            {
                reserveHelperPort(port);
            }
        }
        icmpErrors.helpers(helpers);
        helper.attach(new Host(index), index);
    }

    private void reserveHelperPort(final int port)
    {
        if (!mappings.isReserved(Protocols.SPACE_UDP, port))
        {
            mappings.reserve(Protocols.SPACE_UDP, port, MappingTable.RESERVED_HELPER, true);
            mappings.assignToFirstShard(Protocols.SPACE_UDP, port);
        }
    }

    private static int[] append(final int[] values, final int value)
    {
        final int[] grown = java.util.Arrays.copyOf(values, values.length + 1);
        grown[values.length] = value;
        return grown;
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

    public long now()
    {
        return now;
    }

    /** The switches this engine's helpers declare, and their current effective state. */
    public PassthroughPolicy passthrough()
    {
        return policy;
    }

    /** The session the last translated packet belonged to (tests). */
    public int lastFlow()
    {
        return current;
    }

    /** The helpers, by index - 1 (the tunnel table asks them for their rows). */
    public Helper helper(final int index)
    {
        return helpers[index - 1];
    }

    public int helperCount()
    {
        return helpers.length;
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
        activity++;
        partial = partialChecksum;
        current = FlowTable.NONE;
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
        if (Protocols.hasPorts(proto))
        {
            return outboundPorts(proto, src, hairpin);
        }
        return proto == Protocols.ICMP ? outboundIcmp(src) : outboundOther(proto, src);
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
        final boolean created = f == FlowTable.NONE;
        if (created)
        {
            f = newOutboundSession(proto, src, sport, dst, dport, isTcp && (tcpFlags & TcpHeader.SYN) == 0);
            if (f < 0)
            {
                return verdictOf(f);
            }
            if (hairpin)
            {
                flows.flags[f] |= FLAG_HAIRPIN;
            }
        }
        current = f;
        touchOut(f);
        if (isTcp)
        {
            tcpTracker.track(f, tcpFlags, true);
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
        final int verdict = helperOutbound(f);
        if (created && verdict == PacketHandler.VERDICT_DROP)
        {
            // the helper refused the session's first packet (malformed): a dropped packet leaves no session
            // (else each refused packet from a new port would hold a mapping until the timeout)
            removeFlow(f);
        }
        return verdict;
    }

    private int helperOutbound(final int f)
    {
        final int h = flows.alg[f];
        if (h != 0)
        {
            final int v = helpers[h - 1].outbound(f, ip, ip.payloadOffset(), ip.payloadLength(), partial, now);
            if (v != Helper.CONTINUE)
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

    /**
     * A new outbound session: the passthrough switch, then the helpers' claim (one may follow it, serve it on
     * a port of its own, or refuse it), then the mapping. Returns the session, or {@link #DROPPED} (counted and
     * answered) or {@link #REQUEUED} - shard (another shard holds the endpoint's mapping).
     */
    private int newOutboundSession(final int proto, final int src, final int sport, final int dst, final int dport,
        final boolean tcpPickup)
    {
        if (!policy.allowsPort(proto, dport))
        {
            refusePassthrough(proto, src, sport, dst, dport);
            return DROPPED;
        }
        int follower = 0;
        for (int i = 0; i < helpers.length; i++)
        {
            final int claim = helpers[i].claimOutbound(proto, src, sport, dst, dport, ip);
            if (claim == Helper.NOT_MINE)
            {
                continue;
            }
            if (claim == Helper.REFUSE)
            {
                return DROPPED;
            }
            if (claim >= 0)
            {
                return claim;   // the helper created the session on a port of its own
            }
            follower = i + 1;
            break;
        }
        final int f = createOutbound(proto, src, sport, dst, dport, tcpPickup, follower);
        if (f >= 0)
        {
            flows.alg[f] = follower;
        }
        return f;
    }

    /**
     * Finds or creates the mapping for (proto, src, sport) and a session to (dst, dport). On failure sends ICMP
     * 3/13 to the client, counts, and returns {@link #DROPPED}; {@link #REQUEUED} - shard when another shard holds
     * the endpoint's mapping.
     */
    private int createOutbound(final int proto, final int src, final int sport, final int dst, final int dport,
        final boolean tcpPickup, final int follower)
    {
        if (!makeRoom())
        {
            refuse(Counter.DROP_TABLE_FULL, src);
            return DROPPED;
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
                    counters.increment(Counter.NAT_REQUEUED_TO_HOLDER);
                    return REQUEUED - holder;
                }
            }
            m = mappings.create(proto, space, src, sport, layout.ownProtocolPort(proto, sport, dport));
            if (m < 0)
            {
                if (shared != null)
                {
                    shared.release(proto, src, sport, config.shard());
                }
                refuse(mappings.isFull() ? Counter.DROP_TABLE_FULL : Counter.DROP_PORTS_EXHAUSTED, src);
                return DROPPED;
            }
            mappings.helper(m, follower);
            counters.increment(Counter.NAT_MAPPINGS_CREATED);
            counters.increment(mappings.lastPreserved() ? Counter.NAT_PORTS_PRESERVED : Counter.NAT_PORTS_RANDOM);
        }
        final int f = newFlow(proto, src, sport, mappings.extPort(m), dst, dport, m);
        if (tcpPickup)
        {
            tcpTracker.pickUp(f);
        }
        timers.schedule(f);
        if (proto == Protocols.TCP && TcpTracker.transitory(flows.state[f]))
        {
            flows.lruAppend(f);
        }
        return f;
    }

    private int newFlow(final int proto, final int src, final int sport, final int ext, final int dst,
        final int dport, final int m)
    {
        final int f = flows.insert(proto, src, sport, ext, dst, dport, m, now);
        if (m >= 0)
        {
            mappings.addFlow(m);
            filter.opened(m, dst);
        }
        counters.increment(Counter.NAT_FLOWS_CREATED);
        counters.set(Counter.NAT_FLOWS_LIVE, flows.size());
        counters.set(Counter.NAT_MAPPINGS_LIVE, mappings.size());
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
        final int victim = flows.oldestTransitoryExcept(current);
        if (victim == FlowTable.NONE)
        {
            return false;
        }
        removeFlow(victim);
        counters.increment(Counter.NAT_FLOWS_EVICTED);
        return true;
    }

    private void touchOut(final int f)
    {
        flows.lastSeen[f] = now;
        flows.packetsOut[f]++;
        flows.bytesOut[f] += ip.totalLength();
        if (now >= flows.liveAt[f] && live != null)
        {
            maybeLive(f);
        }
        if (offload != null && (flows.flags[f] & (FLAG_OFFLOADED | FLAG_NO_OFFLOAD)) == 0)
        {
            maybeOffload(f);
        }
    }

    private void touchIn(final int f)
    {
        flows.lastSeen[f] = now;
        flows.packetsIn[f]++;
        flows.bytesIn[f] += ip.totalLength();
        if (now >= flows.liveAt[f] && live != null)
        {
            maybeLive(f);
        }
        if (offload != null && (flows.flags[f] & (FLAG_OFFLOADED | FLAG_NO_OFFLOAD)) == 0)
        {
            maybeOffload(f);
        }
    }

    /** Posts the kernel's live set streams to read. */
    public void liveFlows(final LiveFlows liveFlows)
    {
        this.live = liveFlows;
    }

    /**
     * A flow that has carried traffic both ways is live: posted (again every {@link LiveFlows#REFRESH_MS}) so
     * that the kernel marks its packets and they take the live queue, ahead of new flows. TCP, UDP, GRE and
     * ESP only (the kernel's sets are keyed by ports or by protocol); hairpins never (they stay on the LAN).
     */
    private void maybeLive(final int f)
    {
        if (flows.packetsIn[f] == 0 || flows.packetsOut[f] == 0)
        {
            return;
        }
        final int proto = flows.protocol[f] & 0xFF;
        if ((flows.flags[f] & FLAG_HAIRPIN) != 0
            || proto != Protocols.TCP && proto != Protocols.UDP && proto != Protocols.GRE && proto != Protocols.ESP)
        {
            flows.liveAt[f] = Long.MAX_VALUE;
            return;
        }
        if (live.post(true, proto, flows.intAddr[f], flows.intPort[f], flows.remAddr[f], flows.remPort[f], flows.extPort[f]))
        {
            flows.liveAt[f] = now + LiveFlows.REFRESH_MS;
            counters.increment(Counter.LIVE_FLOWS_POSTED);
        }
        else
        {
            flows.liveAt[f] = now + 100;
            counters.increment(Counter.LIVE_FLOWS_RING_FULL);
        }
    }

    /** {@link TunnelSink} rows of {@link #collectOffloaded}: the helper index (none) and the kinds. */
    public static final int OFFLOADED_ROWS = 0;
    public static final int OFFLOADED_TCP = 0;
    public static final int OFFLOADED_UDP = 1;

    /**
     * Lists the TCP and UDP sessions the kernel carries now (no helper's: those are in their helper's rows), as
     * rows of helper {@link #OFFLOADED_ROWS}: client port, server port, WAN port (on this engine's thread).
     */
    public void collectOffloaded(final TunnelSink sink)
    {
        for (int f = 0; f < flows.capacity(); f++)
        {
            if (flows.inUse(f) && (flows.flags[f] & FLAG_OFFLOADED) != 0 && flows.alg[f] == 0
                && !sink.row(OFFLOADED_ROWS, (flows.protocol[f] & 0xFF) == Protocols.TCP ? OFFLOADED_TCP : OFFLOADED_UDP,
                    flows.intAddr[f], flows.remAddr[f], flows.intPort[f], flows.remPort[f], flows.extPort[f], 0, 0, 0, 0,
                    flows.packetsOut[f], flows.bytesOut[f], flows.packetsIn[f], flows.bytesIn[f], flows.created[f],
                    flows.lastSeen[f]))
            {
                return;
            }
        }
    }

    /** Hands settled flows to the kernel (see {@link Offload}); after {@code afterPackets} packets both ways. */
    public void offload(final Offload offload, final int afterPackets)
    {
        this.offload = offload;
        this.offloadAfterPackets = afterPackets;
    }

    /** A one-way UDP stream (a LAN client sending, nothing back) is settled after this many times the packets. */
    static final int ONE_WAY_FACTOR = 8;

    /**
     * Offers a settled flow to the kernel: TCP established or UDP, traffic both ways and at least
     * {@code offloadAfterPackets} packets (a one-way UDP stream from the LAN: {@link #ONE_WAY_FACTOR} times as
     * many; a flood's one-packet flows never are), no helper (the helpers must see every byte of theirs), not a hairpin
     * (it stays on the LAN) and a mapping of its own. A flow that can never be offloaded is marked so.
     */
    private void maybeOffload(final int f)
    {
        final int proto = flows.protocol[f] & 0xFF;
        if ((flows.flags[f] & (FLAG_HAIRPIN | FLAG_GENERIC)) != 0)
        {
            flows.flags[f] |= FLAG_NO_OFFLOAD;
            return;
        }
        final int h = flows.alg[f];
        if (h != 0)
        {
            // a helper's session: only the tunnels it says are bound (ESP, PPTP GRE), by stateless rewrites
            final int may = proto == Protocols.ESP || proto == Protocols.GRE ? helpers[h - 1].offloadable(f)
                : Helper.OFFLOAD_NEVER;
            if (may == Helper.OFFLOAD_NEVER)
            {
                flows.flags[f] |= FLAG_NO_OFFLOAD;
            }
            if (may != Helper.OFFLOAD_YES)
            {
                return;
            }
        }
        else if (proto != Protocols.TCP && proto != Protocols.UDP || flows.mapping[f] < 0)
        {
            flows.flags[f] |= FLAG_NO_OFFLOAD;
            return;
        }
        final long in = flows.packetsIn[f];
        final long out = flows.packetsOut[f];
        final boolean settled = in > 0 && out > 0 && in + out >= offloadAfterPackets
            || proto == Protocols.UDP && out >= ONE_WAY_FACTOR * offloadAfterPackets;
        if (!settled || proto == Protocols.TCP && TcpTracker.transitory(flows.state[f]))
        {
            return;
        }
        if (offload.offer(f, proto, flows.intAddr[f], flows.intPort[f], flows.remAddr[f], flows.remPort[f],
            flows.extPort[f]))
        {
            flows.flags[f] |= FLAG_OFFLOADED;
            counters.increment(Counter.OFFLOAD_OFFERED);
        }
        else
        {
            counters.increment(Counter.OFFLOAD_RING_FULL);
        }
    }

    /** What the kernel side reports of an offloaded flow (in {@link #tick}). */
    private void onOffloadReport(final int kind, final int f, final int protocol, final int client, final int clientPort,
        final int server, final int serverPort, final int externalPort, final int tcpState, final long packetsOut,
        final long bytesOut, final long packetsIn, final long bytesIn)
    {
        if (f < 0 || f >= flows.capacity() || !flows.inUse(f) || (flows.flags[f] & FLAG_OFFLOADED) == 0
            || (flows.protocol[f] & 0xFF) != protocol || flows.intAddr[f] != client || flows.intPort[f] != clientPort
            || flows.remAddr[f] != server || flows.remPort[f] != serverPort || flows.extPort[f] != externalPort)
        {
            // a report about a session that ended here meanwhile. Traffic means the kernel still carries it: its
            // withdrawal was lost to a full ring (or is still in the ring: a second one is then a no-op, the
            // offloader takes back only what it carries with this very tuple). Withdrawn again, so a session
            // passgate ended (switched off, evicted, timed out) never stays in the kernel.
            if (kind == Offload.TRAFFIC && f >= 0 && f < flows.capacity())
            {
                counters.increment(Counter.OFFLOAD_STRAYS);
                if (!offload.withdraw(f, protocol, client, clientPort, server, serverPort, externalPort))
                {
                    counters.increment(Counter.OFFLOAD_RING_FULL);   // and again at the next report
                }
            }
            return;
        }
        if ((packetsOut | packetsIn) != 0)
        {
            flows.packetsOut[f] += packetsOut;
            flows.bytesOut[f] += bytesOut;
            flows.packetsIn[f] += packetsIn;
            flows.bytesIn[f] += bytesIn;
            flows.lastSeen[f] = now;
            counters.add(Counter.OFFLOAD_PACKETS, packetsOut + packetsIn);
            counters.add(Counter.OFFLOAD_BYTES, bytesOut + bytesIn);
        }
        if (kind == Offload.REFUSED)
        {
            flows.flags[f] = (flows.flags[f] & ~FLAG_OFFLOADED) | FLAG_NO_OFFLOAD;
        }
        else if (kind == Offload.ENDED)
        {
            flows.flags[f] &= ~FLAG_OFFLOADED;
            if (protocol == Protocols.TCP && tcpState >= Offload.TCP_FIN_WAIT)
            {
                counters.increment(Counter.OFFLOAD_ENDED);
                removeFlow(f);   // the kernel saw it close
            }
            else
            {
                counters.increment(Counter.OFFLOAD_HANDED_BACK);   // its own idle timer runs from the last traffic
            }
        }
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

    /** Refuses a LAN client's packet of a switched-off passthrough (ICMP 3/13). */
    private int refusePacket(final Ipv4Header packet)
    {
        counters.increment(Counter.PASSTHROUGH_REFUSED);
        icmpSender.sendError(IcmpHeader.DESTINATION_UNREACHABLE, IcmpHeader.CODE_ADMIN_PROHIBITED,
            config.lanAddress(), packet.source(), packet, now);
        return PacketHandler.VERDICT_DROP;
    }

    private void refuse(final Counter reason, final int client)
    {
        counters.increment(reason);
        // RFC 5508 / RFC 4787: tell the client at once that no mapping can be made (3/13)
        icmpSender.sendError(IcmpHeader.DESTINATION_UNREACHABLE, IcmpHeader.CODE_ADMIN_PROHIBITED,
            config.lanAddress(), client, ip, now);
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
                f = createOutbound(Protocols.ICMP, src, id, dst, 0, false, 0);
                if (f < 0)
                {
                    return verdictOf(f);
                }
            }
            current = f;
            touchOut(f);
            ip.source(config.wanAddress());
            icmp.identifier(flows.extPort[f]);
            return PacketHandler.VERDICT_ACCEPT_MODIFIED;
        }
        if (IcmpHeader.isError(type))
        {
            final int v = icmpErrors.outbound(ip, icmp);
            current = icmpErrors.flow();
            return v;
        }
        // a query reply from the LAN answers nothing passgate mapped: it cannot leave with a LAN address
        counters.increment(Counter.DROP_UNTRANSLATABLE);
        return PacketHandler.VERDICT_DROP;
    }

    /** Enhanced GRE (version 1): PPTP's data channel. */
    private boolean isEnhancedGre(final int proto)
    {
        return proto == Protocols.GRE && gre.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength()) && gre.isPptp();
    }

    /** Protocols without ports: a helper's, or address-only NAT keyed by (protocol, client, server). */
    private int outboundOther(final int proto, final int src)
    {
        if (!policy.allows(policy.ofProtocol(proto, isEnhancedGre(proto))))
        {
            return refusePacket(ip);
        }
        for (final Helper helper : helpers)
        {
            final int v = helper.outboundOther(ip, now);
            if (v != Helper.NOT_MINE)
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
            timers.schedule(f);
        }
        current = f;
        touchOut(f);
        ip.source(config.wanAddress());
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    // -------------------------------------------------------------------------------------------- inbound

    /**
     * A packet to the WAN address (from the WAN, or from the LAN: a hairpin): rewrite its destination to the
     * internal endpoint of its session, or refuse it.
     *
     * @param fromLan the packet arrived on the LAN interface
     * @return a verdict; {@link #VERDICT_HAIRPIN} for a packet turned back to the LAN (accept it rewritten with
     *         {@link NatConfig#hairpinMark()} set)
     */
    public int inbound(final MutableDirectBuffer buffer, final int offset, final int length,
        final boolean partialChecksum, final boolean fromLan, final long nowMs)
    {
        now = nowMs;
        activity++;
        partial = partialChecksum;
        current = FlowTable.NONE;
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
        if (Protocols.hasPorts(proto))
        {
            return fromLan ? hairpin(proto) : inboundPorts(proto);
        }
        if (fromLan)
        {
            return toRouter();
        }
        return proto == Protocols.ICMP ? inboundIcmp() : inboundOther(proto);
    }

    private int toRouter()
    {
        counters.increment(Counter.NAT_TO_ROUTER);
        return PacketHandler.VERDICT_ACCEPT;
    }

    private int sharedPortOwner(final int proto, final int port)
    {
        if (proto == Protocols.UDP)
        {
            for (int i = 0; i < sharedPorts.length; i++)
            {
                if (sharedPorts[i] == port)
                {
                    return sharedPortHelper[i];
                }
            }
        }
        return 0;
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
        final int owner = sharedPortOwner(proto, dport);
        int f;
        final boolean created;
        if (owner != 0)
        {
            // a port a helper serves for several clients: it tells them apart by what it reads (and may open a
            // session for it, e.g. a server answering from another port)
            final int sessions = flows.size();
            f = helpers[owner - 1].demuxInbound(ip, ip.payloadOffset(), ip.payloadLength());
            if (f < 0)
            {
                return PacketHandler.VERDICT_DROP;
            }
            created = flows.size() > sessions;
        }
        else
        {
            f = flows.findInbound(proto, dport, src, sport);
            created = f == FlowTable.NONE;
            if (created)
            {
                f = newInboundSession(proto, src, sport, dport, isTcp, tcpFlags);
                if (f < 0)
                {
                    return PacketHandler.VERDICT_DROP;
                }
            }
        }
        current = f;
        touchIn(f);
        if (isTcp)
        {
            tcpTracker.track(f, tcpFlags, false);
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
            fragments.remember(ip.source(), ip.identification(), proto, host, now);
        }
        final int h = flows.alg[f];
        if (h != 0)
        {
            final int v = helpers[h - 1].inbound(f, ip, ip.payloadOffset(), ip.payloadLength(), partial, now);
            if (v == PacketHandler.VERDICT_DROP && created)
            {
                // the helper refused the packet that opened the session: a dropped packet leaves no session
                removeFlow(f);
            }
            if (v != Helper.CONTINUE)
            {
                return v;
            }
        }
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    /**
     * An inbound packet with a mapping but no session: the filter (or, when it refuses, the mapping's helper's
     * expectation) decides; the new session belongs to the mapping's helper. Returns it, or -1 (dropped, counted).
     */
    private int newInboundSession(final int proto, final int src, final int sport, final int dport,
        final boolean isTcp, final int tcpFlags)
    {
        final int m = mappings.byExternal(Protocols.space(proto), dport);
        if (m < 0 || mappings.protocol(m) != proto)
        {
            unsolicited(isTcp, tcpFlags, src, sport, dport, Counter.DROP_NO_MAPPING);
            return -1;
        }
        final int follower = mappings.helper(m);
        final boolean expected = follower != 0
            && helpers[follower - 1].expect(m, ip, ip.payloadOffset(), ip.payloadLength()) == Helper.EXPECTED;
        if (!expected && !filter.allows(m, src))
        {
            unsolicited(isTcp, tcpFlags, src, sport, dport, Counter.DROP_FILTERED);
            return -1;
        }
        if (!expected && !policy.allowsPort(proto, sport))
        {
            counters.increment(Counter.PASSTHROUGH_REFUSED);
            return -1;
        }
        if (!makeRoom())
        {
            counters.increment(Counter.DROP_TABLE_FULL);
            return -1;
        }
        final int f = newFlow(proto, mappings.intAddr(m), mappings.intPort(m), dport, src, sport, m);
        flows.flags[f] |= FLAG_INBOUND_CREATED;
        flows.alg[f] = follower;
        timers.schedule(f);
        if (isTcp && TcpTracker.transitory(flows.state[f]))
        {
            flows.lruAppend(f);
        }
        return f;
    }

    /** Counts and drops; an unsolicited SYN is held for a delayed port unreachable (RFC 5382 REQ-4). */
    private void unsolicited(final boolean isTcp, final int tcpFlags, final int src, final int sport, final int dport,
        final Counter reason)
    {
        counters.increment(reason);
        if (isTcp && config.unsolicitedSynIcmp() && (tcpFlags & (TcpHeader.SYN | TcpHeader.ACK)) == TcpHeader.SYN)
        {
            syns.hold(ip, src, sport, dport, now);
        }
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
            final int f = createOutbound(proto, src, sport, config.wanAddress(), dport, false, 0);
            if (f < 0)
            {
                return verdictOf(f);
            }
            flows.flags[f] |= FLAG_HAIRPIN;
        }
        boolean allowed = filter.allows(m, config.wanAddress());
        if (filter.mode() == io.passgate.config.PassgateContext.Filtering.ADDRESS_AND_PORT_DEPENDENT)
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
        counters.increment(Counter.NAT_HAIRPIN_PACKETS);
        return VERDICT_HAIRPIN;
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
            current = f;
            touchIn(f);
            ip.destination(flows.intAddr[f]);
            icmp.identifier(flows.intPort[f]);
            return PacketHandler.VERDICT_ACCEPT_MODIFIED;
        }
        if (IcmpHeader.isError(type))
        {
            final int v = icmpErrors.inbound(ip, icmp);
            current = icmpErrors.flow();
            return v == IcmpErrors.TO_ROUTER ? toRouter() : v;
        }
        return toRouter();
    }

    private int inboundOther(final int proto)
    {
        if (!policy.allows(policy.ofProtocol(proto, isEnhancedGre(proto))))
        {
            counters.increment(Counter.PASSTHROUGH_REFUSED);
            return PacketHandler.VERDICT_DROP;
        }
        for (final Helper helper : helpers)
        {
            final int v = helper.inboundOther(ip, now);
            if (v != Helper.NOT_MINE)
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
        current = f;
        touchIn(f);
        ip.destination(flows.intAddr[f]);
        if (ip.moreFragments())
        {
            fragments.remember(ip.source(), ip.identification(), proto, flows.intAddr[f], now);
        }
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    private int inboundFragment()
    {
        final int host = fragments.hostOf(ip.source(), ip.identification(), ip.protocol(), now);
        if (host == 0)
        {
            counters.increment(Counter.DROP_FRAGMENT_NO_STATE);
            return PacketHandler.VERDICT_DROP;
        }
        ip.destination(host);
        counters.increment(Counter.NAT_FRAGMENTS);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    // ------------------------------------------------------------------------------- switches and sessions

    /**
     * Applies switch states (on the dataplane thread): from now on new sessions of a switched-off passthrough
     * are refused, and its live sessions are torn down at once (a PPTP control connection with TCP resets to
     * both ends). {@code effective} says whether a switch (by name) is on. Returns the sessions torn down.
     */
    public int applyPassthrough(final Predicate<String> effective)
    {
        final boolean[] on = new boolean[layout.count()];
        for (int i = 0; i < on.length; i++)
        {
            on[i] = effective.test(layout.name(i));
        }
        policy.set(on);
        for (final Helper helper : helpers)
        {
            helper.passthroughChanged(policy);
        }
        int torn = 0;
        for (int f = 0; f < flows.capacity(); f++)
        {
            if (flows.inUse(f) && !policy.allows(passthroughOf(f)))
            {
                removeFlow(f);
                torn++;
            }
        }
        counters.add(Counter.PASSTHROUGH_TORN_DOWN, torn);
        return torn;
    }

    /** The passthrough a session belongs to (its helper's word first), or {@link PassthroughPolicy#NONE}. */
    public int passthroughOf(final int f)
    {
        final int h = flows.alg[f];
        if (h != 0)
        {
            final int which = helpers[h - 1].passthroughOf(f);
            if (which != PassthroughPolicy.NONE)
            {
                return which;
            }
        }
        final int proto = flows.protocol(f);
        if (Protocols.hasPorts(proto))
        {
            return layout.ofPort(proto, flows.remPort[f]);
        }
        return layout.ofProtocol(proto, proto == Protocols.GRE && (flows.flags[f] & FLAG_GENERIC) == 0);
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

    /** The idle timeout of a session now: its helper's, else by protocol. */
    long timeoutOf(final int f)
    {
        final int h = flows.alg[f];
        if (h != 0)
        {
            final long t = helpers[h - 1].timeoutOf(f);
            if (t >= 0)
            {
                return t;
            }
        }
        return switch (flows.protocol(f))
        {
            case Protocols.TCP -> TcpTracker.transitory(flows.state[f]) ? config.tcpTransitoryMs()
                : config.tcpEstablishedMs();
            // DCCP keeps no state here: its sessions get TCP's established timer (Linux: 12 h once open)
            case Protocols.DCCP -> config.tcpEstablishedMs();
            case Protocols.ICMP -> config.icmpTimeoutMs();
            default -> config.udpTimeoutMs();
        };
    }

    private void expired(final int f)
    {
        removeFlow(f);
        counters.increment(Counter.NAT_FLOWS_EXPIRED);
    }

    /**
     * Ends a session: its timer, filter permission, mapping reference, helper state. Done in one place: a
     * removal a helper asks for while another is in progress is queued and done right after it.
     */
    public void removeFlow(final int f)
    {
        if (removing)
        {
            if (removalCount < removals.length)
            {
                removals[(removalHead + removalCount++) % removals.length] = f;
            }
            return;
        }
        removing = true;
        try
        {
            remove(f);
            while (removalCount > 0)
            {
                final int next = removals[removalHead];
                removalHead = (removalHead + 1) % removals.length;
                removalCount--;
                remove(next);
            }
        }
        finally
        {
            removing = false;
        }
    }

    private void remove(final int f)
    {
        if (!flows.inUse(f))
        {
            return;
        }
        timers.cancel(f);
        final int h = flows.alg[f];
        if (h != 0)
        {
            helpers[h - 1].flowRemoved(f);
        }
        final int m = flows.mapping[f];
        if (m >= 0)
        {
            filter.closed(m, flows.remAddr[f]);
            final int mProto = mappings.protocol(m);
            final int mAddr = mappings.intAddr(m);
            final int mPort = mappings.intPort(m);
            if (mappings.removeFlow(m) && shared != null)
            {
                shared.release(mProto, mAddr, mPort, config.shard());
            }
        }
        if ((flows.flags[f] & FLAG_OFFLOADED) != 0 && offload != null)
        {
            if (!offload.withdraw(f, flows.protocol[f] & 0xFF, flows.intAddr[f], flows.intPort[f], flows.remAddr[f],
                flows.remPort[f], flows.extPort[f]))
            {
                counters.increment(Counter.OFFLOAD_RING_FULL);   // withdrawn at its next traffic report (onOffloadReport)
            }
        }
        final long liveAt = flows.liveAt[f];
        if (live != null && liveAt != 0 && liveAt != Long.MAX_VALUE)
        {
            final int proto = flows.protocol[f] & 0xFF;
            if (!live.post(false, proto, flows.intAddr[f], flows.intPort[f], flows.remAddr[f], flows.remPort[f],
                flows.extPort[f]))
            {
                counters.increment(Counter.LIVE_FLOWS_RING_FULL);   // the element times out instead
            }
        }
        flows.remove(f);
        counters.set(Counter.NAT_FLOWS_LIVE, flows.size());
        counters.set(Counter.NAT_MAPPINGS_LIVE, mappings.size());
    }

    /** Runs expired timers, the held-SYN answers and the helpers' periodic work; returns the work done. */
    public int tick(final long nowMs)
    {
        now = nowMs;
        int work = offload == null ? 0 : offload.poll(onOffloadReport, 256);
        work += timers.poll(nowMs);
        work += syns.tick(nowMs);
        for (final Helper helper : helpers)
        {
            work += helper.tick(nowMs);
        }
        activity += work;
        return work;
    }

    /**
     * Sends a TCP RST+ACK from (src, sport) to (dst, dport) through the raw socket: how a helper ends a
     * control connection it must refuse or can no longer translate.
     */
    private void sendTcpReset(final int src, final int sport, final int dst, final int dport, final long seq,
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

    // what EngineImage needs of the engine (a restart keeps the sessions)

    Helper[] helperArray()
    {
        return helpers.clone();
    }

    Filter filter()
    {
        return filter;
    }

    SharedEndpoints shared()
    {
        return shared;
    }

    /** Packets and timer work so far: a state image is written again only when this moved. */
    public long activity()
    {
        return activity;
    }

    /** After EngineImage restored the sessions: timers, the transitory list and the gauges, as if each was new. */
    void afterRestore()
    {
        for (int f = 0; f < flows.capacity(); f++)
        {
            if (flows.inUse(f))
            {
                flows.flags[f] &= ~FLAG_OFFLOADED;   // the kernel's entries went with the old process's rules
                timers.schedule(f);
                if (flows.protocol(f) == Protocols.TCP && TcpTracker.transitory(flows.state[f]))
                {
                    flows.lruAppend(f);
                }
            }
        }
        counters.set(Counter.NAT_FLOWS_LIVE, flows.size());
        counters.set(Counter.NAT_MAPPINGS_LIVE, mappings.size());
        activity++;
    }

    /** Forgets every session and mapping (a reset from the control plane). */
    public void clear()
    {
        for (int f = 0; f < flows.capacity(); f++)
        {
            removeFlow(f);
        }
    }

    /** What one helper sees of the engine. */
    private final class Host implements HelperHost
    {
        private final int index;

        Host(final int index)
        {
            this.index = index;
        }

        @Override
        public FlowTable flows()
        {
            return flows;
        }

        @Override
        public CounterSet counters()
        {
            return counters;
        }

        @Override
        public int wanAddress()
        {
            return config.wanAddress();
        }

        @Override
        public long now()
        {
            return now;
        }

        @Override
        public PassthroughPolicy passthrough()
        {
            return policy;
        }

        @Override
        public int createSession(final int protocol, final int intAddr, final int intPort, final int extPort,
            final int remAddr, final int remPort, final boolean pinned)
        {
            if (!makeRoom())
            {
                counters.increment(Counter.DROP_TABLE_FULL);
                return -1;
            }
            final int f = newFlow(protocol, intAddr, intPort, extPort, remAddr, remPort, -1);
            flows.alg[f] = index;
            if (pinned)
            {
                flows.flags[f] |= FLAG_PINNED;
            }
            timers.schedule(f);
            return f;
        }

        @Override
        public void removeSession(final int flow)
        {
            removeFlow(flow);
        }

        @Override
        public void rekeyExternalPort(final int flow, final int extPort)
        {
            flows.rekeyExternalPort(flow, extPort);
        }

        @Override
        public void rekeyRemotePort(final int flow, final int remPort)
        {
            flows.rekeyRemotePort(flow, remPort);
        }

        @Override
        public void touchOutbound(final int flow, final Ipv4Header packet)
        {
            flows.lastSeen[flow] = now;
            flows.packetsOut[flow]++;
            flows.bytesOut[flow] += packet.totalLength();
            current = flow;
            if (now >= flows.liveAt[flow] && live != null)
            {
                maybeLive(flow);
            }
            if (offload != null && (flows.flags[flow] & (FLAG_OFFLOADED | FLAG_NO_OFFLOAD)) == 0)
            {
                maybeOffload(flow);   // a helper's tunnel it says is bound (ESP, PPTP GRE)
            }
        }

        @Override
        public void touchInbound(final int flow, final Ipv4Header packet)
        {
            flows.lastSeen[flow] = now;
            flows.packetsIn[flow]++;
            flows.bytesIn[flow] += packet.totalLength();
            current = flow;
            if (now >= flows.liveAt[flow] && live != null)
            {
                maybeLive(flow);
            }
            if (offload != null && (flows.flags[flow] & (FLAG_OFFLOADED | FLAG_NO_OFFLOAD)) == 0)
            {
                maybeOffload(flow);   // a helper's tunnel it says is bound (ESP, PPTP GRE)
            }
        }

        @Override
        public boolean mayShare(final int protocol, final int port)
        {
            final int space = Protocols.space(protocol);
            return space >= 0 && mappings.ownsPort(space, port) && !mappings.isRouterPort(space, port);
        }

        @Override
        public int refuse(final Ipv4Header packet)
        {
            return refusePacket(packet);
        }

        @Override
        public void sendTcpReset(final int src, final int sport, final int dst, final int dport, final long seq,
            final long ack)
        {
            NatEngine.this.sendTcpReset(src, sport, dst, dport, seq, ack);
        }

        @Override
        public void send(final DirectBuffer buffer, final int offset, final int length, final int destination)
        {
            sink.send(buffer, offset, length, destination);
        }
    }
}

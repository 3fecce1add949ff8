package io.passgate.nat;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.dataplane.TrafficCounter;
import io.passgate.nfq.NfqPacket;
import io.passgate.nfq.PacketHandler;
import io.passgate.sys.Linux;
import io.passgate.wire.Checksum;
import io.passgate.wire.Ipv4Header;

/**
 * The NAT dataplane's packet handler: postrouting packets are outbound (source rewrite), prerouting packets
 * are inbound to the WAN address (destination rewrite), or hairpins when they came from the LAN.
 */
public final class NatHandler implements PacketHandler
{
    private final NatEngine engine;
    private final CounterSet counters;
    private final TrafficCounter traffic;
    private final Ipv4Header ip = new Ipv4Header();
    private final int lanIfIndex;
    private final int hairpinMark;
    private final int queueBase;
    private long now;
    private StateStore state;

    public NatHandler(final NatEngine engine, final CounterSet counters)
    {
        this(engine, counters, 0);
    }

    /** {@code queueBase}: the first shard's queue number (shard i reads queue {@code queueBase + i}). */
    public NatHandler(final NatEngine engine, final CounterSet counters, final int queueBase)
    {
        this.queueBase = queueBase;
        this.engine = engine;
        this.counters = counters;
        this.traffic = new TrafficCounter(counters);
        this.lanIfIndex = engine.config().lanIfIndex();
        this.hairpinMark = engine.config().hairpinMark();
        this.now = engine.now();
    }

    public NatEngine engine()
    {
        return engine;
    }

    /** The state file this shard writes its image to between batches (a restart keeps the sessions); null: none. */
    public void stateStore(final StateStore store)
    {
        this.state = store;
    }

    @Override
    public void onDutyCycle(final long nowMs)
    {
        now = nowMs;
    }

    @Override
    public int onPacket(final NfqPacket packet)
    {
        if (packet.hwProtocol() != Linux.ETH_P_IP && packet.hwProtocol() != 0)
        {
            counters.increment(Counter.DROP_NOT_IPV4);
            return VERDICT_DROP;
        }
        final boolean outbound = packet.hook() == Linux.NF_INET_POST_ROUTING;
        if (ip.wrap(packet.buffer(), packet.payloadOffset(), packet.payloadLength()))
        {
            traffic.count(ip, outbound);
        }
        // a CHECKSUM_PARTIAL GSO packet keeps the partial form (it is segmented, and summed, after the
        // verdict); a CHECKSUM_PARTIAL single packet leaves as CHECKSUM_NONE once rewritten, so its checksum
        // is completed here (see Checksum.completeTransport)
        final boolean csumPartial = packet.checksumPartial();
        final boolean keepPartial = csumPartial && packet.gso();
        int verdict;
        if (outbound)
        {
            verdict = engine.outbound(packet.buffer(), packet.payloadOffset(), packet.payloadLength(), keepPartial,
                (packet.mark() & hairpinMark) != 0, now);
        }
        else
        {
            verdict = engine.inbound(packet.buffer(), packet.payloadOffset(), packet.payloadLength(), keepPartial,
                packet.inIfIndex() == lanIfIndex, now);
        }
        if (verdict >= NatEngine.VERDICT_REQUEUE_BASE)
        {
            packet.requeueTo(queueBase + verdict - NatEngine.VERDICT_REQUEUE_BASE);
            return VERDICT_REQUEUE;
        }
        if (verdict == NatEngine.VERDICT_HAIRPIN)
        {
            packet.mark(packet.mark() | hairpinMark);
            verdict = VERDICT_ACCEPT_MODIFIED;
        }
        if (verdict == VERDICT_ACCEPT_MODIFIED && csumPartial && !keepPartial)
        {
            ip.wrap(packet.buffer(), packet.payloadOffset(), packet.payloadLength());
            Checksum.completeTransport(ip);
        }
        return verdict;
    }

    @Override
    public int onTick(final long nowMs)
    {
        final int work = engine.tick(nowMs);
        if (state != null && state.maybeSave(nowMs, engine.activity()))
        {
            return work + 1;
        }
        return work;
    }
}

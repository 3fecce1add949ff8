package io.passgate.dataplane;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nfq.NfqPacket;
import io.passgate.nfq.PacketHandler;
import io.passgate.sys.Linux;
import io.passgate.wire.Ipv4Header;

/**
 * The forward dataplane: every packet is decoded, counted and accepted unchanged. The baseline the NAT is
 * measured against (mode = forward), and the shape every handler shares: decode, classify, decide.
 * Malformed IPv4 is dropped and counted.
 */
public final class ForwardHandler implements PacketHandler
{
    private final Ipv4Header ip = new Ipv4Header();
    private final CounterSet counters;
    private final TrafficCounter traffic;

    public ForwardHandler(final CounterSet counters)
    {
        this.counters = counters;
        this.traffic = new TrafficCounter(counters);
    }

    @Override
    public int onPacket(final NfqPacket packet)
    {
        if (packet.hwProtocol() != Linux.ETH_P_IP && packet.hwProtocol() != 0)
        {
            counters.increment(Counter.DROP_NOT_IPV4);
            return VERDICT_DROP;
        }
        if (!ip.wrap(packet.buffer(), packet.payloadOffset(), packet.payloadLength()))
        {
            counters.increment(Counter.DROP_MALFORMED);
            return VERDICT_DROP;
        }
        traffic.count(ip, packet.hook() == Linux.NF_INET_POST_ROUTING);
        return VERDICT_ACCEPT;
    }
}

package io.passgate.dataplane;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.sys.Linux;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.TcpHeader;
import io.passgate.wire.UdpHeader;

/**
 * Counts a packet by direction and protocol. Outbound is what the postrouting hook queued (LAN to WAN),
 * inbound what the prerouting hook queued (to the WAN address, or WAN to LAN in forward mode).
 */
public final class TrafficCounter
{
    private final CounterSet counters;
    private final TcpHeader tcp = new TcpHeader();
    private final UdpHeader udp = new UdpHeader();

    public TrafficCounter(final CounterSet counters)
    {
        this.counters = counters;
    }

    public void count(final Ipv4Header ip, final boolean outbound)
    {
        counters.increment(outbound ? Counter.OUT_PACKETS : Counter.IN_PACKETS);
        counters.add(outbound ? Counter.OUT_BYTES : Counter.IN_BYTES, ip.totalLength());
        final boolean firstFragment = ip.fragmentOffset() == 0;
        switch (ip.protocol())
        {
            case Linux.IPPROTO_TCP ->
            {
                counters.increment(outbound ? Counter.OUT_TCP_PACKETS : Counter.IN_TCP_PACKETS);
                if (firstFragment && tcp.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength()))
                {
                    counters.add(outbound ? Counter.OUT_TCP_PAYLOAD_BYTES : Counter.IN_TCP_PAYLOAD_BYTES,
                        ip.payloadLength() - tcp.headerLength());
                }
            }
            case Linux.IPPROTO_UDP ->
            {
                counters.increment(outbound ? Counter.OUT_UDP_PACKETS : Counter.IN_UDP_PACKETS);
                if (firstFragment && udp.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength()))
                {
                    counters.add(outbound ? Counter.OUT_UDP_PAYLOAD_BYTES : Counter.IN_UDP_PAYLOAD_BYTES,
                        udp.payloadLength());
                }
            }
            case Linux.IPPROTO_ICMP -> counters.increment(outbound ? Counter.OUT_ICMP_PACKETS : Counter.IN_ICMP_PACKETS);
            case Linux.IPPROTO_GRE -> counters.increment(outbound ? Counter.OUT_GRE_PACKETS : Counter.IN_GRE_PACKETS);
            case Linux.IPPROTO_ESP -> counters.increment(outbound ? Counter.OUT_ESP_PACKETS : Counter.IN_ESP_PACKETS);
            default -> counters.increment(outbound ? Counter.OUT_OTHER_PACKETS : Counter.IN_OTHER_PACKETS);
        }
    }
}

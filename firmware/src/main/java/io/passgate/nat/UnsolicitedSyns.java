package io.passgate.nat;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.Ipv4Header;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * RFC 5382 REQ-4: an unsolicited inbound SYN is not answered for at least 6 s; if no LAN host opened towards
 * its sender by then (simultaneous open), it gets an ICMP port unreachable. Up to 64 are held (the oldest
 * replaced), each with the quote for the ICMP error.
 */
final class UnsolicitedSyns
{
    static final long HOLD_MS = 6_000;
    private static final int HELD = 64;
    private static final int QUOTE = 68;

    private final FlowTable flows;
    private final IcmpSender icmp;
    private final CounterSet counters;
    private final int wanAddress;
    private final int[] remAddr = new int[HELD];
    private final int[] remPort = new int[HELD];
    private final int[] extPort = new int[HELD];
    private final long[] deadline = new long[HELD];
    private final int[] length = new int[HELD];
    private final UnsafeBuffer quotes = new UnsafeBuffer(new byte[HELD * QUOTE]);
    private int next;

    UnsolicitedSyns(final FlowTable flows, final IcmpSender icmp, final CounterSet counters, final int wanAddress)
    {
        this.flows = flows;
        this.icmp = icmp;
        this.counters = counters;
        this.wanAddress = wanAddress;
    }

    /** Holds the SYN {@code ip} wraps, sent from (src, sport) to external port {@code dport}. */
    void hold(final Ipv4Header ip, final int src, final int sport, final int dport, final long nowMs)
    {
        final int slot = next;
        next = (next + 1) % HELD;
        remAddr[slot] = src;
        remPort[slot] = sport;
        extPort[slot] = dport;
        deadline[slot] = nowMs + HOLD_MS;
        final int quote = Math.min(QUOTE, Math.min(ip.totalLength(), ip.headerLength() + 8));
        length[slot] = quote;
        quotes.putBytes(slot * QUOTE, ip.buffer(), ip.offset(), quote);
        counters.increment(Counter.NAT_UNSOLICITED_SYNS_HELD);
    }

    /** Answers the SYNs whose hold is over and that no session took since. */
    int tick(final long nowMs)
    {
        int work = 0;
        for (int i = 0; i < HELD; i++)
        {
            if (deadline[i] != 0 && deadline[i] <= nowMs)
            {
                deadline[i] = 0;
                if (flows.findInbound(Protocols.TCP, extPort[i], remAddr[i], remPort[i]) == FlowTable.NONE)
                {
                    icmp.sendError(IcmpHeader.DESTINATION_UNREACHABLE, IcmpHeader.CODE_PORT_UNREACHABLE, wanAddress,
                        remAddr[i], quotes, i * QUOTE, length[i], nowMs);
                }
                work++;
            }
        }
        return work;
    }
}

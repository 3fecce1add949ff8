package io.passgate.nat;

import java.nio.ByteOrder;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.wire.Checksum;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.Ipv4Header;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Builds ICMP errors (RFC 792, quoting per RFC 1812 4.3.2.3: as much of the offending packet as fits in 576
 * bytes) into a preallocated buffer and hands them to a {@link PacketSink}, rate-limited by a token bucket.
 * Allocation-free.
 */
public final class IcmpSender
{
    private static final int MAX_PACKET = 576;

    private final PacketSink sink;
    private final CounterSet counters;
    private final UnsafeBuffer out = new UnsafeBuffer(new byte[MAX_PACKET]);
    private final int ratePerSecond;
    private double tokens;
    private long lastRefillMs;
    private int identification;

    public IcmpSender(final PacketSink sink, final CounterSet counters, final int ratePerSecond)
    {
        this.sink = sink;
        this.counters = counters;
        this.ratePerSecond = ratePerSecond;
        this.tokens = ratePerSecond;
    }

    private boolean take(final long nowMs)
    {
        if (ratePerSecond <= 0)
        {
            counters.increment(Counter.ICMP_RATE_LIMITED);
            return false;
        }
        if (nowMs > lastRefillMs)
        {
            tokens = Math.min(ratePerSecond, tokens + (nowMs - lastRefillMs) * ratePerSecond / 1000.0);
            lastRefillMs = nowMs;
        }
        if (tokens < 1)
        {
            counters.increment(Counter.ICMP_RATE_LIMITED);
            return false;
        }
        tokens -= 1;
        return true;
    }

    /**
     * Sends an ICMP error of {@code type}/{@code code} from {@code source} to {@code destination}, quoting the
     * packet whose IPv4 header {@code offending} wraps. Returns true when sent.
     */
    public boolean sendError(final int type, final int code, final int source, final int destination,
        final Ipv4Header offending, final long nowMs)
    {
        return sendError(type, code, source, destination, offending.buffer(), offending.offset(),
            offending.totalLength(), nowMs);
    }

    public boolean sendError(final int type, final int code, final int source, final int destination,
        final DirectBuffer quoteBuffer, final int quoteOffset, final int quoteAvailable, final long nowMs)
    {
        if (!take(nowMs))
        {
            return false;
        }
        final int quote = Math.min(quoteAvailable, MAX_PACKET - Ipv4Header.MIN_LENGTH - IcmpHeader.LENGTH);
        final int icmpLength = IcmpHeader.LENGTH + quote;
        final int total = Ipv4Header.MIN_LENGTH + icmpLength;
        Ipv4Header.write(out, 0, total, ++identification & 0xFFFF, 64, Protocols.ICMP, source, destination);
        final int icmp = Ipv4Header.MIN_LENGTH;
        out.putByte(icmp, (byte)type);
        out.putByte(icmp + 1, (byte)code);
        out.putShort(icmp + 2, (short)0, ByteOrder.BIG_ENDIAN);
        out.putInt(icmp + 4, 0, ByteOrder.BIG_ENDIAN);
        out.putBytes(icmp + IcmpHeader.LENGTH, quoteBuffer, quoteOffset, quote);
        out.putShort(icmp + 2, (short)Checksum.compute(out, icmp, icmpLength, 0), ByteOrder.BIG_ENDIAN);
        sink.send(out, 0, total, destination);
        counters.increment(Counter.ICMP_SENT);
        return true;
    }
}

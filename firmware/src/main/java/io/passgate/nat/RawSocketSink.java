package io.passgate.nat;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.sys.ErrnoException;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.RawIpSocket;
import org.agrona.DirectBuffer;

/**
 * Sends passgate's own packets (ICMP errors, TCP resets) through a raw IP_HDRINCL socket. A failed send is
 * counted ({@link Counter#SEND_ERRORS} in the shard's counters) and its errno kept for the status.
 */
public final class RawSocketSink implements PacketSink, AutoCloseable
{
    private final RawIpSocket socket;
    private final NativeBuffer staging;
    private final CounterSet counters;
    private volatile int lastErrno;

    public RawSocketSink(final CounterSet counters) throws ErrnoException
    {
        this.counters = counters;
        socket = RawIpSocket.open();
        staging = NativeBuffer.allocate(2048);
    }

    @Override
    public void send(final DirectBuffer buffer, final int offset, final int length, final int destination)
    {
        final int n = Math.min(length, staging.capacity());
        staging.buffer().putBytes(0, buffer, offset, n);
        final long sent = socket.send(staging.address(), n, destination);
        if (sent < 0)
        {
            counters.increment(Counter.SEND_ERRORS);
            lastErrno = (int)-sent;
        }
    }

    /** errno of the last failed send, 0 when none failed. */
    public int lastErrno()
    {
        return lastErrno;
    }

    @Override
    public void close()
    {
        socket.close();
        staging.close();
    }
}

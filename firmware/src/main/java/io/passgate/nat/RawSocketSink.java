package io.passgate.nat;

import io.passgate.sys.ErrnoException;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.RawIpSocket;
import org.agrona.DirectBuffer;

/** Sends passgate's own packets (ICMP errors, TCP resets) through a raw IP_HDRINCL socket. */
public final class RawSocketSink implements PacketSink, AutoCloseable
{
    private final RawIpSocket socket;
    private final NativeBuffer staging;
    private long errors;

    public RawSocketSink() throws ErrnoException
    {
        socket = RawIpSocket.open();
        staging = NativeBuffer.allocate(2048);
    }

    @Override
    public void send(final DirectBuffer buffer, final int offset, final int length, final int destination)
    {
        final int n = Math.min(length, staging.capacity());
        staging.buffer().putBytes(0, buffer, offset, n);
        if (socket.send(staging.address(), n, destination) < 0)
        {
            errors++;
        }
    }

    public long errors()
    {
        return errors;
    }

    @Override
    public void close()
    {
        socket.close();
        staging.close();
    }
}

package io.passgate.sys;

import java.nio.ByteOrder;

/**
 * An {@code AF_NETLINK} datagram socket (NETLINK_NETFILTER for nfqueue and nf_tables, NETLINK_ROUTE for
 * addresses, routes and neighbours). Messages go to the kernel (port id 0).
 */
public final class NetlinkSocket implements AutoCloseable
{
    private final int fd;
    private final int protocol;
    private final NativeBuffer scratch;
    private int portId;
    private boolean closed;

    private NetlinkSocket(final int fd, final int protocol) throws ErrnoException
    {
        this.fd = fd;
        this.protocol = protocol;
        this.scratch = NativeBuffer.allocate(64);
    }

    public static NetlinkSocket open(final int protocol) throws ErrnoException
    {
        final int fd = Sys.socket(Linux.AF_NETLINK, Linux.SOCK_RAW | Linux.SOCK_CLOEXEC, protocol);
        try
        {
            final NetlinkSocket socket = new NetlinkSocket(fd, protocol);
            socket.bind(0);
            return socket;
        }
        catch (final ErrnoException | RuntimeException e)
        {
            Sys.close(fd);
            throw e;
        }
    }

    private void bind(final int groups) throws ErrnoException
    {
        final var b = scratch.buffer();
        b.setMemory(0, Structs.SOCKADDR_NL_SIZE, (byte)0);
        b.putShort(0, (short)Linux.AF_NETLINK, ByteOrder.nativeOrder());
        b.putInt(8, groups, ByteOrder.nativeOrder());
        Sys.bind(fd, scratch.address(), Structs.SOCKADDR_NL_SIZE, "netlink protocol " + protocol);
        b.putInt(32, Structs.SOCKADDR_NL_SIZE, ByteOrder.nativeOrder());
        Sys.getsockname(fd, scratch.address(), scratch.address() + 32);
        portId = b.getInt(4, ByteOrder.nativeOrder());
    }

    public int fd()
    {
        return fd;
    }

    /** The port id the kernel gave this socket. */
    public int portId()
    {
        return portId;
    }

    public void setInt(final int level, final int option, final int value, final String what) throws ErrnoException
    {
        scratch.buffer().putInt(0, value, ByteOrder.nativeOrder());
        Sys.setsockopt(fd, level, option, scratch.address(), 4, what);
    }

    public int getInt(final int level, final int option, final String what) throws ErrnoException
    {
        scratch.buffer().putInt(0, 0, ByteOrder.nativeOrder());
        scratch.buffer().putInt(8, 4, ByteOrder.nativeOrder());
        Sys.getsockopt(fd, level, option, scratch.address(), scratch.address() + 8, what);
        return scratch.buffer().getInt(0, ByteOrder.nativeOrder());
    }

    /**
     * Sets the receive buffer past net.core.rmem_max with SO_RCVBUFFORCE (needs CAP_NET_ADMIN), falling
     * back to SO_RCVBUF. Returns the size the kernel reports (twice the request, for bookkeeping).
     */
    public int receiveBuffer(final int bytes) throws ErrnoException
    {
        try
        {
            setInt(Linux.SOL_SOCKET, Linux.SO_RCVBUFFORCE, bytes, "SO_RCVBUFFORCE");
        }
        catch (final ErrnoException e)
        {
            setInt(Linux.SOL_SOCKET, Linux.SO_RCVBUF, bytes, "SO_RCVBUF");
        }
        return getInt(Linux.SOL_SOCKET, Linux.SO_RCVBUF, "SO_RCVBUF");
    }

    public int sendBuffer(final int bytes) throws ErrnoException
    {
        try
        {
            setInt(Linux.SOL_SOCKET, Linux.SO_SNDBUFFORCE, bytes, "SO_SNDBUFFORCE");
        }
        catch (final ErrnoException e)
        {
            setInt(Linux.SOL_SOCKET, Linux.SO_SNDBUF, bytes, "SO_SNDBUF");
        }
        return getInt(Linux.SOL_SOCKET, Linux.SO_SNDBUF, "SO_SNDBUF");
    }

    /** A SOL_NETLINK option such as {@link Linux#NETLINK_NO_ENOBUFS} or {@link Linux#NETLINK_EXT_ACK}. */
    public void netlinkOption(final int option, final boolean on) throws ErrnoException
    {
        setInt(Linux.SOL_NETLINK, option, on ? 1 : 0, "SOL_NETLINK option " + option);
    }

    /** One datagram; returns bytes sent or {@code -errno}. */
    public long send(final long address, final int length)
    {
        return Sys.send(fd, address, length, 0);
    }

    /** One datagram; returns bytes received or {@code -errno}. */
    public long receive(final long address, final int length, final int flags)
    {
        return Sys.recv(fd, address, length, flags);
    }

    /** recvmmsg(2) into the batch; returns the number of messages received or {@code -errno}. */
    public long receive(final MessageBatch batch, final int flags)
    {
        return Sys.recvMmsg(fd, batch.vectorAddress(), batch.capacity(), flags);
    }

    /** sendmsg(2) of the gathered pieces; returns bytes sent or {@code -errno}. */
    public long send(final IoVector vector)
    {
        return vector.send(fd, 0);
    }

    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            Sys.close(fd);
            scratch.close();
        }
    }
}

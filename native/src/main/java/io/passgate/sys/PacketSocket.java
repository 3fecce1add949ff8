package io.passgate.sys;

import java.nio.ByteOrder;

/**
 * An {@code AF_PACKET} raw socket bound to one interface, for the AF_PACKET dataplane and for tests
 * that must see frames on the wire.
 */
public final class PacketSocket implements AutoCloseable
{
    private final int fd;
    private final int ifIndex;
    private final NativeBuffer scratch;
    private boolean closed;

    private PacketSocket(final int fd, final int ifIndex) throws ErrnoException
    {
        this.fd = fd;
        this.ifIndex = ifIndex;
        this.scratch = NativeBuffer.allocate(64);
    }

    /** Opens a socket for all protocols (ETH_P_ALL) bound to {@code ifName}. Needs CAP_NET_RAW. */
    public static PacketSocket open(final String ifName) throws ErrnoException
    {
        final int ifIndex = Sys.ifNameToIndex(ifName);
        final int protocolBe = Short.toUnsignedInt(Short.reverseBytes((short)Linux.ETH_P_ALL));
        final int fd = Sys.socket(Linux.AF_PACKET, Linux.SOCK_RAW | Linux.SOCK_CLOEXEC, protocolBe);
        try
        {
            final PacketSocket socket = new PacketSocket(fd, ifIndex);
            final var b = socket.scratch.buffer();
            b.setMemory(0, Structs.SOCKADDR_LL_SIZE, (byte)0);
            b.putShort(0, (short)Linux.AF_PACKET, ByteOrder.nativeOrder());
            b.putShort(2, (short)Linux.ETH_P_ALL, ByteOrder.BIG_ENDIAN);
            b.putInt(4, ifIndex, ByteOrder.nativeOrder());
            Sys.bind(fd, socket.scratch.address(), Structs.SOCKADDR_LL_SIZE, "AF_PACKET " + ifName);
            return socket;
        }
        catch (final ErrnoException | RuntimeException e)
        {
            Sys.close(fd);
            throw e;
        }
    }

    public int fd()
    {
        return fd;
    }

    public int ifIndex()
    {
        return ifIndex;
    }

    public void setInt(final int level, final int option, final int value, final String what) throws ErrnoException
    {
        scratch.buffer().putInt(32, value, ByteOrder.nativeOrder());
        Sys.setsockopt(fd, level, option, scratch.address() + 32, 4, what);
    }

    /** One frame; returns bytes received or {@code -errno}. */
    public long receive(final long address, final int length, final int flags)
    {
        return Sys.recv(fd, address, length, flags);
    }

    /** One frame, starting with its Ethernet header; returns bytes sent or {@code -errno}. */
    public long send(final long address, final int length)
    {
        return Sys.send(fd, address, length, 0);
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

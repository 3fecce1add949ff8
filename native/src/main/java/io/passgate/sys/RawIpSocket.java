package io.passgate.sys;

import java.nio.ByteOrder;

/**
 * An {@code AF_INET} raw socket with {@code IP_HDRINCL} (implied by IPPROTO_RAW) for injecting packets
 * passgate builds itself: TCP RSTs, ICMP errors. The kernel fills in the IP header checksum and, when they
 * are zero, the source address and identification.
 */
public final class RawIpSocket implements AutoCloseable
{
    private final int fd;
    private static final int IOV = Structs.MSGHDR_SIZE;
    private static final int SOCKADDR = IOV + Structs.IOVEC_SIZE;

    /** msghdr, one iovec and the destination sockaddr_in, filled per send (sendmsg, not sendto). */
    private final NativeBuffer address;
    private boolean closed;

    private RawIpSocket(final int fd) throws ErrnoException
    {
        this.fd = fd;
        this.address = NativeBuffer.allocate(SOCKADDR + Structs.SOCKADDR_IN_SIZE);
        address.putAddress(Structs.MSGHDR_NAME, address.address() + SOCKADDR);
        address.buffer().putInt(Structs.MSGHDR_NAMELEN, Structs.SOCKADDR_IN_SIZE, ByteOrder.nativeOrder());
        address.putAddress(Structs.MSGHDR_IOV, address.address() + IOV);
        address.putAddress(Structs.MSGHDR_IOVLEN, 1);
    }

    public static RawIpSocket open() throws ErrnoException
    {
        final int fd = Sys.socket(Linux.AF_INET, Linux.SOCK_RAW | Linux.SOCK_CLOEXEC, Linux.IPPROTO_RAW);
        try
        {
            final RawIpSocket socket = new RawIpSocket(fd);
            final int scratch = SOCKADDR;
            socket.address.buffer().putInt(scratch, 1, ByteOrder.nativeOrder());
            Sys.setsockopt(fd, Linux.IPPROTO_IP, Linux.IP_HDRINCL, socket.address.address() + scratch, 4, "IP_HDRINCL");
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

    /**
     * Sends a complete IPv4 packet at {@code packet} to {@code destination} (host order).
     * Returns bytes sent or {@code -errno}.
     */
    public long send(final long packet, final int length, final int destination)
    {
        Structs.putSockaddrIn(address.buffer(), SOCKADDR, destination, 0);
        address.putAddress(IOV + Structs.IOVEC_BASE, packet);
        address.putAddress(IOV + Structs.IOVEC_LEN, length);
        return Sys.sendMsg(fd, address.address(), Linux.MSG_DONTWAIT);
    }

    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            Sys.close(fd);
            address.close();
        }
    }
}

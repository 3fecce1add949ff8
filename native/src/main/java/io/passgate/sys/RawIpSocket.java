package io.passgate.sys;

/**
 * An {@code AF_INET} raw socket with {@code IP_HDRINCL} (implied by IPPROTO_RAW) for injecting packets
 * passgate builds itself: TCP RSTs, ICMP errors. The kernel fills in the IP header checksum and, when they
 * are zero, the source address and identification.
 */
public final class RawIpSocket implements AutoCloseable
{
    private final int fd;
    private final DatagramMessage message;
    private boolean closed;

    private RawIpSocket(final int fd) throws ErrnoException
    {
        this.fd = fd;
        this.message = new DatagramMessage();
    }

    public static RawIpSocket open() throws ErrnoException
    {
        final int fd = Sys.socket(Linux.AF_INET, Linux.SOCK_RAW | Linux.SOCK_CLOEXEC, Linux.IPPROTO_RAW);
        final RawIpSocket socket;
        try
        {
            socket = new RawIpSocket(fd);
        }
        catch (final ErrnoException | RuntimeException e)
        {
            Sys.close(fd);
            throw e;
        }
        try
        {
            socket.message.setInt(fd, Linux.IPPROTO_IP, Linux.IP_HDRINCL, 1, "IP_HDRINCL");
            return socket;
        }
        catch (final ErrnoException | RuntimeException e)
        {
            socket.close();
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
        return message.send(fd, packet, length, destination, Linux.MSG_DONTWAIT);
    }

    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            Sys.close(fd);
            message.close();
        }
    }
}

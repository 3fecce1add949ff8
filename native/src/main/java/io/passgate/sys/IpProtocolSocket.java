package io.passgate.sys;

/**
 * An {@code AF_INET} raw socket for one IP protocol (GRE, ESP) without IP_HDRINCL: a send carries the
 * protocol's header and payload and the kernel adds the IP header; a receive returns whole IPv4 packets of
 * that protocol addressed to this host. Used by passgate's own tunnel test peers.
 */
public final class IpProtocolSocket implements AutoCloseable
{
    private final int fd;
    private final DatagramMessage message;
    private boolean closed;

    private IpProtocolSocket(final int fd) throws ErrnoException
    {
        this.fd = fd;
        this.message = new DatagramMessage();
    }

    /** Opens a raw socket for IP protocol {@code protocol} (47 GRE, 50 ESP). Needs CAP_NET_RAW. */
    public static IpProtocolSocket open(final int protocol) throws ErrnoException
    {
        final int fd = Sys.socket(Linux.AF_INET, Linux.SOCK_RAW | Linux.SOCK_CLOEXEC, protocol);
        try
        {
            return new IpProtocolSocket(fd);
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

    /** Sends {@code length} bytes (the protocol header and payload) to {@code destination} (host order). */
    public long send(final long payload, final int length, final int destination)
    {
        return message.send(fd, payload, length, destination, 0);
    }

    /** Receives one IPv4 packet (with its IP header); returns its length or {@code -errno}. */
    public long receive(final long address, final int length, final int flags)
    {
        return Sys.recv(fd, address, length, flags);
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

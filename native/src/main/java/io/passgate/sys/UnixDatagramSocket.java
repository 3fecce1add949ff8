package io.passgate.sys;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * An {@code AF_UNIX} datagram socket addressed by a file system path or, written with a leading {@code '@'}, by
 * a name in the abstract namespace: the two forms systemd passes in {@code $NOTIFY_SOCKET} (sd_notify(3)). The
 * daemon sends its readiness and watchdog messages with one; tests bind one to receive them. Java's own
 * channels have no Unix datagrams. Control path: a send or receive copies its bytes through memory allocated
 * once at open.
 */
public final class UnixDatagramSocket implements AutoCloseable
{
    /** The largest datagram {@link #send} takes and {@link #receive} returns whole. */
    public static final int MAX_DATAGRAM = 4096;

    private static final int IOV = Structs.MSGHDR_SIZE;
    private static final int NAME = IOV + Structs.IOVEC_SIZE;
    private static final int POLLFD = Structs.align(NAME + Structs.SOCKADDR_UN_SIZE, 8);
    private static final int DATA = POLLFD + Structs.POLLFD_SIZE;

    private final int fd;
    private final NativeBuffer memory;
    private boolean closed;

    private UnixDatagramSocket(final int fd) throws ErrnoException
    {
        this.fd = fd;
        this.memory = NativeBuffer.allocate(DATA + MAX_DATAGRAM);
        memory.putAddress(IOV + Structs.IOVEC_BASE, memory.address() + DATA);
        memory.putAddress(Structs.MSGHDR_IOV, memory.address() + IOV);
        memory.putAddress(Structs.MSGHDR_IOVLEN, 1);
    }

    /** A new unbound socket (close-on-exec, so the daemon's nft and iptables children do not inherit it). */
    public static UnixDatagramSocket open() throws ErrnoException
    {
        final int fd = Sys.socket(Linux.AF_UNIX, Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, 0);
        try
        {
            return new UnixDatagramSocket(fd);
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

    /** Binds to {@code address}: a path (the file must not exist) or {@code @name}. */
    public void bind(final String address) throws ErrnoException
    {
        final int length = putAddress(memory.buffer(), NAME, address);
        Sys.bind(fd, memory.address() + NAME, length, "AF_UNIX " + address);
    }

    /** Sends one datagram to {@code address} without blocking (EAGAIN when the receiver's queue is full). */
    public void send(final String address, final byte[] datagram) throws ErrnoException
    {
        if (datagram.length > MAX_DATAGRAM)
        {
            throw new IllegalArgumentException("datagram of " + datagram.length + " bytes > " + MAX_DATAGRAM);
        }
        final UnsafeBuffer view = memory.buffer();
        final int nameLength = putAddress(view, NAME, address);
        view.putBytes(DATA, datagram);
        memory.putAddress(Structs.MSGHDR_NAME, memory.address() + NAME);
        view.putInt(Structs.MSGHDR_NAMELEN, nameLength, ByteOrder.nativeOrder());
        memory.putAddress(IOV + Structs.IOVEC_LEN, datagram.length);
        final long sent = Sys.sendMsg(fd, memory.address(), Linux.MSG_DONTWAIT);
        if (sent < 0)
        {
            throw Sys.error("sendmsg(AF_UNIX " + address + ")", sent);
        }
    }

    /**
     * Waits up to {@code timeoutMs} for one datagram and copies it into {@code into}; returns its length (cut
     * to {@code into.length}), or -1 when none came in time.
     */
    public int receive(final byte[] into, final int timeoutMs) throws ErrnoException
    {
        final UnsafeBuffer view = memory.buffer();
        view.putInt(POLLFD, fd, ByteOrder.nativeOrder());
        view.putShort(POLLFD + 4, Linux.POLLIN, ByteOrder.nativeOrder());
        view.putShort(POLLFD + 6, (short)0, ByteOrder.nativeOrder());
        final long ready = Sys.poll(memory.address() + POLLFD, 1, timeoutMs);
        if (ready < 0)
        {
            throw Sys.error("poll(AF_UNIX)", ready);
        }
        if (ready == 0)
        {
            return -1;
        }
        final long n = Sys.recv(fd, memory.address() + DATA, MAX_DATAGRAM, Linux.MSG_DONTWAIT);
        if (n < 0)
        {
            throw Sys.error("recv(AF_UNIX)", n);
        }
        final int length = (int)Math.min(n, into.length);
        view.getBytes(DATA, into, 0, length);
        return length;
    }

    /**
     * Writes a {@code struct sockaddr_un} for {@code address} at {@code offset}; returns the address length to
     * pass to the kernel: the path and its NUL, or for {@code @name} a NUL and the name (no NUL after it).
     */
    static int putAddress(final UnsafeBuffer buffer, final int offset, final String address)
    {
        final boolean abstractName = address.startsWith("@");
        final byte[] name = (abstractName ? address.substring(1) : address).getBytes(StandardCharsets.UTF_8);
        if (name.length == 0 || name.length + 1 > Structs.SOCKADDR_UN_PATH_MAX)
        {
            throw new IllegalArgumentException("AF_UNIX address must be 1.." + (Structs.SOCKADDR_UN_PATH_MAX - 1)
                + " bytes: '" + address + "'");
        }
        buffer.setMemory(offset, Structs.SOCKADDR_UN_SIZE, (byte)0);
        buffer.putShort(offset, (short)Linux.AF_UNIX, ByteOrder.nativeOrder());
        final int path = offset + Structs.SOCKADDR_UN_PATH;
        buffer.putBytes(abstractName ? path + 1 : path, name);
        return Structs.SOCKADDR_UN_PATH + name.length + 1;
    }

    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            Sys.close(fd);
            memory.close();
        }
    }
}

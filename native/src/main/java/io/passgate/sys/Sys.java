package io.passgate.sys;

import static io.passgate.sys.Native.LIBC;

/**
 * Thin, allocation-free wrappers over the libc calls in {@link Native.LibC}.
 *
 * <p>Packet-path calls ({@code send}, {@code recv}, {@code sendmsg}, {@code recvmmsg}, {@code poll}) return
 * the result, or {@code -errno} on failure, so an expected condition such as {@code EAGAIN} or
 * {@code ENOBUFS} is handled by the caller without an exception. EINTR is retried in exactly one
 * place, {@link #call}. Control-path calls throw {@link ErrnoException} naming the operation.
 */
public final class Sys
{
    private static final int OP_SEND = 1;
    private static final int OP_RECV = 3;
    private static final int OP_SENDMSG = 4;
    private static final int OP_RECVMSG = 5;
    private static final int OP_RECVMMSG = 6;
    private static final int OP_SENDMMSG = 7;
    private static final int OP_POLL = 8;
    private static final int OP_CONNECT = 9;
    private static final int OP_READ = 10;
    private static final int OP_WRITE = 11;
    private static final int OP_IOCTL = 12;

    private Sys()
    {
    }

    /** Size of a native pointer on this platform (4 or 8). */
    public static int addressSize()
    {
        return Native.ADDRESS_SIZE;
    }

    /**
     * The one place a call interrupted by a signal is restarted. Returns the call's non-negative result,
     * or {@code -errno}.
     */
    private static long call(final int op, final int fd, final long a, final long b, final int flags, final long c)
    {
        while (true)
        {
            final long r = switch (op)
            {
                case OP_SEND -> LIBC.send(fd, a, b, flags);
                case OP_RECV -> LIBC.recv(fd, a, b, flags);
                case OP_SENDMSG -> LIBC.sendmsg(fd, a, flags);
                case OP_RECVMSG -> LIBC.recvmsg(fd, a, flags);
                case OP_RECVMMSG -> LIBC.recvmmsg(fd, a, (int)b, flags, c);
                case OP_SENDMMSG -> LIBC.sendmmsg(fd, a, (int)b, flags);
                case OP_POLL -> LIBC.poll(a, b, flags);
                case OP_CONNECT -> LIBC.connect(fd, a, (int)b);
                case OP_READ -> LIBC.read(fd, a, b);
                case OP_WRITE -> LIBC.write(fd, a, b);
                case OP_IOCTL -> LIBC.ioctl(fd, a, b);
                default -> throw new IllegalArgumentException("unknown op " + op);
            };
            if (r >= 0)
            {
                return r;
            }
            final int errno = Native.errno();
            if (errno != Linux.EINTR)
            {
                return -errno;
            }
        }
    }

    // ---------------------------------------------------------------- packet path: results or -errno

    public static long send(final int fd, final long buf, final long len, final int flags)
    {
        return call(OP_SEND, fd, buf, len, flags, 0);
    }

    public static long recv(final int fd, final long buf, final long len, final int flags)
    {
        return call(OP_RECV, fd, buf, len, flags, 0);
    }

    public static long sendMsg(final int fd, final long msghdr, final int flags)
    {
        return call(OP_SENDMSG, fd, msghdr, 0, flags, 0);
    }

    public static long recvMsg(final int fd, final long msghdr, final int flags)
    {
        return call(OP_RECVMSG, fd, msghdr, 0, flags, 0);
    }

    public static long recvMmsg(final int fd, final long msgvec, final int vlen, final int flags)
    {
        return call(OP_RECVMMSG, fd, msgvec, vlen, flags, 0);
    }

    public static long sendMmsg(final int fd, final long msgvec, final int vlen, final int flags)
    {
        return call(OP_SENDMMSG, fd, msgvec, vlen, flags, 0);
    }

    public static long poll(final long fds, final int nfds, final int timeoutMs)
    {
        return call(OP_POLL, -1, fds, nfds, timeoutMs, 0);
    }

    public static long read(final int fd, final long buf, final long len)
    {
        return call(OP_READ, fd, buf, len, 0, 0);
    }

    public static long write(final int fd, final long buf, final long len)
    {
        return call(OP_WRITE, fd, buf, len, 0, 0);
    }

    /** ioctl(2) with a pointer argument: its result, or {@code -errno}. */
    public static long ioctl(final int fd, final long request, final long arg)
    {
        return call(OP_IOCTL, fd, request, arg, 0, 0);
    }

    // ---------------------------------------------------------------- control path: throw on failure

    public static int eventfd(final int initialValue, final int flags) throws ErrnoException
    {
        final int fd = LIBC.eventfd(initialValue, flags);
        if (fd < 0)
        {
            throw new ErrnoException("eventfd", Native.errno());
        }
        return fd;
    }

    public static int socket(final int domain, final int type, final int protocol) throws ErrnoException
    {
        final int fd = LIBC.socket(domain, type, protocol);
        if (fd < 0)
        {
            throw new ErrnoException("socket(" + domain + ", " + type + ", " + protocol + ")", Native.errno());
        }
        return fd;
    }

    public static void bind(final int fd, final long addr, final int addrLen, final String what) throws ErrnoException
    {
        if (LIBC.bind(fd, addr, addrLen) < 0)
        {
            throw new ErrnoException("bind(" + what + ")", Native.errno());
        }
    }

    public static void connect(final int fd, final long addr, final int addrLen, final String what)
        throws ErrnoException
    {
        final long r = call(OP_CONNECT, fd, addr, addrLen, 0, 0);
        if (r < 0)
        {
            throw new ErrnoException("connect(" + what + ")", (int)-r);
        }
    }

    public static void setsockopt(final int fd, final int level, final int name, final long value, final int len,
        final String what) throws ErrnoException
    {
        if (LIBC.setsockopt(fd, level, name, value, len) < 0)
        {
            throw new ErrnoException("setsockopt(" + what + ")", Native.errno());
        }
    }

    public static void getsockopt(final int fd, final int level, final int name, final long value,
        final long lenPtr, final String what) throws ErrnoException
    {
        if (LIBC.getsockopt(fd, level, name, value, lenPtr) < 0)
        {
            throw new ErrnoException("getsockopt(" + what + ")", Native.errno());
        }
    }

    public static void getsockname(final int fd, final long addr, final long lenPtr) throws ErrnoException
    {
        if (LIBC.getsockname(fd, addr, lenPtr) < 0)
        {
            throw new ErrnoException("getsockname", Native.errno());
        }
    }

    /** close(2). Never retried on EINTR: on Linux the descriptor is released either way. */
    public static void close(final int fd)
    {
        if (fd >= 0)
        {
            LIBC.close(fd);
        }
    }

    public static int open(final String path, final int flags) throws ErrnoException
    {
        final int fd = LIBC.open(path, flags);
        if (fd < 0)
        {
            throw new ErrnoException("open(" + path + ")", Native.errno());
        }
        return fd;
    }

    public static void setns(final int fd, final int nsType, final String what) throws ErrnoException
    {
        if (LIBC.setns(fd, nsType) < 0)
        {
            throw new ErrnoException("setns(" + what + ")", Native.errno());
        }
    }

    public static int ifNameToIndex(final String name) throws ErrnoException
    {
        final int index = LIBC.if_nametoindex(name);
        if (index == 0)
        {
            throw new ErrnoException("if_nametoindex(" + name + ")", Native.errno());
        }
        return index;
    }

    public static long mmap(final long length, final int prot, final int flags, final int fd, final long offset)
        throws ErrnoException
    {
        final long address = LIBC.mmap64(null, length, prot, flags, fd, offset);
        if (address == Linux.MAP_FAILED || address == 0)
        {
            throw new ErrnoException("mmap(" + length + " bytes)", Native.errno());
        }
        return address;
    }

    public static void munmap(final long address, final long length) throws ErrnoException
    {
        if (LIBC.munmap(address, length) < 0)
        {
            throw new ErrnoException("munmap", Native.errno());
        }
    }

    public static int getpid()
    {
        return LIBC.getpid();
    }

    /** Builds the exception for a packet-path call that returned {@code -errno}. */
    public static ErrnoException error(final String operation, final long negativeErrno)
    {
        return new ErrnoException(operation, (int)-negativeErrno);
    }
}

package io.passgate.sys;

/**
 * errno names and descriptions for messages (generic Linux table, <asm-generic/errno-base.h> and
 * <asm-generic/errno.h>; the values passgate can meet).
 */
public final class Errno
{
    private static final String[][] TABLE = new String[134][];

    static
    {
        def(1, "EPERM", "Operation not permitted");
        def(2, "ENOENT", "No such file or directory");
        def(3, "ESRCH", "No such process");
        def(4, "EINTR", "Interrupted system call");
        def(5, "EIO", "I/O error");
        def(6, "ENXIO", "No such device or address");
        def(9, "EBADF", "Bad file number");
        def(11, "EAGAIN", "Try again");
        def(12, "ENOMEM", "Out of memory");
        def(13, "EACCES", "Permission denied");
        def(14, "EFAULT", "Bad address");
        def(16, "EBUSY", "Device or resource busy");
        def(17, "EEXIST", "File exists");
        def(19, "ENODEV", "No such device");
        def(20, "ENOTDIR", "Not a directory");
        def(22, "EINVAL", "Invalid argument");
        def(23, "ENFILE", "File table overflow");
        def(24, "EMFILE", "Too many open files");
        def(25, "ENOTTY", "Not a typewriter (not a device of that kind)");
        def(28, "ENOSPC", "No space left on device");
        def(32, "EPIPE", "Broken pipe");
        def(34, "ERANGE", "Math result not representable");
        def(38, "ENOSYS", "Function not implemented");
        def(61, "ENODATA", "No data available");
        def(71, "EPROTO", "Protocol error");
        def(74, "EBADMSG", "Not a data message");
        def(75, "EOVERFLOW", "Value too large for defined data type");
        def(88, "ENOTSOCK", "Socket operation on non-socket");
        def(90, "EMSGSIZE", "Message too long");
        def(92, "ENOPROTOOPT", "Protocol not available");
        def(93, "EPROTONOSUPPORT", "Protocol not supported");
        def(95, "EOPNOTSUPP", "Operation not supported");
        def(97, "EAFNOSUPPORT", "Address family not supported by protocol");
        def(98, "EADDRINUSE", "Address already in use");
        def(99, "EADDRNOTAVAIL", "Cannot assign requested address");
        def(100, "ENETDOWN", "Network is down");
        def(101, "ENETUNREACH", "Network is unreachable");
        def(104, "ECONNRESET", "Connection reset by peer");
        def(105, "ENOBUFS", "No buffer space available");
        def(107, "ENOTCONN", "Transport endpoint is not connected");
        def(110, "ETIMEDOUT", "Connection timed out");
        def(111, "ECONNREFUSED", "Connection refused");
        def(113, "EHOSTUNREACH", "No route to host");
    }

    private Errno()
    {
    }

    private static void def(final int errno, final String name, final String description)
    {
        TABLE[errno] = new String[] {name, description};
    }

    public static String name(final int errno)
    {
        return errno > 0 && errno < TABLE.length && TABLE[errno] != null ? TABLE[errno][0] : "errno " + errno;
    }

    public static String describe(final int errno)
    {
        return errno > 0 && errno < TABLE.length && TABLE[errno] != null ? TABLE[errno][1] : "unknown error";
    }
}

package io.passgate.sys;

import java.io.IOException;

/**
 * A failed system call: the operation that failed and its errno. Thrown only off the packet path;
 * packet-path wrappers return {@code -errno} instead so that an expected condition
 * ({@code EAGAIN}, {@code ENOBUFS}) creates no object.
 */
public final class ErrnoException extends IOException
{
    private static final long serialVersionUID = 1L;

    private final String operation;
    private final int errno;

    public ErrnoException(final String operation, final int errno)
    {
        super(operation + " failed: " + Errno.name(errno) + " (" + Errno.describe(errno) + ")");
        this.operation = operation;
        this.errno = errno;
    }

    public String operation()
    {
        return operation;
    }

    public int errno()
    {
        return errno;
    }

    public String errnoName()
    {
        return Errno.name(errno);
    }
}

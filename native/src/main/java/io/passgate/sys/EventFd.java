package io.passgate.sys;

/**
 * An eventfd(2): another thread's {@link #signal} makes it readable, so a thread idling in poll(2) wakes at
 * once. Non-blocking; signal and drain allocate nothing.
 */
public final class EventFd implements AutoCloseable
{
    private final int fd;
    private final NativeBuffer memory;
    private boolean closed;

    public EventFd() throws ErrnoException
    {
        this.fd = Sys.eventfd(0, Linux.EFD_NONBLOCK | Linux.EFD_CLOEXEC);
        try
        {
            this.memory = NativeBuffer.allocate(16);
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

    /** Adds 1 to the counter: the descriptor becomes readable. Any thread. */
    public void signal()
    {
        memory.buffer().putLong(0, 1L);
        Sys.write(fd, memory.address(), 8);
    }

    /** Resets the counter (the descriptor is no longer readable); returns how many signals there were. */
    public long drain()
    {
        final long r = Sys.read(fd, memory.address() + 8, 8);
        return r == 8 ? memory.buffer().getLong(8) : 0;
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

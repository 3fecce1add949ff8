package io.passgate.sys;

import java.nio.ByteOrder;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * One requested GPIO line (the line request's file descriptor, from {@link GpioChip}). Reading and writing
 * its value and waiting for its edges allocate nothing: they use native memory allocated with the line.
 * Closing it releases the line to the kernel (and to other processes).
 */
public final class GpioLine implements AutoCloseable
{
    /** Edge events read at once, at most (the kernel queues 16 per line by default). */
    public static final int EVENT_CAPACITY = 16;

    private static final int VALUES = 0;
    private static final int POLLFD = 64;
    private static final int EVENTS = 128;

    private final int fd;
    private final int offset;
    private final String where;
    private final NativeBuffer memory;
    private final UnsafeBuffer view;
    private final long address;
    private int events;
    private boolean closed;

    GpioLine(final int fd, final int offset, final String where) throws ErrnoException
    {
        this.fd = fd;
        this.offset = offset;
        this.where = where;
        this.memory = NativeBuffer.allocate(EVENTS + EVENT_CAPACITY * Structs.GPIO_V2_LINE_EVENT_SIZE);
        this.view = memory.buffer();
        this.address = memory.address();
        view.putInt(POLLFD, fd, ByteOrder.nativeOrder());
        view.putShort(POLLFD + 4, Linux.POLLIN, ByteOrder.nativeOrder());
    }

    public int offset()
    {
        return offset;
    }

    /** The line request's descriptor (readable when edge events are queued). */
    public int fd()
    {
        return fd;
    }

    /** "/dev/gpiochip0 line 17", for messages. */
    public String where()
    {
        return where;
    }

    /** The line's logical value (active-low applied by the kernel when requested so). */
    public boolean value() throws ErrnoException
    {
        view.putLong(VALUES + Structs.GPIO_V2_LINE_VALUES_BITS, 0L, ByteOrder.nativeOrder());
        view.putLong(VALUES + Structs.GPIO_V2_LINE_VALUES_MASK, 1L, ByteOrder.nativeOrder());
        final long r = Sys.ioctl(fd, Linux.GPIO_V2_LINE_GET_VALUES_IOCTL, address + VALUES);
        if (r < 0)
        {
            throw new ErrnoException("GPIO_V2_LINE_GET_VALUES_IOCTL(" + where + ")", (int)-r);
        }
        return (view.getLong(VALUES + Structs.GPIO_V2_LINE_VALUES_BITS, ByteOrder.nativeOrder()) & 1L) != 0;
    }

    /** Drives an output line. */
    public void value(final boolean on) throws ErrnoException
    {
        view.putLong(VALUES + Structs.GPIO_V2_LINE_VALUES_BITS, on ? 1L : 0L, ByteOrder.nativeOrder());
        view.putLong(VALUES + Structs.GPIO_V2_LINE_VALUES_MASK, 1L, ByteOrder.nativeOrder());
        final long r = Sys.ioctl(fd, Linux.GPIO_V2_LINE_SET_VALUES_IOCTL, address + VALUES);
        if (r < 0)
        {
            throw new ErrnoException("GPIO_V2_LINE_SET_VALUES_IOCTL(" + where + ")", (int)-r);
        }
    }

    /**
     * Waits up to {@code timeoutMs} (0: do not wait) for edge events and reads those queued (up to
     * {@link #EVENT_CAPACITY}); returns how many, 0 on timeout. Read them with {@link #eventRising} and
     * {@link #eventTimestampNs}.
     */
    public int awaitEvents(final int timeoutMs) throws ErrnoException
    {
        events = 0;
        final long ready = Sys.poll(address + POLLFD, 1, timeoutMs);
        if (ready < 0)
        {
            throw new ErrnoException("poll(" + where + ")", (int)-ready);
        }
        if (ready == 0)
        {
            return 0;
        }
        final long n = Sys.read(fd, address + EVENTS, (long)EVENT_CAPACITY * Structs.GPIO_V2_LINE_EVENT_SIZE);
        if (n < 0)
        {
            throw new ErrnoException("read(" + where + " edge events)", (int)-n);
        }
        events = (int)(n / Structs.GPIO_V2_LINE_EVENT_SIZE);
        return events;
    }

    /** Event {@code i} of the last {@link #awaitEvents}: a rising edge (else falling), of the logical value. */
    public boolean eventRising(final int i)
    {
        return view.getInt(event(i) + Structs.GPIO_V2_LINE_EVENT_ID, ByteOrder.nativeOrder())
            == Linux.GPIO_V2_LINE_EVENT_RISING_EDGE;
    }

    /** The kernel's timestamp of event {@code i} (CLOCK_MONOTONIC unless the line asked for REALTIME). */
    public long eventTimestampNs(final int i)
    {
        return view.getLong(event(i) + Structs.GPIO_V2_LINE_EVENT_TIMESTAMP_NS, ByteOrder.nativeOrder());
    }

    /** The line's own sequence number of event {@code i}: a gap means the kernel's queue overflowed. */
    public int eventLineSeqno(final int i)
    {
        return view.getInt(event(i) + Structs.GPIO_V2_LINE_EVENT_LINE_SEQNO, ByteOrder.nativeOrder());
    }

    private int event(final int i)
    {
        if (i < 0 || i >= events)
        {
            throw new IndexOutOfBoundsException("event " + i + " of " + events);
        }
        return EVENTS + i * Structs.GPIO_V2_LINE_EVENT_SIZE;
    }

    /** Releases the line. */
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

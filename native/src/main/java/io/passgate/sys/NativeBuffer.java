package io.passgate.sys;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * Native memory outside the Java heap, page aligned and zeroed (an anonymous private mapping).
 * Allocated once at start-up; packet-path code reads and writes it through {@link #buffer()}.
 */
public final class NativeBuffer implements AutoCloseable
{
    private final long address;
    private final int capacity;
    private final UnsafeBuffer buffer;
    private boolean closed;

    private NativeBuffer(final long address, final int capacity)
    {
        this.address = address;
        this.capacity = capacity;
        this.buffer = new UnsafeBuffer(address, capacity);
    }

    public static NativeBuffer allocate(final int capacity) throws ErrnoException
    {
        if (capacity <= 0)
        {
            throw new IllegalArgumentException("capacity must be positive: " + capacity);
        }
        final long address = Sys.mmap(capacity, Linux.PROT_READ | Linux.PROT_WRITE,
            Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS, -1, 0);
        return new NativeBuffer(address, capacity);
    }

    public long address()
    {
        return address;
    }

    public int capacity()
    {
        return capacity;
    }

    /** A view over the whole memory. The same instance every call. */
    public UnsafeBuffer buffer()
    {
        return buffer;
    }

    /** Writes a native pointer-sized value ({@code void*}, {@code size_t}) at {@code offset}. */
    public void putAddress(final int offset, final long value)
    {
        Structs.putAddress(buffer, offset, value);
    }

    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            buffer.wrap(0, 0);
            try
            {
                Sys.munmap(address, capacity);
            }
            catch (final ErrnoException ignore)
            {
                // nothing useful to do at release time
            }
        }
    }
}

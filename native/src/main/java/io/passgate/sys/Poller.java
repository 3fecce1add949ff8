package io.passgate.sys;

import java.nio.ByteOrder;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * poll(2) over a fixed set of descriptors kept in preallocated native memory.
 */
public final class Poller implements AutoCloseable
{
    private final NativeBuffer memory;
    private final UnsafeBuffer view;
    private final int capacity;
    private int count;

    public Poller(final int capacity) throws ErrnoException
    {
        this.capacity = capacity;
        this.memory = NativeBuffer.allocate(capacity * Structs.POLLFD_SIZE);
        this.view = memory.buffer();
    }

    /** Adds a descriptor to watch for {@code events}; returns its index. */
    public int add(final int fd, final short events)
    {
        if (count == capacity)
        {
            throw new IllegalStateException("poller full: " + capacity);
        }
        final int offset = count * Structs.POLLFD_SIZE;
        view.putInt(offset, fd, ByteOrder.nativeOrder());
        view.putShort(offset + 4, events, ByteOrder.nativeOrder());
        view.putShort(offset + 6, (short)0, ByteOrder.nativeOrder());
        return count++;
    }

    /** Waits up to {@code timeoutMs} (-1 forever); returns ready descriptors, 0 on timeout, or -errno. */
    public int poll(final int timeoutMs)
    {
        return (int)Sys.poll(memory.address(), count, timeoutMs);
    }

    public short revents(final int index)
    {
        return view.getShort(index * Structs.POLLFD_SIZE + 6, ByteOrder.nativeOrder());
    }

    @Override
    public void close()
    {
        memory.close();
    }
}

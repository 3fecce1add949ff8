package io.passgate.sys;

/**
 * A preallocated gather list for {@code sendmsg(2)}: up to {@code capacity} (address, length) pieces sent
 * as one datagram. Used to send a batch of netlink messages whose packet payloads stay where they were
 * received, without copying them.
 */
public final class IoVector implements AutoCloseable
{
    private final int capacity;
    private final NativeBuffer memory;
    private int count;
    private long totalLength;

    public IoVector(final int capacity) throws ErrnoException
    {
        if (capacity < 1 || capacity > 1024)
        {
            throw new IllegalArgumentException("iovec count must be 1..1024 (UIO_MAXIOV): " + capacity);
        }
        this.capacity = capacity;
        this.memory = NativeBuffer.allocate(Structs.MSGHDR_SIZE + capacity * Structs.IOVEC_SIZE);
        memory.putAddress(Structs.MSGHDR_IOV, memory.address() + Structs.MSGHDR_SIZE);
    }

    public int capacity()
    {
        return capacity;
    }

    public int count()
    {
        return count;
    }

    public int remaining()
    {
        return capacity - count;
    }

    public long totalLength()
    {
        return totalLength;
    }

    public void clear()
    {
        count = 0;
        totalLength = 0;
    }

    /** Appends a piece; returns false (and appends nothing) when the vector is full. */
    public boolean add(final long address, final int length)
    {
        if (count == capacity)
        {
            return false;
        }
        if (length > 0)
        {
            final int iov = Structs.MSGHDR_SIZE + count * Structs.IOVEC_SIZE;
            memory.putAddress(iov + Structs.IOVEC_BASE, address);
            memory.putAddress(iov + Structs.IOVEC_LEN, length);
            count++;
            totalLength += length;
        }
        return true;
    }

    /** sendmsg(2) of everything added; returns bytes sent or {@code -errno}. */
    public long send(final int fd, final int flags)
    {
        memory.putAddress(Structs.MSGHDR_IOVLEN, count);
        return Sys.sendMsg(fd, memory.address(), flags);
    }

    @Override
    public void close()
    {
        memory.close();
    }
}

package io.passgate.sys;

import java.nio.ByteOrder;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * A preallocated receive batch for {@code recvmmsg(2)}: {@code capacity} slots of {@code slotSize} bytes,
 * each with its own {@code struct mmsghdr} and {@code struct iovec}. After a receive, message {@code i}
 * lies at {@link #slotOffset(int)} in {@link #slots()} and is {@link #length(int)} bytes long.
 */
public final class MessageBatch implements AutoCloseable
{
    private final int capacity;
    private final int slotSize;
    private final NativeBuffer headers;
    private final NativeBuffer slots;
    private final UnsafeBuffer headerView;

    public MessageBatch(final int capacity, final int slotSize) throws ErrnoException
    {
        if (capacity < 1 || slotSize < 64)
        {
            throw new IllegalArgumentException("batch of " + capacity + " slots of " + slotSize + " bytes");
        }
        this.capacity = capacity;
        this.slotSize = Structs.align(slotSize, 8);
        this.headers = NativeBuffer.allocate(capacity * (Structs.MMSGHDR_SIZE + Structs.IOVEC_SIZE));
        this.slots = NativeBuffer.allocate(Math.multiplyExact(capacity, this.slotSize));
        this.headerView = headers.buffer();
        final int iovBase = capacity * Structs.MMSGHDR_SIZE;
        for (int i = 0; i < capacity; i++)
        {
            final int iov = iovBase + i * Structs.IOVEC_SIZE;
            headers.putAddress(iov + Structs.IOVEC_BASE, slots.address() + (long)i * this.slotSize);
            headers.putAddress(iov + Structs.IOVEC_LEN, this.slotSize);
            final int m = i * Structs.MMSGHDR_SIZE;
            headers.putAddress(m + Structs.MSGHDR_IOV, headers.address() + iov);
            headers.putAddress(m + Structs.MSGHDR_IOVLEN, 1);
        }
    }

    public int capacity()
    {
        return capacity;
    }

    public int slotSize()
    {
        return slotSize;
    }

    long vectorAddress()
    {
        return headers.address();
    }

    /** Bytes received into slot {@code i} by the last receive. */
    public int length(final int i)
    {
        return headerView.getInt(i * Structs.MMSGHDR_SIZE + Structs.MMSGHDR_LEN, ByteOrder.nativeOrder());
    }

    /** msg_flags of slot {@code i} after the last receive ({@link Linux#MSG_TRUNC} when cut short). */
    public int flags(final int i)
    {
        return headerView.getInt(i * Structs.MMSGHDR_SIZE + Structs.MSGHDR_FLAGS, ByteOrder.nativeOrder());
    }

    public int slotOffset(final int i)
    {
        return i * slotSize;
    }

    /** The memory every slot lives in. */
    public UnsafeBuffer slots()
    {
        return slots.buffer();
    }

    public long slotsAddress()
    {
        return slots.address();
    }

    @Override
    public void close()
    {
        headers.close();
        slots.close();
    }
}

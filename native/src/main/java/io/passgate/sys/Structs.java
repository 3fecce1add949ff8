package io.passgate.sys;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Offsets and sizes of the kernel structs passgate fills, for the running platform's pointer size
 * (glibc layouts; 8-byte pointers on x86_64/arm64, 4-byte on 32-bit arm).
 */
public final class Structs
{
    private static final int P = Native.ADDRESS_SIZE;

    private Structs()
    {
    }

    // <linux/uio.h> struct iovec { void *iov_base; size_t iov_len; }
    public static final int IOVEC_BASE = 0;
    public static final int IOVEC_LEN = P;
    public static final int IOVEC_SIZE = 2 * P;

    // <sys/socket.h> struct msghdr
    public static final int MSGHDR_NAME = 0;
    public static final int MSGHDR_NAMELEN = P;
    public static final int MSGHDR_IOV = 2 * P;
    public static final int MSGHDR_IOVLEN = 3 * P;
    public static final int MSGHDR_CONTROL = 4 * P;
    public static final int MSGHDR_CONTROLLEN = 5 * P;
    public static final int MSGHDR_FLAGS = 6 * P;
    public static final int MSGHDR_SIZE = 7 * P;

    // struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; } padded to pointer alignment
    public static final int MMSGHDR_LEN = MSGHDR_SIZE;
    public static final int MMSGHDR_SIZE = align(MSGHDR_SIZE + 4, P);

    // <linux/netlink.h> struct sockaddr_nl { u16 family; u16 pad; u32 pid; u32 groups; }
    public static final int SOCKADDR_NL_SIZE = 12;
    // <linux/in.h> struct sockaddr_in { u16 family; be16 port; be32 addr; u8 zero[8]; }
    public static final int SOCKADDR_IN_SIZE = 16;
    // <linux/if_packet.h> struct sockaddr_ll
    public static final int SOCKADDR_LL_SIZE = 20;
    // <asm-generic/poll.h> struct pollfd { int fd; short events; short revents; }
    public static final int POLLFD_SIZE = 8;

    public static int align(final int value, final int alignment)
    {
        return (value + alignment - 1) & -alignment;
    }

    public static void putAddress(final MutableDirectBuffer buffer, final int offset, final long value)
    {
        if (P == 8)
        {
            buffer.putLong(offset, value, ByteOrder.nativeOrder());
        }
        else
        {
            buffer.putInt(offset, (int)value, ByteOrder.nativeOrder());
        }
    }

    public static long getAddress(final MutableDirectBuffer buffer, final int offset)
    {
        return P == 8 ? buffer.getLong(offset, ByteOrder.nativeOrder())
            : buffer.getInt(offset, ByteOrder.nativeOrder()) & 0xFFFF_FFFFL;
    }

    /** Writes a struct sockaddr_in; {@code address} and {@code port} are host-order values. */
    public static void putSockaddrIn(final MutableDirectBuffer buffer, final int offset, final int address,
        final int port)
    {
        buffer.setMemory(offset, SOCKADDR_IN_SIZE, (byte)0);
        buffer.putShort(offset, (short)Linux.AF_INET, ByteOrder.nativeOrder());
        buffer.putShort(offset + 2, (short)port, ByteOrder.BIG_ENDIAN);
        buffer.putInt(offset + 4, address, ByteOrder.BIG_ENDIAN);
    }
}

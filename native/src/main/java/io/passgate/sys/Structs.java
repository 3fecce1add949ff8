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
    // <linux/un.h> struct sockaddr_un { u16 family; char path[108]; }: a path ends with a NUL, an abstract name
    // starts with one and takes the address length
    public static final int SOCKADDR_UN_PATH = 2;
    public static final int SOCKADDR_UN_PATH_MAX = 108;
    public static final int SOCKADDR_UN_SIZE = SOCKADDR_UN_PATH + SOCKADDR_UN_PATH_MAX;
    // <linux/if_packet.h> struct sockaddr_ll
    public static final int SOCKADDR_LL_SIZE = 20;
    // <asm-generic/poll.h> struct pollfd { int fd; short events; short revents; }
    public static final int POLLFD_SIZE = 8;

    // <linux/gpio.h> (uAPI v2: the same layout on every architecture)
    // struct gpiochip_info { char name[32]; char label[32]; u32 lines; }
    public static final int GPIOCHIP_INFO_NAME = 0;
    public static final int GPIOCHIP_INFO_LABEL = 32;
    public static final int GPIOCHIP_INFO_LINES = 64;
    public static final int GPIOCHIP_INFO_SIZE = 68;
    // struct gpio_v2_line_attribute { u32 id; u32 padding; union { u64 flags; u64 values; u32 debounce_period_us; } }
    public static final int GPIO_V2_LINE_ATTRIBUTE_ID = 0;
    public static final int GPIO_V2_LINE_ATTRIBUTE_VALUE = 8;
    public static final int GPIO_V2_LINE_ATTRIBUTE_SIZE = 16;
    // struct gpio_v2_line_config_attribute { struct gpio_v2_line_attribute attr; u64 mask; }
    public static final int GPIO_V2_LINE_CONFIG_ATTRIBUTE_MASK = 16;
    public static final int GPIO_V2_LINE_CONFIG_ATTRIBUTE_SIZE = 24;
    // struct gpio_v2_line_config { u64 flags; u32 num_attrs; u32 padding[5]; struct ..._config_attribute attrs[10]; }
    public static final int GPIO_V2_LINE_CONFIG_FLAGS = 0;
    public static final int GPIO_V2_LINE_CONFIG_NUM_ATTRS = 8;
    public static final int GPIO_V2_LINE_CONFIG_ATTRS = 32;
    public static final int GPIO_V2_LINE_CONFIG_SIZE = GPIO_V2_LINE_CONFIG_ATTRS
        + Linux.GPIO_V2_LINE_NUM_ATTRS_MAX * GPIO_V2_LINE_CONFIG_ATTRIBUTE_SIZE;
    // struct gpio_v2_line_request { u32 offsets[64]; char consumer[32]; struct gpio_v2_line_config config;
    //     u32 num_lines; u32 event_buffer_size; u32 padding[5]; s32 fd; }
    public static final int GPIO_V2_LINE_REQUEST_OFFSETS = 0;
    public static final int GPIO_V2_LINE_REQUEST_CONSUMER = 256;
    public static final int GPIO_V2_LINE_REQUEST_CONFIG = 288;
    public static final int GPIO_V2_LINE_REQUEST_NUM_LINES = GPIO_V2_LINE_REQUEST_CONFIG + GPIO_V2_LINE_CONFIG_SIZE;
    public static final int GPIO_V2_LINE_REQUEST_EVENT_BUFFER_SIZE = GPIO_V2_LINE_REQUEST_NUM_LINES + 4;
    public static final int GPIO_V2_LINE_REQUEST_FD = GPIO_V2_LINE_REQUEST_EVENT_BUFFER_SIZE + 4 + 5 * 4;
    public static final int GPIO_V2_LINE_REQUEST_SIZE = GPIO_V2_LINE_REQUEST_FD + 4;
    // struct gpio_v2_line_info { char name[32]; char consumer[32]; u32 offset; u32 num_attrs; u64 flags;
    //     struct gpio_v2_line_attribute attrs[10]; u32 padding[4]; }
    public static final int GPIO_V2_LINE_INFO_NAME = 0;
    public static final int GPIO_V2_LINE_INFO_CONSUMER = 32;
    public static final int GPIO_V2_LINE_INFO_OFFSET = 64;
    public static final int GPIO_V2_LINE_INFO_NUM_ATTRS = 68;
    public static final int GPIO_V2_LINE_INFO_FLAGS = 72;
    public static final int GPIO_V2_LINE_INFO_ATTRS = 80;
    public static final int GPIO_V2_LINE_INFO_SIZE = GPIO_V2_LINE_INFO_ATTRS
        + Linux.GPIO_V2_LINE_NUM_ATTRS_MAX * GPIO_V2_LINE_ATTRIBUTE_SIZE + 4 * 4;
    // struct gpio_v2_line_values { u64 bits; u64 mask; }
    public static final int GPIO_V2_LINE_VALUES_BITS = 0;
    public static final int GPIO_V2_LINE_VALUES_MASK = 8;
    public static final int GPIO_V2_LINE_VALUES_SIZE = 16;
    // struct gpio_v2_line_event { u64 timestamp_ns; u32 id; u32 offset; u32 seqno; u32 line_seqno; u32 padding[6]; }
    public static final int GPIO_V2_LINE_EVENT_TIMESTAMP_NS = 0;
    public static final int GPIO_V2_LINE_EVENT_ID = 8;
    public static final int GPIO_V2_LINE_EVENT_OFFSET = 12;
    public static final int GPIO_V2_LINE_EVENT_SEQNO = 16;
    public static final int GPIO_V2_LINE_EVENT_LINE_SEQNO = 20;
    public static final int GPIO_V2_LINE_EVENT_SIZE = 48;

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

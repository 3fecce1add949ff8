package io.passgate.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over a TCP header (RFC 9293). Port and pseudo-header setters keep the checksum right in both
 * of its forms (see {@link Checksum}): {@code partial} is true for a packet flagged
 * {@code NFQA_SKB_CSUMNOTREADY}, whose field holds only the pseudo-header sum.
 */
public final class TcpHeader
{
    public static final int SOURCE_PORT_OFFSET = 0;
    public static final int DESTINATION_PORT_OFFSET = 2;
    public static final int SEQUENCE_OFFSET = 4;
    public static final int ACK_OFFSET = 8;
    public static final int DATA_OFFSET_OFFSET = 12;
    public static final int FLAGS_OFFSET = 13;
    public static final int WINDOW_OFFSET = 14;
    public static final int CHECKSUM_OFFSET = 16;
    public static final int URGENT_OFFSET = 18;
    public static final int MIN_LENGTH = 20;

    public static final int FIN = 0x01;
    public static final int SYN = 0x02;
    public static final int RST = 0x04;
    public static final int PSH = 0x08;
    public static final int ACK = 0x10;
    public static final int URG = 0x20;

    public static final int OPTION_END = 0;
    public static final int OPTION_NOP = 1;
    public static final int OPTION_MSS = 2;

    public static final int OK = 0;
    public static final int ERR_TOO_SHORT = 1;
    public static final int ERR_DATA_OFFSET = 2;

    private MutableDirectBuffer buffer;
    private int offset;
    private int headerLength;
    private int error;

    /** Wraps a segment of {@code available} bytes (header and data). */
    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int available)
    {
        this.buffer = buffer;
        this.offset = offset;
        if (available < MIN_LENGTH)
        {
            error = ERR_TOO_SHORT;
            return false;
        }
        headerLength = ((buffer.getByte(offset + DATA_OFFSET_OFFSET) & 0xF0) >>> 4) * 4;
        if (headerLength < MIN_LENGTH || headerLength > available)
        {
            error = ERR_DATA_OFFSET;
            return false;
        }
        error = OK;
        return true;
    }

    public int error()
    {
        return error;
    }

    public int offset()
    {
        return offset;
    }

    public int headerLength()
    {
        return headerLength;
    }

    public int sourcePort()
    {
        return buffer.getShort(offset + SOURCE_PORT_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public int destinationPort()
    {
        return buffer.getShort(offset + DESTINATION_PORT_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public long sequence()
    {
        return buffer.getInt(offset + SEQUENCE_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL;
    }

    public long acknowledgement()
    {
        return buffer.getInt(offset + ACK_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL;
    }

    public int flags()
    {
        return buffer.getByte(offset + FLAGS_OFFSET) & 0xFF;
    }

    public boolean syn()
    {
        return (flags() & SYN) != 0;
    }

    public boolean ack()
    {
        return (flags() & ACK) != 0;
    }

    public boolean fin()
    {
        return (flags() & FIN) != 0;
    }

    public boolean rst()
    {
        return (flags() & RST) != 0;
    }

    public int window()
    {
        return buffer.getShort(offset + WINDOW_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public int checksum()
    {
        return buffer.getShort(offset + CHECKSUM_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public TcpHeader checksum(final int value)
    {
        buffer.putShort(offset + CHECKSUM_OFFSET, (short)value, ByteOrder.BIG_ENDIAN);
        return this;
    }

    public TcpHeader sourcePort(final int port, final boolean partial)
    {
        return port(SOURCE_PORT_OFFSET, port, partial);
    }

    public TcpHeader destinationPort(final int port, final boolean partial)
    {
        return port(DESTINATION_PORT_OFFSET, port, partial);
    }

    private TcpHeader port(final int field, final int port, final boolean partial)
    {
        final int old = buffer.getShort(offset + field, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        buffer.putShort(offset + field, (short)port, ByteOrder.BIG_ENDIAN);
        if (!partial)
        {
            checksum(Checksum.update16(checksum(), old, port));
        }
        return this;
    }

    /** Reflects a change of a pseudo-header address in the checksum (either form). */
    public TcpHeader addressChanged(final int oldAddress, final int newAddress, final boolean partial)
    {
        return checksum(partial ? Checksum.updatePartial32(checksum(), oldAddress, newAddress)
            : Checksum.update32(checksum(), oldAddress, newAddress));
    }

    /** Offset of the MSS option's value, or -1 when the header has none (or a malformed option list). */
    public int mssOptionOffset()
    {
        int i = offset + MIN_LENGTH;
        final int end = offset + headerLength;
        while (i < end)
        {
            final int kind = buffer.getByte(i) & 0xFF;
            if (kind == OPTION_END)
            {
                return -1;
            }
            if (kind == OPTION_NOP)
            {
                i++;
                continue;
            }
            if (i + 1 >= end)
            {
                return -1;
            }
            final int length = buffer.getByte(i + 1) & 0xFF;
            if (length < 2 || i + length > end)
            {
                return -1;
            }
            if (kind == OPTION_MSS && length == 4)
            {
                return i + 2;
            }
            i += length;
        }
        return -1;
    }

    /** The MSS option's value, or -1. */
    public int mss()
    {
        final int at = mssOptionOffset();
        return at < 0 ? -1 : buffer.getShort(at, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    /**
     * Lowers the MSS option to {@code max} when larger (RFC 4459 clamping); returns true when it changed.
     * The option is data covered by the checksum, so only the complete form is updated.
     */
    public boolean clampMss(final int max, final boolean partial)
    {
        final int at = mssOptionOffset();
        if (at < 0)
        {
            return false;
        }
        final int mss = buffer.getShort(at, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        if (mss <= max)
        {
            return false;
        }
        buffer.putShort(at, (short)max, ByteOrder.BIG_ENDIAN);
        if (!partial)
        {
            // a word at an odd offset from the header start contributes its byte-swapped value (RFC 1071)
            final boolean even = ((at - offset) & 1) == 0;
            checksum(Checksum.update16(checksum(), even ? mss : swap(mss), even ? max : swap(max)));
        }
        return true;
    }

    private static int swap(final int word)
    {
        return Short.toUnsignedInt(Short.reverseBytes((short)word));
    }

    /** Full checksum over the segment with the given pseudo-header sum, for verification and tests. */
    public boolean checksumValid(final long pseudoHeaderSum, final int segmentLength)
    {
        return Checksum.fold(Checksum.sum(buffer, offset, segmentLength, pseudoHeaderSum)) == 0xFFFF;
    }
}

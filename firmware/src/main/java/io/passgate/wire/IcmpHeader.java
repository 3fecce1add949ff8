package io.passgate.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over an ICMPv4 message (RFC 792). Queries (echo, timestamp, information, address mask) carry an
 * identifier that a NAT maps like a port (RFC 5508); errors carry the IP header and first bytes of the
 * packet that caused them, at {@link #embeddedOffset()}.
 */
public final class IcmpHeader
{
    public static final int TYPE_OFFSET = 0;
    public static final int CODE_OFFSET = 1;
    public static final int CHECKSUM_OFFSET = 2;
    public static final int IDENTIFIER_OFFSET = 4;
    public static final int SEQUENCE_OFFSET = 6;
    public static final int MTU_OFFSET = 6;
    public static final int LENGTH = 8;

    public static final int ECHO_REPLY = 0;
    public static final int DESTINATION_UNREACHABLE = 3;
    public static final int SOURCE_QUENCH = 4;
    public static final int REDIRECT = 5;
    public static final int ECHO_REQUEST = 8;
    public static final int TIME_EXCEEDED = 11;
    public static final int PARAMETER_PROBLEM = 12;
    public static final int TIMESTAMP = 13;
    public static final int TIMESTAMP_REPLY = 14;
    public static final int INFO_REQUEST = 15;
    public static final int INFO_REPLY = 16;
    public static final int ADDRESS_MASK_REQUEST = 17;
    public static final int ADDRESS_MASK_REPLY = 18;

    public static final int CODE_PORT_UNREACHABLE = 3;
    public static final int CODE_FRAGMENTATION_NEEDED = 4;
    public static final int CODE_ADMIN_PROHIBITED = 13;

    public static final int OK = 0;
    public static final int ERR_TOO_SHORT = 1;

    private MutableDirectBuffer buffer;
    private int offset;
    private int length;
    private int error;

    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int available)
    {
        this.buffer = buffer;
        this.offset = offset;
        this.length = available;
        if (available < LENGTH)
        {
            error = ERR_TOO_SHORT;
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

    public int length()
    {
        return length;
    }

    public int type()
    {
        return buffer.getByte(offset + TYPE_OFFSET) & 0xFF;
    }

    public int code()
    {
        return buffer.getByte(offset + CODE_OFFSET) & 0xFF;
    }

    public static boolean isError(final int type)
    {
        return type == DESTINATION_UNREACHABLE || type == SOURCE_QUENCH || type == REDIRECT
            || type == TIME_EXCEEDED || type == PARAMETER_PROBLEM;
    }

    /** A query request whose identifier a NAT maps on the way out. */
    public static boolean isQueryRequest(final int type)
    {
        return type == ECHO_REQUEST || type == TIMESTAMP || type == INFO_REQUEST || type == ADDRESS_MASK_REQUEST;
    }

    public static boolean isQueryReply(final int type)
    {
        return type == ECHO_REPLY || type == TIMESTAMP_REPLY || type == INFO_REPLY || type == ADDRESS_MASK_REPLY;
    }

    public boolean isError()
    {
        return isError(type());
    }

    public int checksum()
    {
        return buffer.getShort(offset + CHECKSUM_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public IcmpHeader checksum(final int value)
    {
        buffer.putShort(offset + CHECKSUM_OFFSET, (short)value, ByteOrder.BIG_ENDIAN);
        return this;
    }

    public int identifier()
    {
        return buffer.getShort(offset + IDENTIFIER_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public int sequence()
    {
        return buffer.getShort(offset + SEQUENCE_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    /** Next-hop MTU of a fragmentation-needed error (RFC 1191). */
    public int nextHopMtu()
    {
        return buffer.getShort(offset + MTU_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public IcmpHeader identifier(final int id)
    {
        final int old = identifier();
        buffer.putShort(offset + IDENTIFIER_OFFSET, (short)id, ByteOrder.BIG_ENDIAN);
        return checksum(Checksum.update16(checksum(), old, id));
    }

    public int embeddedOffset()
    {
        return offset + LENGTH;
    }

    public int embeddedLength()
    {
        return length - LENGTH;
    }

    /**
     * Updates the ICMP checksum for a 16-bit word at {@code at} (anywhere in the message, an embedded header
     * included) that changed from {@code oldWord} to {@code newWord}; the word may start at an odd offset
     * from the message start.
     */
    public void wordChanged(final int at, final int oldWord, final int newWord)
    {
        if (((at - offset) & 1) == 0)
        {
            checksum(Checksum.update16(checksum(), oldWord, newWord));
        }
        else
        {
            // byte-swapped position: one's complement sums are byte-order independent under swap
            checksum(Checksum.update16(checksum(), Short.toUnsignedInt(Short.reverseBytes((short)oldWord)),
                Short.toUnsignedInt(Short.reverseBytes((short)newWord))));
        }
    }

    /** As {@link #wordChanged} for a 32-bit value. */
    public void valueChanged(final int at, final int oldValue, final int newValue)
    {
        wordChanged(at, oldValue >>> 16, newValue >>> 16);
        wordChanged(at + 2, oldValue & 0xFFFF, newValue & 0xFFFF);
    }

    public boolean checksumValid()
    {
        return Checksum.fold(Checksum.sum(buffer, offset, length, 0)) == 0xFFFF;
    }
}

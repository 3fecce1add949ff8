package io.passgate.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over a UDP header (RFC 768). A zero checksum means "none" and stays zero on rewrite; a computed
 * zero is sent as 0xFFFF. {@code partial}: see {@link Checksum}.
 */
public final class UdpHeader
{
    public static final int SOURCE_PORT_OFFSET = 0;
    public static final int DESTINATION_PORT_OFFSET = 2;
    public static final int LENGTH_OFFSET = 4;
    public static final int CHECKSUM_OFFSET = 6;
    public static final int LENGTH = 8;

    public static final int OK = 0;
    public static final int ERR_TOO_SHORT = 1;
    public static final int ERR_LENGTH = 2;

    private MutableDirectBuffer buffer;
    private int offset;
    private int error;

    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int available)
    {
        this.buffer = buffer;
        this.offset = offset;
        if (available < LENGTH)
        {
            error = ERR_TOO_SHORT;
            return false;
        }
        final int length = length();
        if (length < LENGTH || length > available)
        {
            error = ERR_LENGTH;
            return false;
        }
        error = OK;
        return true;
    }

    public MutableDirectBuffer buffer()
    {
        return buffer;
    }

    public int error()
    {
        return error;
    }

    public int offset()
    {
        return offset;
    }

    public int payloadOffset()
    {
        return offset + LENGTH;
    }

    public int payloadLength()
    {
        return length() - LENGTH;
    }

    public int sourcePort()
    {
        return buffer.getShort(offset + SOURCE_PORT_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public int destinationPort()
    {
        return buffer.getShort(offset + DESTINATION_PORT_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public int length()
    {
        return buffer.getShort(offset + LENGTH_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public int checksum()
    {
        return buffer.getShort(offset + CHECKSUM_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public UdpHeader checksum(final int value)
    {
        buffer.putShort(offset + CHECKSUM_OFFSET, (short)value, ByteOrder.BIG_ENDIAN);
        return this;
    }

    public UdpHeader sourcePort(final int port, final boolean partial)
    {
        return port(SOURCE_PORT_OFFSET, port, partial);
    }

    public UdpHeader destinationPort(final int port, final boolean partial)
    {
        return port(DESTINATION_PORT_OFFSET, port, partial);
    }

    private UdpHeader port(final int field, final int port, final boolean partial)
    {
        final int old = buffer.getShort(offset + field, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        buffer.putShort(offset + field, (short)port, ByteOrder.BIG_ENDIAN);
        if (!partial && checksum() != 0)
        {
            checksum(nonZero(Checksum.update16(checksum(), old, port)));
        }
        return this;
    }

    public UdpHeader addressChanged(final int oldAddress, final int newAddress, final boolean partial)
    {
        if (partial)
        {
            return checksum(Checksum.updatePartial32(checksum(), oldAddress, newAddress));
        }
        if (checksum() != 0)
        {
            checksum(nonZero(Checksum.update32(checksum(), oldAddress, newAddress)));
        }
        return this;
    }

    private static int nonZero(final int checksum)
    {
        return checksum == 0 ? 0xFFFF : checksum;
    }

    public boolean checksumValid(final long pseudoHeaderSum)
    {
        return checksum() == 0 || Checksum.fold(Checksum.sum(buffer, offset, length(), pseudoHeaderSum)) == 0xFFFF;
    }
}

package io.passgate.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over the cleartext start of an ESP packet (RFC 4303 section 2): SPI and sequence number.
 * SPI 0 is reserved for local use and never valid on the wire; a packet shorter than the two fields is
 * truncated.
 */
public final class EspHeader
{
    public static final int SPI_OFFSET = 0;
    public static final int SEQUENCE_OFFSET = 4;
    public static final int LENGTH = 8;

    public static final int OK = 0;
    public static final int ERR_TOO_SHORT = 1;
    public static final int ERR_SPI_ZERO = 2;

    private MutableDirectBuffer buffer;
    private int offset;
    private int available;
    private int error;

    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int available)
    {
        this.buffer = buffer;
        this.offset = offset;
        this.available = available;
        if (available < LENGTH)
        {
            error = ERR_TOO_SHORT;
            return false;
        }
        if (spi() == 0)
        {
            error = ERR_SPI_ZERO;
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

    /** The SPI as an unsigned 32-bit value in an int (compare with ==). */
    public int spi()
    {
        return buffer.getInt(offset + SPI_OFFSET, ByteOrder.BIG_ENDIAN);
    }

    public long sequence()
    {
        return buffer.getInt(offset + SEQUENCE_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL;
    }

    public int payloadLength()
    {
        return available - LENGTH;
    }
}

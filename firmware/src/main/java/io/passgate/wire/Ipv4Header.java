package io.passgate.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over an IPv4 header (RFC 791). {@link #wrap} checks version, header length and total length
 * against the bytes available and never throws; on failure {@link #error()} says why.
 */
public final class Ipv4Header
{
    public static final int VERSION_IHL_OFFSET = 0;
    public static final int TOS_OFFSET = 1;
    public static final int TOTAL_LENGTH_OFFSET = 2;
    public static final int IDENTIFICATION_OFFSET = 4;
    public static final int FLAGS_FRAGMENT_OFFSET = 6;
    public static final int TTL_OFFSET = 8;
    public static final int PROTOCOL_OFFSET = 9;
    public static final int CHECKSUM_OFFSET = 10;
    public static final int SOURCE_OFFSET = 12;
    public static final int DESTINATION_OFFSET = 16;
    public static final int MIN_LENGTH = 20;

    public static final int FLAG_DF = 0x4000;
    public static final int FLAG_MF = 0x2000;
    public static final int FRAGMENT_OFFSET_MASK = 0x1FFF;

    public static final int OK = 0;
    public static final int ERR_TOO_SHORT = 1;
    public static final int ERR_VERSION = 2;
    public static final int ERR_HEADER_LENGTH = 3;
    public static final int ERR_TOTAL_LENGTH = 4;

    private MutableDirectBuffer buffer;
    private int offset;
    private int headerLength;
    private int totalLength;
    private int error;

    /**
     * Wraps {@code available} bytes at {@code offset}. Returns false (and records {@link #error()}) when they
     * do not hold a well-formed IPv4 header whose total length fits in them.
     */
    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int available)
    {
        if (!wrapHeader(buffer, offset, available))
        {
            return false;
        }
        totalLength = buffer.getShort(offset + TOTAL_LENGTH_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        if (totalLength < headerLength || totalLength > available)
        {
            return fail(ERR_TOTAL_LENGTH);
        }
        return true;
    }

    /**
     * Wraps the IPv4 header quoted in an ICMP error, whose packet may be cut short (RFC 792 quotes the
     * header and 8 bytes): the header must be whole, and the total length is taken as what is present when
     * the quote is shorter than the packet was.
     */
    public boolean wrapQuoted(final MutableDirectBuffer buffer, final int offset, final int available)
    {
        if (!wrapHeader(buffer, offset, available))
        {
            return false;
        }
        final int claimed = buffer.getShort(offset + TOTAL_LENGTH_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        if (claimed < headerLength)
        {
            return fail(ERR_TOTAL_LENGTH);
        }
        totalLength = Math.min(claimed, available);
        return true;
    }

    /** Checks what both wrap forms share: length for a header, version 4, a header length that fits. */
    private boolean wrapHeader(final MutableDirectBuffer buffer, final int offset, final int available)
    {
        this.buffer = buffer;
        this.offset = offset;
        if (available < MIN_LENGTH)
        {
            return fail(ERR_TOO_SHORT);
        }
        final int vihl = buffer.getByte(offset) & 0xFF;
        if ((vihl >>> 4) != 4)
        {
            return fail(ERR_VERSION);
        }
        headerLength = (vihl & 0x0F) * 4;
        if (headerLength < MIN_LENGTH || headerLength > available)
        {
            return fail(ERR_HEADER_LENGTH);
        }
        error = OK;
        return true;
    }

    private boolean fail(final int reason)
    {
        error = reason;
        return false;
    }

    public int error()
    {
        return error;
    }

    public static String describe(final int error)
    {
        return switch (error)
        {
            case OK -> "ok";
            case ERR_TOO_SHORT -> "shorter than an IPv4 header";
            case ERR_VERSION -> "not IP version 4";
            case ERR_HEADER_LENGTH -> "header length out of range";
            case ERR_TOTAL_LENGTH -> "total length out of range";
            default -> "error " + error;
        };
    }

    public MutableDirectBuffer buffer()
    {
        return buffer;
    }

    public int offset()
    {
        return offset;
    }

    public int headerLength()
    {
        return headerLength;
    }

    public int totalLength()
    {
        return totalLength;
    }

    /** Offset in the buffer of the first byte after the header. */
    public int payloadOffset()
    {
        return offset + headerLength;
    }

    public int payloadLength()
    {
        return totalLength - headerLength;
    }

    public int tos()
    {
        return buffer.getByte(offset + TOS_OFFSET) & 0xFF;
    }

    public int identification()
    {
        return buffer.getShort(offset + IDENTIFICATION_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public int flagsAndFragmentOffset()
    {
        return buffer.getShort(offset + FLAGS_FRAGMENT_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public boolean dontFragment()
    {
        return (flagsAndFragmentOffset() & FLAG_DF) != 0;
    }

    public boolean moreFragments()
    {
        return (flagsAndFragmentOffset() & FLAG_MF) != 0;
    }

    /** Fragment offset in bytes. */
    public int fragmentOffset()
    {
        return (flagsAndFragmentOffset() & FRAGMENT_OFFSET_MASK) * 8;
    }

    /** True for any fragment (first, middle or last). */
    public boolean isFragment()
    {
        return (flagsAndFragmentOffset() & (FLAG_MF | FRAGMENT_OFFSET_MASK)) != 0;
    }

    public int ttl()
    {
        return buffer.getByte(offset + TTL_OFFSET) & 0xFF;
    }

    public int protocol()
    {
        return buffer.getByte(offset + PROTOCOL_OFFSET) & 0xFF;
    }

    public int checksum()
    {
        return buffer.getShort(offset + CHECKSUM_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public Ipv4Header checksum(final int value)
    {
        buffer.putShort(offset + CHECKSUM_OFFSET, (short)value, ByteOrder.BIG_ENDIAN);
        return this;
    }

    public int source()
    {
        return buffer.getInt(offset + SOURCE_OFFSET, ByteOrder.BIG_ENDIAN);
    }

    public int destination()
    {
        return buffer.getInt(offset + DESTINATION_OFFSET, ByteOrder.BIG_ENDIAN);
    }

    /** Sets the source address and updates the header checksum incrementally. */
    public Ipv4Header source(final int address)
    {
        final int old = source();
        buffer.putInt(offset + SOURCE_OFFSET, address, ByteOrder.BIG_ENDIAN);
        return checksum(Checksum.update32(checksum(), old, address));
    }

    /** Sets the destination address and updates the header checksum incrementally. */
    public Ipv4Header destination(final int address)
    {
        final int old = destination();
        buffer.putInt(offset + DESTINATION_OFFSET, address, ByteOrder.BIG_ENDIAN);
        return checksum(Checksum.update32(checksum(), old, address));
    }

    /** Sets the TTL and updates the header checksum incrementally. */
    public Ipv4Header ttl(final int ttl)
    {
        final int oldWord = buffer.getShort(offset + TTL_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        buffer.putByte(offset + TTL_OFFSET, (byte)ttl);
        final int newWord = buffer.getShort(offset + TTL_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        return checksum(Checksum.update16(checksum(), oldWord, newWord));
    }

    /** Computes the header checksum from scratch. */
    public int computeChecksum()
    {
        final long sum = Checksum.sum(buffer, offset, headerLength, 0) - checksum();
        return ~Checksum.fold(sum) & 0xFFFF;
    }

    public boolean checksumValid()
    {
        return Checksum.fold(Checksum.sum(buffer, offset, headerLength, 0)) == 0xFFFF;
    }

    /** Sum of this packet's pseudo-header for its transport payload. */
    public long pseudoHeaderSum()
    {
        return Checksum.pseudoHeader(source(), destination(), protocol(), payloadLength());
    }

    /**
     * Writes a fresh 20-byte header (no options) with a computed checksum; the caller then {@link #wrap}s it.
     */
    public static void write(final MutableDirectBuffer buffer, final int offset, final int totalLength,
        final int identification, final int ttl, final int protocol, final int source, final int destination)
    {
        buffer.putByte(offset, (byte)0x45);
        buffer.putByte(offset + TOS_OFFSET, (byte)0);
        buffer.putShort(offset + TOTAL_LENGTH_OFFSET, (short)totalLength, ByteOrder.BIG_ENDIAN);
        buffer.putShort(offset + IDENTIFICATION_OFFSET, (short)identification, ByteOrder.BIG_ENDIAN);
        buffer.putShort(offset + FLAGS_FRAGMENT_OFFSET, (short)0, ByteOrder.BIG_ENDIAN);
        buffer.putByte(offset + TTL_OFFSET, (byte)ttl);
        buffer.putByte(offset + PROTOCOL_OFFSET, (byte)protocol);
        buffer.putShort(offset + CHECKSUM_OFFSET, (short)0, ByteOrder.BIG_ENDIAN);
        buffer.putInt(offset + SOURCE_OFFSET, source, ByteOrder.BIG_ENDIAN);
        buffer.putInt(offset + DESTINATION_OFFSET, destination, ByteOrder.BIG_ENDIAN);
        final int checksum = Checksum.compute(buffer, offset, MIN_LENGTH, 0);
        buffer.putShort(offset + CHECKSUM_OFFSET, (short)checksum, ByteOrder.BIG_ENDIAN);
    }

    public static String format(final int address)
    {
        return (address >>> 24) + "." + ((address >>> 16) & 0xFF) + "." + ((address >>> 8) & 0xFF) + "."
            + (address & 0xFF);
    }

    /** Parses dotted-quad IPv4 text; throws IllegalArgumentException naming the text. */
    public static int parse(final String text)
    {
        final String[] parts = text.trim().split("\\.", -1);
        if (parts.length != 4)
        {
            throw new IllegalArgumentException("not an IPv4 address: " + text);
        }
        int address = 0;
        for (final String part : parts)
        {
            final int value;
            try
            {
                if (part.isEmpty() || part.length() > 3)
                {
                    throw new NumberFormatException();
                }
                value = Integer.parseInt(part);
            }
            catch (final NumberFormatException e)
            {
                throw new IllegalArgumentException("not an IPv4 address: " + text);
            }
            if (value < 0 || value > 255)
            {
                throw new IllegalArgumentException("not an IPv4 address: " + text);
            }
            address = (address << 8) | value;
        }
        return address;
    }
}

package io.passgate.wire;

import java.nio.ByteOrder;

import org.agrona.MutableDirectBuffer;

/**
 * Flyweight over the ports of the transports other than TCP a NAT translates by port: UDP (RFC 768), UDP-Lite
 * (RFC 3828), DCCP (RFC 4340) and SCTP (RFC 4960). All carry the source and destination port in their first
 * four bytes; they differ in their checksum:
 * <ul>
 *   <li>UDP: one's complement over a pseudo-header, the header and the data; zero means none and stays zero;</li>
 *   <li>UDP-Lite, DCCP: the same sum over a pseudo-header and a covered part (which always holds the ports),
 *       always present (a computed zero is sent as 0xFFFF for UDP-Lite);</li>
 *   <li>SCTP: CRC32c over the SCTP packet alone, stored least significant byte first: addresses do not enter
 *       it, a port change needs it computed again over the whole packet ({@link #finish}).</li>
 * </ul>
 * {@code partial}: the checksum field holds the kernel's pseudo-header-only form (see {@link Checksum}); an
 * SCTP packet in that state (GSO) gets its CRC from the kernel after the verdict.
 */
public final class PortsHeader
{
    public static final int UDP = 17;
    public static final int DCCP = 33;
    public static final int SCTP = 132;
    public static final int UDPLITE = 136;

    public static final int SOURCE_PORT_OFFSET = 0;
    public static final int DESTINATION_PORT_OFFSET = 2;
    public static final int SCTP_CHECKSUM_OFFSET = 8;
    public static final int SCTP_HEADER_LENGTH = 12;
    public static final int DCCP_CHECKSUM_OFFSET = 6;
    public static final int DCCP_MIN_LENGTH = 12;
    public static final int UDP_CHECKSUM_OFFSET = 6;
    public static final int UDP_LENGTH = 8;

    public static final int OK = 0;
    public static final int ERR_TOO_SHORT = 1;
    public static final int ERR_LENGTH = 2;
    public static final int ERR_PROTOCOL = 3;

    private MutableDirectBuffer buffer;
    private int offset;
    private int length;
    private int protocol;
    private boolean crcStale;
    private int error;

    /** Whether {@code protocol} is one this view handles. */
    public static boolean handles(final int protocol)
    {
        return protocol == UDP || protocol == UDPLITE || protocol == DCCP || protocol == SCTP;
    }

    /** Where the checksum field lies, from the transport header's start. */
    public static int checksumOffset(final int protocol)
    {
        return protocol == SCTP ? SCTP_CHECKSUM_OFFSET : UDP_CHECKSUM_OFFSET;
    }

    /**
     * Wraps the transport header of {@code protocol} with {@code available} bytes of IP payload, checking the
     * protocol's own length fields against them.
     */
    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int available, final int protocol)
    {
        this.buffer = buffer;
        this.offset = offset;
        this.protocol = protocol;
        this.length = available;
        crcStale = false;
        switch (protocol)
        {
            case UDP:
            {
                if (available < UDP_LENGTH)
                {
                    return fail(ERR_TOO_SHORT);
                }
                final int udpLength = buffer.getShort(offset + 4, ByteOrder.BIG_ENDIAN) & 0xFFFF;
                if (udpLength < UDP_LENGTH || udpLength > available)
                {
                    return fail(ERR_LENGTH);
                }
                length = udpLength;
                break;
            }
            case UDPLITE:
            {
                if (available < UDP_LENGTH)
                {
                    return fail(ERR_TOO_SHORT);
                }
                // checksum coverage: 0 = everything, else the header and more (RFC 3828 3.1)
                final int coverage = buffer.getShort(offset + 4, ByteOrder.BIG_ENDIAN) & 0xFFFF;
                if (coverage != 0 && (coverage < UDP_LENGTH || coverage > available))
                {
                    return fail(ERR_LENGTH);
                }
                break;
            }
            case DCCP:
            {
                if (available < DCCP_MIN_LENGTH)
                {
                    return fail(ERR_TOO_SHORT);
                }
                final int dataOffset = (buffer.getByte(offset + 4) & 0xFF) * 4;
                final boolean extended = (buffer.getByte(offset + 8) & 0x01) != 0;
                if (dataOffset < (extended ? 16 : 12) || dataOffset > available)
                {
                    return fail(ERR_LENGTH);
                }
                break;
            }
            case SCTP:
                if (available < SCTP_HEADER_LENGTH)
                {
                    return fail(ERR_TOO_SHORT);
                }
                break;
            default:
                return fail(ERR_PROTOCOL);
        }
        error = OK;
        return true;
    }

    private boolean fail(final int code)
    {
        error = code;
        return false;
    }

    public int error()
    {
        return error;
    }

    public int protocol()
    {
        return protocol;
    }

    public int offset()
    {
        return offset;
    }

    /** The transport's length: UDP's own length field, else the IP payload. */
    public int length()
    {
        return length;
    }

    public int sourcePort()
    {
        return buffer.getShort(offset + SOURCE_PORT_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public int destinationPort()
    {
        return buffer.getShort(offset + DESTINATION_PORT_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    private int checksum()
    {
        return buffer.getShort(offset + UDP_CHECKSUM_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    private void checksum(final int value)
    {
        buffer.putShort(offset + UDP_CHECKSUM_OFFSET, (short)value, ByteOrder.BIG_ENDIAN);
    }

    public PortsHeader sourcePort(final int port, final boolean partial)
    {
        return port(SOURCE_PORT_OFFSET, port, partial);
    }

    public PortsHeader destinationPort(final int port, final boolean partial)
    {
        return port(DESTINATION_PORT_OFFSET, port, partial);
    }

    private PortsHeader port(final int field, final int port, final boolean partial)
    {
        final int old = buffer.getShort(offset + field, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        if (old == port)
        {
            return this;
        }
        buffer.putShort(offset + field, (short)port, ByteOrder.BIG_ENDIAN);
        if (protocol == SCTP)
        {
            crcStale = true;
        }
        else if (!partial && (protocol != UDP || checksum() != 0))
        {
            checksum(fixZero(Checksum.update16(checksum(), old, port)));
        }
        return this;
    }

    /** An address of the pseudo-header changed (nothing for SCTP, whose CRC does not cover it). */
    public PortsHeader addressChanged(final int oldAddress, final int newAddress, final boolean partial)
    {
        if (protocol == SCTP)
        {
            return this;
        }
        if (partial)
        {
            checksum(Checksum.updatePartial32(checksum(), oldAddress, newAddress));
        }
        else if (protocol != UDP || checksum() != 0)
        {
            checksum(fixZero(Checksum.update32(checksum(), oldAddress, newAddress)));
        }
        return this;
    }

    private int fixZero(final int checksum)
    {
        return checksum == 0 && protocol != DCCP ? 0xFFFF : checksum;
    }

    /** After the rewrites: an SCTP packet whose ports changed gets its CRC32c computed anew (not when partial). */
    public void finish(final boolean partial)
    {
        if (crcStale && !partial)
        {
            writeSctpCrc(buffer, offset, length);
        }
        crcStale = false;
    }

    /** Computes and stores the CRC32c of the SCTP packet of {@code length} bytes at {@code offset}. */
    public static void writeSctpCrc(final MutableDirectBuffer buffer, final int offset, final int length)
    {
        buffer.putInt(offset + SCTP_CHECKSUM_OFFSET, 0);
        buffer.putInt(offset + SCTP_CHECKSUM_OFFSET, Crc32c.compute(buffer, offset, length), ByteOrder.LITTLE_ENDIAN);
    }

    /** Whether the checksum is right (tests and replay checks). */
    public boolean checksumValid(final long pseudoHeaderSum)
    {
        if (protocol == SCTP)
        {
            final int stored = buffer.getInt(offset + SCTP_CHECKSUM_OFFSET, ByteOrder.LITTLE_ENDIAN);
            buffer.putInt(offset + SCTP_CHECKSUM_OFFSET, 0);
            final int computed = Crc32c.compute(buffer, offset, length);
            buffer.putInt(offset + SCTP_CHECKSUM_OFFSET, stored, ByteOrder.LITTLE_ENDIAN);
            return stored == computed;
        }
        if (protocol == UDP && checksum() == 0)
        {
            return true;
        }
        int covered = length;
        if (protocol == UDPLITE)
        {
            final int coverage = buffer.getShort(offset + 4, ByteOrder.BIG_ENDIAN) & 0xFFFF;
            covered = coverage == 0 ? length : coverage;
        }
        else if (protocol == DCCP)
        {
            final int cscov = buffer.getByte(offset + 5) & 0x0F;
            final int header = (buffer.getByte(offset + 4) & 0xFF) * 4;
            covered = cscov == 0 ? length : Math.min(length, header + (cscov - 1) * 4);
        }
        return Checksum.fold(Checksum.sum(buffer, offset, covered, pseudoHeaderSum)) == 0xFFFF;
    }
}

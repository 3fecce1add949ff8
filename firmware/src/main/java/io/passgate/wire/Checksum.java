package io.passgate.wire;

import java.nio.ByteOrder;

import org.agrona.DirectBuffer;

/**
 * The Internet checksum: full computation (RFC 1071) and incremental update (RFC 1624, eqn. 3).
 *
 * <p>Two forms of a TCP/UDP checksum field exist on the packet path. A <em>complete</em> field holds the
 * complemented sum over pseudo-header, header and data; it is updated with {@link #update16}/{@link #update32}.
 * A packet the kernel marks {@code NFQA_SKB_CSUMNOTREADY} (CHECKSUM_PARTIAL, common with GSO) holds only the
 * folded, <em>not complemented</em>, pseudo-header sum; the NIC or the stack adds the rest on transmit.
 * Such a field changes only when a pseudo-header field changes, and is updated with
 * {@link #updatePartial16}/{@link #updatePartial32}.
 */
public final class Checksum
{
    private Checksum()
    {
    }

    /** Folds a 32+ bit one's complement accumulator to 16 bits (not complemented). */
    public static int fold(long sum)
    {
        sum = (sum & 0xFFFF_FFFFL) + (sum >>> 32);
        sum = (sum & 0xFFFF) + (sum >>> 16);
        sum = (sum & 0xFFFF) + (sum >>> 16);
        sum = (sum & 0xFFFF) + (sum >>> 16);
        return (int)sum;
    }

    /** Adds the big-endian 16-bit words of {@code length} bytes at {@code offset} to {@code initial}. */
    public static long sum(final DirectBuffer buffer, final int offset, final int length, final long initial)
    {
        long sum = initial;
        int i = offset;
        final int end = offset + length;
        while (i + 4 <= end)
        {
            sum += buffer.getInt(i, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL;
            i += 4;
        }
        if (i + 2 <= end)
        {
            sum += buffer.getShort(i, ByteOrder.BIG_ENDIAN) & 0xFFFF;
            i += 2;
        }
        if (i < end)
        {
            sum += (buffer.getByte(i) & 0xFF) << 8;
        }
        return sum;
    }

    /** The complemented checksum of a region (RFC 1071). */
    public static int compute(final DirectBuffer buffer, final int offset, final int length, final long initial)
    {
        return ~fold(sum(buffer, offset, length, initial)) & 0xFFFF;
    }

    /** Sum of the IPv4 pseudo-header for a TCP/UDP segment of {@code l4Length} bytes. */
    public static long pseudoHeader(final int source, final int destination, final int protocol, final int l4Length)
    {
        return (source >>> 16) + (source & 0xFFFF) + (destination >>> 16) + (destination & 0xFFFF)
            + protocol + l4Length;
    }

    /** RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one 16-bit word m changed to m'. */
    public static int update16(final int checksum, final int oldWord, final int newWord)
    {
        final long sum = (~checksum & 0xFFFF) + (~oldWord & 0xFFFF) + (newWord & 0xFFFF);
        return ~fold(sum) & 0xFFFF;
    }

    /** RFC 1624 for a 32-bit value (an address) changed, as two words. */
    public static int update32(final int checksum, final int oldValue, final int newValue)
    {
        final long sum = (~checksum & 0xFFFF)
            + (~(oldValue >>> 16) & 0xFFFF) + (~oldValue & 0xFFFF)
            + ((newValue >>> 16) & 0xFFFF) + (newValue & 0xFFFF);
        return ~fold(sum) & 0xFFFF;
    }

    /** Partial (pseudo-header only, not complemented) form: S' = S + ~m + m'. */
    public static int updatePartial16(final int partial, final int oldWord, final int newWord)
    {
        return fold((partial & 0xFFFF) + (~oldWord & 0xFFFF) + (newWord & 0xFFFF));
    }

    /** Partial form for a 32-bit value. */
    public static int updatePartial32(final int partial, final int oldValue, final int newValue)
    {
        return fold((partial & 0xFFFF)
            + (~(oldValue >>> 16) & 0xFFFF) + (~oldValue & 0xFFFF)
            + ((newValue >>> 16) & 0xFFFF) + (newValue & 0xFFFF));
    }

    /**
     * Recomputes the TCP or UDP checksum of the packet {@code ip} wraps, from scratch, in the complete form.
     * Needed after rewriting a packet the kernel flagged CHECKSUM_PARTIAL that is not a GSO packet: when a
     * verdict carries a new payload, nfnetlink_queue marks the packet CHECKSUM_NONE, so the pseudo-header-only
     * field would go out as is and fail at the receiver. (A GSO packet is segmented in software after that
     * and its checksums are recomputed there.) Also UDP-Lite and DCCP (over their covered part) and SCTP (its
     * CRC32c). Returns false for other protocols or fragments.
     */
    public static boolean completeTransport(final Ipv4Header ip)
    {
        if (ip.isFragment())
        {
            return false;
        }
        final int protocol = ip.protocol();
        final int at = ip.payloadOffset();
        final int length = ip.payloadLength();
        final var b = ip.buffer();
        if (protocol == PortsHeader.SCTP)
        {
            if (length < PortsHeader.SCTP_HEADER_LENGTH)
            {
                return false;
            }
            PortsHeader.writeSctpCrc(b, at, length);
            return true;
        }
        final int field;
        int covered = length;
        if (protocol == 6)
        {
            field = 16;
        }
        else if (protocol == 17 || protocol == PortsHeader.UDPLITE || protocol == PortsHeader.DCCP)
        {
            field = 6;
            if (length >= 8 && protocol == PortsHeader.UDPLITE)
            {
                final int coverage = b.getShort(at + 4, ByteOrder.BIG_ENDIAN) & 0xFFFF;
                covered = coverage == 0 ? length : Math.min(length, coverage);
            }
            else if (length >= 8 && protocol == PortsHeader.DCCP)
            {
                final int cscov = b.getByte(at + 5) & 0x0F;
                covered = cscov == 0 ? length : Math.min(length, (b.getByte(at + 4) & 0xFF) * 4 + (cscov - 1) * 4);
            }
        }
        else
        {
            return false;
        }
        if (length < field + 2 || covered < field + 2)
        {
            return false;
        }
        b.putShort(at + field, (short)0, ByteOrder.BIG_ENDIAN);
        int checksum = compute(b, at, covered, ip.pseudoHeaderSum());
        if (checksum == 0 && protocol != 6 && protocol != PortsHeader.DCCP)
        {
            checksum = 0xFFFF;
        }
        b.putShort(at + field, (short)checksum, ByteOrder.BIG_ENDIAN);
        return true;
    }
}

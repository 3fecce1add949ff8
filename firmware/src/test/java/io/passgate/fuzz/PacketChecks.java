package io.passgate.fuzz;

import java.nio.ByteOrder;

import io.passgate.wire.Checksum;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.PortsHeader;
import io.passgate.wire.TcpHeader;
import io.passgate.wire.UdpHeader;
import org.agrona.MutableDirectBuffer;

/**
 * What the fuzz targets check packets with: checksums computed from scratch (not with the incremental code
 * under test), a repair that makes an arbitrary byte string a checksum-correct packet, and guard bytes that
 * show a write outside a packet. Allocates (new views per call): test code, not the fast path.
 */
public final class PacketChecks
{
    public static final byte GUARD = (byte)0xA5;

    private PacketChecks()
    {
    }

    /**
     * True when the IPv4 header checksum and, for an unfragmented packet, the TCP/UDP/ICMP (and SCTP, DCCP,
     * UDP-Lite) checksum verify. A UDP checksum of 0 means none (RFC 768).
     */
    public static boolean checksumsValid(final MutableDirectBuffer b, final int offset, final int length)
    {
        final Ipv4Header ip = new Ipv4Header();
        if (!ip.wrap(b, offset, length) || !ip.checksumValid())
        {
            return false;
        }
        if (ip.isFragment())
        {
            return true;
        }
        final int at = ip.payloadOffset();
        final int l4 = ip.payloadLength();
        switch (ip.protocol())
        {
            case 6:
            {
                final TcpHeader t = new TcpHeader();
                return t.wrap(b, at, l4) && t.checksumValid(ip.pseudoHeaderSum(), l4);
            }
            case 17:
            {
                final UdpHeader u = new UdpHeader();
                return u.wrap(b, at, l4) && u.checksumValid(ip.pseudoHeaderSum());
            }
            case 1:
            {
                final IcmpHeader i = new IcmpHeader();
                return i.wrap(b, at, l4) && i.checksumValid();
            }
            case PortsHeader.SCTP, PortsHeader.DCCP, PortsHeader.UDPLITE:
            {
                final PortsHeader h = new PortsHeader();
                return h.wrap(b, at, l4, ip.protocol()) && h.checksumValid(ip.pseudoHeaderSum());
            }
            default:
                return true;
        }
    }

    /**
     * Makes the bytes at {@code offset} a checksum-correct IPv4 packet where they parse as one: total length
     * set to what is there (when {@code fitLength}), then the header checksum and the transport checksum
     * computed. Returns whether the result verifies.
     */
    public static boolean repair(final MutableDirectBuffer b, final int offset, final int length, final boolean fitLength)
    {
        if (length < 20 || (b.getByte(offset) & 0xF0) != 0x40)
        {
            return false;
        }
        if (fitLength)
        {
            b.putShort(offset + 2, (short)length, ByteOrder.BIG_ENDIAN);
        }
        final Ipv4Header ip = new Ipv4Header();
        if (!ip.wrap(b, offset, length))
        {
            return false;
        }
        ip.checksum(0).checksum(ip.computeChecksum());
        if (!ip.isFragment())
        {
            final int at = ip.payloadOffset();
            final int l4 = ip.payloadLength();
            if (ip.protocol() == 1 && l4 >= 8)
            {
                b.putShort(at + 2, (short)0, ByteOrder.BIG_ENDIAN);
                b.putShort(at + 2, (short)Checksum.compute(b, at, l4, 0), ByteOrder.BIG_ENDIAN);
            }
            else if (ip.protocol() == 6 ? l4 >= 20 : l4 >= 8)
            {
                Checksum.completeTransport(ip);
            }
        }
        return checksumsValid(b, offset, length);
    }

    /** Fills {@code [from, to)} with {@link #GUARD}. */
    public static void guard(final MutableDirectBuffer b, final int from, final int to)
    {
        b.setMemory(from, to - from, GUARD);
    }

    /** The first index in {@code [from, to)} that is not {@link #GUARD} any more, or -1. */
    public static int guardBroken(final MutableDirectBuffer b, final int from, final int to)
    {
        for (int i = from; i < to; i++)
        {
            if (b.getByte(i) != GUARD)
            {
                return i;
            }
        }
        return -1;
    }
}

package io.passgate.pcap;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * Reads and writes classic libpcap files (microsecond and nanosecond, either byte order) and finds the
 * network-layer header in the link types the captures use: Ethernet (with 802.1Q tags), BSD loopback,
 * raw IP and Linux cooked (SLL). Not on the packet path.
 */
public final class Pcap
{
    public static final int LINKTYPE_NULL = 0;
    public static final int LINKTYPE_ETHERNET = 1;
    public static final int LINKTYPE_RAW = 101;
    public static final int LINKTYPE_LINUX_SLL = 113;
    public static final int LINKTYPE_IPV4 = 228;

    public static final int ETHERTYPE_IPV4 = 0x0800;
    public static final int ETHERTYPE_IPV6 = 0x86DD;

    /** One captured packet: the bytes as captured, and where its IP header starts (-1 when not IP). */
    public record Packet(int index, int linkType, byte[] data, int originalLength, int l3Offset, int etherType)
    {
        public UnsafeBuffer buffer()
        {
            return new UnsafeBuffer(data);
        }

        public boolean isIpv4()
        {
            return etherType == ETHERTYPE_IPV4 && l3Offset >= 0;
        }

        public boolean isIpv6()
        {
            return etherType == ETHERTYPE_IPV6 && l3Offset >= 0;
        }

        public int l3Length()
        {
            return l3Offset < 0 ? 0 : data.length - l3Offset;
        }
    }

    private Pcap()
    {
    }

    public static List<Packet> read(final Path file) throws IOException
    {
        final ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file));
        if (b.remaining() < 24)
        {
            throw new IOException(file + ": too short for a pcap header");
        }
        final int magic = b.getInt(0);
        switch (magic)
        {
            case 0xA1B2C3D4, 0xA1B23C4D -> b.order(ByteOrder.BIG_ENDIAN);
            case 0xD4C3B2A1, 0x4D3CB2A1 -> b.order(ByteOrder.LITTLE_ENDIAN);
            default -> throw new IOException(file + ": not a libpcap file (magic " + Integer.toHexString(magic) + ")");
        }
        final int linkType = b.getInt(20) & 0x0FFF_FFFF;
        final List<Packet> packets = new ArrayList<>();
        int at = 24;
        while (at + 16 <= b.limit())
        {
            final int captured = b.getInt(at + 8);
            final int original = b.getInt(at + 12);
            at += 16;
            if (captured < 0 || at + captured > b.limit())
            {
                throw new IOException(file + ": record " + packets.size() + " runs past the end of the file");
            }
            final byte[] data = new byte[captured];
            b.get(at, data);
            at += captured;
            final long l3 = locateNetworkHeader(linkType, data);
            packets.add(new Packet(packets.size(), linkType, data, original, (int)(l3 >> 32), (int)l3));
        }
        return packets;
    }

    /** Returns (offset << 32 | etherType), offset -1 when the frame carries no IP header. */
    static long locateNetworkHeader(final int linkType, final byte[] d)
    {
        switch (linkType)
        {
            case LINKTYPE_ETHERNET:
            {
                int at = 12;
                while (at + 2 <= d.length)
                {
                    final int type = ((d[at] & 0xFF) << 8) | (d[at + 1] & 0xFF);
                    if (type == 0x8100 || type == 0x88A8)
                    {
                        at += 4;
                        continue;
                    }
                    return ip(type, at + 2, d);
                }
                return notIp();
            }
            case LINKTYPE_NULL:
            {
                if (d.length < 4)
                {
                    return notIp();
                }
                // host byte order of the capturing machine: try both
                final int le = (d[0] & 0xFF) | ((d[1] & 0xFF) << 8);
                final int be = ((d[2] & 0xFF) << 8) | (d[3] & 0xFF);
                final int family = le != 0 ? le : be;
                if (family == 2)
                {
                    return ip(ETHERTYPE_IPV4, 4, d);
                }
                if (family == 24 || family == 28 || family == 30)
                {
                    return ip(ETHERTYPE_IPV6, 4, d);
                }
                return notIp();
            }
            case LINKTYPE_RAW, LINKTYPE_IPV4:
            {
                if (d.length < 1)
                {
                    return notIp();
                }
                final int version = (d[0] & 0xF0) >>> 4;
                return ip(version == 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, 0, d);
            }
            case LINKTYPE_LINUX_SLL:
            {
                if (d.length < 16)
                {
                    return notIp();
                }
                return ip(((d[14] & 0xFF) << 8) | (d[15] & 0xFF), 16, d);
            }
            default:
                return notIp();
        }
    }

    private static long ip(final int etherType, final int offset, final byte[] d)
    {
        if ((etherType != ETHERTYPE_IPV4 && etherType != ETHERTYPE_IPV6) || offset > d.length)
        {
            return ((long)-1 << 32) | (etherType & 0xFFFF);
        }
        return ((long)offset << 32) | etherType;
    }

    private static long notIp()
    {
        return (long)-1 << 32;
    }

    /** Writes raw-IPv4 (LINKTYPE_RAW) packets as a microsecond pcap, for the replay tool and test output. */
    public static void writeRaw(final OutputStream out, final List<byte[]> packets) throws IOException
    {
        final ByteBuffer header = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(0xA1B2C3D4).putShort((short)2).putShort((short)4).putInt(0).putInt(0).putInt(65535)
            .putInt(LINKTYPE_RAW);
        out.write(header.array());
        int i = 0;
        for (final byte[] p : packets)
        {
            final ByteBuffer rec = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            rec.putInt(i / 1000).putInt((i % 1000) * 1000).putInt(p.length).putInt(p.length);
            out.write(rec.array());
            out.write(p);
            i++;
        }
    }
}

package io.passgate.nat;

import java.nio.ByteOrder;

import io.passgate.wire.Checksum;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.L2tpHeader;
import io.passgate.wire.L2tpMessages;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.TcpHeader;
import io.passgate.wire.UdpHeader;
import org.agrona.concurrent.UnsafeBuffer;

/** Builds well-formed IPv4 packets for tests, and reads them back. */
public final class Packets
{
    public static final int OFFSET = 32;   // packets sit inside a larger buffer, as in a receive slot

    private Packets()
    {
    }

    public static int ip(final String text)
    {
        return Ipv4Header.parse(text);
    }

    /** A TCP segment; {@code mss} > 0 adds an MSS option. */
    public static UnsafeBuffer tcp(final int src, final int sport, final int dst, final int dport, final int flags,
        final int mss, final int payload)
    {
        final int options = mss > 0 ? 4 : 0;
        final int l4 = 20 + options + payload;
        final UnsafeBuffer b = new UnsafeBuffer(new byte[OFFSET + 20 + l4 + 16]);
        Ipv4Header.write(b, OFFSET, 20 + l4, 1, 64, Protocols.TCP, src, dst);
        final int t = OFFSET + 20;
        b.putShort(t, (short)sport, ByteOrder.BIG_ENDIAN);
        b.putShort(t + 2, (short)dport, ByteOrder.BIG_ENDIAN);
        b.putInt(t + 4, 1000, ByteOrder.BIG_ENDIAN);
        b.putInt(t + 8, (flags & TcpHeader.ACK) != 0 ? 2000 : 0, ByteOrder.BIG_ENDIAN);
        b.putByte(t + 12, (byte)(((20 + options) / 4) << 4));
        b.putByte(t + 13, (byte)flags);
        b.putShort(t + 14, (short)65535, ByteOrder.BIG_ENDIAN);
        if (mss > 0)
        {
            b.putByte(t + 20, (byte)2);
            b.putByte(t + 21, (byte)4);
            b.putShort(t + 22, (short)mss, ByteOrder.BIG_ENDIAN);
        }
        for (int i = 0; i < payload; i++)
        {
            b.putByte(t + 20 + options + i, (byte)i);
        }
        final long pseudo = Checksum.pseudoHeader(src, dst, Protocols.TCP, l4);
        b.putShort(t + 16, (short)Checksum.compute(b, t, l4, pseudo), ByteOrder.BIG_ENDIAN);
        return b;
    }

    /** A TCP segment with the given sequence numbers and payload bytes. */
    public static UnsafeBuffer tcpSegment(final int src, final int sport, final int dst, final int dport, final int flags,
        final long seq, final long ack, final byte[] payload, final int from, final int length)
    {
        final int l4 = 20 + length;
        final UnsafeBuffer b = new UnsafeBuffer(new byte[OFFSET + 20 + l4 + 16]);
        Ipv4Header.write(b, OFFSET, 20 + l4, 1, 64, Protocols.TCP, src, dst);
        final int t = OFFSET + 20;
        b.putShort(t, (short)sport, ByteOrder.BIG_ENDIAN);
        b.putShort(t + 2, (short)dport, ByteOrder.BIG_ENDIAN);
        b.putInt(t + 4, (int)seq, ByteOrder.BIG_ENDIAN);
        b.putInt(t + 8, (int)ack, ByteOrder.BIG_ENDIAN);
        b.putByte(t + 12, (byte)0x50);
        b.putByte(t + 13, (byte)flags);
        b.putShort(t + 14, (short)65535, ByteOrder.BIG_ENDIAN);
        b.putBytes(t + 20, payload, from, length);
        final long pseudo = Checksum.pseudoHeader(src, dst, Protocols.TCP, l4);
        b.putShort(t + 16, (short)Checksum.compute(b, t, l4, pseudo), ByteOrder.BIG_ENDIAN);
        return b;
    }

    /** An enhanced GRE (PPTP) packet with {@code key} as Call ID, a sequence number and payload. */
    public static UnsafeBuffer pptpGre(final int src, final int dst, final int callId, final long seq, final byte[] payload)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[OFFSET + 20 + 12 + payload.length + 16]);
        final int h = io.passgate.wire.GreHeader.writePptp(b, OFFSET + 20, payload.length, callId, seq, -1);
        b.putBytes(OFFSET + 20 + h, payload);
        Ipv4Header.write(b, OFFSET, 20 + h + payload.length, 1, 64, Protocols.GRE, src, dst);
        return b;
    }

    public static byte[] bytes(final UnsafeBuffer b, final int offset, final int length)
    {
        final byte[] out = new byte[length];
        b.getBytes(offset, out);
        return out;
    }

    public static UnsafeBuffer udp(final int src, final int sport, final int dst, final int dport, final int payload)
    {
        final int l4 = 8 + payload;
        final UnsafeBuffer b = new UnsafeBuffer(new byte[OFFSET + 20 + l4 + 16]);
        Ipv4Header.write(b, OFFSET, 20 + l4, 1, 64, Protocols.UDP, src, dst);
        final int u = OFFSET + 20;
        b.putShort(u, (short)sport, ByteOrder.BIG_ENDIAN);
        b.putShort(u + 2, (short)dport, ByteOrder.BIG_ENDIAN);
        b.putShort(u + 4, (short)l4, ByteOrder.BIG_ENDIAN);
        for (int i = 0; i < payload; i++)
        {
            b.putByte(u + 8 + i, (byte)(i * 7));
        }
        final long pseudo = Checksum.pseudoHeader(src, dst, Protocols.UDP, l4);
        int c = Checksum.compute(b, u, l4, pseudo);
        b.putShort(u + 6, (short)(c == 0 ? 0xFFFF : c), ByteOrder.BIG_ENDIAN);
        return b;
    }

    /** A UDP packet carrying {@code payload}, checksums valid. */
    public static UnsafeBuffer udp(final int src, final int sport, final int dst, final int dport, final byte[] payload)
    {
        final UnsafeBuffer b = udp(src, sport, dst, dport, payload.length);
        final int u = OFFSET + 20;
        b.putBytes(u + 8, payload);
        b.putShort(u + 6, (short)0, ByteOrder.BIG_ENDIAN);
        final long pseudo = Checksum.pseudoHeader(src, dst, Protocols.UDP, 8 + payload.length);
        final int c = Checksum.compute(b, u, 8 + payload.length, pseudo);
        b.putShort(u + 6, (short)(c == 0 ? 0xFFFF : c), ByteOrder.BIG_ENDIAN);
        return b;
    }

    /** An L2TPv2 SCCRQ assigning Tunnel ID {@code tid}: what opens an L2TP tunnel. */
    public static byte[] sccrq(final int tid)
    {
        return new L2tpMessages.Control(0, 0, 0, 0).type(L2tpHeader.SCCRQ).sccrqExtras("lac")
            .u16(L2tpHeader.AVP_ASSIGNED_TUNNEL_ID, tid).bytes();
    }

    public static UnsafeBuffer icmpQuery(final int src, final int dst, final int type, final int id, final int seq)
    {
        final int l4 = 8 + 16;
        final UnsafeBuffer b = new UnsafeBuffer(new byte[OFFSET + 20 + l4 + 16]);
        Ipv4Header.write(b, OFFSET, 20 + l4, 1, 64, Protocols.ICMP, src, dst);
        final int i = OFFSET + 20;
        b.putByte(i, (byte)type);
        b.putShort(i + 4, (short)id, ByteOrder.BIG_ENDIAN);
        b.putShort(i + 6, (short)seq, ByteOrder.BIG_ENDIAN);
        b.putShort(i + 2, (short)Checksum.compute(b, i, l4, 0), ByteOrder.BIG_ENDIAN);
        return b;
    }

    /** An ICMP error from {@code src} to {@code dst} quoting {@code quoteLength} bytes of {@code offending}. */
    public static UnsafeBuffer icmpError(final int src, final int dst, final int type, final int code,
        final UnsafeBuffer offending, final int quoteLength)
    {
        final int l4 = 8 + quoteLength;
        final UnsafeBuffer b = new UnsafeBuffer(new byte[OFFSET + 20 + l4 + 16]);
        Ipv4Header.write(b, OFFSET, 20 + l4, 1, 64, Protocols.ICMP, src, dst);
        final int i = OFFSET + 20;
        b.putByte(i, (byte)type);
        b.putByte(i + 1, (byte)code);
        b.putBytes(i + 8, offending, OFFSET, quoteLength);
        b.putShort(i + 2, (short)Checksum.compute(b, i, l4, 0), ByteOrder.BIG_ENDIAN);
        return b;
    }

    /**
     * An SCTP (common header and one DATA-like chunk of payload bytes), DCCP (a 16-byte generic header with
     * the extended sequence bit, CsCov 0) or UDP-Lite (coverage: header only) packet with a valid checksum.
     */
    public static UnsafeBuffer ported(final int protocol, final int src, final int sport, final int dst, final int dport,
        final int payload)
    {
        final int header = protocol == Protocols.SCTP ? 12 : protocol == Protocols.DCCP ? 16 : 8;
        final int l4 = header + payload;
        final UnsafeBuffer b = new UnsafeBuffer(new byte[OFFSET + 20 + l4 + 16]);
        Ipv4Header.write(b, OFFSET, 20 + l4, 1, 64, protocol, src, dst);
        final int t = OFFSET + 20;
        b.putShort(t, (short)sport, ByteOrder.BIG_ENDIAN);
        b.putShort(t + 2, (short)dport, ByteOrder.BIG_ENDIAN);
        if (protocol == Protocols.SCTP)
        {
            b.putInt(t + 4, 0x1234_5678, ByteOrder.BIG_ENDIAN);   // verification tag
        }
        else if (protocol == Protocols.DCCP)
        {
            b.putByte(t + 4, (byte)4);            // data offset: 16 bytes
            b.putByte(t + 8, (byte)((2 << 1) | 1));   // type 2 (Data), extended sequence numbers
        }
        else
        {
            b.putShort(t + 4, (short)8, ByteOrder.BIG_ENDIAN);   // UDP-Lite coverage: the header only
        }
        for (int i = 0; i < payload; i++)
        {
            b.putByte(t + header + i, (byte)(i * 3 + 1));
        }
        final Ipv4Header ip = new Ipv4Header();
        ip.wrap(b, OFFSET, 20 + l4);
        io.passgate.wire.Checksum.completeTransport(ip);
        return b;
    }

    /** A packet of another IP protocol with a few payload bytes. */
    public static UnsafeBuffer other(final int src, final int dst, final int protocol, final int payload)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[OFFSET + 20 + payload + 16]);
        Ipv4Header.write(b, OFFSET, 20 + payload, 1, 64, protocol, src, dst);
        for (int i = 0; i < payload; i++)
        {
            b.putByte(OFFSET + 20 + i, (byte)(i + 1));
        }
        return b;
    }

    public static int length(final UnsafeBuffer b)
    {
        return b.getShort(OFFSET + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    // ------------------------------------------------------------------------- reading back

    public static int source(final UnsafeBuffer b)
    {
        return b.getInt(OFFSET + 12, ByteOrder.BIG_ENDIAN);
    }

    public static int destination(final UnsafeBuffer b)
    {
        return b.getInt(OFFSET + 16, ByteOrder.BIG_ENDIAN);
    }

    public static int sourcePort(final UnsafeBuffer b)
    {
        return b.getShort(OFFSET + 20, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public static int destinationPort(final UnsafeBuffer b)
    {
        return b.getShort(OFFSET + 22, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    public static int icmpId(final UnsafeBuffer b)
    {
        return b.getShort(OFFSET + 24, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    /** True when the IP header checksum and the transport (or ICMP) checksum verify. */
    public static boolean checksumsValid(final UnsafeBuffer b)
    {
        final Ipv4Header ip = new Ipv4Header();
        if (!ip.wrap(b, OFFSET, b.capacity() - OFFSET) || !ip.checksumValid())
        {
            return false;
        }
        if (ip.isFragment())
        {
            return true;
        }
        switch (ip.protocol())
        {
            case Protocols.TCP:
            {
                final TcpHeader t = new TcpHeader();
                return t.wrap(b, ip.payloadOffset(), ip.payloadLength())
                    && t.checksumValid(ip.pseudoHeaderSum(), ip.payloadLength());
            }
            case Protocols.UDP:
            {
                final UdpHeader u = new UdpHeader();
                return u.wrap(b, ip.payloadOffset(), ip.payloadLength()) && u.checksumValid(ip.pseudoHeaderSum());
            }
            case Protocols.ICMP:
            {
                final IcmpHeader i = new IcmpHeader();
                return i.wrap(b, ip.payloadOffset(), ip.payloadLength()) && i.checksumValid();
            }
            case Protocols.SCTP, Protocols.DCCP, Protocols.UDPLITE:
            {
                final io.passgate.wire.PortsHeader h = new io.passgate.wire.PortsHeader();
                return h.wrap(b, ip.payloadOffset(), ip.payloadLength(), ip.protocol())
                    && h.checksumValid(ip.pseudoHeaderSum());
            }
            default:
                return true;
        }
    }
}

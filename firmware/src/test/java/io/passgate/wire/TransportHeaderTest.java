package io.passgate.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class TransportHeaderTest
{
    private final Ipv4Header ip = new Ipv4Header();
    private final TcpHeader tcp = new TcpHeader();
    private final UdpHeader udp = new UdpHeader();
    private final IcmpHeader icmp = new IcmpHeader();

    @Test
    void tcpGoldenSynFields()
    {
        final UnsafeBuffer b = Bytes.hex(Ipv4HeaderTest.SYN);
        assertTrue(ip.wrap(b, 0, b.capacity()));
        assertTrue(tcp.wrap(b, ip.payloadOffset(), ip.payloadLength()));
        assertEquals(3025, tcp.sourcePort());
        assertEquals(1723, tcp.destinationPort());
        assertEquals(3648253419L, tcp.sequence());
        assertEquals(28, tcp.headerLength());
        assertTrue(tcp.syn());
        assertFalse(tcp.ack());
        assertEquals(16384, tcp.window());
        assertEquals(0x531D, tcp.checksum());
        assertEquals(1460, tcp.mss());
        assertTrue(tcp.checksumValid(ip.pseudoHeaderSum(), ip.payloadLength()));
    }

    /** A NAT rewrite of address and port keeps the complete-form TCP checksum valid. */
    @Test
    void tcpNatRewriteKeepsChecksumValid()
    {
        final UnsafeBuffer b = Bytes.hex(Ipv4HeaderTest.SYN);
        ip.wrap(b, 0, b.capacity());
        tcp.wrap(b, ip.payloadOffset(), ip.payloadLength());
        final int old = ip.source();
        final int wan = Ipv4Header.parse("203.0.113.1");
        ip.source(wan);
        tcp.addressChanged(old, wan, false).sourcePort(40001, false);
        assertTrue(ip.checksumValid());
        assertTrue(tcp.checksumValid(ip.pseudoHeaderSum(), ip.payloadLength()));
        assertEquals(40001, tcp.sourcePort());
    }

    /** Partial form: the field is the pseudo-header sum; a port change leaves it, an address change moves it. */
    @Test
    void tcpPartialFormRewrite()
    {
        final UnsafeBuffer b = Bytes.hex(Ipv4HeaderTest.SYN);
        ip.wrap(b, 0, b.capacity());
        tcp.wrap(b, ip.payloadOffset(), ip.payloadLength());
        tcp.checksum(Checksum.fold(ip.pseudoHeaderSum()));
        final int old = ip.source();
        final int wan = Ipv4Header.parse("203.0.113.1");
        ip.source(wan);
        tcp.addressChanged(old, wan, true).sourcePort(40001, true);
        assertEquals(Checksum.fold(ip.pseudoHeaderSum()), tcp.checksum());
        // what the stack does on transmit: complement of (partial + sum of header and data)
        final int finished = ~Checksum.fold(Checksum.sum(b, tcp.offset(), ip.payloadLength(), 0)) & 0xFFFF;
        tcp.checksum(0);
        final int expected = Checksum.compute(b, tcp.offset(), ip.payloadLength(), ip.pseudoHeaderSum());
        assertEquals(expected, finished);
    }

    @Test
    void mssClampAlignedAndMisaligned()
    {
        final UnsafeBuffer b = Bytes.hex(Ipv4HeaderTest.SYN);
        ip.wrap(b, 0, b.capacity());
        tcp.wrap(b, ip.payloadOffset(), ip.payloadLength());
        assertTrue(tcp.clampMss(1400, false));
        assertEquals(1400, tcp.mss());
        assertTrue(tcp.checksumValid(ip.pseudoHeaderSum(), ip.payloadLength()));
        assertFalse(tcp.clampMss(1452, false), "never raised");

        // options NOP, MSS 1460, NOP, NOP, NOP: the MSS value sits at an odd offset
        final UnsafeBuffer m = Bytes.hex("4500 0030 0001 0000 4006 0000 0a00 0002 cb00 710a 1000 0050 0000 0001 0000 0000"
            + "7002 ffff 0000 0000 0102 0405 b401 0101");
        ip.wrap(m, 0, m.capacity());
        ip.checksum(ip.computeChecksum());
        tcp.wrap(m, ip.payloadOffset(), ip.payloadLength());
        tcp.checksum(Checksum.compute(m, tcp.offset(), ip.payloadLength(), ip.pseudoHeaderSum()));
        assertEquals(1460, tcp.mss());
        assertTrue(tcp.clampMss(1360, false));
        assertEquals(1360, tcp.mss());
        assertTrue(tcp.checksumValid(ip.pseudoHeaderSum(), ip.payloadLength()));
    }

    @Test
    void tcpRejectsBadDataOffset()
    {
        final UnsafeBuffer b = Bytes.hex(Ipv4HeaderTest.SYN);
        assertFalse(tcp.wrap(b, 20, 19));
        b.putByte(20 + 12, (byte)0x40);
        assertFalse(tcp.wrap(b, 20, 28), "data offset 16 bytes");
        b.putByte(20 + 12, (byte)0xF0);
        assertFalse(tcp.wrap(b, 20, 28), "data offset 60 bytes in 28");
        assertEquals(TcpHeader.ERR_DATA_OFFSET, tcp.error());
    }

    private static UnsafeBuffer udpPacket(final int checksumMode)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[20 + 8 + 5]);
        Ipv4Header.write(b, 0, 33, 1, 64, 17, Ipv4Header.parse("10.0.0.2"), Ipv4Header.parse("203.0.113.10"));
        b.putShort(20, (short)5000, ByteOrder.BIG_ENDIAN);
        b.putShort(22, (short)53, ByteOrder.BIG_ENDIAN);
        b.putShort(24, (short)13, ByteOrder.BIG_ENDIAN);
        b.putBytes(28, "hello".getBytes());
        if (checksumMode == 1)
        {
            final long pseudo = Checksum.pseudoHeader(Ipv4Header.parse("10.0.0.2"), Ipv4Header.parse("203.0.113.10"), 17, 13);
            b.putShort(26, (short)Checksum.compute(b, 20, 13, pseudo), ByteOrder.BIG_ENDIAN);
        }
        return b;
    }

    @Test
    void udpRewriteWithAndWithoutChecksum()
    {
        final UnsafeBuffer b = udpPacket(1);
        assertTrue(ip.wrap(b, 0, b.capacity()));
        assertTrue(udp.wrap(b, ip.payloadOffset(), ip.payloadLength()));
        assertEquals(5000, udp.sourcePort());
        assertEquals(53, udp.destinationPort());
        assertEquals(5, udp.payloadLength());
        assertTrue(udp.checksumValid(ip.pseudoHeaderSum()));
        final int old = ip.source();
        ip.source(Ipv4Header.parse("203.0.113.1"));
        udp.addressChanged(old, ip.source(), false).sourcePort(61000, false);
        assertTrue(udp.checksumValid(ip.pseudoHeaderSum()));
        assertTrue(udp.checksum() != 0);

        final UnsafeBuffer none = udpPacket(0);
        ip.wrap(none, 0, none.capacity());
        udp.wrap(none, ip.payloadOffset(), ip.payloadLength());
        udp.addressChanged(ip.source(), 1, false).sourcePort(1, false);
        assertEquals(0, udp.checksum(), "zero means no checksum and stays zero");
    }

    @Test
    void udpRejectsBadLength()
    {
        final UnsafeBuffer b = udpPacket(1);
        assertFalse(udp.wrap(b, 20, 7));
        b.putShort(24, (short)200, ByteOrder.BIG_ENDIAN);
        assertFalse(udp.wrap(b, 20, 13));
        b.putShort(24, (short)4, ByteOrder.BIG_ENDIAN);
        assertFalse(udp.wrap(b, 20, 13));
        assertEquals(UdpHeader.ERR_LENGTH, udp.error());
    }

    @Test
    void icmpEchoAndEmbeddedError()
    {
        // echo request id 0x1234 seq 1 with 4 bytes of data
        final UnsafeBuffer e = Bytes.hex("0800 0000 1234 0001 6162 6364");
        e.putShort(2, (short)Checksum.compute(e, 0, 12, 0), ByteOrder.BIG_ENDIAN);
        assertTrue(icmp.wrap(e, 0, 12));
        assertEquals(IcmpHeader.ECHO_REQUEST, icmp.type());
        assertTrue(IcmpHeader.isQueryRequest(icmp.type()));
        assertEquals(0x1234, icmp.identifier());
        icmp.identifier(0xBEEF);
        assertTrue(icmp.checksumValid());

        // port unreachable quoting a UDP header; rewrite a word at an odd offset of the message
        final UnsafeBuffer err = new UnsafeBuffer(new byte[8 + 28 + 1]);
        err.putByte(0, (byte)3);
        err.putByte(1, (byte)3);
        Ipv4Header.write(err, 8, 33, 1, 64, 17, 0x0A000002, 0xCB00710A);
        err.putShort(28, (short)5000, ByteOrder.BIG_ENDIAN);
        err.putShort(30, (short)53, ByteOrder.BIG_ENDIAN);
        err.putShort(2, (short)Checksum.compute(err, 0, 37, 0), ByteOrder.BIG_ENDIAN);
        assertTrue(icmp.wrap(err, 0, 37));
        assertTrue(icmp.isError());
        assertEquals(8, icmp.embeddedOffset());
        final int oldSrc = err.getInt(8 + 12, ByteOrder.BIG_ENDIAN);
        err.putInt(8 + 12, 0xCB007101, ByteOrder.BIG_ENDIAN);
        icmp.valueChanged(8 + 12, oldSrc, 0xCB007101);
        assertTrue(icmp.checksumValid());
        final int odd = err.getShort(35, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        err.putShort(35, (short)0xA5A5, ByteOrder.BIG_ENDIAN);
        icmp.wordChanged(35, odd, 0xA5A5);
        assertTrue(icmp.checksumValid(), "odd-offset word");
        assertFalse(icmp.wrap(err, 0, 7));
    }
}

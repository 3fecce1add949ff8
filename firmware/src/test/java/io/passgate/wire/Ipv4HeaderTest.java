package io.passgate.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class Ipv4HeaderTest
{
    /** pptp.pcap packet 1: 10.1.1.11:3025 -> 10.1.1.10:1723 SYN. */
    static final String SYN = "4500 0030 03b7 4000 8006 e0fa 0a01 010b 0a01 010a 0bd1 06bb d973 edeb 0000 0000"
        + "7002 4000 531d 0000 0204 05b4 0101 0402";

    private final Ipv4Header ip = new Ipv4Header();

    @Test
    void parsesGoldenHeader()
    {
        final UnsafeBuffer b = Bytes.hex(SYN);
        assertTrue(ip.wrap(b, 0, b.capacity()));
        assertEquals(20, ip.headerLength());
        assertEquals(48, ip.totalLength());
        assertEquals(0x03B7, ip.identification());
        assertTrue(ip.dontFragment());
        assertFalse(ip.isFragment());
        assertEquals(128, ip.ttl());
        assertEquals(6, ip.protocol());
        assertEquals(0xE0FA, ip.checksum());
        assertEquals(Ipv4Header.parse("10.1.1.11"), ip.source());
        assertEquals(Ipv4Header.parse("10.1.1.10"), ip.destination());
        assertEquals("10.1.1.11", Ipv4Header.format(ip.source()));
        assertTrue(ip.checksumValid());
        assertEquals(0xE0FA, ip.computeChecksum());
        assertEquals(20, ip.payloadOffset());
        assertEquals(28, ip.payloadLength());
    }

    @Test
    void rewritesKeepTheChecksumValid()
    {
        final UnsafeBuffer b = Bytes.hex(SYN);
        ip.wrap(b, 0, b.capacity());
        ip.source(Ipv4Header.parse("203.0.113.1"));
        assertTrue(ip.checksumValid());
        ip.destination(Ipv4Header.parse("198.51.100.7"));
        assertTrue(ip.checksumValid());
        ip.ttl(1);
        assertTrue(ip.checksumValid());
        assertEquals(ip.computeChecksum(), ip.checksum());
        assertEquals(1, ip.ttl());
    }

    @Test
    void rejectsMalformedWithoutThrowing()
    {
        final UnsafeBuffer b = Bytes.hex(SYN);
        assertFalse(ip.wrap(b, 0, 19));
        assertEquals(Ipv4Header.ERR_TOO_SHORT, ip.error());
        assertFalse(ip.wrap(b, 0, 40), "total length 48 past 40 available bytes");
        assertEquals(Ipv4Header.ERR_TOTAL_LENGTH, ip.error());
        b.putByte(0, (byte)0x65);
        assertFalse(ip.wrap(b, 0, b.capacity()));
        assertEquals(Ipv4Header.ERR_VERSION, ip.error());
        b.putByte(0, (byte)0x44);
        assertFalse(ip.wrap(b, 0, b.capacity()));
        assertEquals(Ipv4Header.ERR_HEADER_LENGTH, ip.error());
        b.putByte(0, (byte)0x4F);
        assertFalse(ip.wrap(b, 0, b.capacity()), "60-byte header in 48 bytes");
        b.putByte(0, (byte)0x45);
        b.putShort(2, (short)10, java.nio.ByteOrder.BIG_ENDIAN);
        assertFalse(ip.wrap(b, 0, b.capacity()), "total length below header length");
    }

    @Test
    void writesAValidHeader()
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[28]);
        Ipv4Header.write(b, 0, 28, 7, 64, 1, Ipv4Header.parse("10.0.0.1"), Ipv4Header.parse("10.0.0.2"));
        assertTrue(ip.wrap(b, 0, 28));
        assertTrue(ip.checksumValid());
        assertEquals(1, ip.protocol());
    }

    @Test
    void parseRejectsBadText()
    {
        assertThrows(IllegalArgumentException.class, () -> Ipv4Header.parse("10.0.0"));
        assertThrows(IllegalArgumentException.class, () -> Ipv4Header.parse("10.0.0.256"));
        assertThrows(IllegalArgumentException.class, () -> Ipv4Header.parse("a.b.c.d"));
        assertEquals(0xFFFFFFFF, Ipv4Header.parse("255.255.255.255"));
    }
}

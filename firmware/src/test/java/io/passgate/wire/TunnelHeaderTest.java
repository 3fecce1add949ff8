package io.passgate.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class TunnelHeaderTest
{
    /** pptp.pcap: GREv1 10.1.1.11 -> 10.1.1.10, call 0, seq 0, PPP LCP payload of 48 bytes. */
    static final String GRE_V1 = "4500 0050 03bc 0000 802f 20ad 0a01 010b 0a01 010a 3001 880b 0030 0000 0000 0000"
        + "ff03 c021 0100 002c 0506 0219 52cf 0702 0802 0d03 0611 0406 4e13 1701 29f7 6a90"
        + "77f1 472c 8352 47f2 71d6 5607 0000 000c";

    private final Ipv4Header ip = new Ipv4Header();
    private final GreHeader gre = new GreHeader();
    private final EspHeader esp = new EspHeader();

    @Test
    void enhancedGreGolden()
    {
        final UnsafeBuffer b = Bytes.hex(GRE_V1);
        assertTrue(ip.wrap(b, 0, b.capacity()));
        assertEquals(47, ip.protocol());
        assertTrue(gre.wrap(b, ip.payloadOffset(), ip.payloadLength()));
        assertTrue(gre.isPptp());
        assertEquals(GreHeader.PROTOCOL_PPP, gre.protocolType());
        assertEquals(0x30, gre.pptpPayloadLength());
        assertEquals(0, gre.callId());
        assertTrue(gre.hasSequence());
        assertEquals(0, gre.sequence());
        assertFalse(gre.hasAck());
        assertEquals(12, gre.headerLength());
        assertEquals(gre.pptpPayloadLength(), gre.payloadLength());
        gre.callId(0xBEEF);
        assertEquals(0xBEEF, gre.callId());
        assertEquals(0x0030BEEFL, gre.key());
    }

    @Test
    void writtenEnhancedGreParsesBack()
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[64]);
        final int len = GreHeader.writePptp(b, 0, 20, 7, 5, 4);
        assertEquals(16, len);
        assertTrue(gre.wrap(b, 0, 36));
        assertEquals(7, gre.callId());
        assertEquals(5, gre.sequence());
        assertEquals(4, gre.ack());
        assertEquals(20, gre.payloadLength());
        assertEquals(8, GreHeader.writePptp(b, 0, 0, 9, -1, -1));
        assertTrue(gre.wrap(b, 0, 8));
        assertFalse(gre.hasSequence());
    }

    @Test
    void enhancedGreFlagRules()
    {
        final UnsafeBuffer b = Bytes.hex("2001 880b 0000 0001");
        assertTrue(gre.wrap(b, 0, 8));
        b.putByte(0, (byte)0x00);   // no key: not PPTP
        assertFalse(gre.wrap(b, 0, 8));
        assertEquals(GreHeader.ERR_V1_FLAGS, gre.error());
        b.putByte(0, (byte)0x20);
        b.putShort(2, (short)0x0800, java.nio.ByteOrder.BIG_ENDIAN);
        assertFalse(gre.wrap(b, 0, 8));
        assertEquals(GreHeader.ERR_V1_PROTOCOL, gre.error());
        assertFalse(gre.wrap(Bytes.hex("3001 880b 0000 0001"), 0, 8), "sequence flag without the bytes");
        assertFalse(gre.wrap(Bytes.hex("0002 0800"), 0, 4));
        assertEquals(GreHeader.ERR_VERSION, gre.error());
    }

    @Test
    void greV0Variants()
    {
        assertTrue(gre.wrap(Bytes.hex("0000 0800"), 0, 4));
        assertEquals(0, gre.version());
        assertFalse(gre.hasKey());
        assertTrue(gre.wrap(Bytes.hex("2000 0800 0000 0028"), 0, 8));
        assertEquals(0x28, gre.key());
        assertTrue(gre.wrap(Bytes.hex("b000 0800 1234 0000 0000 0028 0000 0001"), 0, 16));
        assertTrue(gre.hasChecksum());
        assertEquals(1, gre.sequence());
        // routing present, one SRE of 4 bytes, then the null SRE
        assertTrue(gre.wrap(Bytes.hex("4000 0800 0000 0000 0800 0004 0a00 0001 0000 0000"), 0, 20));
        assertEquals(20, gre.headerLength());
        // routing entries that never end
        assertFalse(gre.wrap(Bytes.hex("4000 0800 0000 0000 0800 0004 0a00 0001"), 0, 16));
        assertEquals(GreHeader.ERR_ROUTING, gre.error());
    }

    @Test
    void espGolden()
    {
        final UnsafeBuffer b = Bytes.hex("4500 0088 ff67 0000 4032 f695 c001 0217 c001 022d 1234 5678 0000 0001 4c20 452f");
        assertTrue(esp.wrap(b, 20, 16));
        assertEquals(0x12345678, esp.spi());
        assertEquals(1, esp.sequence());
        assertEquals(8, esp.payloadLength());
        assertFalse(esp.wrap(b, 20, 7));
        assertEquals(EspHeader.ERR_TOO_SHORT, esp.error());
        assertFalse(esp.wrap(Bytes.hex("0000 0000 0000 0001"), 0, 8));
        assertEquals(EspHeader.ERR_SPI_ZERO, esp.error());
    }
}

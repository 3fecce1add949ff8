package io.passgate.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** CRC32c against RFC 3720's test vectors; PortsHeader's length checks and SCTP CRC layout. */
class PortsHeaderTest
{
    @Test
    void crc32cMatchesTheRfc3720Vectors()
    {
        final UnsafeBuffer zeros = new UnsafeBuffer(new byte[32]);
        assertEquals(0x8A9136AA, Crc32c.compute(zeros, 0, 32));
        final UnsafeBuffer ones = new UnsafeBuffer(new byte[32]);
        ones.setMemory(0, 32, (byte)0xFF);
        assertEquals(0x62A8AB43, Crc32c.compute(ones, 0, 32));
        final UnsafeBuffer incrementing = new UnsafeBuffer(new byte[32]);
        for (int i = 0; i < 32; i++)
        {
            incrementing.putByte(i, (byte)i);
        }
        assertEquals(0x46DD794E, Crc32c.compute(incrementing, 0, 32));
    }

    @Test
    void sctpCrcIsStoredLeastSignificantByteFirstAndFollowsThePorts()
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[40]);
        b.putShort(0, (short)5000, ByteOrder.BIG_ENDIAN);
        b.putShort(2, (short)3868, ByteOrder.BIG_ENDIAN);
        b.putInt(4, 0x01020304, ByteOrder.BIG_ENDIAN);
        PortsHeader.writeSctpCrc(b, 0, 40);
        final PortsHeader h = new PortsHeader();
        assertTrue(h.wrap(b, 0, 40, PortsHeader.SCTP));
        assertTrue(h.checksumValid(0));
        final int stored = b.getInt(8, ByteOrder.LITTLE_ENDIAN);
        b.putInt(8, 0);
        assertEquals(Crc32c.compute(b, 0, 40), stored);
        b.putInt(8, stored, ByteOrder.LITTLE_ENDIAN);
        h.sourcePort(6000, false);
        assertFalse(h.checksumValid(0), "stale until finished");
        h.finish(false);
        assertTrue(h.checksumValid(0));
        h.sourcePort(6001, true);
        h.finish(true);
        assertFalse(h.checksumValid(0), "a partial (GSO) packet's CRC is the kernel's to compute");
    }

    @Test
    void lengthsAreChecked()
    {
        final PortsHeader h = new PortsHeader();
        final UnsafeBuffer b = new UnsafeBuffer(new byte[64]);
        assertFalse(h.wrap(b, 0, 11, PortsHeader.SCTP));
        assertFalse(h.wrap(b, 0, 11, PortsHeader.DCCP));
        b.putByte(4, (byte)2);   // DCCP data offset 8 bytes: under the generic header
        assertFalse(h.wrap(b, 0, 64, PortsHeader.DCCP));
        b.putByte(4, (byte)3);
        assertTrue(h.wrap(b, 0, 64, PortsHeader.DCCP));
        b.putByte(8, (byte)1);   // extended sequence numbers need 16 bytes
        assertFalse(h.wrap(b, 0, 64, PortsHeader.DCCP));
        b.putShort(4, (short)7, ByteOrder.BIG_ENDIAN);   // UDP-Lite coverage 7
        assertFalse(h.wrap(b, 0, 64, PortsHeader.UDPLITE));
        b.putShort(4, (short)0, ByteOrder.BIG_ENDIAN);
        assertTrue(h.wrap(b, 0, 64, PortsHeader.UDPLITE));
        assertFalse(h.wrap(b, 0, 64, 47), "not a port protocol");
    }
}

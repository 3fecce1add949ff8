package io.passgate.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class ChecksumTest
{
    /** RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d. */
    @Test
    void rfc1071Example()
    {
        final UnsafeBuffer b = Bytes.hex("0001 f203 f4f5 f6f7");
        assertEquals(0xDDF2, Checksum.fold(Checksum.sum(b, 0, 8, 0)));
        assertEquals(0x220D, Checksum.compute(b, 0, 8, 0));
    }

    @Test
    void oddLengthPadsWithZero()
    {
        final UnsafeBuffer b = Bytes.hex("0102 03");
        assertEquals(0x0102 + 0x0300, Checksum.fold(Checksum.sum(b, 0, 3, 0)));
    }

    /** RFC 1624: incremental update must equal recomputation, for any data and any change. */
    @Test
    void incrementalUpdateEqualsRecomputation()
    {
        final SplittableRandom random = new SplittableRandom(1624);
        final UnsafeBuffer b = new UnsafeBuffer(new byte[64]);
        for (int round = 0; round < 20_000; round++)
        {
            for (int i = 0; i < 64; i++)
            {
                b.putByte(i, (byte)random.nextInt(256));
            }
            final int c = Checksum.compute(b, 0, 64, 0);
            final int at = random.nextInt(15) * 4;
            final int old = b.getInt(at, java.nio.ByteOrder.BIG_ENDIAN);
            final int neu = round % 7 == 0 ? 0 : random.nextInt();
            b.putInt(at, neu, java.nio.ByteOrder.BIG_ENDIAN);
            final int expected = Checksum.compute(b, 0, 64, 0);
            // RFC 1624 eqn 3 can differ from recomputation only by +0/-0 (0x0000 vs 0xFFFF)
            final int actual = Checksum.update32(c, old, neu);
            assertEquals(expected == 0xFFFF ? 0 : expected, actual == 0xFFFF ? 0 : actual, "round " + round);
        }
    }

    /** The partial form holds the folded, uncomplemented pseudo-header sum; an address change moves it. */
    @Test
    void partialFormFollowsThePseudoHeader()
    {
        final int src = 0x0A00000B;
        final int dst = 0xCB00710A;
        final int wan = 0xCB007101;
        final int partial = Checksum.fold(Checksum.pseudoHeader(src, dst, 6, 1480));
        final int updated = Checksum.updatePartial32(partial, src, wan);
        assertEquals(Checksum.fold(Checksum.pseudoHeader(wan, dst, 6, 1480)), updated);
    }
}

package io.passgate.wire;

import org.agrona.DirectBuffer;

/**
 * CRC32c (Castagnoli, RFC 3309 / RFC 4960 appendix B), table-driven over a {@link DirectBuffer}: the SCTP
 * checksum. Allocation-free; the table is built once.
 */
public final class Crc32c
{
    private static final int[] TABLE = new int[256];

    static
    {
        for (int i = 0; i < 256; i++)
        {
            int c = i;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? (c >>> 1) ^ 0x82F63B78 : c >>> 1;
            }
            TABLE[i] = c;
        }
    }

    private Crc32c()
    {
    }

    /** The CRC32c of {@code length} bytes at {@code offset} (initial value ~0, final complement). */
    public static int compute(final DirectBuffer buffer, final int offset, final int length)
    {
        int crc = 0xFFFF_FFFF;
        for (int i = 0; i < length; i++)
        {
            crc = TABLE[(crc ^ buffer.getByte(offset + i)) & 0xFF] ^ (crc >>> 8);
        }
        return ~crc;
    }
}

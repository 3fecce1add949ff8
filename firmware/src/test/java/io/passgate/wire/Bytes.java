package io.passgate.wire;

import org.agrona.concurrent.UnsafeBuffer;

/** Test helper: hex text to a buffer. */
final class Bytes
{
    private Bytes()
    {
    }

    static UnsafeBuffer hex(final String text)
    {
        final String clean = text.replaceAll("[^0-9a-fA-F]", "");
        final byte[] bytes = new byte[clean.length() / 2];
        for (int i = 0; i < bytes.length; i++)
        {
            bytes[i] = (byte)Integer.parseInt(clean.substring(2 * i, 2 * i + 2), 16);
        }
        return new UnsafeBuffer(bytes);
    }
}

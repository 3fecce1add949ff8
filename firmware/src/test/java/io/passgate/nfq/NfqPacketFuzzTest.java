package io.passgate.nfq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * nfnetlink_queue packet messages as the kernel delivers them (nlmsghdr, nfgenmsg, attributes), here any
 * bytes after a first byte choosing the message's (4-aligned) offset: the decoder refuses or decodes, never
 * reads outside the message (the buffer ends where the message does), and what it decodes points inside it:
 * the payload lies within the message, after the headers.
 */
class NfqPacketFuzzTest
{
    private final NfqPacket packet = new NfqPacket();

    @FuzzTest(maxDuration = "15s")
    void message(final byte[] data)
    {
        if (data.length < 1)
        {
            return;
        }
        final int offset = (data[0] & 3) * 4;
        final int length = data.length - 1;
        final UnsafeBuffer b = new UnsafeBuffer(new byte[offset + length]);
        b.putBytes(offset, data, 1, length);
        if (!packet.wrap(b, offset, length))
        {
            return;
        }
        assertEquals(offset, packet.messageOffset());
        assertEquals(length, packet.messageLength());
        assertTrue(packet.payloadOffset() >= offset + 20, "the payload follows the headers");
        assertTrue(packet.payloadLength() >= 0 && packet.payloadOffset() + packet.payloadLength() <= offset + length,
            "the payload lies inside the message");
        packet.truncated();
        packet.checksumPartial();
        packet.gso();
        packet.mark(7);
        assertEquals(7, packet.requestedMark());
    }
}

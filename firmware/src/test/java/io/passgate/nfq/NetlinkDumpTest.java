package io.passgate.nfq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;

import io.passgate.sys.Linux;
import io.passgate.testing.Allocations;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * {@link NetlinkDump#walk} over hand-built datagrams: only the request's messages count, DONE and ERROR end the
 * dump, and the two modes differ on an ACK and on a malformed message.
 */
class NetlinkDumpTest
{
    private static final int SEQ = 5;
    private static final int ROW = 0x10;

    /** The visitor: each message's first payload byte is the items it holds; what it was given is kept. */
    private final List<String> seen = new ArrayList<>();
    private final NetlinkDump.MessageVisitor counting = (b, offset, length, type) ->
    {
        seen.add(offset + "/" + length + "/" + type);
        return b.getByte(offset + Linux.NLMSG_HDRLEN);
    };
    private final UnsafeBuffer b = new UnsafeBuffer(new byte[4096]);

    /** A message of {@code payload} bytes (the first {@code items}), its length unaligned; the next's offset. */
    private int row(final int at, final int seq, final int items, final int payload)
    {
        Netlink.putHeader(b, at, ROW, 0, seq);
        b.putInt(at + Netlink.NLMSG_LEN_OFFSET, Linux.NLMSG_HDRLEN + payload, Netlink.HOST);
        b.putByte(at + Linux.NLMSG_HDRLEN, (byte)items);
        return Netlink.align(at + Linux.NLMSG_HDRLEN + payload);
    }

    private int done(final int at, final int seq)
    {
        Netlink.putHeader(b, at, Linux.NLMSG_DONE, 0, seq);
        b.putInt(at + Linux.NLMSG_HDRLEN, 0, Netlink.HOST);
        return Netlink.finish(b, at, at + Linux.NLMSG_HDRLEN + 4);
    }

    /** An nlmsgerr: the error (0: an ACK) and the request's header. */
    private int error(final int at, final int seq, final int error)
    {
        Netlink.putHeader(b, at, Linux.NLMSG_ERROR, 0, seq);
        b.putInt(at + Netlink.NLMSGERR_ERROR_OFFSET, error, Netlink.HOST);
        Netlink.putHeader(b, at + Linux.NLMSG_HDRLEN + 4, ROW, 0, seq);
        return Netlink.finish(b, at, at + 2 * Linux.NLMSG_HDRLEN + 4);
    }

    private static int walk(final NetlinkDump dump, final UnsafeBuffer b, final int length)
    {
        dump.start();
        return dump.walk(b, length, SEQ);
    }

    @Test
    void otherRequestsMessagesAreSkipped()
    {
        int at = row(0, SEQ + 1, 7, 4);
        at = done(at, SEQ + 1);
        at = error(at, SEQ - 1, -Linux.EPERM);
        final int mine = at;
        at = row(at, SEQ, 2, 4);
        at = done(at, SEQ);
        assertEquals(2, walk(new NetlinkDump(counting, false), b, at));
        assertEquals(List.of(mine + "/20/16"), seen);
    }

    @Test
    void severalMessagesInADatagramAlignedToFourBytes()
    {
        int at = row(0, SEQ, 1, 5);   // 21 bytes, the next at 24
        at = row(at, SEQ, 2, 1);      // 17 bytes, the next at 44
        at = row(at, SEQ, 3, 8);      // 24 bytes, the next at 68
        at = done(at, SEQ);
        for (final boolean strict : new boolean[] {false, true})
        {
            seen.clear();
            assertEquals(6, walk(new NetlinkDump(counting, strict), b, at));
            assertEquals(List.of("0/21/16", "24/17/16", "44/24/16"), seen);
        }
    }

    @Test
    void doneEndsTheDumpWithWhatWasCounted()
    {
        int at = done(0, SEQ);
        row(at, SEQ, 9, 4);   // after the end: not read
        assertEquals(0, walk(new NetlinkDump(counting, false), b, at + 20));
        assertEquals(List.of(), seen);
    }

    @Test
    void anErrorEndsTheDumpWithItsErrnoInBothModes()
    {
        int at = row(0, SEQ, 3, 4);
        at = error(at, SEQ, -Linux.EPERM);
        assertEquals(-Linux.EPERM, walk(new NetlinkDump(counting, false), b, at));
        assertEquals(-Linux.EPERM, walk(new NetlinkDump(counting, true), b, at));
    }

    @Test
    void anAckEndsTheDumpWithTheCountOrFailsItWhenStrict()
    {
        int at = row(0, SEQ, 3, 4);
        at = error(at, SEQ, 0);
        assertEquals(3, walk(new NetlinkDump(counting, false), b, at));
        assertEquals(-Linux.EIO, walk(new NetlinkDump(counting, true), b, at));
    }

    @Test
    void aMessageLongerThanTheDatagramEndsItOrFailsTheDumpWhenStrict()
    {
        int at = row(0, SEQ, 1, 4);
        final int bad = at;
        at = row(at, SEQ, 2, 40);
        at = done(at, SEQ);
        b.putInt(bad + Netlink.NLMSG_LEN_OFFSET, at - bad + 4, Netlink.HOST);   // past the datagram's end
        final NetlinkDump lenient = new NetlinkDump(counting, false);
        assertEquals(NetlinkDump.MORE, walk(lenient, b, at));
        assertEquals(List.of("0/20/16"), seen);
        assertEquals(-Linux.EIO, walk(new NetlinkDump(counting, true), b, at));
    }

    @Test
    void aMessageShorterThanItsHeaderEndsTheDatagramOrFailsTheDumpWhenStrict()
    {
        int at = row(0, SEQ, 1, 4);
        final int bad = at;
        at = row(at, SEQ, 2, 4);
        at = done(at, SEQ);
        b.putInt(bad + Netlink.NLMSG_LEN_OFFSET, Linux.NLMSG_HDRLEN - 1, Netlink.HOST);
        final NetlinkDump lenient = new NetlinkDump(counting, false);
        lenient.start();
        assertEquals(NetlinkDump.MORE, lenient.walk(b, at, SEQ));
        assertEquals(List.of("0/20/16"), seen);
        at = row(0, SEQ, 4, 4);   // the next datagram goes on counting
        at = done(at, SEQ);
        assertEquals(5, lenient.walk(b, at, SEQ));
        at = row(0, SEQ, 1, 4);
        b.putInt(at + Netlink.NLMSG_LEN_OFFSET, 0, Netlink.HOST);
        assertEquals(-Linux.EIO, walk(new NetlinkDump(counting, true), b, at + Linux.NLMSG_HDRLEN));
    }

    @Test
    void aDumpSpreadOverTwoDatagramsCountsBoth()
    {
        for (final boolean strict : new boolean[] {false, true})
        {
            final NetlinkDump dump = new NetlinkDump(counting, strict);
            dump.start();
            int at = row(0, SEQ, 2, 4);
            at = row(at, SEQ, 3, 4);
            assertEquals(NetlinkDump.MORE, dump.walk(b, at + 8, SEQ));   // a tail shorter than a header: ignored
            at = row(0, SEQ, 4, 4);
            at = done(at, SEQ);
            assertEquals(9, dump.walk(b, at, SEQ));
        }
    }

    @Test
    void walkingAllocatesNothing()
    {
        final NetlinkDump.MessageVisitor quiet = (buffer, offset, length, type) -> 1;
        final NetlinkDump dump = new NetlinkDump(quiet, false);
        int at = row(0, SEQ + 1, 1, 4);
        at = row(at, SEQ, 1, 5);
        at = row(at, SEQ, 1, 4);
        at = done(at, SEQ);
        int sum = 0;
        for (int i = 0; i < 20_000; i++)
        {
            sum += walk(dump, b, at);
        }
        assertEquals(40_000, sum);
        // Up to 4 rounds, one clean: a late JIT deoptimization may allocate once, a per-call allocation every time.
        final StringBuilder rounds = new StringBuilder();
        for (int round = 0; round < 4; round++)
        {
            final long before = Allocations.currentThread();
            for (int i = 0; i < 20_000; i++)
            {
                sum += walk(dump, b, at);
            }
            final long bytes = Allocations.currentThread() - before;
            if (bytes == 0)
            {
                return;
            }
            rounds.append(bytes).append(' ');
        }
        fail("bytes allocated walking 20000 datagrams, per round: " + rounds);
    }
}

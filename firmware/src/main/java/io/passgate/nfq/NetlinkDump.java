package io.passgate.nfq;

import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.NetlinkSocket;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Reads the replies to one netlink request (a dump) until NLMSG_DONE or NLMSG_ERROR: messages of other requests
 * are skipped, the others go to a {@link MessageVisitor}. One per owner, made once; a read allocates nothing.
 *
 * <p>In strict mode a malformed message fails the dump with -EIO and so does an ACK (a dump ends with DONE);
 * otherwise a malformed message ends its datagram (the next one is read) and an ACK ends the dump like DONE.
 */
public final class NetlinkDump
{
    /** {@link #walk}: the datagram ended and the dump did not; read the next one. */
    public static final int MORE = Integer.MIN_VALUE;

    /** One message of the dump (not DONE nor ERROR). */
    @FunctionalInterface
    public interface MessageVisitor
    {
        /** @return the items the message holds (0 for none), summed into the dump's result */
        int message(UnsafeBuffer b, int offset, int length, int type);
    }

    private final MessageVisitor visitor;
    private final boolean strict;
    private int items;

    public NetlinkDump(final MessageVisitor visitor, final boolean strict)
    {
        this.visitor = visitor;
        this.strict = strict;
    }

    /**
     * Receives the replies to request {@code seq} into {@code in} until the dump ends; the items the visitor
     * counted, or -errno (-EIO when the socket reads nothing).
     */
    public int read(final NetlinkSocket socket, final NativeBuffer in, final int seq)
    {
        items = 0;
        final UnsafeBuffer b = in.buffer();
        while (true)
        {
            final long n = socket.receive(in.address(), in.capacity(), 0);
            if (n <= 0)
            {
                return n < 0 ? (int)n : -Linux.EIO;
            }
            final int result = walk(b, (int)n, seq);
            if (result != MORE)
            {
                return result;
            }
        }
    }

    /** Starts a dump for {@link #walk} alone (read does it itself). */
    void start()
    {
        items = 0;
    }

    /**
     * One received datagram of {@code length} bytes: the dump's result (the items counted since {@link #start},
     * or -errno), or {@link #MORE}.
     */
    int walk(final UnsafeBuffer b, final int length, final int seq)
    {
        int off = 0;
        while (off + Linux.NLMSG_HDRLEN <= length)
        {
            final int len = Netlink.messageLength(b, off);
            if (len < Linux.NLMSG_HDRLEN || off + len > length)
            {
                if (strict)
                {
                    return -Linux.EIO;
                }
                break;
            }
            if (Netlink.messageSeq(b, off) == seq)
            {
                final int type = Netlink.messageType(b, off);
                if (type == Linux.NLMSG_DONE)
                {
                    return items;
                }
                if (type == Linux.NLMSG_ERROR)
                {
                    final int error = Netlink.errorCode(b, off);
                    return error != 0 ? error : strict ? -Linux.EIO : items;
                }
                items += visitor.message(b, off, len, type);
            }
            off += Netlink.align(len);
        }
        return MORE;
    }
}

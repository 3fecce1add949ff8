package io.passgate.nfq;

import java.nio.ByteOrder;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.sys.ErrnoException;
import io.passgate.sys.IoVector;
import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.NetlinkSocket;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Gathers the verdicts of one receive batch into as few sendmsg calls as possible. Packets accepted
 * unchanged are covered by one NFQNL_MSG_VERDICT_BATCH for the highest id, placed after the individual
 * verdicts (rewritten, dropped, marked) so those are taken first. A rewritten payload is not copied: the
 * iovec points at the bytes where they were received.
 */
public final class VerdictWriter implements AutoCloseable
{
    /** Keeps each datagram well under the socket's send buffer. */
    static final int MAX_DATAGRAM = 1 << 20;
    private static final int HEADER_SPACE = 64 * 1024;
    private static final int PER_VERDICT = 64;

    private final int queue;
    private final NetlinkSocket socket;
    private final CounterSet counters;
    private final NativeBuffer headers;
    private final UnsafeBuffer view;
    private final NativeBuffer zeros;
    private final IoVector vector;
    private int headerPosition;
    private long pendingAcceptId = -1;
    private int sequence;

    public VerdictWriter(final int queue, final NetlinkSocket socket, final CounterSet counters) throws ErrnoException
    {
        this.queue = queue;
        this.socket = socket;
        this.counters = counters;
        this.headers = NativeBuffer.allocate(HEADER_SPACE);
        this.view = headers.buffer();
        this.zeros = NativeBuffer.allocate(8);
        this.vector = new IoVector(1024);
    }

    /** Accept unchanged: folded into the batch verdict. */
    public void accept(final int packetId)
    {
        final long id = packetId & 0xFFFF_FFFFL;
        if (id > pendingAcceptId)
        {
            pendingAcceptId = id;
        }
    }

    public void drop(final int packetId)
    {
        single(packetId, Linux.NF_DROP, NfqPacket.NO_MARK, 0, 0);
    }

    /** Hands the packet, unchanged, to queue {@code queue} (NF_QUEUE with the queue number). */
    public void requeue(final int packetId, final int queue)
    {
        single(packetId, Linux.NF_QUEUE | (queue << Linux.NF_VERDICT_QBITS), NfqPacket.NO_MARK, 0, 0);
    }

    /** Accept with a new mark and no payload change. */
    public void acceptMarked(final int packetId, final int mark)
    {
        single(packetId, Linux.NF_ACCEPT, mark, 0, 0);
    }

    /** Accept with the payload at {@code address} (the rewritten packet, where it was received). */
    public void acceptModified(final int packetId, final int mark, final long address, final int length)
    {
        single(packetId, Linux.NF_ACCEPT, mark, address, length);
    }

    private void single(final int packetId, final int verdict, final int mark, final long payload, final int length)
    {
        if (vector.remaining() < 4 || headerPosition + PER_VERDICT > HEADER_SPACE
            || vector.totalLength() + length + PER_VERDICT > MAX_DATAGRAM)
        {
            flush();
        }
        final int start = headerPosition;
        int at = Netlink.putNfHeader(view, start, Linux.NFNL_SUBSYS_QUEUE, Linux.NFQNL_MSG_VERDICT,
            Linux.NLM_F_REQUEST, ++sequence, Linux.AF_UNSPEC, queue);
        at = Netlink.putAttrHeader(view, at, Linux.NFQA_VERDICT_HDR, 8);
        view.putInt(at, verdict, ByteOrder.BIG_ENDIAN);
        view.putInt(at + 4, packetId, ByteOrder.BIG_ENDIAN);
        at += 8;
        if (mark != NfqPacket.NO_MARK)
        {
            at = Netlink.putAttrU32Be(view, at, Linux.NFQA_MARK, mark);
        }
        if (length > 0)
        {
            at = Netlink.putAttrHeader(view, at, Linux.NFQA_PAYLOAD, length);
            final int padding = Netlink.align(length) - length;
            view.putInt(start + Netlink.NLMSG_LEN_OFFSET, at - start + length + padding, Netlink.HOST);
            vector.add(headers.address() + start, at - start);
            vector.add(payload, length);
            vector.add(zeros.address(), padding);
            headerPosition = at;
        }
        else
        {
            view.putInt(start + Netlink.NLMSG_LEN_OFFSET, at - start, Netlink.HOST);
            vector.add(headers.address() + start, at - start);
            headerPosition = at;
        }
        counters.increment(Counter.VERDICT_MESSAGES);
    }

    /** Sends everything gathered, ending with the batch accept. Returns the number of sendmsg calls. */
    public int flush()
    {
        if (pendingAcceptId >= 0)
        {
            final int start = headerPosition;
            int at = Netlink.putNfHeader(view, start, Linux.NFNL_SUBSYS_QUEUE, Linux.NFQNL_MSG_VERDICT_BATCH,
                Linux.NLM_F_REQUEST, ++sequence, Linux.AF_UNSPEC, queue);
            at = Netlink.putAttrHeader(view, at, Linux.NFQA_VERDICT_HDR, 8);
            view.putInt(at, Linux.NF_ACCEPT, ByteOrder.BIG_ENDIAN);
            view.putInt(at + 4, (int)pendingAcceptId, ByteOrder.BIG_ENDIAN);
            at += 8;
            view.putInt(start + Netlink.NLMSG_LEN_OFFSET, at - start, Netlink.HOST);
            vector.add(headers.address() + start, at - start);
            headerPosition = at;
            pendingAcceptId = -1;
            counters.increment(Counter.VERDICT_MESSAGES);
        }
        if (vector.count() == 0)
        {
            return 0;
        }
        long result = socket.send(vector);
        for (int retry = 0; retry < 3 && (result == -Linux.ENOBUFS || result == -Linux.ENOMEM); retry++)
        {
            result = socket.send(vector);
        }
        if (result < 0)
        {
            counters.increment(Counter.VERDICT_SEND_ERRORS);
        }
        counters.increment(Counter.VERDICT_SENDS);
        vector.clear();
        headerPosition = 0;
        return 1;
    }

    public boolean hasPending()
    {
        return pendingAcceptId >= 0 || vector.count() > 0;
    }

    @Override
    public void close()
    {
        vector.close();
        headers.close();
        zeros.close();
    }
}

package io.passgate.nft;

import java.io.IOException;

import io.passgate.nfq.Netlink;
import io.passgate.sys.ErrnoException;
import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.NetlinkSocket;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Fail-open's dead-man switch. While passgate runs, it keeps one element in set {@code inet passgate alive}
 * with a short timeout, refreshed from its control thread only while every dataplane thread is making
 * progress. The notrack rules match only while the element exists: when passgate stops, crashes or is
 * killed with -9, the element expires and the kernel's conntrack and masquerade take the traffic over, with
 * no process left to do it. Spoken directly over NETLINK_NETFILTER: one transaction per refresh (flush the
 * set, add the element), prebuilt once.
 */
public final class AliveHeartbeat implements AutoCloseable
{
    private final NetlinkSocket socket;
    private final NativeBuffer message;
    private final NativeBuffer reply;
    private final int length;
    private final int flushLength;
    private int failures;
    private int lastError;

    public AliveHeartbeat(final int timeoutMs) throws IOException
    {
        socket = NetlinkSocket.open(Linux.NETLINK_NETFILTER);
        message = NativeBuffer.allocate(512);
        reply = NativeBuffer.allocate(8192);
        final UnsafeBuffer b = message.buffer();
        int at = 0;
        at = batch(b, at, Linux.NFNL_MSG_BATCH_BEGIN, 1);
        at = flush(b, at, 2);
        final int elementStart = at;
        at = Netlink.putNfHeader(b, at, Linux.NFNL_SUBSYS_NFTABLES, Linux.NFT_MSG_NEWSETELEM,
            Linux.NLM_F_REQUEST | Linux.NLM_F_CREATE | Linux.NLM_F_ACK, 3, Linux.NFPROTO_INET, 0);
        at = Netlink.putAttrString(b, at, Linux.NFTA_SET_ELEM_LIST_TABLE, RulesetSpec.TABLE);
        at = Netlink.putAttrString(b, at, Linux.NFTA_SET_ELEM_LIST_SET, RulesetSpec.ALIVE_SET);
        final int elements = at;
        at = Netlink.beginNest(b, at, Linux.NFTA_SET_ELEM_LIST_ELEMENTS);
        final int element = at;
        at = Netlink.beginNest(b, at, Linux.NFTA_LIST_ELEM);
        final int key = at;
        at = Netlink.beginNest(b, at, Linux.NFTA_SET_ELEM_KEY);
        at = Netlink.putAttrHeader(b, at, Linux.NFTA_DATA_VALUE, 1);
        b.putByte(at, (byte)Linux.NFPROTO_IPV4);
        b.putByte(at + 1, (byte)0);
        b.putShort(at + 2, (short)0);
        at += 4;
        Netlink.endNest(b, key, at);
        at = Netlink.putAttrU64Be(b, at, Linux.NFTA_SET_ELEM_TIMEOUT, timeoutMs);
        Netlink.endNest(b, element, at);
        Netlink.endNest(b, elements, at);
        at = Netlink.finish(b, elementStart, at);
        at = batch(b, at, Linux.NFNL_MSG_BATCH_END, 4);
        length = at;
        // a second message, after the first: the same transaction with only the flush (used on stop)
        int f = length;
        f = batch(b, f, Linux.NFNL_MSG_BATCH_BEGIN, 5);
        f = flush(b, f, 6);
        f = batch(b, f, Linux.NFNL_MSG_BATCH_END, 7);
        flushLength = f - length;
    }

    private static int batch(final UnsafeBuffer b, final int at, final int type, final int seq)
    {
        final int end = Netlink.putNfHeader(b, at, 0, 0, Linux.NLM_F_REQUEST, seq, Linux.AF_UNSPEC,
            Linux.NFNL_SUBSYS_NFTABLES);
        b.putShort(at + Netlink.NLMSG_TYPE_OFFSET, (short)type, Netlink.HOST);
        return Netlink.finish(b, at, end);
    }

    private static int flush(final UnsafeBuffer b, final int start, final int seq)
    {
        int at = Netlink.putNfHeader(b, start, Linux.NFNL_SUBSYS_NFTABLES, Linux.NFT_MSG_DELSETELEM,
            Linux.NLM_F_REQUEST | Linux.NLM_F_ACK, seq, Linux.NFPROTO_INET, 0);
        at = Netlink.putAttrString(b, at, Linux.NFTA_SET_ELEM_LIST_TABLE, RulesetSpec.TABLE);
        at = Netlink.putAttrString(b, at, Linux.NFTA_SET_ELEM_LIST_SET, RulesetSpec.ALIVE_SET);
        return Netlink.finish(b, start, at);
    }

    /**
     * Refreshes the element and reads the kernel's acks (netlink to the kernel is synchronous: they are
     * queued when send returns). Returns false when the kernel refused, e.g. because the table is gone.
     */
    public boolean beat()
    {
        final long sent = socket.send(message.address(), length);
        if (sent < 0)
        {
            failures++;
            lastError = (int)-sent;
            return false;
        }
        return drainReplies();
    }

    /** Empties the set now: the kernel takes over without waiting for the timeout. */
    public void release() throws ErrnoException
    {
        final long sent = socket.send(message.address() + length, flushLength);
        if (sent < 0)
        {
            throw new ErrnoException("flush set inet passgate alive", (int)-sent);
        }
        drainReplies();
    }

    private boolean drainReplies()
    {
        boolean ok = true;
        while (true)
        {
            final long n = socket.receive(reply.address(), reply.capacity(), Linux.MSG_DONTWAIT);
            if (n <= 0)
            {
                return ok;
            }
            int off = 0;
            final UnsafeBuffer b = reply.buffer();
            while (off + Linux.NLMSG_HDRLEN <= n)
            {
                final int len = Netlink.messageLength(b, off);
                if (len < Linux.NLMSG_HDRLEN)
                {
                    break;
                }
                if (Netlink.messageType(b, off) == Linux.NLMSG_ERROR && Netlink.errorCode(b, off) != 0)
                {
                    failures++;
                    lastError = -Netlink.errorCode(b, off);
                    ok = false;
                }
                off += Netlink.align(len);
            }
        }
    }

    public int failures()
    {
        return failures;
    }

    public int lastError()
    {
        return lastError;
    }

    @Override
    public void close()
    {
        socket.close();
        message.close();
        reply.close();
    }
}

package io.passgate.nfq;

import java.io.IOException;
import java.nio.ByteOrder;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.sys.ErrnoException;
import io.passgate.sys.Linux;
import io.passgate.sys.MessageBatch;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.NetlinkSocket;
import io.passgate.sys.Poller;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One NFQUEUE queue spoken over a NETLINK_NETFILTER socket directly (no libnetfilter_queue): bind and
 * configure, receive a batch per recvmmsg, decode each message in place, hand it to a {@link PacketHandler},
 * and send the verdicts in batches. The florianl/go-nfqueue protocol model, decoded without copies.
 */
public final class NfqueueChannel implements AutoCloseable
{
    private final QueueConfig config;
    private final NetlinkSocket socket;
    private final MessageBatch batch;
    /** False when the batch is another channel's (a shard's live queue borrows its bulk queue's slots). */
    private final boolean ownsBatch;
    private final VerdictWriter verdicts;
    private final CounterSet counters;
    private final NfqPacket packet = new NfqPacket();
    private final UnsafeBuffer slots;
    private final long slotsAddress;
    private int lastNetlinkError;
    private boolean bound;
    /** The last exception a handler threw on a packet (the packet was dropped), for the status; null when none. */
    private volatile Throwable lastFault;
    private volatile long lastFaultMs;

    private NfqueueChannel(final QueueConfig config, final NetlinkSocket socket, final CounterSet counters,
        final NfqueueChannel shareSlotsWith) throws ErrnoException
    {
        this.config = config;
        this.socket = socket;
        this.counters = counters;
        this.ownsBatch = shareSlotsWith == null;
        this.batch = ownsBatch ? new MessageBatch(config.batch(), QueueConfig.SLOT_SIZE) : shareSlotsWith.batch;
        this.slots = batch.slots();
        this.slotsAddress = batch.slotsAddress();
        this.verdicts = new VerdictWriter(config.queue(), socket, counters);
    }

    /**
     * Opens a socket and binds it to the queue. Fails with a clear message when another program holds the
     * queue (EBUSY) or the caller lacks CAP_NET_ADMIN (EPERM).
     */
    public static NfqueueChannel open(final QueueConfig config, final CounterSet counters) throws IOException
    {
        return open(config, counters, null);
    }

    /**
     * Opens a channel that receives into {@code shareSlotsWith}'s slots (null: its own). Safe for two channels
     * one thread polls in turn: {@link #poll} sends every verdict (which may point into the slots) before it
     * returns, so nothing of one poll is left in the slots when the other channel receives. Each batch is
     * queue-batch slots of 65 KB (a GSO super-packet each), touched by the first large packets: a shard's live
     * queue sharing them saves that much resident memory (1 MB at the default queue-batch 16, 4.2 MB at 64).
     */
    public static NfqueueChannel open(final QueueConfig config, final CounterSet counters,
        final NfqueueChannel shareSlotsWith) throws IOException
    {
        if (shareSlotsWith != null && shareSlotsWith.batch.capacity() < config.batch())
        {
            throw new IllegalArgumentException("queue " + config.queue() + " wants " + config.batch()
                + " slots, the shared batch has " + shareSlotsWith.batch.capacity());
        }
        final NetlinkSocket socket = NetlinkSocket.open(Linux.NETLINK_NETFILTER);
        NfqueueChannel channel = null;
        try
        {
            socket.receiveBuffer(config.receiveBuffer());
            socket.sendBuffer(4 * VerdictWriter.MAX_DATAGRAM);
            socket.netlinkOption(Linux.NETLINK_NO_ENOBUFS, true);
            try
            {
                socket.netlinkOption(Linux.NETLINK_EXT_ACK, true);
            }
            catch (final ErrnoException ignore)
            {
                // older kernels: plain acks are enough
            }
            channel = new NfqueueChannel(config, socket, counters, shareSlotsWith);
            channel.configure();
            return channel;
        }
        catch (final IOException | RuntimeException e)
        {
            if (channel != null)
            {
                channel.close();
            }
            else
            {
                socket.close();
            }
            throw e;
        }
    }

    private void configure() throws IOException
    {
        try (NativeBuffer request = NativeBuffer.allocate(256))
        {
            final UnsafeBuffer b = request.buffer();
            // bind
            int at = Netlink.putNfHeader(b, 0, Linux.NFNL_SUBSYS_QUEUE, Linux.NFQNL_MSG_CONFIG,
                Linux.NLM_F_REQUEST | Linux.NLM_F_ACK, 1, Linux.AF_UNSPEC, config.queue());
            at = Netlink.putAttrHeader(b, at, Linux.NFQA_CFG_CMD, 4);
            b.putByte(at, (byte)Linux.NFQNL_CFG_CMD_BIND);
            b.putByte(at + 1, (byte)0);
            b.putShort(at + 2, (short)0, ByteOrder.BIG_ENDIAN);
            at = Netlink.finish(b, 0, at + 4);
            request(request, at, 1, "bind to queue " + config.queue());
            bound = true;

            // copy mode, queue length, flags
            at = Netlink.putNfHeader(b, 0, Linux.NFNL_SUBSYS_QUEUE, Linux.NFQNL_MSG_CONFIG,
                Linux.NLM_F_REQUEST | Linux.NLM_F_ACK, 2, Linux.AF_UNSPEC, config.queue());
            at = Netlink.putAttrHeader(b, at, Linux.NFQA_CFG_PARAMS, 5);
            b.putInt(at, QueueConfig.COPY_RANGE, ByteOrder.BIG_ENDIAN);
            b.putByte(at + 4, (byte)Linux.NFQNL_COPY_PACKET);
            at = Netlink.align(at + 5);
            at = Netlink.putAttrU32Be(b, at, Linux.NFQA_CFG_QUEUE_MAXLEN, config.maxLength());
            final int mask = Linux.NFQA_CFG_F_GSO | Linux.NFQA_CFG_F_FAIL_OPEN;
            final int flags = (config.gso() ? Linux.NFQA_CFG_F_GSO : 0)
                | (config.failOpen() ? Linux.NFQA_CFG_F_FAIL_OPEN : 0);
            at = Netlink.putAttrU32Be(b, at, Linux.NFQA_CFG_MASK, mask);
            at = Netlink.putAttrU32Be(b, at, Linux.NFQA_CFG_FLAGS, flags);
            at = Netlink.finish(b, 0, at);
            request(request, at, 2, "configure queue " + config.queue());
        }
    }

    /** Sends one config request and waits for its ack; packets that arrive meanwhile are accepted. */
    private void request(final NativeBuffer request, final int length, final int seq, final String what)
        throws IOException
    {
        final long sent = socket.send(request.address(), length);
        if (sent < 0)
        {
            throw new ErrnoException(what, (int)-sent);
        }
        final long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline)
        {
            // MSG_WAITFORONE: return as soon as one message is there (plain recvmmsg waits for the whole batch)
            final long n = socket.receive(batch, Linux.MSG_WAITFORONE | Linux.MSG_DONTWAIT);
            if (n < 0)
            {
                if (n == -Linux.EAGAIN || n == -Linux.ENOBUFS)
                {
                    waitReadable(200);
                    continue;
                }
                throw new ErrnoException(what + " (waiting for the ack)", (int)-n);
            }
            for (int i = 0; i < n; i++)
            {
                int off = batch.slotOffset(i);
                final int end = off + batch.length(i);
                while (off + Linux.NLMSG_HDRLEN <= end)
                {
                    final int len = Netlink.messageLength(slots, off);
                    if (len < Linux.NLMSG_HDRLEN || off + len > end)
                    {
                        break;
                    }
                    final int type = Netlink.messageType(slots, off);
                    if (type == Linux.NLMSG_ERROR && Netlink.messageSeq(slots, off) == seq)
                    {
                        final int error = Netlink.errorCode(slots, off);
                        if (error != 0)
                        {
                            final ErrnoException e = new ErrnoException(what, -error);
                            if (-error == Linux.EBUSY)
                            {
                                throw new IOException("queue " + config.queue()
                                    + " is already bound by another program (EBUSY)", e);
                            }
                            if (-error == Linux.EPERM)
                            {
                                throw new IOException(what + ": needs CAP_NET_ADMIN (EPERM)", e);
                            }
                            throw e;
                        }
                        verdicts.flush();
                        return;
                    }
                    if (type == ((Linux.NFNL_SUBSYS_QUEUE << 8) | Linux.NFQNL_MSG_PACKET)
                        && packet.wrap(slots, off, len))
                    {
                        verdicts.accept(packet.packetId());
                    }
                    off += Netlink.align(len);
                }
            }
            verdicts.flush();
        }
        throw new IOException(what + ": no reply from the kernel within 5 s");
    }

    private void waitReadable(final int timeoutMs) throws ErrnoException
    {
        try (Poller poller = new Poller(1))
        {
            poller.add(socket.fd(), Linux.POLLIN);
            poller.poll(timeoutMs);
        }
    }

    public int fd()
    {
        return socket.fd();
    }

    public QueueConfig config()
    {
        return config;
    }

    /** errno of the last netlink error reply (0 when none). */
    public int lastNetlinkError()
    {
        return lastNetlinkError;
    }

    /**
     * Receives what is queued without blocking, hands each packet to {@code handler} and sends the verdicts.
     * Returns the number of packets handled.
     */
    public int poll(final PacketHandler handler)
    {
        final long n = socket.receive(batch, Linux.MSG_DONTWAIT);
        if (n <= 0)
        {
            if (n == -Linux.ENOBUFS)
            {
                counters.increment(Counter.ENOBUFS);
            }
            else if (n < 0 && n != -Linux.EAGAIN)
            {
                counters.increment(Counter.RECEIVE_ERRORS);
            }
            return 0;
        }
        counters.increment(Counter.RECEIVE_CALLS);
        int packets = 0;
        try
        {
            for (int i = 0; i < n; i++)
            {
                int off = batch.slotOffset(i);
                final int end = off + batch.length(i);
                while (off + Linux.NLMSG_HDRLEN <= end)
                {
                    final int len = Netlink.messageLength(slots, off);
                    if (len < Linux.NLMSG_HDRLEN || off + len > end)
                    {
                        counters.increment(Counter.DECODE_ERRORS);
                        break;
                    }
                    final int type = Netlink.messageType(slots, off);
                    if (type == ((Linux.NFNL_SUBSYS_QUEUE << 8) | Linux.NFQNL_MSG_PACKET))
                    {
                        packets++;
                        handle(handler, off, len);
                    }
                    else if (type == Linux.NLMSG_ERROR)
                    {
                        final int error = Netlink.errorCode(slots, off);
                        if (error != 0)
                        {
                            lastNetlinkError = -error;
                            counters.increment(Counter.NETLINK_ERRORS);
                        }
                    }
                    off += Netlink.align(len);
                }
            }
        }
        finally
        {
            // rewritten verdicts point into the receive slots: they leave before the next receive reuses them
            verdicts.flush();
        }
        return packets;
    }

    /** The last exception a handler threw on a packet (that packet was dropped and counted), or null. */
    public Throwable lastFault()
    {
        return lastFault;
    }

    /** When {@link #lastFault()} happened (epoch ms), 0 when never. */
    public long lastFaultMs()
    {
        return lastFaultMs;
    }

    private void handle(final PacketHandler handler, final int off, final int len)
    {
        if (!packet.wrap(slots, off, len))
        {
            counters.increment(Counter.DECODE_ERRORS);
            if (packet.packetId() != -1)
            {
                verdicts.accept(packet.packetId());
            }
            return;
        }
        counters.increment(Counter.PACKETS_RECEIVED);
        counters.add(Counter.BYTES_RECEIVED, packet.payloadLength());
        if (packet.gso())
        {
            counters.increment(Counter.GSO_PACKETS);
        }
        if (packet.checksumPartial())
        {
            counters.increment(Counter.CSUM_PARTIAL_PACKETS);
        }
        int verdict;
        try
        {
            verdict = handler.onPacket(packet);
        }
        catch (final RuntimeException | Error e)
        {
            // a fault stays with its packet: it gets its own drop verdict (the batch verdict after it must not
            // accept it untranslated), the next packets are handled as usual
            counters.increment(Counter.DROP_HANDLER_FAULT);
            lastFault = e;
            lastFaultMs = System.currentTimeMillis();
            verdict = PacketHandler.VERDICT_DROP;
        }
        final int mark = packet.requestedMark();
        if (verdict == PacketHandler.VERDICT_ACCEPT_MODIFIED && !packet.truncated())
        {
            counters.increment(Counter.MODIFIED);
            verdicts.acceptModified(packet.packetId(), mark, slotsAddress + packet.payloadOffset(),
                packet.payloadLength());
        }
        else if (verdict == PacketHandler.VERDICT_DROP)
        {
            counters.increment(Counter.DROPPED);
            verdicts.drop(packet.packetId());
        }
        else if (verdict == PacketHandler.VERDICT_REQUEUE)
        {
            if (packet.requeueTarget() >= 0)
            {
                counters.increment(Counter.REQUEUED);
                verdicts.requeue(packet.packetId(), packet.requeueTarget());
            }
            else
            {
                counters.increment(Counter.DROPPED);
                verdicts.drop(packet.packetId());
            }
        }
        else if (verdict == PacketHandler.VERDICT_ACCEPT_MODIFIED)
        {
            // a rewrite of a packet the kernel copied short would cut it: refuse, count, drop
            counters.increment(Counter.TRUNCATED);
            counters.increment(Counter.DROPPED);
            verdicts.drop(packet.packetId());
        }
        else if (mark != NfqPacket.NO_MARK)
        {
            counters.increment(Counter.ACCEPTED);
            verdicts.acceptMarked(packet.packetId(), mark);
        }
        else
        {
            counters.increment(Counter.ACCEPTED);
            verdicts.accept(packet.packetId());
        }
    }

    @Override
    public void close()
    {
        verdicts.close();
        if (ownsBatch)
        {
            batch.close();
        }
        socket.close();
    }

    boolean isBound()
    {
        return bound;
    }
}

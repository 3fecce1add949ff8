package io.passgate.nft;

import java.io.IOException;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.LiveFlows;
import io.passgate.nat.Protocols;
import io.passgate.nfq.Netlink;
import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.NetlinkSocket;
import org.agrona.BufferUtil;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * The kernel's view of passgate's live flows: sets {@code live_ports} (TCP, UDP) and {@code live_protos} (GRE,
 * ESP) of table {@code inet passgate}, whose elements make the raw-prerouting rule mark a packet, and the
 * queue rules send marked packets to the shard's live queue, which the dataplane serves before the bulk queue.
 * Each flow is two elements, one per direction as the packet arrives at prerouting: outbound (client, server,
 * protocol, client port, server port), inbound (server, WAN address, protocol, server port, external port).
 *
 * <p>Off the packet path: each shard's engine posts to a ring of its own ({@link #ring}: Agrona's one-to-one
 * ring buffer, nothing allocated per post), and this writer's thread drains the rings and writes the elements
 * over NETLINK_NETFILTER in batches (one transaction per batch, no {@code nft}
 * process): added with a timeout of {@link LiveFlows#TIMEOUT_MS}, added again every
 * {@link LiveFlows#REFRESH_MS} while the flow carries traffic (Linux 6.x refreshes the timeout of an element
 * added again; older kernels let it lapse and the flow's next packet posts it anew), removed when the flow ends
 * (NFT_MSG_DESTROYSETELEM, which ignores an element that already timed out; where the kernel lacks it, the
 * timeout removes it).
 */
public final class LiveFlowSet implements AutoCloseable
{
    public static final int ADD = 1;
    public static final int REMOVE = 2;
    private static final int RECORD = 24;
    private static final int RING_BYTES = 1 << 18;
    /** Flows per netlink transaction: each is two elements of at most 44 bytes, a set's list nests in 64 KB. */
    private static final int MAX_FLOWS = 256;
    /**
     * An idle writer sleeps until a post wakes it (or this long, a bound only). It polled every 2 ms before:
     * 500 wake-ups a second of an idle passgate, a share of a core (the Offloader measured 3 % of one for
     * 1 000), taken from the flows the kernel carries and, on a Pi, from its power budget.
     */
    private static final long IDLE_NS = 1_000_000_000L;

    private final int wanAddress;
    private final CounterSet counters;
    private final List<Ring> rings = new ArrayList<>();
    private final NetlinkSocket socket;
    private final NativeBuffer out = NativeBuffer.allocate(128 * 1024);
    private final NativeBuffer reply = NativeBuffer.allocate(16 * 1024);
    private final UnsafeBuffer ports = new UnsafeBuffer(new byte[48 * 1024]);
    private final UnsafeBuffer protos = new UnsafeBuffer(new byte[48 * 1024]);
    private final MessageHandler onRecord = this::onRecord;
    private int portsLength;
    private int protosLength;
    private int pendingFlows;
    private int pendingKind;
    private int pendingElements;
    private boolean destroyWorks = true;
    private int seq = 1;
    private volatile boolean running = true;
    /** The writer found the rings empty and is parking, or parked: a post unparks it. */
    private volatile boolean sleeping;
    /** The writer's rounds (each a drain of every ring) and the posts that woke it: for tests. */
    private volatile long rounds;
    private volatile long wakes;
    private volatile Thread thread;
    private volatile int lastError;

    /** One shard's ring: the engine posts (allocation-free), the writer reads. */
    public static final class Ring implements LiveFlows
    {
        private final LiveFlowSet writer;
        private final OneToOneRingBuffer buffer = new OneToOneRingBuffer(new UnsafeBuffer(
            BufferUtil.allocateDirectAligned(RING_BYTES + RingBufferDescriptor.TRAILER_LENGTH, 64)));
        private final UnsafeBuffer record = new UnsafeBuffer(new byte[RECORD]);

        /** A ring no writer thread sleeps on (tests drain it themselves). */
        public Ring()
        {
            this(null);
        }

        Ring(final LiveFlowSet writer)
        {
            this.writer = writer;
        }

        @Override
        public boolean post(final boolean add, final int protocol, final int clientAddress, final int clientPort,
            final int serverAddress, final int serverPort, final int externalPort)
        {
            record.putInt(0, protocol);
            record.putInt(4, clientAddress);
            record.putInt(8, clientPort);
            record.putInt(12, serverAddress);
            record.putInt(16, serverPort);
            record.putInt(20, externalPort);
            final boolean written = buffer.write(add ? ADD : REMOVE, record, 0, RECORD);
            // the record's store before the flag's load (the writer stores its flag before it looks at the rings
            // once more): one of the two sees the other, so no post waits out the writer's sleep
            VarHandle.fullFence();
            if (writer != null && writer.sleeping)
            {
                final Thread t = writer.thread;
                if (t != null)
                {
                    writer.wakes++;   // only while it sleeps: at most a few per sleep, never per packet
                    LockSupport.unpark(t);
                }
            }
            return written;
        }

        /** Reads up to {@code limit} records: kind (1 add, 2 remove) and the six ints as posted. */
        public int read(final MessageHandler handler, final int limit)
        {
            return buffer.read(handler, limit);
        }
    }

    /** @param counters the control thread's counters (this writer's are added there) */
    public LiveFlowSet(final int wanAddress, final CounterSet counters) throws IOException
    {
        this.wanAddress = wanAddress;
        this.counters = counters;
        this.socket = NetlinkSocket.open(Linux.NETLINK_NETFILTER);
    }

    /** A new ring for one shard's engine; all rings before {@link #start}. */
    public Ring ring()
    {
        final Ring r = new Ring(this);
        rings.add(r);
        return r;
    }

    public void start()
    {
        thread = new Thread(this::run, "passgate-live-set");
        thread.setDaemon(true);
        thread.start();
    }

    private void run()
    {
        while (running)
        {
            rounds++;   // this thread's alone
            if (drain() == 0)
            {
                sleeping = true;
                if (drain() == 0 && running)
                {
                    LockSupport.parkNanos(IDLE_NS);
                }
                sleeping = false;
            }
        }
    }

    boolean sleeping()
    {
        return sleeping;
    }

    long rounds()
    {
        return rounds;
    }

    long wakes()
    {
        return wakes;
    }

    /** Reads every ring and writes what it held; returns the records read. Public for tests. */
    public int drain()
    {
        int read = 0;
        for (final Ring r : rings)
        {
            int n;
            while ((n = r.read(onRecord, MAX_FLOWS)) > 0)
            {
                read += n;
            }
        }
        flush();
        return read;
    }

    private void onRecord(final int kind, final MutableDirectBuffer b, final int at, final int length)
    {
        if (kind == REMOVE && !destroyWorks)
        {
            return;
        }
        if (pendingFlows > 0 && (kind != pendingKind || pendingFlows >= MAX_FLOWS))
        {
            flush();
        }
        pendingKind = kind;
        pendingFlows++;
        final int proto = b.getInt(at);
        final int client = b.getInt(at + 4);
        final int clientPort = b.getInt(at + 8);
        final int server = b.getInt(at + 12);
        final int serverPort = b.getInt(at + 16);
        final int ext = b.getInt(at + 20);
        if (proto == Protocols.TCP || proto == Protocols.UDP)
        {
            final long timeout = kind == ADD ? LiveFlows.TIMEOUT_MS : 0;
            portsLength = element(ports, portsLength, timeout, client, server, proto, clientPort, serverPort, true);
            portsLength = element(ports, portsLength, timeout, server, wanAddress, proto, serverPort, ext, true);
        }
        else
        {
            final long timeout = kind == ADD ? LiveFlows.TIMEOUT_MS : 0;
            protosLength = element(protos, protosLength, timeout, client, server, proto, 0, 0, false);
            protosLength = element(protos, protosLength, timeout, server, wanAddress, proto, 0, 0, false);
        }
        pendingElements += 2;
    }

    /** One NFTA_LIST_ELEM: the concatenated key (each field in a 4-byte slot, network order), a timeout unless 0. */
    static int element(final UnsafeBuffer b, final int start, final long timeoutMs, final int src, final int dst,
        final int proto, final int sport, final int dport, final boolean withPorts)
    {
        int at = Netlink.beginNest(b, start, Linux.NFTA_LIST_ELEM);
        final int key = at;
        at = Netlink.beginNest(b, at, Linux.NFTA_SET_ELEM_KEY);
        final int value = at;
        at = Netlink.putAttrHeader(b, at, Linux.NFTA_DATA_VALUE, withPorts ? 20 : 12);
        b.putInt(at, src, ByteOrder.BIG_ENDIAN);
        b.putInt(at + 4, dst, ByteOrder.BIG_ENDIAN);
        b.putInt(at + 8, 0);
        b.putByte(at + 8, (byte)proto);
        at += 12;
        if (withPorts)
        {
            b.putInt(at, 0);
            b.putShort(at, (short)sport, ByteOrder.BIG_ENDIAN);
            b.putInt(at + 4, 0);
            b.putShort(at + 4, (short)dport, ByteOrder.BIG_ENDIAN);
            at += 8;
        }
        Netlink.endNest(b, value, at);
        Netlink.endNest(b, key, at);
        if (timeoutMs > 0)
        {
            at = Netlink.putAttrU64Be(b, at, Linux.NFTA_SET_ELEM_TIMEOUT, timeoutMs);
        }
        Netlink.endNest(b, start, at);
        return at;
    }

    private void flush()
    {
        if (pendingFlows == 0)
        {
            return;
        }
        final UnsafeBuffer b = out.buffer();
        int at = batch(b, 0, Linux.NFNL_MSG_BATCH_BEGIN);
        final int type = pendingKind == ADD ? Linux.NFT_MSG_NEWSETELEM : Linux.NFT_MSG_DESTROYSETELEM;
        at = setMessage(b, at, type, RulesetSpec.LIVE_PORTS_SET, ports, portsLength);
        at = setMessage(b, at, type, RulesetSpec.LIVE_PROTOS_SET, protos, protosLength);
        at = batch(b, at, Linux.NFNL_MSG_BATCH_END);
        final boolean ok = send(at);
        if (pendingKind == ADD)
        {
            counters.add(ok ? Counter.LIVE_SET_ELEMENTS_ADDED : Counter.LIVE_SET_ERRORS, ok ? pendingElements : 1);
        }
        else if (ok)
        {
            counters.add(Counter.LIVE_SET_ELEMENTS_REMOVED, pendingElements);
        }
        else if (lastError == Linux.EINVAL || lastError == Linux.EOPNOTSUPP)
        {
            destroyWorks = false;   // a kernel before 6.3: the elements time out instead
        }
        else
        {
            counters.increment(Counter.LIVE_SET_ERRORS);
        }
        portsLength = 0;
        protosLength = 0;
        pendingFlows = 0;
        pendingElements = 0;
    }

    private int setMessage(final UnsafeBuffer b, final int start, final int type, final String set,
        final UnsafeBuffer elements, final int length)
    {
        if (length == 0)
        {
            return start;
        }
        int at = Netlink.putNfHeader(b, start, Linux.NFNL_SUBSYS_NFTABLES, type,
            Linux.NLM_F_REQUEST | Linux.NLM_F_CREATE | Linux.NLM_F_ACK, seq++, Linux.NFPROTO_INET, 0);
        at = Netlink.putAttrString(b, at, Linux.NFTA_SET_ELEM_LIST_TABLE, RulesetSpec.TABLE);
        at = Netlink.putAttrString(b, at, Linux.NFTA_SET_ELEM_LIST_SET, set);
        final int list = at;
        at = Netlink.beginNest(b, at, Linux.NFTA_SET_ELEM_LIST_ELEMENTS);
        b.putBytes(at, elements, 0, length);
        at += length;
        Netlink.endNest(b, list, at);
        return Netlink.finish(b, start, at);
    }

    private int batch(final UnsafeBuffer b, final int at, final int type)
    {
        final int end = Netlink.putNfHeader(b, at, 0, 0, Linux.NLM_F_REQUEST, seq++, Linux.AF_UNSPEC,
            Linux.NFNL_SUBSYS_NFTABLES);
        b.putShort(at + Netlink.NLMSG_TYPE_OFFSET, (short)type, Netlink.HOST);
        return Netlink.finish(b, at, end);
    }

    /** Sends a batch and reads the kernel's acks (queued by the time send returns). */
    private boolean send(final int length)
    {
        final long sent = socket.send(out.address(), length);
        if (sent < 0)
        {
            lastError = (int)-sent;
            return false;
        }
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
                    lastError = -Netlink.errorCode(b, off);
                    ok = false;
                }
                off += Netlink.align(len);
            }
        }
    }

    /** The errno of the last refused write, 0 when none. */
    public int lastError()
    {
        return lastError;
    }

    @Override
    public void close()
    {
        running = false;
        if (thread != null)
        {
            LockSupport.unpark(thread);
            try
            {
                thread.join(2000);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
        }
        socket.close();
        out.close();
        reply.close();
    }
}

package io.passgate.nft;

import java.io.IOException;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.Offload;
import io.passgate.nat.Protocols;
import io.passgate.nfq.Netlink;
import io.passgate.nfq.NetlinkDump;
import io.passgate.sys.EventFd;
import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.NetlinkSocket;
import io.passgate.sys.Poller;
import org.agrona.BufferUtil;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;
import org.tinylog.Logger;

/**
 * Offload: settled TCP and UDP flows carried by the kernel at conntrack-NAT speed while passgate keeps
 * deciding. The engine offers a flow that has carried traffic both ways and that no helper needs
 * ({@link io.passgate.nat.NatEngine}); this writer's thread then
 * <ol>
 *   <li>creates a conntrack entry over ctnetlink with passgate's mapping as its source NAT (one address, one
 *       port: the kernel applies exactly passgate's translation) and a connection mark naming the shard and
 *       the session ({@link #mark}; bit 31 says "passgate offloaded it");</li>
 *   <li>only then adds the flow's two directions as on the wire to set {@code offload_ports}: the first rule of
 *       raw prerouting accepts them before the notrack rule, so conntrack finds the entry and the kernel
 *       rewrites both ways; the queue rules take only untracked packets, so the flow leaves the queue.</li>
 * </ol>
 * Taking it back is the reverse order (elements first, so no packet meets a missing entry untracked).
 * Conntrack destroy events (and, should the kernel drop events, a dump every second) tell when the kernel's
 * entry ended: the elements go and the engine hears {@link Offload#ENDED} (a closed TCP connection ends its
 * session; otherwise the session is handed back to passgate, its own idle timer running from the last traffic
 * the kernel reported). The dump also reports each flow's traffic (conntrack accounting) so the session's
 * counters, {@code passgatectl tunnels} and the idle timer stay true.
 *
 * <p>Tunnels (a bound ESP SA, a PPTP call's GRE: the helpers say when, {@link io.passgate.nat.Helper#offloadable})
 * take no conntrack entry: their elements go, in one transaction, into the maps of stateless rewrites
 * ({@code esp_in}, {@code esp_out}, {@code gre_in}, {@code gre_in_call}, {@code gre_out}, see
 * {@link RulesetRenderer}), each element's comment naming the session ("passgate SHARD/SESSION"); the dump
 * every second reads their counters (to the server, from it) into TRAFFIC reports, and a tunnel whose elements
 * are gone is handed back. Taking one back reads its counted elements once more (the traffic since the last
 * dump goes to the totals, as a withdrawn flow's does from its destroy event), then deletes them one by one.
 *
 * <p>The engine side is allocation-free (Agrona one-to-one rings both ways); this thread allocates nothing per
 * flow either.
 */
public final class Offloader implements AutoCloseable
{
    /** Connection-mark bit of the entries passgate created; the low 24 bits are the session, bits 24-30 the shard. */
    public static final int MARK_BIT = 0x80000000;
    /** Most shards the mark can name. */
    public static final int MAX_SHARDS = 128;
    /** Most sessions per shard the mark can name. */
    public static final int MAX_FLOWS = 1 << 24;
    /** Timeout of a new entry until its first packet (then the kernel's own per-protocol timeouts apply). */
    static final int INITIAL_TIMEOUT_S = 120;
    static final long DUMP_MS = 1000;
    /**
     * An entry of a flow passgate keeps (UDP, or TCP established) with less than this left is given
     * {@link #KEEP_S} more: the kernel's own idle timeouts (UDP 120 s) must not end a flow before passgate's
     * timer does, or its next packet would meet no entry while its elements still send it to conntrack.
     */
    static final int REFRESH_BELOW_S = 60;
    static final int KEEP_S = 150;
    /**
     * Without an eventfd (it could not be made) an idle writer sleeps this long at a time in poll(2) on the
     * conntrack event socket, and the engines' requests wait at most this long.
     */
    static final int IDLE_POLL_MS = 5;
    /**
     * An idle writer sleeps in poll(2) on the conntrack event socket and its eventfd until the next dump is due
     * (at most this long): a destroy event or an engine's request (which signals the eventfd while the writer
     * sleeps) wakes it at once. Polling every 5 ms woke an idle passgate 200 times a second.
     */
    static final int IDLE_MAX_MS = 1000;
    private static final int OFFER = 1;
    private static final int WITHDRAW = 2;
    private static final int REQUEST = 28;
    private static final int REPORT = 64;
    /** Requests: about 6 500 offers or withdrawals; reports: about 7 000 (a fuller ring is counted and retried). */
    private static final int REQUEST_RING_BYTES = 1 << 18;
    private static final int REPORT_RING_BYTES = 1 << 19;

    private static final byte FREE = 0;
    private static final byte CARRIED = 1;
    /** Withdrawn by the engine: its destroy event still counts the last traffic. */
    private static final byte WITHDRAWN = 2;
    /** Ended in the kernel, the engine not yet told (its ring was full). */
    private static final byte ENDED = 3;

    private final int wanAddress;
    private final CounterSet counters;
    private final int capacity;
    private final Conntrack conntrack;
    private final NetlinkSocket nft;
    private final NativeBuffer out = NativeBuffer.allocate(4096);
    private final NativeBuffer reply = NativeBuffer.allocate(8192);
    /** Replies to the tunnel maps' dumps (a netlink dump message is at most 32 KiB). */
    private final NativeBuffer dumpIn = NativeBuffer.allocate(64 * 1024);
    private final NetlinkDump elementsDump = new NetlinkDump(this::elementsMessage, false);
    private final List<Channel> channels = new ArrayList<>();
    private final MessageHandler onRequest = this::onRequest;
    private final Conntrack.Visitor onEntry = this::onEntry;
    private Channel draining;
    private long dumpGeneration;
    private long nextDumpMs;
    private int live;
    /** Times the dump's recount of carried flows found {@link #live} off (logged the first few times). */
    private int drifts;
    /** Waits on the conntrack event socket and {@link #wake} while idle (null: park). */
    private Poller idle;
    /** Signalled by an engine's request while the writer sleeps (null: it polls every {@link #IDLE_POLL_MS}). */
    private EventFd wake;
    /** The writer found no requests and sleeps, or is about to: a request signals {@link #wake}. */
    private volatile boolean sleeping;
    /** The writer's rounds (its thread's alone) and the engines' signals (approximate: several engines). */
    private long rounds;
    private long wakes;
    /** Tunnels (ESP, GRE) the kernel carries now: their maps are dumped with the conntrack table. */
    private int tunnels;
    private int seq = 1;
    private volatile boolean running = true;
    private Thread thread;

    /** One shard's two rings and its sessions as the kernel holds them. */
    public final class Channel implements Offload
    {
        private final int shard;
        private final OneToOneRingBuffer requests = ring(REQUEST_RING_BYTES);
        private final OneToOneRingBuffer reports = ring(REPORT_RING_BYTES);
        private final UnsafeBuffer request = new UnsafeBuffer(new byte[REQUEST]);
        private final UnsafeBuffer report = new UnsafeBuffer(new byte[REPORT]);
        private final MessageHandler onReport = this::onReport;
        private Reports reader;
        // the writer thread's view, by session index
        private final byte[] state = new byte[capacity];
        private final int[] proto = new int[capacity];
        private final int[] client = new int[capacity];
        private final int[] clientPort = new int[capacity];
        private final int[] server = new int[capacity];
        private final int[] serverPort = new int[capacity];
        private final int[] ext = new int[capacity];
        private final long[] seen = new long[capacity];
        /** A tunnel's elements seen in this dump (low 2 bits), tagged with the dump (the bits above). */
        private final byte[] parts = new byte[capacity];
        private final boolean[] keep = new boolean[capacity];
        private final long[] packetsOut = new long[capacity];
        private final long[] bytesOut = new long[capacity];
        private final long[] packetsIn = new long[capacity];
        private final long[] bytesIn = new long[capacity];
        private int endTcpState;

        Channel(final int shard)
        {
            this.shard = shard;
        }

        @Override
        public boolean offer(final int flow, final int protocol, final int clientAddress, final int clientPort,
            final int serverAddress, final int serverPort, final int externalPort)
        {
            return post(OFFER, flow, protocol, clientAddress, clientPort, serverAddress, serverPort, externalPort);
        }

        @Override
        public boolean withdraw(final int flow, final int protocol, final int clientAddress, final int clientPort,
            final int serverAddress, final int serverPort, final int externalPort)
        {
            return post(WITHDRAW, flow, protocol, clientAddress, clientPort, serverAddress, serverPort, externalPort);
        }

        private boolean post(final int kind, final int flow, final int protocol, final int clientAddress,
            final int clientPort, final int serverAddress, final int serverPort, final int externalPort)
        {
            request.putInt(0, flow);
            request.putInt(4, protocol);
            request.putInt(8, clientAddress);
            request.putInt(12, clientPort);
            request.putInt(16, serverAddress);
            request.putInt(20, serverPort);
            request.putInt(24, externalPort);
            final boolean written = requests.write(kind, request, 0, REQUEST);
            // the request's store before the flag's load (the writer stores its flag before it looks at the rings
            // once more): one of the two sees the other, so no request waits out the writer's sleep
            VarHandle.fullFence();
            if (sleeping)
            {
                wakes++;   // only while it sleeps: a few per sleep, never per packet
                wake.signal();
            }
            return written;
        }

        @Override
        public int poll(final Reports reports, final int limit)
        {
            reader = reports;
            return this.reports.read(onReport, limit);
        }

        private void onReport(final int kind, final MutableDirectBuffer b, final int at, final int length)
        {
            reader.report(kind, b.getInt(at), b.getInt(at + 4), b.getInt(at + 8), b.getInt(at + 12), b.getInt(at + 16),
                b.getInt(at + 20), b.getInt(at + 24), b.getInt(at + 28), b.getLong(at + 32), b.getLong(at + 40),
                b.getLong(at + 48), b.getLong(at + 56));
        }

        /** Writer thread: tells the engine; false when its ring is full. */
        private boolean tell(final int kind, final int f, final int tcpState, final long dPacketsOut,
            final long dBytesOut, final long dPacketsIn, final long dBytesIn)
        {
            report.putInt(0, f);
            report.putInt(4, proto[f]);
            report.putInt(8, client[f]);
            report.putInt(12, clientPort[f]);
            report.putInt(16, server[f]);
            report.putInt(20, serverPort[f]);
            report.putInt(24, ext[f]);
            report.putInt(28, tcpState);
            report.putLong(32, dPacketsOut);
            report.putLong(40, dBytesOut);
            report.putLong(48, dPacketsIn);
            report.putLong(56, dBytesIn);
            return reports.write(kind, report, 0, REPORT);
        }

        private boolean matches(final int f, final int protocol, final int src, final int sport, final int dst,
            final int dport)
        {
            return proto[f] == protocol && client[f] == src && clientPort[f] == sport && server[f] == dst
                && serverPort[f] == dport;
        }
    }

    private Offloader(final int wanAddress, final CounterSet counters, final int capacity, final Conntrack conntrack,
        final NetlinkSocket nft) throws IOException
    {
        this.wanAddress = wanAddress;
        this.counters = counters;
        this.capacity = capacity;
        this.conntrack = conntrack;
        this.nft = nft;
    }

    /**
     * Opens ctnetlink (a dump of passgate's entries proves it works). Throws, saying why, where the kernel lacks
     * what offload needs (then passgate stays in user space). Call {@link #removeStale} once the rules are in.
     *
     * @param capacity the sessions of one shard (nat.max-flows)
     */
    public static Offloader open(final int wanAddress, final CounterSet counters, final int capacity)
        throws IOException
    {
        if (capacity > MAX_FLOWS)
        {
            throw new IOException("offload names at most " + MAX_FLOWS + " sessions per shard");
        }
        final Conntrack conntrack;
        try
        {
            conntrack = new Conntrack(true);
        }
        catch (final IOException | RuntimeException e)
        {
            throw new IOException("no ctnetlink destroy events: " + e.getMessage(), e);
        }
        final int rows = conntrack.dump(MARK_BIT, MARK_BIT, (d, m, p, s, sp, ds, dp, t, o, a, b, c, e) -> { });
        if (rows < 0)
        {
            conntrack.close();
            throw new IOException("ctnetlink refused a conntrack dump (errno " + -rows + "): no conntrack netlink");
        }
        final NetlinkSocket nft;
        try
        {
            nft = NetlinkSocket.open(Linux.NETLINK_NETFILTER);
        }
        catch (final IOException | RuntimeException e)
        {
            conntrack.close();
            throw e;
        }
        try
        {
            return new Offloader(wanAddress, counters, capacity, conntrack, nft);
        }
        catch (final IOException | RuntimeException e)
        {
            conntrack.close();
            nft.close();
            throw e;
        }
    }

    /**
     * Removes the entries an earlier passgate offloaded: its sessions go on in this one (restored from its state
     * image) or end. Called once this passgate's rules are in, whose empty offload set no longer sends those
     * flows to conntrack (so no packet meets a missing entry tracked). Returns 0 or the errno.
     */
    public int removeStale()
    {
        final int error = conntrack.flush(MARK_BIT, MARK_BIT);
        // their destroy events are queued now, and name the sessions of the earlier run: a restored session keeps
        // its slot, so its new entry would have the same mark and tuple, and an old event read after it was made
        // would be taken for its end (the VM test saw the flow handed back and its next offer refused)
        conntrack.discardEvents();
        return error == Linux.ENOENT ? 0 : error;
    }

    /** The connection mark of shard {@code shard}'s session {@code flow}. */
    public static int mark(final int shard, final int flow)
    {
        return MARK_BIT | shard << 24 | flow;
    }

    /** A new channel for shard {@code shard}'s engine; all channels before {@link #start}. */
    public Channel channel(final int shard)
    {
        if (shard < 0 || shard >= MAX_SHARDS)
        {
            throw new IllegalArgumentException("offload names at most " + MAX_SHARDS + " shards");
        }
        while (channels.size() <= shard)
        {
            channels.add(null);
        }
        final Channel c = new Channel(shard);
        channels.set(shard, c);
        return c;
    }

    public void start()
    {
        try
        {
            wake = new EventFd();
            idle = new Poller(2);
            idle.add(wake.fd(), (short)Linux.POLLIN);
            if (conntrack.eventsFd() >= 0)
            {
                idle.add(conntrack.eventsFd(), (short)Linux.POLLIN);
            }
        }
        catch (final IOException e)
        {
            Logger.warn("offload writer: no eventfd ({}): polls every {} ms", e.getMessage(), IDLE_POLL_MS);
            if (idle != null)
            {
                idle.close();
                idle = null;
            }
            if (wake != null)
            {
                wake.close();
                wake = null;
            }
            if (conntrack.eventsFd() >= 0)
            {
                try
                {
                    idle = new Poller(1);
                    idle.add(conntrack.eventsFd(), (short)Linux.POLLIN);
                }
                catch (final IOException again)
                {
                    idle = null;   // park instead
                }
            }
        }
        thread = new Thread(this::run, "passgate-offload");
        thread.setDaemon(true);
        thread.start();
    }

    private void run()
    {
        while (running)
        {
            rounds++;
            int work = 0;
            try
            {
                work = doWork(System.currentTimeMillis());
            }
            catch (final RuntimeException e)
            {
                counters.increment(Counter.OFFLOAD_ERRORS);
                Logger.error(e, "offload writer");
            }
            if (work == 0)
            {
                if (wake != null)
                {
                    sleep();
                }
                else if (idle != null)
                {
                    idle.poll(IDLE_POLL_MS);
                }
                else
                {
                    LockSupport.parkNanos(IDLE_POLL_MS * 1_000_000L);
                }
            }
        }
    }

    /** Sleeps until a request, a conntrack event or the next dump (at most {@link #IDLE_MAX_MS}). */
    private void sleep()
    {
        sleeping = true;
        VarHandle.fullFence();
        if (!requestsPending() && running)
        {
            final long untilDump = nextDumpMs - System.currentTimeMillis();
            idle.poll((int)Math.max(1, Math.min(IDLE_MAX_MS, untilDump)));
        }
        sleeping = false;
        wake.drain();
    }

    private boolean requestsPending()
    {
        for (final Channel c : channels)
        {
            if (c != null && c.requests.size() > 0)
            {
                return true;
            }
        }
        return false;
    }

    /** The writer sleeps (tests). */
    boolean sleeping()
    {
        return sleeping;
    }

    /** The writer's rounds so far (tests). */
    long rounds()
    {
        return rounds;
    }

    /** Requests that signalled the sleeping writer (tests; approximate with several engines). */
    long wakes()
    {
        return wakes;
    }

    /** One round: the engines' requests, the kernel's destroy events, and a dump when due. Public for tests. */
    public int doWork(final long nowMs)
    {
        int work = 0;
        for (final Channel c : channels)
        {
            if (c != null)
            {
                draining = c;
                work += c.requests.read(onRequest, 256);
            }
        }
        final int events = conntrack.pollEvents(onEntry);
        if (events < 0)
        {
            counters.increment(Counter.OFFLOAD_ERRORS);   // lost events: the dump makes up for them now
            nextDumpMs = 0;
        }
        else
        {
            work += events;
        }
        if (nowMs >= nextDumpMs)
        {
            nextDumpMs = nowMs + DUMP_MS;
            work += dump();
        }
        return work;
    }

    private void onRequest(final int kind, final MutableDirectBuffer b, final int at, final int length)
    {
        final Channel c = draining;
        final int f = b.getInt(at);
        if (f < 0 || f >= capacity)
        {
            return;
        }
        final int protocol = b.getInt(at + 4);
        final int src = b.getInt(at + 8);
        final int sport = b.getInt(at + 12);
        final int dst = b.getInt(at + 16);
        final int dport = b.getInt(at + 20);
        final int extPort = b.getInt(at + 24);
        if (kind == WITHDRAW)
        {
            if (c.state[f] == CARRIED && c.matches(f, protocol, src, sport, dst, dport))
            {
                takeBack(c, f);
                counters.increment(Counter.OFFLOAD_WITHDRAWN);
            }
            return;
        }
        if (c.state[f] == CARRIED || c.state[f] == ENDED)
        {
            takeBack(c, f);   // a stale one (the engine reused the slot): gone first
        }
        c.proto[f] = protocol;
        c.client[f] = src;
        c.clientPort[f] = sport;
        c.server[f] = dst;
        c.serverPort[f] = dport;
        c.ext[f] = extPort;
        c.packetsOut[f] = 0;
        c.bytesOut[f] = 0;
        c.packetsIn[f] = 0;
        c.bytesIn[f] = 0;
        c.seen[f] = dumpGeneration;
        final boolean tunnel = isTunnel(protocol);
        int error = tunnel ? 0 : conntrack.create(protocol, src, sport, dst, dport, wanAddress, extPort,
            mark(c.shard, f), INITIAL_TIMEOUT_S);
        if (error == Linux.EEXIST && !tunnel && foreign(conntrack.markOf(protocol, src, sport, dst, dport))
            && conntrack.delete(protocol, src, sport, dst, dport) == 0)
        {
            // an entry with the flow's own original tuple, and not passgate's (no mark bit 31): the fail-open
            // fallback's masquerade made it from a packet tracked while passgate was down or not yet owning the
            // traffic. The flow's packets are passgate's now (untracked), so that entry is a leftover: replaced.
            // A clash of the reply tuple (another flow's), or passgate's own entry, stays a refusal.
            counters.increment(Counter.OFFLOAD_REPLACED);
            error = conntrack.create(protocol, src, sport, dst, dport, wanAddress, extPort, mark(c.shard, f),
                INITIAL_TIMEOUT_S);
        }
        if (error != 0 || !(tunnel ? tunnelElements(c, f) : elements(Linux.NFT_MSG_NEWSETELEM, c, f)))
        {
            if (error == 0 && !tunnel)
            {
                conntrack.delete(protocol, src, sport, dst, dport);
            }
            c.state[f] = FREE;
            counters.increment(Counter.OFFLOAD_REFUSED);
            if (!c.tell(Offload.REFUSED, f, -1, 0, 0, 0, 0))
            {
                counters.increment(Counter.OFFLOAD_ERRORS);   // the engine keeps it in user space anyway
            }
            return;
        }
        c.state[f] = CARRIED;
        counters.increment(Counter.OFFLOADED);
        if (tunnel)
        {
            counters.increment(protocol == Protocols.ESP ? Counter.OFFLOADED_ESP : Counter.OFFLOADED_GRE);
        }
        counters.set(Counter.OFFLOAD_LIVE, ++live);
        if (tunnel)
        {
            tunnels++;
        }
    }

    /** Whether {@link Conntrack#markOf}'s answer is an entry that passgate did not make. */
    private static boolean foreign(final long mark)
    {
        return mark >= 0 && (mark & (MARK_BIT & 0xFFFFFFFFL)) == 0;
    }

    /** Elements first, then the entry: no packet of the flow meets a missing entry untracked. */
    private void takeBack(final Channel c, final int f)
    {
        if (isTunnel(c.proto[f]))
        {
            if (c.state[f] == CARRIED)
            {
                countLastTraffic(c, f);
                removeTunnelElements(c, f);
                counters.set(Counter.OFFLOAD_LIVE, --live);
                tunnels--;
            }
            c.state[f] = FREE;   // no conntrack entry, no destroy event
            return;
        }
        if (c.state[f] == CARRIED)
        {
            elements(Linux.NFT_MSG_DELSETELEM, c, f);
            counters.set(Counter.OFFLOAD_LIVE, --live);
        }
        c.state[f] = WITHDRAWN;
        conntrack.delete(c.proto[f], c.client[f], c.clientPort[f], c.server[f], c.serverPort[f]);
        // the kernel queued the delete's destroy event before the delete returned: read it now, while the slot
        // still names this entry (an offer of the same tuple next must not take it for its own entry's end)
        if (conntrack.pollEvents(onEntry) < 0)
        {
            counters.increment(Counter.OFFLOAD_ERRORS);
            nextDumpMs = 0;
        }
    }

    /** A dump row or a destroy event of an entry passgate created. */
    private void onEntry(final boolean destroyed, final int mark, final int protocol, final int src, final int sport,
        final int dst, final int dport, final int tcpState, final int timeoutS, final long packetsOrig,
        final long bytesOrig, final long packetsReply, final long bytesReply)
    {
        if ((mark & MARK_BIT) == 0)
        {
            return;
        }
        final int shard = (mark >>> 24) & 0x7F;
        final int f = mark & 0xFFFFFF;
        if (shard >= channels.size() || channels.get(shard) == null || f >= capacity)
        {
            return;
        }
        final Channel c = channels.get(shard);
        if (!c.matches(f, protocol, src, sport, dst, dport))
        {
            return;
        }
        final byte st = c.state[f];
        if (st == FREE || st == ENDED)
        {
            return;
        }
        final long dPo = Math.max(0, packetsOrig - c.packetsOut[f]);
        final long dBo = Math.max(0, bytesOrig - c.bytesOut[f]);
        final long dPi = Math.max(0, packetsReply - c.packetsIn[f]);
        final long dBi = Math.max(0, bytesReply - c.bytesIn[f]);
        if (st == WITHDRAWN)
        {
            if (destroyed)
            {
                counters.add(Counter.OFFLOAD_PACKETS, dPo + dPi);
                counters.add(Counter.OFFLOAD_BYTES, dBo + dBi);
                c.state[f] = FREE;
            }
            return;
        }
        c.seen[f] = dumpGeneration;
        if (destroyed)
        {
            elements(Linux.NFT_MSG_DELSETELEM, c, f);
            counters.set(Counter.OFFLOAD_LIVE, --live);
            c.packetsOut[f] = packetsOrig;
            c.bytesOut[f] = bytesOrig;
            c.packetsIn[f] = packetsReply;
            c.bytesIn[f] = bytesReply;
            if (c.tell(Offload.ENDED, f, tcpState, dPo, dBo, dPi, dBi))
            {
                c.state[f] = FREE;
            }
            else
            {
                c.state[f] = ENDED;   // told at the next dump
                c.endTcpState = tcpState;
            }
            return;
        }
        if (timeoutS >= 0 && timeoutS < REFRESH_BELOW_S
            && (protocol == Protocols.UDP || tcpState == Conntrack.TCP_ESTABLISHED))
        {
            c.keep[f] = true;   // after the dump: the socket is busy with it now
        }
        if ((dPo | dPi) != 0 && c.tell(Offload.TRAFFIC, f, -1, dPo, dBo, dPi, dBi))
        {
            c.packetsOut[f] = packetsOrig;
            c.bytesOut[f] = bytesOrig;
            c.packetsIn[f] = packetsReply;
            c.bytesIn[f] = bytesReply;
        }
    }

    /**
     * Dumps passgate's entries (their traffic), then settles what the dump did not show: an entry carried since
     * before the dump that is gone ended without an event that reached passgate; an ended flow the engine was
     * not told of is told now.
     */
    private int dump()
    {
        final long generation = ++dumpGeneration;
        int rows = conntrack.dump(MARK_BIT, MARK_BIT, onEntry);
        if (rows < 0)
        {
            counters.increment(Counter.OFFLOAD_ERRORS);
            return 0;
        }
        if (tunnels > 0)
        {
            for (int i = 0; i < TUNNEL_COUNTED.length; i++)
            {
                final int n = dumpTunnelSet(TUNNEL_COUNTED[i], TUNNEL_COUNTED_OUT[i]);
                if (n < 0)
                {
                    counters.increment(Counter.OFFLOAD_ERRORS);
                    return 0;   // not a word of the tunnels this round: none is taken for gone
                }
                rows += n;
            }
        }
        int work = 0;
        int carried = 0;
        for (final Channel c : channels)
        {
            if (c == null)
            {
                continue;
            }
            for (int f = 0; f < capacity; f++)
            {
                final byte st = c.state[f];
                if (c.keep[f])
                {
                    c.keep[f] = false;
                    if (st == CARRIED && conntrack.refresh(c.proto[f], c.client[f], c.clientPort[f], c.server[f],
                        c.serverPort[f], KEEP_S) == 0)
                    {
                        counters.increment(Counter.OFFLOAD_KEPT);
                    }
                }
                if (st == CARRIED && c.seen[f] < generation - 1)
                {
                    if (isTunnel(c.proto[f]))
                    {
                        removeTunnelElements(c, f);   // whatever of it is left
                        tunnels--;
                    }
                    else
                    {
                        elements(Linux.NFT_MSG_DELSETELEM, c, f);
                    }
                    counters.set(Counter.OFFLOAD_LIVE, --live);
                    c.state[f] = c.tell(Offload.ENDED, f, -1, 0, 0, 0, 0) ? FREE : ENDED;
                    work++;
                }
                else if (st == ENDED && c.tell(Offload.ENDED, f, c.endTcpState, 0, 0, 0, 0))
                {
                    c.state[f] = FREE;
                    work++;
                }
                else if (st == WITHDRAWN && c.seen[f] < generation - 1)
                {
                    c.state[f] = FREE;   // its destroy event never came
                }
                if (c.state[f] == CARRIED)
                {
                    carried++;
                }
            }
        }
        if (carried != live)
        {
            if (drifts++ < 5)
            {
                Logger.warn("offload: {} flows carried, the gauge said {}; recounted", carried, live);
            }
            live = carried;
            counters.set(Counter.OFFLOAD_LIVE, live);
        }
        return work + rows;
    }

    /** Adds or deletes the flow's two elements of set offload_ports in one transaction; false when refused. */
    private boolean elements(final int type, final Channel c, final int f)
    {
        final UnsafeBuffer b = out.buffer();
        int at = batch(b, 0, Linux.NFNL_MSG_BATCH_BEGIN);
        final int start = at;
        at = Netlink.putNfHeader(b, at, Linux.NFNL_SUBSYS_NFTABLES, type,
            Linux.NLM_F_REQUEST | Linux.NLM_F_CREATE | Linux.NLM_F_ACK, seq++, Linux.NFPROTO_INET, 0);
        at = Netlink.putAttrString(b, at, Linux.NFTA_SET_ELEM_LIST_TABLE, RulesetSpec.TABLE);
        at = Netlink.putAttrString(b, at, Linux.NFTA_SET_ELEM_LIST_SET, RulesetSpec.OFFLOAD_PORTS_SET);
        final int list = at;
        at = Netlink.beginNest(b, at, Linux.NFTA_SET_ELEM_LIST_ELEMENTS);
        at = LiveFlowSet.element(b, at, 0, c.client[f], c.server[f], c.proto[f], c.clientPort[f], c.serverPort[f], true);
        at = LiveFlowSet.element(b, at, 0, c.server[f], wanAddress, c.proto[f], c.serverPort[f], c.ext[f], true);
        Netlink.endNest(b, list, at);
        at = Netlink.finish(b, start, at);
        at = batch(b, at, Linux.NFNL_MSG_BATCH_END);
        if (!sendBatch(at))
        {
            counters.increment(Counter.OFFLOAD_ERRORS);
            return false;
        }
        return true;
    }

    private static boolean isTunnel(final int protocol)
    {
        return protocol == Protocols.ESP || protocol == Protocols.GRE;
    }

    /** The tunnel maps with counters, and whether each counts packets to the server (else from it). */
    private static final String[] TUNNEL_COUNTED = {RulesetSpec.ESP_OUT_SET, RulesetSpec.ESP_IN_MAP,
        RulesetSpec.GRE_OUT_SET, RulesetSpec.GRE_IN_MAP};
    private static final boolean[] TUNNEL_COUNTED_OUT = {true, false, true, false};
    /** NFTNL_UDATA_SET_ELEM_COMMENT: an element's comment, as nft writes and lists it. */
    private static final int UDATA_COMMENT = 0;
    private static final String COMMENT_PREFIX = "passgate ";

    /**
     * A tunnel's elements, in one transaction (all or none): ESP is {@code esp_in} (server . inbound SPI to the
     * client) and {@code esp_out} (client . server . outbound SPI); PPTP GRE is {@code gre_in} (server . the Call
     * ID passgate gave to the client), {@code gre_in_call} (the same key to the client's own Call ID) and
     * {@code gre_out} (client . server . the server's Call ID). In passgate's session: the client's port is the
     * client's Call ID (GRE) or 0 (ESP), the server's port the server's Call ID or outbound SPI, the external port
     * the Call ID passgate gave or the inbound SPI. Each element's comment names the session.
     */
    private boolean tunnelElements(final Channel c, final int f)
    {
        final UnsafeBuffer b = out.buffer();
        int at = batch(b, 0, Linux.NFNL_MSG_BATCH_BEGIN);
        final int type = Linux.NFT_MSG_NEWSETELEM;
        if (c.proto[f] == Protocols.ESP)
        {
            at = tunnelElement(b, at, type, RulesetSpec.ESP_IN_MAP, c.server[f], c.ext[f], 0, 2, false, c.client[f], 4, c, f);
            at = tunnelElement(b, at, type, RulesetSpec.ESP_OUT_SET, c.client[f], c.server[f], c.serverPort[f], 3, false, 0, 0, c, f);
        }
        else
        {
            at = tunnelElement(b, at, type, RulesetSpec.GRE_IN_MAP, c.server[f], c.ext[f], 0, 2, true, c.client[f], 4, c, f);
            at = tunnelElement(b, at, type, RulesetSpec.GRE_IN_CALL_MAP, c.server[f], c.ext[f], 0, 2, true, c.clientPort[f], 2, c, f);
            at = tunnelElement(b, at, type, RulesetSpec.GRE_OUT_SET, c.client[f], c.server[f], c.serverPort[f], 3, true, 0, 0, c, f);
        }
        at = batch(b, at, Linux.NFNL_MSG_BATCH_END);
        if (!sendBatch(at))
        {
            if (lastBatchError != Linux.EEXIST)   // another session's key: a refusal, counted as one
            {
                counters.increment(Counter.OFFLOAD_ERRORS);
            }
            return false;
        }
        return true;
    }

    /**
     * Deletes a tunnel's elements, each in its own transaction (a missing one, say flushed by hand, must not keep
     * the others); counted as errors only when the kernel refuses for another reason.
     */
    private void removeTunnelElements(final Channel c, final int f)
    {
        final int type = Linux.NFT_MSG_DELSETELEM;
        final UnsafeBuffer b = out.buffer();
        removeOne(countedElement(b, batch(b, 0, Linux.NFNL_MSG_BATCH_BEGIN), type, c, f, true));
        removeOne(countedElement(b, batch(b, 0, Linux.NFNL_MSG_BATCH_BEGIN), type, c, f, false));
        if (c.proto[f] == Protocols.GRE)
        {
            removeOne(tunnelElement(b, batch(b, 0, Linux.NFNL_MSG_BATCH_BEGIN), type,
                RulesetSpec.GRE_IN_CALL_MAP, c.server[f], c.ext[f], 0, 2, true, 0, 0, c, f));
        }
    }

    /**
     * One of a tunnel's two counted elements as message {@code type} (no data, no comment): to the server, its
     * out set's (client . server . the server's SPI or Call ID), else its in map's (server . the inbound SPI or
     * the Call ID passgate gave).
     */
    private int countedElement(final UnsafeBuffer b, final int start, final int type, final Channel c, final int f,
        final boolean toServer)
    {
        final boolean gre = c.proto[f] == Protocols.GRE;
        return toServer
            ? tunnelElement(b, start, type, gre ? RulesetSpec.GRE_OUT_SET : RulesetSpec.ESP_OUT_SET, c.client[f],
                c.server[f], c.serverPort[f], 3, gre, 0, 0, c, f)
            : tunnelElement(b, start, type, gre ? RulesetSpec.GRE_IN_MAP : RulesetSpec.ESP_IN_MAP, c.server[f], c.ext[f],
                0, 2, gre, 0, 0, c, f);
    }

    private void removeOne(final int length)
    {
        final int at = batch(out.buffer(), length, Linux.NFNL_MSG_BATCH_END);
        if (!sendBatch(at) && lastBatchError != Linux.ENOENT)   // already gone (flushed by hand): not an error
        {
            counters.increment(Counter.OFFLOAD_ERRORS);
        }
    }

    /**
     * One element message: a key of {@code words} 4-byte words in network order (the last one a 16-bit value and
     * two bytes of padding when {@code shortLast}, as nft lays out {@code @th,48,16} in a concatenation), a map's
     * data of {@code dataLength} bytes (4 or 2; none when 0) and, when added, a comment naming the session.
     */
    private int tunnelElement(final UnsafeBuffer b, final int start, final int type, final String set, final int k0,
        final int k1, final int k2, final int words, final boolean shortLast, final int data, final int dataLength,
        final Channel c, final int f)
    {
        // an element already there (another session's key) refuses the offer: EXCL
        int at = Netlink.putNfHeader(b, start, Linux.NFNL_SUBSYS_NFTABLES, type, Linux.NLM_F_REQUEST | Linux.NLM_F_ACK
            | (type == Linux.NFT_MSG_NEWSETELEM ? Linux.NLM_F_CREATE | Linux.NLM_F_EXCL : 0), seq++, Linux.NFPROTO_INET, 0);
        at = Netlink.putAttrString(b, at, Linux.NFTA_SET_ELEM_LIST_TABLE, RulesetSpec.TABLE);
        at = Netlink.putAttrString(b, at, Linux.NFTA_SET_ELEM_LIST_SET, set);
        final int list = at;
        at = Netlink.beginNest(b, at, Linux.NFTA_SET_ELEM_LIST_ELEMENTS);
        final int elem = at;
        at = Netlink.beginNest(b, at, Linux.NFTA_LIST_ELEM);
        final int key = at;
        at = Netlink.beginNest(b, at, Linux.NFTA_SET_ELEM_KEY);
        at = Netlink.putAttrHeader(b, at, Linux.NFTA_DATA_VALUE, words * 4);
        for (int i = 0; i < words; i++)
        {
            final int word = i == 0 ? k0 : i == 1 ? k1 : k2;
            if (shortLast && i == words - 1)
            {
                b.putShort(at, (short)word, ByteOrder.BIG_ENDIAN);
                b.putShort(at + 2, (short)0);
            }
            else
            {
                b.putInt(at, word, ByteOrder.BIG_ENDIAN);
            }
            at += 4;
        }
        Netlink.endNest(b, key, at);
        if (dataLength > 0 && type == Linux.NFT_MSG_NEWSETELEM)
        {
            final int value = at;
            at = Netlink.beginNest(b, at, Linux.NFTA_SET_ELEM_DATA);
            at = Netlink.putAttrHeader(b, at, Linux.NFTA_DATA_VALUE, dataLength);
            if (dataLength == 2)
            {
                b.putShort(at, (short)data, ByteOrder.BIG_ENDIAN);
                b.putShort(at + 2, (short)0);
                at += 4;
            }
            else
            {
                b.putInt(at, data, ByteOrder.BIG_ENDIAN);
                at += 4;
            }
            Netlink.endNest(b, value, at);
        }
        if (type == Linux.NFT_MSG_NEWSETELEM)
        {
            at = putComment(b, at, c.shard, f);
        }
        Netlink.endNest(b, elem, at);
        Netlink.endNest(b, list, at);
        return Netlink.finish(b, start, at);
    }

    /** NFTA_SET_ELEM_USERDATA holding the comment "passgate SHARD/SESSION" (nft lists it as the element's comment). */
    private static int putComment(final UnsafeBuffer b, final int start, final int shard, final int f)
    {
        final int text = start + Linux.NLA_HDRLEN + 2;
        int at = text;
        for (int i = 0; i < COMMENT_PREFIX.length(); i++)
        {
            b.putByte(at++, (byte)COMMENT_PREFIX.charAt(i));
        }
        at = putDecimal(b, at, shard);
        b.putByte(at++, (byte)'/');
        at = putDecimal(b, at, f);
        b.putByte(at++, (byte)0);
        final int length = at - text;
        Netlink.putAttrHeader(b, start, Linux.NFTA_SET_ELEM_USERDATA, 2 + length);
        b.putByte(start + Linux.NLA_HDRLEN, (byte)UDATA_COMMENT);
        b.putByte(start + Linux.NLA_HDRLEN + 1, (byte)length);
        final int aligned = Netlink.align(at);
        for (int i = at; i < aligned; i++)
        {
            b.putByte(i, (byte)0);
        }
        return aligned;
    }

    private static int putDecimal(final UnsafeBuffer b, final int start, final int value)
    {
        int digits = 1;
        for (int v = value / 10; v > 0; v /= 10)
        {
            digits++;
        }
        int v = value;
        for (int i = digits - 1; i >= 0; i--)
        {
            b.putByte(start + i, (byte)('0' + v % 10));
            v /= 10;
        }
        return start + digits;
    }

    /**
     * Dumps one tunnel map's elements with their counters; each names its session by its comment. An element of a
     * tunnel the kernel carries reports its traffic since the last dump (to the server or from it) and proves the
     * tunnel still offloaded. Returns the elements read, or -errno.
     */
    private int dumpTunnelSet(final String set, final boolean toServer)
    {
        final UnsafeBuffer b = out.buffer();
        final int mySeq = seq++;
        int at = Netlink.putNfHeader(b, 0, Linux.NFNL_SUBSYS_NFTABLES, Linux.NFT_MSG_GETSETELEM,
            Linux.NLM_F_REQUEST | Linux.NLM_F_DUMP, mySeq, Linux.NFPROTO_INET, 0);
        at = Netlink.putAttrString(b, at, Linux.NFTA_SET_ELEM_LIST_TABLE, RulesetSpec.TABLE);
        at = Netlink.putAttrString(b, at, Linux.NFTA_SET_ELEM_LIST_SET, set);
        final long sent = nft.send(out.address(), Netlink.finish(b, 0, at));
        if (sent < 0)
        {
            return (int)sent;
        }
        return receiveElements(mySeq, toServer);
    }

    /**
     * A tunnel being taken back: its two counted elements (to the server, from it) are read once more, so the
     * traffic since the last dump (up to {@link #DUMP_MS}) is counted before they go, as a withdrawn flow's is
     * from its entry's destroy event.
     */
    private void countLastTraffic(final Channel c, final int f)
    {
        finalRead = true;
        try
        {
            for (int i = 0; i < 2; i++)
            {
                final boolean toServer = i == 0;
                final int mySeq = seq;
                final int at = countedElement(out.buffer(), 0, Linux.NFT_MSG_GETSETELEM, c, f, toServer);
                final long sent = nft.send(out.address(), at);
                final int error = sent < 0 ? (int)sent : receiveElements(mySeq, toServer);
                if (error < 0 && error != -Linux.ENOENT)   // gone already (flushed by hand): nothing left to count
                {
                    counters.increment(Counter.OFFLOAD_ERRORS);
                }
            }
        }
        finally
        {
            finalRead = false;
        }
    }

    /** Reads the replies to request {@code mySeq} up to its end (done or error/ack); the elements seen, or -errno. */
    private int receiveElements(final int mySeq, final boolean toServer)
    {
        elementsToServer = toServer;
        return elementsDump.read(nft, dumpIn, mySeq);
    }

    /** One message of {@link #receiveElements}: the elements it holds. */
    private int elementsMessage(final UnsafeBuffer b, final int offset, final int length, final int type)
    {
        return parseElements(b, offset + Linux.NLMSG_HDRLEN + Linux.NFGENMSG_LEN, offset + length, elementsToServer);
    }

    private int parseElements(final UnsafeBuffer b, final int start, final int end, final boolean toServer)
    {
        int elements = 0;
        for (int at = start; at + Linux.NLA_HDRLEN <= end; )
        {
            final int len = b.getShort(at, Netlink.HOST) & 0xFFFF;
            if (len < Linux.NLA_HDRLEN || at + len > end)
            {
                break;
            }
            if ((b.getShort(at + 2, Netlink.HOST) & 0x3FFF) == Linux.NFTA_SET_ELEM_LIST_ELEMENTS)
            {
                for (int e = at + Linux.NLA_HDRLEN; e + Linux.NLA_HDRLEN <= at + len; )
                {
                    final int eLen = b.getShort(e, Netlink.HOST) & 0xFFFF;
                    if (eLen < Linux.NLA_HDRLEN || e + eLen > at + len)
                    {
                        break;
                    }
                    element(b, e + Linux.NLA_HDRLEN, e + eLen, toServer);
                    elements++;
                    e += Netlink.align(eLen);
                }
            }
            at += Netlink.align(len);
        }
        return elements;
    }

    private int elementSession;
    private long elementPackets;
    private long elementBytes;
    /** The elements read are a tunnel's last: their traffic goes to the counters, not to the engine. */
    private boolean finalRead;
    /** The direction of the elements {@link #receiveElements} reads. */
    private boolean elementsToServer;

    /** One NFTA_LIST_ELEM of a tunnel map's dump: its comment's session, its counter. */
    private void element(final UnsafeBuffer b, final int start, final int end, final boolean toServer)
    {
        elementSession = -1;
        elementPackets = -1;
        elementBytes = -1;
        for (int at = start; at + Linux.NLA_HDRLEN <= end; )
        {
            final int len = b.getShort(at, Netlink.HOST) & 0xFFFF;
            if (len < Linux.NLA_HDRLEN || at + len > end)
            {
                return;
            }
            final int type = b.getShort(at + 2, Netlink.HOST) & 0x3FFF;
            final int v = at + Linux.NLA_HDRLEN;
            if (type == Linux.NFTA_SET_ELEM_USERDATA)
            {
                elementSession = parseComment(b, v, at + len);
            }
            else if (type == Linux.NFTA_SET_ELEM_EXPR)
            {
                expression(b, v, at + len);
            }
            else if (type == Linux.NFTA_SET_ELEM_EXPRESSIONS)
            {
                for (int x = v; x + Linux.NLA_HDRLEN <= at + len; )
                {
                    final int xLen = b.getShort(x, Netlink.HOST) & 0xFFFF;
                    if (xLen < Linux.NLA_HDRLEN || x + xLen > at + len)
                    {
                        break;
                    }
                    expression(b, x + Linux.NLA_HDRLEN, x + xLen);
                    x += Netlink.align(xLen);
                }
            }
            at += Netlink.align(len);
        }
        if (elementSession < 0)
        {
            return;   // not passgate's
        }
        final int shard = elementSession >>> 24;
        final int f = elementSession & 0xFFFFFF;
        if (shard >= channels.size() || channels.get(shard) == null || f >= capacity)
        {
            return;
        }
        final Channel c = channels.get(shard);
        if (c.state[f] != CARRIED || !isTunnel(c.proto[f]))
        {
            return;
        }
        // a tunnel counts as still offloaded when both its counted elements (to and from the server) are there
        final int tag = (int)(dumpGeneration & 0x3F) << 2;
        int parts = c.parts[f];
        parts = (parts & 0xFC) == tag ? parts + 1 : tag | 1;
        c.parts[f] = (byte)parts;
        if ((parts & 3) >= 2)
        {
            c.seen[f] = dumpGeneration;
        }
        if (elementPackets < 0)
        {
            return;
        }
        final long last = toServer ? c.packetsOut[f] : c.packetsIn[f];
        final long lastBytes = toServer ? c.bytesOut[f] : c.bytesIn[f];
        final long dp = Math.max(0, elementPackets - last);
        final long db = Math.max(0, elementBytes - lastBytes);
        if (finalRead)
        {
            // the engine ends the session (a withdrawal comes only with its removal): the totals, as a flow's
            counters.add(Counter.OFFLOAD_PACKETS, dp);
            counters.add(Counter.OFFLOAD_BYTES, db);
            return;
        }
        if (dp != 0 && c.tell(Offload.TRAFFIC, f, -1, toServer ? dp : 0, toServer ? db : 0, toServer ? 0 : dp,
            toServer ? 0 : db))
        {
            if (toServer)
            {
                c.packetsOut[f] = elementPackets;
                c.bytesOut[f] = elementBytes;
            }
            else
            {
                c.packetsIn[f] = elementPackets;
                c.bytesIn[f] = elementBytes;
            }
        }
    }

    /** A counter expression's packets and bytes (other expressions are left alone). */
    private void expression(final UnsafeBuffer b, final int start, final int end)
    {
        boolean counter = false;
        int data = -1;
        int dataEnd = -1;
        for (int at = start; at + Linux.NLA_HDRLEN <= end; )
        {
            final int len = b.getShort(at, Netlink.HOST) & 0xFFFF;
            if (len < Linux.NLA_HDRLEN || at + len > end)
            {
                return;
            }
            final int type = b.getShort(at + 2, Netlink.HOST) & 0x3FFF;
            if (type == Linux.NFTA_EXPR_NAME)
            {
                counter = len - Linux.NLA_HDRLEN >= 7 && b.getByte(at + 4) == 'c' && b.getByte(at + 5) == 'o'
                    && b.getByte(at + 6) == 'u' && b.getByte(at + 7) == 'n' && b.getByte(at + 8) == 't'
                    && b.getByte(at + 9) == 'e' && b.getByte(at + 10) == 'r';
            }
            else if (type == Linux.NFTA_EXPR_DATA)
            {
                data = at + Linux.NLA_HDRLEN;
                dataEnd = at + len;
            }
            at += Netlink.align(len);
        }
        if (!counter || data < 0)
        {
            return;
        }
        for (int at = data; at + Linux.NLA_HDRLEN <= dataEnd; )
        {
            final int len = b.getShort(at, Netlink.HOST) & 0xFFFF;
            if (len < Linux.NLA_HDRLEN || at + len > dataEnd)
            {
                return;
            }
            final int type = b.getShort(at + 2, Netlink.HOST) & 0x3FFF;
            if (len >= Linux.NLA_HDRLEN + 8 && type == Linux.NFTA_COUNTER_PACKETS)
            {
                elementPackets = b.getLong(at + Linux.NLA_HDRLEN, ByteOrder.BIG_ENDIAN);
            }
            else if (len >= Linux.NLA_HDRLEN + 8 && type == Linux.NFTA_COUNTER_BYTES)
            {
                elementBytes = b.getLong(at + Linux.NLA_HDRLEN, ByteOrder.BIG_ENDIAN);
            }
            at += Netlink.align(len);
        }
    }

    /** The session (shard << 24 | index) a comment "passgate SHARD/SESSION" names, -1 for any other. */
    private static int parseComment(final UnsafeBuffer b, final int start, final int end)
    {
        if (end - start < 2 || b.getByte(start) != UDATA_COMMENT)
        {
            return -1;
        }
        final int textEnd = Math.min(end, start + 2 + (b.getByte(start + 1) & 0xFF));
        int at = start + 2;
        for (int i = 0; i < COMMENT_PREFIX.length(); i++, at++)
        {
            if (at >= textEnd || b.getByte(at) != COMMENT_PREFIX.charAt(i))
            {
                return -1;
            }
        }
        int shard = 0;
        int f = 0;
        boolean slash = false;
        int digits = 0;
        for (; at < textEnd && b.getByte(at) != 0; at++)
        {
            final byte ch = b.getByte(at);
            if (ch == '/' && !slash && digits > 0)
            {
                slash = true;
                digits = 0;
            }
            else if (ch >= '0' && ch <= '9' && digits < 8)
            {
                if (slash)
                {
                    f = f * 10 + ch - '0';
                }
                else
                {
                    shard = shard * 10 + ch - '0';
                }
                digits++;
            }
            else
            {
                return -1;
            }
        }
        return slash && digits > 0 && shard < MAX_SHARDS && f < MAX_FLOWS ? shard << 24 | f : -1;
    }

    /** Sends a batch built in {@code out} and reads the kernel's acks; false when it refused ({@link #lastBatchError}). */
    private boolean sendBatch(final int length)
    {
        lastBatchError = 0;
        final long sent = nft.send(out.address(), length);
        if (sent < 0)
        {
            lastBatchError = (int)-sent;
            return false;
        }
        boolean ok = true;
        while (true)
        {
            final long n = nft.receive(reply.address(), reply.capacity(), Linux.MSG_DONTWAIT);
            if (n <= 0)
            {
                break;
            }
            final UnsafeBuffer r = reply.buffer();
            int off = 0;
            while (off + Linux.NLMSG_HDRLEN <= n)
            {
                final int len = Netlink.messageLength(r, off);
                if (len < Linux.NLMSG_HDRLEN)
                {
                    break;
                }
                if (Netlink.messageType(r, off) == Linux.NLMSG_ERROR && Netlink.errorCode(r, off) != 0)
                {
                    ok = false;
                    lastBatchError = -Netlink.errorCode(r, off);
                }
                off += Netlink.align(len);
            }
        }
        return ok;
    }

    private int lastBatchError;

    private int batch(final UnsafeBuffer b, final int at, final int type)
    {
        final int end = Netlink.putNfHeader(b, at, 0, 0, Linux.NLM_F_REQUEST, seq++, Linux.AF_UNSPEC,
            Linux.NFNL_SUBSYS_NFTABLES);
        b.putShort(at + Netlink.NLMSG_TYPE_OFFSET, (short)type, Netlink.HOST);
        return Netlink.finish(b, at, end);
    }

    private static OneToOneRingBuffer ring(final int bytes)
    {
        return new OneToOneRingBuffer(new UnsafeBuffer(
            BufferUtil.allocateDirectAligned(bytes + RingBufferDescriptor.TRAILER_LENGTH, 64)));
    }

    /**
     * Removes every entry passgate offloaded, from a socket of its own (the writer may be closed): used when
     * passgate stops fail-closed, where nothing may pass while it is down. 0, or the errno.
     */
    public static int flushAll()
    {
        try (Conntrack c = new Conntrack(false))
        {
            final int error = c.flush(MARK_BIT, MARK_BIT);
            return error == Linux.ENOENT ? 0 : error;
        }
        catch (final IOException e)
        {
            return Linux.EIO;
        }
    }

    /** Entries the kernel carries now. */
    public int live()
    {
        return live;
    }

    @Override
    public void close()
    {
        running = false;
        if (thread != null)
        {
            if (wake != null)
            {
                wake.signal();
            }
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
        if (idle != null)
        {
            idle.close();
        }
        if (wake != null && (thread == null || !thread.isAlive()))
        {
            wake.close();
        }
        conntrack.close();
        nft.close();
        out.close();
        reply.close();
        dumpIn.close();
    }
}

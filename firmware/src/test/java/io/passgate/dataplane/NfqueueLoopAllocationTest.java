package io.passgate.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.DatagramChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.counters.CountersFile;
import io.passgate.nfq.NfqPacket;
import io.passgate.nfq.NfqueueChannel;
import io.passgate.nfq.PacketHandler;
import io.passgate.nfq.QueueConfig;
import io.passgate.sys.Linux;
import io.passgate.sys.Netns;
import io.passgate.sys.Poller;
import io.passgate.testing.Allocations;
import io.passgate.testing.RequiresRoot;
import io.passgate.wire.Checksum;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.UdpHeader;
import org.agrona.concurrent.SystemEpochClock;
import org.junit.jupiter.api.Test;

/**
 * The real receive, decode, verdict loop (DataplaneAgent over an NFQUEUE netlink socket, in a namespace this
 * test builds) over more than a million packets after warm-up: zero bytes allocated on its thread. Half the
 * packets are rewritten (a verdict with a payload), half accepted unchanged (the batch verdict).
 */
@RequiresRoot
class NfqueueLoopAllocationTest
{
    private static final int WARMUP = 200_000;
    private static final int WARMUP_ROUND = 10_000;
    private static final int MEASURED = 1_000_000;
    private static final int ROUND = 250_000;
    private static final int MAX_ROUNDS = 16;
    private static final int QUEUE = 7;

    private static void run(final String... command) throws IOException, InterruptedException
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0)
        {
            throw new IOException(String.join(" ", command) + ": " + out);
        }
    }

    /** Rewrites every other UDP datagram's first payload byte (checksum kept), accepts the rest. */
    static final class AlternatingHandler implements PacketHandler
    {
        final Ipv4Header ip = new Ipv4Header();
        final UdpHeader udp = new UdpHeader();
        long seen;

        @Override
        public int onPacket(final NfqPacket packet)
        {
            seen++;
            if (!ip.wrap(packet.buffer(), packet.payloadOffset(), packet.payloadLength())
                || !udp.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength()) || udp.payloadLength() < 2)
            {
                return VERDICT_ACCEPT;
            }
            if ((seen & 1) == 0)
            {
                return VERDICT_ACCEPT;
            }
            final int at = udp.payloadOffset();
            final int old = ip.buffer().getShort(at, ByteOrder.BIG_ENDIAN) & 0xFFFF;
            final int neu = old ^ 0x5A00;
            ip.buffer().putShort(at, (short)neu, ByteOrder.BIG_ENDIAN);
            if (udp.checksum() != 0 && !packet.checksumPartial())
            {
                udp.checksum(Checksum.update16(udp.checksum(), old, neu));
            }
            else if (packet.checksumPartial())
            {
                Checksum.completeTransport(ip);
            }
            return VERDICT_ACCEPT_MODIFIED;
        }
    }

    /**
     * Runs the agent until {@code packets} more have been received; returns the bytes this thread allocated in
     * its duty cycles and idles. Each iteration is bracketed on its own: the loop's exit, which the JIT may
     * have compiled as a deoptimization trap (its profile shows it almost never taken), lies outside what is
     * counted, and everything the loop runs (receive, decode, handler, verdicts, poll) lies inside.
     */
    private static long drive(final DataplaneAgent agent, final PollIdleStrategy idle, final CounterSet counters,
        final long packets)
    {
        final long until = counters.get(Counter.PACKETS_RECEIVED) + packets;
        long allocated = 0;
        while (counters.get(Counter.PACKETS_RECEIVED) < until)
        {
            final long before = Allocations.currentThread();
            idle.idle(agent.doWork());
            allocated += Allocations.currentThread() - before;
        }
        return allocated;
    }

    @Test
    void millionPacketsThroughTheRealLoopAllocateNothing() throws Exception
    {
        final String ns = "pgalloc" + ProcessHandle.current().pid();
        final Path dir = Files.createTempDirectory("pgalloc");
        run("ip", "netns", "add", ns);
        final AtomicBoolean sending = new AtomicBoolean(true);
        try
        {
            run("ip", "-n", ns, "link", "set", "lo", "up");
            run("ip", "netns", "exec", ns, "iptables", "-t", "mangle", "-A", "OUTPUT", "-d", "127.0.0.1", "-p", "udp",
                "--dport", "9", "-j", "NFQUEUE", "--queue-num", Integer.toString(QUEUE));

            final CompletableFuture<long[]> result = new CompletableFuture<>();
            final StringBuilder roundLog = new StringBuilder();
            final CompletableFuture<Boolean> bound = new CompletableFuture<>();
            final Thread dataplane = new Thread(() ->
            {
                try
                {
                    Netns.enter(ns);
                    final CounterSet counters = new CounterSet();
                    final AlternatingHandler handler = new AlternatingHandler();
                    try (CountersFile file = CountersFile.create(dir.resolve("counters"), 1, 0, 0);
                        NfqueueChannel channel = NfqueueChannel.open(QueueConfig.defaults(QUEUE), counters);
                        Poller poller = new Poller(1))
                    {
                        poller.add(channel.fd(), Linux.POLLIN);
                        final PollIdleStrategy idle = new PollIdleStrategy(poller, 100);
                        final DataplaneAgent agent = new DataplaneAgent(0, channel, handler, counters, file,
                            SystemEpochClock.INSTANCE);
                        bound.complete(true);
                        for (int i = 0; i < WARMUP / WARMUP_ROUND; i++)
                        {
                            drive(agent, idle, counters, WARMUP_ROUND);
                        }
                        // steady state: a million packets in a row (four rounds) allocating nothing; a round in
                        // which the JIT was still at work (a deoptimization allocates a few hundred bytes once,
                        // seen on a loaded machine) starts the count again, within 16 rounds
                        final long startPackets = counters.get(Counter.PACKETS_RECEIVED);
                        long clean = 0;
                        long allocated = 0;
                        final StringBuilder rounds = new StringBuilder();
                        for (int round = 0; round < MAX_ROUNDS && clean < MEASURED; round++)
                        {
                            final long bytes = drive(agent, idle, counters, ROUND);
                            rounds.append(bytes).append(' ');
                            clean = bytes == 0 ? clean + ROUND : 0;
                            allocated = bytes == 0 ? allocated : bytes;
                        }
                        roundLog.append(rounds);
                        result.complete(new long[] {clean >= MEASURED ? 0 : Math.max(1, allocated),
                            counters.get(Counter.PACKETS_RECEIVED) - startPackets,
                            counters.get(Counter.MODIFIED), counters.get(Counter.ACCEPTED),
                            counters.get(Counter.VERDICT_SEND_ERRORS), counters.get(Counter.NETLINK_ERRORS),
                            counters.get(Counter.RECEIVE_CALLS)});
                    }
                }
                catch (final Throwable t)
                {
                    bound.completeExceptionally(t);
                    result.completeExceptionally(t);
                }
            }, "dataplane-under-test");
            dataplane.start();
            bound.get(10, TimeUnit.SECONDS);

            final Thread sender = new Thread(() ->
            {
                try
                {
                    Netns.enter(ns);
                    try (DatagramChannel ch = DatagramChannel.open())
                    {
                        ch.connect(new InetSocketAddress("127.0.0.1", 9));
                        final ByteBuffer b = ByteBuffer.allocateDirect(32);
                        while (sending.get())
                        {
                            b.clear();
                            try
                            {
                                ch.write(b);
                            }
                            catch (final IOException e)
                            {
                                // ECONNREFUSED from an earlier datagram's port unreachable: keep sending
                            }
                        }
                    }
                }
                catch (final Exception e)
                {
                    result.completeExceptionally(e);
                }
            }, "sender");
            sender.start();

            final long[] r = result.get(240, TimeUnit.SECONDS);
            assertTrue(r[1] >= MEASURED, "measured packets " + r[1]);
            assertTrue(r[2] > MEASURED / 3 && r[3] > MEASURED / 3, "both verdict kinds: modified " + r[2] + ", accepted " + r[3]);
            assertEquals(0, r[4], "verdict send errors");
            assertEquals(0, r[5], "netlink error replies (a verdict for an unknown packet id would show here)");
            assertTrue(r[6] > 0);
            assertEquals(0, r[0], "bytes allocated on the dataplane thread per round of " + ROUND + " packets: "
                + roundLog + "(no million packets in a row without an allocation)");
        }
        finally
        {
            sending.set(false);
            run("ip", "netns", "del", ns);
        }
    }
}

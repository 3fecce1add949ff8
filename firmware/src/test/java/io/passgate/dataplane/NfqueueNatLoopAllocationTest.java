package io.passgate.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.counters.CountersFile;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.NatHandler;
import io.passgate.nfq.NfqueueChannel;
import io.passgate.nfq.QueueConfig;
import io.passgate.sys.Linux;
import io.passgate.sys.Netns;
import io.passgate.sys.Poller;
import io.passgate.testing.Allocations;
import io.passgate.testing.RequiresRoot;
import io.passgate.wire.Ipv4Header;
import org.agrona.concurrent.SystemEpochClock;
import org.junit.jupiter.api.Test;

/**
 * The real loop with the real NAT: DataplaneAgent over an NFQUEUE netlink socket (in a namespace this test
 * builds) running the daemon's NatHandler and NatEngine, over more than a million packets after warm-up:
 * zero bytes allocated on its thread. The packets are queued at POSTROUTING (the hook of outbound NAT) from
 * 16 UDP sockets, so each is translated (source to the WAN address and a mapped port, checksum updated) and
 * verdicted with its new bytes; the engine's timers run on the loop's ticks.
 */
@RequiresRoot
class NfqueueNatLoopAllocationTest
{
    private static final int WARMUP = 200_000;
    private static final int WARMUP_ROUND = 10_000;
    private static final int MEASURED = 1_000_000;
    private static final int ROUND = 250_000;
    private static final int MAX_ROUNDS = 16;
    private static final int QUEUE = 8;
    private static final String WAN = "10.99.0.1";
    private static final int SOCKETS = 16;

    private static void run(final String... command) throws IOException, InterruptedException
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0)
        {
            throw new IOException(String.join(" ", command) + ": " + out);
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
    void millionPacketsTranslatedByTheNatThroughTheRealLoopAllocateNothing() throws Exception
    {
        final String ns = "pgnatalloc" + ProcessHandle.current().pid();
        final Path dir = Files.createTempDirectory("pgalloc");
        run("ip", "netns", "add", ns);
        final AtomicBoolean sending = new AtomicBoolean(true);
        try
        {
            run("ip", "-n", ns, "link", "set", "lo", "up");
            run("ip", "-n", ns, "addr", "add", WAN + "/32", "dev", "lo");
            run("ip", "netns", "exec", ns, "iptables", "-t", "mangle", "-A", "POSTROUTING", "-d", "127.0.0.1", "-p",
                "udp", "--dport", "9", "-j", "NFQUEUE", "--queue-num", Integer.toString(QUEUE));

            final CompletableFuture<long[]> result = new CompletableFuture<>();
            final StringBuilder roundLog = new StringBuilder();
            final CompletableFuture<Boolean> bound = new CompletableFuture<>();
            final CompletableFuture<NatEngine> flows = new CompletableFuture<>();
            final Thread dataplane = new Thread(() ->
            {
                try
                {
                    Netns.enter(ns);
                    final CounterSet counters = new CounterSet();
                    final NatEngine engine = new NatEngine(NatConfig.defaults(Ipv4Header.parse(WAN),
                        Ipv4Header.parse("127.0.0.1"), 1, 4096), counters, (b, o, l, d) -> { }, 100,
                        SystemEpochClock.INSTANCE.time());
                    final NatHandler handler = new NatHandler(engine, counters);
                    flows.complete(engine);
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
                            counters.get(Counter.RECEIVE_CALLS), counters.get(Counter.NAT_FLOWS_CREATED),
                            counters.get(Counter.DROP_MALFORMED)});
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
                    final DatagramChannel[] channels = new DatagramChannel[SOCKETS];
                    try
                    {
                        for (int i = 0; i < SOCKETS; i++)
                        {
                            channels[i] = DatagramChannel.open();
                            channels[i].connect(new InetSocketAddress("127.0.0.1", 9));
                        }
                        final ByteBuffer b = ByteBuffer.allocateDirect(32);
                        for (int i = 0; sending.get(); i++)
                        {
                            b.clear();
                            try
                            {
                                channels[i % SOCKETS].write(b);
                            }
                            catch (final IOException e)
                            {
                                // ECONNREFUSED from an earlier datagram's port unreachable: keep sending
                            }
                        }
                    }
                    finally
                    {
                        for (final DatagramChannel ch : channels)
                        {
                            if (ch != null)
                            {
                                ch.close();
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
            assertTrue(r[2] >= MEASURED, "translated (verdicts with new bytes): " + r[2]);
            assertEquals(0, r[3], "none accepted unchanged: every packet translated");
            assertEquals(SOCKETS, r[7], "one session per sending socket");
            assertEquals(0, r[8], "nothing malformed");
            assertEquals(SOCKETS, flows.get().mappings().size());
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

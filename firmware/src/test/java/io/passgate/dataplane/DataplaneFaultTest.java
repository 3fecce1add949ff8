package io.passgate.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.counters.CountersFile;
import io.passgate.nfq.NfqPacket;
import io.passgate.nfq.NfqueueChannel;
import io.passgate.nfq.PacketHandler;
import io.passgate.nfq.QueueConfig;
import io.passgate.sys.Netns;
import io.passgate.testing.RequiresRoot;
import io.passgate.wire.Checksum;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.UdpHeader;
import org.agrona.concurrent.EpochClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A handler that throws on a chosen packet inside the real loop (a real queue in a namespace this test builds):
 * the fault stays with that packet (dropped, counted, kept for the status), the packets around it in the same
 * batch leave with their own bytes, and the periodic tick still runs, also under a steady stream of faults.
 */
@RequiresRoot
class DataplaneFaultTest
{
    private static final int QUEUE = 9;
    private String ns;
    private Path dir;

    private static void run(final String... command) throws IOException, InterruptedException
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0)
        {
            throw new IOException(String.join(" ", command) + ": " + out);
        }
    }

    @BeforeEach
    void namespace() throws Exception
    {
        ns = "pgfault" + ProcessHandle.current().pid();
        dir = Files.createTempDirectory("pgfault");
        run("ip", "netns", "add", ns);
        run("ip", "-n", ns, "link", "set", "lo", "up");
        run("ip", "netns", "exec", ns, "iptables", "-t", "mangle", "-A", "OUTPUT", "-d", "127.0.0.1", "-p", "udp",
            "--dport", "9", "-j", "NFQUEUE", "--queue-num", Integer.toString(QUEUE));
    }

    @AfterEach
    void cleanup() throws Exception
    {
        run("ip", "netns", "del", ns);
    }

    /**
     * Throws on payloads starting with "BOOM"; rewrites "x" payloads to "X" (a verdict with a payload), accepts
     * the others unchanged.
     */
    static final class ThrowingHandler implements PacketHandler
    {
        final Ipv4Header ip = new Ipv4Header();
        final UdpHeader udp = new UdpHeader();
        int ticks;

        @Override
        public int onPacket(final NfqPacket packet)
        {
            if (!ip.wrap(packet.buffer(), packet.payloadOffset(), packet.payloadLength())
                || !udp.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength()) || udp.payloadLength() < 4)
            {
                return VERDICT_ACCEPT;
            }
            final int at = udp.payloadOffset();
            if (ip.buffer().getByte(at) == 'B')
            {
                // half-done work before the fault: the packet must not leave like this
                ip.buffer().putByte(at + 1, (byte)'!');
                throw new IllegalStateException("handler bug on a chosen packet");
            }
            if (ip.buffer().getByte(at) == 'x')
            {
                ip.buffer().putByte(at, (byte)'X');
                Checksum.completeTransport(ip);
                return VERDICT_ACCEPT_MODIFIED;
            }
            return VERDICT_ACCEPT;
        }

        @Override
        public int onTick(final long nowMs)
        {
            ticks++;
            return 0;
        }
    }

    private <T> T inNamespace(final Callable<T> work) throws Exception
    {
        final CompletableFuture<T> result = new CompletableFuture<>();
        final Thread t = new Thread(() ->
        {
            try
            {
                Netns.enter(ns);
                result.complete(work.call());
            }
            catch (final Throwable e)
            {
                result.completeExceptionally(e);
            }
        });
        t.start();
        return result.get(60, TimeUnit.SECONDS);
    }

    /** A clock the test moves: each call to {@link #time()} returns the current value. */
    static final class HandClock implements EpochClock
    {
        long now = 1_000_000;

        @Override
        public long time()
        {
            return now;
        }
    }

    @Test
    void aFaultStaysWithItsPacketAndTheTickStillRuns() throws Exception
    {
        final List<String> received = inNamespace(() ->
        {
            final CounterSet counters = new CounterSet();
            final ThrowingHandler handler = new ThrowingHandler();
            final HandClock clock = new HandClock();
            try (CountersFile file = CountersFile.create(dir.resolve("counters"), 1, 0, 0);
                NfqueueChannel channel = NfqueueChannel.open(QueueConfig.defaults(QUEUE), counters);
                DatagramChannel receiver = DatagramChannel.open();
                DatagramChannel sender = DatagramChannel.open())
            {
                receiver.bind(new InetSocketAddress("127.0.0.1", 9));
                receiver.configureBlocking(false);
                sender.connect(new InetSocketAddress("127.0.0.1", 9));
                final DataplaneAgent agent = new DataplaneAgent(0, channel, handler, counters, file, clock);
                // one batch: rewritten, unchanged and faulting packets mixed, the fault in the middle
                final String[] burst = {"x-01", "a-02", "x-03", "BOOM", "x-05", "a-06", "x-07", "BOOM", "a-09", "x-10"};
                for (final String p : burst)
                {
                    sender.write(ByteBuffer.wrap(p.getBytes(StandardCharsets.US_ASCII)));
                }
                Thread.sleep(100);
                agent.doWork();
                assertEquals(burst.length, counters.get(Counter.PACKETS_RECEIVED), "the whole burst in one duty cycle");
                assertEquals(1, handler.ticks, "the tick ran in the cycle that faulted");
                assertEquals(2, counters.get(Counter.DROP_HANDLER_FAULT));
                assertNotNull(agent.lastFault());
                assertTrue(agent.lastFault().getMessage().contains("chosen packet"));

                // a steady stream of faulting packets never withholds the tick (the heartbeat's liveness)
                for (int i = 0; i < 50; i++)
                {
                    sender.write(ByteBuffer.wrap("BOOM".getBytes(StandardCharsets.US_ASCII)));
                    clock.now += 150;
                    agent.doWork();
                    assertEquals(clock.now, agent.lastDutyCycleMs(), "liveness after cycle " + i);
                }
                // and the next ordinary packets pass as before
                sender.write(ByteBuffer.wrap("x-99".getBytes(StandardCharsets.US_ASCII)));
                Thread.sleep(50);
                for (int i = 0; i < 5; i++)
                {
                    clock.now += 10;
                    agent.doWork();
                }
                final List<String> got = new ArrayList<>();
                final ByteBuffer b = ByteBuffer.allocate(64);
                Thread.sleep(50);
                while (receiver.receive(b.clear()) != null)
                {
                    got.add(new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII));
                }
                assertTrue(counters.get(Counter.DROP_HANDLER_FAULT) >= 50, "every faulting packet counted");
                return got;
            }
        });
        // rewritten packets get their own verdicts ahead of the batch accept (VerdictWriter), so compare sorted
        assertEquals(List.of("X-01", "X-03", "X-05", "X-07", "X-10", "X-99", "a-02", "a-06", "a-09"),
            received.stream().sorted().toList(), "each packet with its own bytes; no faulting packet left");
    }

    /**
     * A shard's live queue receives into its bulk queue's slots (NfqueueChannel.open with shareSlotsWith): with
     * both queues holding rewritten packets in every duty cycle, each packet leaves with its own bytes, so no
     * verdict of one queue points into slots the other has received over.
     */
    @Test
    void aLiveQueueSharingTheBulkQueuesSlotsKeepsEachPacketsBytes() throws Exception
    {
        run("ip", "netns", "exec", ns, "iptables", "-t", "mangle", "-A", "OUTPUT", "-d", "127.0.0.1", "-p", "udp",
            "--dport", "10", "-j", "NFQUEUE", "--queue-num", Integer.toString(QUEUE + 1));
        final List<String> received = inNamespace(() ->
        {
            final CounterSet counters = new CounterSet();
            final ThrowingHandler handler = new ThrowingHandler();
            final HandClock clock = new HandClock();
            final QueueConfig small = new QueueConfig(QUEUE, 4, 1024, 1 << 20, true, false);
            final QueueConfig liveSmall = new QueueConfig(QUEUE + 1, 4, 1024, 1 << 20, true, false);
            try (CountersFile file = CountersFile.create(dir.resolve("counters"), 1, 0, 0);
                NfqueueChannel bulk = NfqueueChannel.open(small, counters);
                NfqueueChannel live = NfqueueChannel.open(liveSmall, counters, bulk);
                DatagramChannel receiver = DatagramChannel.open();
                DatagramChannel liveReceiver = DatagramChannel.open();
                DatagramChannel sender = DatagramChannel.open())
            {
                receiver.bind(new InetSocketAddress("127.0.0.1", 9));
                liveReceiver.bind(new InetSocketAddress("127.0.0.1", 10));
                receiver.configureBlocking(false);
                liveReceiver.configureBlocking(false);
                final DataplaneAgent agent = new DataplaneAgent(0, bulk, live, handler, counters, file, clock);
                // 40 packets to each queue, interleaved, distinct bytes; batches of 4, so many duty cycles
                // alternate between the two queues over the same four slots
                for (int i = 0; i < 40; i++)
                {
                    sender.send(ByteBuffer.wrap(String.format("xb%02d", i).getBytes(StandardCharsets.US_ASCII)),
                        new InetSocketAddress("127.0.0.1", 9));
                    sender.send(ByteBuffer.wrap(String.format("xl%02d", i).getBytes(StandardCharsets.US_ASCII)),
                        new InetSocketAddress("127.0.0.1", 10));
                }
                Thread.sleep(100);
                for (int i = 0; i < 100 && counters.get(Counter.PACKETS_RECEIVED) < 80; i++)
                {
                    clock.now += 10;
                    agent.doWork();
                }
                assertEquals(80, counters.get(Counter.PACKETS_RECEIVED));
                assertTrue(counters.get(Counter.LIVE_PACKETS) > 0, "the live queue was served");
                Thread.sleep(50);
                final List<String> got = new ArrayList<>();
                final ByteBuffer b = ByteBuffer.allocate(64);
                for (final DatagramChannel r : List.of(receiver, liveReceiver))
                {
                    while (r.receive(b.clear()) != null)
                    {
                        got.add((r == receiver ? "9:" : "10:") + new String(b.array(), 0, b.position(),
                            StandardCharsets.US_ASCII));
                    }
                }
                return got;
            }
        });
        final List<String> expected = new ArrayList<>();
        for (int i = 0; i < 40; i++)
        {
            expected.add(String.format("9:Xb%02d", i));
            expected.add(String.format("10:Xl%02d", i));
        }
        assertEquals(expected.stream().sorted().toList(), received.stream().sorted().toList(),
            "every packet arrived once, rewritten, with its own bytes, at its own port");
    }
}

package io.passgate.nft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.Offload;
import io.passgate.nat.Protocols;
import io.passgate.sys.Linux;
import io.passgate.sys.Netns;
import io.passgate.testing.RequiresRoot;
import io.passgate.wire.Ipv4Header;
import org.junit.jupiter.api.Test;

/**
 * The offload writer against the real kernel, in a namespace this test builds with passgate's own rendered
 * table: an offer becomes a conntrack entry (passgate's mapping as its source NAT, the session's mark) and the
 * flow's two elements of set offload_ports; an entry someone else deletes ends the flow (the engine is told,
 * the elements go); a withdrawal removes both; a second offer of a tuple the kernel holds is refused.
 */
@RequiresRoot
class OffloaderKernelTest
{
    private static final int WAN = Ipv4Header.parse("203.0.113.1");
    private static final int CLIENT = Ipv4Header.parse("10.77.0.11");
    private static final int SERVER = Ipv4Header.parse("203.0.113.10");

    static String run(final String... command) throws IOException, InterruptedException
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0)
        {
            throw new IOException(String.join(" ", command) + ": " + out);
        }
        return out;
    }

    private record Row(int mark, int protocol, int src, int sport, int dst, int dport)
    {
    }

    private static List<Row> entries(final Conntrack ct)
    {
        final List<Row> rows = new ArrayList<>();
        final int n = ct.dump(Offloader.MARK_BIT, Offloader.MARK_BIT,
            (destroyed, mark, protocol, src, sport, dst, dport, tcpState, timeoutS, po, bo, pi, bi) ->
                rows.add(new Row(mark, protocol, src, sport, dst, dport)));
        assertEquals(rows.size(), n, "dump: errno " + ct.lastError());
        return rows;
    }

    private static List<String> reports(final Offload channel)
    {
        final List<String> out = new ArrayList<>();
        channel.poll((kind, flow, protocol, client, clientPort, server, serverPort, ext, tcpState, po, bo, pi, bi) ->
            out.add(kind + ":" + flow + ":" + protocol + ":" + clientPort + ":" + ext), 100);
        return out;
    }

    interface Exercise
    {
        String run(String ns) throws Exception;
    }

    @Test
    void offersBecomeEntriesWithPassgatesMappingAndTheirEndsAreHeard() throws Exception
    {
        inNamespace(OffloaderKernelTest::exercise);
    }

    /**
     * The writer thread, idle, sleeps until its next dump (one round a second, not 200): a request wakes it at
     * once through its eventfd, and the flow is carried.
     */
    @Test
    void anIdleWriterSleepsUntilARequestWakesIt() throws Exception
    {
        inNamespace(ns ->
        {
            final CounterSet counters = new CounterSet();
            try (Offloader offloader = Offloader.open(WAN, counters, 64))
            {
                final Offload channel = offloader.channel(0);
                offloader.start();
                assertTrue(waitFor(offloader::sleeping), "the writer goes to sleep with nothing requested");
                final long rounds = offloader.rounds();
                Thread.sleep(2000);
                final long idleRounds = offloader.rounds() - rounds;
                // polling every 5 ms made 400 rounds in 2 s; asleep, one a second (the dump) and the one it was in
                assertTrue(idleRounds <= 4, "rounds in 2 s idle: " + idleRounds);
                assertTrue(waitFor(offloader::sleeping), "asleep again");
                assertTrue(channel.offer(3, Protocols.UDP, CLIENT, 5000, SERVER, 1194, 40000));
                assertTrue(waitFor(() -> counters.get(Counter.OFFLOADED) == 1), "carried; errors "
                    + counters.get(Counter.OFFLOAD_ERRORS) + ", refused " + counters.get(Counter.OFFLOAD_REFUSED));
                assertTrue(offloader.wakes() >= 1, "the request woke the writer");
                return "offload writer: " + idleRounds + " rounds in 2 s idle, " + offloader.wakes() + " wake-ups by requests";
            }
        });
    }

    interface Condition
    {
        boolean holds() throws Exception;
    }

    private static boolean waitFor(final Condition c) throws Exception
    {
        final long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < end)
        {
            if (c.holds())
            {
                return true;
            }
            Thread.sleep(5);
        }
        return c.holds();
    }

    /**
     * A bound ESP SA and a PPTP call's GRE become elements of the tunnel maps (keys as on the wire, the session
     * named in each element's comment); a map flushed by hand hands the tunnel back; a withdrawal removes them; a
     * key another session holds is refused.
     */
    @Test
    void tunnelsBecomeMapElementsNamedForTheirSessions() throws Exception
    {
        inNamespace(OffloaderKernelTest::tunnels);
    }

    private static String tunnels(final String ns) throws Exception
    {
        final CounterSet counters = new CounterSet();
        try (Offloader offloader = Offloader.open(WAN, counters, 64))
        {
            final Offload channel = offloader.channel(0);
            long now = 1_000_000;
            // ESP, flow 5: client 10.77.0.11, inbound SPI 0x1234 (server -> WAN), outbound SPI 0x5678
            assertTrue(channel.offer(5, Protocols.ESP, CLIENT, 0, SERVER, 0x5678, 0x1234));
            // PPTP GRE, flow 6: the client's Call ID 7, passgate gave 0x0a01, the server's Call ID 0x4001
            assertTrue(channel.offer(6, Protocols.GRE, CLIENT, 7, SERVER, 0x4001, 0x0a01));
            offloader.doWork(now);
            assertEquals(0, counters.get(Counter.OFFLOAD_ERRORS));
            assertEquals(2, counters.get(Counter.OFFLOADED));
            assertEquals(1, counters.get(Counter.OFFLOADED_ESP));
            assertEquals(1, counters.get(Counter.OFFLOADED_GRE));
            final String espIn = list(ns, "map", "esp_in");
            assertTrue(espIn.contains("203.0.113.10 . 4660 counter packets 0 bytes 0 comment \"passgate 0/5\" : 10.77.0.11"), espIn);
            final String espOut = list(ns, "set", "esp_out");
            assertTrue(espOut.contains("10.77.0.11 . 203.0.113.10 . 22136 counter packets 0 bytes 0 comment \"passgate 0/5\""), espOut);
            final String greIn = list(ns, "map", "gre_in");
            assertTrue(greIn.contains("203.0.113.10 . 0xa01 counter packets 0 bytes 0 comment \"passgate 0/6\" : 10.77.0.11"), greIn);
            final String greCall = list(ns, "map", "gre_in_call");
            assertTrue(greCall.contains("203.0.113.10 . 0xa01 comment \"passgate 0/6\" : 0x7"), greCall);
            final String greOut = list(ns, "set", "gre_out");
            assertTrue(greOut.contains("10.77.0.11 . 203.0.113.10 . 0x4001 counter packets 0 bytes 0 comment \"passgate 0/6\""), greOut);

            // another session with the same inbound key: refused, nothing of it added
            assertTrue(channel.offer(9, Protocols.ESP, Ipv4Header.parse("10.77.0.12"), 0, SERVER, 0x9999, 0x1234));
            offloader.doWork(now);
            assertEquals(1, counters.get(Counter.OFFLOAD_REFUSED));
            assertEquals(List.of(Offload.REFUSED + ":9:50:0:4660"), reports(channel));
            assertTrue(!list(ns, "set", "esp_out").contains("39321"), "all or nothing");

            // dumps see both tunnels (no traffic yet: nothing reported)
            now += Offloader.DUMP_MS;
            offloader.doWork(now);
            now += Offloader.DUMP_MS;
            offloader.doWork(now);
            assertEquals(List.of(), reports(channel));
            assertEquals(2, counters.get(Counter.OFFLOAD_LIVE));

            // someone flushes esp_in: the SA is handed back to passgate, what is left of it goes
            run("ip", "netns", "exec", ns, "nft", "flush", "map", "inet", "passgate", "esp_in");
            now += Offloader.DUMP_MS;
            offloader.doWork(now);
            now += Offloader.DUMP_MS;
            offloader.doWork(now);
            assertEquals(List.of(Offload.ENDED + ":5:50:0:4660"), reports(channel));
            assertTrue(!list(ns, "set", "esp_out").contains("22136"), list(ns, "set", "esp_out"));
            assertEquals(1, counters.get(Counter.OFFLOAD_LIVE));

            // the call carried traffic since the last dump (its elements re-added with counters set, as the kernel
            // would count them): the withdrawal reads them once more, so none of it goes uncounted
            run("ip", "netns", "exec", ns, "nft", "delete", "element", "inet", "passgate", "gre_out",
                "{ 10.77.0.11 . 203.0.113.10 . 0x4001 }");
            run("ip", "netns", "exec", ns, "nft", "add", "element", "inet", "passgate", "gre_out",
                "{ 10.77.0.11 . 203.0.113.10 . 0x4001 counter packets 7 bytes 700 comment \"passgate 0/6\" }");
            run("ip", "netns", "exec", ns, "nft", "delete", "element", "inet", "passgate", "gre_in",
                "{ 203.0.113.10 . 0xa01 }");
            run("ip", "netns", "exec", ns, "nft", "add", "element", "inet", "passgate", "gre_in",
                "{ 203.0.113.10 . 0xa01 counter packets 3 bytes 330 comment \"passgate 0/6\" : 10.77.0.11 }");
            final long packetsBefore = counters.get(Counter.OFFLOAD_PACKETS);
            final long bytesBefore = counters.get(Counter.OFFLOAD_BYTES);

            // the engine ends the call: its three elements go, their last traffic counted
            assertTrue(channel.withdraw(6, Protocols.GRE, CLIENT, 7, SERVER, 0x4001, 0x0a01));
            offloader.doWork(now);
            assertEquals(packetsBefore + 10, counters.get(Counter.OFFLOAD_PACKETS));
            assertEquals(bytesBefore + 1030, counters.get(Counter.OFFLOAD_BYTES));
            assertEquals(List.of(), reports(channel), "the session is gone: nothing is reported to it");
            assertEquals(1, counters.get(Counter.OFFLOAD_WITHDRAWN));
            assertEquals(0, counters.get(Counter.OFFLOAD_LIVE));
            for (final String m : List.of("map gre_in", "map gre_in_call", "set gre_out"))
            {
                final String[] kind = m.split(" ");
                final String listed = list(ns, kind[0], kind[1]);
                assertTrue(!listed.contains("passgate 0/6"), listed);
            }
            assertEquals(0, counters.get(Counter.OFFLOAD_ERRORS));
            return "offload kernel test, tunnels: " + counters.get(Counter.OFFLOADED) + " offloaded";
        }
    }

    private static String list(final String ns, final String kind, final String name) throws Exception
    {
        return run("ip", "netns", "exec", ns, "nft", "list", kind, "inet", "passgate", name);
    }

    /** Runs the exercise on a thread inside a new namespace that holds passgate's rendered table (offload on). */
    static void inNamespace(final Exercise exercise) throws Exception
    {
        final String ns = "pgoffload" + ProcessHandle.current().pid();
        run("ip", "netns", "add", ns);
        try
        {
            run("ip", "-n", ns, "link", "set", "lo", "up");
            final RulesetSpec spec = new RulesetSpec("lan0", "wan0", WAN, 0, 1, false, true, QueueBackend.IPTABLES,
                0x100000, 2000, 0x200000, 0, 0, 1024, 1024);
            final Process nft = new ProcessBuilder("ip", "netns", "exec", ns, "nft", "-f", "-").redirectErrorStream(true)
                .start();
            nft.getOutputStream().write(RulesetRenderer.nftScript(spec).getBytes());
            nft.getOutputStream().close();
            final String nftOut = new String(nft.getInputStream().readAllBytes());
            assertEquals(0, nft.waitFor(), nftOut);

            final CompletableFuture<String> done = new CompletableFuture<>();
            final Thread t = new Thread(() ->
            {
                try
                {
                    Netns.enter(ns);
                    done.complete(exercise.run(ns));
                }
                catch (final Throwable e)
                {
                    done.completeExceptionally(e);
                }
            });
            t.start();
            System.out.println(done.get(60, TimeUnit.SECONDS));
        }
        finally
        {
            run("ip", "netns", "del", ns);
        }
    }

    private static String exercise(final String ns) throws Exception
    {
        final CounterSet counters = new CounterSet();
        try (Offloader offloader = Offloader.open(WAN, counters, 64); Conntrack ct = new Conntrack(false))
        {
            final Offload channel = offloader.channel(0);
            long now = 1_000_000;
            // a UDP flow, flow 3: A:5000 -> S:1194 mapped to WAN:40000
            assertTrue(channel.offer(3, Protocols.UDP, CLIENT, 5000, SERVER, 1194, 40000));
            offloader.doWork(now);
            assertEquals(1, counters.get(Counter.OFFLOADED), "errors " + counters.get(Counter.OFFLOAD_ERRORS));
            assertEquals(List.of(new Row(Offloader.mark(0, 3), Protocols.UDP, CLIENT, 5000, SERVER, 1194)), entries(ct));
            final String set = run("ip", "netns", "exec", ns, "nft", "list", "set", "inet", "passgate", "offload_ports");
            assertTrue(set.contains("10.77.0.11 . 203.0.113.10 . udp . 5000 . 1194"), set);
            assertTrue(set.contains("203.0.113.10 . 203.0.113.1 . udp . 1194 . 40000"), "the reply's way: to passgate's port\n" + set);
            // passgate's mapping is the entry's source NAT: its reply tuple is addressed to WAN:40000
            final String table = java.nio.file.Files.exists(java.nio.file.Path.of("/proc/thread-self/net/nf_conntrack"))
                ? java.nio.file.Files.readString(java.nio.file.Path.of("/proc/thread-self/net/nf_conntrack")) : null;
            if (table != null)
            {
                assertTrue(table.contains("src=203.0.113.10 dst=203.0.113.1 sport=1194 dport=40000"), table);
                assertTrue(table.contains("mark=" + Integer.toUnsignedString(Offloader.mark(0, 3))), table);
            }

            // the kernel's idle timeout must not end a flow passgate keeps: an entry with little time left gets more
            assertEquals(0, ct.refresh(Protocols.UDP, CLIENT, 5000, SERVER, 1194, 20));
            now += 1500;
            offloader.doWork(now);
            assertEquals(1, counters.get(Counter.OFFLOAD_KEPT));
            final int[] left = {-1};
            ct.dump(Offloader.MARK_BIT, Offloader.MARK_BIT, (destroyed, mark, protocol, src, sport, dst, dport, tcpState,
                timeoutS, po, bo, pi, bi) -> left[0] = timeoutS);
            assertTrue(left[0] > Offloader.REFRESH_BELOW_S, "seconds left after the refresh: " + left[0]);

            // a TCP flow, flow 4, and the same tuple again as flow 5: the kernel refuses the second
            assertTrue(channel.offer(4, Protocols.TCP, CLIENT, 33000, SERVER, 443, 33001));
            assertTrue(channel.offer(5, Protocols.TCP, CLIENT, 33000, SERVER, 443, 33002));
            offloader.doWork(now);
            assertEquals(2, counters.get(Counter.OFFLOADED));
            assertEquals(1, counters.get(Counter.OFFLOAD_REFUSED));
            assertEquals(List.of(Offload.REFUSED + ":5:6:33000:33002"), reports(channel));
            assertEquals(2, counters.get(Counter.OFFLOAD_LIVE));

            // someone deletes the UDP entry: the destroy event ends it, its elements go
            assertEquals(0, ct.delete(Protocols.UDP, CLIENT, 5000, SERVER, 1194));
            now += 10;
            offloader.doWork(now);
            assertEquals(List.of(Offload.ENDED + ":3:17:5000:40000"), reports(channel));
            final String after = run("ip", "netns", "exec", ns, "nft", "list", "set", "inet", "passgate", "offload_ports");
            assertTrue(!after.contains("udp") && after.contains("tcp . 33000 . 443"), after);

            // the engine withdraws the TCP flow: entry and elements go, nothing is reported back
            assertTrue(channel.withdraw(4, Protocols.TCP, CLIENT, 33000, SERVER, 443, 33001));
            now += 10;
            offloader.doWork(now);
            assertEquals(List.of(), entries(ct));
            assertEquals(1, counters.get(Counter.OFFLOAD_WITHDRAWN));
            assertEquals(0, counters.get(Counter.OFFLOAD_LIVE));
            assertEquals(List.of(), reports(channel));
            final String empty = run("ip", "netns", "exec", ns, "nft", "list", "set", "inet", "passgate", "offload_ports");
            assertTrue(!empty.contains("tcp") && !empty.contains("udp"), empty);

            // a session ends and a new one with the same tuple is offered at once: the old entry's destroy event is
            // not taken for the new entry's end
            assertTrue(channel.offer(8, Protocols.UDP, CLIENT, 7000, SERVER, 53, 7000));
            offloader.doWork(now);
            assertTrue(channel.withdraw(8, Protocols.UDP, CLIENT, 7000, SERVER, 53, 7000));
            assertTrue(channel.offer(8, Protocols.UDP, CLIENT, 7000, SERVER, 53, 7000));
            now += 10;
            offloader.doWork(now);
            now += 10;
            offloader.doWork(now);
            assertEquals(List.of(), reports(channel), "no end reported for the new entry");
            assertEquals(List.of(new Row(Offloader.mark(0, 8), Protocols.UDP, CLIENT, 7000, SERVER, 53)), entries(ct));
            assertEquals(1, counters.get(Counter.OFFLOAD_LIVE));
            assertTrue(channel.withdraw(8, Protocols.UDP, CLIENT, 7000, SERVER, 53, 7000));
            now += 10;
            offloader.doWork(now);
            assertEquals(List.of(), entries(ct));

            // an entry of the flow's own tuple that passgate did not make (the fail-open fallback's masquerade, while
            // passgate was down): replaced by passgate's; passgate's own entry of a tuple is never replaced (flow 5)
            assertEquals(0, ct.create(Protocols.UDP, CLIENT, 5100, SERVER, 1194, WAN, 5100, 0, 60));
            assertEquals(0L, ct.markOf(Protocols.UDP, CLIENT, 5100, SERVER, 1194));
            assertEquals(-Linux.ENOENT, ct.markOf(Protocols.UDP, CLIENT, 5199, SERVER, 1194));
            final long offloaded = counters.get(Counter.OFFLOADED);
            assertTrue(channel.offer(6, Protocols.UDP, CLIENT, 5100, SERVER, 1194, 5100));
            offloader.doWork(now);
            assertEquals(offloaded + 1, counters.get(Counter.OFFLOADED));
            assertEquals(1, counters.get(Counter.OFFLOAD_REPLACED));
            assertEquals(1, counters.get(Counter.OFFLOAD_REFUSED), "no refusal more");
            assertEquals(List.of(new Row(Offloader.mark(0, 6), Protocols.UDP, CLIENT, 5100, SERVER, 1194)), entries(ct));
            assertEquals(Offloader.mark(0, 6) & 0xFFFFFFFFL, ct.markOf(Protocols.UDP, CLIENT, 5100, SERVER, 1194));
            assertTrue(channel.withdraw(6, Protocols.UDP, CLIENT, 5100, SERVER, 1194, 5100));
            now += 10;
            offloader.doWork(now);
            now += 10;
            offloader.doWork(now);
            assertEquals(List.of(), entries(ct));
            reports(channel);

            // flushAll (what a fail-closed stop does) removes every offloaded entry: the flow is told it ended
            assertTrue(channel.offer(7, Protocols.UDP, CLIENT, 6000, SERVER, 53, 6000));
            offloader.doWork(now);
            assertEquals(0, Offloader.flushAll());
            now += 10;
            offloader.doWork(now);
            final List<String> r = reports(channel);
            assertEquals(List.of(Offload.ENDED + ":7:17:6000:6000"), r);
            assertEquals(0, counters.get(Counter.OFFLOAD_ERRORS));
            return "offload kernel test: " + counters.get(Counter.OFFLOADED) + " offloaded, "
                + counters.get(Counter.OFFLOAD_REFUSED) + " refused, " + counters.get(Counter.OFFLOAD_WITHDRAWN)
                + " withdrawn";
        }
    }
}

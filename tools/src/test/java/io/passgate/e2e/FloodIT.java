package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.passgate.counters.Counter;
import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.PptpClient;
import io.passgate.tools.peers.PptpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Floods (issue 12): while an OpenVPN tunnel (real openvpn, static key, UDP) and a PPTP call (passgate's own
 * peers, enhanced GRE) carry traffic, a LAN client sends new flows (UDP, a random source and destination port per
 * packet) and a WAN host sends unsolicited UDP to random ports of the WAN address, each at up to 100 000 packets
 * per second for 30 s (tools/src/test/c/flood.c, compiled here; it stops by itself). The offered load is more
 * than passgate translates on this machine. What must hold: the tunnels lose nothing (counted at both ends), the
 * flow table stays within nat.max-flows, the refusals are counted by name, the live queue drops nothing, heap
 * and RSS stay flat, and no LAN address reaches the WAN. The figures are printed (see the README's "Floods").
 */
@RequiresRoot
class FloodIT
{
    private static final int MAX_FLOWS = 16384;
    private static final int RATE = 100_000;
    private static final int SECONDS = 30;
    /** Heap used after a full GC may grow by this much (the tables are preallocated; see the README). */
    private static final long HEAP_GROWTH_BOUND_KB = 8 * 1024;
    /** RSS may grow by this much: the JIT's code and the heap regions the flood's first GCs touch. */
    private static final long RSS_GROWTH_BOUND_KB = 40 * 1024;
    private static final Pattern SENT = Pattern.compile("sent (\\d+) packets in ([0-9.]+) s \\((\\d+)/s\\), failed (\\d+)");
    private static final Pattern PING = Pattern.compile("(\\d+) packets transmitted, (\\d+) received");
    /** jcmd GC.heap_info: each generation's (Serial: DefNew, Tenured) or the whole heap's (G1) "total ..., used NK". */
    private static final Pattern USED = Pattern.compile("total[^\n]*?used (\\d+)K");

    private Lab lab;
    private PptpServer pptpServer;

    @AfterEach
    void down()
    {
        if (pptpServer != null)
        {
            pptpServer.close();
        }
        if (lab != null)
        {
            lab.close();
        }
    }

    /** The defaults: the kernel limits each flooding source, passgate translates the rest, the tunnels go first. */
    @Test
    void liveTunnelsLoseNothingWhileNewFlowsAndUnsolicitedPacketsFlood() throws Exception
    {
        flood("defaults (per-source kernel limits and the live queue)", true);
    }

    /**
     * Without the kernel's per-source limits the whole flood reaches passgate's bulk queue, more than it
     * translates: the live queue alone keeps the tunnels whole.
     */
    @Test
    void theLiveQueueAloneKeepsTunnelsWholeWhenTheFloodOverloadsPassgate() throws Exception
    {
        flood("no kernel limits (the live queue alone)", false, "--set", "nat.new-rate-per-client=0", "--set",
            "nat.wan-rate-per-source=0");
    }

    private void flood(final String scenario, final boolean limits, final String... settings) throws Exception
    {
        lab = Lab.create(3);
        final Path flood = lab.workDir().resolve("flood");
        final Path source = Lab.home().getParent().resolve("tools/src/test/c/flood.c");
        lab.must(null, "gcc", "-O2", "-Wall", "-o", flood.toString(), source.toString());
        final String[] args = new String[settings.length + 2];
        args[0] = "--set";
        args[1] = "nat.max-flows=" + MAX_FLOWS;
        System.arraycopy(settings, 0, args, 2, settings.length);
        final PassgateProcess passgate = lab.startPassgate(args);
        final long pid = passgate.pid();

        // the tunnels: OpenVPN client 1 -> server 1, PPTP client 2 -> server 1
        final Path key = lab.workDir().resolve("ovpn.key");
        final Path serverLog = lab.workDir().resolve("ovpn-server.log");
        final Path clientLog = lab.workDir().resolve("ovpn-client.log");
        lab.must(null, "openvpn", "--genkey", "secret", key.toString());
        final Process ovpnServer = lab.spawn(lab.server(1), serverLog, "openvpn", "--dev", "tun0", "--ifconfig",
            "10.99.0.1", "10.99.0.2", "--secret", key.toString(), "--proto", "udp", "--port", "1194", "--cipher",
            "AES-256-CBC", "--ping", "1", "--verb", "3");
        final Process ovpnClient = lab.spawn(lab.client(1), clientLog, "openvpn", "--dev", "tun0", "--ifconfig",
            "10.99.0.2", "10.99.0.1", "--secret", key.toString(), "--proto", "udp", "--remote", Lab.serverAddress(1),
            "--port", "1194", "--cipher", "AES-256-CBC", "--ping", "1", "--verb", "3");
        pptpServer = Lab.inNamespace(lab.server(1), 10_000, PptpServer::new);
        try (LeakSniffer leaks = new LeakSniffer(lab.server(1)))
        {
            assertTrue(E2e.eventually(20_000, () -> read(clientLog).contains("Initialization Sequence Completed")),
                "the OpenVPN tunnel comes up through passgate");
            assertEquals(5, E2e.ping(lab, lab.client(1), "10.99.0.1", 5), "traffic through the OpenVPN tunnel");

            // the PPTP call: one GRE payload every 20 ms, each echoed by the server, until told to stop
            final AtomicBoolean pptpRun = new AtomicBoolean(true);
            final AtomicLong greSent = new AtomicLong();
            final AtomicLong greBack = new AtomicLong();
            final AtomicBoolean callUp = new AtomicBoolean();
            final CompletableFuture<Void> pptp = Lab.inNamespaceAsync(lab.client(2), () ->
            {
                try (PptpClient c = new PptpClient(Lab.serverAddress(1)))
                {
                    c.start();
                    final int pac = c.call(1);
                    callUp.set(true);
                    for (long i = 0; pptpRun.get(); i++)
                    {
                        final String payload = "call 1 packet " + i;
                        c.sendGre(pac, payload.getBytes());
                        greSent.incrementAndGet();
                        final byte[] back = c.receiveGre(1, 3000);
                        if (back != null && payload.equals(new String(back)))
                        {
                            greBack.incrementAndGet();
                        }
                        Thread.sleep(20);
                    }
                    c.clear(1);
                    c.stop();
                }
                return null;
            });
            assertTrue(E2e.eventually(10_000, callUp::get), "the PPTP call is up");
            // both tunnels carry traffic both ways: live (in the kernel's set) once passgate posted them
            assertTrue(E2e.eventually(5000, () -> liveElements() >= 4), "the tunnels' flows are in the live sets:\n"
                + listLive());
            Thread.sleep(2000);
            final long echoedBefore = pptpServer.echoed();
            final long greSentBefore = greSent.get();
            final long greBackBefore = greBack.get();

            final Memory before = memory(pid);
            final long[] tunBefore = {tunPackets(lab.client(1), "tx"), tunPackets(lab.server(1), "rx"),
                tunPackets(lab.server(1), "tx"), tunPackets(lab.client(1), "rx")};
            final String queuesBefore = lab.must(lab.router(), "cat", "/proc/net/netfilter/nfnetlink_queue");
            final long receivedBefore = E2e.counter(passgate, Counter.PACKETS_RECEIVED);
            final long liveBefore = E2e.counter(passgate, Counter.LIVE_PACKETS);

            // OpenVPN traffic through the flood: 20 pings a second, from 2 s before it until 3 s after
            final int pings = (SECONDS + 5) * 20;
            final CompletableFuture<Lab.Result> ping = CompletableFuture.supplyAsync(() ->
            {
                try
                {
                    return Lab.exec(lab.client(1), (SECONDS + 30) * 1000L, "ping", "-n", "-q", "-c",
                        Integer.toString(pings), "-i", "0.05", "-W", "3", "10.99.0.1");
                }
                catch (final IOException e)
                {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(2000);

            final long floodStart = System.currentTimeMillis();
            final Process lanFlood = lab.spawn(lab.client(3), lab.workDir().resolve("flood-lan.log"), flood.toString(),
                Lab.clientAddress(3), Lab.serverAddress(1), Integer.toString(RATE), Integer.toString(SECONDS));
            final Process wanFlood = lab.spawn(lab.server(2), lab.workDir().resolve("flood-wan.log"), flood.toString(),
                Lab.serverAddress(2), Lab.ROUTER_WAN, Integer.toString(RATE), Integer.toString(SECONDS));
            long maxFlows = 0;
            long samples = 0;
            while (lanFlood.isAlive() || wanFlood.isAlive())
            {
                maxFlows = Math.max(maxFlows, E2e.counter(passgate, Counter.NAT_FLOWS_LIVE));
                samples++;
                Thread.sleep(200);
                assertTrue(System.currentTimeMillis() - floodStart < (SECONDS + 30) * 1000L, "the generators stop by themselves");
            }
            final long floodMs = System.currentTimeMillis() - floodStart;
            final long receivedDuring = E2e.counter(passgate, Counter.PACKETS_RECEIVED) - receivedBefore;
            final Lab.Result pingResult = ping.get(SECONDS + 40, TimeUnit.SECONDS);
            Thread.sleep(1000);
            pptpRun.set(false);
            pptp.get(20, TimeUnit.SECONDS);
            final long[] tunAfter = {tunPackets(lab.client(1), "tx"), tunPackets(lab.server(1), "rx"),
                tunPackets(lab.server(1), "tx"), tunPackets(lab.client(1), "rx")};
            final Memory after = memory(pid);
            final String queuesAfter = lab.must(lab.router(), "cat", "/proc/net/netfilter/nfnetlink_queue");
            final String rules = lab.must(lab.router(), "nft", "list", "chain", "inet", "passgate", "raw_prerouting");
            final String counters = Ctl.run(passgate, "counters").output();

            // the figures
            final Matcher lanSent = SENT.matcher(Files.readString(lab.workDir().resolve("flood-lan.log")));
            final Matcher wanSent = SENT.matcher(Files.readString(lab.workDir().resolve("flood-wan.log")));
            assertTrue(lanSent.find() && wanSent.find(), "the generators report what they sent");
            final Matcher pingCounts = PING.matcher(pingResult.output());
            assertTrue(pingCounts.find(), pingResult.output());
            final long lanDropped = limits ? ruleCounter(rules, "flood: a LAN client") : 0;
            final long wanDropped = limits ? ruleCounter(rules, "flood: a WAN source") : 0;
            final long[] bulk = queueDrops(queuesAfter, 0);
            final long[] bulk0 = queueDrops(queuesBefore, 0);
            final long[] live = queueDrops(queuesAfter, 1);
            final long[] live0 = queueDrops(queuesBefore, 1);
            final long tableFull = E2e.settled(passgate, Counter.DROP_TABLE_FULL);
            final long noMapping = E2e.counter(passgate, Counter.DROP_NO_MAPPING) + E2e.counter(passgate, Counter.DROP_FILTERED);
            final long livePackets = E2e.counter(passgate, Counter.LIVE_PACKETS) - liveBefore;
            final String report = String.join("\n",
                "FLOOD FIGURES, " + scenario + " (" + SECONDS + " s asked, " + floodMs + " ms measured)",
                "  offered, LAN new flows:     " + lanSent.group(1) + " packets in " + lanSent.group(2) + " s = "
                    + lanSent.group(3) + "/s (send failures " + lanSent.group(4) + ")",
                "  offered, WAN unsolicited:   " + wanSent.group(1) + " packets in " + wanSent.group(2) + " s = "
                    + wanSent.group(3) + "/s (send failures " + wanSent.group(4) + ")",
                "  kernel limit drops:         " + (limits ? "LAN client " + lanDropped + ", WAN source " + wanDropped
                    + " (nft counters of the flood rules)" : "none (limits off)"),
                "  passgate handled:           " + receivedDuring + " packets = " + receivedDuring * 1000 / floodMs
                    + "/s (" + livePackets + " of them from the live queue)",
                "  refusals:                   drop-table-full " + tableFull + ", drop-no-mapping+filtered " + noMapping,
                "  flow table:                 max " + maxFlows + " of nat.max-flows " + MAX_FLOWS + " (" + samples + " samples)",
                "  queue drops (kernel):       bulk queue 0 queue_dropped " + (bulk[0] - bulk0[0]) + " user_dropped "
                    + (bulk[1] - bulk0[1]) + "; live queue 1 queue_dropped " + (live[0] - live0[0]) + " user_dropped "
                    + (live[1] - live0[1]),
                "  OpenVPN pings:              " + pingCounts.group(1) + " sent, " + pingCounts.group(2) + " received",
                "  OpenVPN tun packets:        client tx " + (tunAfter[0] - tunBefore[0]) + " -> server rx "
                    + (tunAfter[1] - tunBefore[1]) + "; server tx " + (tunAfter[2] - tunBefore[2]) + " -> client rx "
                    + (tunAfter[3] - tunBefore[3]),
                "  PPTP GRE:                   client sent " + (greSent.get() - greSentBefore) + ", server echoed "
                    + (pptpServer.echoed() - echoedBefore) + ", client got back " + (greBack.get() - greBackBefore),
                "  heap used after full GC:    " + before.heapKb() + " KB -> " + after.heapKb() + " KB",
                "  RSS:                        " + before.rssKb() + " KB -> " + after.rssKb() + " KB",
                "  LAN addresses at the WAN:   " + leaks.leaks() + " of " + leaks.seen() + " packets seen at server 1");
            System.out.println(report);
            Files.writeString(lab.workDir().resolve("flood-figures.txt"), report + "\n\n" + counters + "\n");

            // the tunnels lost nothing, counted at both ends
            assertEquals(pingCounts.group(1), pingCounts.group(2), "every OpenVPN ping answered:\n" + report);
            assertEquals(Integer.toString(pings), pingCounts.group(1));
            assertEquals(tunAfter[0] - tunBefore[0], tunAfter[1] - tunBefore[1], "client tun tx = server tun rx\n" + report);
            assertEquals(tunAfter[2] - tunBefore[2], tunAfter[3] - tunBefore[3], "server tun tx = client tun rx\n" + report);
            assertTrue(tunAfter[0] - tunBefore[0] >= pings, report);
            // over the whole call (quiet at both ends: the loop has stopped), not the flood's window, whose start
            // may fall between a payload's send and its echo (one run counted 1 917 sent, 1 918 back)
            assertEquals(greSent.get(), pptpServer.echoed(), "GRE sent = echoed, the whole call\n" + report);
            assertEquals(greSent.get(), greBack.get(), "GRE sent = back, the whole call\n" + report);
            assertTrue(greSent.get() - greSentBefore > SECONDS * 10L, "the call carried traffic throughout: " + report);
            // the live queue carried them and dropped nothing; the flood was refused and counted by name
            assertEquals(0, live[0] - live0[0], "live queue drops\n" + report);
            assertEquals(0, live[1] - live0[1], "live queue user drops\n" + report);
            assertEquals(0, E2e.counter(passgate, Counter.LIVE_QUEUE_DROPPED));
            assertTrue(livePackets >= 2L * pings, "the tunnels' packets took the live queue: " + livePackets);
            assertTrue(maxFlows <= MAX_FLOWS, "flow table within nat.max-flows: " + maxFlows);
            assertTrue(maxFlows > MAX_FLOWS / 2, "the flood filled the table: " + maxFlows);
            assertTrue(tableFull > 0, "refusals counted as drop-table-full");
            assertTrue(noMapping > 0, "unsolicited WAN packets counted as drop-no-mapping or drop-filtered");
            if (limits)
            {
                assertTrue(lanDropped > 0 && wanDropped > 0, "the kernel's per-source limits dropped and counted:\n" + rules);
            }
            else
            {
                assertTrue(!rules.contains("flood:"), "no limit rules when they are off:\n" + rules);
            }
            assertTrue(counters.contains("drop-table-full"), counters);
            // flat memory, no leak
            assertTrue(after.heapKb() - before.heapKb() <= HEAP_GROWTH_BOUND_KB, "heap after GC: " + report);
            assertTrue(after.rssKb() - before.rssKb() <= RSS_GROWTH_BOUND_KB, "RSS: " + report);
            assertEquals(0, leaks.leaks(), "no LAN address at the WAN");
            assertTrue(leaks.seen() > 0);
            assertTrue(passgate.isAlive());
        }
        finally
        {
            Lab.stop(ovpnClient);
            Lab.stop(ovpnServer);
        }
    }

    /** Elements in the live sets (both directions of each flow). */
    private long liveElements()
    {
        final String text = listLive();
        long n = 0;
        for (final String line : text.split("[{,}]"))
        {
            if (line.contains(" . ") && line.contains("expires"))
            {
                n++;
            }
        }
        return n;
    }

    private String listLive()
    {
        try
        {
            return lab.must(lab.router(), "nft", "list", "set", "inet", "passgate", "live_ports")
                + lab.must(lab.router(), "nft", "list", "set", "inet", "passgate", "live_protos");
        }
        catch (final IOException e)
        {
            return e.toString();
        }
    }

    private static long ruleCounter(final String rules, final String comment)
    {
        for (final String line : rules.split("\n"))
        {
            if (line.contains(comment))
            {
                final Matcher m = Pattern.compile("counter packets (\\d+)").matcher(line);
                if (m.find())
                {
                    return Long.parseLong(m.group(1));
                }
            }
        }
        throw new AssertionError("no counter for '" + comment + "' in\n" + rules);
    }

    /** queue_dropped and user_dropped of {@code queue} (/proc/net/netfilter/nfnetlink_queue). */
    private static long[] queueDrops(final String proc, final int queue)
    {
        for (final String line : proc.split("\n"))
        {
            final String[] f = line.trim().split("\\s+");
            if (f.length >= 7 && f[0].equals(Integer.toString(queue)))
            {
                return new long[] {Long.parseLong(f[5]), Long.parseLong(f[6])};
            }
        }
        throw new AssertionError("queue " + queue + " not bound:\n" + proc);
    }

    private long tunPackets(final String ns, final String direction) throws IOException
    {
        return Long.parseLong(lab.must(ns, "cat", "/sys/class/net/tun0/statistics/" + direction + "_packets").strip());
    }

    private record Memory(long heapKb, long rssKb)
    {
    }

    /** Heap used after a full GC (jcmd) and the resident set (/proc). */
    private Memory memory(final long pid) throws IOException
    {
        final String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        lab.must(null, jcmd, Long.toString(pid), "GC.run");
        final String heap = lab.must(null, jcmd, Long.toString(pid), "GC.heap_info");
        final Matcher m = USED.matcher(heap);
        long used = 0;
        int found = 0;
        while (m.find())
        {
            used += Long.parseLong(m.group(1));
            found++;
        }
        assertTrue(found > 0, heap);
        long rss = -1;
        for (final String line : Files.readAllLines(Path.of("/proc/" + pid + "/status")))
        {
            if (line.startsWith("VmRSS:"))
            {
                rss = Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return new Memory(used, rss);
    }

    private static String read(final Path p)
    {
        try
        {
            return Files.exists(p) ? Files.readString(p) : "";
        }
        catch (final IOException e)
        {
            return "";
        }
    }
}

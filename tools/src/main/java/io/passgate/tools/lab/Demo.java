package io.passgate.tools.lab;

import java.util.Locale;
import java.util.concurrent.CompletableFuture;

import io.passgate.counters.Counter;
import io.passgate.counters.CountersFile;
import io.passgate.tools.peers.Traffic;

/**
 * The main job on a development machine: builds the lab topology, runs passgate in the router namespace
 * exactly as on a Pi ({@code passgate --lan-if lan0 --wan-if wan0 --wan-address auto}), sends traffic
 * from the LAN clients to the WAN servers, and prints what passes, then removes everything.
 */
public final class Demo
{
    private Demo()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        int seconds = 20;
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--seconds" -> seconds = Integer.parseInt(args[++i]);
                case "-h", "--help" ->
                {
                    System.out.println("""
                        Usage: demo [--seconds N]
                        Builds the lab (2 LAN clients, a router running passgate, 2 WAN servers in network
                        namespaces), sends ping, TCP and UDP from the clients to the servers through passgate's
                        NAT for N seconds (default 20), printing counters each second, then cleans up. Root.""");
                    return;
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (see --help)");
            }
        }
        try (Lab lab = Lab.create(2))
        {
            System.out.println("lab " + lab.id() + ": clients " + Lab.clientAddress(1) + ", " + Lab.clientAddress(2)
                + " | router LAN " + Lab.ROUTER_LAN + ", WAN " + Lab.ROUTER_WAN + " | servers " + Lab.serverAddress(1)
                + ", " + Lab.serverAddress(2));
            final PassgateProcess pg = lab.startPassgate();
            System.out.println("passgate running in " + lab.router() + " (pid " + pg.pid() + "), log " + lab.workDir());
            final long end = System.currentTimeMillis() + seconds * 1000L;
            final CompletableFuture<Void> traffic = CompletableFuture.runAsync(() -> drive(lab, end));
            System.out.printf(Locale.ROOT, "%6s %10s %10s %12s %10s %10s %8s %8s %8s%n", "t(s)", "out pkts", "in pkts",
                "out MB", "tcp pkts", "udp pkts", "icmp", "sessions", "drops");
            final long start = System.currentTimeMillis();
            while (System.currentTimeMillis() < end)
            {
                Thread.sleep(1000);
                try (CountersFile f = pg.counters())
                {
                    System.out.printf(Locale.ROOT, "%6d %10d %10d %12.1f %10d %10d %8d %8d %8d%n",
                        (System.currentTimeMillis() - start) / 1000, f.total(Counter.OUT_PACKETS), f.total(Counter.IN_PACKETS),
                        f.total(Counter.OUT_BYTES) / 1e6,
                        f.total(Counter.OUT_TCP_PACKETS) + f.total(Counter.IN_TCP_PACKETS),
                        f.total(Counter.OUT_UDP_PACKETS) + f.total(Counter.IN_UDP_PACKETS),
                        f.total(Counter.OUT_ICMP_PACKETS) + f.total(Counter.IN_ICMP_PACKETS),
                        f.total(Counter.NAT_FLOWS_LIVE), f.total(Counter.DROPPED));
                }
            }
            traffic.join();
            pg.stop();
            System.out.println("passgate stopped; removing the lab");
        }
    }

    private static void drive(final Lab lab, final long end)
    {
        int round = 0;
        while (System.currentTimeMillis() < end - 1500)
        {
            round++;
            try
            {
                final Traffic.TcpResult tcp = Traffic.tcpTransfer(lab.client(1), lab.server(1), Lab.serverAddress(1),
                    6000 + (round % 100), 20L * 1024 * 1024, 20_000);
                final Traffic.UdpResult udp = Traffic.udpEcho(lab.client(2), 40000, lab.server(2), Lab.serverAddress(2),
                    7000, 50, 512);
                final int pings = io.passgate.tools.lab.Demo.ping(lab, 2);
                System.out.printf(Locale.ROOT, "   round %d: TCP %d MB %s, server saw %s:%d | UDP %d/%d echoed, server "
                        + "saw %s:%d | ping %d/2%n", round, tcp.bytes() >> 20, tcp.intact() ? "intact (SHA-256 equal)" : "CORRUPT",
                    tcp.serverSawAddress(), tcp.serverSawPort(), udp.echoed(), udp.sent(), udp.serverSawAddress(),
                    udp.serverSawPort(), pings);
            }
            catch (final Exception e)
            {
                System.out.println("   round " + round + " failed: " + e);
            }
        }
    }

    static int ping(final Lab lab, final int count) throws java.io.IOException
    {
        final Lab.Result r = lab.exec(lab.client(2), "ping", "-n", "-c", Integer.toString(count), "-i", "0.2", "-W", "1",
            Lab.serverAddress(1));
        final java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+) received").matcher(r.output());
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }
}

package io.passgate.tools.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.passgate.counters.Counter;
import io.passgate.counters.CountersFile;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.IpsecPeers;

/**
 * End-to-end throughput LAN to WAN through the lab topology, one router configuration after another in the
 * same run: plain forwarding, kernel masquerade, the C reference NFQUEUE accept-all loop (when its source
 * is found), passgate forwarding (accept-all) and passgate's NAT. TCP with several iperf3 streams, and 64-byte
 * UDP counted at the receiver; the median of several short runs, each printed as a ratio to plain
 * forwarding (and to masquerade). Run as root: {@code tools/bin/bench [--runs N] [--seconds S]}.
 */
public final class Bench
{
    private static final Pattern RECEIVED_BPS = Pattern.compile(
        "\"sum_received\"\\s*:\\s*\\{[^}]*?\"bits_per_second\"\\s*:\\s*([0-9.eE+]+)");
    private static final Pattern UDP_SUM = Pattern.compile(
        "\"sum\"\\s*:\\s*\\{[^}]*?\"seconds\"\\s*:\\s*([0-9.eE+]+)[^}]*?\"lost_packets\"\\s*:\\s*(\\d+)[^}]*?\"packets\"\\s*:\\s*(\\d+)");

    private int runs = 5;
    private int seconds = 3;
    private int tcpStreams = 4;
    private int udpStreams = 2;
    private int threads = 1;
    private String only;
    private Path reference;
    private boolean interleave;

    /** A router configuration under test. */
    private interface Setup
    {
        AutoCloseable apply(Lab lab) throws Exception;
    }

    public static void main(final String[] args) throws Exception
    {
        final Bench bench = new Bench();
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--runs" -> bench.runs = Integer.parseInt(args[++i]);
                case "--seconds" -> bench.seconds = Integer.parseInt(args[++i]);
                case "--tcp-streams" -> bench.tcpStreams = Integer.parseInt(args[++i]);
                case "--udp-streams" -> bench.udpStreams = Integer.parseInt(args[++i]);
                case "--threads" -> bench.threads = Integer.parseInt(args[++i]);
                case "--only" -> bench.only = args[++i];
                case "--reference" -> bench.reference = Path.of(args[++i]);
                case "--interleave" -> bench.interleave = true;
                case "-h", "--help" ->
                {
                    System.out.println("""
                        Usage: bench [--runs N] [--seconds S] [--tcp-streams N] [--udp-streams N]
                                     [--threads 1|2|4] [--only tcp|udp|esp] [--reference nfq-accept.c]
                                     [--interleave]
                        Measures LAN-to-WAN throughput through the lab topology for: plain forwarding,
                        kernel masquerade, the C NFQUEUE accept-all reference (batch + GSO), passgate
                        forward (accept-all), passgate NAT without and with offload (settled flows
                        carried by the kernel's conntrack, through its flowtable where the kernel has
                        one, and then also with offload.flowtable = off; --threads data-plane threads,
                        one queue each; default 1), TCP with 1 and --tcp-streams streams (default 4),
                        64-byte UDP, and two LAN clients' plain ESP to one server (passgate's ESP peers;
                        per client); prints medians, ratios and passgate's memory (RSS, heap).
                        --interleave: --runs rounds of every setup, one run of each case per round (drift
                        hits all setups alike), instead of each setup's runs in a row. Needs root, iperf3, nft,
                        iptables (and gcc + libnetfilter-queue-dev for the reference).""");
                    return;
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        bench.run();
    }

    private void run() throws Exception
    {
        final Path refBinary = buildReference();
        final Map<String, Setup> setups = new LinkedHashMap<>();
        setups.put("plain forwarding", lab -> routeBack(lab));
        setups.put("kernel masquerade", lab ->
        {
            lab.must(lab.router(), "nft", "add table ip benchnat");
            lab.must(lab.router(), "nft", "add chain ip benchnat post { type nat hook postrouting priority srcnat; }");
            lab.must(lab.router(), "nft", "add rule ip benchnat post oifname " + Lab.WAN_IF + " masquerade");
            return () -> lab.exec(lab.router(), "nft", "delete table ip benchnat");
        });
        if (refBinary != null)
        {
            setups.put("C nfq-accept (batch+GSO)", lab ->
            {
                final AutoCloseable routes = routeBack(lab);
                final Process p = lab.spawn(lab.router(), lab.workDir().resolve("nfq-accept.log"),
                    refBinary.toString(), "-q", "9", "-b", "64", "-g");
                Thread.sleep(500);
                lab.must(lab.router(), "iptables", "-t", "mangle", "-A", "POSTROUTING", "-o", Lab.WAN_IF,
                    "-j", "NFQUEUE", "--queue-num", "9");
                lab.must(lab.router(), "iptables", "-t", "mangle", "-A", "PREROUTING", "-i", Lab.WAN_IF,
                    "-m", "addrtype", "!", "--dst-type", "LOCAL", "-j", "NFQUEUE", "--queue-num", "9");
                return () ->
                {
                    lab.exec(lab.router(), "iptables", "-t", "mangle", "-F");
                    p.destroy();
                    p.waitFor();
                    routes.close();
                };
            });
        }
        setups.put("passgate forward (accept-all)", lab ->
        {
            final AutoCloseable routes = routeBack(lab);
            final PassgateProcess pg = lab.startPassgate("--set", "mode=forward", "--set", "threads=" + threads);
            return () ->
            {
                report(pg);
                pg.stop();
                routes.close();
            };
        });
        setups.put("passgate NAT", passgateNat("offload=false"));
        setups.put("passgate NAT + offload", passgateNat("offload=true"));

        final Map<String, double[]> results = new LinkedHashMap<>();
        final Map<String, double[]> esp = new LinkedHashMap<>();
        try (Lab lab = Lab.create(2))
        {
            // a kernel with a flowtable (offload.flowtable = auto takes it): offload to conntrack alone as well
            final String flowtableProblem = Lab.inNamespace(lab.router(), 120_000,
                () -> new io.passgate.nft.Firewall().flowtableProblem(Lab.LAN_IF, Lab.WAN_IF));
            System.out.println("kernel flowtable: " + (flowtableProblem == null ? "yes (passgate NAT + offload uses it)"
                : "no (" + flowtableProblem + ")"));
            if (flowtableProblem == null)
            {
                setups.put("passgate NAT + offload, no flowtable", passgateNat("offload=true", "offload.flowtable=off"));
            }
            final IpsecPeers.Server espServer = esp() ? Lab.inNamespace(lab.server(1), 120_000,
                () -> new IpsecPeers.Server(false)) : null;
            if (espServer != null)
            {
                for (int c = 1; c <= 2; c++)
                {
                    espServer.manual(0x5000 + c, 0x6000 + c, Lab.ROUTER_WAN);
                }
            }
            final Process tcpServer = lab.spawn(lab.server(1), null, "iperf3", "-s", "-p", "5201");
            final List<Process> udpServers = new ArrayList<>();
            for (int i = 0; i < udpStreams; i++)
            {
                udpServers.add(lab.spawn(lab.server(1), null, "iperf3", "-s", "-p", Integer.toString(5301 + i)));
            }
            Thread.sleep(500);
            // sequential: each setup once, all its runs in a row; interleaved: --runs rounds of every setup, one run
            // of each case per round, so that drift over the bench (heat, the host's other load) hits every setup alike
            final int rounds = interleave ? runs : 1;
            final int perRound = interleave ? 1 : runs;
            final boolean tcpToo = only == null || "tcp".equals(only);
            final boolean udpToo = only == null || "udp".equals(only);
            final Map<String, List<double[]>> samples = new LinkedHashMap<>();
            final Map<String, List<double[]>> espSamples = new LinkedHashMap<>();
            for (int round = 0; round < rounds; round++)
            {
                for (final Map.Entry<String, Setup> e : setups.entrySet())
                {
                    System.out.printf(Locale.ROOT, "%n== %s%s%n", e.getKey(),
                        interleave ? String.format(Locale.ROOT, " (round %d of %d)", round + 1, rounds) : "");
                    try (AutoCloseable applied = e.getValue().apply(lab))
                    {
                        final List<double[]> mine = samples.computeIfAbsent(e.getKey(), k -> new ArrayList<>());
                        for (int i = 0; i < perRound; i++)
                        {
                            final int run = round * perRound + i + 1;
                            final double tcp1 = !tcpToo || tcpStreams == 1 ? Double.NaN : once(lab, true, 1, run);
                            final double tcp = !tcpToo ? Double.NaN : once(lab, true, tcpStreams, run);
                            final double udp = !udpToo ? Double.NaN : once(lab, false, 0, run);
                            mine.add(new double[] {tcp, udp, tcp1});
                        }
                        if (espServer != null && !e.getKey().startsWith("C ") && !e.getKey().contains("accept-all"))
                        {
                            espSamples.computeIfAbsent(e.getKey(), k -> new ArrayList<>())
                                .addAll(espRuns(lab, espServer, perRound, round * perRound));
                        }
                    }
                }
            }
            for (final Map.Entry<String, List<double[]>> e : samples.entrySet())
            {
                results.put(e.getKey(), new double[] {median(e.getValue(), 0), median(e.getValue(), 1),
                    median(e.getValue(), 2)});
            }
            for (final Map.Entry<String, List<double[]>> e : espSamples.entrySet())
            {
                final List<double[]> rows = new ArrayList<>(e.getValue());
                rows.sort(java.util.Comparator.comparingDouble(v -> v[2]));
                esp.put(e.getKey(), rows.get(rows.size() / 2));
            }
            tcpServer.destroy();
            udpServers.forEach(Process::destroy);
            if (espServer != null)
            {
                espServer.close();
            }
        }
        print(results);
        printEsp(esp);
    }

    /** passgate's NAT with these settings (KEY=VALUE) beside on-stop = remove and --threads. */
    private Setup passgateNat(final String... settings)
    {
        return lab ->
        {
            final List<String> args = new ArrayList<>(List.of("--set", "on-stop=remove", "--set", "threads=" + threads));
            for (final String setting : settings)
            {
                args.add("--set");
                args.add(setting);
            }
            final PassgateProcess pg = lab.startPassgate(args.toArray(String[]::new));
            return () ->
            {
                report(pg);
                pg.stop();
            };
        };
    }

    private boolean esp()
    {
        return only == null || "esp".equals(only);
    }

    /**
     * Two LAN clients' plain ESP to one server (passgate's ESP peers, manually keyed SAs 0x5001/0x6001 and
     * 0x5002/0x6002): each SA is bound first (20 echoes per client, in turn), then both clients send 64-byte ESP
     * payloads as fast as they can for the run's seconds, and the server counts what arrives per SPI. Returns each
     * run's delivered packets per second: client 1, client 2, total, and what the clients sent.
     */
    private List<double[]> espRuns(final Lab lab, final IpsecPeers.Server server, final int count, final int first)
        throws Exception
    {
        for (int c = 1; c <= 2; c++)
        {
            final int client = c;
            Lab.inNamespace(lab.client(c), 60_000, () ->
            {
                try (IpsecPeers.Client peer = new IpsecPeers.Client(Lab.serverAddress(1)))
                {
                    peer.manual(0x6000 + client, 0x5000 + client);
                    for (int i = 0; i < 20; i++)
                    {
                        peer.echo("bind " + i, 1000);   // no answer without NAT (the server answers the WAN address)
                    }
                }
                return null;
            });
        }
        Thread.sleep(1500);   // offload's writer takes settled SAs within its next round
        final List<double[]> runsOf = new ArrayList<>();
        for (int r = first; r < first + count; r++)
        {
            server.counting(true);
            final long before1 = server.received(0x5001);
            final long before2 = server.received(0x5002);
            final List<java.util.concurrent.CompletableFuture<Long>> sent = new ArrayList<>();
            for (int c = 1; c <= 2; c++)
            {
                final int client = c;
                sent.add(Lab.inNamespaceAsync(lab.client(c), () ->
                {
                    try (IpsecPeers.Client peer = new IpsecPeers.Client(Lab.serverAddress(1)))
                    {
                        peer.manual(0x6000 + client, 0x5000 + client);
                        return peer.blast(seconds * 1000L, 64);
                    }
                }));
            }
            final long s1 = sent.get(0).get(seconds + 60L, java.util.concurrent.TimeUnit.SECONDS);
            final long s2 = sent.get(1).get(seconds + 60L, java.util.concurrent.TimeUnit.SECONDS);
            Thread.sleep(300);
            final double d1 = (server.received(0x5001) - before1) / (double)seconds;
            final double d2 = (server.received(0x5002) - before2) / (double)seconds;
            server.counting(false);
            runsOf.add(new double[] {d1, d2, d1 + d2, (s1 + s2) / (double)seconds});
            System.out.printf(Locale.ROOT, "   ESP 2 clients run %d: client 1 %.0f kpps, client 2 %.0f kpps (sent %.0f kpps)%n",
                r + 1, d1 / 1e3, d2 / 1e3, (s1 + s2) / (double)seconds / 1e3);
        }
        return runsOf;
    }

    private void printEsp(final Map<String, double[]> esp)
    {
        if (esp.isEmpty())
        {
            return;
        }
        final double[] masq = esp.get("kernel masquerade");
        System.out.printf(Locale.ROOT, "%nPlain ESP, two LAN clients to one server (64-byte payloads, one way, delivered "
            + "at the server; median of %d runs of %d s)%n", runs, seconds);
        System.out.printf(Locale.ROOT, "%-38s %12s %12s %12s %8s %12s%n", "", "client1 kpps", "client2 kpps",
            "total kpps", "x masq", "sent kpps");
        for (final Map.Entry<String, double[]> e : esp.entrySet())
        {
            final double[] v = e.getValue();
            System.out.printf(Locale.ROOT, "%-38s %12.1f %12.1f %12.1f %8.2f %12.1f%n", e.getKey(), v[0] / 1e3,
                v[1] / 1e3, v[2] / 1e3, masq == null ? Double.NaN : v[2] / masq[2], v[3] / 1e3);
        }
    }

    private static AutoCloseable routeBack(final Lab lab) throws IOException
    {
        lab.must(lab.server(1), "ip", "route", "add", Lab.LAN_NET + ".0/24", "via", Lab.ROUTER_WAN);
        return () -> lab.exec(lab.server(1), "ip", "route", "del", Lab.LAN_NET + ".0/24");
    }

    private static void report(final PassgateProcess pg)
    {
        try (CountersFile f = pg.counters())
        {
            System.out.printf(Locale.ROOT, "   passgate: %d packets, %d GSO, %d recvmmsg calls, %d verdict sends, "
                + "%d dropped, %d ENOBUFS, %d send errors; offloaded %d flows, the kernel carried %d packets of them%n",
                f.total(Counter.PACKETS_RECEIVED), f.total(Counter.GSO_PACKETS), f.total(Counter.RECEIVE_CALLS),
                f.total(Counter.VERDICT_SENDS), f.total(Counter.DROPPED), f.total(Counter.ENOBUFS),
                f.total(Counter.VERDICT_SEND_ERRORS), f.total(Counter.OFFLOADED), f.total(Counter.OFFLOAD_PACKETS));
            System.out.printf(Locale.ROOT, "   passgate memory: %s%n", memory(pg.pid()));
        }
        catch (final IOException e)
        {
            System.out.println("   passgate counters: " + e.getMessage());
        }
    }

    /** The process's resident set (VmRSS, VmHWM) and its Java heap, every generation (jcmd GC.heap_info, when there). */
    static String memory(final long pid)
    {
        try
        {
            return ProcessMemory.status(pid, "VmRSS", "VmHWM") + ProcessMemory.heap(pid);
        }
        catch (final IOException e)
        {
            return e.getMessage();
        }
    }

    /** One run of one case, printed. */
    private double once(final Lab lab, final boolean tcp, final int streams, final int run) throws Exception
    {
        final double value = tcp ? tcpOnce(lab, streams) : udpOnce(lab);
        System.out.printf(Locale.ROOT, "   %s run %d: %s%n", tcp ? "TCP x" + streams : "UDP 64B", run,
            tcp ? String.format(Locale.ROOT, "%.2f Gbit/s", value / 1e9)
                : String.format(Locale.ROOT, "%.0f kpps", value / 1e3));
        return value;
    }

    /** The median of column {@code column} of the runs (NaN for a case not measured). */
    static double median(final List<double[]> runs, final int column)
    {
        final double[] values = new double[runs.size()];
        for (int i = 0; i < values.length; i++)
        {
            values[i] = runs.get(i)[column];
        }
        Arrays.sort(values);
        return values.length == 0 ? Double.NaN : values[values.length / 2];
    }

    private double tcpOnce(final Lab lab, final int streams) throws Exception
    {
        final Lab.Result r = lab.exec(lab.client(1), 120_000, "iperf3", "-J", "-c", Lab.serverAddress(1), "-p", "5201",
            "-t", Integer.toString(seconds), "-P", Integer.toString(streams));
        final Matcher m = RECEIVED_BPS.matcher(r.output());
        double last = Double.NaN;
        while (m.find())
        {
            last = Double.parseDouble(m.group(1));   // the last sum_received is the total
        }
        return last;
    }

    private double udpOnce(final Lab lab) throws Exception
    {
        final List<Process> clients = new ArrayList<>();
        final List<Path> outputs = new ArrayList<>();
        for (int i = 0; i < udpStreams; i++)
        {
            final Path out = lab.workDir().resolve("udp-" + i + ".json");
            Files.deleteIfExists(out);
            outputs.add(out);
            clients.add(lab.spawn(lab.client(1), out, "iperf3", "-J", "-u", "-c", Lab.serverAddress(1), "-p",
                Integer.toString(5301 + i), "-t", Integer.toString(seconds), "-b", "0", "-l", "64"));
        }
        double pps = 0;
        for (int i = 0; i < udpStreams; i++)
        {
            clients.get(i).waitFor();
            final Matcher m = UDP_SUM.matcher(Files.readString(outputs.get(i)));
            double last = 0;
            while (m.find())
            {
                final double secs = Double.parseDouble(m.group(1));
                final long lost = Long.parseLong(m.group(2));
                final long packets = Long.parseLong(m.group(3));
                last = (packets - lost) / secs;
            }
            pps += last;
        }
        return pps;
    }

    private Path buildReference() throws Exception
    {
        Path source = reference;
        if (source == null)
        {
            for (final Path candidate : List.of(Lab.home().resolve("../../shared/reference/nfq-accept.c"),
                Lab.home().resolve("../shared/reference/nfq-accept.c")))
            {
                if (Files.exists(candidate))
                {
                    source = candidate.normalize();
                    break;
                }
            }
        }
        if (source == null || !Files.exists(source))
        {
            System.out.println("(C reference nfq-accept.c not found: pass --reference FILE to include it)");
            return null;
        }
        final Path dir = Files.createTempDirectory("nfq-accept");
        final Path binary = dir.resolve("nfq-accept");
        final Lab.Result cc = Lab.exec(null, 120_000, "sh", "-c", "gcc -O2 -Wall -o " + binary + " " + source
            + " $(pkg-config --cflags --libs libnetfilter_queue)");
        if (!cc.ok())
        {
            System.out.println("(C reference not built: " + cc.output().strip() + ")");
            return null;
        }
        binary.toFile().deleteOnExit();
        dir.toFile().deleteOnExit();
        return binary;
    }

    private void print(final Map<String, double[]> results)
    {
        final double[] plain = results.get("plain forwarding");
        final double[] masq = results.get("kernel masquerade");
        System.out.printf(Locale.ROOT, "%nMedians of %d runs of %d s%s (TCP: %d streams; UDP: %d x 64-byte streams, "
            + "counted at the receiver)%n", runs, seconds, interleave ? ", setups interleaved" : "", tcpStreams,
            udpStreams);
        System.out.printf(Locale.ROOT, "%-38s %11s %7s %11s %7s %7s %10s %7s %7s%n", "", "TCP1 Gb/s", "x masq",
            "TCP" + tcpStreams + " Gb/s", "x plain", "x masq", "UDP kpps", "x plain", "x masq");
        for (final Map.Entry<String, double[]> e : results.entrySet())
        {
            final double[] v = e.getValue();
            System.out.printf(Locale.ROOT, "%-38s %11.2f %7.2f %11.2f %7.2f %7.2f %10.0f %7.2f %7.2f%n", e.getKey(),
                v[2] / 1e9, v[2] / masq[2], v[0] / 1e9, v[0] / plain[0], v[0] / masq[0], v[1] / 1e3, v[1] / plain[1],
                v[1] / masq[1]);
        }
    }
}

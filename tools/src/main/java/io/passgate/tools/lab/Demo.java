package io.passgate.tools.lab;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.passgate.alg.Helpers;
import io.passgate.control.Json;
import io.passgate.counters.Counter;
import io.passgate.sys.IpProtocolSocket;
import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.Poller;
import io.passgate.tools.ctl.PassgateCtl;
import io.passgate.tools.peers.IpsecPeers;
import io.passgate.tools.peers.L2tpPeers;
import io.passgate.tools.peers.PptpClient;
import io.passgate.tools.peers.PptpServer;

/**
 * What passgate is for, on the lab topology: two LAN clients each open a PPTP call, an IPsec tunnel (IKE and
 * ESP) and an L2TP tunnel (passgate's own peers) and a real OpenVPN tunnel to one server, all at once, through
 * passgate on the virtual board; a live table shows each tunnel as passgate's tunnel table sees it, its traffic
 * and the LEDs. Then the virtual button switches passthrough off (LEDs change, the live tunnels are torn down,
 * new PPTP/IPsec/L2TP attempts are refused, OpenVPN still passes), and on again (a new tunnel of each works).
 * Last, one line per tunnel: the packets it carried both ways, OK or FAILED; exit status 1 if any failed.
 */
public final class Demo
{
    static final String HELP = """
        Usage: demo [--seconds N] [--keep] [--set KEY=VALUE ...]
        Shows what passgate is for, on the lab topology (network namespaces; root): two LAN clients
        (10.77.0.11, .12) behind a router running passgate on the virtual board each open, at once, to one
        server (203.0.113.10): a PPTP call (control connection and GRE), an IPsec tunnel (IKE and ESP) and an
        L2TP tunnel (passgate's own test peers), and an OpenVPN tunnel (real openvpn, plain UDP NAT). For N
        seconds (default 45; about a minute in all) traffic runs through each while a table shows every tunnel
        as passgate's tunnel table sees it (protocol, client, server, Call IDs / SPIs / Tunnel IDs / ports,
        packets and bytes each way) and the board's LEDs: redrawn in place on a terminal, plain lines
        otherwise. Then the virtual button switches passthrough off: the LEDs change, the live tunnels are
        torn down, new PPTP, IPsec and L2TP attempts are refused (TCP RST, ICMP administratively prohibited)
        while OpenVPN, which needs no helper, still passes; the button again switches it on, and a new tunnel
        of each kind works. Last, one line per tunnel: "carried N packets both ways: OK" or FAILED.
        Exit status 0 when every tunnel carried traffic both ways, the refusals showed and the tunnels worked
        again; 1 otherwise. Everything is removed at the end, also on Ctrl-C or SIGTERM.

        Options:
          --seconds N   length of the traffic phase (default 45)
          --keep        keep the lab and passgate up at the end until Ctrl-C (prints how to reach them)
          --set K=V     a passgate setting for the demo's daemon (repeatable), e.g. --set passthrough.l2tp=off
                        to see a protocol switched off: its tunnels are refused and reported FAILED
          -h, --help    this text""";

    private static final String SERVER = Lab.serverAddress(1);
    private static final int PACE_MS = 20;
    private static final String ESC = "\u001b[";
    /** The protocols the demo shows with passgate's own peers; each needs its helper (switch) built in. */
    private static final List<String> HELPED = List.of("pptp", "ipsec", "l2tp");

    private final PrintStream out;
    private final int seconds;
    private final boolean keep;
    private final boolean terminal;
    private final List<String> settings;
    private final List<Tunnel> tunnels = new ArrayList<>();
    private final List<AutoCloseable> closeAtEnd = new CopyOnWriteArrayList<>();
    private final List<String> failures = new ArrayList<>();
    private Lab lab;
    private PassgateProcess pg;
    private int drawnLines;
    private volatile boolean finished;
    private volatile boolean stopping;
    private int width = Integer.MAX_VALUE;

    private Demo(final PrintStream out, final int seconds, final boolean keep, final boolean terminal,
        final List<String> settings)
    {
        this.settings = settings;
        this.out = out;
        this.seconds = seconds;
        this.keep = keep;
        this.terminal = terminal;
    }

    /** One tunnel the demo runs: its peers' own counts, and the last row passgate's table showed for it. */
    private static final class Tunnel
    {
        final String protocol;
        final int client;
        final AtomicLong sent = new AtomicLong();
        final AtomicLong answered = new AtomicLong();
        volatile String error;
        volatile Map<String, Object> row;
        volatile long[] device = new long[4];   // OpenVPN: the client's tun device: packets out, in, bytes out, in
        volatile String wan = "";

        Tunnel(final String protocol, final int client)
        {
            this.protocol = protocol;
            this.client = client;
        }

        String address()
        {
            return Lab.clientAddress(client);
        }
    }

    public static void main(final String[] args) throws Exception
    {
        int seconds = 45;
        boolean keep = false;
        final List<String> settings = new ArrayList<>(List.of("--set", "board=virtual"));
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--seconds" ->
                {
                    if (i + 1 >= args.length || !args[i + 1].matches("\\d{1,5}") || Integer.parseInt(args[i + 1]) < 3)
                    {
                        System.err.println("demo: --seconds needs a whole number of seconds, 3 or more");
                        System.exit(2);
                    }
                    seconds = Integer.parseInt(args[++i]);
                }
                case "--keep" -> keep = true;
                case "--set" ->
                {
                    if (i + 1 >= args.length || !args[i + 1].contains("="))
                    {
                        System.err.println("demo: --set needs KEY=VALUE");
                        System.exit(2);
                    }
                    settings.add("--set");
                    settings.add(args[++i]);
                }
                case "-h", "--help" ->
                {
                    System.out.println(HELP);
                    return;
                }
                default ->
                {
                    System.err.println("demo: unknown option " + args[i] + " (see --help)");
                    System.exit(2);
                }
            }
        }
        final Demo demo = new Demo(System.out, seconds, keep, System.console() != null, settings);
        if (demo.terminal)
        {
            demo.width = terminalWidth();
        }
        System.exit(demo.run());
    }

    private int run() throws Exception
    {
        try (Lab created = Lab.create(2))
        {
            lab = created;
            Runtime.getRuntime().addShutdownHook(new Thread(() ->
            {
                if (!finished)
                {
                    stopping = true;
                    // Ctrl-C or SIGTERM: the lab's own hook stops passgate and the peers and removes the namespaces
                    out.println();
                    out.println("demo: interrupted; stopping passgate and removing the lab");
                    out.flush();
                }
            }, "demo-exit"));
            out.println("lab " + lab.id() + ": clients " + Lab.clientAddress(1) + ", " + Lab.clientAddress(2) + " | router LAN "
                + Lab.ROUTER_LAN + ", WAN " + Lab.ROUTER_WAN + " | server " + SERVER);
            pg = lab.startPassgate(settings.toArray(String[]::new));
            out.println("passgate running in " + lab.router() + " (pid " + pg.pid() + ") on the virtual board, log in "
                + lab.workDir());
            final Map<String, Object> status = ctl("status");
            printStatusPage(status);
            out.println("LEDs: " + leds(status) + " | " + switches(status));
            try
            {
                traffic();
                offAndOn();
            }
            finally
            {
                closePeers();
            }
            final int status1 = summary();
            if (keep)
            {
                keepUp();
            }
            pg.stop();
            out.println("passgate stopped; removing the lab");
            finished = true;
            return status1;
        }
    }

    // ------------------------------------------------------------------------------------ the traffic phase

    private void traffic() throws Exception
    {
        final List<String> helpers = Helpers.PASSTHROUGHS.names();
        final List<String> shown = new ArrayList<>();
        for (final String p : HELPED)
        {
            if (helpers.contains(p))
            {
                shown.add(p);
            }
            else
            {
                out.println(p + ": passgate has no helper for it yet (no '" + p + "' switch): not shown");
            }
        }
        if (helpers.contains("natt"))
        {
            out.println("ipsec: passgate's own IPsec peers send plain ESP (IP protocol 50); NAT-T (UDP 4500) is not "
                + "shown here");
        }
        final boolean openvpn = Lab.exec(null, 10_000, "sh", "-c", "command -v openvpn").ok();
        if (!openvpn)
        {
            out.println("openvpn: not installed (tools/bin/setup installs it): not shown");
        }
        // the servers, all on one address
        final PptpServer pptpServer = Lab.inNamespace(lab.server(1), 10_000, PptpServer::new);
        closeAtEnd.add(pptpServer);
        final IpsecPeers.Server ipsecServer = Lab.inNamespace(lab.server(1), 10_000, () -> new IpsecPeers.Server(false));
        closeAtEnd.add(ipsecServer);
        final L2tpPeers.Server l2tpServer = Lab.inNamespace(lab.server(1), 10_000, () -> new L2tpPeers.Server(L2tpPeers.PORT));
        closeAtEnd.add(l2tpServer);
        if (openvpn)
        {
            startOpenVpn();
        }
        out.printf(Locale.ROOT, "%nstarting at once from both clients to %s: %s%n", SERVER,
            String.join(", ", shown) + (openvpn ? ", openvpn" : ""));
        final long end = System.currentTimeMillis() + seconds * 1000L;
        final List<CompletableFuture<Void>> workers = new ArrayList<>();
        for (final String p : shown)
        {
            for (int c = 1; c <= 2; c++)
            {
                final Tunnel t = new Tunnel(p, c);
                tunnels.add(t);
                workers.add(worker(t, end));
            }
        }
        if (openvpn)
        {
            for (int c = 1; c <= 2; c++)
            {
                final Tunnel t = new Tunnel("openvpn", c);
                tunnels.add(t);
                // ping through the tunnel, 10 a second, for the traffic phase
                lab.spawn(lab.client(c), lab.workDir().resolve("ping-ovpn" + c + ".log"), "ping", "-n", "-q", "-i", "0.1",
                    "-w", Integer.toString(seconds), "10.99." + c + ".1");
            }
        }
        out.println(terminal ? "" : "(plain output: the whole table every 5 s, totals every second)");
        final long start = System.currentTimeMillis();
        int tick = 0;
        boolean lastFull = false;
        while (System.currentTimeMillis() < end + 500)
        {
            Thread.sleep(1000);
            tick++;
            refresh();
            lastFull = tick % 5 == 0;
            draw("t=" + (System.currentTimeMillis() - start) / 1000 + "s", lastFull);
        }
        for (final CompletableFuture<Void> w : workers)
        {
            w.get(30, TimeUnit.SECONDS);
        }
        Thread.sleep(300);   // the last echoes into passgate's table
        refresh();
        if (!terminal && !lastFull)
        {
            draw("t=" + (System.currentTimeMillis() - start) / 1000 + "s", true);
        }
        drawnLines = 0;
    }

    /** Opens a tunnel from its client's namespace and echoes through it until {@code end}; the peer stays open. */
    private CompletableFuture<Void> worker(final Tunnel t, final long end)
    {
        return Lab.inNamespaceAsync(lab.client(t.client), () ->
        {
            try
            {
                switch (t.protocol)
                {
                    case "pptp" ->
                    {
                        final PptpClient c = new PptpClient(SERVER);
                        closeAtEnd.add(c);
                        c.start();
                        final int pac = c.call(1);   // both clients use Call ID 1: passgate translates one
                        while (System.currentTimeMillis() < end)
                        {
                            t.sent.incrementAndGet();
                            c.sendGre(pac, ("client " + t.client + " packet " + t.sent.get()).getBytes(StandardCharsets.US_ASCII));
                            if (c.receiveGre(1, 1000) != null)
                            {
                                t.answered.incrementAndGet();
                            }
                            Thread.sleep(PACE_MS);
                        }
                    }
                    case "ipsec" ->
                    {
                        final IpsecPeers.Client c = new IpsecPeers.Client(SERVER);
                        closeAtEnd.add(c);
                        c.initiate();
                        while (System.currentTimeMillis() < end)
                        {
                            final String text = "client " + t.client + " packet " + t.sent.incrementAndGet();
                            final String got = c.echo(text, 1000);
                            if (got != null && got.endsWith("echo " + text))
                            {
                                t.answered.incrementAndGet();
                            }
                            Thread.sleep(PACE_MS);
                        }
                    }
                    case "l2tp" ->
                    {
                        final L2tpPeers.Client c = new L2tpPeers.Client(SERVER, 5);   // both use Tunnel ID 5
                        closeAtEnd.add(c);
                        if (!c.open())
                        {
                            throw new IOException("the L2TP tunnel did not open");
                        }
                        while (System.currentTimeMillis() < end)
                        {
                            final String text = "client " + t.client + " packet " + t.sent.incrementAndGet();
                            if (("echo " + text).equals(c.echo(text, 1000)))
                            {
                                t.answered.incrementAndGet();
                            }
                            Thread.sleep(PACE_MS);
                        }
                    }
                    default -> throw new IllegalStateException(t.protocol);
                }
            }
            catch (final Exception e)
            {
                t.error = e.toString();
            }
            return null;
        });
    }

    private Path ovpnKey;

    /** Two OpenVPN tunnels (static key, UDP): server processes on 1194 and 1195 of the one server, a client each. */
    private void startOpenVpn() throws Exception
    {
        ovpnKey = lab.workDir().resolve("ovpn.key");
        lab.must(null, "openvpn", "--genkey", "secret", ovpnKey.toString());
        for (int c = 1; c <= 2; c++)
        {
            final String port = Integer.toString(1193 + c);
            lab.spawn(lab.server(1), lab.workDir().resolve("ovpn-server" + c + ".log"), "openvpn", "--dev", "ovpn" + c,
                "--dev-type", "tun", "--ifconfig", "10.99." + c + ".1", "10.99." + c + ".2", "--secret", ovpnKey.toString(),
                "--proto", "udp", "--port", port, "--cipher", "AES-256-CBC", "--ping", "1", "--verb", "3");
            lab.spawn(lab.client(c), lab.workDir().resolve("ovpn-client" + c + ".log"), "openvpn", "--dev", "ovpn" + c,
                "--dev-type", "tun", "--ifconfig", "10.99." + c + ".2", "10.99." + c + ".1", "--secret", ovpnKey.toString(),
                "--proto", "udp", "--remote", SERVER, "--port", port, "--cipher", "AES-256-CBC", "--ping", "1",
                "--verb", "3");
        }
        final long deadline = System.currentTimeMillis() + 20_000;
        for (int c = 1; c <= 2; c++)
        {
            final Path log = lab.workDir().resolve("ovpn-client" + c + ".log");
            while (!read(log).contains("Initialization Sequence Completed") && System.currentTimeMillis() < deadline)
            {
                Thread.sleep(100);
            }
            if (!read(log).contains("Initialization Sequence Completed"))
            {
                out.println("openvpn client " + c + " did not come up within 20 s; its log:\n" + read(log));
            }
        }
    }

    // ------------------------------------------------------------------------------------ the live table

    /** Reads passgate's tunnel table and the OpenVPN devices; attaches each row to its tunnel. */
    private List<Map<String, Object>> refresh()
    {
        return refresh(true);
    }

    /** As {@link #refresh()}; {@code attach} false keeps the tunnels' rows of the traffic phase (the summary's). */
    private List<Map<String, Object>> refresh(final boolean attach)
    {
        final List<Map<String, Object>> rows = rows();
        for (final Tunnel t : tunnels)
        {
            if (t.protocol.equals("openvpn"))
            {
                t.device = device(t.client);
                final Matcher m = PEER.matcher(read(lab.workDir().resolve("ovpn-server" + t.client + ".log")));
                if (m.find())
                {
                    t.wan = m.group(1);
                }
                continue;
            }
            if (!attach)
            {
                continue;
            }
            final String kind = t.protocol.equals("pptp") ? "pptp-call" : t.protocol;
            for (final Map<String, Object> r : rows)
            {
                if (kind.equals(r.get("protocol")) && t.address().equals(r.get("client")))
                {
                    t.row = r;
                }
            }
        }
        return rows;
    }

    private static final Pattern PEER = Pattern.compile("Peer Connection Initiated with \\[AF_INET\\]([0-9.]+:\\d+)");

    private List<Map<String, Object>> rows()
    {
        final List<Map<String, Object>> rows = new ArrayList<>();
        for (final Object o : list(ctl("tunnels").get("tunnels")))
        {
            rows.add(map(o));
        }
        return rows;
    }

    private long[] device(final int c)
    {
        try
        {
            final String dir = "/sys/class/net/ovpn" + c + "/statistics/";
            final Lab.Result r = Lab.exec(lab.client(c), 5000, "cat", dir + "tx_packets", dir + "rx_packets",
                dir + "tx_bytes", dir + "rx_bytes");
            final String[] v = r.output().strip().split("\\s+");
            if (r.ok() && v.length == 4)
            {
                return new long[] {Long.parseLong(v[0]), Long.parseLong(v[1]), Long.parseLong(v[2]), Long.parseLong(v[3])};
            }
        }
        catch (final IOException | NumberFormatException ignore)
        {
            // the device is gone: nothing to show
        }
        return new long[4];
    }

    private static final String FORMAT = "%-12s %-11s %-13s %13s %17s  %s%n";

    /** The table: every row passgate's tunnel table holds, then the OpenVPN tunnels, then the LEDs. */
    private void draw(final String label, final boolean full)
    {
        if (stopping)
        {
            return;
        }
        final List<Map<String, Object>> rows = rows();
        final Map<String, Object> status = ctl("status");
        if (!terminal && !full)
        {
            long packets = 0;
            for (final Map<String, Object> r : rows)
            {
                packets += number(r.get("packets-out")) + number(r.get("packets-in"));
            }
            out.printf(Locale.ROOT, "%-5s passgate's table: %d tunnel row(s), %d packets | openvpn %s | LEDs %s%n", label,
                rows.size(), packets, openVpnTotals(), leds(status));
            return;
        }
        final List<String> lines = new ArrayList<>();
        lines.add(label + "  passgate's tunnel table (passgatectl tunnels), then OpenVPN");
        lines.add(String.format(Locale.ROOT, FORMAT, "PROTOCOL", "CLIENT", "SERVER", "PKTS OUT/IN", "BYTES OUT/IN",
            "IDS / PORTS").stripTrailing());
        for (final Map<String, Object> r : rows)
        {
            lines.add(String.format(Locale.ROOT, FORMAT, r.get("protocol"), r.get("client"), r.get("server"),
                number(r.get("packets-out")) + "/" + number(r.get("packets-in")),
                number(r.get("bytes-out")) + "/" + number(r.get("bytes-in")), ids(r)).stripTrailing());
        }
        for (final Tunnel t : tunnels)
        {
            if (t.protocol.equals("openvpn"))
            {
                final long[] d = t.device;
                lines.add(String.format(Locale.ROOT, FORMAT, "openvpn", t.address(), SERVER, d[0] + "/" + d[1],
                    d[2] + "/" + d[3], "udp :" + (1193 + t.client) + (t.wan.isEmpty() ? "" : " wan " + t.wan)
                        + " (plain NAT, no helper: its tun device's counts)").stripTrailing());
            }
        }
        lines.add("LEDs: " + leds(status) + " | " + switches(status));
        if (terminal && drawnLines > 0)
        {
            out.print(ESC + drawnLines + "A" + ESC + "J");
        }
        for (final String l : lines)
        {
            // on a terminal a line must not wrap, or the redraw would move up too few lines
            out.println(terminal && l.length() >= width ? l.substring(0, width - 2) + ">" : l);
        }
        out.flush();
        drawnLines = lines.size();
    }

    private String openVpnTotals()
    {
        long o = 0;
        long i = 0;
        for (final Tunnel t : tunnels)
        {
            if (t.protocol.equals("openvpn"))
            {
                o += t.device[0];
                i += t.device[1];
            }
        }
        return o + "/" + i + " packets";
    }

    /** A row's identifiers, shortly: ports, Call IDs, SPIs, Tunnel IDs. */
    static String ids(final Map<String, Object> r)
    {
        final String kind = String.valueOf(r.get("protocol"));
        return switch (kind)
        {
            case "pptp-control" -> "tcp :" + r.get("client-port") + "->:" + r.get("server-port") + " wan :" + r.get("wan-port");
            case "pptp-call" -> "call-id " + r.get("client-call-id") + " wan " + r.get("wan-call-id") + " server "
                + r.get("server-call-id");
            default ->
            {
                final StringBuilder b = new StringBuilder();
                if (r.containsKey("client-port"))
                {
                    b.append("udp :").append(r.get("client-port"));
                    if (r.containsKey("server-port"))
                    {
                        b.append("->:").append(r.get("server-port"));
                    }
                    b.append(" wan :").append(r.get("wan-port"));
                }
                r.forEach((k, v) ->
                {
                    if (k.endsWith("-spi") || k.endsWith("tunnel-id"))
                    {
                        b.append(' ').append(k.replace("initiator", "i").replace("responder", "r").replace("-tunnel-id", "-tid")
                            .replace("tunnel-id", "tid")).append('=').append(v);
                    }
                });
                yield b.toString().strip();
            }
        };
    }

    // ------------------------------------------------------------------------------------ the button

    private final List<String> results = new ArrayList<>();

    /** Tunnel-table rows of plain flows (offloaded TCP and UDP, as with --set offload=true), not helper tunnels. */
    private static final Set<Object> PLAIN_FLOWS = Set.of("tcp", "udp");

    private void offAndOn() throws Exception
    {
        out.println();
        out.println("pressing the virtual button (passgatectl button short): " + switchesOf(ctlPress()));
        final boolean ledsOff = waitFor(3000, () -> leds(ctl("status")).contains("pptp=off"));
        final Map<String, Object> off = ctl("status");
        out.println("LEDs: " + leds(off) + " | " + switches(off));
        check(ledsOff, "the PPTP, IPsec and L2TP LEDs show passthrough off");
        // with offload on, plain flows the kernel carries (OpenVPN's UDP) are rows too: only the helpers' count
        final boolean torn = waitFor(3000, () -> rows().stream().allMatch(r -> PLAIN_FLOWS.contains(r.get("protocol"))));
        check(torn, "passgate tore the live PPTP, IPsec and L2TP tunnels down (none left in its tunnel table)");
        // client 1 tries new tunnels of each kind (its old peers closed first: they hold its ports)
        closePeers();
        final long refusedBefore = pg.counter(Counter.PASSTHROUGH_REFUSED);
        final List<String> icmp = new CopyOnWriteArrayList<>();
        final AtomicBoolean sniffing = new AtomicBoolean(true);
        final CompletableFuture<Void> sniffer = Lab.inNamespaceAsync(lab.client(1), () -> sniff(sniffing, icmp));
        Thread.sleep(200);
        out.println("client " + Lab.clientAddress(1) + " tries new tunnels while passthrough is off:");
        final List<CompletableFuture<String>> attempts = new ArrayList<>();
        for (final Tunnel t : tunnels)
        {
            if (t.client == 1 && !t.protocol.equals("openvpn"))
            {
                attempts.add(Lab.inNamespaceAsync(lab.client(1), () -> attempt(t.protocol, 2, 5)));
            }
        }
        boolean allRefused = true;
        for (final CompletableFuture<String> a : attempts)
        {
            final String r = a.get(30, TimeUnit.SECONDS);
            allRefused &= r.startsWith("refused");
            out.println("  " + r);
        }
        Thread.sleep(300);
        sniffing.set(false);
        sniffer.get(5, TimeUnit.SECONDS);
        final Map<String, Integer> distinct = new LinkedHashMap<>();
        for (final String line : icmp)
        {
            distinct.merge(line, 1, Integer::sum);
        }
        distinct.forEach((line, n) -> out.println("  client saw " + n + "x: " + line));
        final long refused = pg.counter(Counter.PASSTHROUGH_REFUSED) - refusedBefore;
        out.println("  passgate's counter passthrough-refused: +" + refused);
        check(allRefused && refused > 0, "new PPTP/IPsec/L2TP tunnels refused while off");
        for (final Tunnel t : tunnels)
        {
            if (t.protocol.equals("openvpn"))
            {
                final int replies = ping(lab.client(t.client), "10.99." + t.client + ".1", 3);
                out.println("  openvpn from " + t.address() + " while off: " + replies + "/3 pings through the tunnel");
                check(replies > 0, "openvpn from " + t.address() + " passes with passthrough off (no helper needed)");
            }
        }

        out.println();
        out.println("pressing the virtual button again: " + switchesOf(ctlPress()));
        final boolean ledsOn = waitFor(3000, () -> leds(ctl("status")).contains("pptp=on"));
        final Map<String, Object> on = ctl("status");
        out.println("LEDs: " + leds(on) + " | " + switches(on));
        check(ledsOn, "the LEDs show passthrough on again");
        out.println("client " + Lab.clientAddress(1) + " opens new tunnels:");
        final Map<String, CompletableFuture<String>> again = new LinkedHashMap<>();
        for (final Tunnel t : tunnels)
        {
            if (t.client == 1 && !t.protocol.equals("openvpn"))
            {
                again.put(t.protocol, Lab.inNamespaceAsync(lab.client(1), () -> attempt(t.protocol, 5, 10)));
            }
        }
        final Map<String, String> opened = new LinkedHashMap<>();
        for (final Map.Entry<String, CompletableFuture<String>> a : again.entrySet())
        {
            opened.put(a.getKey(), a.getValue().get(60, TimeUnit.SECONDS));
        }
        refresh(false);
        draw("on again", true);
        drawnLines = 0;
        opened.forEach((protocol, r) ->
        {
            out.println("  " + r);
            check(r.contains(": through") && !r.endsWith("FAILED"), "on again: " + protocol + " from " + Lab.clientAddress(1));
        });
    }

    private Map<String, Object> ctlPress()
    {
        return ctl("button", "short");
    }

    /**
     * One new tunnel from this thread's namespace (client 1), 5 echoes: "through ..." when they came back,
     * "refused ..." when the attempt failed as a refusal does.
     */
    private String attempt(final String protocol, final int ikeSeconds, final int echoes)
    {
        final String name = protocol + " from " + Lab.clientAddress(1);
        try
        {
            switch (protocol)
            {
                case "pptp" ->
                {
                    try (PptpClient c = new PptpClient(SERVER))
                    {
                        c.start();
                        final int pac = c.call(2);
                        int back = 0;
                        for (int i = 0; i < echoes; i++)
                        {
                            c.sendGre(pac, ("again " + i).getBytes(StandardCharsets.US_ASCII));
                            back += c.receiveGre(2, 1000) != null ? 1 : 0;
                        }
                        c.clear(2);
                        c.stop();
                        return name + ": through, call-id 2, " + back + "/" + echoes + " GRE echoes" + (back == 0 ? " FAILED" : "");
                    }
                    catch (final ConnectException e)
                    {
                        return "refused " + name + ": TCP 1723 connection refused (a TCP RST came back)";
                    }
                }
                case "ipsec" ->
                {
                    try (IpsecPeers.Client c = new IpsecPeers.Client(SERVER))
                    {
                        try
                        {
                            c.initiate(ikeSeconds * 1000);
                        }
                        catch (final IOException e)
                        {
                            return "refused " + name + ": " + e.getMessage();
                        }
                        int back = 0;
                        for (int i = 0; i < echoes; i++)
                        {
                            final String got = c.echo("again " + i, 1000);
                            back += got != null && got.endsWith("echo again " + i) ? 1 : 0;
                        }
                        return name + ": through, spi " + Integer.toHexString(c.clientSpi()) + ", " + back + "/" + echoes
                            + " ESP echoes" + (back == 0 ? " FAILED" : "");
                    }
                }
                case "l2tp" ->
                {
                    try (L2tpPeers.Client c = new L2tpPeers.Client(SERVER, 7))
                    {
                        if (!c.open())
                        {
                            return "refused " + name + ": no answer to its SCCRQ (6 tries)";
                        }
                        int back = 0;
                        for (int i = 0; i < echoes; i++)
                        {
                            back += ("echo again " + i).equals(c.echo("again " + i, 1000)) ? 1 : 0;
                        }
                        c.stop();
                        return name + ": through, tunnel-id 7, " + back + "/" + echoes + " data echoes"
                            + (back == 0 ? " FAILED" : "");
                    }
                }
                default -> throw new IllegalStateException(protocol);
            }
        }
        catch (final Exception e)
        {
            return name + ": failed: " + e;
        }
    }

    /** Watches the ICMP this namespace receives: destination-unreachable messages about a client's packet. */
    private static Void sniff(final AtomicBoolean running, final List<String> seen) throws Exception
    {
        try (IpProtocolSocket icmp = IpProtocolSocket.open(Linux.IPPROTO_ICMP);
            NativeBuffer buf = NativeBuffer.allocate(2048);
            Poller poller = new Poller(1))
        {
            poller.add(icmp.fd(), Linux.POLLIN);
            final byte[] p = new byte[2048];
            while (running.get())
            {
                if (poller.poll(100) <= 0)
                {
                    continue;
                }
                final long n = icmp.receive(buf.address(), 2048, Linux.MSG_DONTWAIT);
                if (n < 28)
                {
                    continue;
                }
                buf.buffer().getBytes(0, p, 0, (int)n);
                final int ihl = (p[0] & 0x0F) * 4;
                final int type = p[ihl] & 0xFF;
                final int code = p[ihl + 1] & 0xFF;
                if (type != 3 || n < ihl + 8 + 20)
                {
                    continue;
                }
                final int inner = ihl + 8;
                final int innerIhl = (p[inner] & 0x0F) * 4;
                final int proto = p[inner + 9] & 0xFF;
                String about = proto == 17 ? "UDP" : proto == 6 ? "TCP" : proto == 50 ? "ESP" : proto == 47 ? "GRE" : "protocol " + proto;
                if ((proto == 17 || proto == 6) && n >= inner + innerIhl + 4)
                {
                    final int sport = ((p[inner + innerIhl] & 0xFF) << 8) | (p[inner + innerIhl + 1] & 0xFF);
                    final int dport = ((p[inner + innerIhl + 2] & 0xFF) << 8) | (p[inner + innerIhl + 3] & 0xFF);
                    about += " :" + sport + " -> " + address(p, inner + 16) + ":" + dport;
                }
                seen.add("ICMP 3/" + code + (code == 13 ? " (administratively prohibited)" : "") + " from "
                    + address(p, 12) + " about its " + about);
            }
        }
        return null;
    }

    private static String address(final byte[] p, final int at)
    {
        return (p[at] & 0xFF) + "." + (p[at + 1] & 0xFF) + "." + (p[at + 2] & 0xFF) + "." + (p[at + 3] & 0xFF);
    }

    // ------------------------------------------------------------------------------------ the end

    private void check(final boolean ok, final String what)
    {
        results.add(what + ": " + (ok ? "OK" : "FAILED"));
        if (!ok)
        {
            failures.add(what);
        }
    }

    private int summary() throws IOException
    {
        out.println();
        out.println("summary (packets from passgate's tunnel table; the clients' own echo counts in brackets):");
        for (final Tunnel t : tunnels)
        {
            final long pout;
            final long pin;
            final String detail;
            if (t.protocol.equals("openvpn"))
            {
                pout = t.device[0];
                pin = t.device[1];
                detail = "(its tun device: " + pout + " out, " + pin + " in; plain NAT, no helper)";
            }
            else
            {
                final Map<String, Object> r = t.row;
                pout = r == null ? 0 : number(r.get("packets-out"));
                pin = r == null ? 0 : number(r.get("packets-in"));
                detail = "(" + pout + " out, " + pin + " in; [" + t.answered.get() + "/" + t.sent.get() + " echoed]"
                    + (r == null ? " no row in passgate's table" : "") + (t.error == null ? "" : " error: " + t.error) + ")";
            }
            final boolean ok = pout > 0 && pin > 0 && (t.protocol.equals("openvpn") || t.answered.get() > 0);
            if (!ok)
            {
                failures.add(t.protocol + " from " + t.address());
            }
            out.printf(Locale.ROOT, "  %-8s %s -> %s: carried %d packets both ways %s: %s%n", t.protocol, t.address(), SERVER,
                pout + pin, detail, ok ? "OK" : "FAILED");
        }
        final long offloaded = pg.counter(Counter.OFFLOADED);
        final long esp = pg.counter(Counter.OFFLOADED_ESP);
        final long gre = pg.counter(Counter.OFFLOADED_GRE);
        if (offloaded + esp + gre > 0)   // --set offload=true: the rows above include what the kernel carried
        {
            out.printf(Locale.ROOT, "  offload: the kernel took %d flow(s), %d ESP SA(s), %d PPTP call(s)' GRE (passgate's counters)%n",
                offloaded, esp, gre);
        }
        for (final String r : results)
        {
            out.println("  " + r);
        }
        out.println(failures.isEmpty() ? "demo: all OK" : "demo: FAILED: " + String.join("; ", failures));
        return failures.isEmpty() ? 0 : 1;
    }

    private void keepUp() throws InterruptedException
    {
        out.println();
        out.println("--keep: the lab and passgate stay up until Ctrl-C. To reach them:");
        out.println("  " + Lab.home().resolve("bin/passgatectl") + " --runtime-dir " + pg.runtimeDir() + " status|tunnels|button short");
        out.println("  ip netns exec " + lab.client(1) + " bash        # a LAN client (" + Lab.clientAddress(1) + ")");
        out.println("  ip netns exec " + lab.server(1) + " bash        # the server (" + SERVER + ")");
        out.println("  ip netns exec " + lab.client(1) + " ping 10.99.1.1   # through the OpenVPN tunnel");
        out.println("  passgate's log: " + lab.workDir());
        printStatusPage(ctl("status"));
        out.flush();
        Thread.currentThread().join();
    }

    private void closePeers()
    {
        for (final AutoCloseable c : closeAtEnd)
        {
            try
            {
                if (!(c instanceof PptpServer || c instanceof IpsecPeers.Server || c instanceof L2tpPeers.Server))
                {
                    c.close();
                    closeAtEnd.remove(c);
                }
            }
            catch (final Exception ignore)
            {
                // closing
            }
        }
    }

    // ------------------------------------------------------------------------------------ the status page

    /**
     * The status page: prints "status page: URL" from the "web-url" field of the daemon's status answer (set
     * while the page is served, web.listen), and nothing when the page is off.
     */
    private void printStatusPage(final Map<String, Object> status)
    {
        final String url = statusPageUrl(status);
        if (url != null)
        {
            out.println("status page: " + url + "  (from a LAN client: ip netns exec " + lab.client(1) + " curl " + url + ")");
        }
    }

    static String statusPageUrl(final Map<String, Object> response)
    {
        final Map<String, Object> s = map(response.get("status"));
        for (final Map<String, Object> m : List.of(response, s))
        {
            if (m.get("web-url") instanceof String url && !url.isBlank())
            {
                return url;
            }
            if (map(m.get("web")).get("url") instanceof String url && !url.isBlank())
            {
                return url;
            }
        }
        return null;
    }

    // ------------------------------------------------------------------------------------ small things

    /** The terminal's columns (stty size on /dev/tty), 80 if unknown. */
    private static int terminalWidth()
    {
        try
        {
            final Process p = new ProcessBuilder("stty", "size").redirectInput(new java.io.File("/dev/tty"))
                .redirectErrorStream(true).start();
            final String[] size = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip().split(" ");
            p.waitFor(5, TimeUnit.SECONDS);
            return size.length == 2 && size[1].matches("\\d+") && Integer.parseInt(size[1]) >= 40 ? Integer.parseInt(size[1]) : 80;
        }
        catch (final IOException e)
        {
            return 80;
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            return 80;
        }
    }

    /** passgatectl --json COMMAND against the lab's daemon (in this process); the answer, empty if none. */
    private Map<String, Object> ctl(final String... command)
    {
        final List<String> args = new ArrayList<>(List.of("--runtime-dir", pg.runtimeDir().toString(), "--json"));
        args.addAll(List.of(command));
        final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        final PrintStream capture = new PrintStream(buffer, true, StandardCharsets.UTF_8);
        PassgateCtl.run(args.toArray(String[]::new), capture, capture);
        try
        {
            return Json.parseObject(buffer.toString(StandardCharsets.UTF_8).strip());
        }
        catch (final IllegalArgumentException e)
        {
            return Map.of();
        }
    }

    private static String leds(final Map<String, Object> status)
    {
        final StringBuilder b = new StringBuilder();
        map(status.get("leds")).forEach((k, v) -> b.append(b.length() == 0 ? "" : " ").append(k).append('=').append(v));
        return b.length() == 0 ? "(no status panel)" : b.toString();
    }

    private static String switches(final Map<String, Object> status)
    {
        return switchesOf(Map.of("switches", map(map(status.get("status")).get("switches"))));
    }

    private static String switchesOf(final Map<String, Object> response)
    {
        final Map<String, Object> sw = map(response.get("switches"));
        final Map<String, Object> effective = map(sw.get("effective"));
        final StringBuilder b = new StringBuilder("passthrough: all " + onOff(sw.get("all")));
        effective.forEach((k, v) -> b.append(", ").append(k).append(' ').append(onOff(v)));
        return b.toString();
    }

    private static String onOff(final Object b)
    {
        return Boolean.TRUE.equals(b) ? "on" : "off";
    }

    private int ping(final String ns, final String address, final int count) throws IOException
    {
        final Lab.Result r = lab.exec(ns, "ping", "-n", "-c", Integer.toString(count), "-i", "0.2", "-W", "1", address);
        final Matcher m = Pattern.compile("(\\d+) received").matcher(r.output());
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }

    private static boolean waitFor(final long timeoutMs, final java.util.function.BooleanSupplier condition)
        throws InterruptedException
    {
        final long deadline = System.currentTimeMillis() + timeoutMs;
        while (System.currentTimeMillis() < deadline)
        {
            if (condition.getAsBoolean())
            {
                return true;
            }
            Thread.sleep(50);
        }
        return condition.getAsBoolean();
    }

    private static long number(final Object o)
    {
        return o instanceof Number n ? n.longValue() : 0;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(final Object o)
    {
        return o instanceof Map<?, ?> m ? (Map<String, Object>)m : new LinkedHashMap<>();
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(final Object o)
    {
        return o instanceof List<?> l ? (List<Object>)l : List.of();
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

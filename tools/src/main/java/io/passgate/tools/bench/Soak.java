package io.passgate.tools.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.passgate.counters.Counter;
import io.passgate.nft.Conntrack;
import io.passgate.nft.Offloader;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;

/**
 * The offload soak (tools/bin/soak): passgate with {@code offload = true} in the lab for a while under churn,
 * checking that what passgate believes the kernel carries and what the kernel holds agree all along. Client 1
 * keeps one long TCP stream; client 2 runs back-to-back short iperf3 tests (four TCP connections each, settled,
 * offloaded and closed while offloaded) and short UDP flows (offloaded, then idle in the kernel until passgate's
 * timer). Every sample prints passgate's offload counters, set {@code offload_ports}'s elements, the router's
 * conntrack entries with passgate's mark, and passgate's resident memory. It fails (status 1) when passgate
 * dies, an offload request fails ({@code offload-errors}), the writer's gauge drifts from its carried flows (its
 * recount logs it), or, once the traffic has stopped, passgate's engines' offloaded flows, the set's elements
 * (two per flow) and the marked conntrack entries do not come to agree.
 */
public final class Soak
{
    private Soak()
    {
    }

    private record Sample(long live, long offloaded, long ended, long withdrawn, long handedBack, long errors,
        long refused, long ringFull, long strays, long kernelPackets, int elements, int entries, String rss)
    {
        Sample withoutMemory()
        {
            return new Sample(live, offloaded, ended, withdrawn, handedBack, errors, refused, ringFull, strays,
                kernelPackets, elements, entries, "");
        }
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length > 0 && ("--help".equals(args[0]) || "-h".equals(args[0])))
        {
            System.out.println("""
                Usage: soak [--seconds N] [--sample S] [--pi-zero] [--watch] [passgate options, e.g. --set offload.after-packets=4]
                Runs passgate with offload = true in the lab topology for N seconds (default 300) of churn: a long
                TCP stream from client 1, back-to-back short iperf3 tests (4 TCP connections each) and short UDP
                flows from client 2. Every S seconds (default 10) it prints passgate's offload counters, the
                elements of set offload_ports, the router's conntrack entries with passgate's mark and passgate's
                memory, and at the end its highest VmRSS sampled every 100 ms. --pi-zero: as a 512 MB Pi Zero 2 W
                runs it by default (PASSGATE_JIT=c1, nat.max-flows=4096, the log to the journal). --watch: the
                status page's event stream open from client 1 throughout (needs curl). Exit status 1 when passgate dies, offload-errors counts, the offload writer's gauge
                drifts from the flows it carries, or after the traffic the flows passgate's engines list as
                offloaded, the set's elements (two each) and the marked conntrack entries do not come to agree;
                0 otherwise. Needs root, iperf3, nft.""");
            return;
        }
        int seconds = 300;
        int sampleS = 10;
        final List<String> extra = new ArrayList<>(List.of("--set", "offload=true"));
        boolean piZero = false;
        boolean watch = false;
        for (int i = 0; i < args.length; i++)
        {
            if ("--seconds".equals(args[i]) && i + 1 < args.length)
            {
                seconds = Integer.parseInt(args[++i]);
            }
            else if ("--watch".equals(args[i]))
            {
                watch = true;
            }
            else if ("--pi-zero".equals(args[i]))
            {
                piZero = true;
                extra.add("--set");
                extra.add("nat.max-flows=4096");
            }
            else if ("--sample".equals(args[i]) && i + 1 < args.length)
            {
                sampleS = Integer.parseInt(args[++i]);
            }
            else
            {
                extra.add(args[i]);
            }
        }
        final boolean ok;
        try (Lab lab = Lab.create(2))
        {
            ok = run(lab, seconds, sampleS, extra, piZero, watch);
        }
        System.exit(ok ? 0 : 1);
    }

    private static boolean run(final Lab lab, final int seconds, final int sampleS, final List<String> extra,
        final boolean piZero, final boolean watch) throws Exception
    {
        final String server = Lab.serverAddress(1);
        final List<Process> servers = new ArrayList<>();
        for (final int port : new int[] {5201, 5202, 5203})
        {
            servers.add(lab.spawn(lab.server(1), null, "iperf3", "-s", "-p", Integer.toString(port)));
        }
        // --pi-zero: what a 512 MB Pi Zero 2 W runs by default (the launcher's and nat.max-flows' auto below 1 GiB,
        // the log to the journal)
        final PassgateProcess pg = lab.startPassgate(piZero ? java.util.Map.of("PASSGATE_JIT", "c1", Lab.JOURNAL_STREAM,
            Lab.AS_JOURNAL) : java.util.Map.of(), extra.toArray(String[]::new));
        Thread.sleep(1000);
        System.out.printf(Locale.ROOT, "soak: passgate %s%s (pid %d, JIT %s), %d s, a sample every %d s%n",
            String.join(" ", extra), piZero ? " (journal)" : "", pg.pid(), ProcessMemory.jit(pg.pid()), seconds, sampleS);
        final long end = System.currentTimeMillis() + seconds * 1000L;
        final ProcessMemory.RssSampler rss = new ProcessMemory.RssSampler(pg.pid(), 100);
        // --watch: the status page left open on client 1 (its event stream: an update with every tunnel row,
        // the offloaded flows among them, once a second)
        final Process page = watch ? lab.spawn(lab.client(1), null, "curl", "-sN", "-o", "/dev/null",
            "http://" + Lab.ROUTER_LAN + "/api/events") : null;
        final Process stream = lab.spawn(lab.client(1), null, "iperf3", "-c", server, "-p", "5201", "-t",
            Integer.toString(seconds), "-b", "300M");
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong tcpTests = new AtomicLong();
        final AtomicLong udpTests = new AtomicLong();
        final AtomicLong failedTests = new AtomicLong();
        final Thread churn = new Thread(() ->
        {
            while (!stop.get() && System.currentTimeMillis() < end)
            {
                try
                {
                    count(Lab.exec(lab.client(2), 30_000, "iperf3", "-c", server, "-p", "5202", "-t", "1", "-P", "4",
                        "-b", "20M"), tcpTests, failedTests);
                    count(Lab.exec(lab.client(2), 30_000, "iperf3", "-u", "-c", server, "-p", "5203", "-t", "1",
                        "-b", "2M"), udpTests, failedTests);
                }
                catch (final Exception e)
                {
                    failedTests.incrementAndGet();
                }
            }
        }, "soak-churn");
        churn.start();
        System.out.println("    s   live offloaded  ended withdrawn back errors refused ringfull strays  kernel-pkts elements ct-entries  memory");
        boolean ok = true;
        final long start = System.currentTimeMillis();
        while (System.currentTimeMillis() < end)
        {
            Thread.sleep(Math.min(sampleS * 1000L, Math.max(1, end - System.currentTimeMillis())));
            if (!pg.isAlive())
            {
                System.out.println("soak: FAILED: passgate died\n" + pg.log());
                stop.set(true);
                return false;
            }
            final Sample s = sample(lab, pg);
            print((System.currentTimeMillis() - start) / 1000, s);
            if (s.errors() > 0)
            {
                ok = false;
            }
        }
        stop.set(true);
        churn.join(60_000);
        stream.destroy();
        stream.waitFor();
        if (page != null)
        {
            System.out.println("soak: the status page's event stream " + (page.isAlive() ? "was open throughout"
                : "had ended (status " + page.exitValue() + ")"));
            page.destroy();
        }
        // the streams' ends reach the kernel's entries and the writer's next dump. Flows still end after the
        // traffic (TIME_WAIT, passgate's UDP timer) and passgate publishes its gauge once a second: the check
        // compares what can be read at once, the engines' offloaded rows (passgatectl tunnels), the set's
        // elements and the marked entries, until all three agree (they never may stay apart)
        Thread.sleep(3000);
        Sample last = sample(lab, pg);
        int rows = offloadedRows(pg);
        boolean agree = false;
        for (int i = 0; i < 40 && !agree; i++)
        {
            last = sample(lab, pg);
            rows = offloadedRows(pg);
            final int elementsAfter = elementCount(lab);
            agree = last.elements() == 2 * rows && last.entries() == rows && elementsAfter == last.elements();
            if (!agree)
            {
                Thread.sleep(300);
            }
        }
        print((System.currentTimeMillis() - start) / 1000, last);
        rss.close();
        System.out.printf(Locale.ROOT, "soak: passgate's highest VmRSS %d kB (%.1f MiB; %d samples 100 ms apart), VmHWM %d kB%n",
            rss.maxKb(), rss.maxKb() / 1024.0, rss.samples(), ProcessMemory.kb(pg.pid(), "VmHWM"));
        System.out.printf(Locale.ROOT, "soak: %d short TCP tests and %d UDP tests by client 2 (%d failed), one %d s stream by client 1%n",
            tcpTests.get(), udpTests.get(), failedTests.get(), seconds);
        if (!pg.isAlive())
        {
            System.out.println("soak: FAILED: passgate died");
            ok = false;
        }
        if (last.errors() > 0)
        {
            System.out.println("soak: FAILED: offload-errors " + last.errors());
            ok = false;
        }
        if (!agree)
        {
            System.out.printf(Locale.ROOT, "soak: FAILED: passgate's engines list %d offloaded flows, set offload_ports holds %d elements (two each), conntrack %d marked entries%n",
                rows, last.elements(), last.entries());
            ok = false;
            diagnose(lab, pg);
        }
        else
        {
            System.out.printf(Locale.ROOT, "soak: after the traffic %d offloaded flows in passgate's engines, %d elements, %d marked entries: they agree%n",
                rows, last.elements(), last.entries());
        }
        if (pg.log().contains("recounted"))
        {
            System.out.println("soak: FAILED: the offload writer's gauge drifted from its carried flows (passgate's log)");
            ok = false;
        }
        if (last.offloaded() == 0 || tcpTests.get() == 0)
        {
            System.out.println("soak: FAILED: nothing was offloaded or no churn ran");
            ok = false;
        }
        for (final String line : pg.log().split("\n"))
        {
            if (line.contains("WARN") || line.contains("ERROR"))
            {
                System.out.println("soak: passgate said: " + line);
            }
        }
        for (final Process p : servers)
        {
            p.destroy();
        }
        final int status = pg.stop();
        System.out.println(ok ? "soak: OK (passgate stopped with status " + status + ")" : "soak: FAILED");
        return ok;
    }

    private static void count(final Lab.Result r, final AtomicLong done, final AtomicLong failed)
    {
        (r.ok() ? done : failed).incrementAndGet();
        if (!r.ok() && failed.get() <= 5)   // what iperf3 said, for the first few
        {
            System.out.println("soak: a churn test failed (status " + r.status() + "): "
                + r.output().strip().replace('\n', ' '));
        }
    }

    private static Sample sample(final Lab lab, final PassgateProcess pg) throws Exception
    {
        final int elements = elementCount(lab);
        final int entries = Lab.inNamespace(lab.router(), 10_000, () ->
        {
            final int[] n = new int[1];
            try (Conntrack ct = new Conntrack(false))
            {
                ct.dump(Offloader.MARK_BIT, Offloader.MARK_BIT, (destroyed, mark, protocol, src, sport, dst, dport,
                    tcpState, timeoutS, po, bo, pi, bi) -> n[0]++);
            }
            return n[0];
        });
        return new Sample(pg.counter(Counter.OFFLOAD_LIVE), pg.counter(Counter.OFFLOADED), pg.counter(Counter.OFFLOAD_ENDED),
            pg.counter(Counter.OFFLOAD_WITHDRAWN), pg.counter(Counter.OFFLOAD_HANDED_BACK), pg.counter(Counter.OFFLOAD_ERRORS),
            pg.counter(Counter.OFFLOAD_REFUSED), pg.counter(Counter.OFFLOAD_RING_FULL), pg.counter(Counter.OFFLOAD_STRAYS),
            pg.counter(Counter.OFFLOAD_PACKETS), elements, entries,
            ProcessMemory.status(pg.pid(), "VmRSS", "VmHWM").replace("; ", " ").trim());
    }

    /** The elements of set offload_ports; -1 when nft could not list it (printed as such, never taken for 0). */
    private static int elementCount(final Lab lab) throws Exception
    {
        final Lab.Result r = Lab.exec(lab.router(), 20_000, "nft", "-j", "list", "set", "inet", "passgate", "offload_ports");
        return r.ok() ? occurrences(r.output(), "\"concat\"") : -1;
    }

    /** The offloaded TCP and UDP flows passgate's engines list now (passgatectl tunnels). */
    private static int offloadedRows(final PassgateProcess pg)
    {
        int n = 0;
        for (final java.util.Map<String, Object> r : tunnels(pg))
        {
            if (Boolean.TRUE.equals(r.get("offloaded")))
            {
                n++;
            }
        }
        return n;
    }

    @SuppressWarnings("unchecked")
    private static List<java.util.Map<String, Object>> tunnels(final PassgateProcess pg)
    {
        final java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream();
        final java.io.PrintStream capture = new java.io.PrintStream(buffer, true, java.nio.charset.StandardCharsets.UTF_8);
        io.passgate.tools.ctl.PassgateCtl.run(new String[] {"--runtime-dir", pg.runtimeDir().toString(), "--json", "tunnels"},
            capture, capture);
        final Object rows = io.passgate.control.Json.parseObject(buffer.toString(java.nio.charset.StandardCharsets.UTF_8).strip())
            .get("tunnels");
        return rows instanceof List<?> l ? (List<java.util.Map<String, Object>>)l : List.of();
    }

    /** Prints the offloaded flows passgate's tunnel table lists whose elements are not in set offload_ports. */
    private static void diagnose(final Lab lab, final PassgateProcess pg) throws Exception
    {
        final String set = Lab.exec(lab.router(), 20_000, "nft", "list", "set", "inet", "passgate", "offload_ports").output();
        int listed = 0;
        for (final java.util.Map<String, Object> r : tunnels(pg))
        {
            if (!Boolean.TRUE.equals(r.get("offloaded")))
            {
                continue;
            }
            listed++;
            final String key = r.get("client") + " . " + r.get("server") + " . " + r.get("protocol") + " . "
                + r.get("client-port") + " . " + r.get("server-port");
            if (!set.contains(key))
            {
                System.out.println("soak: offloaded in passgate's tunnel table, not in set offload_ports: " + r);
            }
        }
        System.out.println("soak: passgate's tunnel table lists " + listed + " offloaded flows");
    }

    static int occurrences(final String text, final String what)
    {
        int n = 0;
        for (int at = text.indexOf(what); at >= 0; at = text.indexOf(what, at + what.length()))
        {
            n++;
        }
        return n;
    }

    private static void print(final long s, final Sample x)
    {
        System.out.printf(Locale.ROOT, "%5d %6d %9d %6d %9d %4d %6d %7d %8d %6d %12d %8d %10d  %s%n", s, x.live(),
            x.offloaded(), x.ended(), x.withdrawn(), x.handedBack(), x.errors(), x.refused(), x.ringFull(), x.strays(),
            x.kernelPackets(), x.elements(), x.entries(), x.rss());
    }
}

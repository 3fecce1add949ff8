package io.passgate.tools.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;

/**
 * passgate's resident memory in the lab (tools/bin/memory): one passgate started by its launcher (the
 * launcher's JVM options, plus PASSGATE_JAVA_OPTS), idle, then under iperf3 TCP with 4 streams, then 64-byte
 * UDP; prints /proc/PID/status's VmRSS, VmHWM, RssAnon and RssFile after each phase, the Java heap
 * (jcmd GC.heap_info), with --nmt the JVM's native memory summary and with --histogram the live heap's
 * biggest classes. Extra arguments go to passgate
 * (--set KEY=VALUE ...).
 */
public final class MemoryProbe
{
    private MemoryProbe()
    {
    }

    private static String status(final long pid) throws Exception
    {
        return ProcessMemory.status(pid, "VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads");
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length > 0 && ("--help".equals(args[0]) || "-h".equals(args[0])))
        {
            System.out.println("""
                Usage: memory [--nmt] [--histogram] [--journal] [--pi-zero] [--seconds S] [passgate options, e.g. --set nat.max-flows=16384]
                Starts passgate in the lab topology with its launcher's JVM options (plus PASSGATE_JAVA_OPTS),
                and prints its resident memory (/proc/PID/status: VmRSS, VmHWM, RssAnon, RssFile) idle (and its
                threads' wake-ups per second over 5 s idle: context switches by thread name), after
                S seconds (default 4) of iperf3 TCP with 4 streams and after S seconds of 64-byte UDP, then its
                Java heap (jcmd GC.heap_info), with --nmt the JVM's native memory summary and with --histogram
                the 30 biggest classes of the live heap (jcmd GC.class_histogram). --journal: as under systemd
                with its output to the journal (JOURNAL_STREAM names its output, so it logs without its own
                date). --pi-zero: as a 512 MB Pi Zero 2 W runs it by default: --journal, the JIT and table size
                the launcher and nat.max-flows = auto pick below 1 GiB (PASSGATE_JIT=c1, nat.max-flows=4096).
                PASSGATE_JIT=c1|c2 in the environment picks the JIT otherwise (auto: by this machine's memory).
                The last line is the peak against 64 MiB: VmHWM or the highest VmRSS sampled every 20 ms,
                whichever is higher (the kernel's VmHWM can miss memory given back with madvise). Needs root,
                iperf3, nft, iptables.""");
            return;
        }
        boolean nmt = false;
        boolean histogram = false;
        boolean journal = false;
        boolean piZero = false;
        int seconds = 4;
        final List<String> extra = new ArrayList<>();
        for (int i = 0; i < args.length; i++)
        {
            if ("--nmt".equals(args[i]))
            {
                nmt = true;
            }
            else if ("--journal".equals(args[i]))
            {
                journal = true;
            }
            else if ("--pi-zero".equals(args[i]))
            {
                piZero = true;
                journal = true;
            }
            else if ("--histogram".equals(args[i]))
            {
                histogram = true;
            }
            else if ("--seconds".equals(args[i]) && i + 1 < args.length)
            {
                seconds = Integer.parseInt(args[++i]);
            }
            else
            {
                extra.add(args[i]);
            }
        }
        final Path jcmd = ProcessMemory.jcmd();
        try (Lab lab = Lab.create(1))
        {
            final Process tcp = lab.spawn(lab.server(1), null, "iperf3", "-s", "-p", "5201");
            final Process udp = lab.spawn(lab.server(1), null, "iperf3", "-s", "-p", "5301");
            final Map<String, String> env = new HashMap<>();
            final String opts = System.getenv().getOrDefault("PASSGATE_JAVA_OPTS", "");
            env.put("PASSGATE_JAVA_OPTS", (opts + (nmt ? " -XX:NativeMemoryTracking=summary" : "")).trim());
            if (journal)
            {
                env.put(Lab.JOURNAL_STREAM, Lab.AS_JOURNAL);
            }
            if (piZero)
            {
                env.put("PASSGATE_JIT", "c1");
                extra.add(0, "--set");
                extra.add(1, "nat.max-flows=4096");
            }
            final PassgateProcess pg = lab.spawnPassgate(env, extra.toArray(String[]::new));
            Thread.sleep(4000);
            final long pid = pg.pid();
            final ProcessMemory.RssSampler sampler = new ProcessMemory.RssSampler(pid, 20);
            System.out.printf(Locale.ROOT, "passgate %s%s (pid %d, JIT %s)%n", String.join(" ", extra),
                journal ? " (journal)" : "", pid, ProcessMemory.jit(pid));
            System.out.println("  idle:          " + status(pid));
            final Map<String, Long> before = ProcessMemory.switches(pid);
            Thread.sleep(5000);
            System.out.println("  idle wake-ups: " + ProcessMemory.wakeups(before, ProcessMemory.switches(pid), 5000)
                + " (context switches over 5 s, by thread)");
            Lab.exec(lab.client(1), 60_000 + seconds * 1000L, "iperf3", "-c", Lab.serverAddress(1), "-p", "5201",
                "-t", Integer.toString(seconds), "-P", "4");
            System.out.println("  after TCP x4:  " + status(pid));
            Lab.exec(lab.client(1), 60_000 + seconds * 1000L, "iperf3", "-u", "-c", Lab.serverAddress(1), "-p",
                "5301", "-t", Integer.toString(seconds), "-b", "0", "-l", "64");
            System.out.println("  after UDP 64B: " + status(pid));
            final long hwm = ProcessMemory.kb(pid, "VmHWM");
            final long peak = Math.max(hwm, sampler.maxKb());
            sampler.close();
            System.out.printf(Locale.ROOT, "  peak: %d kB = %.1f MiB, %s 64 MiB (VmHWM %d kB, highest VmRSS of %d"
                + " samples 20 ms apart from 4 s after start %d kB)%n", peak, peak / 1024.0,
                peak < 65536 ? "under" : "over", hwm, sampler.samples(), sampler.maxKb());
            if (Files.isExecutable(jcmd))
            {
                final String heapInfo = Lab.exec(null, 20_000, jcmd.toString(), Long.toString(pid), "GC.heap_info").output();
                System.out.println("  " + ProcessMemory.heapOf(heapInfo));
                System.out.println(heapInfo);
                if (nmt)
                {
                    System.out.println(Lab.exec(null, 20_000, jcmd.toString(), Long.toString(pid),
                        "VM.native_memory", "summary").output());
                }
                if (histogram)
                {
                    final String[] lines = Lab.exec(null, 20_000, jcmd.toString(), Long.toString(pid),
                        "GC.class_histogram").output().split("\n");
                    for (int i = 0; i < Math.min(lines.length, 33); i++)
                    {
                        System.out.println(lines[i]);
                    }
                    System.out.println(lines[lines.length - 1]);
                }
            }
            pg.stop();
            tcp.destroy();
            udp.destroy();
        }
    }
}

package io.passgate.tools.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.passgate.tools.lab.Lab;

/** A process's memory as the bench and the memory probe print it: /proc/PID/status lines and the JVM's heap. */
final class ProcessMemory
{
    /** One generation of GC.heap_info: "DefNew total 1856K, used 581K", "Tenured total 14336K, used 8712K". */
    private static final Pattern GENERATION = Pattern.compile("(?m)^(\\w+)\\s+total (\\d+)K, used (\\d+)K");

    private ProcessMemory()
    {
    }

    /** The lines of /proc/PID/status named by {@code keys}, in the file's order, whitespace squeezed. */
    static String status(final long pid, final String... keys) throws IOException
    {
        final StringBuilder b = new StringBuilder();
        for (final String line : Files.readAllLines(Path.of("/proc/" + pid + "/status")))
        {
            for (final String key : keys)
            {
                if (line.startsWith(key + ":"))
                {
                    b.append(line.replaceAll("\\s+", " ")).append("; ");
                }
            }
        }
        return b.toString();
    }

    /**
     * The highest VmRSS of a process seen by reading /proc/PID/status every {@code periodMs} on a daemon thread
     * until closed. VmHWM alone can miss a peak: the kernel updates its high-water mark lazily (at unmap and exit,
     * not when glibc or the JVM give pages back with madvise), so a short peak that went that way may not show in
     * it while the process lives.
     */
    static final class RssSampler implements AutoCloseable
    {
        private final Thread thread;
        private volatile boolean running = true;
        private volatile long maxKb = -1;
        private volatile long samples;

        RssSampler(final long pid, final long periodMs)
        {
            thread = new Thread(() ->
            {
                while (running)
                {
                    try
                    {
                        final long kb = kb(pid, "VmRSS");
                        if (kb > maxKb)
                        {
                            maxKb = kb;
                        }
                        samples++;
                        Thread.sleep(periodMs);
                    }
                    catch (final IOException | RuntimeException e)
                    {
                        return;   // the process is gone
                    }
                    catch (final InterruptedException e)
                    {
                        return;
                    }
                }
            }, "rss-sampler");
            thread.setDaemon(true);
            thread.start();
        }

        /** The highest VmRSS seen so far, kB (-1 before the first sample). */
        long maxKb()
        {
            return maxKb;
        }

        long samples()
        {
            return samples;
        }

        @Override
        public void close()
        {
            running = false;
            thread.interrupt();
        }
    }

    /** One /proc/PID/status value in kB (VmHWM, VmRSS, ...), or -1 when the process has no such line. */
    static long kb(final long pid, final String key) throws IOException
    {
        for (final String line : Files.readAllLines(Path.of("/proc/" + pid + "/status")))
        {
            if (line.startsWith(key + ":"))
            {
                return Long.parseLong(line.substring(key.length() + 1).trim().split("\\s+")[0]);
            }
        }
        return -1;
    }

    /**
     * The JIT a JVM's command line picks, as passgate's launcher sets it (PASSGATE_JIT): "c1" (tiered, stopped at
     * level 1), "c2" (tiered compilation off), else "tiered" (the JVM's default); the last option of each wins.
     */
    static String jit(final long pid) throws IOException
    {
        return jitOf(new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")),
            java.nio.charset.StandardCharsets.UTF_8).split("\0"));
    }

    static String jitOf(final String[] args)
    {
        boolean tiered = true;
        int stop = 4;
        for (final String a : args)
        {
            if ("-XX:-TieredCompilation".equals(a))
            {
                tiered = false;
            }
            else if ("-XX:+TieredCompilation".equals(a))
            {
                tiered = true;
            }
            else if (a.startsWith("-XX:TieredStopAtLevel="))
            {
                stop = Integer.parseInt(a.substring("-XX:TieredStopAtLevel=".length()));
            }
        }
        return !tiered ? "c2" : stop >= 1 && stop <= 3 ? "c1" : stop == 0 ? "interpreter" : "tiered";
    }

    /**
     * Context switches (voluntary and not) per thread name of process {@code pid}: each thread's count from
     * /proc/PID/task/TID/status, summed over threads of the same name.
     */
    static java.util.Map<String, Long> switches(final long pid) throws IOException
    {
        final java.util.Map<String, Long> out = new java.util.TreeMap<>();
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task")))
        {
            for (final Path task : tasks.toList())
            {
                try
                {
                    String name = "?";
                    long n = 0;
                    for (final String line : Files.readAllLines(task.resolve("status")))
                    {
                        if (line.startsWith("Name:"))
                        {
                            name = line.substring(5).trim();
                        }
                        else if (line.startsWith("voluntary_ctxt_switches:") || line.startsWith("nonvoluntary_ctxt_switches:"))
                        {
                            n += Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                        }
                    }
                    out.merge(name, n, Long::sum);
                }
                catch (final IOException | NumberFormatException e)
                {
                    // the thread ended meanwhile
                }
            }
        }
        return out;
    }

    /** Wake-ups per second and thread name between two {@link #switches} samples {@code ms} apart, busiest first. */
    static String wakeups(final java.util.Map<String, Long> before, final java.util.Map<String, Long> after, final long ms)
    {
        final java.util.List<java.util.Map.Entry<String, Long>> d = new java.util.ArrayList<>();
        long total = 0;
        for (final java.util.Map.Entry<String, Long> e : after.entrySet())
        {
            final long n = e.getValue() - before.getOrDefault(e.getKey(), 0L);
            total += n;
            if (n * 1000 / ms >= 1)
            {
                d.add(java.util.Map.entry(e.getKey(), n));
            }
        }
        d.sort((a, b) -> Long.compare(b.getValue(), a.getValue()));
        final StringBuilder b = new StringBuilder(String.format(java.util.Locale.ROOT, "%.1f/s in all", total * 1000.0 / ms));
        for (final java.util.Map.Entry<String, Long> e : d)
        {
            b.append(String.format(java.util.Locale.ROOT, "; %s %.1f/s", e.getKey(), e.getValue() * 1000.0 / ms));
        }
        return b.toString();
    }

    /** The Java heap from {@code jcmd PID GC.heap_info}: every generation's committed and used size, and the sum. */
    static String heap(final long pid) throws IOException
    {
        final Path jcmd = jcmd();
        if (!Files.isExecutable(jcmd))
        {
            return "";
        }
        return heapOf(Lab.exec(null, 20_000, jcmd.toString(), Long.toString(pid), "GC.heap_info").output());
    }

    /** {@link #heap} of GC.heap_info's text. */
    static String heapOf(final String heapInfo)
    {
        final Matcher m = GENERATION.matcher(heapInfo);
        final StringBuilder b = new StringBuilder();
        long total = 0;
        long used = 0;
        while (m.find())
        {
            final long t = Long.parseLong(m.group(2));
            final long u = Long.parseLong(m.group(3));
            b.append(m.group(1)).append(' ').append(u).append("K of ").append(t).append("K, ");
            total += t;
            used += u;
        }
        return b.length() == 0 ? "" : "heap used " + used + "K of " + total + "K (" + b.substring(0, b.length() - 2) + ")";
    }

    static Path jcmd()
    {
        return Path.of(System.getProperty("java.home"), "bin", "jcmd");
    }
}

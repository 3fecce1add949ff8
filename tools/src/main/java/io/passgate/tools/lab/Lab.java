package io.passgate.tools.lab;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import io.passgate.sys.Netns;

/**
 * The lab topology: network namespaces for N LAN clients, a LAN switch, the router that runs passgate, a WAN
 * switch and two WAN servers on two addresses. Everything it creates and starts it removes and stops on
 * {@link #close()}, also from a JVM shutdown hook, and {@link #sweepStale()} removes what an earlier, killed
 * run left behind. Used by the end-to-end tests, the demo and the benchmark.
 *
 * <pre>
 *  c1 (10.77.0.11) ─┐                          ┌─ s1 (203.0.113.10)
 *  c2 (10.77.0.12) ─┼─ lsw ─ lan0 [router] wan0 ─ wsw ─┤
 *  cN ...          ─┘   10.77.0.1   203.0.113.1        └─ s2 (203.0.113.20)
 * </pre>
 */
public final class Lab implements AutoCloseable
{
    public static final String PREFIX = "pg";
    public static final String LAN_NET = "10.77.0";
    public static final String WAN_NET = "203.0.113";
    public static final String ROUTER_LAN = LAN_NET + ".1";
    public static final String ROUTER_WAN = WAN_NET + ".1";
    public static final String LAN_IF = "lan0";
    public static final String WAN_IF = "wan0";
    private static final AtomicInteger SEQUENCE = new AtomicInteger();
    private static final List<Lab> OPEN = Collections.synchronizedList(new ArrayList<>());

    static
    {
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            for (final Lab lab : new ArrayList<>(OPEN))
            {
                lab.close();
            }
        }, "lab-cleanup"));
    }

    /** A command's exit status and output. */
    public record Result(int status, String output)
    {
        public boolean ok()
        {
            return status == 0;
        }
    }

    private final String id;
    private final int clients;
    private final Path workDir;
    private final List<String> namespaces = new ArrayList<>();
    private final List<Process> processes = Collections.synchronizedList(new ArrayList<>());
    private boolean closed;

    private Lab(final String id, final int clients) throws IOException
    {
        this.id = id;
        this.clients = clients;
        this.workDir = Files.createTempDirectory(id + "-");
        // traversable by others, as /run is: the control socket's own mode decides who may use it
        Files.setPosixFilePermissions(workDir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** Builds the topology with {@code clients} LAN clients (1..9). */
    public static Lab create(final int clients) throws IOException
    {
        if (clients < 1 || clients > 9)
        {
            throw new IllegalArgumentException("clients must be 1..9");
        }
        sweepStale();
        final Lab lab = new Lab(PREFIX + ProcessHandle.current().pid() + "x" + SEQUENCE.incrementAndGet(), clients);
        OPEN.add(lab);
        try
        {
            lab.build();
        }
        catch (final IOException | RuntimeException e)
        {
            lab.close();
            throw e;
        }
        return lab;
    }

    private void build() throws IOException
    {
        for (final String role : roles())
        {
            addNamespace(ns(role));
        }
        // switches
        for (final String sw : new String[] {"lsw", "wsw"})
        {
            must(ns(sw), "ip", "link", "add", "br0", "type", "bridge");
            must(ns(sw), "ip", "link", "set", "br0", "up");
        }
        // router
        link("r", LAN_IF, "lsw", "r");
        link("r", WAN_IF, "wsw", "r");
        must(ns("r"), "ip", "addr", "add", ROUTER_LAN + "/24", "dev", LAN_IF);
        must(ns("r"), "ip", "addr", "add", ROUTER_WAN + "/24", "dev", WAN_IF);
        must(ns("r"), "sysctl", "-qw", "net.ipv4.ip_forward=1");
        // clients
        for (int i = 1; i <= clients; i++)
        {
            final String c = "c" + i;
            link(c, "eth0", "lsw", c);
            must(ns(c), "ip", "addr", "add", clientAddress(i) + "/24", "dev", "eth0");
            must(ns(c), "ip", "route", "add", "default", "via", ROUTER_LAN);
        }
        // servers: on-link to the WAN address only; no route to the LAN, so a leaked LAN address goes nowhere
        for (int i = 1; i <= 2; i++)
        {
            final String s = "s" + i;
            link(s, "eth0", "wsw", s);
            must(ns(s), "ip", "addr", "add", serverAddress(i) + "/24", "dev", "eth0");
        }
    }

    private List<String> roles()
    {
        final List<String> roles = new ArrayList<>(List.of("lsw", "wsw", "r", "s1", "s2"));
        for (int i = 1; i <= clients; i++)
        {
            roles.add("c" + i);
        }
        return roles;
    }

    private void addNamespace(final String name) throws IOException
    {
        must(null, "ip", "netns", "add", name);
        namespaces.add(name);
        must(name, "ip", "link", "set", "lo", "up");
    }

    /** A veth pair: {@code ifName} in {@code role}, its peer a port of {@code sw}'s bridge. */
    private void link(final String role, final String ifName, final String sw, final String portName) throws IOException
    {
        must(null, "ip", "-n", ns(role), "link", "add", ifName, "type", "veth", "peer", "name", portName, "netns", ns(sw));
        must(ns(sw), "ip", "link", "set", portName, "master", "br0", "up");
        must(ns(role), "ip", "link", "set", ifName, "up");
    }

    public String id()
    {
        return id;
    }

    public Path workDir()
    {
        return workDir;
    }

    public int clients()
    {
        return clients;
    }

    /** The namespace of a role: "r", "c1".."cN", "s1", "s2", "lsw", "wsw". */
    public String ns(final String role)
    {
        return id + "-" + role;
    }

    public String client(final int i)
    {
        return ns("c" + i);
    }

    public String server(final int i)
    {
        return ns("s" + i);
    }

    public String router()
    {
        return ns("r");
    }

    public static String clientAddress(final int i)
    {
        return LAN_NET + "." + (10 + i);
    }

    public static String serverAddress(final int i)
    {
        return WAN_NET + "." + (i * 10);
    }

    // ------------------------------------------------------------------------------------ running things

    public static Result exec(final String ns, final long timeoutMs, final String... command) throws IOException
    {
        final List<String> full = new ArrayList<>();
        if (ns != null)
        {
            full.addAll(List.of("ip", "netns", "exec", ns));
        }
        full.addAll(List.of(command));
        final Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        p.getOutputStream().close();
        final CompletableFuture<String> out = CompletableFuture.supplyAsync(() ->
        {
            try
            {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            }
            catch (final IOException e)
            {
                return "";
            }
        });
        try
        {
            if (!p.waitFor(timeoutMs, TimeUnit.MILLISECONDS))
            {
                p.destroyForcibly();
                throw new IOException(String.join(" ", full) + ": still running after " + timeoutMs + " ms");
            }
            return new Result(p.exitValue(), out.get(5, TimeUnit.SECONDS));
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted: " + String.join(" ", full));
        }
        catch (final ExecutionException | TimeoutException e)
        {
            return new Result(p.exitValue(), "");
        }
    }

    /** Runs a command in a namespace (null: the caller's), 60 s at most. */
    public Result exec(final String ns, final String... command) throws IOException
    {
        return exec(ns, 60_000, command);
    }

    /** As {@link #exec}, failing with the command's output when its status is not 0. */
    public String must(final String ns, final String... command) throws IOException
    {
        final Result r = exec(ns, 60_000, command);
        if (!r.ok())
        {
            throw new IOException((ns == null ? "" : "[" + ns + "] ") + String.join(" ", command) + " -> "
                + r.status() + ": " + r.output().strip());
        }
        return r.output();
    }

    /** Starts a long-running command in a namespace, its output to {@code log}; stopped by {@link #close}. */
    public Process spawn(final String ns, final Path log, final String... command) throws IOException
    {
        final List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(List.of(command));
        final ProcessBuilder pb = new ProcessBuilder(full).redirectErrorStream(true);
        pb.redirectOutput(log == null ? ProcessBuilder.Redirect.DISCARD : ProcessBuilder.Redirect.appendTo(log.toFile()));
        final Process p = pb.start();
        p.getOutputStream().close();
        processes.add(p);
        return p;
    }

    /**
     * Runs {@code work} on a new thread that first enters namespace {@code ns} (setns is per thread): sockets
     * it opens live there. Waits at most {@code timeoutMs}.
     */
    public static <T> T inNamespace(final String ns, final long timeoutMs, final Callable<T> work) throws Exception
    {
        final CompletableFuture<T> result = inNamespaceAsync(ns, work);
        try
        {
            return result.get(timeoutMs, TimeUnit.MILLISECONDS);
        }
        catch (final ExecutionException e)
        {
            if (e.getCause() instanceof Exception ex)
            {
                throw ex;
            }
            throw e;
        }
    }

    /** Starts work in a namespace without waiting; the future completes with its result. */
    public static <T> CompletableFuture<T> inNamespaceAsync(final String ns, final Callable<T> work)
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
        }, "in-" + ns);
        t.setDaemon(true);
        t.start();
        return result;
    }

    // ---------------------------------------------------------------------------------------- passgate

    /** Where the launchers live: -Dpassgate.home, else the tools directory this code was built in. */
    public static Path home()
    {
        final String configured = System.getProperty("passgate.home");
        if (configured != null)
        {
            return Path.of(configured);
        }
        try
        {
            Path p = Path.of(Lab.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            while (p != null && !Files.exists(p.resolve("bin/passgate")))
            {
                p = p.getParent();
            }
            if (p != null)
            {
                return p;
            }
        }
        catch (final Exception ignore)
        {
            // fall through
        }
        return Path.of("tools").toAbsolutePath();
    }

    /**
     * Starts passgate in the router with {@code tools/bin/passgate --lan-if lan0 --wan-if wan0 --wan-address auto}
     * plus {@code extra}, its runtime files in this lab's directory, and waits until it runs.
     */
    public PassgateProcess startPassgate(final String... extra) throws IOException
    {
        return startPassgate(Map.of(), extra);
    }

    /** {@link #startPassgate(String...)} with {@code env} added to the launcher's environment (as spawnPassgate). */
    public PassgateProcess startPassgate(final Map<String, String> env, final String... extra) throws IOException
    {
        final PassgateProcess pg = spawnPassgate(env, extra);
        pg.awaitRunning(60_000);
        return pg;
    }

    /**
     * Starts passgate again after a stop or a crash, keeping what the last one left in its runtime directory: its
     * state files (the sessions a restart takes up). {@link #startPassgate} starts afresh: without them.
     */
    public PassgateProcess restartPassgate(final String... extra) throws IOException
    {
        final PassgateProcess pg = spawn(Map.of(), true, extra);
        pg.awaitRunning(60_000);
        return pg;
    }

    /** The environment variable systemd sets when a service's standard output is the journal. */
    public static final String JOURNAL_STREAM = "JOURNAL_STREAM";
    /** As JOURNAL_STREAM's value in spawnPassgate's env: name passgate's log file, as systemd names the journal's stream. */
    public static final String AS_JOURNAL = "@log";

    /**
     * Starts passgate as {@link #startPassgate} does (afresh: the state files an earlier one in this lab left are
     * removed), with {@code env} added to its environment; does not wait.
     */
    public PassgateProcess spawnPassgate(final Map<String, String> env, final String... extra) throws IOException
    {
        return spawn(env, false, extra);
    }

    private PassgateProcess spawn(final Map<String, String> env, final boolean keepState, final String... extra)
        throws IOException
    {
        final Path run = workDir.resolve("run");
        if (!keepState && Files.isDirectory(run))
        {
            try (var files = Files.list(run))
            {
                for (final Path f : files.filter(f -> f.getFileName().toString().startsWith("state-")).toList())
                {
                    Files.delete(f);
                }
            }
        }
        final Path state = workDir.resolve("state");
        final Path log = workDir.resolve("passgate-" + System.nanoTime() + ".log");
        final List<String> command = new ArrayList<>(List.of("env"));
        for (final Map.Entry<String, String> e : env.entrySet())
        {
            String value = e.getValue();
            if (JOURNAL_STREAM.equals(e.getKey()) && AS_JOURNAL.equals(value))
            {
                // as systemd does for a service whose output is the journal: the stream's "device:inode"
                Files.createFile(log);
                final Map<String, Object> a = Files.readAttributes(log, "unix:dev,ino");
                value = a.get("dev") + ":" + a.get("ino");
            }
            command.add(e.getKey() + "=" + value);
        }
        command.addAll(List.of(home().resolve("bin/passgate").toString(),
            "--lan-if", LAN_IF, "--wan-if", WAN_IF, "--wan-address", "auto",
            "--set", "runtime-dir=" + run, "--set", "state-dir=" + state));
        command.addAll(List.of(extra));
        final Process process = spawn(router(), log, command.toArray(String[]::new));
        return new PassgateProcess(process, log, run);
    }

    // ------------------------------------------------------------------------------------------ cleanup

    @Override
    public synchronized void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        OPEN.remove(this);
        for (final Process p : new ArrayList<>(processes))
        {
            stop(p);
        }
        for (int i = namespaces.size() - 1; i >= 0; i--)
        {
            deleteNamespace(namespaces.get(i));
        }
        if (!Boolean.getBoolean("passgate.keepLabFiles"))
        {
            deleteTree(workDir);
        }
    }

    /** Empties the state directory the lab's daemons use (remembered switches): the next start is a first start. */
    public void resetState() throws IOException
    {
        deleteTree(workDir.resolve("state"));
    }

    /** Stops a process this lab spawned: SIGTERM, then SIGKILL after a grace period. */
    public static void stop(final Process p)
    {
        if (!p.isAlive())
        {
            return;
        }
        // the netns-exec'd process is the command itself (ip netns exec execs it)
        p.toHandle().descendants().forEach(ProcessHandle::destroy);
        p.destroy();
        try
        {
            if (!p.waitFor(10, TimeUnit.SECONDS))
            {
                p.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    private static void deleteNamespace(final String name)
    {
        try
        {
            // processes still inside (a daemon a test forgot, a peer) are killed first
            final Result pids = exec(null, 10_000, "ip", "netns", "pids", name);
            for (final String pid : pids.output().split("\\s+"))
            {
                if (pid.matches("\\d+"))
                {
                    ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
                }
            }
            exec(null, 10_000, "ip", "netns", "del", name);
        }
        catch (final IOException ignore)
        {
            // best effort: sweepStale will retry
        }
    }

    private static void deleteTree(final Path dir)
    {
        try (Stream<Path> walk = Files.walk(dir))
        {
            walk.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
        catch (final IOException ignore)
        {
            // nothing to do
        }
    }

    /** Deletes lab namespaces whose creating process is gone (a killed test run). */
    public static void sweepStale()
    {
        try
        {
            final Result list = exec(null, 10_000, "ip", "netns", "list");
            for (final String line : list.output().split("\n"))
            {
                final String name = line.split("\\s+")[0];
                if (!name.startsWith(PREFIX))
                {
                    continue;
                }
                final int x = name.indexOf('x');
                if (x <= PREFIX.length())
                {
                    continue;
                }
                try
                {
                    final long owner = Long.parseLong(name.substring(PREFIX.length(), x));
                    if (owner != ProcessHandle.current().pid() && ProcessHandle.of(owner).map(ProcessHandle::isAlive).orElse(false))
                    {
                        continue;
                    }
                    if (owner == ProcessHandle.current().pid() && OPEN.stream().anyMatch(l -> name.startsWith(l.id + "-")))
                    {
                        continue;
                    }
                    deleteNamespace(name);
                }
                catch (final NumberFormatException ignore)
                {
                    // not ours
                }
            }
        }
        catch (final IOException ignore)
        {
            // no ip command: nothing to sweep
        }
    }
}

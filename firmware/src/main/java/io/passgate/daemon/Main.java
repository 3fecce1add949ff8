package io.passgate.daemon;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;

import io.passgate.config.ConfigException;
import io.passgate.config.ConfigSource;
import io.passgate.config.ConfigKeys;
import io.passgate.config.PassgateContext;
import io.passgate.nft.Firewall;
import io.passgate.nft.QueueBackend;
import io.passgate.nft.RulesetRenderer;
import io.passgate.nft.RulesetSpec;
import org.tinylog.Logger;
import org.tinylog.configuration.Configuration;
import org.tinylog.provider.ProviderRegistry;

/**
 * {@code passgate}: the daemon's command line. Exit status 0 on a clean stop, 2 for a usage or configuration
 * error, 1 when it could not start.
 */
public final class Main
{
    public static final String VERSION = "0.1.0";

    static final String HELP = """
        Usage: passgate [OPTIONS]
        VPN-passthrough NAT gateway: NATs the LAN to the WAN through a Java NFQUEUE dataplane.

        Options:
          --config FILE          read settings from FILE (key = value lines; see passgate.conf)
          --lan-if IFACE         LAN interface                     (key lan-interface)
          --wan-if IFACE         WAN interface                     (key wan-interface)
          --wan-address ADDR     WAN address, or 'auto' from the WAN interface (key wan-address)
          --set KEY=VALUE        any other key (repeatable); command-line values override the file
          --check-config         validate, print the effective settings and exit
          --print-rules          print the nftables (and iptables) rules it would apply and exit
          --remove-rules         remove table inet passgate and passgate's iptables chains, then exit
          --version              print the version and exit
          -h, --help             this text

        With only --lan-if, --wan-if and --wan-address it runs on defaults, installs its rules and
        forwards. SIGTERM or SIGINT stops it cleanly: its queue rules are removed and the fail-mode
        fallback is left (kernel masquerade for fail-mode=open, LAN-to-WAN blocked for closed), or
        nothing with on-stop=remove. Started by systemd (Type=notify, $NOTIFY_SOCKET), it reports
        ready once its rules are in and the dataplane runs, and pings the watchdog (WatchdogSec=) only
        while every dataplane thread makes progress.

        board = auto | pi4j | gpio | virtual | none picks the status panel (push-button and LEDs): auto takes
        Pi4J on a Raspberry Pi, else passgate's own GPIO binding where a GPIO chip exists, else the virtual
        board. Its board.* keys (profile, gpio-chip, button-pin, led-*-pin, ..., on-error) are listed with
        their defaults in the sample passgate.conf.

        web.listen serves the status page (switches, LEDs, live tunnels, refusals and drops, traffic charts, and
        JSON under /api/) on the LAN address, port 80 by default; a wildcard or the WAN address is refused.
        Changing a switch there needs web.password-hash (set it with passgatectl web-password); without one the
        page is read-only.

        The launcher runs the JVM with a heap for the default tables (-Xmx32m) and its JIT by PASSGATE_JIT =
        auto | c1 | c2: auto takes C1 below 1 GiB of memory (a smaller peak: a Pi Zero 2 W stays under 64 MiB)
        and C2 from 1 GiB on (a faster packet path); PASSGATE_JAVA_OPTS come last and win (passgate(8)).

        Keys and defaults:
        """;

    private Main()
    {
    }

    public static void main(final String[] args)
    {
        System.exit(run(args, System.out, System.err));
    }

    static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        final ConfigSource cli = new ConfigSource();
        Path configFile = null;
        String action = "run";
        try
        {
            for (int i = 0; i < args.length; i++)
            {
                final String a = args[i];
                switch (a)
                {
                    case "-h", "--help" ->
                    {
                        out.print(help());
                        return 0;
                    }
                    case "--version" ->
                    {
                        out.println("passgate " + VERSION);
                        return 0;
                    }
                    case "--config" -> configFile = Path.of(value(args, ++i, a));
                    case "--lan-if" -> cli.set(ConfigKeys.LAN_INTERFACE_PROP_NAME, value(args, ++i, a), "option --lan-if");
                    case "--wan-if" -> cli.set(ConfigKeys.WAN_INTERFACE_PROP_NAME, value(args, ++i, a), "option --wan-if");
                    case "--wan-address" -> cli.set(ConfigKeys.WAN_ADDRESS_PROP_NAME, value(args, ++i, a), "option --wan-address");
                    case "--set" ->
                    {
                        final String kv = value(args, ++i, a);
                        final int eq = kv.indexOf('=');
                        if (eq <= 0)
                        {
                            throw new ConfigException("option --set: expected KEY=VALUE, got '" + kv + "'");
                        }
                        cli.set(kv.substring(0, eq).strip(), kv.substring(eq + 1).strip(), "option --set " + kv.substring(0, eq).strip());
                    }
                    case "--check-config" -> action = "check";
                    case "--print-rules" -> action = "print";
                    case "--remove-rules" -> action = "remove";
                    default -> throw new ConfigException("unknown option '" + a + "' (see --help)");
                }
            }
        }
        catch (final ConfigException e)
        {
            err.println("passgate: " + e.getMessage());
            return 2;
        }

        final PassgateContext ctx;
        final Path file = configFile;
        final java.util.function.Supplier<PassgateContext> reloader = () ->
        {
            try
            {
                final ConfigSource again = file != null ? ConfigSource.load(file) : new ConfigSource();
                for (final ConfigSource.Entry e : cli.entries().values())
                {
                    again.set(e.key(), e.value(), e.origin());
                }
                return new PassgateContext().conclude(again, PassgateContext.SYSTEM_RESOLVER);
            }
            catch (final ConfigException e)
            {
                throw new IllegalArgumentException(e.getMessage());
            }
        };
        try
        {
            final ConfigSource source = configFile != null ? ConfigSource.load(configFile) : new ConfigSource();
            for (final ConfigSource.Entry e : cli.entries().values())
            {
                source.set(e.key(), e.value(), e.origin());
            }
            if (action.equals("remove") && source.get(ConfigKeys.LAN_INTERFACE_PROP_NAME) == null)
            {
                return remove(null, out, err);
            }
            ctx = new PassgateContext().conclude(source, PassgateContext.SYSTEM_RESOLVER);
        }
        catch (final ConfigException e)
        {
            err.println("passgate: " + e.getMessage());
            return 2;
        }

        configureLogging(ctx.logLevel());
        final Firewall firewall = new Firewall();
        switch (action)
        {
            case "check" ->
            {
                for (final Map.Entry<String, String> e : ctx.effective().entrySet())
                {
                    out.println(e.getKey() + " = " + e.getValue());
                }
                return 0;
            }
            case "print" ->
            {
                try
                {
                    final RulesetSpec spec = Daemon.specFor(ctx, firewall);
                    out.print(RulesetRenderer.nftScript(spec));
                    if (spec.backend() == QueueBackend.IPTABLES)
                    {
                        out.print(RulesetRenderer.iptablesScript(spec));
                    }
                    return 0;
                }
                catch (final Exception e)
                {
                    err.println("passgate: " + e.getMessage());
                    return 1;
                }
            }
            case "remove" ->
            {
                return remove(ctx, out, err);
            }
            default ->
            {
                return runDaemon(ctx, firewall, err, reloader);
            }
        }
    }

    private static int remove(final PassgateContext ctx, final PrintStream out, final PrintStream err)
    {
        try
        {
            new Firewall().remove(null, false);
            out.println("passgate: rules removed");
            return 0;
        }
        catch (final Exception e)
        {
            err.println("passgate: " + e.getMessage());
            return 1;
        }
    }

    private static int runDaemon(final PassgateContext ctx, final Firewall firewall, final PrintStream err,
        final java.util.function.Supplier<PassgateContext> reloader)
    {
        final Daemon daemon = new Daemon(ctx, firewall, reloader,
            SystemdNotifier.fromEnvironment(System.getenv(), ProcessHandle.current().pid()));
        final Thread hook = new Thread(() ->
        {
            daemon.close();
            try
            {
                ProviderRegistry.getLoggingProvider().shutdown();
            }
            catch (final InterruptedException ignore)
            {
                Thread.currentThread().interrupt();
            }
        }, "passgate-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        // SIGTERM and SIGINT are a clean stop with exit status 0 (with only the hook, the JVM exits 143)
        final sun.misc.SignalHandler stop = signal -> daemon.close();
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), stop);
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), stop);
        try
        {
            daemon.start();
        }
        catch (final Exception e)
        {
            Logger.error("cannot start: {}", e.getMessage());
            err.println("passgate: cannot start: " + e.getMessage());
            daemon.close();
            return 1;
        }
        try
        {
            daemon.awaitStop();
            daemon.awaitClosed();
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        Runtime.getRuntime().removeShutdownHook(hook);
        try
        {
            ProviderRegistry.getLoggingProvider().shutdown();
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    private static String value(final String[] args, final int i, final String option) throws ConfigException
    {
        if (i >= args.length)
        {
            throw new ConfigException("option " + option + " needs a value");
        }
        return args[i];
    }

    /** The {@code --help} text: options, then every configuration key with its default. */
    public static String help()
    {
        final StringBuilder b = new StringBuilder(HELP);
        for (final Map.Entry<String, String> e : ConfigKeys.DEFAULTS.entrySet())
        {
            b.append("  ").append(e.getKey()).append(" = ").append(e.getValue() == null ? "(required)" : e.getValue())
                .append('\n');
        }
        return b.toString();
    }

    /** Log lines with their own time stamp, for a terminal or a file. */
    static final String DATED_FORMAT = "{date:yyyy-MM-dd HH:mm:ss.SSS} {level}: {message}";
    /** Log lines for the systemd journal, which stamps every line itself. */
    static final String JOURNAL_FORMAT = "{level}: {message}";

    static void configureLogging(final String level)
    {
        try
        {
            Configuration.set("writer", "console");
            Configuration.set("writer.format", logFormat(System.getenv("JOURNAL_STREAM"), stdoutIdentity()));
            Configuration.set("writer.level", level);
            Configuration.set("writer.stream", "out");
            Configuration.set("writingthread", "true");
            Configuration.set("autoshutdown", "false");
        }
        catch (final UnsupportedOperationException ignore)
        {
            // already frozen (logging used before): keep what is set
        }
    }

    /**
     * The log format: without passgate's own date when standard output is the systemd journal, which stamps each
     * line (and the date formatter's java.time and locale classes cost about 1 MB of class metadata). systemd
     * sets JOURNAL_STREAM to "device:inode" of the journal stream it connected; like sd_journal_stream_fd's
     * users, the variable counts only when that is still standard output (a child whose output was redirected
     * inherits the variable, not the stream).
     *
     * @param journalStream JOURNAL_STREAM, or null.
     * @param stdout        "device:inode" of standard output, or null when unknown.
     */
    static String logFormat(final String journalStream, final String stdout)
    {
        return journalStream != null && !journalStream.isEmpty() && journalStream.equals(stdout) ? JOURNAL_FORMAT
            : DATED_FORMAT;
    }

    /** "device:inode" of standard output (as systemd writes JOURNAL_STREAM), or null. */
    static String stdoutIdentity()
    {
        try
        {
            final Map<String, Object> a = java.nio.file.Files.readAttributes(Path.of("/proc/self/fd/1"), "unix:dev,ino");
            return a.get("dev") + ":" + a.get("ino");
        }
        catch (final Exception e)
        {
            return null;
        }
    }
}

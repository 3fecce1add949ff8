package io.passgate.tools.ctl;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.passgate.counters.CountersFile;

/**
 * passgatectl: reads and controls a running passgate. Exit status: 0 ok, 1 the daemon is not running or
 * refused, 2 usage error, 3 not permitted.
 */
public final class PassgateCtl
{
    static final String HELP = """
        Usage: passgatectl [--runtime-dir DIR] [--json] COMMAND
        Talks to a running passgate (default runtime directory /run/passgate).

        Commands:
          counters        every counter, summed over dataplane threads
          help            this text

        Options:
          --runtime-dir DIR   the daemon's runtime-dir setting
          --json              machine-readable output
        Exit status: 0 ok, 1 daemon not running, 2 usage error, 3 not permitted.
        """;

    private PassgateCtl()
    {
    }

    public static void main(final String[] args)
    {
        System.exit(run(args, System.out, System.err));
    }

    public static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        Path runtimeDir = Path.of("/run/passgate");
        boolean json = false;
        final List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--runtime-dir" ->
                {
                    if (++i >= args.length)
                    {
                        err.println("passgatectl: --runtime-dir needs a value");
                        return 2;
                    }
                    runtimeDir = Path.of(args[i]);
                }
                case "--json" -> json = true;
                case "-h", "--help", "help" ->
                {
                    out.print(HELP);
                    return 0;
                }
                default -> rest.add(args[i]);
            }
        }
        if (rest.isEmpty())
        {
            err.print(HELP);
            return 2;
        }
        switch (rest.get(0))
        {
            case "counters":
                return counters(runtimeDir, json, out, err);
            default:
                err.println("passgatectl: unknown command '" + rest.get(0) + "' (see --help)");
                return 2;
        }
    }

    private static int counters(final Path runtimeDir, final boolean json, final PrintStream out, final PrintStream err)
    {
        try (CountersFile file = CountersFile.open(runtimeDir.resolve("counters")))
        {
            final Map<String, Long> totals = file.totals();
            if (json)
            {
                final StringBuilder b = new StringBuilder("{");
                for (final Map.Entry<String, Long> e : totals.entrySet())
                {
                    if (b.length() > 1)
                    {
                        b.append(',');
                    }
                    b.append('"').append(e.getKey()).append("\":").append(e.getValue());
                }
                out.println(b.append('}'));
            }
            else
            {
                for (final Map.Entry<String, Long> e : totals.entrySet())
                {
                    out.printf("%-40s %d%n", e.getKey(), e.getValue());
                }
            }
            return 0;
        }
        catch (final IOException e)
        {
            err.println("passgatectl: " + e.getMessage());
            return e.getMessage() != null && e.getMessage().contains("ermission") ? 3 : 1;
        }
    }
}

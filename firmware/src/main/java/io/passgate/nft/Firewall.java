package io.passgate.nft;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.tinylog.Logger;

/**
 * Applies and removes passgate's rules with the system's {@code nft} and {@code iptables} tools. Touches
 * only table {@code inet passgate} and, with the iptables queue backend, chains {@code PASSGATE_PRE} and
 * {@code PASSGATE_POST} of table {@code ip mangle} and the two jumps to them. Not on the packet path.
 */
public final class Firewall
{
    private static final String[] IPTABLES_CHAINS = {"PREROUTING:PASSGATE_PRE", "POSTROUTING:PASSGATE_POST"};

    private final String nft;
    private final String iptables;
    private final String iptablesRestore;

    public Firewall()
    {
        this("nft", "iptables", "iptables-restore");
    }

    public Firewall(final String nft, final String iptables, final String iptablesRestore)
    {
        this.nft = nft;
        this.iptables = iptables;
        this.iptablesRestore = iptablesRestore;
    }

    /** A command's exit status and combined output. */
    public record Result(int status, String output)
    {
        public boolean ok()
        {
            return status == 0;
        }
    }

    public static Result run(final String input, final String... command) throws IOException
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        if (input != null)
        {
            p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
        }
        p.getOutputStream().close();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try
        {
            if (!p.waitFor(30, TimeUnit.SECONDS))
            {
                p.destroyForcibly();
                throw new IOException(String.join(" ", command) + ": no answer within 30 s");
            }
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + ": interrupted");
        }
        return new Result(p.exitValue(), out.strip());
    }

    /**
     * Whether this kernel has nft's queue expression: a rule using it is checked (nft -c, nothing changes).
     */
    public boolean nftQueueSupported() throws IOException
    {
        final String probe = "table inet passgate_probe {\n\tchain c {\n\t\ttype filter hook postrouting priority 0;\n"
            + "\t\tqueue flags bypass to 0\n\t}\n}\n";
        return run(probe, nft, "-c", "-f", "-").ok();
    }

    /**
     * Whether this kernel has the software flowtable passgate's offload uses on these interfaces: a probe table
     * with such a flowtable (counter flag) and a {@code flow add} rule is checked ({@code nft -c}: the kernel
     * validates it, nothing changes). Null when it would load, else what nft said (this development machine's
     * kernel, built without nf_flow_table: "No such file or directory").
     */
    public String flowtableProblem(final String lanInterface, final String wanInterface) throws IOException
    {
        final Result r = run(RulesetRenderer.flowtableProbe(lanInterface, wanInterface), nft, "-c", "-f", "-");
        return r.ok() ? null : r.output().lines().filter(l -> l.startsWith("Error") || l.contains("rror:"))
            .findFirst().orElse(r.output().lines().findFirst().orElse("nft -c failed")).strip();
    }

    /**
     * Checks the rendered table against this kernel without changing anything ({@code nft -c}): null when it
     * would load, else what nft said (say, a kernel without per-element counters for the offload maps).
     */
    public String check(final RulesetSpec spec) throws IOException
    {
        final Result r = run(RulesetRenderer.nftScript(spec), nft, "-c", "-f", "-");
        return r.ok() ? null : r.output();
    }

    public QueueBackend detectBackend() throws IOException
    {
        if (!run(null, nft, "--version").ok())
        {
            throw new IOException("nft not found: install the nftables package");
        }
        if (nftQueueSupported())
        {
            return QueueBackend.NFT;
        }
        if (!run(null, iptables, "--version").ok())
        {
            throw new IOException("this kernel lacks nft's queue expression and iptables is not installed");
        }
        return QueueBackend.IPTABLES;
    }

    /** Replaces table inet passgate (and passgate's iptables chains) atomically with the rendered rules. */
    public void apply(final RulesetSpec spec) throws IOException
    {
        final Result table = run(RulesetRenderer.nftScript(spec), nft, "-f", "-");
        if (!table.ok())
        {
            throw new IOException("nft -f failed applying table inet passgate: " + table.output());
        }
        if (spec.backend() == QueueBackend.IPTABLES)
        {
            final Result chains = run(RulesetRenderer.iptablesScript(spec), iptablesRestore, "--noflush");
            if (!chains.ok())
            {
                throw new IOException("iptables-restore failed applying passgate's queue chains: " + chains.output());
            }
            for (final String pair : IPTABLES_CHAINS)
            {
                final String[] p = pair.split(":");
                if (!run(null, iptables, "-t", "mangle", "-C", p[0], "-j", p[1]).ok())
                {
                    final Result jump = run(null, iptables, "-t", "mangle", "-I", p[0], "1", "-j", p[1]);
                    if (!jump.ok())
                    {
                        throw new IOException("iptables could not add the jump to " + p[1] + ": " + jump.output());
                    }
                }
            }
        }
        Logger.info("rules applied: table inet {} ({} queue backend, queues {}-{}, fail-{})", RulesetSpec.TABLE,
            spec.backend().name().toLowerCase(), spec.queueBase(), spec.lastQueue(), spec.failOpen() ? "open" : "closed");
    }

    /**
     * Removes the queue and notrack rules. With {@code keepFallback} the table is replaced by the fail-mode
     * fallback (see {@link RulesetRenderer#nftStoppedScript}); otherwise it is deleted.
     */
    public void remove(final RulesetSpec spec, final boolean keepFallback) throws IOException
    {
        final List<String> problems = new ArrayList<>();
        removeIptablesChains(problems);
        if (keepFallback && spec != null && spec.translate())
        {
            final Result r = run(RulesetRenderer.nftStoppedScript(spec), nft, "-f", "-");
            if (!r.ok())
            {
                problems.add("nft fallback: " + r.output());
            }
        }
        else
        {
            final Result r = run(null, nft, "delete", "table", "inet", RulesetSpec.TABLE);
            if (!r.ok() && !r.output().contains("No such file or directory"))
            {
                problems.add("nft delete table: " + r.output());
            }
        }
        if (!problems.isEmpty())
        {
            throw new IOException("removing passgate's rules: " + String.join("; ", problems));
        }
    }

    private void removeIptablesChains(final List<String> problems) throws IOException
    {
        if (!run(null, iptables, "--version").ok())
        {
            return;
        }
        for (final String pair : IPTABLES_CHAINS)
        {
            final String[] p = pair.split(":");
            for (int i = 0; i < 8 && run(null, iptables, "-t", "mangle", "-C", p[0], "-j", p[1]).ok(); i++)
            {
                run(null, iptables, "-t", "mangle", "-D", p[0], "-j", p[1]);
            }
            if (run(null, iptables, "-t", "mangle", "-S", p[1]).ok())
            {
                run(null, iptables, "-t", "mangle", "-F", p[1]);
                final Result x = run(null, iptables, "-t", "mangle", "-X", p[1]);
                if (!x.ok())
                {
                    problems.add("iptables -X " + p[1] + ": " + x.output());
                }
            }
        }
    }

    /** The current text of table inet passgate, or empty when it is absent. */
    public String listTable() throws IOException
    {
        final Result r = run(null, nft, "list", "table", "inet", RulesetSpec.TABLE);
        return r.ok() ? r.output() : "";
    }
}

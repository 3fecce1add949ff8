package io.passgate.tools.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import io.passgate.counters.CountersFile;

/** A passgate daemon the lab started: its process, log and runtime directory. */
public final class PassgateProcess
{
    private final Process process;
    private final Path log;
    private final Path runtimeDir;

    PassgateProcess(final Process process, final Path log, final Path runtimeDir)
    {
        this.process = process;
        this.log = log;
        this.runtimeDir = runtimeDir;
    }

    void awaitRunning(final long timeoutMs) throws IOException
    {
        final long deadline = System.currentTimeMillis() + timeoutMs;
        while (System.currentTimeMillis() < deadline)
        {
            final String text = log();
            if (text.contains("passgate running"))
            {
                return;
            }
            if (!process.isAlive())
            {
                throw new IOException("passgate exited with " + process.exitValue() + ":\n" + text);
            }
            sleep(50);
        }
        Lab.stop(process);
        throw new IOException("passgate did not start within " + timeoutMs + " ms:\n" + log());
    }

    private static void sleep(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    public long pid()
    {
        // ip netns exec execs the launcher, which execs java: one process
        return process.pid();
    }

    public Process process()
    {
        return process;
    }

    public Path runtimeDir()
    {
        return runtimeDir;
    }

    public String log()
    {
        try
        {
            return Files.exists(log) ? Files.readString(log) : "";
        }
        catch (final IOException e)
        {
            return "";
        }
    }

    public boolean isAlive()
    {
        return process.isAlive();
    }

    /** Opens the daemon's counters file; close it after reading. */
    public CountersFile counters() throws IOException
    {
        return CountersFile.open(runtimeDir.resolve("counters"));
    }

    /** A counter's sum over shards as published (at most ~100 ms old). */
    public long counter(final io.passgate.counters.Counter counter) throws IOException
    {
        try (CountersFile f = counters())
        {
            return f.total(counter);
        }
    }

    /** SIGTERM and wait; returns the exit status. */
    public int stop() throws InterruptedException
    {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS))
        {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
            return -1;
        }
        return process.exitValue();
    }

    /** SIGKILL: no cleanup runs. */
    public void kill9() throws InterruptedException
    {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }
}

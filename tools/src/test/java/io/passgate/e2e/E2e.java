package io.passgate.e2e;

import java.io.IOException;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.passgate.tools.lab.Lab;

/** Helpers shared by the end-to-end tests. */
final class E2e
{
    private static final Pattern RECEIVED = Pattern.compile("(\\d+) received");

    private E2e()
    {
    }

    /** ping from a namespace; returns the replies received. */
    static int ping(final Lab lab, final String ns, final String address, final int count) throws IOException
    {
        final Lab.Result r = lab.exec(ns, "ping", "-n", "-c", Integer.toString(count), "-i", "0.2", "-W", "1", address);
        final Matcher m = RECEIVED.matcher(r.output());
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }

    /** Waits for a condition, checking every 50 ms; false when it did not come true in time. */
    static boolean eventually(final long timeoutMs, final BooleanSupplier condition)
    {
        final long deadline = System.currentTimeMillis() + timeoutMs;
        while (System.currentTimeMillis() < deadline)
        {
            if (condition.getAsBoolean())
            {
                return true;
            }
            try
            {
                Thread.sleep(50);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return condition.getAsBoolean();
    }

    /** A counter once it has stopped moving (published values lag up to a tick). */
    static long settled(final io.passgate.tools.lab.PassgateProcess pg, final io.passgate.counters.Counter c)
    {
        long last = counter(pg, c);
        for (int i = 0; i < 40; i++)
        {
            try
            {
                Thread.sleep(250);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                break;
            }
            final long now = counter(pg, c);
            if (now == last)
            {
                return now;
            }
            last = now;
        }
        return last;
    }

    static long counter(final io.passgate.tools.lab.PassgateProcess pg, final io.passgate.counters.Counter c)
    {
        try
        {
            return pg.counter(c);
        }
        catch (final IOException e)
        {
            return -1;
        }
    }
}

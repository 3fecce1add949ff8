package io.passgate.dataplane;

import io.passgate.sys.Poller;
import org.agrona.concurrent.IdleStrategy;

/**
 * Idles a dataplane thread in poll(2) on its queue sockets: no CPU while there is no traffic (a Pi must not
 * spin), and no added latency when a packet arrives, unlike a sleeping backoff. A few spins first catch
 * back-to-back batches cheaply. The timeout bounds how late periodic work (timers, counters) runs.
 */
public final class PollIdleStrategy implements IdleStrategy
{
    private static final int SPINS = 10;

    private final Poller poller;
    private final int timeoutMs;
    private int idle;

    public PollIdleStrategy(final Poller poller, final int timeoutMs)
    {
        this.poller = poller;
        this.timeoutMs = timeoutMs;
    }

    @Override
    public void idle(final int workCount)
    {
        if (workCount > 0)
        {
            idle = 0;
            return;
        }
        idle();
    }

    @Override
    public void idle()
    {
        if (idle++ < SPINS)
        {
            Thread.onSpinWait();
            return;
        }
        poller.poll(timeoutMs);
    }

    @Override
    public void reset()
    {
        idle = 0;
    }

    @Override
    public String alias()
    {
        return "poll";
    }
}

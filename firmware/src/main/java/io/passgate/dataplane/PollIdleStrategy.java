package io.passgate.dataplane;

import io.passgate.sys.EventFd;
import io.passgate.sys.Linux;
import io.passgate.sys.Poller;
import org.agrona.concurrent.IdleStrategy;

/**
 * Idles a dataplane thread in poll(2) on its queue sockets and its wake-up eventfd: no CPU while there is no
 * traffic (a Pi must not spin), and no added latency when a packet or a control command arrives, unlike a
 * sleeping backoff. A few spins first catch back-to-back batches cheaply. The timeout bounds how late
 * periodic work (timers, counters) runs.
 */
public final class PollIdleStrategy implements IdleStrategy
{
    private static final int SPINS = 10;

    private final Poller poller;
    private final int timeoutMs;
    private final EventFd wake;
    private final int wakeIndex;
    private int idle;

    public PollIdleStrategy(final Poller poller, final int timeoutMs)
    {
        this(poller, timeoutMs, null, -1);
    }

    /** {@code wake} is polled as {@code poller}'s descriptor {@code wakeIndex}, and drained when it fired. */
    public PollIdleStrategy(final Poller poller, final int timeoutMs, final EventFd wake, final int wakeIndex)
    {
        this.poller = poller;
        this.timeoutMs = timeoutMs;
        this.wake = wake;
        this.wakeIndex = wakeIndex;
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
        if (poller.poll(timeoutMs) > 0 && wake != null && (poller.revents(wakeIndex) & Linux.POLLIN) != 0)
        {
            wake.drain();
        }
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

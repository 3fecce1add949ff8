package io.passgate.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;

import io.passgate.sys.EventFd;
import io.passgate.sys.Linux;
import io.passgate.sys.Poller;
import org.junit.jupiter.api.Test;

/**
 * A command for an idle dataplane thread wakes it: the thread sleeps in poll(2) with a long timeout, and a
 * submit makes it return at once (before this, a switch change waited up to idle-poll-ms, 100 ms).
 */
class WakeTest
{
    @Test
    void submitWakesTheIdleThreadAtOnce() throws Exception
    {
        try (EventFd wake = new EventFd(); Poller poller = new Poller(1))
        {
            final int index = poller.add(wake.fd(), Linux.POLLIN);
            final PollIdleStrategy idle = new PollIdleStrategy(poller, 60_000, wake, index);
            final DataplaneAgent agent = new DataplaneAgent(0, null, null, null, null, () -> 0L);
            agent.wakeWith(wake::signal);
            final Thread idler = new Thread(() ->
            {
                for (int i = 0; i < 11; i++)
                {
                    idle.idle(0);   // ten spins, then poll(2) for up to a minute
                }
            });
            idler.start();
            final AtomicInteger ran = new AtomicInteger();
            assertTrue(agent.submit(ran::incrementAndGet));
            idler.join(10_000);
            assertFalse(idler.isAlive(), "the submit woke the thread out of its 60 s poll");
            assertEquals(0, wake.drain(), "the idle strategy drained the wake-up");
            assertEquals(0, ran.get(), "the command itself runs in the next duty cycle, on the agent's thread");
        }
    }
}

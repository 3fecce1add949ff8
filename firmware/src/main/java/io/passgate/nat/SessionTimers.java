package io.passgate.nat;

import java.util.concurrent.TimeUnit;

import org.agrona.DeadlineTimerWheel;
import org.agrona.collections.Long2LongHashMap;

/**
 * The sessions' idle timers: an Agrona {@link DeadlineTimerWheel} whose spokes are presized for the whole
 * table (a burst of sessions that all expire in one tick never grows it: growth would allocate on the packet
 * path). Expiry is lazy: a packet only stores its time in the session; when a timer fires, the session is
 * rescheduled if it was used since, else it ends. Pinned sessions (a helper ends them) have no timer.
 */
final class SessionTimers
{
    /** Expiry granularity: a session ends up to this much after its idle timeout. */
    static final long TICK_MS = 4096;
    private static final int SPOKES = 16;

    /** A session's idle timeout now. */
    interface Timeouts
    {
        long timeoutOf(int flow);
    }

    /** A session whose timer ran out idle. */
    interface Expired
    {
        void expired(int flow);
    }

    private final FlowTable flows;
    private final Timeouts timeouts;
    private final Expired expired;
    private final DeadlineTimerWheel wheel;
    private final Long2LongHashMap timerFlows;
    private final DeadlineTimerWheel.TimerHandler onTimer = this::onTimer;

    SessionTimers(final FlowTable flows, final long startMs, final Timeouts timeouts, final Expired expired)
    {
        this.flows = flows;
        this.timeouts = timeouts;
        this.expired = expired;
        final int capacity = flows.capacity();
        this.timerFlows = MapSizes.map(capacity, -1L);
        // 16 spokes of 4.096 s, each preallocated for every session; timers beyond the 65 s span are rechecked
        // each rotation
        this.wheel = new DeadlineTimerWheel(TimeUnit.MILLISECONDS, startMs, TICK_MS, SPOKES,
            Integer.highestOneBit(Math.max(16, capacity) * 2 - 1));
    }

    /** Starts a new session's timer from its last-seen time. */
    void schedule(final int f)
    {
        if ((flows.flags[f] & NatEngine.FLAG_PINNED) != 0)
        {
            flows.expiresAt[f] = Long.MAX_VALUE;
            flows.timerId[f] = -1;
            return;
        }
        final long deadline = flows.lastSeen[f] + timeouts.timeoutOf(f);
        flows.expiresAt[f] = deadline;
        final long id = wheel.scheduleTimer(deadline);
        flows.timerId[f] = id;
        timerFlows.put(id, f);
    }

    /** The session's timeout changed (a TCP session became or stopped being transitory). */
    void reschedule(final int f)
    {
        cancel(f);
        schedule(f);
    }

    void cancel(final int f)
    {
        final long old = flows.timerId[f];
        if (old >= 0)
        {
            wheel.cancelTimer(old);
            timerFlows.remove(old);
            flows.timerId[f] = -1;
        }
    }

    /** Runs the timers due by {@code nowMs}, catching up after a long pause; returns the work done. */
    int poll(final long nowMs)
    {
        int work = 0;
        // the wheel advances one tick per poll: catch up after a long pause (or a test's jump in time)
        for (int i = 0; i < 4096 && wheel.currentTickTime() <= nowMs; i++)
        {
            work += wheel.poll(nowMs, onTimer, 4096);
        }
        return work + wheel.poll(nowMs, onTimer, 4096);
    }

    private boolean onTimer(final TimeUnit unit, final long nowMs, final long timerId)
    {
        final int f = (int)timerFlows.remove(timerId);
        if (f < 0 || flows.timerId[f] != timerId)
        {
            return true;
        }
        flows.timerId[f] = -1;
        final long deadline = flows.lastSeen[f] + timeouts.timeoutOf(f);
        if (deadline > nowMs)
        {
            flows.expiresAt[f] = deadline;
            final long id = wheel.scheduleTimer(deadline);
            flows.timerId[f] = id;
            timerFlows.put(id, f);
            return true;
        }
        expired.expired(f);
        return true;
    }
}

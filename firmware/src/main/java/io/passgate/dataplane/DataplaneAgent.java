package io.passgate.dataplane;

import java.util.function.Consumer;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.counters.CountersFile;
import io.passgate.nfq.NfqueueChannel;
import io.passgate.nfq.PacketHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

/**
 * One dataplane shard: a queue, its handler and its counters, run as an Agrona {@link Agent}. A duty cycle
 * reads the clock once, drains control commands, handles what the queue holds, and runs deadline-gated
 * periodic work (handler timers, counter publication). Commands from the control plane arrive through a
 * queue this thread drains: the packet path takes no lock.
 */
public final class DataplaneAgent implements Agent
{
    private static final long TICK_MS = 100;
    private static final Consumer<Runnable> RUN = Runnable::run;

    private final int shard;
    private final NfqueueChannel channel;
    private final PacketHandler handler;
    private final CounterSet counters;
    private final CountersFile countersFile;
    private final EpochClock clock;
    private final ManyToOneConcurrentArrayQueue<Runnable> commands = new ManyToOneConcurrentArrayQueue<>(256);
    private volatile Runnable wake = () ->
    {
    };
    private volatile long lastDutyCycleMs;
    private long nextTickMs;

    public DataplaneAgent(final int shard, final NfqueueChannel channel, final PacketHandler handler,
        final CounterSet counters, final CountersFile countersFile, final EpochClock clock)
    {
        this.shard = shard;
        this.channel = channel;
        this.handler = handler;
        this.counters = counters;
        this.countersFile = countersFile;
        this.clock = clock;
    }

    @Override
    public int doWork()
    {
        final long now = clock.time();
        int work = commands.drain(RUN);
        handler.onDutyCycle(now);
        work += channel.poll(handler);
        if (now >= nextTickMs)
        {
            nextTickMs = now + TICK_MS;
            work += handler.onTick(now);
            counters.set(Counter.LAST_DUTY_CYCLE_MS, now);
            if (countersFile != null)
            {
                countersFile.publish(shard, counters);
            }
            lastDutyCycleMs = now;
        }
        counters.increment(Counter.DUTY_CYCLES);
        return work;
    }

    /**
     * Runs {@code command} on this agent's thread at its next duty cycle, waking the thread if it idles (so a
     * switch change applies at once, not after the idle poll's timeout); false when the queue is full.
     */
    public boolean submit(final Runnable command)
    {
        final boolean queued = commands.offer(command);
        if (queued)
        {
            wake.run();
        }
        return queued;
    }

    /** What {@link #submit} calls to wake this agent's idle thread (the dataplane's eventfd). */
    public void wakeWith(final Runnable wakeUp)
    {
        this.wake = wakeUp;
    }

    /** Epoch ms of the last periodic tick: the control plane's view of whether this shard is alive. */
    public long lastDutyCycleMs()
    {
        return lastDutyCycleMs;
    }

    public int shard()
    {
        return shard;
    }

    public NfqueueChannel channel()
    {
        return channel;
    }

    public PacketHandler handler()
    {
        return handler;
    }

    public CounterSet counters()
    {
        return counters;
    }

    @Override
    public void onClose()
    {
        if (countersFile != null)
        {
            countersFile.publish(shard, counters);
        }
        channel.close();
    }

    @Override
    public String roleName()
    {
        return "passgate-dataplane-" + shard;
    }
}

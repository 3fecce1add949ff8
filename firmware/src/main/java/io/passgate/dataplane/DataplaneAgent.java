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
 *
 * <p>With a live queue (packets of live flows, marked by the kernel; see nft.LiveFlowSet), each duty cycle
 * takes one batch (queue-batch packets at most) of the bulk queue, then drains the live queue: a flood of new
 * flows fills the bulk queue, never the live one, and a live packet waits at most one bulk batch. Bulk first,
 * not live first, for the moment a flow becomes live: its packets still in the bulk queue are then usually in
 * that one batch and leave before its newer packets from the live queue (live first reordered them, and
 * PptpIT's client, which reads one call at a time, lost the other call's echo).
 */
public final class DataplaneAgent implements Agent
{
    private static final long TICK_MS = 100;

    private final int shard;
    private final NfqueueChannel channel;
    private final NfqueueChannel live;
    private final PacketHandler handler;
    private final CounterSet counters;
    private final CountersFile countersFile;
    private final EpochClock clock;
    private final ManyToOneConcurrentArrayQueue<Runnable> commands = new ManyToOneConcurrentArrayQueue<>(256);
    private final Consumer<Runnable> runCommand = this::runCommand;
    private volatile Runnable wake = () ->
    {
    };
    private volatile long lastDutyCycleMs;
    private long nextTickMs;
    private volatile Throwable lastFault;
    private volatile long lastFaultMs;

    public DataplaneAgent(final int shard, final NfqueueChannel channel, final PacketHandler handler,
        final CounterSet counters, final CountersFile countersFile, final EpochClock clock)
    {
        this(shard, channel, null, handler, counters, countersFile, clock);
    }

    /** {@code live}: the shard's live queue, served before {@code channel}; null when none. */
    public DataplaneAgent(final int shard, final NfqueueChannel channel, final NfqueueChannel live,
        final PacketHandler handler, final CounterSet counters, final CountersFile countersFile, final EpochClock clock)
    {
        this.shard = shard;
        this.channel = channel;
        this.live = live;
        this.handler = handler;
        this.counters = counters;
        this.countersFile = countersFile;
        this.clock = clock;
    }

    /**
     * One duty cycle. A fault in a command or a timer is counted and kept for the status and the cycle goes
     * on; the channel contains a fault in a packet to that packet. The periodic tick (and so the liveness
     * the fail-open heartbeat depends on) runs whatever happened before it.
     */
    @Override
    public int doWork()
    {
        final long now = clock.time();
        int work = 0;
        try
        {
            work += commands.drain(runCommand);
            handler.onDutyCycle(now);
            work += channel.poll(handler);
            if (live != null)
            {
                work += drainLive();
            }
        }
        catch (final RuntimeException | Error e)
        {
            fault(e, now);
        }
        if (now >= nextTickMs)
        {
            nextTickMs = now + TICK_MS;
            try
            {
                work += handler.onTick(now);
            }
            catch (final RuntimeException | Error e)
            {
                fault(e, now);
            }
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

    /** Empties the live queue (a bounded number of batches, so that a live flood cannot starve the tick). */
    private int drainLive()
    {
        int total = 0;
        for (int i = 0; i < 16; i++)
        {
            final int n = live.poll(handler);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        if (total > 0)
        {
            counters.add(Counter.LIVE_PACKETS, total);
        }
        return total;
    }

    private void runCommand(final Runnable command)
    {
        try
        {
            command.run();
        }
        catch (final RuntimeException | Error e)
        {
            fault(e, clock.time());
        }
    }

    private void fault(final Throwable e, final long now)
    {
        counters.increment(Counter.DATAPLANE_ERRORS);
        lastFault = e;
        lastFaultMs = now;
    }

    /** The last fault of a command or timer on this shard, or of a packet in its channel; null when none. */
    public Throwable lastFault()
    {
        NfqueueChannel c = channel;
        if (live != null && live.lastFaultMs() > channel.lastFaultMs())
        {
            c = live;
        }
        final Throwable packetFault = c.lastFault();
        return packetFault != null && (lastFault == null || c.lastFaultMs() >= lastFaultMs) ? packetFault : lastFault;
    }

    /** When {@link #lastFault()} happened (epoch ms), 0 when never. */
    public long lastFaultMs()
    {
        return Math.max(lastFaultMs, Math.max(channel.lastFaultMs(), live == null ? 0 : live.lastFaultMs()));
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

    /** The live queue's channel, or null. */
    public NfqueueChannel liveChannel()
    {
        return live;
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
        if (live != null)
        {
            live.close();
        }
    }

    @Override
    public String roleName()
    {
        return "passgate-dataplane-" + shard;
    }
}

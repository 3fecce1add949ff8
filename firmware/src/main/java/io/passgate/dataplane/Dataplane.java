package io.passgate.dataplane;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import io.passgate.counters.CounterSet;
import io.passgate.counters.CountersFile;
import io.passgate.nfq.NfqueueChannel;
import io.passgate.nfq.PacketHandler;
import io.passgate.nfq.QueueConfig;
import io.passgate.sys.EventFd;
import io.passgate.sys.Linux;
import io.passgate.sys.Poller;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.EpochClock;
import org.tinylog.Logger;

/**
 * The NFQUEUE dataplane: one shard per configured thread, each a queue, a handler and an
 * {@link AgentRunner} on its own thread, idling in poll(2). Every queue is bound before any rule sends
 * packets to it.
 */
public final class Dataplane implements AutoCloseable
{
    /** What a shard's handler is made from. */
    public interface HandlerFactory
    {
        PacketHandler create(int shard, CounterSet counters) throws IOException;
    }

    private final List<DataplaneAgent> agents = new ArrayList<>();
    private final List<AgentRunner> runners = new ArrayList<>();
    private final List<Poller> pollers = new ArrayList<>();
    private final List<EventFd> wakes = new ArrayList<>();
    private final AtomicLong errors = new AtomicLong();
    private volatile Throwable lastError;
    private volatile long lastErrorMs;

    /** Opens and binds every queue; nothing runs until {@link #start}. */
    public Dataplane(final List<QueueConfig> queues, final HandlerFactory handlers, final CountersFile countersFile,
        final EpochClock clock, final int idlePollMs) throws IOException
    {
        this(queues, List.of(), handlers, countersFile, clock, idlePollMs);
    }

    /**
     * Opens and binds every queue; nothing runs until {@link #start}. {@code liveQueues}: empty, or one per shard,
     * each served before its shard's bulk queue (see {@link DataplaneAgent}).
     */
    public Dataplane(final List<QueueConfig> queues, final List<QueueConfig> liveQueues, final HandlerFactory handlers,
        final CountersFile countersFile, final EpochClock clock, final int idlePollMs) throws IOException
    {
        if (!liveQueues.isEmpty() && liveQueues.size() != queues.size())
        {
            throw new IllegalArgumentException("one live queue per shard: " + liveQueues.size() + " for " + queues.size());
        }
        try
        {
            for (int shard = 0; shard < queues.size(); shard++)
            {
                final CounterSet counters = new CounterSet();
                final NfqueueChannel channel = NfqueueChannel.open(queues.get(shard), counters);
                NfqueueChannel live = null;
                final PacketHandler handler;
                try
                {
                    // one thread polls both in turn: the live queue receives into the bulk queue's slots
                    live = liveQueues.isEmpty() ? null : NfqueueChannel.open(liveQueues.get(shard), counters, channel);
                    handler = handlers.create(shard, counters);
                }
                catch (final IOException | RuntimeException e)
                {
                    channel.close();
                    if (live != null)
                    {
                        live.close();
                    }
                    throw e;
                }
                final DataplaneAgent agent = new DataplaneAgent(shard, channel, live, handler, counters, countersFile,
                    clock);
                agents.add(agent);
                final Poller poller = new Poller(3);
                pollers.add(poller);
                final EventFd wake = new EventFd();
                wakes.add(wake);
                poller.add(channel.fd(), Linux.POLLIN);
                if (live != null)
                {
                    poller.add(live.fd(), Linux.POLLIN);
                }
                final int wakeIndex = poller.add(wake.fd(), Linux.POLLIN);
                agent.wakeWith(wake::signal);
                final ErrorHandler onError = this::onError;
                runners.add(new AgentRunner(new PollIdleStrategy(poller, idlePollMs, wake, wakeIndex), onError, null, agent));
            }
        }
        catch (final IOException | RuntimeException e)
        {
            close();
            throw e;
        }
    }

    private void onError(final Throwable t)
    {
        // an exception out of a duty cycle (the agents contain their own; this is the runner's last resort):
        // counted (passgatectl status, counters, metrics), the loop goes on; the control thread logs it
        errors.incrementAndGet();
        lastErrorMs = System.currentTimeMillis();
        lastError = t;
    }

    public void start()
    {
        for (final AgentRunner runner : runners)
        {
            final Thread thread = AgentRunner.startOnThread(runner);
            thread.setName(runner.agent().roleName());
        }
    }

    public List<DataplaneAgent> agents()
    {
        return agents;
    }

    /** Exceptions that escaped a duty cycle to the runner (the agents count their own in their counters). */
    public long errors()
    {
        return errors.get();
    }

    /** A fault and when it happened. */
    public record Fault(long atMs, String where, Throwable error)
    {
        /** One line for the status and the log. */
        public String describe()
        {
            return where + ": " + error;
        }
    }

    /** The newest fault of any shard (a packet, a command, a timer, the loop), or null when none happened. */
    public Fault lastFault()
    {
        Fault newest = lastError == null ? null : new Fault(lastErrorMs, "dataplane loop", lastError);
        for (final DataplaneAgent agent : agents)
        {
            final Throwable t = agent.lastFault();
            if (t != null && (newest == null || agent.lastFaultMs() > newest.atMs()))
            {
                newest = new Fault(agent.lastFaultMs(), "shard " + agent.shard(), t);
            }
        }
        return newest;
    }

    /** True when every shard completed a periodic tick within {@code maxAgeMs} of {@code nowMs}. */
    public boolean allAlive(final long nowMs, final long maxAgeMs)
    {
        for (final DataplaneAgent agent : agents)
        {
            if (nowMs - agent.lastDutyCycleMs() > maxAgeMs)
            {
                return false;
            }
        }
        return !agents.isEmpty();
    }

    @Override
    public void close()
    {
        for (final AgentRunner runner : runners)
        {
            runner.close();   // waits for the thread; onClose closes the channel
        }
        if (runners.isEmpty())
        {
            for (final DataplaneAgent agent : agents)
            {
                agent.channel().close();
                if (agent.liveChannel() != null)
                {
                    agent.liveChannel().close();
                }
            }
        }
        runners.clear();
        for (final Poller poller : pollers)
        {
            poller.close();
        }
        for (final EventFd wake : wakes)
        {
            wake.close();
        }
        pollers.clear();
    }
}

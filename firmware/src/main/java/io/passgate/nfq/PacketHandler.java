package io.passgate.nfq;

/**
 * What a dataplane does with each queued packet. Called on the dataplane thread; must not block or
 * allocate. Returns one of the {@code VERDICT_*} values.
 */
public interface PacketHandler
{
    /** Accept the packet as it arrived. */
    int VERDICT_ACCEPT = 0;
    /** Accept the packet with the bytes the handler rewrote in place. */
    int VERDICT_ACCEPT_MODIFIED = 1;
    /** Drop the packet (the handler counted why). */
    int VERDICT_DROP = 2;
    /**
     * Hand the packet unchanged to the queue the handler named with {@link NfqPacket#requeueTo} (another shard
     * owns its session); the kernel queues it again at the same hook.
     */
    int VERDICT_REQUEUE = 3;

    int onPacket(NfqPacket packet);

    /** The duty cycle's cached time (ms), given before the packets of a cycle: one clock read per cycle. */
    default void onDutyCycle(final long nowMs)
    {
    }

    /**
     * Periodic work on the dataplane thread (timers, expiry), given the duty cycle's cached time in
     * milliseconds; returns the amount of work done.
     */
    default int onTick(final long nowMs)
    {
        return 0;
    }
}

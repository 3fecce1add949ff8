package io.passgate.counters;

/**
 * One shard's counters: plain longs written only by the dataplane thread, published to shared memory
 * once per tick. Incrementing is an array store, no fence.
 */
public final class CounterSet
{
    private final long[] values = new long[Counter.count()];

    public void increment(final Counter counter)
    {
        values[counter.ordinal()]++;
    }

    public void add(final Counter counter, final long delta)
    {
        values[counter.ordinal()] += delta;
    }

    public void set(final Counter counter, final long value)
    {
        values[counter.ordinal()] = value;
    }

    public long get(final Counter counter)
    {
        return values[counter.ordinal()];
    }

    long get(final int index)
    {
        return values[index];
    }
}

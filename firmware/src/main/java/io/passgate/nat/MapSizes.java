package io.passgate.nat;

import org.agrona.BitUtil;
import org.agrona.collections.Long2LongHashMap;

/**
 * Sizes of the preallocated open-addressing maps (Agrona {@link Long2LongHashMap}): the smallest power of two
 * that holds {@code entries} keys under the load factor, so that a full table never resizes the map (a resize
 * allocates on the packet path) and no slot is spent beyond that. Each slot is 16 bytes: at the default
 * 8192 sessions a map is 256 KB (the sizing before the memory work of issue 15 gave it twice the slots).
 */
final class MapSizes
{
    static final float LOAD_FACTOR = 0.65f;

    private MapSizes()
    {
    }

    /** Slots for a map that must hold {@code entries} keys at most without resizing. */
    static int slotsFor(final int entries)
    {
        final long needed = (long)Math.ceil(Math.max(1, entries) / (double)LOAD_FACTOR) + 1;
        return BitUtil.findNextPositivePowerOfTwo((int)Math.max(16, Math.min(1 << 30, needed)));
    }

    /** A map for {@code entries} keys at most. */
    static Long2LongHashMap map(final int entries, final long missingValue)
    {
        return new Long2LongHashMap(slotsFor(entries), LOAD_FACTOR, missingValue, true);
    }
}

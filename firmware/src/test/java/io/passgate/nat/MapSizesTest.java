package io.passgate.nat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.agrona.collections.Long2LongHashMap;
import org.junit.jupiter.api.Test;

class MapSizesTest
{
    /** A map sized for n keys takes n keys without growing (growth would allocate on the packet path). */
    @Test
    void aFullTableNeverResizesItsMap()
    {
        for (final int n : new int[] {1, 10, 11, 100, 1000, 4096, 8192, 10_650, 16_384, 21_299, 21_300, 65_536})
        {
            final Long2LongHashMap map = MapSizes.map(n, -1L);
            final int slots = map.capacity();
            for (int i = 0; i < n; i++)
            {
                map.put(i * 0x9E37_79B9_7F4A_7C15L, i);
            }
            assertEquals(slots, map.capacity(), n + " keys resized the map");
            assertEquals(n, map.size());
        }
    }

    /** And not bigger than that: the next smaller power of two could not hold them. */
    @Test
    void theSmallestPowerOfTwoThatHoldsThem()
    {
        assertEquals(32_768, MapSizes.slotsFor(16_384));
        assertEquals(16_384, MapSizes.slotsFor(8_192));
        assertEquals(8_192, MapSizes.slotsFor(4_096));
        for (final int n : new int[] {100, 4096, 10_000, 16_384, 50_000})
        {
            final int slots = MapSizes.slotsFor(n);
            assertTrue((slots / 2) * MapSizes.LOAD_FACTOR < n, n + " would fit " + slots / 2);
        }
    }
}

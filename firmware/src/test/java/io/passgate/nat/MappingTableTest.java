package io.passgate.nat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/** The external-port index (open addressing, backward-shift deletion) and the reservation bits of {@link MappingTable}. */
class MappingTableTest
{
    private static final int TCP = 6;
    private static final int UDP = 17;

    @Test
    void theExternalPortIndexAgreesWithAModelThroughLongChurn()
    {
        // a small table, full most of the time: long probe runs, many deletions in the middle of clusters
        final int capacity = 200;
        final MappingTable table = new MappingTable(capacity, 1024, 65535, false, 0, 1, 7);
        final SplittableRandom random = new SplittableRandom(42);
        final Map<Long, Integer> model = new HashMap<>();
        final List<Integer> live = new ArrayList<>();
        for (int step = 0; step < 200_000; step++)
        {
            if (!live.isEmpty() && (live.size() == capacity || random.nextInt(3) == 0))
            {
                final int m = live.remove(random.nextInt(live.size()));
                final int space = Protocols.space(table.protocol(m));
                model.remove(key(space, table.extPort(m)));
                assertTrue(table.removeFlow(m));
            }
            else
            {
                final int proto = random.nextBoolean() ? TCP : UDP;
                final int space = Protocols.space(proto);
                // internal ports from a narrow range: kept ports collide with taken ones and force probing
                final int intPort = 40_000 + random.nextInt(400);
                final int addr = 0x0A00_0000 | random.nextInt(1 << 16);
                if (table.find(proto, addr, intPort) >= 0)
                {
                    continue;
                }
                final int m = table.create(proto, space, addr, intPort);
                assertNotEquals(MappingTable.NONE, m);
                table.addFlow(m);
                final Integer previous = model.put(key(space, table.extPort(m)), m);
                assertEquals(null, previous, "an external port handed out twice");
                live.add(m);
            }
            if (step % 97 == 0)
            {
                for (final Map.Entry<Long, Integer> e : model.entrySet())
                {
                    final int space = (int)(e.getKey() >>> 16);
                    final int port = (int)(e.getKey() & 0xFFFF);
                    assertEquals(e.getValue(), table.byExternal(space, port), "owner of " + space + "/" + port);
                    assertFalse(table.isFree(space, port));
                }
                for (int i = 0; i < 50; i++)
                {
                    final int space = random.nextBoolean() ? Protocols.SPACE_TCP : Protocols.SPACE_UDP;
                    final int port = 40_000 + random.nextInt(400);
                    final Integer owner = model.get(key(space, port));
                    assertEquals(owner == null ? MappingTable.NONE : owner, table.byExternal(space, port));
                    assertEquals(owner == null, table.isFree(space, port));
                }
                assertEquals(model.size(), table.size());
            }
        }
    }

    @Test
    void aFullPortRangeIsRefusedAndEveryPortComesBackFree()
    {
        // 16 ports in range, 1 space, twice as many mappings possible: the range is exhausted first
        final MappingTable table = new MappingTable(32, 50_000, 50_015, false, 0, 1, 3);
        final List<Integer> made = new ArrayList<>();
        for (int i = 0; i < 16; i++)
        {
            final int m = table.create(UDP, Protocols.SPACE_UDP, 0x0A00_0002 + i, 60_000);
            assertNotEquals(MappingTable.NONE, m);
            table.addFlow(m);
            made.add(m);
        }
        assertEquals(0, table.available(Protocols.SPACE_UDP, 60_000));
        assertEquals(MappingTable.NONE, table.create(UDP, Protocols.SPACE_UDP, 0x0A00_00F0, 60_000));
        for (final int m : made)
        {
            table.removeFlow(m);
        }
        for (int p = 50_000; p <= 50_015; p++)
        {
            assertTrue(table.isFree(Protocols.SPACE_UDP, p));
        }
        assertEquals(16, table.available(Protocols.SPACE_UDP, 60_000));
    }

    @Test
    void reservedPortsAreSkippedAndTheirOwnProtocolMayKeepAHelperPort()
    {
        final MappingTable table = new MappingTable(64, 1024, 65535, false, 0, 1, 5);
        table.reserve(Protocols.SPACE_UDP, 500, MappingTable.RESERVED_HELPER, true);
        table.reserve(Protocols.SPACE_TCP, 8080, MappingTable.RESERVED_LISTENER, true);
        assertTrue(table.isReserved(Protocols.SPACE_UDP, 500));
        assertFalse(table.isRouterPort(Protocols.SPACE_UDP, 500));
        assertTrue(table.isRouterPort(Protocols.SPACE_TCP, 8080));
        assertFalse(table.isReserved(Protocols.SPACE_UDP, 8080), "spaces are apart");
        assertFalse(table.isReserved(Protocols.SPACE_UDP, 501), "bits are apart");

        final int generic = table.create(UDP, Protocols.SPACE_UDP, 0x0A00_0002, 500);
        assertNotEquals(500, table.extPort(generic));
        final int ike = table.create(UDP, Protocols.SPACE_UDP, 0x0A00_0003, 500, true);
        assertEquals(500, table.extPort(ike));
        final int web = table.create(TCP, Protocols.SPACE_TCP, 0x0A00_0002, 8080, true);
        assertNotEquals(8080, table.extPort(web), "the router's own port is never handed out");

        table.reserve(Protocols.SPACE_TCP, 8080, MappingTable.RESERVED_LISTENER, false);
        assertFalse(table.isReserved(Protocols.SPACE_TCP, 8080));
        final int later = table.create(TCP, Protocols.SPACE_TCP, 0x0A00_0004, 8080);
        assertEquals(8080, table.extPort(later));
    }

    private static long key(final int space, final int port)
    {
        return ((long)space << 16) | port;
    }
}

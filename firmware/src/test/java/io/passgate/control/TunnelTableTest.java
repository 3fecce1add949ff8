package io.passgate.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.passgate.nat.NatEngine;
import io.passgate.wire.Ipv4Header;
import org.junit.jupiter.api.Test;

/** The tunnel table's offloaded flows as rows: all, none, or the busiest few (the status page's update). */
class TunnelTableTest
{
    private static final int CLIENT = Ipv4Header.parse("10.77.0.11");
    private static final int SERVER = Ipv4Header.parse("203.0.113.10");

    /** Offloaded TCP flows from client ports 40000 + i, with {@code bytes[i]} bytes out and a tenth of it in. */
    private static TunnelTable flows(final long... bytes)
    {
        final TunnelTable t = new TunnelTable();
        for (int i = 0; i < bytes.length; i++)
        {
            assertTrue(t.row(NatEngine.OFFLOADED_ROWS, NatEngine.OFFLOADED_TCP, CLIENT, SERVER, 40000 + i, 443,
                50000 + i, 0, 0, 0, 0, 10, bytes[i], 1, bytes[i] / 10, 1_000, 2_000));
        }
        return t;
    }

    private static List<Long> clientPorts(final List<Map<String, Object>> rows)
    {
        final List<Long> ports = new ArrayList<>();
        for (final Map<String, Object> r : rows)
        {
            assertEquals(true, r.get("offloaded"));
            ports.add((Long)r.get("client-port"));
        }
        return ports;
    }

    @Test
    void allNoneOrTheBusiestOffloadedFlows()
    {
        final TunnelTable t = flows(500, 90_000, 10, 7_000_000, 90_000, 3);
        assertEquals(6, t.offloadedFlows());
        assertEquals(List.of(40000L, 40001L, 40002L, 40003L, 40004L, 40005L), clientPorts(t.rows("203.0.113.1", true)));
        assertEquals(List.of(), t.rows("203.0.113.1", false));
        assertEquals(List.of(), t.rows("203.0.113.1", 0));
        // the three busiest (bytes both ways), in the table's order; of two equals the first
        assertEquals(List.of(40001L, 40003L, 40004L), clientPorts(t.rows("203.0.113.1", 3)));
        assertEquals(List.of(40003L), clientPorts(t.rows("203.0.113.1", 1)));
        assertEquals(6, clientPorts(t.rows("203.0.113.1", 50)).size());
        final Map<String, Object> busiest = t.rows("203.0.113.1", 1).get(0);
        assertEquals("tcp", busiest.get("protocol"));
        assertEquals("203.0.113.1:50003", busiest.get("wan"));
        assertEquals(7_000_000L, busiest.get("bytes-out"));
    }

    @Test
    void aThousandFlowsGiveTheirFiftyBusiest()
    {
        final long[] bytes = new long[1000];
        for (int i = 0; i < bytes.length; i++)
        {
            bytes[i] = (i * 7919L) % 1000;   // a permutation of 0..999
        }
        final TunnelTable t = flows(bytes);
        final List<Map<String, Object>> rows = t.rows("203.0.113.1", 50);
        assertEquals(50, rows.size());
        for (final Map<String, Object> r : rows)
        {
            assertTrue((Long)r.get("bytes-out") >= 950, r.toString());
        }
        assertEquals(1000, t.offloadedFlows());
    }
}

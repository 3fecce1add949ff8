package io.passgate.nat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/** The open-addressing indexes against a plain map model, through many inserts and removals. */
class FlowTableTest
{
    record Key(int proto, int ia, int ip, int ra, int rp)
    {
    }

    @Test
    void indexesAgreeWithAModelThroughChurn()
    {
        final FlowTable table = new FlowTable(512, 99);
        final Map<Key, Integer> model = new HashMap<>();
        final List<Key> live = new ArrayList<>();
        final SplittableRandom r = new SplittableRandom(7);
        int ext = 1;
        for (int step = 0; step < 200_000; step++)
        {
            if (live.size() < 500 && (live.isEmpty() || r.nextInt(3) != 0))
            {
                // small value ranges so that clusters and backward shifts happen a lot
                final Key k = new Key(r.nextBoolean() ? Protocols.TCP : Protocols.UDP, r.nextInt(8), r.nextInt(16),
                    r.nextInt(4), r.nextInt(4));
                if (model.containsKey(k))
                {
                    continue;
                }
                final int f = table.insert(k.proto(), k.ia(), k.ip(), ext++, k.ra(), k.rp(), -1, step);
                assertTrue(f >= 0);
                model.put(k, f);
                live.add(k);
            }
            else
            {
                final Key k = live.remove(r.nextInt(live.size()));
                final int f = model.remove(k);
                table.remove(f);
            }
            if (step % 997 == 0)
            {
                for (final Map.Entry<Key, Integer> e : model.entrySet())
                {
                    final Key k = e.getKey();
                    final int f = e.getValue();
                    assertEquals(f, table.findOutbound(k.proto(), k.ia(), k.ip(), k.ra(), k.rp()));
                    assertEquals(f, table.findInbound(k.proto(), table.extPort(f), k.ra(), k.rp()));
                }
                assertEquals(model.size(), table.size());
            }
        }
        for (final Key k : live)
        {
            table.remove(model.get(k));
        }
        assertEquals(0, table.size());
        assertEquals(FlowTable.NONE, table.findOutbound(Protocols.TCP, 0, 0, 0, 0));
    }

    @Test
    void greKeysLeaveOutTheSideTheirPacketsDoNotCarry()
    {
        final FlowTable table = new FlowTable(16, 1);
        // client 7 calls server 9: its own Call ID 1 (intPort), translated 40 (extPort), server's 300 (remPort)
        final int f = table.insert(Protocols.GRE, 7, 1, 40, 9, 300, -1, 0);
        assertEquals(f, table.findOutbound(Protocols.GRE, 7, 0, 9, 300), "outbound GRE carries the server's Call ID");
        assertEquals(f, table.findInbound(Protocols.GRE, 40, 9, 0), "inbound GRE carries only the translated one");
    }

    @Test
    void transitoryLruOrder()
    {
        final FlowTable table = new FlowTable(8, 1);
        final int a = table.insert(Protocols.TCP, 1, 1, 1, 1, 1, -1, 0);
        final int b = table.insert(Protocols.TCP, 1, 2, 2, 1, 1, -1, 0);
        final int c = table.insert(Protocols.TCP, 1, 3, 3, 1, 1, -1, 0);
        table.lruAppend(a);
        table.lruAppend(b);
        table.lruAppend(c);
        assertEquals(a, table.oldestTransitory());
        table.lruUnlink(a);
        assertEquals(b, table.oldestTransitory());
        table.remove(b);
        assertEquals(c, table.oldestTransitory());
        table.remove(c);
        assertEquals(FlowTable.NONE, table.oldestTransitory());
    }
}

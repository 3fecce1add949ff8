package io.passgate.alg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nfq.PacketHandler;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The PPTP control stream through the engine and its helper, both directions, cut into TCP segments at the
 * points the input chooses (so messages straddle segments). Input: records of a control byte (bit 0: from
 * the server, else from the client; bit 1: also send an enhanced GRE packet for the last Call ID seen; bit
 * 2: let 61 s pass first) and a length byte, then that many stream bytes as one segment. Each input starts
 * from a confirmed control connection (SCCRQ/SCCRP exchanged).
 *
 * <p>Invariants: segments keep their length and verify after the helper's rewrites (checked in
 * {@link PptpTestSession}); the helper's connection and call counts stay within its limits; the engine's
 * tables within their capacity; a segment the helper dropped made no session.
 */
class PptpStreamFuzzTest
{
    private static final int MAX_CONNECTIONS = 2;
    private static final int MAX_CALLS = 4;

    @FuzzTest(maxDuration = "20s")
    void controlStream(final byte[] data)
    {
        final int wan = Packets.ip("203.0.113.1");
        final int server = Packets.ip("198.51.100.10");
        final NatEngine engine = new NatEngine(NatConfig.defaults(wan, Packets.ip("10.0.0.1"), 2, 64), new CounterSet(),
            (b, o, l, d) -> { }, 100, 1_000_000);
        final PptpHelper pptp = new PptpHelper(MAX_CONNECTIONS, MAX_CALLS, 2, PptpHelper.OnInvalid.RESET, 3);
        engine.register(pptp);
        final PptpTestSession s = new PptpTestSession(engine, Packets.ip("10.0.0.11"), 41001, server, wan, 1_000_000);
        s.start();
        int at = 0;
        int callId = 1;
        while (at + 2 <= data.length)
        {
            final int control = data[at] & 0xFF;
            final int n = Math.min(data[at + 1] & 0xFF, data.length - at - 2);
            final int from = at + 2;
            at = from + n;
            if ((control & 4) != 0)
            {
                s.now += 61_000;
                engine.tick(s.now);
            }
            final int flows = engine.flows().size();
            final UnsafeBuffer seg;
            if ((control & 1) != 0)
            {
                final byte[] bytes = new byte[n];
                System.arraycopy(data, from, bytes, 0, n);
                seg = s.receive(bytes);
            }
            else
            {
                seg = s.send(data, from, n);
            }
            assertEquals(40 + n, Packets.length(seg), "the segment keeps its length");
            if (s.lastVerdict == PacketHandler.VERDICT_DROP)
            {
                assertTrue(engine.flows().size() <= flows, "a dropped segment made no session");
            }
            if (n >= 14)
            {
                callId = ((data[from + 12] & 0xFF) << 8) | (data[from + 13] & 0xFF);
            }
            if ((control & 2) != 0)
            {
                final UnsafeBuffer gre = (control & 1) != 0 ? Packets.pptpGre(server, wan, callId, 1, new byte[8])
                    : Packets.pptpGre(s.client, server, callId, 1, new byte[8]);
                final int before = engine.flows().size();
                final int v = (control & 1) != 0 ? engine.inbound(gre, Packets.OFFSET, Packets.length(gre), false, false, s.now)
                    : engine.outbound(gre, Packets.OFFSET, Packets.length(gre), false, false, s.now);
                if (v == PacketHandler.VERDICT_DROP)
                {
                    assertTrue(engine.flows().size() <= before, "a dropped GRE packet made no session");
                }
                else if ((control & 1) == 0)
                {
                    assertEquals(wan, Packets.source(gre), "GRE to the WAN leaves from the WAN address");
                }
            }
            assertTrue(pptp.liveConnections() <= MAX_CONNECTIONS, "connections within the limit");
            assertTrue(pptp.liveCalls() <= MAX_CALLS, "calls within the limit");
            assertTrue(engine.flows().size() <= engine.flows().capacity(), "flows within capacity");
            assertTrue(engine.mappings().size() <= engine.mappings().capacity(), "mappings within capacity");
        }
    }
}

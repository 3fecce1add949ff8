package io.passgate.alg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nfq.PacketHandler;
import io.passgate.testing.Allocations;
import io.passgate.wire.L2tpHeader;
import io.passgate.wire.L2tpMessages;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * The L2TP paths allocate nothing: three clients on the shared port 1701 (two with the same Tunnel ID, so one
 * is translated both ways), data both ways with the server answering from another port, a HELLO and its
 * acknowledgement, and every thousand rounds a fourth client's tunnel opened (its ID translated), closed with
 * StopCCN and removed after its linger: after warm-up, over a million packets, the thread's allocated bytes do
 * not move.
 */
class L2tpAllocationTest
{
    private static final int[] CLIENTS = {Packets.ip("10.0.0.11"), Packets.ip("10.0.0.12"), Packets.ip("10.0.0.13")};
    private static final int FOURTH = Packets.ip("10.0.0.14");
    private static final int SERVER = Packets.ip("198.51.100.10");
    private static final int WAN = Packets.ip("203.0.113.1");
    private static final int OTHER = 40000;

    private final CounterSet counters = new CounterSet();
    private final NatEngine engine = new NatEngine(NatConfig.defaults(WAN, Packets.ip("10.0.0.1"), 2, 4096), counters,
        (b, o, l, d) -> { }, 100, 1_000_000);
    private final L2tpHelper l2tp = new L2tpHelper(64, 7);
    private final UnsafeBuffer[] bufs = new UnsafeBuffer[3 * 4];
    private final byte[][] bytes = new byte[3 * 4][];
    private UnsafeBuffer open;
    private byte[] openBytes;
    private UnsafeBuffer answer;
    private byte[] answerBytes;
    private UnsafeBuffer stop;
    private byte[] stopBytes;
    private UnsafeBuffer answerSource;
    private final L2tpHeader told = new L2tpHeader();
    private long now = 1_000_000;

    private int pass(final UnsafeBuffer b, final byte[] source, final boolean outbound)
    {
        b.putBytes(0, source);
        return outbound ? engine.outbound(b, Packets.OFFSET, Packets.length(b), false, false, now)
            : engine.inbound(b, Packets.OFFSET, Packets.length(b), false, false, now);
    }

    private static UnsafeBuffer copyable(final byte[] b)
    {
        return new UnsafeBuffer(new byte[b.length]);
    }

    /** Opens client c's tunnel (own ID tid) answered from OTHER; returns the ID the server saw. */
    private int openTunnel(final int client, final int tid, final int serverTid)
    {
        final UnsafeBuffer q = L2tpHelperTest.udp(client, 1701, SERVER, 1701, L2tpHelperTest.sccrq(tid));
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, engine.outbound(q, Packets.OFFSET, Packets.length(q), false, false, now));
        final L2tpHeader h = new L2tpHeader();
        h.wrap(q, Packets.OFFSET + 28, Packets.length(q) - 28);
        h.readAvps();
        final int seen = h.assignedTunnelId();
        final UnsafeBuffer p = L2tpHelperTest.udp(SERVER, OTHER, WAN, 1701, L2tpHelperTest.sccrp(seen, serverTid));
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, engine.inbound(p, Packets.OFFSET, Packets.length(p), false, false, now));
        return seen;
    }

    /** One round: each client's data out and in, a HELLO out and its ZLB in. */
    private int round()
    {
        int modified = 0;
        for (int i = 0; i < bufs.length; i++)
        {
            modified += pass(bufs[i], bytes[i], (i & 1) == 0);
        }
        return modified;
    }

    /** A fourth client's tunnel: opened (the ID clashes with client 0's), stopped, removed after its linger. */
    private void churn()
    {
        pass(open, openBytes, true);
        // the server answers to the ID it was told (a new free one each time)
        told.wrap(open, Packets.OFFSET + 28, Packets.length(open) - 28);
        told.readAvps();
        answerSource.putShort(Packets.OFFSET + 28 + 4, (short)told.assignedTunnelId(), java.nio.ByteOrder.BIG_ENDIAN);
        pass(answer, answerBytes, false);
        pass(stop, stopBytes, true);
        now += L2tpHelper.LINGER_MS + 1000;
        engine.tick(now);
    }

    @Test
    void dataControlAndChurnAllocateNothing()
    {
        engine.register(l2tp);
        final int[] own = {5, 5, 9};
        for (int c = 0; c < 3; c++)
        {
            final int seen = openTunnel(CLIENTS[c], own[c], 100 + c);
            final byte[][] msgs = {
                L2tpHelperTest.udp(CLIENTS[c], 1701, SERVER, OTHER, L2tpMessages.data(100 + c, 7, new byte[1200]))
                    .byteArray(),
                L2tpHelperTest.udp(SERVER, OTHER, WAN, 1701, L2tpMessages.data(seen, 1, new byte[1200])).byteArray(),
                L2tpHelperTest.udp(CLIENTS[c], 1701, SERVER, OTHER,
                    L2tpHelperTest.message(100 + c, 0, 3, 2, L2tpHeader.HELLO)).byteArray(),
                L2tpHelperTest.udp(SERVER, OTHER, WAN, 1701, L2tpMessages.zlb(seen, 2, 4)).byteArray(),
            };
            for (int k = 0; k < 4; k++)
            {
                bytes[c * 4 + k] = msgs[k].clone();
                bufs[c * 4 + k] = copyable(msgs[k]);
            }
        }
        assertEquals(3, l2tp.liveTunnels());
        // the fourth client: its SCCRQ (ID 5, taken), the server's SCCRP to the ID it was told, its StopCCN
        final UnsafeBuffer q = L2tpHelperTest.udp(FOURTH, 1701, SERVER, 1701, L2tpHelperTest.sccrq(5));
        openBytes = q.byteArray().clone();
        open = copyable(openBytes);
        pass(open, openBytes, true);
        final L2tpHeader h = new L2tpHeader();
        h.wrap(open, Packets.OFFSET + 28, Packets.length(open) - 28);
        h.readAvps();
        final int told = h.assignedTunnelId();
        answerBytes = L2tpHelperTest.udp(SERVER, OTHER, WAN, 1701, L2tpHelperTest.sccrp(told, 400)).byteArray().clone();
        answer = copyable(answerBytes);
        answerSource = new UnsafeBuffer(answerBytes);
        answerSource.putShort(Packets.OFFSET + 26, (short)0, java.nio.ByteOrder.BIG_ENDIAN);   // no UDP checksum
        stopBytes = L2tpHelperTest.udp(FOURTH, 1701, SERVER, OTHER, new L2tpMessages.Control(400, 0, 1, 1)
            .type(L2tpHeader.STOPCCN).u16(L2tpHeader.AVP_ASSIGNED_TUNNEL_ID, 5).u16(1, 1).bytes()).byteArray().clone();
        stop = copyable(stopBytes);
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, pass(answer, answerBytes, false));
        assertEquals(FOURTH, Packets.destination(answer));
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, pass(stop, stopBytes, true));
        assertEquals(1701, Packets.sourcePort(stop));
        now += L2tpHelper.LINGER_MS + 1000;
        engine.tick(now);
        assertEquals(3, l2tp.liveTunnels(), "the fourth tunnel lingered and went");

        for (int i = 0; i < 100_000; i++)
        {
            round();
            if (i % 1000 == 0)
            {
                churn();
            }
        }
        final long translatedBefore = counters.get(Counter.L2TP_TUNNEL_IDS_TRANSLATED);
        final long closedBefore = counters.get(Counter.L2TP_TUNNELS_CLOSED);
        final long movesBefore = counters.get(Counter.L2TP_SERVER_PORT_MOVES);
        final long before = Allocations.currentThread();
        long modified = 0;
        for (int i = 0; i < 100_000; i++)
        {
            modified += round();
            if (i % 1000 == 0)
            {
                churn();
            }
        }
        final long after = Allocations.currentThread();
        assertEquals(100_000L * 12 * PacketHandler.VERDICT_ACCEPT_MODIFIED, modified, "every packet translated");
        assertTrue(counters.get(Counter.L2TP_TUNNEL_IDS_TRANSLATED) - translatedBefore >= 100_000L * 2,
            "the translated client's data and ZLB, each round");
        assertEquals(100, counters.get(Counter.L2TP_TUNNELS_CLOSED) - closedBefore, "a tunnel opened and closed per 1000 rounds");
        assertEquals(100, counters.get(Counter.L2TP_SERVER_PORT_MOVES) - movesBefore, "each churned tunnel moved to the other port");
        assertEquals(3, l2tp.liveTunnels());
        assertEquals(0, counters.get(Counter.DROP_L2TP_UNKNOWN_TUNNEL));
        assertEquals(0, after - before, "bytes allocated over 1.2 million L2TP packets with 100 tunnels opened and closed");
    }
}

package io.passgate.alg;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nfq.PacketHandler;
import io.passgate.testing.Allocations;
import io.passgate.wire.PptpControl;
import io.passgate.wire.TcpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** PPTP control messages and enhanced GRE, both ways, a million packets after warm-up: zero bytes allocated. */
class PptpAllocationTest
{
    @Test
    void controlAndGrePacketsAllocateNothing()
    {
        final int wan = Packets.ip("203.0.113.1");
        final int server = Packets.ip("198.51.100.10");
        final CounterSet counters = new CounterSet();
        final NatEngine engine = new NatEngine(NatConfig.defaults(wan, Packets.ip("10.0.0.1"), 2, 4096), counters,
            (b, o, l, d) -> { }, 100, 1_000_000);
        final PptpAlg pptp = new PptpAlg(16, 64, 8, PptpAlg.OnInvalid.RESET, 3);
        engine.register(pptp);
        final PptpTestSession holder = new PptpTestSession(engine, Packets.ip("10.0.0.10"), 41000, server, wan, 1_000_000);
        holder.start();
        holder.call(1, 500);
        final PptpTestSession s = new PptpTestSession(engine, Packets.ip("10.0.0.11"), 41001, server, wan, 1_000_000);
        s.start();
        final int translated = s.call(1, 501);

        // prebuilt packets, restored before each use
        final UnsafeBuffer greIn = Packets.pptpGre(server, wan, translated, 1, new byte[1400]);
        final UnsafeBuffer greOut = Packets.pptpGre(s.client, server, 501, 1, new byte[1400]);
        final byte[] greInBytes = greIn.byteArray().clone();
        final byte[] greOutBytes = greOut.byteArray().clone();
        final byte[] sli = PptpTestSession.first(PptpControl.SET_LINK_INFO, translated);
        final UnsafeBuffer control = new UnsafeBuffer(new byte[Packets.OFFSET + 40 + sli.length + 16]);
        final UnsafeBuffer template = Packets.tcpSegment(server, PptpControl.PORT, wan, s.extPort,
            TcpHeader.ACK | TcpHeader.PSH, 0, s.clientSeq, sli, 0, sli.length);
        final byte[] controlBytes = template.byteArray().clone();
        // the client acknowledges what it receives (so the rewrites the helper remembers are released)
        final UnsafeBuffer ack = Packets.tcpSegment(s.client, s.clientPort, server, PptpControl.PORT, TcpHeader.ACK,
            s.clientSeq, 0, new byte[0], 0, 0);
        final byte[] ackBytes = ack.byteArray().clone();

        final long[] seq = {s.serverSeq};
        final Runnable round = () ->
        {
            greIn.putBytes(0, greInBytes);
            greOut.putBytes(0, greOutBytes);
            engine.inbound(greIn, Packets.OFFSET, 1452, false, false, 1_000_000);
            engine.outbound(greOut, Packets.OFFSET, 1452, false, false, 1_000_000);
        };
        for (int i = 0; i < 200_000; i++)
        {
            round.run();
            seq[0] = controlIn(engine, control, controlBytes, seq[0], sli.length);
            acknowledge(engine, ack, ackBytes, seq[0]);
        }
        final long before = Allocations.currentThread();
        long translatedPackets = 0;
        final long greBefore = counters.get(Counter.PPTP_GRE_IN) + counters.get(Counter.PPTP_GRE_OUT);
        final long messagesBefore = counters.get(Counter.PPTP_MESSAGES);
        for (int i = 0; i < 500_000; i++)
        {
            round.run();
            seq[0] = controlIn(engine, control, controlBytes, seq[0], sli.length);
            acknowledge(engine, ack, ackBytes, seq[0]);
        }
        final long after = Allocations.currentThread();
        translatedPackets = counters.get(Counter.PPTP_GRE_IN) + counters.get(Counter.PPTP_GRE_OUT) - greBefore;
        assertEquals(1_000_000, translatedPackets, "GRE both ways");
        assertEquals(500_000, counters.get(Counter.PPTP_MESSAGES) - messagesBefore, "control messages parsed");
        assertEquals(0, counters.get(Counter.PPTP_INVALID));
        assertEquals(0, after - before, "bytes allocated over 1.5 million PPTP packets");
    }

    /** The client's pure ACK of the server's stream up to {@code seq}. */
    private static void acknowledge(final NatEngine engine, final UnsafeBuffer ack, final byte[] bytes, final long seq)
    {
        ack.putBytes(0, bytes);
        ack.putInt(Packets.OFFSET + 28, (int)seq, java.nio.ByteOrder.BIG_ENDIAN);
        if (engine.outbound(ack, Packets.OFFSET, 40, true, false, 1_000_000) == PacketHandler.VERDICT_DROP)
        {
            throw new AssertionError("ACK refused");
        }
    }

    /** A Set-Link-Info from the server with the next sequence number; returns the sequence after it. */
    private static long controlIn(final NatEngine engine, final UnsafeBuffer control, final byte[] bytes,
        final long seq, final int length)
    {
        control.putBytes(0, bytes);
        control.putInt(Packets.OFFSET + 24, (int)seq, java.nio.ByteOrder.BIG_ENDIAN);
        // the checksum is not kept here: the engine only updates it incrementally, and this test counts bytes
        final int v = engine.inbound(control, Packets.OFFSET, 40 + length, true, false, 1_000_000);
        if (v == PacketHandler.VERDICT_DROP)
        {
            throw new AssertionError("control message refused");
        }
        return seq + length;
    }
}

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

/**
 * PPTP control messages and enhanced GRE, both ways, a million packets after warm-up: zero bytes allocated.
 * And whole calls, set up and torn down (OCRQ, OCRP, GRE both ways, CCRQ, CDN, the client's ACKs): 100 000
 * calls after warm-up allocate nothing either.
 */
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
        final PptpHelper pptp = new PptpHelper(16, 64, 8, PptpHelper.OnInvalid.RESET, 3);
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

    /** A segment template: restored, then sequence, acknowledgement and 16-bit payload fields set. */
    private static final class Segment
    {
        final UnsafeBuffer buffer;
        final byte[] bytes;
        final int length;

        Segment(final UnsafeBuffer segment)
        {
            buffer = segment;
            bytes = segment.byteArray().clone();
            length = Packets.length(segment);
        }

        Segment set(final long seq, final long ack)
        {
            buffer.putBytes(0, bytes);
            buffer.putInt(Packets.OFFSET + 24, (int)seq, java.nio.ByteOrder.BIG_ENDIAN);
            buffer.putInt(Packets.OFFSET + 28, (int)ack, java.nio.ByteOrder.BIG_ENDIAN);
            return this;
        }

        Segment field(final int at, final int value)
        {
            buffer.putShort(PptpTestSession.payload(at), (short)value, java.nio.ByteOrder.BIG_ENDIAN);
            return this;
        }

        int out(final NatEngine engine)
        {
            return engine.outbound(buffer, Packets.OFFSET, length, true, false, 1_000_000);
        }

        int in(final NatEngine engine)
        {
            return engine.inbound(buffer, Packets.OFFSET, length, true, false, 1_000_000);
        }
    }

    private static void accepted(final int verdict, final String what)
    {
        if (verdict == PacketHandler.VERDICT_DROP)
        {
            throw new AssertionError(what + " dropped");
        }
    }

    @Test
    void callSetupAndTeardownAllocateNothing()
    {
        final int wan = Packets.ip("203.0.113.1");
        final int server = Packets.ip("198.51.100.10");
        final CounterSet counters = new CounterSet();
        final NatEngine engine = new NatEngine(NatConfig.defaults(wan, Packets.ip("10.0.0.1"), 2, 4096), counters,
            (b, o, l, d) -> { }, 100, 1_000_000);
        engine.register(new PptpHelper(16, 64, 8, PptpHelper.OnInvalid.RESET, 3));
        final PptpTestSession s = new PptpTestSession(engine, Packets.ip("10.0.0.11"), 41001, server, wan, 1_000_000);
        s.start();
        final int client = s.client;
        final byte[] none = new byte[0];
        final Segment ocrq = new Segment(Packets.tcpSegment(client, s.clientPort, server, PptpControl.PORT,
            TcpHeader.ACK | TcpHeader.PSH, 0, 0, PptpTestSession.ocrq(1), 0, 168));
        final Segment ocrp = new Segment(Packets.tcpSegment(server, PptpControl.PORT, wan, s.extPort,
            TcpHeader.ACK | TcpHeader.PSH, 0, 0, PptpTestSession.ocrp(500, 1, PptpControl.RESULT_OK), 0, 32));
        final byte[] ccrqBytes = PptpTestSession.first(PptpControl.CALL_CLEAR_REQUEST, 1);
        final Segment ccrq = new Segment(Packets.tcpSegment(client, s.clientPort, server, PptpControl.PORT,
            TcpHeader.ACK | TcpHeader.PSH, 0, 0, ccrqBytes, 0, ccrqBytes.length));
        final byte[] cdnBytes = PptpTestSession.first(PptpControl.CALL_DISCONNECT_NOTIFY, 500);
        final Segment cdn = new Segment(Packets.tcpSegment(server, PptpControl.PORT, wan, s.extPort,
            TcpHeader.ACK | TcpHeader.PSH, 0, 0, cdnBytes, 0, cdnBytes.length));
        final Segment ack = new Segment(Packets.tcpSegment(client, s.clientPort, server, PptpControl.PORT, TcpHeader.ACK,
            0, 0, none, 0, 0));
        final UnsafeBuffer greIn = Packets.pptpGre(server, wan, 1, 1, new byte[200]);
        final UnsafeBuffer greOut = Packets.pptpGre(client, server, 500, 1, new byte[200]);
        final byte[] greInBytes = greIn.byteArray().clone();
        final byte[] greOutBytes = greOut.byteArray().clone();
        final int greLength = Packets.length(greIn);
        final long[] seq = {s.clientSeq, s.serverSeq};

        final Runnable call = new Runnable()
        {
            int n;

            @Override
            public void run()
            {
                final int callId = 1 + (n % 200);
                final int pacId = 500 + (n % 200);
                n++;
                accepted(ocrq.set(seq[0], seq[1]).field(PptpControl.CALL_ID_OFFSET, callId).out(engine), "OCRQ");
                seq[0] += 168;
                final int translated = ocrq.buffer.getShort(PptpTestSession.payload(PptpControl.CALL_ID_OFFSET),
                    java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
                accepted(ocrp.set(seq[1], seq[0]).field(PptpControl.CALL_ID_OFFSET, pacId)
                    .field(PptpControl.PEER_CALL_ID_OFFSET, translated).in(engine), "OCRP");
                seq[1] += 32;
                accepted(ack.set(seq[0], seq[1]).out(engine), "ACK");
                greIn.putBytes(0, greInBytes);
                greIn.putShort(Packets.OFFSET + 20 + 6, (short)translated, java.nio.ByteOrder.BIG_ENDIAN);
                accepted(engine.inbound(greIn, Packets.OFFSET, greLength, false, false, 1_000_000), "GRE in");
                greOut.putBytes(0, greOutBytes);
                greOut.putShort(Packets.OFFSET + 20 + 6, (short)pacId, java.nio.ByteOrder.BIG_ENDIAN);
                accepted(engine.outbound(greOut, Packets.OFFSET, greLength, false, false, 1_000_000), "GRE out");
                accepted(ccrq.set(seq[0], seq[1]).field(PptpControl.CALL_ID_OFFSET, callId).out(engine), "CCRQ");
                seq[0] += ccrqBytes.length;
                accepted(cdn.set(seq[1], seq[0]).field(PptpControl.CALL_ID_OFFSET, pacId).in(engine), "CDN");
                seq[1] += cdnBytes.length;
                accepted(ack.set(seq[0], seq[1]).out(engine), "ACK");
            }
        };
        for (int i = 0; i < 300_000; i++)
        {
            call.run();
        }
        final long created = counters.get(Counter.PPTP_CALLS_CREATED);
        final long gre = counters.get(Counter.PPTP_GRE_IN) + counters.get(Counter.PPTP_GRE_OUT);
        final StringBuilder rounds = new StringBuilder();
        long clean = -1;
        for (int round = 0; round < 4 && clean != 0; round++)
        {
            final long before = Allocations.currentThread();
            for (int i = 0; i < 100_000; i++)
            {
                call.run();
            }
            clean = Allocations.currentThread() - before;
            rounds.append(clean).append(' ');
        }
        final long rounds100k = rounds.toString().split(" ").length;
        assertEquals(100_000 * rounds100k, counters.get(Counter.PPTP_CALLS_CREATED) - created, "a call set up each time");
        assertEquals(2 * 100_000 * rounds100k, counters.get(Counter.PPTP_GRE_IN) + counters.get(Counter.PPTP_GRE_OUT) - gre,
            "GRE both ways in each call");
        assertEquals(0, counters.get(Counter.PPTP_CALLS_LIVE), "every call torn down");
        assertEquals(0, counters.get(Counter.PPTP_INVALID));
        assertEquals(0, clean, "bytes allocated per round of 100 000 calls (a clean round after JIT warm-up): " + rounds);
    }
}

package io.passgate.alg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;

import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nfq.PacketHandler;
import io.passgate.wire.PptpControl;
import io.passgate.wire.TcpHeader;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One client's PPTP control connection through a NAT engine, driven by hand: the client's segments go
 * outbound, the server's (addressed to the WAN endpoint) inbound. Tracks sequence numbers both ways.
 */
final class PptpTestSession
{
    final NatEngine engine;
    final int client;
    int clientPort;
    final int server;
    final int wan;
    long clientSeq = 1000;
    long serverSeq = 5000;
    int extPort;
    long now;

    PptpTestSession(final NatEngine engine, final int client, final int clientPort, final int server, final int wan,
        final long now)
    {
        this.engine = engine;
        this.client = client;
        this.clientPort = clientPort;
        this.server = server;
        this.wan = wan;
        this.now = now;
    }

    /** The same client's connection, from now on through {@code other} (a restarted passgate). */
    PptpTestSession on(final NatEngine other)
    {
        final PptpTestSession s = new PptpTestSession(other, client, clientPort, server, wan, now);
        s.clientSeq = clientSeq;
        s.serverSeq = serverSeq;
        s.extPort = extPort;
        return s;
    }

    void handshake()
    {
        final UnsafeBuffer syn = Packets.tcpSegment(client, clientPort, server, PptpControl.PORT, TcpHeader.SYN,
            clientSeq - 1, 0, new byte[0], 0, 0);
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, out(syn));
        extPort = Packets.sourcePort(syn);
        in(Packets.tcpSegment(server, PptpControl.PORT, wan, extPort, TcpHeader.SYN | TcpHeader.ACK, serverSeq - 1,
            clientSeq, new byte[0], 0, 0));
    }

    int out(final UnsafeBuffer packet)
    {
        final int v = engine.outbound(packet, Packets.OFFSET, Packets.length(packet), false, false, now);
        if (v != PacketHandler.VERDICT_DROP)
        {
            assertTrue(Packets.checksumsValid(packet), "checksums after the helper's rewrite");
        }
        return v;
    }

    int in(final UnsafeBuffer packet)
    {
        final int v = engine.inbound(packet, Packets.OFFSET, Packets.length(packet), false, false, now);
        if (v != PacketHandler.VERDICT_DROP)
        {
            assertTrue(Packets.checksumsValid(packet), "checksums after the helper's rewrite");
        }
        return v;
    }

    /** Sends client bytes in one segment; returns the translated segment (its payload at {@link #payload}). */
    UnsafeBuffer send(final byte[] data, final int from, final int length)
    {
        final UnsafeBuffer seg = Packets.tcpSegment(client, clientPort, server, PptpControl.PORT,
            TcpHeader.ACK | TcpHeader.PSH, clientSeq, serverSeq, data, from, length);
        lastVerdict = out(seg);
        if (lastVerdict != PacketHandler.VERDICT_DROP)
        {
            clientSeq += length;
        }
        return seg;
    }

    UnsafeBuffer send(final byte[] data)
    {
        return send(data, 0, data.length);
    }

    /** Re-sends bytes already sent, starting at stream offset {@code seq}. */
    UnsafeBuffer resend(final long seq, final byte[] data, final int from, final int length)
    {
        final UnsafeBuffer seg = Packets.tcpSegment(client, clientPort, server, PptpControl.PORT,
            TcpHeader.ACK | TcpHeader.PSH, seq, serverSeq, data, from, length);
        lastVerdict = out(seg);
        return seg;
    }

    UnsafeBuffer receive(final byte[] data)
    {
        final UnsafeBuffer seg = Packets.tcpSegment(server, PptpControl.PORT, wan, extPort, TcpHeader.ACK | TcpHeader.PSH,
            serverSeq, clientSeq, data, 0, data.length);
        lastVerdict = in(seg);
        if (lastVerdict != PacketHandler.VERDICT_DROP)
        {
            serverSeq += data.length;
        }
        return seg;
    }

    int lastVerdict;

    static int payload(final int at)
    {
        return Packets.OFFSET + 40 + at;
    }

    static int field(final UnsafeBuffer segment, final int messageOffset, final int field)
    {
        return segment.getShort(payload(messageOffset + field), ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    static byte[] message(final java.util.function.ObjIntConsumer<UnsafeBuffer> writer, final int size)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[size]);
        writer.accept(b, 0);
        return b.byteArray();
    }

    static byte[] sccrq()
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[156]);
        PptpControl.startRequest(b, 0, "client");
        return b.byteArray();
    }

    static byte[] sccrp()
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[156]);
        PptpControl.startReply(b, 0, PptpControl.RESULT_OK);
        return b.byteArray();
    }

    static byte[] ocrq(final int callId)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[168]);
        PptpControl.outgoingCallRequest(b, 0, callId, callId);
        return b.byteArray();
    }

    static byte[] ocrp(final int callId, final int peer, final int result)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[32]);
        PptpControl.outgoingCallReply(b, 0, callId, peer, result);
        return b.byteArray();
    }

    static byte[] first(final int type, final int callId)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[PptpControl.size(type)]);
        PptpControl.withFirstCallId(b, 0, type, callId);
        return b.byteArray();
    }

    static byte[] simple(final int type)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[PptpControl.size(type)]);
        PptpControl.simple(b, 0, type);
        return b.byteArray();
    }

    /** Up to a confirmed control connection. */
    void start()
    {
        handshake();
        send(sccrq());
        receive(sccrp());
    }

    /** An outgoing call: returns the translated Call ID the server saw. */
    int call(final int callId, final int pacCallId)
    {
        final UnsafeBuffer ocrq = send(ocrq(callId));
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, lastVerdict, "the request passes");
        final int translated = field(ocrq, 0, PptpControl.CALL_ID_OFFSET);
        final UnsafeBuffer ocrp = receive(ocrp(pacCallId, translated, PptpControl.RESULT_OK));
        assertEquals(callId, field(ocrp, 0, PptpControl.PEER_CALL_ID_OFFSET), "the client sees its own Call ID");
        assertEquals(pacCallId, field(ocrp, 0, PptpControl.CALL_ID_OFFSET), "the server's Call ID untouched");
        return translated;
    }
}

package io.passgate.alg;

import static io.passgate.alg.PptpTestSession.field;
import static io.passgate.alg.PptpTestSession.first;
import static io.passgate.alg.PptpTestSession.ocrp;
import static io.passgate.alg.PptpTestSession.ocrq;
import static io.passgate.alg.PptpTestSession.simple;
import static io.passgate.nfq.PacketHandler.VERDICT_ACCEPT_MODIFIED;
import static io.passgate.nfq.PacketHandler.VERDICT_DROP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nat.Protocols;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.PptpControl;
import io.passgate.wire.TcpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * The PPTP items of the outside review (issue 9), one test each: quiet calls, teardown races, the drop policy's
 * transactions, full tables, retransmission memory, Call-Disconnect-Notify lookup, reused 5-tuples, ICMP errors
 * about GRE, per-connection PAC Call IDs, declined and unanswered calls.
 */
class PptpReviewTest
{
    static final int WAN = Packets.ip("203.0.113.1");
    static final int SERVER = Packets.ip("198.51.100.10");

    private final CounterSet counters = new CounterSet();
    private final List<byte[]> sent = new ArrayList<>();
    private NatEngine engine;
    private PptpAlg pptp;
    private long now = 1_000_000;

    private void engine(final PptpAlg.OnInvalid policy, final int maxFlows, final int callsPerConnection)
    {
        engine = new NatEngine(NatConfig.defaults(WAN, Packets.ip("10.0.0.1"), 2, maxFlows), counters,
            (b, o, l, d) ->
            {
                final byte[] copy = new byte[l];
                b.getBytes(o, copy);
                sent.add(copy);
            }, 1000, now);
        pptp = new PptpAlg(16, 256, callsPerConnection, policy, 7);
        engine.register(pptp);
    }

    private PptpTestSession session(final int host)
    {
        final PptpTestSession s = new PptpTestSession(engine, Packets.ip("10.0.0." + host), 40000 + host, SERVER, WAN, now);
        s.now = now;
        return s;
    }

    private int greIn(final int translated)
    {
        final UnsafeBuffer g = Packets.pptpGre(SERVER, WAN, translated, 1, "in".getBytes());
        return engine.inbound(g, Packets.OFFSET, Packets.length(g), false, false, now);
    }

    private UnsafeBuffer greInPacket(final int translated)
    {
        final UnsafeBuffer g = Packets.pptpGre(SERVER, WAN, translated, 1, "in".getBytes());
        assertEquals(VERDICT_ACCEPT_MODIFIED, engine.inbound(g, Packets.OFFSET, Packets.length(g), false, false, now));
        return g;
    }

    private void advance(final PptpTestSession s, final long ms)
    {
        final long end = now + ms;
        while (now < end)
        {
            now = Math.min(end, now + 1000);
            engine.tick(now);
        }
        s.now = now;
    }

    /** Item 1: a call's GRE lives as long as the call, however quiet, while its control connection lives. */
    @Test
    void quietCallKeepsItsGreAsLongAsTheControlConnectionLives()
    {
        engine(PptpAlg.OnInvalid.RESET, 4096, 8);
        final PptpTestSession s = session(11);
        s.start();
        final int t = s.call(1, 100);
        // three hours without a GRE packet; the control connection echoes every ten minutes (as pptpd does)
        for (int i = 0; i < 18; i++)
        {
            advance(s, 600_000);
            s.send(simple(PptpControl.ECHO_REQUEST));
            s.receive(simple(PptpControl.ECHO_REPLY));
        }
        assertEquals(1, pptp.liveCalls());
        assertEquals(VERDICT_ACCEPT_MODIFIED, greIn(t), "the quiet call's GRE still passes after three hours");
        final UnsafeBuffer out = Packets.pptpGre(s.client, SERVER, 100, 2, "o".getBytes());
        assertEquals(VERDICT_ACCEPT_MODIFIED, s.out(out));
        // and it ends with the control connection
        s.in(Packets.tcpSegment(SERVER, PptpControl.PORT, WAN, s.extPort, TcpHeader.RST, s.serverSeq, 0, new byte[0], 0, 0));
        assertEquals(VERDICT_DROP, greIn(t));
        assertEquals(0, pptp.liveCalls());
    }

    /** Item 2: a Call-Clear-Request that crosses the server's Call-Disconnect-Notify passes, translated. */
    @Test
    void callClearRequestCrossingTheDisconnectNotifyPasses()
    {
        engine(PptpAlg.OnInvalid.RESET, 4096, 8);
        final PptpTestSession holder = session(12);
        holder.start();
        holder.call(4, 800);
        final PptpTestSession s = session(11);
        s.start();
        final int t = s.call(4, 801);
        assertNotEquals(4, t);
        s.receive(first(PptpControl.CALL_DISCONNECT_NOTIFY, 801));
        assertEquals(VERDICT_DROP, greIn(t), "the call's GRE ends with the server's notify");
        final UnsafeBuffer ccrq = s.send(first(PptpControl.CALL_CLEAR_REQUEST, 4));
        assertEquals(VERDICT_ACCEPT_MODIFIED, s.lastVerdict, "the crossing request passes");
        assertEquals(t, field(ccrq, 0, PptpControl.CALL_ID_OFFSET), "translated as the call was");
        assertEquals(0, counters.get(Counter.PPTP_INVALID));
        assertEquals(0, counters.get(Counter.PPTP_RESETS_SENT));
        assertEquals(1, pptp.liveCalls(), "only the holder's call");
        // the connection goes on: a new call works
        final int t2 = s.call(5, 802);
        assertEquals(VERDICT_ACCEPT_MODIFIED, greIn(t2));
    }

    /** Item 2: the client clears its calls after the server's Stop-Control-Connection-Request. */
    @Test
    void callClearRequestAfterTheServersStopRequestPasses()
    {
        engine(PptpAlg.OnInvalid.RESET, 4096, 8);
        final PptpTestSession s = session(11);
        s.start();
        final int t = s.call(7, 900);
        s.receive(simple(PptpControl.STOP_CONTROL_CONNECTION_REQUEST));
        final UnsafeBuffer ccrq = s.send(first(PptpControl.CALL_CLEAR_REQUEST, 7));
        assertEquals(VERDICT_ACCEPT_MODIFIED, s.lastVerdict, "the request passes");
        assertEquals(t, field(ccrq, 0, PptpControl.CALL_ID_OFFSET));
        s.receive(first(PptpControl.CALL_DISCONNECT_NOTIFY, 900));
        s.send(simple(PptpControl.STOP_CONTROL_CONNECTION_REPLY));
        assertEquals(0, counters.get(Counter.PPTP_INVALID));
        assertEquals(0, counters.get(Counter.PPTP_RESETS_SENT));
        assertEquals(0, pptp.liveCalls());
    }

    /**
     * Item 3: with {@code pptp.on-invalid = drop} a dropped segment leaves no trace: the call a valid message
     * in it created is undone, the parser is where it was, and the retransmission is parsed afresh.
     */
    @Test
    void droppedSegmentLeavesNoTraceAndItsRetransmissionIsParsedAfresh()
    {
        engine(PptpAlg.OnInvalid.DROP, 4096, 8);
        final PptpTestSession holder = session(12);
        holder.start();
        holder.call(3, 700);
        final PptpTestSession s = session(11);
        s.start();
        // the second half of a request split over two segments, then a valid request and a broken message
        final byte[] first = ocrq(3);
        s.send(first, 0, 100);
        assertEquals(VERDICT_ACCEPT_MODIFIED, s.lastVerdict);
        final long seq = s.clientSeq;
        final byte[] bad = new byte[68 + 168 + 16];
        System.arraycopy(first, 100, bad, 0, 68);
        System.arraycopy(ocrq(9), 0, bad, 68, 168);
        final byte[] broken = simple(PptpControl.ECHO_REQUEST);
        broken[5] = 0;   // bad magic cookie
        System.arraycopy(broken, 0, bad, 68 + 168, 16);
        s.send(bad);
        assertEquals(VERDICT_DROP, s.lastVerdict);
        assertEquals(1, counters.get(Counter.PPTP_SEGMENTS_UNDONE));
        assertEquals(2, pptp.liveCalls(), "the holder's and the first request's: the dropped one's is undone");
        // the sender retransmits, this time without the broken message (it might also cut it elsewhere)
        s.clientSeq = seq;
        final byte[] good = new byte[68 + 168];
        System.arraycopy(bad, 0, good, 0, 68 + 168);
        final UnsafeBuffer again = s.send(good);
        assertEquals(VERDICT_ACCEPT_MODIFIED, s.lastVerdict, "parsed from the right place");
        final int t9 = field(again, 68, PptpControl.CALL_ID_OFFSET);
        assertEquals(9, t9, "9 is free at this server: kept");
        assertEquals(3, pptp.liveCalls());
        assertEquals(0, counters.get(Counter.PPTP_RESETS_SENT));
        assertTrue(sent.isEmpty());
        // both calls of the retransmitted bytes come up
        final UnsafeBuffer reply = s.receive(ocrp(901, 9, PptpControl.RESULT_OK));
        assertEquals(9, field(reply, 0, PptpControl.PEER_CALL_ID_OFFSET));
        assertEquals(VERDICT_ACCEPT_MODIFIED, greIn(9));
    }

    /** Item 3: a dropped segment that ended calls (a Stop-Control-Connection-Reply) ends nothing. */
    @Test
    void droppedSegmentThatEndedCallsEndsNothing()
    {
        engine(PptpAlg.OnInvalid.DROP, 4096, 8);
        final PptpTestSession s = session(11);
        s.start();
        final int t = s.call(1, 100);
        s.send(simple(PptpControl.STOP_CONTROL_CONNECTION_REQUEST));
        final byte[] both = new byte[32];
        System.arraycopy(simple(PptpControl.STOP_CONTROL_CONNECTION_REPLY), 0, both, 0, 16);
        final byte[] broken = simple(PptpControl.ECHO_REQUEST);
        broken[4] = 9;
        System.arraycopy(broken, 0, both, 16, 16);
        final long seq = s.serverSeq;
        s.receive(both);
        assertEquals(VERDICT_DROP, s.lastVerdict);
        assertEquals(1, pptp.liveCalls(), "the call is still up");
        assertEquals(VERDICT_ACCEPT_MODIFIED, greIn(t));
        s.serverSeq = seq;
        s.receive(simple(PptpControl.STOP_CONTROL_CONNECTION_REPLY));
        assertEquals(0, pptp.liveCalls());
        assertEquals(VERDICT_DROP, greIn(t));
    }

    /** Item 4: no room for a call's GRE takes the one invalid path: counted, described, reset (default policy). */
    @Test
    void fullSessionTableAtCallSetupIsInvalidNotSilent()
    {
        engine(PptpAlg.OnInvalid.RESET, 8, 8);
        final PptpTestSession s = session(11);
        s.start();
        // fill the rest of the table with UDP sessions (never evicted)
        for (int i = 0; engine.flows().size() < engine.flows().capacity(); i++)
        {
            final UnsafeBuffer u = Packets.udp(Packets.ip("10.0.0.50"), 20000 + i, SERVER, 53, 8);
            engine.outbound(u, Packets.OFFSET, Packets.length(u), false, false, now);
        }
        final UnsafeBuffer request = s.send(ocrq(1));
        assertEquals(VERDICT_ACCEPT_MODIFIED, s.lastVerdict);
        final int t = field(request, 0, PptpControl.CALL_ID_OFFSET);
        s.receive(ocrp(100, t, PptpControl.RESULT_OK));
        assertEquals(VERDICT_DROP, s.lastVerdict);
        assertEquals(1, counters.get(Counter.PPTP_INVALID));
        assertTrue(pptp.lastInvalid().contains("no room in the session table"), pptp.lastInvalid());
        assertEquals(1, counters.get(Counter.PPTP_RESETS_SENT), "reset to both ends");
        assertEquals(0, pptp.liveCalls());
    }

    /** Item 4, drop policy: the refused reply is undone; once there is room its retransmission brings the call up. */
    @Test
    void fullSessionTableWithTheDropPolicyRefusesTheReplyUntilThereIsRoom()
    {
        engine(PptpAlg.OnInvalid.DROP, 8, 8);
        final PptpTestSession s = session(11);
        s.start();
        final List<UnsafeBuffer> fillers = new ArrayList<>();
        for (int i = 0; engine.flows().size() < engine.flows().capacity(); i++)
        {
            final UnsafeBuffer u = Packets.udp(Packets.ip("10.0.0.50"), 20000 + i, SERVER, 53, 8);
            engine.outbound(u, Packets.OFFSET, Packets.length(u), false, false, now);
            fillers.add(u);
        }
        final int t = field(s.send(ocrq(1)), 0, PptpControl.CALL_ID_OFFSET);
        final long seq = s.serverSeq;
        s.receive(ocrp(100, t, PptpControl.RESULT_OK));
        assertEquals(VERDICT_DROP, s.lastVerdict);
        assertEquals(1, counters.get(Counter.PPTP_INVALID));
        assertEquals(0, counters.get(Counter.PPTP_RESETS_SENT));
        assertEquals(VERDICT_DROP, greIn(t), "no GRE yet");
        // the UDP sessions expire; the server retransmits its reply
        advance(s, 400_000);
        s.serverSeq = seq;
        final UnsafeBuffer reply = s.receive(ocrp(100, t, PptpControl.RESULT_OK));
        assertEquals(VERDICT_ACCEPT_MODIFIED, s.lastVerdict);
        assertEquals(1, field(reply, 0, PptpControl.PEER_CALL_ID_OFFSET));
        assertEquals(VERDICT_ACCEPT_MODIFIED, greIn(t));
    }

    /** Item 5: rewrites are remembered for the whole unacknowledged window, not the last sixteen. */
    @Test
    void retransmissionOfTheFirstOfManyRewrittenRequestsIsStillTranslated()
    {
        engine(PptpAlg.OnInvalid.RESET, 4096, 64);
        final PptpTestSession holder = session(12);
        holder.start();
        for (int id = 1; id <= 30; id++)
        {
            holder.call(id, 500 + id);
        }
        final PptpTestSession s = session(11);
        s.start();
        final long firstSeq = s.clientSeq;
        int firstTranslated = -1;
        for (int id = 1; id <= 30; id++)
        {
            final UnsafeBuffer r = s.send(ocrq(id));
            final int t = field(r, 0, PptpControl.CALL_ID_OFFSET);
            assertNotEquals(id, t, "held by the other client: translated");
            if (id == 1)
            {
                firstTranslated = t;
            }
        }
        // the server has acknowledged nothing yet: the first request is retransmitted
        final UnsafeBuffer again = s.resend(firstSeq, ocrq(1), 0, 168);
        assertEquals(firstTranslated, field(again, 0, PptpControl.CALL_ID_OFFSET), "translated as the first time");
        // once the server acknowledges, the memory is released (the same bytes would then be duplicates)
        s.in(Packets.tcpSegment(SERVER, PptpControl.PORT, WAN, s.extPort, TcpHeader.ACK, s.serverSeq, s.clientSeq,
            new byte[0], 0, 0));
        final long patched = counters.get(Counter.PPTP_RETRANSMISSIONS_PATCHED);
        s.resend(firstSeq, ocrq(1), 0, 168);
        assertEquals(patched, counters.get(Counter.PPTP_RETRANSMISSIONS_PATCHED), "acknowledged: forgotten");
    }

    /**
     * Item 6: a Call-Disconnect-Notify carrying the translated Call ID ends the call with that translation, not
     * the call whose original Call ID happens to equal that value.
     */
    @Test
    void disconnectNotifyWithTheTranslatedIdEndsThatCallOnly()
    {
        engine(PptpAlg.OnInvalid.RESET, 4096, 8);
        final PptpTestSession holder = session(12);
        holder.start();
        holder.call(5, 700);
        final PptpTestSession s = session(11);
        s.start();
        final int t1 = s.call(5, 701);            // 5 is held: translated to t1
        final int t2 = s.call(t1, 702);           // a second call whose own Call ID is t1
        assertNotEquals(t1, t2);
        final UnsafeBuffer cdn = s.receive(first(PptpControl.CALL_DISCONNECT_NOTIFY, t1));
        assertEquals(5, field(cdn, 0, PptpControl.CALL_ID_OFFSET), "restored to the client's Call ID");
        assertEquals(VERDICT_DROP, greIn(t1), "the call translated to t1 ended");
        assertEquals(VERDICT_ACCEPT_MODIFIED, greIn(t2), "the call whose own Call ID is t1 goes on");
        assertEquals(VERDICT_ACCEPT_MODIFIED, greIn(holder.call(6, 703)));
    }

    /** Item 7: a new connection on a 5-tuple reused after a reset is tracked at once (not dropped for 4 minutes). */
    @Test
    void newConnectionOnATupleReusedAfterAResetIsTracked()
    {
        engine(PptpAlg.OnInvalid.RESET, 4096, 8);
        final PptpTestSession s = session(11);
        s.start();
        s.call(1, 100);
        s.out(Packets.tcpSegment(s.client, s.clientPort, SERVER, PptpControl.PORT, TcpHeader.RST, s.clientSeq, 0,
            new byte[0], 0, 0));
        assertEquals(0, pptp.liveConnections());
        // the same source port again, a second later
        now += 1000;
        s.now = now;
        s.clientSeq = 77_000;
        s.serverSeq = 88_000;
        s.handshake();
        s.send(PptpTestSession.sccrq());
        assertEquals(VERDICT_ACCEPT_MODIFIED, s.lastVerdict, "the new connection's first message passes");
        s.receive(PptpTestSession.sccrp());
        assertEquals(VERDICT_ACCEPT_MODIFIED, s.lastVerdict);
        final int t = s.call(2, 101);
        assertEquals(VERDICT_ACCEPT_MODIFIED, greIn(t));
        assertEquals(1, pptp.liveConnections());
    }

    /**
     * Item 8: an ICMP error about a call's GRE reaches the call's client even when another client uses GRE
     * version 0 with the same server; and a client's own error about GRE it received leaves translated.
     */
    @Test
    void icmpErrorsAboutPptpGreAreRoutedByTheCall()
    {
        engine(PptpAlg.OnInvalid.RESET, 4096, 8);
        final int other = Packets.ip("10.0.0.31");
        final UnsafeBuffer v0 = Packets.other(other, SERVER, Protocols.GRE, 8);
        assertEquals(VERDICT_ACCEPT_MODIFIED, engine.outbound(v0, Packets.OFFSET, Packets.length(v0), false, false, now));
        final PptpTestSession s = session(11);
        s.start();
        final int t = s.call(1, 100);
        final UnsafeBuffer g = Packets.pptpGre(s.client, SERVER, 100, 1, new byte[32]);
        s.out(g);
        final UnsafeBuffer mtu = Packets.icmpError(Packets.ip("192.0.2.1"), WAN, IcmpHeader.DESTINATION_UNREACHABLE,
            IcmpHeader.CODE_FRAGMENTATION_NEEDED, g, 28);
        assertEquals(VERDICT_ACCEPT_MODIFIED, engine.inbound(mtu, Packets.OFFSET, Packets.length(mtu), false, false, now));
        assertEquals(s.client, Packets.destination(mtu), "to the call's client, not the GRE v0 client");
        assertTrue(Packets.checksumsValid(mtu));

        // the client's own error about GRE it received (quoting the server's packet as delivered: key = its Call ID)
        final UnsafeBuffer delivered = greInPacket(t);
        assertEquals(1, delivered.getShort(Packets.OFFSET + 20 + 6, ByteOrder.BIG_ENDIAN) & 0xFFFF);
        final UnsafeBuffer error = Packets.icmpError(s.client, SERVER, IcmpHeader.DESTINATION_UNREACHABLE, 2, delivered,
            28);
        assertEquals(VERDICT_ACCEPT_MODIFIED, engine.outbound(error, Packets.OFFSET, Packets.length(error), false, false,
            now));
        assertEquals(WAN, Packets.source(error));
        final int quote = Packets.OFFSET + 20 + 8;
        assertEquals(WAN, error.getInt(quote + 16, ByteOrder.BIG_ENDIAN), "the quote's destination: the WAN address");
        assertEquals(t, error.getShort(quote + 20 + 6, ByteOrder.BIG_ENDIAN) & 0xFFFF,
            "the quote's key: the Call ID the server sent");
        assertTrue(Packets.checksumsValid(error));
    }

    /** Item 9: the PAC's Call IDs are per control connection: two clients' calls with PAC Call ID 100 both work. */
    @Test
    void pacCallIdsArePerControlConnection()
    {
        engine(PptpAlg.OnInvalid.RESET, 4096, 8);
        final PptpTestSession a = session(11);
        final PptpTestSession b = session(12);
        a.start();
        b.start();
        final int ta = a.call(1, 100);
        final int tb = b.call(1, 100);   // pptpd numbers calls per connection: the same PAC Call ID
        assertNotEquals(ta, tb);
        // a's server ends a's call by its PAC Call ID: b's call goes on
        a.receive(first(PptpControl.CALL_DISCONNECT_NOTIFY, 100));
        assertEquals(VERDICT_DROP, greIn(ta));
        assertEquals(VERDICT_ACCEPT_MODIFIED, greIn(tb));
        final UnsafeBuffer out = Packets.pptpGre(b.client, SERVER, 100, 3, "b".getBytes());
        assertEquals(VERDICT_ACCEPT_MODIFIED, b.out(out));
        assertEquals(1, pptp.liveCalls());
    }

    /** Item 9: a declined Incoming-Call-Reply creates no GRE, and the offered call ends. */
    @Test
    void declinedIncomingCallReplyCreatesNoGre()
    {
        engine(PptpAlg.OnInvalid.RESET, 4096, 8);
        final PptpTestSession s = session(11);
        s.start();
        final UnsafeBuffer icrq = new UnsafeBuffer(new byte[220]);
        PptpControl.incomingCallRequest(icrq, 0, 650);
        s.receive(icrq.byteArray());
        assertEquals(1, pptp.liveCalls());
        final UnsafeBuffer icrp = new UnsafeBuffer(new byte[24]);
        PptpControl.incomingCallReply(icrp, 0, 2, 650, 3);   // do not accept
        final int t = field(s.send(icrp.byteArray()), 0, PptpControl.CALL_ID_OFFSET);
        assertEquals(0, pptp.liveCalls());
        assertEquals(VERDICT_DROP, greIn(t), "no GRE for a declined call");
        assertEquals(0, counters.get(Counter.PPTP_INVALID));
    }

    /** Item 9: call requests never answered end after ten minutes (they held a record and a Call ID). */
    @Test
    void unansweredCallRequestsExpire()
    {
        engine(PptpAlg.OnInvalid.RESET, 4096, 8);
        final PptpTestSession s = session(11);
        s.start();
        final UnsafeBuffer icrq = new UnsafeBuffer(new byte[220]);
        PptpControl.incomingCallRequest(icrq, 0, 650);
        s.receive(icrq.byteArray());
        s.send(ocrq(3));
        assertEquals(2, pptp.liveCalls());
        advance(s, PptpAlg.REQUEST_TIMEOUT_MS - 5_000);
        assertEquals(2, pptp.liveCalls(), "not before ten minutes");
        advance(s, 10_000);
        assertEquals(0, pptp.liveCalls());
        assertEquals(2, counters.get(Counter.PPTP_CALLS_TIMED_OUT));
        assertEquals(1, pptp.liveConnections(), "the control connection stays");
    }
}

package io.passgate.alg;

import static io.passgate.alg.PptpTestSession.field;
import static io.passgate.alg.PptpTestSession.first;
import static io.passgate.alg.PptpTestSession.ocrp;
import static io.passgate.alg.PptpTestSession.ocrq;
import static io.passgate.alg.PptpTestSession.payload;
import static io.passgate.alg.PptpTestSession.simple;
import static io.passgate.nfq.PacketHandler.VERDICT_ACCEPT_MODIFIED;
import static io.passgate.nfq.PacketHandler.VERDICT_DROP;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nat.Protocols;
import io.passgate.wire.GreHeader;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.PptpControl;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The PPTP helper through the NAT engine: Call ID translation, GRE, splits, teardown, hostile input. */
class PptpHelperTest
{
    static final int WAN = Packets.ip("203.0.113.1");
    static final int SERVER = Packets.ip("198.51.100.10");
    static final int SERVER2 = Packets.ip("198.51.100.20");

    private CounterSet counters = new CounterSet();
    private final List<byte[]> sent = new ArrayList<>();
    private NatEngine engine;
    private PptpHelper pptp;
    private final long now = 1_000_000;

    @BeforeEach
    void setUp()
    {
        counters = new CounterSet();
        sent.clear();
        engine = new NatEngine(NatConfig.defaults(WAN, Packets.ip("10.0.0.1"), 2, 4096), counters,
            (b, o, l, d) ->
            {
                final byte[] copy = new byte[l];
                b.getBytes(o, copy);
                sent.add(copy);
            }, 1000, now);
        pptp = new PptpHelper(16, 64, 8, PptpHelper.OnInvalid.RESET, 7);
        engine.register(pptp);
    }

    private PptpTestSession session(final int host, final int server)
    {
        return new PptpTestSession(engine, Packets.ip("10.0.0." + host), 40000 + host, server, WAN, now);
    }

    private UnsafeBuffer greFromServer(final PptpTestSession s, final int server, final int translated, final String text)
    {
        final UnsafeBuffer g = Packets.pptpGre(server, WAN, translated, 1, text.getBytes());
        assertEquals(VERDICT_ACCEPT_MODIFIED, s.in(g), "GRE to the WAN address with a translated Call ID");
        return g;
    }

    private static int greKey(final UnsafeBuffer g)
    {
        return g.getShort(Packets.OFFSET + 20 + 6, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    @Test
    void threeClientsWithCallIdOneToOneServer()
    {
        final Set<Integer> translated = new HashSet<>();
        final List<PptpTestSession> sessions = new ArrayList<>();
        for (int i = 0; i < 3; i++)
        {
            final PptpTestSession s = session(11 + i, SERVER);
            s.start();
            translated.add(s.call(1, 100 + i));
            sessions.add(s);
        }
        assertEquals(3, translated.size(), "each call has its own Call ID at the server");
        assertTrue(translated.contains(1), "the first keeps its own");
        for (final int t : translated)
        {
            assertEquals(0, t >>> 8, "the high byte is kept: " + t);
        }
        // GRE from the server to each translated Call ID reaches the right client, with Call ID 1
        int i = 0;
        for (final PptpTestSession s : sessions)
        {
            final int t = field(s.send(first(PptpControl.SET_LINK_INFO, 100 + i)), 0, 12);
            assertEquals(100 + i, t, "Set-Link-Info from the client carries the server's Call ID, untouched");
            i++;
        }
        for (int k = 0; k < 3; k++)
        {
            final PptpTestSession s = sessions.get(k);
            final int trans = new ArrayList<>(translated).get(k);
            final UnsafeBuffer g = greFromServer(s, SERVER, trans, "payload");
            assertEquals(1, greKey(g), "the client's own Call ID back in the key");
            final int host = Packets.destination(g);
            assertTrue(host == Packets.ip("10.0.0.11") || host == Packets.ip("10.0.0.12") || host == Packets.ip("10.0.0.13"));
        }
        // outbound GRE carries the server's Call ID and leaves with the WAN address
        final PptpTestSession second = sessions.get(1);
        final UnsafeBuffer out = Packets.pptpGre(second.client, SERVER, 101, 7, "x".getBytes());
        assertEquals(VERDICT_ACCEPT_MODIFIED, second.out(out));
        assertEquals(WAN, Packets.source(out));
        assertEquals(101, greKey(out));
        assertEquals(3, counters.get(Counter.PPTP_CALLS_LIVE));
    }

    @Test
    void greRoutedToTheRightClientByTranslatedCallId()
    {
        final PptpTestSession a = session(11, SERVER);
        final PptpTestSession b = session(12, SERVER);
        a.start();
        b.start();
        final int ta = a.call(5, 700);
        final int tb = b.call(5, 701);
        assertNotEquals(ta, tb);
        final UnsafeBuffer toB = greFromServer(b, SERVER, tb, "for b");
        assertEquals(b.client, Packets.destination(toB));
        assertEquals(5, greKey(toB));
        final UnsafeBuffer toA = greFromServer(a, SERVER, ta, "for a");
        assertEquals(a.client, Packets.destination(toA));
        // the payload is untouched
        assertArrayEquals("for a".getBytes(), Packets.bytes(toA, Packets.OFFSET + 20 + 12, 5));
        assertEquals(2, counters.get(Counter.PPTP_GRE_IN));
    }

    @Test
    void twoCallsOnOneControlConnectionAndSeveralServers()
    {
        final PptpTestSession s = session(11, SERVER);
        s.start();
        final int t1 = s.call(1, 300);
        final int t2 = s.call(2, 301);
        assertNotEquals(t1, t2);
        final PptpTestSession other = session(11, SERVER2);
        other.clientSeq = 9000;
        other.start();
        assertEquals(1, other.call(1, 300), "Call IDs are per server: free again at another server");
        assertEquals(1, Packets.destination(greFromServer(s, SERVER, t2, "2")) == s.client ? 1 : 0);
        assertEquals(3, pptp.liveCalls());
    }

    /** Every split of an Outgoing-Call-Request, the Call ID field included, and of the reply. */
    @Test
    void messageSplitAtEveryPosition()
    {
        // a first client holds Call ID 9 at this server, so the others' 9 must be translated
        final PptpTestSession holder = session(10, SERVER);
        holder.start();
        holder.call(9, 999);
        for (int split = 1; split < 168; split += split < 20 ? 1 : 29)
        {
            final PptpTestSession s = session(20 + split % 200, SERVER);
            s.clientPort = 30000 + split;
            s.start();
            final byte[] request = ocrq(9);
            final UnsafeBuffer first = s.send(request, 0, split);
            assertEquals(VERDICT_ACCEPT_MODIFIED, s.lastVerdict);
            final UnsafeBuffer second = s.send(request, split, 168 - split);
            // reassemble what the server received
            final byte[] seen = new byte[168];
            first.getBytes(payload(0), seen, 0, split);
            second.getBytes(payload(0), seen, split, 168 - split);
            final int translated = ((seen[12] & 0xFF) << 8) | (seen[13] & 0xFF);
            assertNotEquals(9, translated, "split " + split);
            assertEquals(0, seen[12], "the high byte is kept (split " + split + ")");
            final UnsafeBuffer reply = s.receive(ocrp(500 + split, translated, PptpControl.RESULT_OK));
            assertEquals(9, field(reply, 0, PptpControl.PEER_CALL_ID_OFFSET), "restored (split " + split + ")");
            final UnsafeBuffer g = greFromServer(s, SERVER, translated, "hi");
            assertEquals(s.client, Packets.destination(g));
            // everything else unchanged
            final byte[] expected = ocrq(9);
            expected[13] = seen[13];
            assertArrayEquals(expected, seen);
            // the client resets: connection and call are freed for the next round
            s.out(Packets.tcpSegment(s.client, s.clientPort, SERVER, PptpControl.PORT, io.passgate.wire.TcpHeader.RST,
                s.clientSeq, 0, new byte[0], 0, 0));
            assertEquals(1, pptp.liveCalls(), "only the holder's call after round " + split);
        }
        assertEquals(1, pptp.liveConnections());
    }

    @Test
    void severalMessagesInOneSegment()
    {
        final PptpTestSession s = session(11, SERVER);
        s.start();
        final PptpTestSession holder = session(12, SERVER);
        holder.start();
        holder.call(3, 800);
        holder.call(4, 801);
        // two requests in one segment, both taken by the holder: both translated
        final byte[] two = new byte[336];
        System.arraycopy(ocrq(3), 0, two, 0, 168);
        System.arraycopy(ocrq(4), 0, two, 168, 168);
        final UnsafeBuffer seg = s.send(two);
        final int t3 = field(seg, 0, 12);
        final int t4 = field(seg, 168, 12);
        assertNotEquals(3, t3);
        assertNotEquals(4, t4);
        // both replies in one segment: both restored
        final byte[] replies = new byte[64];
        System.arraycopy(ocrp(900, t3, 1), 0, replies, 0, 32);
        System.arraycopy(ocrp(901, t4, 1), 0, replies, 32, 32);
        final UnsafeBuffer back = s.receive(replies);
        assertEquals(3, field(back, 0, 14));
        assertEquals(4, field(back, 32, 14));
        assertEquals(4, pptp.liveCalls());
    }

    @Test
    void retransmissionRewrittenIdentically()
    {
        final PptpTestSession holder = session(12, SERVER);
        holder.start();
        holder.call(7, 800);
        final PptpTestSession s = session(11, SERVER);
        s.start();
        final long seq = s.clientSeq;
        final byte[] request = ocrq(7);
        final int translated = field(s.send(request), 0, 12);
        final UnsafeBuffer again = s.resend(seq, request, 0, 168);
        assertEquals(translated, field(again, 0, 12), "same translation for the same bytes");
        assertEquals(1, pptp.liveCalls() - 1, "no second call");
        // a retransmission that overlaps new data
        final byte[] more = new byte[168 + 24];
        System.arraycopy(request, 0, more, 0, 168);
        System.arraycopy(first(PptpControl.SET_LINK_INFO, 800), 0, more, 168, 24);
        final UnsafeBuffer overlap = s.resend(seq, more, 0, more.length);
        assertEquals(translated, field(overlap, 0, 12));
        assertTrue(counters.get(Counter.PPTP_RETRANSMISSIONS_PATCHED) >= 2);
    }

    @Test
    void segmentAfterAGapWaitsForTheGap()
    {
        final PptpTestSession s = session(11, SERVER);
        s.start();
        final byte[] request = ocrq(1);
        final long seq = s.clientSeq;
        s.clientSeq += 10;   // skip 10 bytes
        s.send(request, 10, 158);
        assertEquals(VERDICT_DROP, s.lastVerdict);
        assertEquals(1, counters.get(Counter.PPTP_OUT_OF_ORDER));
        s.clientSeq = seq;
        s.send(request);
        assertEquals(VERDICT_ACCEPT_MODIFIED, s.lastVerdict);
        assertEquals(1, pptp.liveCalls());
    }

    @Test
    void incomingCallAndServerMessagesRestored()
    {
        final PptpTestSession holder = session(12, SERVER);
        holder.start();
        holder.call(2, 800);
        final PptpTestSession s = session(11, SERVER);
        s.start();
        final UnsafeBuffer icrqBuf = new UnsafeBuffer(new byte[220]);
        PptpControl.incomingCallRequest(icrqBuf, 0, 650);
        s.receive(icrqBuf.byteArray());
        final UnsafeBuffer icrpBuf = new UnsafeBuffer(new byte[24]);
        PptpControl.incomingCallReply(icrpBuf, 0, 2, 650);
        final UnsafeBuffer icrp = s.send(icrpBuf.byteArray());
        final int translated = field(icrp, 0, 12);
        assertNotEquals(2, translated);
        assertEquals(650, field(icrp, 0, 14));
        for (final int type : new int[] {PptpControl.INCOMING_CALL_CONNECTED, PptpControl.WAN_ERROR_NOTIFY,
            PptpControl.SET_LINK_INFO})
        {
            assertEquals(2, field(s.receive(first(type, translated)), 0, 12), PptpControl.name(type) + " restored");
        }
        final UnsafeBuffer g = greFromServer(s, SERVER, translated, "in");
        assertEquals(s.client, Packets.destination(g));
        assertEquals(2, greKey(g));
        final UnsafeBuffer gOut = Packets.pptpGre(s.client, SERVER, 650, 1, "o".getBytes());
        assertEquals(VERDICT_ACCEPT_MODIFIED, s.out(gOut));
    }

    @Test
    void teardownFreesCallsAndGre()
    {
        final PptpTestSession holder = session(12, SERVER);
        holder.start();
        holder.call(4, 800);
        final PptpTestSession s = session(11, SERVER);
        s.start();
        final int t1 = s.call(4, 801);
        final int t2 = s.call(5, 802);
        // Call-Clear-Request is translated; the server's Call-Disconnect-Notify (its own Call ID) ends the call
        final UnsafeBuffer ccrq = s.send(first(PptpControl.CALL_CLEAR_REQUEST, 4));
        assertEquals(t1, field(ccrq, 0, 12));
        s.receive(first(PptpControl.CALL_DISCONNECT_NOTIFY, 801));
        assertEquals(VERDICT_DROP, s.in(Packets.pptpGre(SERVER, WAN, t1, 1, new byte[4])), "the call's GRE is gone");
        assertEquals(2, pptp.liveCalls());
        // a CDN carrying the client's translated Call ID (as some peers send) is restored and ends the call too
        final UnsafeBuffer cdn = s.receive(first(PptpControl.CALL_DISCONNECT_NOTIFY, t2));
        assertEquals(5, field(cdn, 0, 12));
        assertEquals(1, pptp.liveCalls());
        // stop-control-connection ends everything of the connection
        final int t3 = s.call(6, 803);
        s.send(simple(PptpControl.STOP_CONTROL_CONNECTION_REQUEST));
        s.receive(simple(PptpControl.STOP_CONTROL_CONNECTION_REPLY));
        assertEquals(1, pptp.liveCalls(), "only the holder's call is left");
        assertEquals(VERDICT_DROP, s.in(Packets.pptpGre(SERVER, WAN, t3, 1, new byte[4])));
        // a TCP reset of the holder's control connection ends its call
        holder.in(Packets.tcpSegment(SERVER, PptpControl.PORT, WAN, holder.extPort, io.passgate.wire.TcpHeader.RST,
            holder.serverSeq, 0, new byte[0], 0, 0));
        assertEquals(0, pptp.liveCalls());
        assertEquals(0, counters.get(Counter.PPTP_CALLS_LIVE));
    }

    @Test
    void controlConnectionExpiryFreesItsCalls()
    {
        final PptpTestSession s = session(11, SERVER);
        s.start();
        s.call(1, 100);
        // no traffic for longer than the TCP timeout: the control session and its call expire
        for (long t = now; t < now + 8_000_000; t += 4000)
        {
            engine.tick(t);
        }
        assertEquals(0, pptp.liveCalls());
        assertEquals(0, pptp.liveConnections());
    }

    // ------------------------------------------------------------------------------------------ hostile

    private PptpTestSession started()
    {
        final PptpTestSession s = session(11, SERVER);
        s.start();
        return s;
    }

    private void assertResetAndCounted(final PptpTestSession s, final String why)
    {
        assertEquals(VERDICT_DROP, s.lastVerdict, why);
        assertTrue(counters.get(Counter.PPTP_INVALID) >= 1, why);
        assertEquals(1, counters.get(Counter.PPTP_RESETS_SENT), why);
        assertEquals(2, sent.size(), "a RST to each end");
        final UnsafeBuffer toClient = new UnsafeBuffer(new byte[Packets.OFFSET + 40 + 16]);
        toClient.putBytes(Packets.OFFSET, sent.get(0));
        assertTrue(Packets.checksumsValid(toClient));
        assertEquals(SERVER, Packets.source(toClient));
        assertEquals(s.client, Packets.destination(toClient));
        assertEquals(0x14, toClient.getByte(Packets.OFFSET + 33) & 0xFF, "RST+ACK");
    }

    @Test
    void badCookieResetsTheConnection()
    {
        final PptpTestSession s = started();
        final byte[] m = ocrq(1);
        m[5] = 0;
        s.send(m);
        assertResetAndCounted(s, "bad cookie");
        assertTrue(pptp.lastInvalid().contains("magic cookie"), pptp.lastInvalid());
    }

    @Test
    void hostileLengthsAreInvalid()
    {
        PptpTestSession s = started();
        byte[] m = ocrq(1);
        m[0] = 0;
        m[1] = 8;   // shorter than any message
        s.send(m);
        assertResetAndCounted(s, "length 8");

        setUp();
        s = started();
        m = ocrq(1);
        m[0] = (byte)0xFF;
        m[1] = (byte)0xFF;   // far past anything PPTP sends
        s.send(m);
        assertResetAndCounted(s, "length 65535");

        setUp();
        s = started();
        m = ocrq(1);
        m[0] = 0;
        m[1] = 100;   // an Outgoing-Call-Request is 168 bytes
        s.send(m);
        assertResetAndCounted(s, "length under the size table");
        assertTrue(pptp.lastInvalid().contains("needs 168"), pptp.lastInvalid());
    }

    @Test
    void truncatedMessageAndWrongOrderAndWrongDirection()
    {
        final PptpTestSession s = session(11, SERVER);
        s.handshake();
        s.send(ocrq(1));   // before Start-Control-Connection
        assertResetAndCounted(s, "call before the control connection");

        setUp();
        final PptpTestSession t = started();
        t.receive(ocrq(1));   // a request only the client sends, from the server
        assertResetAndCounted(t, "wrong direction");

        setUp();
        final PptpTestSession u = started();
        final byte[] half = new byte[80];
        System.arraycopy(ocrq(1), 0, half, 0, 80);
        u.send(half);   // a truncated message: the rest never comes
        assertEquals(VERDICT_ACCEPT_MODIFIED, u.lastVerdict, "waits for the rest; nothing refused yet");
        assertEquals(1, pptp.liveCalls(), "the call is known from its first 16 bytes");
        u.in(Packets.tcpSegment(SERVER, PptpControl.PORT, WAN, u.extPort, io.passgate.wire.TcpHeader.RST, u.serverSeq, 0,
            new byte[0], 0, 0));
        assertEquals(0, pptp.liveCalls(), "and freed with the connection");
    }

    @Test
    void stormOfOutgoingCallsIsBoundedAndOthersUnharmed()
    {
        final PptpTestSession good = session(12, SERVER);
        good.start();
        final int goodCall = good.call(1, 100);
        final PptpTestSession storm = started();
        int accepted = 0;
        for (int i = 0; i < 500 && storm.lastVerdict != VERDICT_DROP; i++)
        {
            storm.send(ocrq(1000 + i));
            if (storm.lastVerdict != VERDICT_DROP)
            {
                accepted++;
            }
        }
        assertEquals(8, accepted, "max calls per connection");
        assertTrue(counters.get(Counter.DROP_PPTP_LIMIT) >= 1);
        assertEquals(1, counters.get(Counter.PPTP_RESETS_SENT));
        assertEquals(1, pptp.liveCalls(), "the storm's calls are freed by its reset");
        // the other client's call still works
        final UnsafeBuffer g = greFromServer(good, SERVER, goodCall, "still here");
        assertEquals(good.client, Packets.destination(g));
    }

    @Test
    void dropPolicyKeepsTheConnection()
    {
        setUpWith(PptpHelper.OnInvalid.DROP);
        final PptpTestSession s = started();
        final byte[] m = ocrq(1);
        m[5] = 0;
        s.send(m);
        assertEquals(VERDICT_DROP, s.lastVerdict);
        assertEquals(0, counters.get(Counter.PPTP_RESETS_SENT));
        assertTrue(sent.isEmpty());
    }

    private void setUpWith(final PptpHelper.OnInvalid policy)
    {
        counters = new CounterSet();
        sent.clear();
        engine = new NatEngine(NatConfig.defaults(WAN, Packets.ip("10.0.0.1"), 2, 4096), counters,
            (b, o, l, d) -> sent.add(new byte[l]), 1000, now);
        pptp = new PptpHelper(16, 64, 8, policy, 7);
        engine.register(pptp);
    }

    // ---------------------------------------------------------------------------------------------- GRE

    @Test
    void greWithoutACallIsDroppedAndGreV0IsNotPptp()
    {
        final UnsafeBuffer stray = Packets.pptpGre(SERVER, WAN, 77, 1, new byte[8]);
        assertEquals(VERDICT_DROP, engine.inbound(stray, Packets.OFFSET, Packets.length(stray), false, false, now));
        final UnsafeBuffer strayOut = Packets.pptpGre(Packets.ip("10.0.0.11"), SERVER, 77, 1, new byte[8]);
        assertEquals(VERDICT_DROP, engine.outbound(strayOut, Packets.OFFSET, Packets.length(strayOut), false, false, now));
        assertEquals(2, counters.get(Counter.DROP_GRE_NO_CALL));
        // GRE version 0 gets the plain address-only NAT
        final UnsafeBuffer v0 = Packets.other(Packets.ip("10.0.0.11"), SERVER, Protocols.GRE, 8);
        assertEquals(VERDICT_ACCEPT_MODIFIED, engine.outbound(v0, Packets.OFFSET, Packets.length(v0), false, false, now));
        assertEquals(WAN, Packets.source(v0));
    }

    @Test
    void icmpErrorAboutACallsGreReachesItsClient()
    {
        final PptpTestSession s = started();
        s.call(1, 100);
        final UnsafeBuffer g = Packets.pptpGre(s.client, SERVER, 100, 1, new byte[32]);
        s.out(g);
        final UnsafeBuffer mtu = Packets.icmpError(Packets.ip("192.0.2.1"), WAN, IcmpHeader.DESTINATION_UNREACHABLE,
            IcmpHeader.CODE_FRAGMENTATION_NEEDED, g, 28);
        assertEquals(VERDICT_ACCEPT_MODIFIED, engine.inbound(mtu, Packets.OFFSET, Packets.length(mtu), false, false, now));
        assertEquals(s.client, Packets.destination(mtu));
        assertTrue(Packets.checksumsValid(mtu));
    }

    @Test
    void greHeaderKeepsItsLayout()
    {
        final UnsafeBuffer g = Packets.pptpGre(SERVER, WAN, 5, 9, "abc".getBytes());
        final GreHeader h = new GreHeader();
        assertTrue(h.wrap(g, Packets.OFFSET + 20, 15));
        assertEquals(5, h.callId());
        assertEquals(9, h.sequence());
    }
}

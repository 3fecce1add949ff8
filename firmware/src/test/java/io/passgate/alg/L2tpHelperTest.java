package io.passgate.alg;

import static io.passgate.nfq.PacketHandler.VERDICT_ACCEPT_MODIFIED;
import static io.passgate.nfq.PacketHandler.VERDICT_DROP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import io.passgate.config.PassgateContext;
import io.passgate.control.TunnelTable;
import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.L2tpHeader;
import io.passgate.wire.L2tpMessages;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The L2TP helper through the NAT engine: every client keeps 1701, tunnels told apart by Tunnel ID (translated
 * when two clients to one server pick the same), a server answering from another port under every filtering
 * mode, hidden IDs, teardown, the switch, bad input.
 */
class L2tpHelperTest
{
    static final int WAN = Packets.ip("203.0.113.1");
    static final int SERVER = Packets.ip("198.51.100.10");
    static final int SERVER2 = Packets.ip("198.51.100.20");
    static final int C1 = Packets.ip("10.0.0.11");
    static final int C2 = Packets.ip("10.0.0.12");
    static final int C3 = Packets.ip("10.0.0.13");
    static final int PORT = 1701;
    static final int OTHER = 40000;

    private CounterSet counters;
    private final List<byte[]> sent = new ArrayList<>();
    private NatEngine engine;
    private L2tpHelper l2tp;
    private long now = 1_000_000;

    private void start(final PassgateContext.Filtering filtering)
    {
        counters = new CounterSet();
        sent.clear();
        engine = new NatEngine(NatConfig.defaults(WAN, Packets.ip("10.0.0.1"), 2, 4096).with(filtering), counters,
            (b, o, l, d) ->
            {
                final byte[] copy = new byte[l];
                b.getBytes(o, copy);
                sent.add(copy);
            }, 1000, now);
        l2tp = new L2tpHelper(64, 5);
        engine.register(l2tp);
    }

    private void start()
    {
        start(PassgateContext.Filtering.ADDRESS_AND_PORT_DEPENDENT);
    }

    static UnsafeBuffer udp(final int src, final int sport, final int dst, final int dport, final byte[] payload)
    {
        final UnsafeBuffer b = Packets.udp(src, sport, dst, dport, payload.length);
        b.putBytes(Packets.OFFSET + 28, payload);
        IpsecHelperTest.fixUdpChecksum(b);
        return b;
    }

    static byte[] sccrq(final int tid)
    {
        return new L2tpMessages.Control(0, 0, 0, 0).type(L2tpHeader.SCCRQ).sccrqExtras("lac")
            .u16(L2tpHeader.AVP_ASSIGNED_TUNNEL_ID, tid).bytes();
    }

    static byte[] sccrp(final int toTid, final int serverTid)
    {
        return new L2tpMessages.Control(toTid, 0, 0, 1).type(L2tpHeader.SCCRP).sccrqExtras("lns")
            .u16(L2tpHeader.AVP_ASSIGNED_TUNNEL_ID, serverTid).bytes();
    }

    static byte[] message(final int toTid, final int sid, final int ns, final int nr, final int type)
    {
        return new L2tpMessages.Control(toTid, sid, ns, nr).type(type).bytes();
    }

    private int out(final UnsafeBuffer b)
    {
        final int v = engine.outbound(b, Packets.OFFSET, Packets.length(b), false, false, now);
        if (v != VERDICT_DROP)
        {
            assertTrue(Packets.checksumsValid(b), "checksums after outbound translation");
        }
        return v;
    }

    private int in(final UnsafeBuffer b)
    {
        final int v = engine.inbound(b, Packets.OFFSET, Packets.length(b), false, false, now);
        if (v != VERDICT_DROP)
        {
            assertTrue(Packets.checksumsValid(b), "checksums after inbound translation");
        }
        return v;
    }

    private void advance(final long ms)
    {
        final long end = now + ms;
        while (now < end)
        {
            now = Math.min(end, now + 500);
            engine.tick(now);
        }
    }

    /** The header Tunnel ID of the L2TP message in a UDP packet. */
    static int tunnelId(final UnsafeBuffer b)
    {
        final L2tpHeader h = new L2tpHeader();
        assertTrue(h.wrap(b, Packets.OFFSET + 28, Packets.length(b) - 28));
        return h.tunnelId();
    }

    /** The Assigned Tunnel ID AVP of the control message in a UDP packet. */
    static int assignedTunnelId(final UnsafeBuffer b)
    {
        final L2tpHeader h = new L2tpHeader();
        assertTrue(h.wrap(b, Packets.OFFSET + 28, Packets.length(b) - 28));
        assertTrue(h.readAvps());
        return h.assignedTunnelId();
    }

    /** Opens a tunnel of {@code client} (own ID {@code tid}) answered from {@code serverPort}; returns the ID the server saw. */
    private int open(final int client, final int tid, final int serverPort, final int serverTid)
    {
        final UnsafeBuffer q = udp(client, PORT, SERVER, PORT, sccrq(tid));
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(q));
        assertEquals(WAN, Packets.source(q));
        assertEquals(PORT, Packets.sourcePort(q), "every client keeps 1701");
        final int seen = assignedTunnelId(q);
        final UnsafeBuffer p = udp(SERVER, serverPort, WAN, PORT, sccrp(seen, serverTid));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(p));
        assertEquals(client, Packets.destination(p), "the answer reaches its own client");
        assertEquals(PORT, Packets.destinationPort(p));
        assertEquals(serverPort, Packets.sourcePort(p));
        assertEquals(tid, tunnelId(p), "with the client's own Tunnel ID");
        return seen;
    }

    @ParameterizedTest
    @EnumSource(PassgateContext.Filtering.class)
    void threeClientsKeep1701TwoWithTheSameIdServerAnswersFromAnotherPort(final PassgateContext.Filtering filtering)
    {
        start(filtering);
        final int seen1 = open(C1, 5, OTHER, 100);
        final int seen2 = open(C2, 5, OTHER, 200);
        final int seen3 = open(C3, 9, OTHER, 300);
        assertEquals(5, seen1, "the first keeps its ID");
        assertNotEquals(5, seen2, "the second's clashing ID is translated");
        assertNotEquals(9, seen2);
        assertEquals(9, seen3);
        assertEquals(2, counters.get(Counter.L2TP_TUNNEL_IDS_TRANSLATED), "SCCRQ AVP out, SCCRP header in");
        assertEquals(3, counters.get(Counter.L2TP_SERVER_PORT_MOVES));
        assertEquals(3, l2tp.liveTunnels());
        // each client's SCCCN, then data both ways, to the server's new port or to 1701: all from 1701
        final int[] clients = {C1, C2, C3};
        final int[] seen = {seen1, seen2, seen3};
        final int[] own = {5, 5, 9};
        final int[] serverTids = {100, 200, 300};
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 3; i++)
            {
                final int dport = round == 1 ? PORT : OTHER;
                final UnsafeBuffer o = udp(clients[i], PORT, SERVER, dport,
                    L2tpMessages.data(serverTids[i], 7, new byte[] {(byte)i, (byte)round}));
                assertEquals(VERDICT_ACCEPT_MODIFIED, out(o));
                assertEquals(PORT, Packets.sourcePort(o));
                assertEquals(WAN, Packets.source(o));
                final UnsafeBuffer back = udp(SERVER, OTHER, WAN, PORT,
                    L2tpMessages.data(seen[i], 8, new byte[] {(byte)i, (byte)round}));
                assertEquals(VERDICT_ACCEPT_MODIFIED, in(back));
                assertEquals(clients[i], Packets.destination(back), "data reaches its own client only");
                assertEquals(own[i], tunnelId(back));
            }
        }
        final TunnelTable table = new TunnelTable();
        table.collect(engine, now);
        assertEquals(3, table.size());
        final String rows = table.rows("203.0.113.1").toString();
        assertTrue(rows.contains("wan-tunnel-id=" + seen2) && rows.contains("server-tunnel-id=200")
            && rows.contains("server-port=40000") && rows.contains("wan-port=1701"), rows);
    }

    @ParameterizedTest
    @EnumSource(PassgateContext.Filtering.class)
    void aClientFromAnotherPortIsExpectedFromTheServersOtherPort(final PassgateContext.Filtering filtering)
    {
        start(filtering);
        final UnsafeBuffer q = udp(C1, 50000, SERVER, PORT, sccrq(42));
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(q));
        final int wanPort = Packets.sourcePort(q);
        final UnsafeBuffer p = udp(SERVER, OTHER, WAN, wanPort, sccrp(42, 77));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(p), "the answer from the other port is expected under " + filtering);
        assertEquals(C1, Packets.destination(p));
        assertEquals(50000, Packets.destinationPort(p));
        assertEquals(1, counters.get(Counter.L2TP_SERVER_PORT_MOVES));
        final UnsafeBuffer d = udp(SERVER, OTHER, WAN, wanPort, L2tpMessages.data(42, 1, new byte[] {1}));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(d));
        // a live tunnel does not move again
        final UnsafeBuffer moved = udp(SERVER, OTHER + 1, WAN, wanPort, L2tpMessages.data(42, 1, new byte[] {1}));
        if (filtering == PassgateContext.Filtering.ADDRESS_AND_PORT_DEPENDENT)
        {
            assertEquals(VERDICT_DROP, in(moved));
        }
    }

    @Test
    void aMalformedFirstPacketLeavesNoSession()
    {
        // found by TunnelHelpersFuzzTest: a control message the helper refuses used to leave its new session
        // (and mapping) behind until the UDP timeout
        start();
        final byte[] malformed = java.util.HexFormat.of().parseHex("f00202020230080808080000ee230530");
        for (int port = 1701; port < 1711; port++)
        {
            final UnsafeBuffer p = udp(C1, port, SERVER, PORT, malformed);
            assertEquals(VERDICT_DROP, engine.outbound(p, Packets.OFFSET, Packets.length(p), false, false, now));
        }
        assertEquals(10, counters.get(Counter.DROP_L2TP_MALFORMED));
        assertEquals(0, engine.flows().size(), "no session left");
        assertEquals(0, engine.mappings().size(), "no mapping left");
    }

    @Test
    void aRefusedAnswerFromTheServersOtherPortLeavesNoSession()
    {
        // found by NatEngineFuzzTest: the session the helper opened for a server answering from another port
        // stayed behind when the helper then refused the answer (an unknown mandatory AVP)
        start();
        final UnsafeBuffer q = udp(C1, PORT, SERVER, PORT, sccrq(5));
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(q));
        final int sessions = engine.flows().size();
        final byte[] refused = new L2tpMessages.Control(assignedTunnelId(q), 0, 0, 1).type(L2tpHeader.SCCRP)
            .sccrqExtras("lns").u16(L2tpHeader.AVP_ASSIGNED_TUNNEL_ID, 77).avp(true, false, 0, 300, new byte[] {1}).bytes();
        assertEquals(VERDICT_DROP, in(udp(SERVER, OTHER, WAN, PORT, refused)));
        assertEquals(1, counters.get(Counter.DROP_L2TP_UNKNOWN_MANDATORY));
        assertEquals(sessions, engine.flows().size(), "no session left for the refused answer");
        // the tunnel still opens when the server answers properly from there
        final UnsafeBuffer p = udp(SERVER, OTHER, WAN, PORT, sccrp(assignedTunnelId(q), 77));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(p));
        assertEquals(C1, Packets.destination(p));
    }

    @Test
    void unknownTunnelIdFromASharedServerIsDroppedAndCounted()
    {
        start();
        open(C1, 5, PORT, 100);
        open(C2, 6, PORT, 200);
        final UnsafeBuffer stray = udp(SERVER, PORT, WAN, PORT, L2tpMessages.data(4242, 1, new byte[] {9}));
        assertEquals(VERDICT_DROP, in(stray));
        assertEquals(1, counters.get(Counter.DROP_L2TP_UNKNOWN_TUNNEL));
        // a live tunnel's message from another port of its server is dropped too
        final UnsafeBuffer wrongPort = udp(SERVER, OTHER, WAN, PORT, L2tpMessages.data(5, 1, new byte[] {9}));
        assertEquals(VERDICT_DROP, in(wrongPort));
        assertEquals(1, counters.get(Counter.DROP_L2TP_WRONG_PORT));
    }

    @Test
    void hiddenIdKeeps1701AloneAndFallsBackToItsOwnPortBesideAnother()
    {
        start();
        final byte[] hidden = new L2tpMessages.Control(0, 0, 0, 0).type(L2tpHeader.SCCRQ)
            .avp(true, true, 0, L2tpHeader.AVP_ASSIGNED_TUNNEL_ID, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}).bytes();
        final UnsafeBuffer q = udp(C1, PORT, SERVER, PORT, hidden);
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(q));
        assertEquals(PORT, Packets.sourcePort(q), "alone with that server: 1701");
        final UnsafeBuffer p = udp(SERVER, PORT, WAN, PORT, sccrp(31, 100));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(p));
        assertEquals(C1, Packets.destination(p));
        assertEquals(1, counters.get(Counter.L2TP_HIDDEN_IDS_LEARNT));
        // a second client with a hidden ID: it could clash with 31, so it gets its own port
        final UnsafeBuffer q2 = udp(C2, PORT, SERVER, PORT, hidden);
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(q2));
        assertNotEquals(PORT, Packets.sourcePort(q2));
        assertEquals(1, counters.get(Counter.L2TP_PORT_FALLBACKS));
        final UnsafeBuffer p2 = udp(SERVER, PORT, WAN, Packets.sourcePort(q2), sccrp(31, 200));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(p2));
        assertEquals(C2, Packets.destination(p2));
        // and C1's tunnel 31 on 1701 still reaches C1
        final UnsafeBuffer d = udp(SERVER, PORT, WAN, PORT, L2tpMessages.data(31, 1, new byte[] {1}));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(d));
        assertEquals(C1, Packets.destination(d));
        assertEquals(2, l2tp.liveTunnels());
    }

    /** l2tp.keep-port = first: the server's first client keeps 1701, the next gets its own port; both work. */
    @Test
    void keepPortFirstGivesLaterClientsTheirOwnPort()
    {
        start();
        l2tp.keepPortForAll(false);
        open(C1, 5, PORT, 100);
        final UnsafeBuffer q = udp(C2, PORT, SERVER, PORT, sccrq(5));
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(q));
        final int port = Packets.sourcePort(q);
        assertNotEquals(PORT, port, "the second client to that server gets its own port");
        assertEquals(5, assignedTunnelId(q), "its own port: no ID to translate");
        assertEquals(1, counters.get(Counter.L2TP_PORT_FALLBACKS));
        final UnsafeBuffer p = udp(SERVER, PORT, WAN, port, sccrp(5, 200));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(p));
        assertEquals(C2, Packets.destination(p));
        final UnsafeBuffer d1 = udp(SERVER, PORT, WAN, PORT, L2tpMessages.data(5, 1, new byte[] {1}));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(d1));
        assertEquals(C1, Packets.destination(d1));
        final UnsafeBuffer d2 = udp(SERVER, PORT, WAN, port, L2tpMessages.data(5, 1, new byte[] {2}));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(d2));
        assertEquals(C2, Packets.destination(d2));
        assertEquals(2, l2tp.liveTunnels());
        // another server: the first client there keeps 1701 again
        final UnsafeBuffer other = udp(C2, PORT, SERVER2, PORT, sccrq(5));
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(other));
        assertEquals(PORT, Packets.sourcePort(other));
    }

    @Test
    void stopCcnEndsTheTunnelAfterItsLingerAndCdnEndsASession()
    {
        start();
        open(C1, 5, PORT, 100);
        final UnsafeBuffer iccn = udp(C1, PORT, SERVER, PORT, message(100, 3, 2, 1, L2tpHeader.ICCN));
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(iccn));
        final UnsafeBuffer again = udp(C1, PORT, SERVER, PORT, message(100, 3, 2, 1, L2tpHeader.ICCN));
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(again));
        assertEquals(1, counters.get(Counter.L2TP_RETRANSMISSIONS), "a resent ICCN counts once");
        TunnelTable table = new TunnelTable();
        table.collect(engine, now);
        assertTrue(table.rows("w").toString().contains("sessions=1"), table.rows("w").toString());
        final UnsafeBuffer cdn = udp(SERVER, PORT, WAN, PORT, message(5, 9, 1, 3, L2tpHeader.CDN));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(cdn));
        table = new TunnelTable();
        table.collect(engine, now);
        assertTrue(table.rows("w").toString().contains("sessions=0"), table.rows("w").toString());
        final UnsafeBuffer stop = udp(C1, PORT, SERVER, PORT, new L2tpMessages.Control(100, 0, 3, 2)
            .type(L2tpHeader.STOPCCN).u16(L2tpHeader.AVP_ASSIGNED_TUNNEL_ID, 5).u16(1, 1).bytes());
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(stop));
        advance(10_000);
        assertEquals(1, l2tp.liveTunnels(), "the acknowledgement still passes during the linger");
        final UnsafeBuffer zlb = udp(SERVER, PORT, WAN, PORT, L2tpMessages.zlb(5, 2, 4));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(zlb));
        advance(L2tpHelper.LINGER_MS);
        assertEquals(0, l2tp.liveTunnels());
        assertEquals(0, counters.get(Counter.TUNNELS_L2TP));
        assertEquals(1, counters.get(Counter.L2TP_TUNNELS_CLOSED));
    }

    @Test
    void helloKeepsATunnelAliveAndSilenceEndsIt()
    {
        start();
        open(C1, 5, PORT, 100);
        for (int i = 0; i < 8; i++)
        {
            advance(60_000);
            assertEquals(VERDICT_ACCEPT_MODIFIED, out(udp(C1, PORT, SERVER, PORT, message(100, 0, 1 + i, 1, L2tpHeader.HELLO))));
        }
        assertEquals(1, l2tp.liveTunnels(), "8 minutes of HELLOs");
        advance(L2tpHelper.IDLE_MS + 1000);
        assertEquals(0, l2tp.liveTunnels());
        assertEquals(1, counters.get(Counter.L2TP_TUNNELS_IDLE));
    }

    @Test
    void switchedOffEndsTunnelsAndRefusesNewOnes()
    {
        start();
        open(C1, 5, PORT, 100);
        open(C2, 5, PORT, 200);
        final int removed = engine.applyPassthrough(name -> !"l2tp".equals(name));
        assertTrue(removed >= 2, "their sessions removed: " + removed);
        assertEquals(0, l2tp.liveTunnels());
        assertEquals(2, counters.get(Counter.L2TP_TUNNELS_SWITCHED_OFF));
        sent.clear();
        assertEquals(VERDICT_DROP, out(udp(C3, PORT, SERVER, PORT, sccrq(1))));
        assertEquals(1, sent.size(), "refused at once");
        final Ipv4Header ip = new Ipv4Header();
        ip.wrap(new UnsafeBuffer(sent.get(0)), 0, sent.get(0).length);
        assertEquals(C3, ip.destination());
        assertEquals(IcmpHeader.DESTINATION_UNREACHABLE, sent.get(0)[20] & 0xFF);
        assertEquals(IcmpHeader.CODE_ADMIN_PROHIBITED, sent.get(0)[21] & 0xFF);
        assertEquals(VERDICT_DROP, in(udp(SERVER, PORT, WAN, PORT, L2tpMessages.data(5, 1, new byte[] {1}))));
    }

    @Test
    void badMessagesAreCountedDropsAndTheOtherTunnelGoesOn()
    {
        start();
        open(C1, 5, PORT, 100);
        // Length beyond the datagram
        final byte[] longer = message(100, 0, 1, 1, L2tpHeader.HELLO);
        longer[3] = (byte)200;
        assertEquals(VERDICT_DROP, out(udp(C1, PORT, SERVER, PORT, longer)));
        // an AVP whose length runs past the message
        final byte[] overflow = message(100, 0, 1, 1, L2tpHeader.HELLO);
        overflow[12] = (byte)0x83;
        overflow[13] = (byte)0xFF;
        assertEquals(VERDICT_DROP, out(udp(C1, PORT, SERVER, PORT, overflow)));
        // a hidden Message Type
        final byte[] hiddenType = message(100, 0, 1, 1, L2tpHeader.HELLO);
        hiddenType[12] |= 0x40;
        assertEquals(VERDICT_DROP, out(udp(C1, PORT, SERVER, PORT, hiddenType)));
        assertEquals(3, counters.get(Counter.DROP_L2TP_MALFORMED));
        // a mandatory AVP passgate does not know, either way
        final byte[] unknown = new L2tpMessages.Control(5, 0, 1, 1).type(L2tpHeader.HELLO)
            .avp(true, false, 0, 300, new byte[] {1}).bytes();
        assertEquals(VERDICT_DROP, in(udp(SERVER, PORT, WAN, PORT, unknown)));
        final byte[] vendor = new L2tpMessages.Control(100, 0, 1, 1).type(L2tpHeader.HELLO)
            .avp(true, false, 9, 1, new byte[] {1}).bytes();
        assertEquals(VERDICT_DROP, out(udp(C1, PORT, SERVER, PORT, vendor)));
        assertEquals(2, counters.get(Counter.DROP_L2TP_UNKNOWN_MANDATORY));
        // a known one with M, and an unknown one without: fine
        final byte[] fine = new L2tpMessages.Control(100, 0, 1, 1).type(L2tpHeader.HELLO)
            .avp(true, false, 0, 39, new byte[] {1}).avp(false, false, 9, 1, new byte[] {2}).bytes();
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(udp(C1, PORT, SERVER, PORT, fine)));
        // truncated: a header cut short
        assertEquals(VERDICT_DROP, in(udp(SERVER, PORT, WAN, PORT, new byte[] {(byte)0xC8, 0x02, 0})));
        final UnsafeBuffer d = udp(SERVER, PORT, WAN, PORT, L2tpMessages.data(5, 1, new byte[] {1}));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(d));
        assertEquals(C1, Packets.destination(d), "the tunnel goes on");
    }

    @Test
    void l2tpv3AndOtherUdpTo1701ArePlainUdp()
    {
        start();
        final byte[] v3 = {(byte)0xC0, 0x03, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0};
        final UnsafeBuffer q = udp(C1, PORT, SERVER, PORT, v3);
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(q));
        assertNotEquals(PORT, Packets.sourcePort(q), "plain UDP NAT: 1701 is the L2TPv2 helper's");
        assertEquals(1, counters.get(Counter.L2TP_OTHER_VERSIONS));
        final UnsafeBuffer back = udp(SERVER, PORT, WAN, Packets.sourcePort(q), v3);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(back));
        assertEquals(C1, Packets.destination(back));
        assertEquals(0, l2tp.liveTunnels());
    }

    @Test
    void aTunnelAlreadyUpWhenPassgateStartedIsTakenUpFromItsOnlyClient()
    {
        start();
        final UnsafeBuffer o = udp(C1, PORT, SERVER, PORT, L2tpMessages.data(100, 3, new byte[] {1}));
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(o));
        assertEquals(PORT, Packets.sourcePort(o));
        final UnsafeBuffer back = udp(SERVER, PORT, WAN, PORT, L2tpMessages.data(5, 4, new byte[] {1}));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(back));
        assertEquals(C1, Packets.destination(back));
        assertEquals(1, counters.get(Counter.L2TP_TUNNELS_ADOPTED));
        assertEquals(1, l2tp.liveTunnels());
    }

    @Test
    void icmpErrorAboutAClientsDatagramReachesThatClient()
    {
        start();
        open(C1, 5, PORT, 100);
        open(C2, 6, PORT, 200);
        final UnsafeBuffer o = udp(C2, PORT, SERVER, PORT, L2tpMessages.data(200, 3, new byte[40]));
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(o));
        final UnsafeBuffer err = Packets.icmpError(SERVER, WAN, IcmpHeader.DESTINATION_UNREACHABLE, 4, o, 56);
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(err));
        assertEquals(C2, Packets.destination(err));
    }

    @Test
    void twoServersEachSeeTheirClientsFrom1701()
    {
        start();
        open(C1, 5, PORT, 100);
        final UnsafeBuffer q = udp(C1, PORT, SERVER2, PORT, sccrq(5));
        assertEquals(VERDICT_ACCEPT_MODIFIED, out(q));
        assertEquals(PORT, Packets.sourcePort(q));
        assertEquals(5, assignedTunnelId(q), "another server: no clash");
        final UnsafeBuffer p = udp(SERVER2, PORT, WAN, PORT, sccrp(5, 1));
        assertEquals(VERDICT_ACCEPT_MODIFIED, in(p));
        assertEquals(C1, Packets.destination(p));
    }
}

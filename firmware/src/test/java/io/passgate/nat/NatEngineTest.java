package io.passgate.nat;

import static io.passgate.nat.NatHarness.A;
import static io.passgate.nat.NatHarness.B;
import static io.passgate.nat.NatHarness.S1;
import static io.passgate.nat.NatHarness.S2;
import static io.passgate.nat.NatHarness.S3;
import static io.passgate.nat.NatHarness.WAN;
import static io.passgate.nfq.PacketHandler.VERDICT_ACCEPT;
import static io.passgate.nfq.PacketHandler.VERDICT_ACCEPT_MODIFIED;
import static io.passgate.nfq.PacketHandler.VERDICT_DROP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Set;

import io.passgate.config.PassgateContext.Filtering;
import io.passgate.counters.Counter;
import io.passgate.wire.Checksum;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.TcpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** RFC 4787 / 5382 / 5508 / 7857 behaviour of the NAT engine, with time advanced by hand. */
class NatEngineTest
{
    private static final int SYN = TcpHeader.SYN;
    private static final int SYN_ACK = TcpHeader.SYN | TcpHeader.ACK;
    private static final int ACK = TcpHeader.ACK;

    private final NatHarness nat = new NatHarness();

    private int udpOut(final int src, final int sport, final int dst, final int dport)
    {
        final UnsafeBuffer p = Packets.udp(src, sport, dst, dport, 20);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(p));
        assertEquals(WAN, Packets.source(p));
        assertEquals(dst, Packets.destination(p));
        return Packets.sourcePort(p);
    }

    /** Sends a reply from (src, sport) to the WAN port; returns the verdict and checks the rewrite. */
    private int udpIn(final int src, final int sport, final int extPort, final int expectHost, final int expectPort)
    {
        final UnsafeBuffer p = Packets.udp(src, sport, WAN, extPort, 20);
        final int v = nat.in(p);
        if (v == VERDICT_ACCEPT_MODIFIED)
        {
            assertEquals(expectHost, Packets.destination(p));
            assertEquals(expectPort, Packets.destinationPort(p));
        }
        return v;
    }

    // ----------------------------------------------------------------------------- RFC 4787 (UDP)

    @Test
    void req1EndpointIndependentMapping()
    {
        final int p1 = udpOut(A, 5000, S1, 53);
        final int p2 = udpOut(A, 5000, S2, 53);
        final int p3 = udpOut(A, 5000, S2, 5353);
        assertEquals(p1, p2, "same mapping for another server");
        assertEquals(p1, p3, "same mapping for another server port");
        assertEquals(1, nat.engine.mappings().size());
        assertEquals(3, nat.engine.flows().size());
    }

    @Test
    void req3NoPortOverloadingAndPortPreservation()
    {
        final int a = udpOut(A, 40000, S1, 53);
        final int b = udpOut(B, 40000, S1, 53);
        assertEquals(40000, a, "the first client keeps its port");
        assertNotEquals(a, b, "the second gets another");
        assertTrue(b >= 1024 && b <= 65535);
        assertEquals(1, nat.count(Counter.NAT_PORTS_PRESERVED));
        assertEquals(1, nat.count(Counter.NAT_PORTS_RANDOM));
        // both get their own replies
        assertEquals(VERDICT_ACCEPT_MODIFIED, udpIn(S1, 53, a, A, 40000));
        assertEquals(VERDICT_ACCEPT_MODIFIED, udpIn(S1, 53, b, B, 40000));
        // a privileged source port maps into 1..1023
        final int low = udpOut(A, 123, S1, 123);
        final int lowB = udpOut(B, 123, S1, 123);
        assertEquals(123, low);
        assertTrue(lowB >= 1 && lowB <= 1023, "port " + lowB);
    }

    @Test
    void req4ParityKeptWhenAsked()
    {
        final NatHarness parity = new NatHarness(NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, 4096)
            .withPorts(2000, 2999, true));
        for (int i = 0; i < 200; i++)
        {
            final int host = Packets.ip("10.0.1." + (i % 250 + 1));
            final int internal = 2000 + (i % 3);   // collide on purpose: most cannot keep their port
            final UnsafeBuffer p = Packets.udp(host, internal, S1, 53, 4);
            assertEquals(VERDICT_ACCEPT_MODIFIED, parity.out(p));
            final int external = Packets.sourcePort(p);
            assertEquals(internal & 1, external & 1, "parity of " + internal + " -> " + external);
            assertTrue(external >= 2000 && external <= 2999);
        }
    }

    @Test
    void req5MappingTimerFiveMinutesByDefault()
    {
        final int port = udpOut(A, 5000, S1, 53);
        nat.advance(299_000);
        assertEquals(VERDICT_ACCEPT_MODIFIED, udpIn(S1, 53, port, A, 5000), "alive just under 5 minutes");
        // the reply refreshed it (inbound refresh); now let it idle out
        nat.advance(300_000 + NatHarness.SLACK);
        assertEquals(VERDICT_DROP, udpIn(S1, 53, port, A, 5000), "expired after 5 idle minutes");
        assertEquals(0, nat.engine.mappings().size());
        assertEquals(1, nat.count(Counter.NAT_FLOWS_EXPIRED));
        assertEquals(1, nat.count(Counter.DROP_NO_MAPPING));
    }

    @Test
    void req6OutboundTrafficRefreshesTheMapping()
    {
        final int port = udpOut(A, 5000, S1, 53);
        for (int i = 0; i < 5; i++)
        {
            nat.advance(200_000);
            assertEquals(port, udpOut(A, 5000, S1, 53), "same mapping after " + (i + 1) * 200 + " s");
        }
        assertEquals(1, nat.count(Counter.NAT_MAPPINGS_CREATED));
        assertEquals(0, nat.count(Counter.NAT_FLOWS_EXPIRED));
    }

    @Test
    void req8AddressDependentFilteringByDefault()
    {
        final int port = udpOut(A, 5000, S1, 53);
        assertEquals(VERDICT_ACCEPT_MODIFIED, udpIn(S1, 53, port, A, 5000));
        assertEquals(VERDICT_ACCEPT_MODIFIED, udpIn(S1, 9999, port, A, 5000), "same address, other port");
        assertEquals(VERDICT_DROP, udpIn(S3, 53, port, A, 5000), "an address never contacted");
        assertEquals(1, nat.count(Counter.DROP_FILTERED));
    }

    @Test
    void req8EndpointIndependentAndAddressAndPortDependentSelectable()
    {
        final NatHarness eif = new NatHarness(NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, 256)
            .with(Filtering.ENDPOINT_INDEPENDENT));
        UnsafeBuffer p = Packets.udp(A, 5000, S1, 53, 8);
        eif.out(p);
        final int port = Packets.sourcePort(p);
        p = Packets.udp(S3, 7, WAN, port, 8);
        assertEquals(VERDICT_ACCEPT_MODIFIED, eif.in(p), "anyone may reach an endpoint-independent mapping");
        assertEquals(A, Packets.destination(p));

        final NatHarness apdf = new NatHarness(NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, 256)
            .with(Filtering.ADDRESS_AND_PORT_DEPENDENT));
        p = Packets.udp(A, 5000, S1, 53, 8);
        apdf.out(p);
        assertEquals(VERDICT_ACCEPT_MODIFIED, apdf.in(Packets.udp(S1, 53, WAN, port, 8)));
        assertEquals(VERDICT_DROP, apdf.in(Packets.udp(S1, 54, WAN, port, 8)), "other port of the same server");
    }

    /** REQ-9: hairpinning, with the external source address and port seen by the receiving client. */
    @Test
    void req9Hairpinning()
    {
        // both learn their mappings from a server (as with STUN)
        final int extA = udpOut(A, 4000, S1, 3478);
        final int extB = udpOut(B, 4001, S1, 3478);
        // B sends to A's external endpoint first: A's filter refuses it (A never talked to the WAN address),
        // but on its way out it opened B's own mapping towards the WAN address
        UnsafeBuffer p = Packets.udp(B, 4001, WAN, extA, 8);
        assertEquals(VERDICT_DROP, nat.fromLan(p), "A's filter has not seen the WAN address yet");
        assertEquals(1, nat.count(Counter.DROP_FILTERED));
        // now A sends to B's external endpoint: prerouting turns it around to B...
        p = Packets.udp(A, 4000, WAN, extB, 8);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.fromLan(p));
        assertTrue(nat.engine.hairpinned());
        assertEquals(B, Packets.destination(p));
        assertEquals(4001, Packets.destinationPort(p));
        // ... and postrouting gives it A's external source address and port
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.hairpinOut(p));
        assertEquals(WAN, Packets.source(p));
        assertEquals(extA, Packets.sourcePort(p));
        assertTrue(nat.count(Counter.NAT_HAIRPIN_PACKETS) >= 2);
        // a packet to the WAN address on a port nobody maps is the router's own business
        assertEquals(VERDICT_ACCEPT, nat.fromLan(Packets.udp(A, 4000, WAN, 9, 8)));
    }

    @Test
    void req12IcmpNeverEndsAMapping()
    {
        final UnsafeBuffer out = Packets.udp(A, 5000, S1, 53, 20);
        nat.out(out);
        final int port = Packets.sourcePort(out);
        final UnsafeBuffer error = Packets.icmpError(S1, WAN, IcmpHeader.DESTINATION_UNREACHABLE,
            IcmpHeader.CODE_PORT_UNREACHABLE, out, 20 + 8 + 20);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(error));
        assertEquals(A, Packets.destination(error));
        assertEquals(1, nat.engine.flows().size(), "the session survives");
        assertEquals(VERDICT_ACCEPT_MODIFIED, udpIn(S1, 53, port, A, 5000));
    }

    // ----------------------------------------------------------------------------- RFC 5382 (TCP)

    private UnsafeBuffer tcpOut(final int src, final int sport, final int dst, final int dport, final int flags)
    {
        final UnsafeBuffer p = Packets.tcp(src, sport, dst, dport, flags, (flags & TcpHeader.SYN) != 0 ? 1460 : 0, 0);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(p));
        return p;
    }

    private int tcpIn(final int src, final int sport, final int extPort, final int flags)
    {
        return nat.in(Packets.tcp(src, sport, WAN, extPort, flags, 0, 0));
    }

    @Test
    void tcpEndpointIndependentMappingAndHandshake()
    {
        final int ext = Packets.sourcePort(tcpOut(A, 33000, S1, 443, SYN));
        assertEquals(ext, Packets.sourcePort(tcpOut(A, 33000, S2, 443, SYN)), "EIM");
        assertEquals(VERDICT_ACCEPT_MODIFIED, tcpIn(S1, 443, ext, SYN_ACK));
        tcpOut(A, 33000, S1, 443, ACK);
        assertTrue((nat.engine.flows().state(nat.engine.lastFlow()) & NatEngine.TCP_ESTABLISHED) != 0);
    }

    @Test
    void tcpSimultaneousOpen()
    {
        final int ext = Packets.sourcePort(tcpOut(A, 33000, S1, 5000, SYN));
        // the server's own SYN (no ACK) crosses ours
        final UnsafeBuffer synIn = Packets.tcp(S1, 5000, WAN, ext, SYN, 1460, 0);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(synIn));
        assertEquals(A, Packets.destination(synIn));
        assertEquals(VERDICT_ACCEPT_MODIFIED, tcpIn(S1, 5000, ext, SYN_ACK));
        tcpOut(A, 33000, S1, 5000, SYN_ACK);
        assertTrue((nat.engine.flows().state(nat.engine.lastFlow()) & NatEngine.TCP_ESTABLISHED) != 0);
    }

    @Test
    void tcpTimeoutsMeetRfc5382()
    {
        // established: at least 2 h 4 min idle
        final int ext = Packets.sourcePort(tcpOut(A, 33000, S1, 22, SYN));
        tcpIn(S1, 22, ext, SYN_ACK);
        tcpOut(A, 33000, S1, 22, ACK);
        nat.advance(7_439_000);
        assertEquals(VERDICT_ACCEPT_MODIFIED, tcpIn(S1, 22, ext, ACK), "established session alive at 2 h 3 min 59 s");
        nat.advance(7_440_000 + NatHarness.SLACK);
        assertEquals(VERDICT_DROP, tcpIn(S1, 22, ext, ACK), "gone after 2 h 4 min idle");

        // transitory (a SYN never answered): at least 4 min
        final int ext2 = Packets.sourcePort(tcpOut(A, 33001, S1, 22, SYN));
        nat.advance(239_000);
        assertEquals(VERDICT_ACCEPT_MODIFIED, tcpIn(S1, 22, ext2, SYN_ACK));
    }

    @Test
    void tcpHalfClosedIsTransitory()
    {
        final int ext = Packets.sourcePort(tcpOut(A, 33000, S1, 80, SYN));
        tcpIn(S1, 80, ext, SYN_ACK);
        tcpOut(A, 33000, S1, 80, ACK | TcpHeader.FIN);
        nat.advance(240_000 + NatHarness.SLACK);
        assertEquals(VERDICT_DROP, tcpIn(S1, 80, ext, ACK), "a half-closed session lasts the transitory time");
    }

    /** RFC 7857 2.2: a RST does not end the session at once; it is held for the 4-minute transitory time. */
    @Test
    void tcpResetHeldFourMinutes()
    {
        final int ext = Packets.sourcePort(tcpOut(A, 33000, S1, 80, SYN));
        tcpIn(S1, 80, ext, SYN_ACK);
        tcpOut(A, 33000, S1, 80, ACK);
        assertEquals(VERDICT_ACCEPT_MODIFIED, tcpIn(S1, 80, ext, TcpHeader.RST));
        assertEquals(1, nat.count(Counter.NAT_TCP_RESETS));
        nat.advance(200_000);
        assertEquals(VERDICT_ACCEPT_MODIFIED, tcpIn(S1, 80, ext, TcpHeader.RST | ACK), "still held after 200 s");
        nat.advance(240_000 + NatHarness.SLACK);
        assertEquals(VERDICT_DROP, tcpIn(S1, 80, ext, ACK));
    }

    @Test
    void tcpHairpin()
    {
        final int extB = Packets.sourcePort(tcpOut(B, 8080, S1, 3478, SYN));
        final int extA = Packets.sourcePort(tcpOut(A, 9090, S1, 3478, SYN));
        // B's SYN towards A's external endpoint is refused by A's filter but opens B's mapping to the WAN address
        assertEquals(VERDICT_DROP, nat.fromLan(Packets.tcp(B, 8080, WAN, extA, SYN, 1460, 0)));
        final UnsafeBuffer aToB = Packets.tcp(A, 9090, WAN, extB, SYN, 1460, 0);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.fromLan(aToB));
        assertEquals(B, Packets.destination(aToB));
        assertEquals(8080, Packets.destinationPort(aToB));
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.hairpinOut(aToB));
        assertEquals(extA, Packets.sourcePort(aToB));
    }

    @Test
    void icmpDestinationUnreachableTranslatedForTcpWithoutEndingIt()
    {
        final UnsafeBuffer syn = tcpOut(A, 33000, S1, 443, SYN);
        final int ext = Packets.sourcePort(syn);
        // a router on the way answers with fragmentation needed, quoting header and 8 bytes
        final UnsafeBuffer error = Packets.icmpError(Packets.ip("192.0.2.254"), WAN,
            IcmpHeader.DESTINATION_UNREACHABLE, IcmpHeader.CODE_FRAGMENTATION_NEEDED, syn, 28);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(error));
        assertEquals(A, Packets.destination(error));
        final int inner = Packets.OFFSET + 28;
        assertEquals(A, error.getInt(inner + 12, ByteOrder.BIG_ENDIAN), "embedded source is the client again");
        assertEquals(33000, error.getShort(inner + 20, ByteOrder.BIG_ENDIAN) & 0xFFFF, "embedded port too");
        final Ipv4Header embedded = new Ipv4Header();
        assertTrue(embedded.wrapQuoted(error, inner, 28));
        assertTrue(embedded.checksumValid(), "embedded header checksum fixed");
        assertEquals(1, nat.engine.flows().size());
        assertEquals(VERDICT_ACCEPT_MODIFIED, tcpIn(S1, 443, ext, SYN_ACK));
    }

    @Test
    void icmpErrorWithFullQuoteFixesTheEmbeddedTransportChecksum()
    {
        final UnsafeBuffer out = Packets.udp(A, 5000, S1, 53, 20);
        nat.out(out);
        final UnsafeBuffer error = Packets.icmpError(S1, WAN, 3, 3, out, 48);
        nat.in(error);
        // the embedded UDP datagram is whole: its checksum must verify with the restored addresses
        final UnsafeBuffer embedded = new UnsafeBuffer(new byte[Packets.OFFSET + 48 + 16]);
        embedded.putBytes(Packets.OFFSET, error, Packets.OFFSET + 28, 48);
        assertTrue(Packets.checksumsValid(embedded));
        assertEquals(A, Packets.source(embedded));
        assertEquals(5000, Packets.sourcePort(embedded));
    }

    @Test
    void lanHostsIcmpErrorLeavesTranslated()
    {
        final int ext = udpOut(A, 5000, S1, 53);
        final UnsafeBuffer reply = Packets.udp(S1, 53, WAN, ext, 20);
        nat.in(reply);
        // A answers with port unreachable about the packet it received (S1:53 -> A:5000)
        final UnsafeBuffer error = Packets.icmpError(A, S1, 3, 3, reply, 48);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(error));
        assertEquals(WAN, Packets.source(error));
        assertEquals(WAN, error.getInt(Packets.OFFSET + 28 + 16, ByteOrder.BIG_ENDIAN), "embedded destination");
        assertEquals(ext, error.getShort(Packets.OFFSET + 28 + 22, ByteOrder.BIG_ENDIAN) & 0xFFFF);
    }

    @Test
    void mssClampedOnSynBothWays()
    {
        final NatHarness clamp = new NatHarness(new NatConfig(WAN, NatHarness.LAN_ROUTER, 2, 64, 1024, 65535, false,
            Filtering.ADDRESS_DEPENDENT, 300_000, 7_440_000, 240_000, 60_000, 1400, true, 0x100000, 0, 1, 1));
        final UnsafeBuffer syn = Packets.tcp(A, 33000, S1, 443, SYN, 1460, 0);
        clamp.out(syn);
        final TcpHeader t = new TcpHeader();
        t.wrap(syn, Packets.OFFSET + 20, 24);
        assertEquals(1400, t.mss());
        final UnsafeBuffer synAck = Packets.tcp(S1, 443, WAN, Packets.sourcePort(syn), SYN_ACK, 1460, 0);
        clamp.in(synAck);
        t.wrap(synAck, Packets.OFFSET + 20, 24);
        assertEquals(1400, t.mss());
        final UnsafeBuffer small = Packets.tcp(A, 33001, S1, 443, SYN, 1200, 0);
        clamp.out(small);
        t.wrap(small, Packets.OFFSET + 20, 24);
        assertEquals(1200, t.mss(), "a smaller MSS is left alone");
        assertEquals(2, clamp.count(Counter.NAT_MSS_CLAMPED));
    }

    // ----------------------------------------------------------------------------- RFC 5508 (ICMP)

    @Test
    void echoIdentifiersMappedLikePorts()
    {
        final UnsafeBuffer a = Packets.icmpQuery(A, S1, IcmpHeader.ECHO_REQUEST, 77, 1);
        final UnsafeBuffer b = Packets.icmpQuery(B, S1, IcmpHeader.ECHO_REQUEST, 77, 1);
        nat.out(a);
        nat.out(b);
        assertEquals(77, Packets.icmpId(a));
        assertNotEquals(77, Packets.icmpId(b));
        final UnsafeBuffer replyB = Packets.icmpQuery(S1, WAN, IcmpHeader.ECHO_REPLY, Packets.icmpId(b), 1);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(replyB));
        assertEquals(B, Packets.destination(replyB));
        assertEquals(77, Packets.icmpId(replyB));
        // query timeout at least 60 s
        nat.advance(59_000);
        final UnsafeBuffer replyA = Packets.icmpQuery(S1, WAN, IcmpHeader.ECHO_REPLY, 77, 2);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(replyA));
        nat.advance(60_000 + NatHarness.SLACK);
        assertEquals(VERDICT_ACCEPT, nat.in(Packets.icmpQuery(S1, WAN, IcmpHeader.ECHO_REPLY, 77, 3)),
            "an unmatched reply is left to the router");
        // a ping of the router's WAN address is the router's to answer
        assertEquals(VERDICT_ACCEPT, nat.in(Packets.icmpQuery(S3, WAN, IcmpHeader.ECHO_REQUEST, 5, 1)));
    }

    @Test
    void icmpErrorAboutAnEchoRequestTranslated()
    {
        final UnsafeBuffer ping = Packets.icmpQuery(A, S1, IcmpHeader.ECHO_REQUEST, 77, 1);
        nat.out(ping);
        final UnsafeBuffer ttl = Packets.icmpError(Packets.ip("192.0.2.1"), WAN, IcmpHeader.TIME_EXCEEDED, 0, ping, 28);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(ttl));
        assertEquals(A, Packets.destination(ttl));
        assertEquals(77, ttl.getShort(Packets.OFFSET + 28 + 24, ByteOrder.BIG_ENDIAN) & 0xFFFF);
    }

    @Test
    void portlessProtocolsAndTheirIcmpErrors()
    {
        // GRE version 0 and ESP without a helper: address-only NAT, one client per (protocol, server)
        final UnsafeBuffer gre = Packets.other(A, S1, Protocols.GRE, 8);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(gre));
        assertEquals(WAN, Packets.source(gre));
        assertEquals(VERDICT_DROP, nat.out(Packets.other(B, S1, Protocols.GRE, 8)), "a second client is refused");
        assertEquals(1, nat.count(Counter.DROP_CONFLICT));
        final UnsafeBuffer back = Packets.other(S1, WAN, Protocols.GRE, 8);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(back));
        assertEquals(A, Packets.destination(back));
        assertEquals(VERDICT_DROP, nat.in(Packets.other(S2, WAN, Protocols.GRE, 8)), "nothing mapped for S2");

        final UnsafeBuffer esp = Packets.other(B, S2, Protocols.ESP, 16);
        nat.out(esp);
        final UnsafeBuffer mtu = Packets.icmpError(Packets.ip("192.0.2.1"), WAN, 3, 4, esp, 28);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(mtu), "PMTU for a tunnel reaches its client");
        assertEquals(B, Packets.destination(mtu));
        assertEquals(B, mtu.getInt(Packets.OFFSET + 28 + 12, ByteOrder.BIG_ENDIAN));
    }

    // ----------------------------------------------------------------------------- exhaustion, fragments

    @Test
    void portsExhaustedRefusedWithIcmp313()
    {
        final NatHarness small = new NatHarness(NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, 1024)
            .withPorts(2000, 2063, false));
        for (int i = 0; i < 64; i++)
        {
            assertEquals(VERDICT_ACCEPT_MODIFIED, small.out(Packets.udp(Packets.ip("10.0.2." + (i + 1)), 6000, S1, 53, 4)));
        }
        final UnsafeBuffer refused = Packets.udp(Packets.ip("10.0.3.1"), 6000, S1, 53, 4);
        assertEquals(VERDICT_DROP, small.out(refused));
        assertEquals(1, small.count(Counter.DROP_PORTS_EXHAUSTED));
        assertEquals(1, small.sent.size());
        final UnsafeBuffer icmp = small.sent.get(0).buffer();
        assertEquals(Packets.ip("10.0.3.1"), small.sent.get(0).destination());
        assertEquals(NatHarness.LAN_ROUTER, Packets.source(icmp));
        assertEquals(3, icmp.getByte(Packets.OFFSET + 20));
        assertEquals(13, icmp.getByte(Packets.OFFSET + 21));
        assertTrue(Packets.checksumsValid(icmp));
        // the quote is the refused packet
        assertEquals(Packets.ip("10.0.3.1"), icmp.getInt(Packets.OFFSET + 28 + 12, ByteOrder.BIG_ENDIAN));
    }

    @Test
    void fullTableEvictsOldestTransitoryThenRefuses()
    {
        final NatHarness small = new NatHarness(NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, 64));
        // 4 transitory TCP sessions (SYN only), the rest established UDP
        for (int i = 0; i < 4; i++)
        {
            small.out(Packets.tcp(A, 30000 + i, S1, 80, SYN, 1460, 0));
            small.now += 10;
        }
        for (int i = 0; i < 60; i++)
        {
            small.out(Packets.udp(A, 40000 + i, S1, 53, 4));
        }
        assertTrue(small.engine.flows().isFull());
        // a new session evicts the oldest transitory one (port 30000)
        assertEquals(VERDICT_ACCEPT_MODIFIED, small.out(Packets.udp(B, 1234, S1, 53, 4)));
        assertEquals(1, small.count(Counter.NAT_FLOWS_EVICTED));
        assertEquals(VERDICT_DROP, small.in(Packets.tcp(S1, 80, WAN, 30000, SYN_ACK, 0, 0)), "evicted");
        assertEquals(VERDICT_ACCEPT_MODIFIED, small.in(Packets.tcp(S1, 80, WAN, 30003, SYN_ACK, 0, 0)), "newest kept");
        // the SYN/ACK made 30003 established: 30001 and 30002 are the transitory ones left
        for (int i = 0; i < 2; i++)
        {
            assertEquals(VERDICT_ACCEPT_MODIFIED, small.out(Packets.udp(B, 2000 + i, S1, 53, 4)));
        }
        assertEquals(3, small.count(Counter.NAT_FLOWS_EVICTED));
        // no transitory session left: refused with ICMP 3/13, counted
        assertEquals(VERDICT_DROP, small.out(Packets.udp(B, 3000, S1, 53, 4)));
        assertEquals(1, small.count(Counter.DROP_TABLE_FULL));
        assertEquals(1, small.sent.size());
    }

    @Test
    void fragmentsTranslated()
    {
        // first fragment carries the ports
        final UnsafeBuffer first = Packets.udp(S1, 53, WAN, udpOut(A, 5000, S1, 53), 40);
        first.putShort(Packets.OFFSET + 4, (short)0x4242, ByteOrder.BIG_ENDIAN);
        first.putShort(Packets.OFFSET + 6, (short)Ipv4Header.FLAG_MF, ByteOrder.BIG_ENDIAN);
        fixIpChecksum(first);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.engine.inbound(first, Packets.OFFSET, Packets.length(first), false, false, nat.now));
        assertEquals(A, Packets.destination(first));
        // a later fragment of the same datagram follows it to A
        final UnsafeBuffer later = Packets.other(S1, WAN, Protocols.UDP, 24);
        later.putShort(Packets.OFFSET + 4, (short)0x4242, ByteOrder.BIG_ENDIAN);
        later.putShort(Packets.OFFSET + 6, (short)6, ByteOrder.BIG_ENDIAN);
        fixIpChecksum(later);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(later));
        assertEquals(A, Packets.destination(later));
        // one whose first fragment was never seen is dropped and counted
        final UnsafeBuffer orphan = Packets.other(S1, WAN, Protocols.UDP, 24);
        orphan.putShort(Packets.OFFSET + 4, (short)0x9999, ByteOrder.BIG_ENDIAN);
        orphan.putShort(Packets.OFFSET + 6, (short)6, ByteOrder.BIG_ENDIAN);
        fixIpChecksum(orphan);
        assertEquals(VERDICT_DROP, nat.in(orphan));
        assertEquals(1, nat.count(Counter.DROP_FRAGMENT_NO_STATE));
        // outbound later fragments only need the source address
        final UnsafeBuffer outLater = Packets.other(A, S1, Protocols.UDP, 24);
        outLater.putShort(Packets.OFFSET + 6, (short)6, ByteOrder.BIG_ENDIAN);
        fixIpChecksum(outLater);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(outLater));
        assertEquals(WAN, Packets.source(outLater));
    }

    private static void fixIpChecksum(final UnsafeBuffer b)
    {
        final Ipv4Header h = new Ipv4Header();
        h.wrap(b, Packets.OFFSET, Packets.length(b));
        h.checksum(h.computeChecksum());
    }

    // ----------------------------------------------------------------------------- unsolicited traffic

    @Test
    void unsolicitedInboundDroppedAndCounted()
    {
        assertEquals(VERDICT_DROP, nat.in(Packets.udp(S3, 53, WAN, 40000, 8)));
        assertEquals(VERDICT_DROP, nat.in(Packets.other(S3, WAN, Protocols.ESP, 16)));
        assertEquals(2, nat.count(Counter.DROP_NO_MAPPING));
        assertEquals(VERDICT_ACCEPT, nat.in(Packets.udp(S3, 53, Packets.ip("203.0.113.99"), 40000, 8)),
            "not for the WAN address: not passgate's");
    }

    /** RFC 5382 REQ-4: no answer for 6 s; then port unreachable unless an outbound SYN came. */
    @Test
    void unsolicitedSynAnsweredAfterSixSeconds()
    {
        assertEquals(VERDICT_DROP, tcpIn(S3, 5555, 40000, SYN));
        assertEquals(VERDICT_DROP, tcpIn(S3, 6666, 40001, SYN));
        assertEquals(2, nat.count(Counter.NAT_UNSOLICITED_SYNS_HELD));
        nat.advance(5_000);
        assertEquals(0, nat.sent.size(), "nothing within 6 s");
        // the LAN host opens towards the second one in the meantime (simultaneous open)
        final UnsafeBuffer syn = Packets.tcp(A, 40001, S3, 6666, SYN, 1460, 0);
        nat.out(syn);
        assertEquals(40001, Packets.sourcePort(syn));
        nat.advance(2_000);
        assertEquals(1, nat.sent.size(), "only the first gets an answer");
        final UnsafeBuffer icmp = nat.sent.get(0).buffer();
        assertEquals(S3, nat.sent.get(0).destination());
        assertEquals(WAN, Packets.source(icmp));
        assertEquals(3, icmp.getByte(Packets.OFFSET + 20));
        assertEquals(3, icmp.getByte(Packets.OFFSET + 21));
        assertTrue(Packets.checksumsValid(icmp));
    }

    @Test
    void malformedPacketsDroppedAndCountedNeverThrown()
    {
        final UnsafeBuffer p = Packets.tcp(A, 1, S1, 2, SYN, 0, 0);
        p.putByte(Packets.OFFSET + 20 + 12, (byte)0xF0);   // data offset 60 in a 20-byte header
        assertEquals(VERDICT_DROP, nat.engine.outbound(p, Packets.OFFSET, 40, false, false, nat.now));
        assertEquals(VERDICT_DROP, nat.engine.outbound(p, Packets.OFFSET, 12, false, false, nat.now));
        final UnsafeBuffer icmpShort = Packets.icmpError(S1, WAN, 3, 3, Packets.udp(A, 1, S1, 2, 0), 10);
        assertEquals(VERDICT_ACCEPT, nat.engine.inbound(icmpShort, Packets.OFFSET, Packets.length(icmpShort), false,
            false, nat.now), "an error quoting too little is left to the router");
        assertEquals(2, nat.count(Counter.DROP_MALFORMED));
    }

    /** GSO packets keep the partial checksum form: the field becomes the new pseudo-header sum. */
    @Test
    void partialChecksumFormKept()
    {
        final UnsafeBuffer p = Packets.tcp(A, 33000, S1, 443, ACK, 0, 100);
        final int field = Packets.OFFSET + 20 + 16;
        p.putShort(field, (short)Checksum.fold(Checksum.pseudoHeader(A, S1, 6, 120)), ByteOrder.BIG_ENDIAN);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.engine.outbound(p, Packets.OFFSET, Packets.length(p), true, false, nat.now));
        assertEquals(Checksum.fold(Checksum.pseudoHeader(WAN, S1, 6, 120)), p.getShort(field, ByteOrder.BIG_ENDIAN) & 0xFFFF);
        assertEquals(1, nat.count(Counter.NAT_TCP_PICKUPS), "a mid-stream packet is picked up (takeover)");
        // completing it gives what a from-scratch computation gives
        final Ipv4Header h = new Ipv4Header();
        h.wrap(p, Packets.OFFSET, Packets.length(p));
        assertTrue(Checksum.completeTransport(h));
        assertTrue(Packets.checksumsValid(p));
    }

    @Test
    void shardsOwnTheirPortsAndHelpersPortsStayWithTheFirst()
    {
        final NatConfig base = NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, 1024);
        final NatHarness shard1 = new NatHarness(base.withShard(1, 2));
        final Set<Integer> ports = new HashSet<>();
        for (int i = 0; i < 100; i++)
        {
            final UnsafeBuffer p = Packets.udp(Packets.ip("10.0.4." + (i + 1)), 40000 + i, S1, 53, 4);
            shard1.out(p);
            final int port = Packets.sourcePort(p);
            assertEquals(1, port & 1, "shard 1 of 2 hands out odd ports only");
            ports.add(port);
        }
        assertEquals(100, ports.size());
        final UnsafeBuffer ike = Packets.udp(A, 500, S1, 500, 4);
        shard1.out(ike);
        assertNotEquals(500, Packets.sourcePort(ike), "500 belongs to the first shard's IPsec helper");
        final NatHarness shard0 = new NatHarness(base.withShard(0, 2));
        final UnsafeBuffer ike0 = Packets.udp(A, 500, S1, 500, 4);
        shard0.out(ike0);
        assertEquals(500, Packets.sourcePort(ike0));
        assertTrue(shard0.engine.mappings().isReserved(Protocols.SPACE_UDP, 500), "kept for its own protocol only");
    }
}

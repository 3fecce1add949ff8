package io.passgate.nat;

import static io.passgate.nat.NatHarness.A;
import static io.passgate.nat.NatHarness.B;
import static io.passgate.nat.NatHarness.S1;
import static io.passgate.nat.NatHarness.WAN;
import static io.passgate.nfq.PacketHandler.VERDICT_ACCEPT_MODIFIED;
import static io.passgate.nfq.PacketHandler.VERDICT_DROP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Set;

import io.passgate.counters.Counter;
import io.passgate.wire.IcmpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** The NAT items of the outside review (issue 9): router ports, helper ports, shards, SCTP/DCCP/UDP-Lite. */
class NatReviewTest
{
    private static final int[] ROUTER_UDP = {53, 67, 68, 123};

    /** Item 10: a port the router listens on is never handed out, whatever range the remap falls into. */
    @Test
    void routerListeningPortsAreNeverAllocated()
    {
        final NatHarness nat = NatHarness.withHelpers(NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, 4096));
        for (final int port : ROUTER_UDP)
        {
            nat.engine.routerPort(Protocols.UDP, port, true);
        }
        nat.engine.routerPort(Protocols.TCP, 22, true);
        nat.engine.routerPort(Protocols.UDP, 40000, true);
        // a client of the same port as a router listener never keeps it
        final UnsafeBuffer dns = Packets.udp(A, 53, S1, 53, 8);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(dns));
        assertNotEquals(53, Packets.sourcePort(dns));
        final UnsafeBuffer high = Packets.udp(A, 40000, S1, 9, 8);
        nat.out(high);
        assertNotEquals(40000, Packets.sourcePort(high));
        final UnsafeBuffer ssh = Packets.tcp(A, 22, S1, 22, io.passgate.wire.TcpHeader.SYN, 0, 0);
        nat.out(ssh);
        assertNotEquals(22, Packets.sourcePort(ssh));
        // every low port a remap can take, taken in turn: never a listener's
        final Set<Integer> given = new HashSet<>();
        for (int i = 0; i < 1100; i++)
        {
            final UnsafeBuffer p = Packets.udp(Packets.ip("10.0." + (10 + i / 250) + "." + (1 + i % 250)), 123, S1, 123, 8);
            if (nat.out(p) == VERDICT_ACCEPT_MODIFIED)
            {
                final int port = Packets.sourcePort(p);
                assertTrue(port < 1024, "a low port stays low: " + port);
                given.add(port);
            }
        }
        for (final int port : ROUTER_UDP)
        {
            assertFalse(given.contains(port), "the router's " + port + " was handed out");
        }
        assertFalse(given.contains(500), "IKE's port is not for DNS/NTP sessions");
        assertTrue(given.size() > 1000, "the rest of 1..1023 was used: " + given.size());
        assertTrue(nat.count(Counter.DROP_PORTS_EXHAUSTED) > 0, "then refused, counted");
        // a listener that goes away frees its port again
        nat.engine.routerPort(Protocols.UDP, 40000, false);
        final UnsafeBuffer again = Packets.udp(B, 40000, S1, 9, 8);
        nat.out(again);
        assertEquals(40000, Packets.sourcePort(again));
    }

    /** Item 10: 500, 1701 and 4500 are kept only by sessions of their own protocol. */
    @Test
    void helperPortsAreKeptOnlyByTheirOwnProtocol()
    {
        final NatHarness nat = NatHarness.withHelpers();
        final UnsafeBuffer notIke = Packets.udp(A, 500, S1, 53, 8);
        nat.out(notIke);
        assertNotEquals(500, Packets.sourcePort(notIke), "a DNS query from port 500 does not take IKE's port");
        final UnsafeBuffer ike = Packets.udp(B, 500, S1, 500, 8);
        nat.out(ike);
        assertEquals(500, Packets.sourcePort(ike), "IKE keeps 500");
        final UnsafeBuffer l2tp = Packets.udp(B, 1701, S1, 1701, Packets.sccrq(7));
        nat.out(l2tp);
        assertEquals(1701, Packets.sourcePort(l2tp));
        final UnsafeBuffer natt = Packets.udp(A, 4500, S1, 443, 8);
        nat.out(natt);
        assertNotEquals(4500, Packets.sourcePort(natt));
        final UnsafeBuffer floated = Packets.udp(Packets.ip("10.0.0.13"), 4500, S1, 4500, 8);
        nat.out(floated);
        assertEquals(4500, Packets.sourcePort(floated), "NAT-T keeps 4500");
        // no random remap lands on them either
        final NatHarness small = NatHarness.withHelpers(NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, 4096)
            .withPorts(1024, 1087, false));
        for (int i = 0; i < 64; i++)
        {
            final UnsafeBuffer p = Packets.udp(Packets.ip("10.0.1." + (i + 1)), 5000, S1, 53, 8);
            small.out(p);
            assertTrue(Packets.sourcePort(p) >= 1024 && Packets.sourcePort(p) <= 1087);
        }
    }

    /** Item 11: with two shards, the first keeps UDP 1701 (an odd port) for L2TP. */
    @Test
    void firstShardKeepsL2tpPortWithTwoShards()
    {
        final NatConfig base = NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, 1024);
        final NatHarness shard0 = NatHarness.withHelpers(base.withShard(0, 2));
        final UnsafeBuffer l2tp = Packets.udp(A, 1701, S1, 1701, Packets.sccrq(7));
        assertEquals(VERDICT_ACCEPT_MODIFIED, shard0.out(l2tp));
        assertEquals(1701, Packets.sourcePort(l2tp));
        final UnsafeBuffer reply = Packets.udp(S1, 1701, WAN, 1701, new io.passgate.wire.L2tpMessages.Control(7, 0, 0, 1)
            .type(io.passgate.wire.L2tpHeader.SCCRP).sccrqExtras("lns").u16(io.passgate.wire.L2tpHeader.AVP_ASSIGNED_TUNNEL_ID, 9)
            .bytes());
        assertEquals(VERDICT_ACCEPT_MODIFIED, shard0.in(reply));
        assertEquals(A, Packets.destination(reply));
    }

    /**
     * Item 11: a socket that talks to a helper port (queued to the first shard) and to another port (queued to
     * its client's shard) gets one mapping: the second shard hands its packets to the holder.
     */
    @Test
    void oneEndpointOneMappingAcrossShards()
    {
        final SharedEndpoints shared = new SharedEndpoints(2048);
        final NatConfig base = NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, 1024);
        final NatHarness shard0 = new NatHarness(base.withShard(0, 2), shared);
        final NatHarness shard1 = new NatHarness(base.withShard(1, 2), shared);
        // the client's first packet, to a helper port: the rules send it to the first shard
        final UnsafeBuffer ike = Packets.udp(B, 40001, S1, 500, 8);
        assertEquals(VERDICT_ACCEPT_MODIFIED, shard0.out(ike));
        final int ext = Packets.sourcePort(ike);
        assertEquals(0, shared.holder(Protocols.UDP, B, 40001));
        // the same socket to another port: its client's shard, which defers to the holder
        final UnsafeBuffer dns = Packets.udp(B, 40001, NatHarness.S2, 53, 8);
        final UnsafeBuffer copy = new UnsafeBuffer(dns.byteArray().clone());
        assertEquals(NatEngine.VERDICT_REQUEUE_BASE, shard1.out(dns), "handed to shard 0's queue");
        assertEquals(0, shard1.engine.flows().size(), "no second mapping");
        assertTrue(java.util.Arrays.equals(copy.byteArray(), dns.byteArray()), "handed over unchanged");
        assertEquals(VERDICT_ACCEPT_MODIFIED, shard0.out(dns));
        assertEquals(ext, Packets.sourcePort(dns), "endpoint-independent: the same external port");
        // when the holder's mapping ends, the endpoint is free for whichever shard sees it next
        shard0.advance(400_000);
        assertEquals(-1, shared.holder(Protocols.UDP, B, 40001));
        final UnsafeBuffer later = Packets.udp(B, 40001, NatHarness.S2, 53, 8);
        assertEquals(VERDICT_ACCEPT_MODIFIED, shard1.out(later));
        assertEquals(1, shared.holder(Protocols.UDP, B, 40001));
    }

    /** Item 12: SCTP gets its ports translated (two clients, same port, one server) and its CRC32c recomputed. */
    @Test
    void sctpPortsAreTranslatedWithTheCrcRecomputed()
    {
        final NatHarness nat = new NatHarness();
        final UnsafeBuffer a = Packets.ported(Protocols.SCTP, A, 5000, S1, 3868, 40);
        final UnsafeBuffer b = Packets.ported(Protocols.SCTP, B, 5000, S1, 3868, 40);
        assertTrue(Packets.checksumsValid(a));
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(a));
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(b), "a second client to the same server is not refused");
        assertEquals(5000, Packets.sourcePort(a));
        assertNotEquals(5000, Packets.sourcePort(b));
        assertTrue(Packets.checksumsValid(b), "CRC32c over the rewritten ports");
        final UnsafeBuffer toB = Packets.ported(Protocols.SCTP, S1, 3868, WAN, Packets.sourcePort(b), 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(toB));
        assertEquals(B, Packets.destination(toB));
        assertEquals(5000, Packets.destinationPort(toB));
        assertTrue(Packets.checksumsValid(toB));
        final UnsafeBuffer toA = Packets.ported(Protocols.SCTP, S1, 3868, WAN, 5000, 40);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(toA));
        assertEquals(A, Packets.destination(toA));
        assertEquals(0, nat.count(Counter.DROP_CONFLICT));
        // more packets of the same associations find their sessions (protocol numbers above 127 included)
        nat.out(Packets.ported(Protocols.SCTP, A, 5000, S1, 3868, 40));
        nat.out(Packets.ported(Protocols.SCTP, B, 5000, S1, 3868, 40));
        assertEquals(2, nat.engine.flows().size());
    }

    /** Item 12: DCCP and UDP-Lite keep valid checksums (their pseudo-headers hold the rewritten addresses). */
    @Test
    void dccpAndUdpLiteChecksumsStayValid()
    {
        for (final int protocol : new int[] {Protocols.DCCP, Protocols.UDPLITE})
        {
            final NatHarness nat = new NatHarness();
            final UnsafeBuffer a = Packets.ported(protocol, A, 6000, S1, 5004, 32);
            final UnsafeBuffer b = Packets.ported(protocol, B, 6000, S1, 5004, 32);
            assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(a));
            assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(b));
            assertEquals(WAN, Packets.source(b));
            assertNotEquals(Packets.sourcePort(a), Packets.sourcePort(b));
            assertTrue(Packets.checksumsValid(a) && Packets.checksumsValid(b), Protocols.name(protocol));
            final UnsafeBuffer back = Packets.ported(protocol, S1, 5004, WAN, Packets.sourcePort(b), 32);
            assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(back));
            assertEquals(B, Packets.destination(back));
            assertEquals(6000, Packets.destinationPort(back));
            assertTrue(Packets.checksumsValid(back), Protocols.name(protocol) + " inbound");
            // an ICMP error quoting the outbound packet reaches its client with the quote translated back
            final UnsafeBuffer error = Packets.icmpError(Packets.ip("192.0.2.9"), WAN, IcmpHeader.DESTINATION_UNREACHABLE,
                IcmpHeader.CODE_PORT_UNREACHABLE, b, 48);
            assertEquals(VERDICT_ACCEPT_MODIFIED, nat.in(error));
            assertEquals(B, Packets.destination(error));
            assertEquals(6000, error.getShort(Packets.OFFSET + 20 + 8 + 20, ByteOrder.BIG_ENDIAN) & 0xFFFF);
            assertTrue(Packets.checksumsValid(error));
        }
    }

    /** Item 12: truncated or lying SCTP/DCCP/UDP-Lite headers are counted drops. */
    @Test
    void malformedPortProtocolsAreCountedDrops()
    {
        final NatHarness nat = new NatHarness();
        assertEquals(VERDICT_DROP, nat.engine.outbound(Packets.other(A, S1, Protocols.SCTP, 6), Packets.OFFSET, 26, false,
            false, nat.now));
        final UnsafeBuffer dccp = Packets.ported(Protocols.DCCP, A, 6000, S1, 5004, 8);
        dccp.putByte(Packets.OFFSET + 20 + 4, (byte)60);   // data offset past the packet
        assertEquals(VERDICT_DROP, nat.engine.outbound(dccp, Packets.OFFSET, Packets.length(dccp), false, false, nat.now));
        final UnsafeBuffer lite = Packets.ported(Protocols.UDPLITE, A, 6000, S1, 5004, 8);
        lite.putShort(Packets.OFFSET + 20 + 4, (short)3, ByteOrder.BIG_ENDIAN);   // coverage 3: illegal
        assertEquals(VERDICT_DROP, nat.engine.outbound(lite, Packets.OFFSET, Packets.length(lite), false, false, nat.now));
        assertEquals(3, nat.count(Counter.DROP_MALFORMED));
        assertEquals(0, nat.engine.flows().size());
    }
}

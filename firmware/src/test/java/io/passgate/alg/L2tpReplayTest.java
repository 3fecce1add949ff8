package io.passgate.alg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nfq.PacketHandler;
import io.passgate.pcap.Pcap;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.L2tpHeader;
import io.passgate.wire.UdpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * L2TP captures through the NAT and the L2TP helper: a real xl2tpd exchange (captured in the lab between two
 * namespaces: SCCRQ to StopCCN, a call set up and cleared) replayed for one client and then for a second client
 * with the same Tunnel ID to the same server; the public AVP-overflow capture; and every packet of both cut
 * short and corrupted byte by byte: counted drops, never an exception, the live tunnel untouched.
 */
class L2tpReplayTest
{
    private static final int WAN = Packets.ip("203.0.113.1");
    private static final int LAC = Packets.ip("192.0.2.1");
    private static final int LNS = Packets.ip("198.51.100.2");
    private CounterSet counters;
    private NatEngine engine;
    private L2tpHelper l2tp;

    @BeforeEach
    void setUp()
    {
        counters = new CounterSet();
        engine = new NatEngine(NatConfig.defaults(WAN, Packets.ip("10.254.0.1"), 2, 4096), counters, (b, o, l, d) -> { },
            100, 1_000_000);
        l2tp = new L2tpHelper(64, 3);
        engine.register(l2tp);
    }

    private static Path capture(final String name) throws URISyntaxException
    {
        return Path.of(L2tpReplayTest.class.getResource("/captures/" + name).toURI());
    }

    private static List<byte[]> ipv4(final String file) throws Exception
    {
        final List<byte[]> out = new ArrayList<>();
        for (final Pcap.Packet p : Pcap.read(capture(file)))
        {
            if (p.isIpv4())
            {
                final byte[] b = new byte[p.l3Length()];
                System.arraycopy(p.data(), p.l3Offset(), b, 0, b.length);
                out.add(b);
            }
        }
        return out;
    }

    private static UnsafeBuffer slot(final byte[] packet)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[Packets.OFFSET + packet.length + 16]);
        b.putBytes(Packets.OFFSET, packet);
        return b;
    }

    /**
     * Replays the xl2tpd capture with the LAC at {@code client}: returns the Tunnel ID the server was told (the
     * SCCRQ's Assigned Tunnel ID after translation). The server's answers carry that ID, as a server would send.
     */
    private int replayXl2tpd(final int client) throws Exception
    {
        final Ipv4Header ip = new Ipv4Header();
        final UdpHeader udp = new UdpHeader();
        final L2tpHeader msg = new L2tpHeader();
        int told = -1;
        int own = -1;
        int outbound = 0;
        int inbound = 0;
        for (final byte[] original : ipv4("l2tp-xl2tpd.pcap"))
        {
            final UnsafeBuffer b = slot(original);
            assertTrue(ip.wrap(b, Packets.OFFSET, original.length));
            final int length = original.length;
            if (ip.source() == LAC)
            {
                outbound++;
                ip.source(client);
                udp.wrap(b, ip.payloadOffset(), ip.payloadLength());
                udp.checksum(0);   // as the client would have sent it: no UDP checksum to carry over
                assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED,
                    engine.outbound(b, Packets.OFFSET, length, false, false, 1_000_000));
                assertEquals(WAN, Packets.source(b));
                assertEquals(1701, Packets.sourcePort(b), "the client keeps 1701");
                assertTrue(msg.wrap(b, Packets.OFFSET + 28, length - 28));
                if (msg.control() && msg.readAvps() && msg.messageType() == L2tpHeader.SCCRQ)
                {
                    told = msg.assignedTunnelId();
                    own = ownTunnelId(original);
                }
                else if (msg.control() && msg.messageType() == L2tpHeader.STOPCCN)
                {
                    assertEquals(told, msg.assignedTunnelId(), "StopCCN names the tunnel by the ID the server knows");
                }
                else
                {
                    // nothing else of the client's messages changes: the server's IDs stand as they are
                    assertArrayEquals(java.util.Arrays.copyOfRange(original, 28, length),
                        Packets.bytes(b, Packets.OFFSET + 28, length - 28), "payload of outbound packet " + outbound);
                }
            }
            else
            {
                inbound++;
                ip.destination(WAN);
                udp.wrap(b, ip.payloadOffset(), ip.payloadLength());
                udp.checksum(0);
                // the server addresses the tunnel by the ID it was told
                b.putShort(Packets.OFFSET + 28 + 4, (short)told, ByteOrder.BIG_ENDIAN);
                assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED,
                    engine.inbound(b, Packets.OFFSET, length, false, false, 1_000_000), "inbound packet " + inbound);
                assertEquals(client, Packets.destination(b), "inbound packet " + inbound + " reaches its own client");
                assertEquals(own, b.getShort(Packets.OFFSET + 28 + 4, ByteOrder.BIG_ENDIAN) & 0xFFFF,
                    "with the client's own Tunnel ID");
                assertArrayEquals(java.util.Arrays.copyOfRange(original, 28 + 6, length),
                    Packets.bytes(b, Packets.OFFSET + 28 + 6, length - 34), "the rest as the server sent it");
            }
        }
        assertEquals(6, outbound);
        assertEquals(7, inbound);
        return told;
    }

    private static int ownTunnelId(final byte[] sccrq)
    {
        final L2tpHeader h = new L2tpHeader();
        assertTrue(h.wrap(new UnsafeBuffer(sccrq), 28, sccrq.length - 28));
        assertTrue(h.readAvps());
        return h.assignedTunnelId();
    }

    @Test
    void xl2tpdTunnelAndCallForTwoClientsWithTheSameTunnelId() throws Exception
    {
        final int first = replayXl2tpd(Packets.ip("10.0.0.11"));
        assertEquals(45067, first, "the first client keeps its ID");
        final int second = replayXl2tpd(Packets.ip("10.0.0.12"));
        assertNotEquals(45067, second, "the second client's same ID is translated");
        assertEquals(2, counters.get(Counter.L2TP_TUNNELS));
        assertEquals(2, counters.get(Counter.L2TP_STOPCCN));
        assertEquals(2, counters.get(Counter.L2TP_CDN));
        assertEquals(2, l2tp.liveTunnels(), "both linger after StopCCN");
        for (final Counter c : Counter.values())
        {
            if (c.name().startsWith("DROP_"))
            {
                assertEquals(0, counters.get(c), c.name());
            }
        }
    }

    private long drops()
    {
        long sum = 0;
        for (final Counter c : Counter.values())
        {
            if (c.name().startsWith("DROP_") || c == Counter.PASSTHROUGH_REFUSED)
            {
                sum += counters.get(c);
            }
        }
        return sum;
    }

    /** Sets an IPv4 packet's addresses and total length (when given) and its header checksum. */
    private static byte[] ip(final byte[] packet, final int source, final int destination, final int totalLength)
    {
        final byte[] p = packet.clone();
        final UnsafeBuffer b = new UnsafeBuffer(p);
        if (source != 0)
        {
            b.putInt(12, source, ByteOrder.BIG_ENDIAN);
        }
        if (destination != 0)
        {
            b.putInt(16, destination, ByteOrder.BIG_ENDIAN);
        }
        if (totalLength > 0)
        {
            b.putShort(2, (short)totalLength, ByteOrder.BIG_ENDIAN);
        }
        final Ipv4Header h = new Ipv4Header();
        if (h.wrap(b, 0, Math.min(p.length, totalLength > 0 ? totalLength : p.length)))
        {
            h.checksum(h.computeChecksum());
        }
        return p;
    }

    /** Sends a packet one way; a drop must be counted. */
    private void send(final byte[] packet, final int length, final boolean outbound)
    {
        final UnsafeBuffer b = slot(packet);
        final long before = drops();
        final int v = outbound ? engine.outbound(b, Packets.OFFSET, length, false, false, 1_000_000)
            : engine.inbound(b, Packets.OFFSET, length, false, false, 1_000_000);
        if (v == PacketHandler.VERDICT_DROP)
        {
            assertTrue(drops() > before, "a drop is counted");
        }
    }

    @Test
    void avpOverflowCaptureIsCountedAndHarmsNothing() throws Exception
    {
        replayXl2tpd(Packets.ip("10.0.0.11"));
        final long malformedBefore = counters.get(Counter.DROP_L2TP_MALFORMED);
        int l2tpPackets = 0;
        for (final byte[] p : ipv4("l2tp-avp-overflow.pcap"))
        {
            // captured with a 58-byte snap length: the IP and UDP lengths claim far more than is there. As captured
            // (the IP length made true: a datagram whose UDP length lies), and with the UDP length made true too (the
            // L2TP message's own lengths lie), each as a LAN client's to the server and as the server's to the WAN
            final int ihl = (p[0] & 0x0F) * 4;
            if ((p[0] >> 4) != 4 || p[9] != 17 || p.length < ihl + 8)
            {
                send(p, p.length, true);
                continue;
            }
            l2tpPackets++;
            for (final boolean udpTrue : new boolean[] {false, true})
            {
                final byte[] base = p.clone();
                if (udpTrue)
                {
                    new UnsafeBuffer(base).putShort(ihl + 4, (short)(p.length - ihl), ByteOrder.BIG_ENDIAN);
                    new UnsafeBuffer(base).putShort(ihl + 6, (short)0, ByteOrder.BIG_ENDIAN);
                }
                send(ip(base, Packets.ip("10.0.0.11"), LNS, p.length), p.length, true);
                send(ip(base, LNS, WAN, p.length), p.length, false);
            }
        }
        assertTrue(l2tpPackets > 0, "the capture has UDP packets");
        assertTrue(counters.get(Counter.DROP_MALFORMED) > 0, "a UDP length past the datagram: a malformed drop");
        assertTrue(counters.get(Counter.DROP_L2TP_MALFORMED) > malformedBefore, "the AVP overflows: L2TP malformed drops");
        stillWorks();
    }

    @Test
    void everyPacketCutShortOrCorruptedIsACountedDropOrPasses() throws Exception
    {
        replayXl2tpd(Packets.ip("10.0.0.11"));
        final List<byte[]> packets = ipv4("l2tp-xl2tpd.pcap");
        for (final byte[] p : packets)
        {
            final boolean fromLac = (((p[12] & 0xFF) << 24) | ((p[13] & 0xFF) << 16) | ((p[14] & 0xFF) << 8)
                | (p[15] & 0xFF)) == LAC;
            final byte[] base = fromLac ? ip(p, Packets.ip("10.0.0.11"), 0, 0) : ip(p, 0, WAN, 0);
            for (int cut = 20; cut < base.length; cut++)
            {
                // the IP total length says the truth, the UDP and L2TP lengths do not
                send(ip(base, 0, 0, cut), cut, fromLac);
            }
            for (int at = 28; at < base.length; at++)
            {
                for (final int flip : new int[] {0x01, 0x80, 0xFF})
                {
                    final byte[] bad = base.clone();
                    bad[at] ^= (byte)flip;
                    new UnsafeBuffer(bad).putShort(26, (short)0, ByteOrder.BIG_ENDIAN);   // no UDP checksum
                    send(bad, bad.length, fromLac);
                }
            }
        }
        stillWorks();
    }

    /** A fresh tunnel of another client to another server still opens and carries data both ways. */
    private void stillWorks()
    {
        final int client = Packets.ip("10.0.0.42");
        final int server = Packets.ip("198.51.100.99");
        final UnsafeBuffer q = Packets.udp(client, 1701, server, 1701, Packets.sccrq(4242));
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, engine.outbound(q, Packets.OFFSET, Packets.length(q), false,
            false, 1_000_000));
        assertEquals(1701, Packets.sourcePort(q));
        final UnsafeBuffer d = Packets.udp(server, 1701, WAN, 1701, io.passgate.wire.L2tpMessages.data(4242, 1,
            new byte[] {1, 2, 3}));
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, engine.inbound(d, Packets.OFFSET, Packets.length(d), false,
            false, 1_000_000));
        assertEquals(client, Packets.destination(d));
    }
}

package io.passgate.alg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nfq.PacketHandler;
import io.passgate.pcap.Pcap;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.UdpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Public IPsec captures replayed through the NAT and the IPsec helper, the initiator on the LAN and the
 * responder on the WAN side: every packet of the initiator leaves from the WAN address with its IKE payload
 * untouched (NAT-D hashes stay true) and port 500 kept, and every packet of the responder comes back to the
 * initiator byte for byte as captured.
 */
class IpsecReplayTest
{
    private static final int WAN = Packets.ip("203.0.113.1");
    private CounterSet counters;
    private NatEngine engine;
    private IpsecHelper ipsec;

    @BeforeEach
    void setUp()
    {
        counters = new CounterSet();
        engine = new NatEngine(NatConfig.defaults(WAN, Packets.ip("10.254.0.1"), 2, 4096), counters, (b, o, l, d) -> { },
            100, 1_000_000);
        ipsec = new IpsecHelper(64);
        engine.register(ipsec);
    }

    private static Path capture(final String name) throws URISyntaxException
    {
        return Path.of(IpsecReplayTest.class.getResource("/captures/" + name).toURI());
    }

    /** Replays {@code file}; {@code client} is on the LAN. Returns {out, in} packet counts. */
    private int[] replay(final String file, final int client) throws Exception
    {
        final List<Pcap.Packet> packets = Pcap.read(capture(file));
        final Ipv4Header ip = new Ipv4Header();
        final UdpHeader udp = new UdpHeader();
        final Map<Integer, Integer> wanPortOf = new HashMap<>();
        int out = 0;
        int in = 0;
        for (final Pcap.Packet p : packets)
        {
            if (!p.isIpv4())
            {
                continue;
            }
            final int length = p.l3Length();
            final byte[] original = new byte[length];
            System.arraycopy(p.data(), p.l3Offset(), original, 0, length);
            final UnsafeBuffer b = new UnsafeBuffer(new byte[Packets.OFFSET + length + 16]);
            b.putBytes(Packets.OFFSET, original);
            assertTrue(ip.wrap(b, Packets.OFFSET, length), file + " packet " + p.index());
            final boolean isUdp = ip.protocol() == 17;
            // captured on the sending host, some checksums were left to offload: translation keeps a valid one valid
            final boolean validBefore = Packets.checksumsValid(b);
            if (ip.source() == client)
            {
                out++;
                assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED,
                    engine.outbound(b, Packets.OFFSET, length, false, false, 1_000_000), file + " packet " + p.index());
                assertEquals(WAN, Packets.source(b));
                assertEquals(validBefore, Packets.checksumsValid(b), file + " packet " + p.index());
                if (isUdp)
                {
                    final int sport = Packets.sourcePort(b);
                    wanPortOf.put(original[20] << 8 & 0xFF00 | original[21] & 0xFF, sport);
                    // the IKE/ESP payload is never changed
                    final byte[] after = Packets.bytes(b, Packets.OFFSET + 28, length - 28);
                    final byte[] before = new byte[length - 28];
                    System.arraycopy(original, 28, before, 0, length - 28);
                    assertArrayEquals(before, after, file + " packet " + p.index() + " payload untouched");
                }
            }
            else if (ip.destination() == client)
            {
                in++;
                // the responder's packet as it arrives at the WAN address
                ip.destination(WAN);
                if (isUdp)
                {
                    udp.wrap(b, ip.payloadOffset(), ip.payloadLength());
                    final int clientPort = udp.destinationPort();
                    udp.addressChanged(client, WAN, false).destinationPort(wanPortOf.getOrDefault(clientPort, clientPort), false);
                }
                assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED,
                    engine.inbound(b, Packets.OFFSET, length, false, false, 1_000_000), file + " packet " + p.index());
                assertArrayEquals(original, Packets.bytes(b, Packets.OFFSET, length),
                    file + " packet " + p.index() + " back to the initiator byte for byte");
            }
        }
        return new int[] {out, in};
    }

    @Test
    void ikev2WithAnIkeRekeyAtTheEnd() throws Exception
    {
        final int[] n = replay("ikev2four.pcap", Packets.ip("192.168.1.2"));
        assertEquals(11, n[0]);
        assertEquals(10, n[1]);
        assertTrue(counters.get(Counter.IPSEC_IKE_SPIS_LEARNT) >= 4, "the rekeyed IKE SA's SPIs learnt too");
        assertEquals(0, counters.get(Counter.DROP_IKE_UNKNOWN_SPI));
    }

    @Test
    void ikev1MainAndQuickMode() throws Exception
    {
        final int[] n = replay("ISAKMP_sa_setup.pcap", Packets.ip("10.0.0.1"));
        assertEquals(5, n[0]);
        assertEquals(4, n[1]);
        assertEquals(0, counters.get(Counter.DROP_IKE_MALFORMED));
    }

    @Test
    void ikev1FloatingToNatTWithEspInUdp() throws Exception
    {
        final int[] n = replay("isakmp4500.pcap", Packets.ip("192.1.2.254"));
        assertTrue(n[0] >= 6 && n[1] >= 4, n[0] + " out, " + n[1] + " in");
        assertEquals(1, ipsec.liveTunnels(), "one tunnel: IKE on 500, NAT-T on 4500");
    }

    @Test
    void espInUdpAndPlainEsp() throws Exception
    {
        assertEquals(8, replay("espudp1.pcap", Packets.ip("192.1.2.23"))[0]);
        setUp();
        assertEquals(8, replay("02-sunrise-sunset-esp.pcap", Packets.ip("192.1.2.23"))[0]);
        assertEquals(1, counters.get(Counter.IPSEC_ESP_SAS), "one SA (one SPI)");
        setUp();
        // ESP arriving at the WAN address when no client has IPsec state with its sender and nobody waits:
        // dropped and counted, never guessed
        int dropped = 0;
        final Ipv4Header ip = new Ipv4Header();
        for (final Pcap.Packet p : Pcap.read(capture("08-sunrise-sunset-esp2.pcap")))
        {
            final UnsafeBuffer b = new UnsafeBuffer(new byte[Packets.OFFSET + p.l3Length() + 16]);
            b.putBytes(Packets.OFFSET, p.data(), p.l3Offset(), p.l3Length());
            assertTrue(ip.wrap(b, Packets.OFFSET, p.l3Length()));
            ip.destination(WAN);
            if (engine.inbound(b, Packets.OFFSET, p.l3Length(), false, false, 1_000_000) == PacketHandler.VERDICT_DROP)
            {
                dropped++;
            }
        }
        assertEquals(8, dropped);
        assertEquals(8, counters.get(Counter.DROP_ESP_UNKNOWN_SPI));
    }
}

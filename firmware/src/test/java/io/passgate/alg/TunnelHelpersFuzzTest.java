package io.passgate.alg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;


import com.code_intelligence.jazzer.junit.FuzzTest;
import io.passgate.counters.CounterSet;
import io.passgate.fuzz.PacketChecks;
import io.passgate.nat.FlowTable;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nfq.PacketHandler;
import io.passgate.wire.Ipv4Header;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The IPsec (IKE on 500/4500, NAT-T, ESP) and L2TP (1701) helpers through the engine: the input is a
 * sequence of datagram payloads, each wrapped in a well-formed UDP packet (or, bit 5, an ESP packet whose
 * first 4 payload bytes are the SPI) between one of three LAN clients and one server. Record: control byte
 * (bit 0 inbound, bits 1-2 port 500/4500/1701/other, bits 3-4 client, bit 6 let 61 s pass), length byte,
 * payload.
 *
 * <p>Invariants: a rewritten packet verifies and kept its length; what leaves by the WAN has the WAN
 * address as source; a dropped packet made no session; the helpers' tunnel counts and the engine's tables
 * stay within their limits.
 */
class TunnelHelpersFuzzTest
{
    private static final int MAX_TUNNELS = 4;
    private static final int[] PORTS = {500, 4500, 1701, 4501};

    private final Ipv4Header ip = new Ipv4Header();

    @FuzzTest(maxDuration = "15s")
    void ikeAndL2tp(final byte[] data)
    {
        final int wan = Packets.ip("203.0.113.1");
        final int server = Packets.ip("198.51.100.10");
        final NatEngine engine = new NatEngine(NatConfig.defaults(wan, Packets.ip("10.0.0.1"), 2, 32), new CounterSet(),
            (b, o, l, d) -> { }, 100, 1_000_000);
        final IpsecHelper ipsec = new IpsecHelper(MAX_TUNNELS);
        final L2tpHelper l2tp = new L2tpHelper(MAX_TUNNELS, 11);
        engine.register(ipsec);
        engine.register(l2tp);
        long now = 1_000_000;
        int at = 0;
        while (at + 2 <= data.length)
        {
            final int control = data[at] & 0xFF;
            final int n = Math.min(data[at + 1] & 0xFF, data.length - at - 2);
            final byte[] payload = new byte[n];
            System.arraycopy(data, at + 2, payload, 0, n);
            at += 2 + n;
            if ((control & 64) != 0)
            {
                now += 61_000;
                engine.tick(now);
            }
            now++;
            final boolean inbound = (control & 1) != 0;
            final int port = PORTS[(control >>> 1) & 3];
            final int client = Packets.ip("10.0.0.11") + ((control >>> 3) & 3);
            final UnsafeBuffer p;
            if ((control & 32) != 0 && n >= 8)
            {
                p = Packets.other(inbound ? server : client, inbound ? wan : server, 50, n);
                p.putBytes(Packets.OFFSET + 20, payload);
            }
            else if (inbound)
            {
                final int f = engine.flows().findOutbound(17, client, port, server, port);
                p = Packets.udp(server, port, wan, f == FlowTable.NONE ? port : engine.flows().extPort(f), payload);
            }
            else
            {
                p = Packets.udp(client, port, server, port, payload);
            }
            final int length = Packets.length(p);
            final int flows = engine.flows().size();
            final int v = inbound ? engine.inbound(p, Packets.OFFSET, length, false, false, now)
                : engine.outbound(p, Packets.OFFSET, length, false, false, now);
            assertEquals(length, Packets.length(p), "length unchanged");
            if (v == PacketHandler.VERDICT_DROP)
            {
                assertTrue(engine.flows().size() <= flows, "a dropped packet made no session");
            }
            else
            {
                assertTrue(PacketChecks.checksumsValid(p, Packets.OFFSET, length), "checksums verify after translation");
                if (!inbound)
                {
                    assertTrue(ip.wrap(p, Packets.OFFSET, length));
                    assertEquals(wan, ip.source(), "what leaves by the WAN comes from the WAN address");
                }
            }
            assertTrue(ipsec.liveTunnels() <= MAX_TUNNELS && l2tp.liveTunnels() <= MAX_TUNNELS, "tunnels within limits");
            assertTrue(engine.flows().size() <= engine.flows().capacity(), "flows within capacity");
            assertTrue(engine.mappings().size() <= engine.mappings().capacity(), "mappings within capacity");
        }
    }
}

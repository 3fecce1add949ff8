package io.passgate.nat;

import static io.passgate.nat.NatHarness.A;
import static io.passgate.nat.NatHarness.S1;
import static io.passgate.nat.NatHarness.WAN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.passgate.counters.Counter;
import io.passgate.nfq.PacketHandler;
import io.passgate.testing.Allocations;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.TcpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * The translation path allocates nothing: a million packets each of TCP, UDP and ICMP, both ways, after
 * warm-up, and the thread's allocated-bytes counter (ThreadMXBean) does not move.
 */
class NatAllocationTest
{
    private static final int PACKETS = 1_000_000;

    private static long allocated()
    {
        return Allocations.currentThread();
    }

    @Test
    void millionsOfTranslatedPacketsAllocateNothing()
    {
        final NatHarness nat = new NatHarness(NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, 65536));
        final NatEngine engine = nat.engine;
        // live flows posted to a real ring (never drained here: it fills, and the full-ring path is measured too)
        engine.liveFlows(new io.passgate.nft.LiveFlowSet.Ring());
        final UnsafeBuffer tcp = Packets.tcp(A, 33000, S1, 443, TcpHeader.ACK, 0, 1200);
        final UnsafeBuffer udp = Packets.udp(A, 5000, S1, 53, 512);
        final UnsafeBuffer ping = Packets.icmpQuery(A, S1, IcmpHeader.ECHO_REQUEST, 99, 1);
        final byte[] tcpOrig = tcp.byteArray().clone();
        final byte[] udpOrig = udp.byteArray().clone();
        final byte[] pingOrig = ping.byteArray().clone();
        final UnsafeBuffer tcpIn = new UnsafeBuffer(new byte[tcp.capacity()]);
        final UnsafeBuffer udpIn = new UnsafeBuffer(new byte[udp.capacity()]);
        final UnsafeBuffer pingIn = new UnsafeBuffer(new byte[ping.capacity()]);

        // warm-up: JIT, first sessions, and background sessions expiring on the way (the timer paths)
        background(engine, nat.now, 1);
        run(engine, tcp, tcpOrig, udp, udpOrig, ping, pingOrig, 400_000, nat.now);
        nat.now += 400_000;
        // background sessions that expire during the measured run: lookups walk a populated table and the
        // expiry path runs while measured
        background(engine, nat.now, 2);
        buildReplies(engine, tcpIn, udpIn, pingIn);
        final byte[] t = tcpIn.byteArray().clone();
        final byte[] u = udpIn.byteArray().clone();
        final byte[] p = pingIn.byteArray().clone();
        runInbound(engine, tcpIn, t, udpIn, u, pingIn, p, 200_000, nat.now);   // warm the inbound path too
        final long before = allocated();
        final long out = run(engine, tcp, tcpOrig, udp, udpOrig, ping, pingOrig, PACKETS, nat.now);
        final long mid = allocated();
        final long translated = out + runInbound(engine, tcpIn, t, udpIn, u, pingIn, p, PACKETS, nat.now + 1_000_000);
        final long after = allocated();
        assertEquals(6L * PACKETS, translated, "every packet translated");
        assertTrue(nat.count(Counter.NAT_FLOWS_EXPIRED) >= 40_000, "background sessions expired meanwhile");
        assertEquals(0, mid - before, "bytes allocated over " + out + " outbound translated packets");
        assertEquals(0, after - mid, "bytes allocated over " + (translated - out) + " inbound translated packets");
    }

    private static void background(final NatEngine engine, final long now, final int net)
    {
        for (int i = 0; i < 20_000; i++)
        {
            final UnsafeBuffer p = Packets.udp(Packets.ip("10." + net + "." + (i >> 8) + "." + (i & 0xFF)), 7000, S1, 53, 4);
            engine.outbound(p, Packets.OFFSET, Packets.length(p), false, false, now);
        }
    }

    private static long run(final NatEngine engine, final UnsafeBuffer tcp, final byte[] tcpOrig, final UnsafeBuffer udp,
        final byte[] udpOrig, final UnsafeBuffer ping, final byte[] pingOrig, final int n, final long now)
    {
        long ok = 0;
        for (int i = 0; i < n; i++)
        {
            tcp.putBytes(0, tcpOrig);
            udp.putBytes(0, udpOrig);
            ping.putBytes(0, pingOrig);
            ok += engine.outbound(tcp, Packets.OFFSET, Packets.length(tcp), false, false, now + i)
                == PacketHandler.VERDICT_ACCEPT_MODIFIED ? 1 : 0;
            ok += engine.outbound(udp, Packets.OFFSET, Packets.length(udp), false, false, now + i)
                == PacketHandler.VERDICT_ACCEPT_MODIFIED ? 1 : 0;
            ok += engine.outbound(ping, Packets.OFFSET, Packets.length(ping), false, false, now + i)
                == PacketHandler.VERDICT_ACCEPT_MODIFIED ? 1 : 0;
            if ((i & 0x3F) == 0)
            {
                engine.tick(now + i);
            }
        }
        return ok;
    }

    private static void buildReplies(final NatEngine engine, final UnsafeBuffer tcpIn, final UnsafeBuffer udpIn,
        final UnsafeBuffer pingIn)
    {
        final FlowTable flows = engine.flows();
        final int tcpExt = flows.extPort(flows.findOutbound(Protocols.TCP, A, 33000, S1, 443));
        final int udpExt = flows.extPort(flows.findOutbound(Protocols.UDP, A, 5000, S1, 53));
        final int pingExt = flows.extPort(flows.findOutbound(Protocols.ICMP, A, 99, S1, 0));
        tcpIn.putBytes(0, Packets.tcp(S1, 443, WAN, tcpExt, TcpHeader.ACK, 0, 1200), 0, tcpIn.capacity());
        udpIn.putBytes(0, Packets.udp(S1, 53, WAN, udpExt, 512), 0, udpIn.capacity());
        pingIn.putBytes(0, Packets.icmpQuery(S1, WAN, IcmpHeader.ECHO_REPLY, pingExt, 1), 0, pingIn.capacity());
    }

    private static long runInbound(final NatEngine engine, final UnsafeBuffer tcpIn, final byte[] t,
        final UnsafeBuffer udpIn, final byte[] u, final UnsafeBuffer pingIn, final byte[] p, final int n, final long now)
    {
        long ok = 0;
        for (int i = 0; i < n; i++)
        {
            tcpIn.putBytes(0, t);
            udpIn.putBytes(0, u);
            pingIn.putBytes(0, p);
            ok += engine.inbound(tcpIn, Packets.OFFSET, Packets.length(tcpIn), false, false, now)
                == PacketHandler.VERDICT_ACCEPT_MODIFIED ? 1 : 0;
            ok += engine.inbound(udpIn, Packets.OFFSET, Packets.length(udpIn), false, false, now)
                == PacketHandler.VERDICT_ACCEPT_MODIFIED ? 1 : 0;
            ok += engine.inbound(pingIn, Packets.OFFSET, Packets.length(pingIn), false, false, now)
                == PacketHandler.VERDICT_ACCEPT_MODIFIED ? 1 : 0;
        }
        return ok;
    }
}

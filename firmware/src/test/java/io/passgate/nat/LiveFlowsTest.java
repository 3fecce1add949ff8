package io.passgate.nat;

import static io.passgate.nat.NatHarness.A;
import static io.passgate.nat.NatHarness.S1;
import static io.passgate.nat.NatHarness.WAN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import io.passgate.counters.Counter;
import io.passgate.nfq.PacketHandler;
import io.passgate.nft.LiveFlowSet;
import io.passgate.wire.IcmpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** Which flows the engine posts as live (for the kernel's live set and queue), when, and when it withdraws them. */
class LiveFlowsTest
{
    private record Post(boolean add, int protocol, int client, int clientPort, int server, int serverPort, int ext)
    {
    }

    private static final class Recorder implements LiveFlows
    {
        final List<Post> posts = new ArrayList<>();
        boolean full;

        @Override
        public boolean post(final boolean add, final int protocol, final int clientAddress, final int clientPort,
            final int serverAddress, final int serverPort, final int externalPort)
        {
            if (full)
            {
                return false;
            }
            posts.add(new Post(add, protocol, clientAddress, clientPort, serverAddress, serverPort, externalPort));
            return true;
        }
    }

    private static int reply(final NatHarness nat, final UnsafeBuffer out, final int protocol)
    {
        final int ext = Packets.sourcePort(out);
        final UnsafeBuffer in = protocol == Protocols.UDP ? Packets.udp(S1, 53, WAN, ext, 8)
            : Packets.tcp(S1, 443, WAN, ext, io.passgate.wire.TcpHeader.SYN | io.passgate.wire.TcpHeader.ACK, 0, 0);
        return nat.in(in);
    }

    @Test
    void aFlowIsLiveOnceItCarriedTrafficBothWaysAndIsPostedAgainWhileItLives()
    {
        final NatHarness nat = new NatHarness();
        final Recorder live = new Recorder();
        nat.engine.liveFlows(live);
        final UnsafeBuffer out = Packets.udp(A, 5000, S1, 53, 8);
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, nat.out(out));
        assertEquals(List.of(), live.posts, "one way only: not live (a flood's flows never are)");
        final int ext = Packets.sourcePort(out);
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, reply(nat, out, Protocols.UDP));
        assertEquals(List.of(new Post(true, Protocols.UDP, A, 5000, S1, 53, ext)), live.posts, "live after the reply");
        for (int i = 0; i < 5; i++)
        {
            nat.now += 1000;
            final UnsafeBuffer again = Packets.udp(A, 5000, S1, 53, 8);
            nat.out(again);
        }
        assertEquals(1, live.posts.size(), "not posted on every packet");
        nat.now += LiveFlows.REFRESH_MS;
        final UnsafeBuffer later = Packets.udp(A, 5000, S1, 53, 8);
        nat.out(later);
        assertEquals(2, live.posts.size(), "posted again after the refresh interval");
        assertTrue(live.posts.get(1).add());
        assertEquals(2, nat.counters.get(Counter.LIVE_FLOWS_POSTED));
        // the flow ends: withdrawn
        nat.now += 400_000;
        nat.engine.tick(nat.now);
        assertEquals(new Post(false, Protocols.UDP, A, 5000, S1, 53, ext), live.posts.get(live.posts.size() - 1));
    }

    @Test
    void onlyTcpUdpGreAndEspFlowsAreLiveAndANeverLiveFlowIsNotWithdrawn()
    {
        final NatHarness nat = new NatHarness();
        final Recorder live = new Recorder();
        nat.engine.liveFlows(live);
        final UnsafeBuffer ping = Packets.icmpQuery(A, S1, IcmpHeader.ECHO_REQUEST, 7, 1);
        nat.out(ping);
        final UnsafeBuffer pong = Packets.icmpQuery(S1, WAN, IcmpHeader.ECHO_REPLY, Packets.icmpId(ping), 1);
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, nat.in(pong));
        final UnsafeBuffer oneWay = Packets.udp(A, 6000, S1, 53, 8);
        nat.out(oneWay);
        nat.now += 400_000;
        nat.engine.tick(nat.now);
        assertEquals(List.of(), live.posts, "ICMP is not live; a one-way flow ends without a withdrawal");
    }

    @Test
    void aFullRingIsCountedAndTriedAgainSoon()
    {
        final NatHarness nat = new NatHarness();
        final Recorder live = new Recorder();
        live.full = true;
        nat.engine.liveFlows(live);
        final UnsafeBuffer out = Packets.tcp(A, 33000, S1, 443, io.passgate.wire.TcpHeader.SYN, 0, 0);
        nat.out(out);
        reply(nat, out, Protocols.TCP);
        assertEquals(1, nat.counters.get(Counter.LIVE_FLOWS_RING_FULL));
        live.full = false;
        nat.now += 200;
        final UnsafeBuffer ack = Packets.tcp(A, 33000, S1, 443, io.passgate.wire.TcpHeader.ACK, 1, 0);
        nat.out(ack);
        assertEquals(1, live.posts.size(), "posted on a packet after the retry delay");
        assertEquals(Protocols.TCP, live.posts.get(0).protocol());
    }

    @Test
    void theRingCarriesWhatWasPosted()
    {
        final LiveFlowSet.Ring ring = new LiveFlowSet.Ring();
        assertTrue(ring.post(true, Protocols.UDP, A, 5000, S1, 1194, 40000));
        assertTrue(ring.post(false, Protocols.GRE, A, 0, S1, 9, 10));
        final List<String> read = new ArrayList<>();
        ring.read((kind, b, at, length) -> read.add(kind + ":" + b.getInt(at) + "," + b.getInt(at + 8) + ","
            + b.getInt(at + 16) + "," + b.getInt(at + 20)), 10);
        assertEquals(List.of(LiveFlowSet.ADD + ":17,5000,1194,40000", LiveFlowSet.REMOVE + ":47,0,9,10"), read);
    }
}

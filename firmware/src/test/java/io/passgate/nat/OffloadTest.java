package io.passgate.nat;

import static io.passgate.nat.NatHarness.A;
import static io.passgate.nat.NatHarness.S1;
import static io.passgate.nat.NatHarness.WAN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

import io.passgate.counters.Counter;
import io.passgate.nfq.PacketHandler;
import io.passgate.wire.TcpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** Which sessions the engine hands to the kernel, when, and what the kernel's reports do to them. */
class OffloadTest
{
    private record Request(boolean offer, int flow, int protocol, int client, int clientPort, int server, int serverPort,
        int ext)
    {
    }

    /** The kernel side, by hand: records requests, delivers the reports a test queues. */
    private static final class FakeKernel implements Offload
    {
        final List<Request> requests = new ArrayList<>();
        final ArrayDeque<long[]> reports = new ArrayDeque<>();
        boolean full;
        boolean withdrawalsFull;

        @Override
        public boolean offer(final int flow, final int protocol, final int clientAddress, final int clientPort,
            final int serverAddress, final int serverPort, final int externalPort)
        {
            if (full)
            {
                return false;
            }
            requests.add(new Request(true, flow, protocol, clientAddress, clientPort, serverAddress, serverPort,
                externalPort));
            return true;
        }

        @Override
        public boolean withdraw(final int flow, final int protocol, final int clientAddress, final int clientPort,
            final int serverAddress, final int serverPort, final int externalPort)
        {
            if (withdrawalsFull)
            {
                return false;
            }
            requests.add(new Request(false, flow, protocol, clientAddress, clientPort, serverAddress, serverPort,
                externalPort));
            return true;
        }

        void report(final int kind, final Request r, final int tcpState, final long po, final long bo, final long pi,
            final long bi)
        {
            reports.add(new long[] {kind, r.flow, r.protocol, r.client, r.clientPort, r.server, r.serverPort, r.ext,
                tcpState, po, bo, pi, bi});
        }

        @Override
        public int poll(final Reports to, final int limit)
        {
            int n = 0;
            while (n < limit && !reports.isEmpty())
            {
                final long[] r = reports.poll();
                to.report((int)r[0], (int)r[1], (int)r[2], (int)r[3], (int)r[4], (int)r[5], (int)r[6], (int)r[7],
                    (int)r[8], r[9], r[10], r[11], r[12]);
                n++;
            }
            return n;
        }
    }

    private static FakeKernel kernel(final NatHarness nat)
    {
        final FakeKernel k = new FakeKernel();
        nat.engine.offload(k, 4);
        return k;
    }

    /** A UDP flow A:5000 -> S1:1194 with {@code rounds} packets each way; returns its external port. */
    private static int udpFlow(final NatHarness nat, final int rounds)
    {
        int ext = 0;
        for (int i = 0; i < rounds; i++)
        {
            final UnsafeBuffer out = Packets.udp(A, 5000, S1, 1194, 100);
            assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, nat.out(out));
            ext = Packets.sourcePort(out);
            assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, nat.in(Packets.udp(S1, 1194, WAN, ext, 100)));
        }
        return ext;
    }

    @Test
    void aSettledUdpFlowIsOfferedOnceWithPassgatesMapping()
    {
        final NatHarness nat = new NatHarness();
        final FakeKernel k = kernel(nat);
        final UnsafeBuffer first = Packets.udp(A, 5000, S1, 1194, 100);
        nat.out(first);
        assertEquals(List.of(), k.requests, "one way: not settled");
        final int ext = udpFlow(nat, 1);
        assertEquals(List.of(), k.requests, "3 packets: fewer than offload.after-packets (4)");
        udpFlow(nat, 3);
        assertEquals(1, k.requests.size(), k.requests.toString());
        final Request r = k.requests.get(0);
        assertTrue(r.offer);
        assertEquals(new Request(true, r.flow, Protocols.UDP, A, 5000, S1, 1194, ext), r, "passgate's own mapping");
        assertEquals(1, nat.counters.get(Counter.OFFLOAD_OFFERED));
    }

    @Test
    void tcpIsOfferedOnlyOnceEstablishedAndHelpersFlowsNever()
    {
        final NatHarness nat = NatHarness.withHelpers();
        final FakeKernel k = kernel(nat);
        final UnsafeBuffer syn = Packets.tcp(A, 33000, S1, 443, TcpHeader.SYN, 0, 0);
        nat.out(syn);
        final int ext = Packets.sourcePort(syn);
        nat.in(Packets.tcp(S1, 443, WAN, ext, TcpHeader.SYN | TcpHeader.ACK, 0, 1));
        nat.out(Packets.tcp(A, 33000, S1, 443, TcpHeader.ACK, 1, 1));
        nat.in(Packets.tcp(S1, 443, WAN, ext, TcpHeader.ACK, 1, 1));
        assertEquals(1, k.requests.size(), "established, 4 packets: offered");
        assertEquals(Protocols.TCP, k.requests.get(0).protocol);
        // PPTP control (a helper's): never, however long it lives
        final UnsafeBuffer pptp = Packets.tcp(A, 34000, S1, 1723, TcpHeader.SYN, 0, 0);
        nat.out(pptp);
        final int pext = Packets.sourcePort(pptp);
        nat.in(Packets.tcp(S1, 1723, WAN, pext, TcpHeader.SYN | TcpHeader.ACK, 0, 1));
        for (int i = 0; i < 5; i++)
        {
            nat.out(Packets.tcp(A, 34000, S1, 1723, TcpHeader.ACK, 1, 1));
            nat.in(Packets.tcp(S1, 1723, WAN, pext, TcpHeader.ACK, 1, 1));
        }
        assertEquals(1, k.requests.size(), "the PPTP helper needs every byte of its control connection");
    }

    /** A plain ESP packet with {@code spi} (sequence number {@code seq}, 32 bytes of payload). */
    private static UnsafeBuffer esp(final int src, final int dst, final int spi, final int seq)
    {
        final UnsafeBuffer b = Packets.other(src, dst, Protocols.ESP, 8 + 32);
        b.putInt(Packets.OFFSET + 20, spi, java.nio.ByteOrder.BIG_ENDIAN);
        b.putInt(Packets.OFFSET + 24, seq, java.nio.ByteOrder.BIG_ENDIAN);
        return b;
    }

    @Test
    void anEspSaIsOfferedOnlyOnceBoundBothWaysWithItsSpisAndIkeNever()
    {
        final NatHarness nat = NatHarness.withHelpers();
        final FakeKernel k = kernel(nat);
        // IKE on 500 both ways (the helper reads every message): never offered
        for (int i = 0; i < 6; i++)
        {
            final UnsafeBuffer ike = Packets.udp(A, 500, S1, 500, 100);
            nat.out(ike);
            nat.in(Packets.udp(S1, 500, WAN, Packets.sourcePort(ike), 100));
        }
        assertEquals(List.of(), k.requests, "IKE stays in passgate");
        // the client's ESP (outbound SPI 0x5001), many packets one way: not bound both ways yet
        for (int i = 1; i <= 6; i++)
        {
            assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, nat.out(esp(A, S1, 0x5001, i)));
        }
        assertEquals(List.of(), k.requests, "the inbound SPI is not known yet: not offered");
        // the server answers on its SPI 0x6001: bound; offered at the next packet with both SPIs
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, nat.in(esp(S1, WAN, 0x6001, 1)));
        nat.out(esp(A, S1, 0x5001, 7));
        assertEquals(1, k.requests.size(), k.requests.toString());
        final Request r = k.requests.get(0);
        assertEquals(new Request(true, r.flow, Protocols.ESP, A, 0, S1, 0x5001, 0x6001), r,
            "client, server, outbound SPI as the server's port, inbound SPI as the external port");
        // the kernel's map counters keep the SA's counters true, and switching ipsec off withdraws it
        k.report(Offload.TRAFFIC, r, -1, 500, 50_000, 400, 40_000);
        nat.engine.tick(nat.now);
        assertEquals(900, nat.counters.get(Counter.OFFLOAD_PACKETS));
        nat.engine.applyPassthrough(name -> !"ipsec".equals(name));
        assertEquals(2, k.requests.size());
        assertEquals(new Request(false, r.flow, Protocols.ESP, A, 0, S1, 0x5001, 0x6001), k.requests.get(1),
            "switched off: taken out of the kernel");
    }

    @Test
    void trafficReportsKeepCountersAndTheIdleTimerTrueAndAWithdrawalFollowsTheEnd()
    {
        final NatHarness nat = new NatHarness();
        final FakeKernel k = kernel(nat);
        udpFlow(nat, 2);
        final Request r = k.requests.get(0);
        final long created = nat.now;
        // the kernel carries it for 10 minutes (longer than the UDP timeout): traffic reports every minute
        for (int minute = 1; minute <= 10; minute++)
        {
            nat.now = created + minute * 60_000L;
            k.report(Offload.TRAFFIC, r, -1, 100, 10_000, 90, 9_000);
            nat.engine.tick(nat.now);
        }
        assertEquals(1, nat.engine.flows().size(), "the reports kept the session alive");
        assertEquals(1900, nat.counters.get(Counter.OFFLOAD_PACKETS));
        assertEquals(190_000, nat.counters.get(Counter.OFFLOAD_BYTES));
        // then silence: passgate's own timer ends it, and the kernel's entry is withdrawn
        nat.now += 400_000;
        nat.engine.tick(nat.now);
        assertEquals(0, nat.engine.flows().size());
        assertEquals(2, k.requests.size());
        assertEquals(new Request(false, r.flow, r.protocol, r.client, r.clientPort, r.server, r.serverPort, r.ext),
            k.requests.get(1));
    }

    @Test
    void anEntryTheKernelEndedIsHandedBackButAClosedTcpConnectionEnds()
    {
        final NatHarness nat = new NatHarness();
        final FakeKernel k = kernel(nat);
        final int ext = udpFlow(nat, 2);
        final Request udp = k.requests.get(0);
        k.report(Offload.ENDED, udp, -1, 5, 500, 5, 500);
        nat.engine.tick(nat.now);
        assertEquals(1, nat.counters.get(Counter.OFFLOAD_HANDED_BACK));
        assertEquals(1, nat.engine.flows().size(), "handed back: passgate carries it again");
        assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED, nat.in(Packets.udp(S1, 1194, WAN, ext, 100)));
        nat.out(Packets.udp(A, 5000, S1, 1194, 100));
        assertEquals(2, k.requests.size(), "and offered again once it carries traffic again");

        final UnsafeBuffer syn = Packets.tcp(A, 33000, S1, 443, TcpHeader.SYN, 0, 0);
        nat.out(syn);
        final int text = Packets.sourcePort(syn);
        nat.in(Packets.tcp(S1, 443, WAN, text, TcpHeader.SYN | TcpHeader.ACK, 0, 1));
        nat.out(Packets.tcp(A, 33000, S1, 443, TcpHeader.ACK, 1, 1));
        nat.in(Packets.tcp(S1, 443, WAN, text, TcpHeader.ACK, 1, 1));
        final Request tcp = k.requests.get(2);
        assertEquals(Protocols.TCP, tcp.protocol);
        k.report(Offload.ENDED, tcp, 7 /* TIME_WAIT */, 3, 120, 3, 120);
        nat.engine.tick(nat.now);
        assertEquals(1, nat.counters.get(Counter.OFFLOAD_ENDED));
        assertEquals(1, nat.engine.flows().size(), "the closed connection's session ended, the UDP flow's did not");
        assertEquals(3, k.requests.size(), "no withdrawal of what the kernel ended itself");
    }

    @Test
    void aRefusalKeepsTheFlowInPassgateForGoodAndStaleReportsAreIgnored()
    {
        final NatHarness nat = new NatHarness();
        final FakeKernel k = kernel(nat);
        udpFlow(nat, 2);
        final Request r = k.requests.get(0);
        k.report(Offload.REFUSED, r, -1, 0, 0, 0, 0);
        k.report(Offload.TRAFFIC, new Request(true, r.flow, r.protocol, r.client, r.clientPort + 1, r.server,
            r.serverPort, r.ext), -1, 100, 100, 100, 100);
        nat.engine.tick(nat.now);
        udpFlow(nat, 5);
        assertEquals(1, k.requests.stream().filter(Request::offer).count(), "refused: not offered again");
        assertEquals(0, nat.counters.get(Counter.OFFLOAD_PACKETS), "a report about another tuple counts nothing");
        assertEquals(List.of(new Request(false, r.flow, r.protocol, r.client, r.clientPort + 1, r.server, r.serverPort,
            r.ext)), k.requests.subList(1, k.requests.size()), "and is withdrawn: passgate carries no such session");
    }

    /**
     * A withdrawal lost to a full ring: the kernel goes on carrying a session passgate ended, and its next traffic
     * report withdraws it again (a session switched off, evicted or timed out never stays in the kernel).
     */
    @Test
    void aWithdrawalLostToAFullRingIsMadeAgainAtTheKernelsNextTrafficReport()
    {
        final NatHarness nat = new NatHarness();
        final FakeKernel k = kernel(nat);
        udpFlow(nat, 2);
        final Request r = k.requests.get(0);
        k.withdrawalsFull = true;
        nat.now += 400_000;   // idle past the UDP timeout: passgate ends it, the withdrawal finds the ring full
        nat.engine.tick(nat.now);
        assertEquals(0, nat.engine.flows().size());
        assertEquals(1, nat.counters.get(Counter.OFFLOAD_RING_FULL));
        assertEquals(1, k.requests.size(), "no withdrawal got through");

        // the kernel still carries it: its traffic report, with the ring still full, is counted and changes nothing
        k.report(Offload.TRAFFIC, r, -1, 10, 1_000, 10, 1_000);
        nat.engine.tick(nat.now);
        assertEquals(1, nat.counters.get(Counter.OFFLOAD_STRAYS));
        assertEquals(2, nat.counters.get(Counter.OFFLOAD_RING_FULL));
        assertEquals(1, k.requests.size());

        k.withdrawalsFull = false;
        k.report(Offload.TRAFFIC, r, -1, 10, 1_000, 10, 1_000);
        nat.engine.tick(nat.now);
        assertEquals(List.of(new Request(false, r.flow, r.protocol, r.client, r.clientPort, r.server, r.serverPort,
            r.ext)), k.requests.subList(1, k.requests.size()), "withdrawn again, with the tuple the kernel carries");
        assertEquals(2, nat.counters.get(Counter.OFFLOAD_STRAYS));
        assertEquals(0, nat.counters.get(Counter.OFFLOAD_PACKETS), "no session here counts that traffic");
        assertEquals(0, nat.engine.flows().size(), "and no session comes back");

        // the kernel's entry ending is no traffic: nothing more to withdraw
        k.report(Offload.ENDED, r, -1, 0, 0, 0, 0);
        nat.engine.tick(nat.now);
        assertEquals(2, k.requests.size());
    }

    @Test
    void aFullRingIsCountedAndTriedAgainOnALaterPacket()
    {
        final NatHarness nat = new NatHarness();
        final FakeKernel k = kernel(nat);
        k.full = true;
        udpFlow(nat, 2);
        assertTrue(nat.counters.get(Counter.OFFLOAD_RING_FULL) >= 1);
        k.full = false;
        udpFlow(nat, 1);
        assertEquals(1, k.requests.size());
    }

    @Test
    void aOneWayUdpStreamIsOfferedAfterEightTimesThePackets()
    {
        final NatHarness nat = new NatHarness();
        final FakeKernel k = kernel(nat);
        for (int i = 0; i < 4 * NatEngine.ONE_WAY_FACTOR - 1; i++)
        {
            nat.out(Packets.udp(A, 7000, S1, 5301, 64));
        }
        assertEquals(List.of(), k.requests, "one way, fewer than 8 x 4 packets");
        nat.out(Packets.udp(A, 7000, S1, 5301, 64));
        assertEquals(1, k.requests.size(), "a bulk one-way stream (video, iperf3 UDP) is settled too");
    }
}

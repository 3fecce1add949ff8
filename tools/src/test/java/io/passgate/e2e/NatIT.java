package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.passgate.counters.Counter;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.PacketSocket;
import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.Traffic;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.TcpHeader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The NAT through the real daemon in the lab: two LAN clients share the router's WAN address.
 */
@RequiresRoot
class NatIT
{
    private static final int MSS = 1300;
    private static Lab lab;
    private static PassgateProcess passgate;

    @BeforeAll
    static void up() throws Exception
    {
        lab = Lab.create(2);
        passgate = lab.startPassgate("--set", "nat.mss-clamp=" + MSS);
    }

    @AfterAll
    static void down()
    {
        if (lab != null)
        {
            lab.close();
        }
    }

    private static long c(final Counter counter)
    {
        return E2e.counter(passgate, counter);
    }

    /**
     * Review item 10: a port the router itself listens on (here a UDP socket opened after passgate started) is
     * never given to a mapping: a client from that port gets another, and its replies reach the client, not
     * the router's socket.
     */
    @Test
    void aPortTheRouterListensOnIsNeverMapped() throws Exception
    {
        try (DatagramSocket routerSocket = Lab.inNamespace(lab.router(), 5000, () -> new DatagramSocket(5353)))
        {
            assertTrue(E2e.eventually(5000, () -> passgate.log().contains("udp/5353")),
                "passgate notices the new listener: " + passgate.log());
            final Traffic.UdpResult r = Traffic.udpEcho(lab.client(1), 5353, lab.server(1), Lab.serverAddress(1), 7005, 3,
                50);
            assertEquals(3, r.echoed(), "the replies reach the client");
            assertNotEquals(5353, r.serverSawPort(), "not the router's port");
            routerSocket.setSoTimeout(300);
            assertThrows(SocketTimeoutException.class, () -> routerSocket.receive(new DatagramPacket(new byte[64], 64)),
                "nothing of the flow reached the router's own socket");
        }
    }

    /**
     * Review item 12: SCTP has its ports translated (two clients from the same port to one server, which Linux
     * allows and address-only NAT refused), with the CRC32c recomputed; each reply reaches its own client.
     * passgate's raw-socket peers speak it (this kernel has no SCTP module).
     */
    @Test
    void sctpFromTwoClientsWithTheSamePortToOneServer() throws Exception
    {
        final CompletableFuture<Boolean> ready = new CompletableFuture<>();
        final CompletableFuture<java.util.List<io.passgate.tools.peers.RawPeer.Seen>> server =
            io.passgate.tools.peers.RawPeer.echoServer(lab.server(1), 132, 2, 3000, ready);
        ready.get(10, TimeUnit.SECONDS);
        final io.passgate.tools.peers.RawPeer.Reply a = io.passgate.tools.peers.RawPeer.exchange(lab.client(1), 132, 2905,
            Lab.serverAddress(1), 2905, "from a".getBytes(), 3000);
        final io.passgate.tools.peers.RawPeer.Reply b = io.passgate.tools.peers.RawPeer.exchange(lab.client(2), 132, 2905,
            Lab.serverAddress(1), 2905, "from b".getBytes(), 3000);
        final java.util.List<io.passgate.tools.peers.RawPeer.Seen> seen = server.get(20, TimeUnit.SECONDS);
        assertEquals(2, seen.size(), "the server got both clients' packets: " + seen);
        for (final io.passgate.tools.peers.RawPeer.Seen s : seen)
        {
            assertEquals(Lab.ROUTER_WAN, s.source());
            assertTrue(s.crcValid(), "CRC32c valid at the server: " + s);
        }
        assertNotEquals(seen.get(0).sourcePort(), seen.get(1).sourcePort(), "two external ports");
        assertTrue(a.received() && b.received(), "both answered");
        assertEquals("from a", new String(a.payload()));
        assertEquals("from b", new String(b.payload()));
        assertEquals(2905, a.destinationPort());
        assertEquals(2905, b.destinationPort());
        assertTrue(a.crcValid() && b.crcValid(), "CRC32c valid at the clients");
    }

    @Test
    void twoClientsWithTheSameSourcePortGetDistinctWanPorts() throws Exception
    {
        final Traffic.UdpResult a = Traffic.udpEcho(lab.client(1), 41000, lab.server(1), Lab.serverAddress(1), 7001, 5, 100);
        final Traffic.UdpResult b = Traffic.udpEcho(lab.client(2), 41000, lab.server(1), Lab.serverAddress(1), 7001, 5, 100);
        assertEquals(5, a.echoed(), "replies reach the first client");
        assertEquals(5, b.echoed(), "replies reach the second client");
        assertEquals(Lab.ROUTER_WAN, a.serverSawAddress(), "the server sees the WAN address");
        assertEquals(Lab.ROUTER_WAN, b.serverSawAddress());
        assertEquals(41000, a.serverSawPort(), "port preserved for the first");
        assertNotEquals(a.serverSawPort(), b.serverSawPort(), "no port overloading");
    }

    @Test
    void oneClientToTwoServersKeepsOneMapping() throws Exception
    {
        final Traffic.UdpResult s1 = Traffic.udpEcho(lab.client(1), 42000, lab.server(1), Lab.serverAddress(1), 7002, 3, 64);
        final Traffic.UdpResult s2 = Traffic.udpEcho(lab.client(1), 42000, lab.server(2), Lab.serverAddress(2), 7002, 3, 64);
        assertEquals(3, s1.echoed());
        assertEquals(3, s2.echoed());
        assertEquals(s1.serverSawPort(), s2.serverSawPort(), "endpoint-independent mapping");
    }

    @Test
    void tcpTenMegabytesIntactAndTheServerSeesTheWanAddress() throws Exception
    {
        final long bytes = 12L * 1024 * 1024;
        final long before = c(Counter.OUT_TCP_PAYLOAD_BYTES) + c(Counter.IN_TCP_PAYLOAD_BYTES);
        final Traffic.TcpResult r = Traffic.tcpTransfer(lab.client(2), lab.server(2), Lab.serverAddress(2), 5002, bytes,
            60_000);
        assertEquals(bytes, r.bytes());
        assertTrue(r.intact(), "SHA-256 equal at both ends");
        assertEquals(Lab.ROUTER_WAN, r.serverSawAddress());
        assertTrue(E2e.eventually(2000, () -> c(Counter.OUT_TCP_PAYLOAD_BYTES) + c(Counter.IN_TCP_PAYLOAD_BYTES) - before
            >= bytes), "passgate translated all of it");
    }

    @Test
    void unsolicitedUdpIsDroppedAndCounted() throws Exception
    {
        // a reply passes (the echo above and here), an unsolicited datagram to a port nobody maps does not
        assertEquals(1, Traffic.udpEcho(lab.client(1), 43000, lab.server(1), Lab.serverAddress(1), 7003, 1, 32).echoed());
        final long dropped = c(Counter.DROP_NO_MAPPING);
        final CompletableFuture<Boolean> heard = Lab.inNamespaceAsync(lab.client(1), () ->
        {
            try (DatagramSocket s = new DatagramSocket(43001))
            {
                s.setSoTimeout(1500);
                s.receive(new DatagramPacket(new byte[64], 64));
                return true;
            }
            catch (final SocketTimeoutException e)
            {
                return false;
            }
        });
        Lab.inNamespace(lab.server(1), 5000, () ->
        {
            try (DatagramSocket s = new DatagramSocket())
            {
                for (final int port : new int[] {43001, 44444})
                {
                    s.send(new DatagramPacket(new byte[8], 8, InetAddress.getByName(Lab.ROUTER_WAN), port));
                }
            }
            return null;
        });
        assertFalse(heard.get(5, TimeUnit.SECONDS), "nothing reaches the LAN unsolicited");
        assertTrue(E2e.eventually(2000, () -> c(Counter.DROP_NO_MAPPING) >= dropped + 2));
    }

    /** RFC 4787 REQ-9: hairpin, the receiver sees the sender's external address and port. */
    @Test
    void hairpinBetweenLanClientsThroughTheWanAddress() throws Exception
    {
        // each learns its mapping from a server (as with STUN)
        final int extA = Traffic.udpEcho(lab.client(1), 45001, lab.server(1), Lab.serverAddress(1), 7004, 1, 16).serverSawPort();
        final int extB = Traffic.udpEcho(lab.client(2), 45002, lab.server(1), Lab.serverAddress(1), 7004, 1, 16).serverSawPort();
        final CompletableFuture<String> atB = Lab.inNamespaceAsync(lab.client(2), () ->
        {
            try (DatagramSocket s = new DatagramSocket(null))
            {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(45002));
                s.setSoTimeout(3000);
                // B sends first (opening its filter towards the WAN address), then waits for A
                s.send(new DatagramPacket(new byte[] {1}, 1, InetAddress.getByName(Lab.ROUTER_WAN), extA));
                final DatagramPacket p = new DatagramPacket(new byte[64], 64);
                s.receive(p);
                return p.getAddress().getHostAddress() + ":" + p.getPort() + ":" + new String(p.getData(), 0, p.getLength());
            }
        });
        Thread.sleep(300);
        Lab.inNamespace(lab.client(1), 5000, () ->
        {
            try (DatagramSocket s = new DatagramSocket(null))
            {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(45001));
                s.send(new DatagramPacket("hello".getBytes(), 5, InetAddress.getByName(Lab.ROUTER_WAN), extB));
            }
            return null;
        });
        assertEquals(Lab.ROUTER_WAN + ":" + extA + ":hello", atB.get(5, TimeUnit.SECONDS));
        assertTrue(E2e.eventually(2000, () -> c(Counter.NAT_HAIRPIN_PACKETS) >= 2), "turned around, then translated");
    }

    @Test
    void portUnreachableFromTheServerComesBackTranslated() throws Exception
    {
        final long before = c(Counter.NAT_ICMP_ERRORS_TRANSLATED);
        assertThrows(PortUnreachableException.class, () -> Lab.inNamespace(lab.client(1), 5000, () ->
        {
            try (DatagramChannel ch = DatagramChannel.open())
            {
                ch.connect(new InetSocketAddress(Lab.serverAddress(2), 9));   // nothing listens there
                ch.write(ByteBuffer.wrap(new byte[] {1}));
                Thread.sleep(500);
                ch.write(ByteBuffer.wrap(new byte[] {2}));   // reports the ICMP error of the first
                ch.receive(ByteBuffer.allocate(16));
                return null;
            }
        }));
        assertTrue(E2e.eventually(2000, () -> c(Counter.NAT_ICMP_ERRORS_TRANSLATED) > before));
        // traceroute: hop 1 the router itself, hop 2 the server's port unreachable, translated
        final Lab.Result trace = lab.exec(lab.client(1), "traceroute", "-n", "-q", "1", "-w", "1", "-m", "3",
            Lab.serverAddress(1));
        assertTrue(trace.output().contains(" 2  " + Lab.serverAddress(1)), trace.output());
    }

    @Test
    void theSynSeenAtTheServerCarriesTheClampedMss() throws Exception
    {
        final CompletableFuture<Integer> mss = Lab.inNamespaceAsync(lab.server(1), () ->
        {
            try (PacketSocket packets = PacketSocket.open("eth0"); NativeBuffer buf = NativeBuffer.allocate(65536))
            {
                final Ipv4Header ip = new Ipv4Header();
                final TcpHeader tcp = new TcpHeader();
                final long deadline = System.currentTimeMillis() + 8000;
                while (System.currentTimeMillis() < deadline)
                {
                    final long n = packets.receive(buf.address(), 65536, io.passgate.sys.Linux.MSG_DONTWAIT);
                    if (n <= 0)
                    {
                        Thread.sleep(5);
                        continue;
                    }
                    if (ip.wrap(buf.buffer(), 14, (int)n - 14) && ip.protocol() == 6
                        && tcp.wrap(buf.buffer(), ip.payloadOffset(), ip.payloadLength())
                        && tcp.destinationPort() == 5003 && tcp.syn() && !tcp.ack())
                    {
                        return tcp.mss();
                    }
                }
                return -1;
            }
        });
        Thread.sleep(200);
        final Traffic.TcpResult r = Traffic.tcpTransfer(lab.client(1), lab.server(1), Lab.serverAddress(1), 5003, 1000, 10_000);
        assertTrue(r.intact());
        assertEquals(MSS, mss.get(10, TimeUnit.SECONDS), "clamped from the client's 1460");
    }

    @Test
    void aUdpDatagramLargerThanTheMtuPassesTranslated() throws Exception
    {
        final Traffic.UdpResult r = Traffic.udpEcho(lab.client(2), 0, lab.server(2), Lab.serverAddress(2), 7005, 3, 4000);
        assertEquals(3, r.echoed(), "4000-byte datagrams (fragmented on the wire) both ways");
        assertEquals(Lab.ROUTER_WAN, r.serverSawAddress());
    }

    @Test
    void trafficToTheRouterItselfIsUntouched() throws Exception
    {
        final long before = E2e.settled(passgate, Counter.PACKETS_RECEIVED);
        assertEquals(3, E2e.ping(lab, lab.client(1), Lab.ROUTER_LAN, 3));
        // a service on the router's LAN address
        final CompletableFuture<Boolean> served = Lab.inNamespaceAsync(lab.router(), () ->
        {
            try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(Lab.ROUTER_LAN, 5353)))
            {
                s.setSoTimeout(3000);
                final DatagramPacket p = new DatagramPacket(new byte[64], 64);
                s.receive(p);
                s.send(new DatagramPacket(p.getData(), p.getLength(), p.getSocketAddress()));
                return p.getAddress().getHostAddress().equals(Lab.clientAddress(1));
            }
        });
        Thread.sleep(200);
        assertTrue(Traffic.udpProbe(lab.client(1), 0, Lab.ROUTER_LAN, 5353, 2000));
        assertTrue(served.get(5, TimeUnit.SECONDS), "the router sees the client's own address");
        assertEquals(before, E2e.settled(passgate, Counter.PACKETS_RECEIVED), "none of it went through the queue");
    }
}

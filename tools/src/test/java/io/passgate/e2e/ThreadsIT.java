package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.passgate.counters.Counter;
import io.passgate.counters.CountersFile;
import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.nat.Protocols;
import io.passgate.tools.peers.L2tpPeers;
import io.passgate.tools.peers.RawPeer;
import io.passgate.tools.peers.Traffic;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * threads = 2: a queue and a dataplane thread each; every packet reaches the shard that owns its session
 * (client 1, 10.77.0.11, belongs to queue 1; client 2, 10.77.0.12, to queue 0).
 */
@RequiresRoot
class ThreadsIT
{
    private static Lab lab;
    private static PassgateProcess pg;

    @BeforeAll
    static void up() throws Exception
    {
        lab = Lab.create(2);
        pg = lab.startPassgate("--set", "threads=2", "--set", "queue-base=4");
    }

    @AfterAll
    static void down()
    {
        if (lab != null)
        {
            lab.close();
        }
    }

    /** Review item 11: UDP 1701 is kept for L2TP with two threads (an odd port, the first shard's by rule). */
    @Test
    void l2tpKeepsItsPortWithTwoThreads() throws Exception
    {
        try (L2tpPeers.Server lns = Lab.inNamespace(lab.server(1), 10_000, () -> new L2tpPeers.Server(L2tpPeers.PORT));
            L2tpPeers.Client lac = Lab.inNamespace(lab.client(1), 10_000,
                () -> new L2tpPeers.Client(Lab.serverAddress(1), 33)))
        {
            assertTrue(lac.open(), "the tunnel opens");
            for (int i = 0; i < 5; i++)
            {
                assertEquals("echo " + i, lac.echo(Integer.toString(i), 3000));
            }
            assertEquals(Lab.ROUTER_WAN + ":1701", lns.opened().get(0).source(), "the LNS sees the client from 1701");
            for (final String source : lns.sources())
            {
                assertEquals(Lab.ROUTER_WAN + ":1701", source);
            }
        }
    }

    /** Review item 11: AH (no ports) passes both ways from a client of the second shard. */
    @Test
    void ahPassesBothWaysWithTwoThreads() throws Exception
    {
        final CompletableFuture<Boolean> ready = new CompletableFuture<>();
        final CompletableFuture<List<RawPeer.Seen>> server = RawPeer.echoServer(lab.server(2), Protocols.AH, 1, 3000, ready);
        ready.get(10, TimeUnit.SECONDS);
        final byte[] ah = new byte[24];
        ah[0] = 4;      // next header: IP in IP
        ah[1] = 4;      // payload length: (24 / 4) - 2
        ah[7] = 0x42;   // SPI
        ah[11] = 1;     // sequence number
        final RawPeer.Reply reply = RawPeer.exchange(lab.client(1), Protocols.AH, 0, Lab.serverAddress(2), 0, ah, 3000);
        final List<RawPeer.Seen> seen = server.get(20, TimeUnit.SECONDS);
        assertEquals(1, seen.size(), "the server got the AH packet");
        assertEquals(Lab.ROUTER_WAN, seen.get(0).source());
        assertTrue(reply.received(), "the server's AH reached the client");
        assertEquals(24, reply.payload().length);
    }

    /**
     * Review item 11: one UDP socket that talks to a helper port (the first shard's by rule) and to another
     * port (its client's shard) keeps one mapping: the same external port, whichever it used first.
     */
    @Test
    void oneSocketToAHelperPortAndAnotherPortKeepsOneMapping() throws Exception
    {
        final Traffic.UdpResult ikeFirst = Traffic.udpEcho(lab.client(1), 40500, lab.server(1), Lab.serverAddress(1), 500,
            3, 60);
        final Traffic.UdpResult other = Traffic.udpEcho(lab.client(1), 40500, lab.server(2), Lab.serverAddress(2), 5000,
            3, 60);
        assertEquals(3, ikeFirst.echoed());
        assertEquals(3, other.echoed());
        assertEquals(ikeFirst.serverSawPort(), other.serverSawPort(), "endpoint-independent across shards");
        final Traffic.UdpResult otherFirst = Traffic.udpEcho(lab.client(1), 40502, lab.server(2), Lab.serverAddress(2), 5001,
            3, 60);
        final Traffic.UdpResult ikeSecond = Traffic.udpEcho(lab.client(1), 40502, lab.server(1), Lab.serverAddress(1), 501,
            3, 60);
        final Traffic.UdpResult nattSecond = Traffic.udpEcho(lab.client(1), 40502, lab.server(1), Lab.serverAddress(1), 4500,
            3, 60);
        assertEquals(3, otherFirst.echoed());
        assertEquals(3, ikeSecond.echoed());
        assertEquals(3, nattSecond.echoed());
        assertEquals(otherFirst.serverSawPort(), nattSecond.serverSawPort(), "the helper port's packets went to the holder");
        assertTrue(E2e.eventually(2000, () -> E2e.counter(pg, Counter.REQUEUED) >= 3), "handed between shards");
    }

    @Test
    void twoShardsShareTheTrafficAndEachSessionStaysOnItsShard() throws Exception
    {
        {
            for (int c = 1; c <= 2; c++)
            {
                final Traffic.TcpResult tcp = Traffic.tcpTransfer(lab.client(c), lab.server(c), Lab.serverAddress(c),
                    5100 + c, 4L * 1024 * 1024, 30_000);
                assertTrue(tcp.intact());
                assertEquals(Lab.ROUTER_WAN, tcp.serverSawAddress());
                assertEquals(5, E2e.ping(lab, lab.client(c), Lab.serverAddress(1), 5), "ICMP queries (first queue)");
                final int client = c;
                assertThrows(PortUnreachableException.class, () -> Lab.inNamespace(lab.client(client), 5000, () ->
                {
                    try (DatagramChannel ch = DatagramChannel.open())
                    {
                        ch.connect(new InetSocketAddress(Lab.serverAddress(2), 9));
                        ch.write(ByteBuffer.wrap(new byte[] {1}));
                        Thread.sleep(400);
                        ch.write(ByteBuffer.wrap(new byte[] {2}));
                        ch.receive(ByteBuffer.allocate(16));
                        return null;
                    }
                }), "ICMP errors follow their session's shard");
            }
            final Traffic.UdpResult a = Traffic.udpEcho(lab.client(1), 46000, lab.server(1), Lab.serverAddress(1), 7100, 20, 100);
            final Traffic.UdpResult b = Traffic.udpEcho(lab.client(2), 46000, lab.server(1), Lab.serverAddress(1), 7100, 20, 100);
            assertEquals(20, a.echoed());
            assertEquals(20, b.echoed());
            assertNotEquals(a.serverSawPort(), b.serverSawPort());
            assertEquals(1, a.serverSawPort() & 1, "client 1's mapping from shard 1's ports");
            assertEquals(0, b.serverSawPort() & 1, "client 2's from shard 0's");
            Thread.sleep(300);
            try (CountersFile f = pg.counters())
            {
                assertEquals(3, f.shards(), "two dataplane rows and the control row");
                int index = -1;
                for (int i = 0; i < Counter.count(); i++)
                {
                    if (f.label(i).equals(Counter.MODIFIED.label()))
                    {
                        index = i;
                    }
                }
                assertTrue(f.value(0, index) > 100, "shard 0 translated " + f.value(0, index));
                assertTrue(f.value(1, index) > 100, "shard 1 translated " + f.value(1, index));
                assertEquals(0, f.total(Counter.DROP_NO_MAPPING), "nothing reached a shard that did not own it");
            }
            assertTrue(lab.exec(lab.router(), "iptables", "-t", "mangle", "-S").output().contains("--queue-num 5"));
        }
    }
}

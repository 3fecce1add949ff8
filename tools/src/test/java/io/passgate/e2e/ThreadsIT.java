package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;

import io.passgate.counters.Counter;
import io.passgate.counters.CountersFile;
import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.Traffic;
import org.junit.jupiter.api.Test;

/**
 * threads = 2: a queue and a dataplane thread each; every packet reaches the shard that owns its session
 * (client 1, 10.77.0.11, belongs to queue 1; client 2, 10.77.0.12, to queue 0).
 */
@RequiresRoot
class ThreadsIT
{
    @Test
    void twoShardsShareTheTrafficAndEachSessionStaysOnItsShard() throws Exception
    {
        try (Lab lab = Lab.create(2))
        {
            final PassgateProcess pg = lab.startPassgate("--set", "threads=2", "--set", "queue-base=4");
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

package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.passgate.counters.Counter;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.Traffic;
import io.passgate.testing.RequiresRoot;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The foundation: traffic from a LAN namespace to a WAN namespace passes through the Java NFQUEUE dataplane
 * (mode = forward: accepted unchanged, plain routing), and the daemon's counters equal what was sent.
 */
@RequiresRoot
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ForwardDataplaneIT
{
    private static Lab lab;
    private static PassgateProcess passgate;

    @BeforeAll
    static void up() throws Exception
    {
        lab = Lab.create(1);
        // plain routing: the servers reach the LAN through the router
        for (int s = 1; s <= 2; s++)
        {
            lab.must(lab.server(s), "ip", "route", "add", Lab.LAN_NET + ".0/24", "via", Lab.ROUTER_WAN);
        }
        passgate = lab.startPassgate("--set", "mode=forward");
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

    @Test
    @Order(1)
    void pingCountedExactly() throws Exception
    {
        final long out = c(Counter.OUT_ICMP_PACKETS);
        final long in = c(Counter.IN_ICMP_PACKETS);
        assertEquals(5, E2e.ping(lab, lab.client(1), Lab.serverAddress(1), 5));
        assertTrue(E2e.eventually(2000, () -> c(Counter.IN_ICMP_PACKETS) - in == 5));
        assertEquals(5, c(Counter.OUT_ICMP_PACKETS) - out, "echo requests through the queue");
        assertEquals(5, c(Counter.IN_ICMP_PACKETS) - in, "echo replies through the queue");
    }

    @Test
    @Order(2)
    void tcpTenMegabytesIntactAndCounted() throws Exception
    {
        final long before = c(Counter.OUT_TCP_PAYLOAD_BYTES);
        final long bytes = 10L * 1024 * 1024;
        final Traffic.TcpResult r = Traffic.tcpTransfer(lab.client(1), lab.server(1), Lab.serverAddress(1), 5001,
            bytes, 60_000);
        assertEquals(bytes, r.bytes());
        assertTrue(r.intact(), "SHA-256 equal at both ends");
        assertEquals(Lab.clientAddress(1), r.serverSawAddress(), "forward mode: no translation");
        assertTrue(E2e.eventually(2000, () -> c(Counter.OUT_TCP_PAYLOAD_BYTES) - before >= bytes));
        final long counted = c(Counter.OUT_TCP_PAYLOAD_BYTES) - before;
        // equal unless TCP retransmitted (it counts what crossed the queue)
        assertTrue(counted >= bytes && counted < bytes + bytes / 100, "TCP payload bytes counted: " + counted);
        assertTrue(c(Counter.GSO_PACKETS) > 0, "GSO super-packets arrive whole (NFQA_CFG_F_GSO)");
    }

    @Test
    @Order(3)
    void udpCountedExactly() throws Exception
    {
        final long out = c(Counter.OUT_UDP_PACKETS);
        final long outBytes = c(Counter.OUT_UDP_PAYLOAD_BYTES);
        final long in = c(Counter.IN_UDP_PACKETS);
        final Traffic.UdpResult r = Traffic.udpEcho(lab.client(1), 0, lab.server(2), Lab.serverAddress(2), 7000, 200, 300);
        assertEquals(200, r.echoed());
        assertTrue(E2e.eventually(2000, () -> c(Counter.IN_UDP_PACKETS) - in == 200));
        assertEquals(200, c(Counter.OUT_UDP_PACKETS) - out);
        assertEquals(200L * 300, c(Counter.OUT_UDP_PAYLOAD_BYTES) - outBytes);
        assertEquals(200, c(Counter.IN_UDP_PACKETS) - in);
        assertEquals(0, c(Counter.DROPPED));
        assertEquals(0, c(Counter.VERDICT_SEND_ERRORS));
        assertEquals(0, c(Counter.NETLINK_ERRORS));
        // the kernel's own view of the queue (read from /proc by the control thread)
        assertEquals(0, E2e.settled(passgate, Counter.QUEUE_DROPPED), "queue never full");
        assertEquals(0, c(Counter.QUEUE_USER_DROPPED), "the socket never overran");
    }

    @Test
    @Order(4)
    void sigtermRemovesTheRulesAndLeavesNothingRunning() throws Exception
    {
        assertEquals(0, passgate.stop(), "clean exit status");
        assertFalse(passgate.isAlive());
        assertFalse(lab.exec(lab.router(), "iptables", "-t", "mangle", "-S").output().contains("NFQUEUE"));
        assertFalse(lab.exec(lab.router(), "nft", "list", "tables").output().contains("passgate"),
            "forward mode leaves no fallback table");
        assertTrue(lab.exec(null, "ip", "netns", "pids", lab.router()).output().isBlank(), "no process left in the router");
        assertTrue(passgate.log().contains("rules removed"));
        // and traffic flows again without passgate
        assertEquals(3, E2e.ping(lab, lab.client(1), Lab.serverAddress(1), 3));
    }
}

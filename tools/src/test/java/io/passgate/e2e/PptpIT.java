package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.passgate.counters.Counter;
import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.PptpClient;
import io.passgate.tools.peers.PptpServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * PPTP passthrough through the daemon: passgate's PPTP test client and server (this kernel has no PPP), real
 * control connections and enhanced GRE between namespaces.
 */
@RequiresRoot
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PptpIT
{
    private static final int PACKETS = 40;
    private static Lab lab;
    private static PassgateProcess passgate;
    private static PptpServer server;

    @BeforeAll
    static void up() throws Exception
    {
        lab = Lab.create(3);
        passgate = lab.startPassgate();
        server = Lab.inNamespace(lab.server(1), 10_000, PptpServer::new);
    }

    @AfterAll
    static void down()
    {
        if (server != null)
        {
            server.close();
        }
        if (lab != null)
        {
            lab.close();
        }
    }

    /** One client's session: a call with {@code callId}, PACKETS echoed GRE payloads; returns what came back. */
    private static CompletableFuture<List<String>> session(final int client, final int callId, final boolean split,
        final boolean hold)
    {
        return Lab.inNamespaceAsync(lab.client(client), () ->
        {
            final List<String> received = new ArrayList<>();
            try (PptpClient c = new PptpClient(Lab.serverAddress(1)).splitMessages(split))
            {
                c.start();
                final int pac = c.call(callId);
                for (int i = 0; i < PACKETS; i++)
                {
                    c.sendGre(pac, ("client " + client + " call " + callId + " packet " + i).getBytes());
                    final byte[] back = c.receiveGre(callId, 2000);
                    if (back != null)
                    {
                        received.add(new String(back));
                    }
                }
                if (hold)
                {
                    Thread.sleep(1500);   // let the others run at the same time
                }
                c.clear(callId);
                c.stop();
            }
            return received;
        });
    }

    private static List<String> expected(final int client, final int callId)
    {
        final List<String> list = new ArrayList<>();
        for (int i = 0; i < PACKETS; i++)
        {
            list.add("client " + client + " call " + callId + " packet " + i);
        }
        return list;
    }

    @Test
    @Order(1)
    void threeClientsAllWithCallIdOneToOneServerAtOnce() throws Exception
    {
        final List<CompletableFuture<List<String>>> sessions = new ArrayList<>();
        for (int c = 1; c <= 3; c++)
        {
            sessions.add(session(c, 1, false, true));
        }
        // while all three calls are up, the server knows three distinct Call IDs for them
        assertTrue(E2e.eventually(10_000, () -> server.calls().size() == 3), "three calls at the server");
        final Set<Integer> seenByServer = new HashSet<>();
        server.calls().values().forEach(call -> seenByServer.add(call.peerCallId()));
        assertEquals(3, seenByServer.size(), "distinct Call IDs at the server: " + seenByServer);
        assertTrue(seenByServer.contains(1));
        server.calls().values().forEach(call -> assertEquals(Lab.ROUTER_WAN, call.peer()));
        assertTrue(E2e.eventually(3000, () -> E2e.counter(passgate, Counter.PPTP_CALLS_LIVE) == 3),
            "the tunnel table holds the three calls");
        for (int c = 1; c <= 3; c++)
        {
            assertEquals(expected(c, 1), sessions.get(c - 1).get(60, TimeUnit.SECONDS),
                "client " + c + " got its own payloads back, none crossed, none lost");
        }
        // torn down: calls and their GRE mappings freed
        assertTrue(E2e.eventually(3000, () -> E2e.counter(passgate, Counter.PPTP_CALLS_LIVE) == 0),
            "the tunnel table is empty after teardown");
        assertTrue(server.calls().isEmpty());
        assertEquals(0, server.unknownGre(), "no GRE reached the server for a call it did not know");
    }

    @Test
    @Order(2)
    void twoCallsOnOneControlConnection() throws Exception
    {
        final List<String> received = Lab.inNamespace(lab.client(1), 60_000, () ->
        {
            final List<String> got = new ArrayList<>();
            try (PptpClient c = new PptpClient(Lab.serverAddress(1)))
            {
                c.start();
                final int pac7 = c.call(7);
                final int pac8 = c.call(8);
                assertTrue(E2e.eventually(3000, () -> E2e.counter(passgate, Counter.PPTP_CALLS_LIVE) == 2));
                for (int i = 0; i < 10; i++)
                {
                    c.sendGre(pac7, ("seven " + i).getBytes());
                    c.sendGre(pac8, ("eight " + i).getBytes());
                    final byte[] a = c.receiveGre(7, 2000);
                    final byte[] b = c.receiveGre(8, 2000);
                    got.add(a == null ? "lost" : new String(a));
                    got.add(b == null ? "lost" : new String(b));
                }
                c.clear(7);
                assertTrue(E2e.eventually(3000, () -> E2e.counter(passgate, Counter.PPTP_CALLS_LIVE) == 1), "one left");
                c.clear(8);
                c.stop();
            }
            return got;
        });
        for (int i = 0; i < 10; i++)
        {
            assertEquals("seven " + i, received.get(2 * i));
            assertEquals("eight " + i, received.get(2 * i + 1));
        }
        assertTrue(E2e.eventually(3000, () -> E2e.counter(passgate, Counter.PPTP_CALLS_LIVE) == 0));
    }

    @Test
    @Order(3)
    void messagesSplitAcrossSegments() throws Exception
    {
        // a first client holds Call ID 5 so the second's 5 is translated, its fields split between segments
        final CompletableFuture<List<String>> holder = session(2, 5, false, true);
        assertTrue(E2e.eventually(10_000, () -> server.calls().size() == 1));
        final List<String> split = session(1, 5, true, false).get(60, TimeUnit.SECONDS);
        assertEquals(expected(1, 5), split);
        assertEquals(expected(2, 5), holder.get(60, TimeUnit.SECONDS));
        assertEquals(0, E2e.settled(passgate, Counter.PPTP_INVALID));
        assertTrue(E2e.counter(passgate, Counter.PPTP_CALL_IDS_TRANSLATED) > 0);
    }
}

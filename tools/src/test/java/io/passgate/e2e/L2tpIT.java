package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.passgate.counters.Counter;
import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.L2tpPeers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * L2TP through the real daemon: passgate's own LAC/LNS peers (three clients to one server that answers from
 * another port, two of them with the same Tunnel ID, under every filtering mode; the switch), and real xl2tpd
 * (two LACs to one LNS: tunnels and calls set up through the NAT; this kernel has no PPP, so each call's pppd
 * fails right after and the call is cleared with CDN, which the test sees pass too).
 */
@RequiresRoot
class L2tpIT
{
    private static final int ANSWER_PORT = 40000;
    private static Lab lab;
    private PassgateProcess passgate;
    private L2tpPeers.Server server;
    private final List<L2tpPeers.Client> clients = new ArrayList<>();
    private LeakSniffer sniffer;

    @BeforeAll
    static void up() throws Exception
    {
        lab = Lab.create(3);
    }

    @AfterAll
    static void down()
    {
        if (lab != null)
        {
            lab.close();
        }
    }

    @BeforeEach
    void reset() throws Exception
    {
        lab.resetState();
    }

    @AfterEach
    void stop() throws Exception
    {
        for (final L2tpPeers.Client c : clients)
        {
            c.close();
        }
        clients.clear();
        if (sniffer != null)
        {
            sniffer.close();
            sniffer = null;
        }
        if (server != null)
        {
            server.close();
            server = null;
        }
        if (passgate != null && passgate.isAlive())
        {
            assertEquals(0, passgate.stop());
        }
    }

    private L2tpPeers.Client client(final int c, final int tunnelId) throws Exception
    {
        final L2tpPeers.Client client = Lab.inNamespace(lab.client(c), 10_000,
            () -> new L2tpPeers.Client(Lab.serverAddress(1), tunnelId));
        clients.add(client);
        return client;
    }

    /** Opens the tunnel and sends {@code echoes} data messages (a HELLO halfway); the echoes that came back wrong. */
    private static CompletableFuture<List<String>> run(final L2tpPeers.Client client, final String name, final int echoes)
    {
        return CompletableFuture.supplyAsync(() ->
        {
            final List<String> wrong = new ArrayList<>();
            try
            {
                if (!client.open())
                {
                    return List.of(name + ": the tunnel did not open");
                }
                for (int i = 0; i < echoes; i++)
                {
                    if (i == echoes / 2 && !client.hello())
                    {
                        wrong.add(name + ": HELLO not acknowledged");
                    }
                    final String text = name + " packet " + i;
                    final String got = client.echo(text, 3000);
                    if (!("echo " + text).equals(got))
                    {
                        wrong.add(text + " -> " + got);
                    }
                }
            }
            catch (final Exception e)
            {
                wrong.add(name + ": " + e);
            }
            return wrong;
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"endpoint-independent", "address-dependent", "address-and-port-dependent"})
    void threeClientsKeep1701WithTheSameTunnelIdAndAServerAnsweringFromAnotherPort(final String filtering)
        throws Exception
    {
        passgate = lab.startPassgate("--set", "nat.filtering=" + filtering);
        server = Lab.inNamespace(lab.server(1), 10_000, () -> new L2tpPeers.Server(ANSWER_PORT));
        sniffer = new LeakSniffer(lab.server(1));
        final int[] ids = {5, 5, 9};   // clients 1 and 2 pick the same Tunnel ID
        final List<L2tpPeers.Client> peers = new ArrayList<>();
        final List<CompletableFuture<List<String>>> runs = new ArrayList<>();
        for (int c = 1; c <= 3; c++)
        {
            final L2tpPeers.Client client = client(c, ids[c - 1]);
            peers.add(client);
            runs.add(run(client, "client " + c, 20));
        }
        for (int c = 1; c <= 3; c++)
        {
            assertEquals(List.of(), runs.get(c - 1).get(120, TimeUnit.SECONDS), "client " + c + "'s echoes");
            assertEquals(ANSWER_PORT, peers.get(c - 1).serverPort(), "the tunnel moved to the server's answer port");
        }
        // the server saw three tunnels, every one from the WAN address and port 1701, with three distinct IDs
        final List<L2tpPeers.TunnelSeen> opened = server.opened();
        assertEquals(3, opened.size(), opened.toString());
        final Set<Integer> seenIds = new HashSet<>();
        for (final L2tpPeers.TunnelSeen t : opened)
        {
            assertEquals(Lab.ROUTER_WAN + ":1701", t.source(), "every client keeps 1701: " + opened);
            seenIds.add(t.clientTunnelId());
        }
        assertEquals(3, seenIds.size(), "the clashing Tunnel ID was translated: " + opened);
        assertTrue(seenIds.contains(5) && seenIds.contains(9), "the first of each ID kept it: " + opened);
        for (final String source : server.sources())
        {
            assertEquals(Lab.ROUTER_WAN + ":1701", source, "control and data from the WAN's 1701 only");
        }
        assertEquals(60, server.echoed(), "every data message reached the server once");
        assertEquals(0, server.unknown(), "no message reached the server with a Tunnel ID it did not assign");
        assertTrue(E2e.eventually(3000, () -> E2e.counter(passgate, Counter.L2TP_SERVER_PORT_MOVES) == 3),
            "three tunnels moved to port " + ANSWER_PORT);
        assertTrue(E2e.counter(passgate, Counter.L2TP_TUNNEL_IDS_TRANSLATED) >= 23,
            "the second client's SCCRQ, and each message to it: " + E2e.counter(passgate, Counter.L2TP_TUNNEL_IDS_TRANSLATED));
        assertTrue(E2e.eventually(3000, () -> E2e.counter(passgate, Counter.TUNNELS_L2TP) == 3), "three live tunnels");
        final String tunnels = Ctl.run(passgate, "tunnels").output();
        assertEquals(3, tunnels.lines().filter(l -> l.startsWith("l2tp")).count(), tunnels);
        for (final String row : tunnels.lines().filter(l -> l.startsWith("l2tp")).toList())
        {
            assertTrue(row.matches("l2tp\\s+10\\.77\\.0\\.1[123]\\s+1701\\s+" + Pattern.quote(Lab.serverAddress(1)) + "\\s+"
                + ANSWER_PORT + "\\s+" + Pattern.quote(Lab.ROUTER_WAN) + ":1701\\s.*") && row.contains("sessions=1")
                && row.contains("server-tunnel-id="), row);
        }
        for (final L2tpPeers.Client client : peers)
        {
            assertTrue(client.stop(), "StopCCN acknowledged");
        }
        assertTrue(E2e.eventually(3000, () -> server.stopped() == 3));
        assertTrue(E2e.eventually(3000, () -> E2e.counter(passgate, Counter.L2TP_STOPCCN) == 3));
        assertEquals(0, E2e.counter(passgate, Counter.DROP_L2TP_MALFORMED));
        assertEquals(0, E2e.counter(passgate, Counter.DROP_L2TP_UNKNOWN_TUNNEL));
        assertEquals(0, sniffer.leaks(), "no LAN address at the server (of " + sniffer.seen() + " packets)");
        assertTrue(sniffer.seen() >= 100, "the sniffer saw the tunnels: " + sniffer.seen());
    }

    @Test
    void switchingL2tpOffEndsTunnelsAndRefusesNewOnesOnAgainTheyOpen() throws Exception
    {
        passgate = lab.startPassgate();
        server = Lab.inNamespace(lab.server(1), 10_000, () -> new L2tpPeers.Server(L2tpPeers.PORT));
        final L2tpPeers.Client first = client(1, 77);
        assertEquals(List.of(), run(first, "first", 4).get(60, TimeUnit.SECONDS));
        assertEquals(0, Ctl.run(passgate, "disable", "l2tp").status());
        assertTrue(E2e.eventually(3000, () -> E2e.counter(passgate, Counter.L2TP_TUNNELS_SWITCHED_OFF) == 1));
        assertTrue(E2e.eventually(3000, () -> E2e.counter(passgate, Counter.TUNNELS_L2TP) == 0));
        assertEquals(null, first.echo("after off", 1500), "the live tunnel no longer passes");
        final L2tpPeers.Client second = client(2, 78);
        assertFalse(second.open(), "a new tunnel is refused");
        assertTrue(E2e.counter(passgate, Counter.PASSTHROUGH_REFUSED) >= 1);
        assertEquals(0, Ctl.run(passgate, "enable", "l2tp").status());
        final L2tpPeers.Client third = client(3, 79);
        assertEquals(List.of(), run(third, "third", 4).get(60, TimeUnit.SECONDS), "on again: a new tunnel opens");
        assertTrue(E2e.eventually(3000, () -> E2e.counter(passgate, Counter.TUNNELS_L2TP) == 1));
    }

    private static final Pattern ESTABLISHED = Pattern.compile(
        "Connection established to ([0-9.]+), (\\d+)\\.\\s+Local: (\\d+), Remote: (\\d+)");

    /** Real xl2tpd: two LACs (clients 1 and 2) to one LNS at once, both from 1701; tunnels and calls set up. */
    @Test
    void twoXl2tpdClientsToOneXl2tpdServer() throws Exception
    {
        passgate = lab.startPassgate();
        final Path dir = Files.createDirectories(lab.workDir().resolve("xl2tpd-" + System.nanoTime()));
        Files.writeString(dir.resolve("ppp.opts"), "noauth\n");
        Files.writeString(dir.resolve("lns.conf"), """
            [global]
            listen-addr = %s
            port = 1701
            [lns default]
            ip range = 10.200.0.2-10.200.0.20
            local ip = 10.200.0.1
            require authentication = no
            refuse pap = yes
            refuse chap = yes
            length bit = yes
            pppoptfile = %s
            """.formatted(Lab.serverAddress(1), dir.resolve("ppp.opts")));
        final Process lns = lab.spawn(lab.server(1), dir.resolve("lns.log"), "xl2tpd", "-D", "-c",
            dir.resolve("lns.conf").toString(), "-p", dir.resolve("lns.pid").toString(), "-C",
            dir.resolve("lns.ctl").toString());
        assertTrue(E2e.eventually(10_000, () -> log(dir.resolve("lns.log")).contains("Listening on IP address")),
            log(dir.resolve("lns.log")));
        final List<Process> lacs = new ArrayList<>();
        for (int c = 1; c <= 2; c++)
        {
            Files.writeString(dir.resolve("lac" + c + ".conf"), """
                [global]
                port = 1701
                [lac server]
                lns = %s
                autodial = yes
                redial = no
                length bit = yes
                require authentication = no
                pppoptfile = %s
                """.formatted(Lab.serverAddress(1), dir.resolve("ppp.opts")));
            lacs.add(lab.spawn(lab.client(c), dir.resolve("lac" + c + ".log"), "xl2tpd", "-D", "-c",
                dir.resolve("lac" + c + ".conf").toString(), "-p", dir.resolve("lac" + c + ".pid").toString(),
                "-C", dir.resolve("lac" + c + ".ctl").toString()));
        }
        try
        {
            for (int c = 1; c <= 2; c++)
            {
                final Path log = dir.resolve("lac" + c + ".log");
                assertTrue(E2e.eventually(20_000, () -> log(log).contains("Call established with")),
                    "client " + c + "'s xl2tpd set up its tunnel and call:\n" + log(log));
            }
            final String lnsLog = log(dir.resolve("lns.log"));
            final Matcher m = ESTABLISHED.matcher(lnsLog);
            final Set<String> remotes = new HashSet<>();
            int established = 0;
            while (m.find())
            {
                established++;
                assertEquals(Lab.ROUTER_WAN, m.group(1), "the LNS sees the WAN address: " + lnsLog);
                assertEquals("1701", m.group(2), "and port 1701 for every client: " + lnsLog);
                remotes.add(m.group(4));
            }
            assertEquals(2, established, lnsLog);
            assertEquals(2, remotes.size(), "two tunnels told apart by Tunnel ID: " + lnsLog);
            assertTrue(lnsLog.split("Call established with", -1).length - 1 == 2, lnsLog);
            // each call's pppd fails here (no PPP in this kernel): the CDN that clears it passes as well
            assertTrue(E2e.eventually(15_000, () -> E2e.counter(passgate, Counter.L2TP_CDN) >= 2),
                "calls cleared with CDN: " + E2e.counter(passgate, Counter.L2TP_CDN));
            final String tunnels = Ctl.run(passgate, "tunnels").output();
            assertEquals(2, tunnels.lines().filter(l -> l.startsWith("l2tp")).count(), tunnels);
            assertEquals(0, E2e.counter(passgate, Counter.DROP_L2TP_MALFORMED));
            assertEquals(0, E2e.counter(passgate, Counter.DROP_L2TP_UNKNOWN_MANDATORY));
            assertEquals(0, E2e.counter(passgate, Counter.DROP_L2TP_UNKNOWN_TUNNEL));
        }
        finally
        {
            for (final Process p : lacs)
            {
                Lab.stop(p);
            }
            Lab.stop(lns);
        }
    }

    private static String log(final Path file)
    {
        try
        {
            return Files.exists(file) ? Files.readString(file) : "";
        }
        catch (final java.io.IOException e)
        {
            return e.toString();
        }
    }
}

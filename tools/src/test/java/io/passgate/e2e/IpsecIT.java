package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.passgate.counters.Counter;
import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.IpsecPeers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * IPsec through the real daemon with passgate's own IKE/ESP peers (this kernel has no ESP): three clients to
 * one server at once, all keeping UDP 500, each with its own plain ESP both ways and a rekey halfway; a client
 * starting while another waits; manually keyed ESP from two clients. The topology is shared; each test starts
 * its own daemon and server.
 */
@RequiresRoot
class IpsecIT
{
    private static Lab lab;
    private PassgateProcess passgate;
    private IpsecPeers.Server server;

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
    void start() throws Exception
    {
        lab.resetState();
        passgate = lab.startPassgate();
    }

    @AfterEach
    void stop() throws Exception
    {
        if (server != null)
        {
            server.close();
        }
        if (passgate != null && passgate.isAlive())
        {
            assertEquals(0, passgate.stop());
        }
    }

    private void server(final boolean speaksFirst) throws Exception
    {
        server = Lab.inNamespace(lab.server(1), 10_000, () -> new IpsecPeers.Server(speaksFirst));
    }

    /** One client's run: IKE, echoes, a rekey, echoes; returns the echoes that came back wrong or not at all. */
    private CompletableFuture<List<String>> client(final int c, final int echoes)
    {
        return Lab.inNamespaceAsync(lab.client(c), () ->
        {
            final List<String> wrong = new ArrayList<>();
            try (IpsecPeers.Client client = new IpsecPeers.Client(Lab.serverAddress(1)))
            {
                client.initiate();
                for (int i = 0; i < echoes * 2; i++)
                {
                    if (i == echoes)
                    {
                        client.rekey();   // new SPIs under the live tunnel
                    }
                    final String text = "client " + c + " packet " + i;
                    final String got = client.echo(text, 3000);
                    final String expected = Integer.toHexString(client.clientSpi()) + " echo " + text;
                    if (!expected.equals(got))
                    {
                        wrong.add(text + " -> " + got);
                    }
                }
            }
            return wrong;
        });
    }

    @Test
    void threeClientsToOneServerKeepPort500AndGetOnlyTheirOwnEsp() throws Exception
    {
        server(false);
        final List<CompletableFuture<List<String>>> runs = new ArrayList<>();
        for (int c = 1; c <= 3; c++)
        {
            runs.add(client(c, 10));
        }
        for (int c = 1; c <= 3; c++)
        {
            assertEquals(List.of(), runs.get(c - 1).get(120, TimeUnit.SECONDS), "client " + c + "'s echoes");
        }
        for (final String source : server.ikeSources())
        {
            assertEquals(Lab.ROUTER_WAN + ":500", source, "every client's IKE from the WAN address, port 500");
        }
        assertTrue(server.ikeSources().size() >= 9, "three clients' exchanges: " + server.ikeSources().size());
        for (final IpsecPeers.EspSeen seen : server.espSeen())
        {
            assertEquals(Lab.ROUTER_WAN, seen.source());
        }
        assertEquals(60, server.echoed(), "every ESP packet reached the server once");
        assertTrue(E2e.eventually(2000, () -> E2e.counter(passgate, Counter.IPSEC_ESP_BOUND) >= 6),
            "six inbound SPIs bound (three clients, a rekey each)");
        assertEquals(0, E2e.settled(passgate, Counter.DROP_ESP_UNKNOWN_SPI));
        final String tunnels = Ctl.run(passgate, "tunnels").output();
        assertTrue(tunnels.contains("ipsec") && tunnels.contains("ike-initiator-spi="), tunnels);
        assertEquals(3, tunnels.lines().filter(l -> l.startsWith("ipsec")).count(), tunnels);
    }

    /**
     * The server speaks first on each new SA: a client whose IKE_AUTH comes while another client waits for its
     * server's first ESP is held, then sent on; each greeting reaches its own client.
     */
    @Test
    void aClientStartingWhileAnotherWaitsIsServedInTurn() throws Exception
    {
        server(true);
        final List<CompletableFuture<String>> greetings = new ArrayList<>();
        for (int c = 1; c <= 3; c++)
        {
            final int client = c;
            greetings.add(Lab.inNamespaceAsync(lab.client(c), () ->
            {
                try (IpsecPeers.Client peer = new IpsecPeers.Client(Lab.serverAddress(1)))
                {
                    peer.initiate();
                    final String hello = peer.receive(8000);
                    final String expected = Integer.toHexString(peer.clientSpi()) + " hello "
                        + Integer.toHexString(peer.serverSpi());
                    final String echo = peer.echo("after hello " + client, 3000);
                    return expected.equals(hello) && echo != null && echo.endsWith("echo after hello " + client)
                        ? "ok" : "client " + client + ": hello " + hello + " (expected " + expected + "), echo " + echo;
                }
            }));
        }
        for (final CompletableFuture<String> g : greetings)
        {
            assertEquals("ok", g.get(120, TimeUnit.SECONDS));
        }
        assertTrue(E2e.eventually(2000, () -> E2e.counter(passgate, Counter.IPSEC_ESP_BOUND) >= 3));
        assertEquals(0, E2e.settled(passgate, Counter.DROP_ESP_UNKNOWN_SPI), "nothing guessed, nothing lost");
    }

    /** Manually keyed SAs, no IKE at all: two clients' ESP to one server at once, each echoed to itself. */
    @Test
    void manuallyKeyedEspFromTwoClients() throws Exception
    {
        server(false);
        server.manual(0x5001, 0x6001, Lab.ROUTER_WAN);
        server.manual(0x5002, 0x6002, Lab.ROUTER_WAN);
        final List<CompletableFuture<List<String>>> runs = new ArrayList<>();
        for (int c = 1; c <= 2; c++)
        {
            final int client = c;
            runs.add(Lab.inNamespaceAsync(lab.client(c), () ->
            {
                final List<String> wrong = new ArrayList<>();
                try (IpsecPeers.Client peer = new IpsecPeers.Client(Lab.serverAddress(1)))
                {
                    peer.manual(0x6000 + client, 0x5000 + client);
                    for (int i = 0; i < 15; i++)
                    {
                        final String text = "manual " + client + " " + i;
                        final String got = peer.echo(text, 4000);
                        if (!(Integer.toHexString(0x6000 + client) + " echo " + text).equals(got))
                        {
                            wrong.add(text + " -> " + got);
                        }
                    }
                }
                return wrong;
            }));
        }
        // the first packets of the second client may be held for the first's turn: they still arrive
        for (int c = 1; c <= 2; c++)
        {
            final List<String> wrong = runs.get(c - 1).get(60, TimeUnit.SECONDS);
            assertTrue(wrong.isEmpty(), "client " + c + ": " + wrong);
        }
    }
}

package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.passgate.counters.Counter;
import io.passgate.sys.IpProtocolSocket;
import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.Poller;
import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.PptpClient;
import io.passgate.tools.peers.PptpServer;
import io.passgate.wire.GreHeader;
import io.passgate.wire.Ipv4Header;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The passthrough switches and the control plane through the daemon and passgatectl: refusal at once when
 * off, teardown of live tunnels, OpenVPN with every switch off, switch state across restarts, the CLI's
 * errors, metrics. The topology is shared; each test starts its own daemon from an empty state directory
 * (all switches on) and its own peers, so every test stands alone in any order.
 */
@RequiresRoot
class ControlPlaneIT
{
    private static Lab lab;
    private PassgateProcess passgate;
    private PptpServer server;

    @BeforeAll
    static void up() throws Exception
    {
        lab = Lab.create(2);
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
        passgate = lab.startPassgate("--set", "metrics.listen=127.0.0.1:9464");
        server = Lab.inNamespace(lab.server(1), 10_000, PptpServer::new);
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
            assertEquals(0, passgate.stop(), "a clean stop");
        }
    }

    private Lab.Result ctl(final String... args) throws IOException
    {
        return Ctl.run(passgate, args);
    }

    /** Runs a PPTP call from client 1 and echoes {@code packets} GRE payloads; returns how many came back. */
    private int pptpCall(final int packets) throws Exception
    {
        return Lab.inNamespace(lab.client(1), 30_000, () ->
        {
            try (PptpClient c = new PptpClient(Lab.serverAddress(1)))
            {
                c.start();
                final int pac = c.call(1);
                int back = 0;
                for (int i = 0; i < packets; i++)
                {
                    c.sendGre(pac, ("p" + i).getBytes());
                    if (c.receiveGre(1, 1000) != null)
                    {
                        back++;
                    }
                }
                c.clear(1);
                c.stop();
                return back;
            }
        });
    }

    @Test
    void statusAndHelp() throws Exception
    {
        final Lab.Result status = ctl("status");
        assertEquals(0, status.status(), status.output());
        assertTrue(status.output().contains("dataplane running"), status.output());
        assertTrue(status.output().contains("passthrough: all on | pptp on"), status.output());
        assertTrue(status.output().contains("errors: none"), status.output());
        final Lab.Result json = ctl("--json", "status");
        assertTrue(json.output().startsWith("{\"ok\":true,\"status\":{"), json.output());
        assertEquals(0, ctl("--help").status());
        final Lab.Result enableHelp = ctl("enable", "--help");
        assertTrue(enableHelp.output().contains("pptp: TCP 1723 and enhanced GRE"), enableHelp.output());
        final Lab.Result bad = ctl("enable", "ftp");
        assertEquals(2, bad.status(), "usage error");
        assertEquals(2, ctl("frobnicate").status());
    }

    @Test
    void pptpOffRefusesAtOnceAndOnLetsTheSameClientThrough() throws Exception
    {
        assertEquals(0, ctl("disable", "pptp").status());
        // the control connection is refused with a reset, well within a second
        final long start = System.nanoTime();
        final Exception refused = Lab.inNamespace(lab.client(1), 10_000, () ->
        {
            try (PptpClient c = new PptpClient(Lab.serverAddress(1)))
            {
                return null;
            }
            catch (final ConnectException e)
            {
                return e;
            }
        });
        final long ms = (System.nanoTime() - start) / 1_000_000;
        assertNotNull(refused, "connect refused");
        assertTrue(refused.getMessage().contains("refused"), refused.getMessage());
        assertTrue(ms < 1000, "refused in " + ms + " ms");

        // a GRE packet gets ICMP destination unreachable, administratively prohibited, from the router
        final int[] icmp = Lab.inNamespace(lab.client(1), 10_000, () ->
        {
            try (IpProtocolSocket gre = IpProtocolSocket.open(Linux.IPPROTO_GRE);
                IpProtocolSocket icmpSocket = IpProtocolSocket.open(Linux.IPPROTO_ICMP);
                NativeBuffer buf = NativeBuffer.allocate(4096); Poller poller = new Poller(1))
            {
                final int h = GreHeader.writePptp(buf.buffer(), 0, 4, 100, 0, -1);
                gre.send(buf.address(), h + 4, Ipv4Header.parse(Lab.serverAddress(1)));
                poller.add(icmpSocket.fd(), Linux.POLLIN);
                final long deadline = System.currentTimeMillis() + 2000;
                final Ipv4Header ip = new Ipv4Header();
                while (System.currentTimeMillis() < deadline)
                {
                    if (poller.poll(200) <= 0)
                    {
                        continue;
                    }
                    final long n = icmpSocket.receive(buf.address() + 1024, 2048, Linux.MSG_DONTWAIT);
                    final UnsafeBuffer b = buf.buffer();
                    if (n > 28 && ip.wrap(b, 1024, (int)n))
                    {
                        return new int[] {b.getByte(ip.payloadOffset()) & 0xFF, b.getByte(ip.payloadOffset() + 1) & 0xFF,
                            ip.source()};
                    }
                }
                return new int[] {-1, -1, 0};
            }
        });
        assertEquals(3, icmp[0], "destination unreachable");
        assertEquals(13, icmp[1], "administratively prohibited");
        assertEquals(Ipv4Header.parse(Lab.ROUTER_LAN), icmp[2]);
        assertTrue(E2e.eventually(2000, () -> E2e.counter(passgate, Counter.PASSTHROUGH_REFUSED) >= 2));

        // on again: the same client gets through at once
        assertEquals(0, ctl("enable", "pptp").status());
        assertEquals(10, pptpCall(10));
    }

    @Test
    void pptpOffMidCallStopsTheTunnelWithinASecond() throws Exception
    {
        final CompletableFuture<long[]> call = Lab.inNamespaceAsync(lab.client(1), () ->
        {
            try (PptpClient c = new PptpClient(Lab.serverAddress(1)))
            {
                c.start();
                final int pac = c.call(1);
                long lastEcho = 0;
                long echoes = 0;
                final long end = System.currentTimeMillis() + 4000;
                while (System.currentTimeMillis() < end)
                {
                    c.sendGre(pac, "tick".getBytes());
                    if (c.receiveGre(1, 100) != null)
                    {
                        lastEcho = System.currentTimeMillis();
                        echoes++;
                    }
                }
                return new long[] {lastEcho, echoes};
            }
        });
        assertTrue(E2e.eventually(3000, () -> E2e.counter(passgate, Counter.PPTP_CALLS_LIVE) == 1), "call up");
        final Lab.Result tunnels = ctl("tunnels");
        assertTrue(tunnels.output().contains("pptp-call") && tunnels.output().contains("pptp-control"), tunnels.output());
        Thread.sleep(500);
        final long off = System.currentTimeMillis();
        assertEquals(0, ctl("disable", "pptp").status());
        final long[] r = call.get(20, TimeUnit.SECONDS);
        assertTrue(r[1] > 3, "echoes before the switch: " + r[1]);
        assertTrue(r[0] - off < 1000, "last echo " + (r[0] - off) + " ms after switching off");
        assertTrue(E2e.eventually(1000, () -> E2e.counter(passgate, Counter.PPTP_CALLS_LIVE) == 0));
        assertEquals("no VPN tunnels", ctl("tunnels").output().strip());
        assertTrue(E2e.counter(passgate, Counter.PPTP_RESETS_SENT) >= 1, "the control connection was reset");
    }

    @Test
    void openVpnPassesWithEverySwitchOff() throws Exception
    {
        for (final String p : new String[] {"pptp", "ipsec", "natt", "l2tp", "all"})
        {
            assertEquals(0, ctl("disable", p).status());
        }
        assertTrue(ctl("status").output().contains("passthrough: all off"));
        final Path key = lab.workDir().resolve("ovpn.key");
        final Path serverLog = lab.workDir().resolve("ovpn-server-" + System.nanoTime() + ".log");
        final Path clientLog = lab.workDir().resolve("ovpn-client-" + System.nanoTime() + ".log");
        lab.must(null, "openvpn", "--genkey", "secret", key.toString());
        final Process ovpnServer = lab.spawn(lab.server(2), serverLog, "openvpn", "--dev", "tun", "--ifconfig",
            "10.99.0.1", "10.99.0.2", "--secret", key.toString(), "--proto", "udp", "--port", "1194", "--cipher",
            "AES-256-CBC", "--ping", "1", "--verb", "3");
        final Process ovpnClient = lab.spawn(lab.client(2), clientLog, "openvpn", "--dev", "tun", "--ifconfig",
            "10.99.0.2", "10.99.0.1", "--secret", key.toString(), "--proto", "udp", "--remote", Lab.serverAddress(2),
            "--port", "1194", "--cipher", "AES-256-CBC", "--ping", "1", "--verb", "3");
        try
        {
            assertTrue(E2e.eventually(15_000, () -> read(clientLog).contains("Initialization Sequence Completed")),
                "the OpenVPN tunnel comes up through passgate's NAT");
            assertEquals(5, E2e.ping(lab, lab.client(2), "10.99.0.1", 5), "traffic through the tunnel");
            // it stays up: a few seconds later, still passing
            Thread.sleep(3000);
            assertEquals(5, E2e.ping(lab, lab.client(2), "10.99.0.1", 5));
            assertTrue(read(serverLog).contains(Lab.ROUTER_WAN), "the server sees the WAN address");
            // the master switch remembers each protocol's own setting: on again, they are still off
            assertEquals(0, ctl("enable", "all").status());
            assertTrue(ctl("status").output().contains("passthrough: all on | pptp off"));
        }
        finally
        {
            Lab.stop(ovpnClient);
            Lab.stop(ovpnServer);
        }
    }

    private static String read(final Path p)
    {
        try
        {
            return Files.readString(p);
        }
        catch (final IOException e)
        {
            return "";
        }
    }

    @Test
    void metricsOnLoopbackInTheRouter() throws Exception
    {
        assertEquals(3, pptpCall(3), "some TCP and GRE through the NAT first");
        assertEquals(0, ctl("disable", "l2tp").status());
        final String body = Lab.inNamespace(lab.router(), 10_000, () ->
        {
            final HttpClient client = HttpClient.newHttpClient();
            return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:9464/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        });
        assertTrue(body.contains("passgate_passthrough_enabled{protocol=\"l2tp\"} 0"), body);
        assertTrue(body.contains("passgate_passthrough_enabled{protocol=\"pptp\"} 1"));
        assertTrue(body.contains("passgate_tunnels{protocol=\"pptp\"} 0"));
        assertTrue(body.contains("# TYPE passgate_drops_total counter"));
        assertTrue(body.contains("passgate_dataplane_alive 1"));
        assertTrue(body.contains("passgate_errors_total{kind=\"dataplane\"} 0"), body);
        assertTrue(body.contains("passgate_errors_total{kind=\"send\"} 0"), body);
        assertTrue(body.matches("(?s).*passgate_packets_total\\{direction=\"out\",protocol=\"tcp\"} [1-9].*"));
    }

    @Test
    void switchStateSurvivesARestartAndACorruptFileIsReplaced() throws Exception
    {
        assertEquals(0, ctl("disable", "l2tp").status());
        assertEquals(0, ctl("disable", "pptp").status());
        assertEquals(0, passgate.stop());
        passgate = lab.startPassgate("--set", "metrics.listen=127.0.0.1:9464");
        final String status = ctl("status").output();
        assertTrue(status.contains("pptp off") && status.contains("l2tp off") && status.contains("ipsec on"), status);
        assertTrue(passgate.log().contains("passthrough: all=on pptp=off ipsec=on natt=on l2tp=off"), passgate.log());

        // a torn state file is reported and replaced by the configuration's defaults
        assertEquals(0, passgate.stop());
        final Path file = lab.workDir().resolve("state/switches");
        Files.writeString(file, "all = on\npptp = of");
        passgate = lab.startPassgate("--set", "metrics.listen=127.0.0.1:9464");
        assertTrue(passgate.log().contains("is corrupt") && passgate.log().contains("replaced by the configuration's defaults"),
            passgate.log());
        final String json = ctl("--json", "status").output();
        assertTrue(json.contains("\"effective\":{\"pptp\":true,\"ipsec\":true,\"natt\":true,\"l2tp\":true}"), json);
        assertTrue(Files.readString(file).contains("crc32 = "), "rewritten whole");
    }

    @Test
    void cliErrorsWhenNotPermittedAndWhenNotRunning() throws Exception
    {
        final Lab.Result denied = Ctl.runAs("nobody", passgate, "status");
        assertEquals(3, denied.status(), denied.output());
        assertTrue(denied.output().contains("not permitted"), denied.output());
        assertEquals(0, passgate.stop());
        final Lab.Result down = ctl("status");
        assertEquals(1, down.status(), down.output());
        assertTrue(down.output().contains("passgate is not running"), down.output());
        assertFalse(Files.exists(passgate.runtimeDir().resolve("control.sock")), "the socket is removed on stop");
    }

    @Test
    void metricsNeverOnTheWan() throws Exception
    {
        final Lab.Result r = lab.exec(lab.router(), Lab.home().resolve("bin/passgate").toString(), "--lan-if", Lab.LAN_IF,
            "--wan-if", Lab.WAN_IF, "--wan-address", "auto", "--set", "metrics.listen=" + Lab.ROUTER_WAN + ":9464",
            "--check-config");
        assertEquals(2, r.status(), r.output());
        assertTrue(r.output().contains("never served on the WAN"), r.output());
    }
}

package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.passgate.counters.Counter;
import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import io.passgate.tools.peers.Traffic;
import org.junit.jupiter.api.Test;

/**
 * When passgate is not running (killed with -9, stopped): fail-open hands the LAN to the kernel's masquerade
 * and takes it back on restart; fail-closed forwards nothing. A LAN address never reaches the WAN.
 */
@RequiresRoot
class FailModeIT
{
    private static boolean transfer(final Lab lab, final int port)
    {
        try
        {
            final Traffic.TcpResult r = Traffic.tcpTransfer(lab.client(1), lab.server(1), Lab.serverAddress(1), port,
                256 * 1024, 4000);
            return r.intact() && r.serverSawAddress().equals(Lab.ROUTER_WAN);
        }
        catch (final Exception e)
        {
            return false;
        }
    }

    @Test
    void failOpenFallsBackToKernelMasqueradeAndTakesOverAgain() throws Exception
    {
        try (Lab lab = Lab.create(1); LeakSniffer sniffer = new LeakSniffer(lab.server(1)))
        {
            final PassgateProcess first = lab.startPassgate();
            assertTrue(transfer(lab, 6001), "through passgate");
            assertTrue(E2e.eventually(2000, () -> E2e.counter(first, Counter.OUT_TCP_PACKETS) > 0));

            first.kill9();
            // the heartbeat element expires (alive-timeout 2 s): the kernel's conntrack and masquerade take over
            assertTrue(E2e.eventually(8000, () -> transfer(lab, 6002)), "the LAN keeps its internet after kill -9");
            assertEquals(5, E2e.ping(lab, lab.client(1), Lab.serverAddress(1), 5));
            final String fallback = lab.exec(lab.router(), "nft", "list", "chain", "inet", "passgate", "fallback_nat").output();
            assertTrue(fallback.matches("(?s).*counter packets [1-9].*masquerade.*"),
                "counted by the fallback masquerade rule: " + fallback);

            final PassgateProcess second = lab.startPassgate();
            assertTrue(E2e.eventually(8000, () -> transfer(lab, 6003)), "works after the restart");
            assertTrue(E2e.eventually(2000, () -> E2e.counter(second, Counter.OUT_TCP_PACKETS) > 0),
                "and through passgate again");
            assertEquals(0, sniffer.leaks(), "no LAN address seen at the server (of " + sniffer.seen() + " packets)");
            assertTrue(sniffer.seen() > 20, "the sniffer saw the traffic: " + sniffer.seen());

            // a clean stop leaves the fail-open fallback: still NAT, without passgate
            assertEquals(0, second.stop());
            assertTrue(second.log().contains("fail-open fallback left"));
            assertTrue(transfer(lab, 6004));
            assertFalse(lab.exec(lab.router(), "iptables", "-t", "mangle", "-S").output().contains("NFQUEUE"));
            // and --remove-rules takes it away
            final Lab.Result removed = lab.exec(lab.router(), Lab.home().resolve("bin/passgate").toString(), "--remove-rules");
            assertEquals(0, removed.status(), removed.output());
            assertFalse(lab.exec(lab.router(), "nft", "list", "tables").output().contains("passgate"));
            assertEquals(0, sniffer.leaks());
        }
    }

    @Test
    void failClosedForwardsNothingWhilePassgateIsDown() throws Exception
    {
        try (Lab lab = Lab.create(1); LeakSniffer sniffer = new LeakSniffer(lab.server(1)))
        {
            final PassgateProcess first = lab.startPassgate("--set", "fail-mode=closed");
            assertTrue(transfer(lab, 6101));
            assertEquals(3, E2e.ping(lab, lab.client(1), Lab.serverAddress(1), 3));

            first.kill9();
            assertEquals(0, E2e.ping(lab, lab.client(1), Lab.serverAddress(1), 5), "nothing forwarded");
            assertFalse(transfer(lab, 6102));

            final PassgateProcess second = lab.startPassgate("--set", "fail-mode=closed");
            assertTrue(E2e.eventually(8000, () -> transfer(lab, 6103)), "back after the restart");

            assertEquals(0, second.stop());
            assertEquals(0, E2e.ping(lab, lab.client(1), Lab.serverAddress(1), 3), "a clean stop blocks too");
            assertEquals(0, sniffer.leaks(), "no LAN address seen at the server (of " + sniffer.seen() + " packets)");
        }
    }
}

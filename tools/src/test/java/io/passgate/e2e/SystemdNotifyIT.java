package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.passgate.sys.ErrnoException;
import io.passgate.sys.UnixDatagramSocket;
import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import io.passgate.tools.lab.PassgateProcess;
import org.junit.jupiter.api.Test;

/**
 * The daemon's side of the unit's Type=notify and WatchdogSec=, with this test in systemd's place: a datagram
 * socket where $NOTIFY_SOCKET points. READY=1 must mean the rules are in and traffic passes; the watchdog pings
 * at half its interval while the dataplane runs; a stop says STOPPING=1.
 */
@RequiresRoot
class SystemdNotifyIT
{
    private static String next(final UnixDatagramSocket socket, final int timeoutMs) throws ErrnoException
    {
        final byte[] into = new byte[UnixDatagramSocket.MAX_DATAGRAM];
        final int n = socket.receive(into, timeoutMs);
        return n < 0 ? null : new String(into, 0, n, StandardCharsets.UTF_8);
    }

    @Test
    void readyOnlyOnceTheRulesAreInThenWatchdogThenStopping() throws Exception
    {
        try (Lab lab = Lab.create(1); UnixDatagramSocket systemd = UnixDatagramSocket.open())
        {
            final String address = lab.workDir().resolve("notify").toString();
            systemd.bind(address);
            final PassgateProcess pg = lab.spawnPassgate(Map.of("NOTIFY_SOCKET", address, "WATCHDOG_USEC", "2000000"));

            // status lines may come first; a watchdog ping may not
            final List<String> before = new ArrayList<>();
            String ready = next(systemd, 60_000);
            while (ready != null && ready.startsWith("STATUS="))
            {
                before.add(ready);
                ready = next(systemd, 60_000);
            }
            // checked at once, before anything else: what READY=1 promises must already hold
            final String table = lab.exec(lab.router(), "nft", "list", "table", "inet", "passgate").output();
            final String mangle = lab.exec(lab.router(), "iptables", "-t", "mangle", "-S").output();
            final Lab.Result status = Ctl.run(pg, "status");
            assertTrue(ready != null && ready.startsWith("READY=1\nSTATUS=running: LAN lan0, WAN wan0 (203.0.113.1)"),
                "READY=1 with a status, after only status lines " + before + ": " + ready + "\n" + pg.log());
            assertTrue(table.contains(" queue ") || mangle.contains("-j NFQUEUE"),
                "the queue rules are in when READY=1 arrives:\n" + table + mangle);
            assertTrue(table.contains("set alive"), table);
            assertEquals(0, status.status(), status.output());
            assertTrue(status.output().contains("dataplane running"), status.output());
            assertEquals(3, E2e.ping(lab, lab.client(1), Lab.serverAddress(1), 3), "traffic passes");

            // WATCHDOG_USEC = 2 s: a ping every second (checked on the control loop's 250 ms tick) while the
            // dataplane runs; what came before this window is drained first
            while (next(systemd, 0) != null)
            {
                // drain
            }
            final List<String> messages = new ArrayList<>();
            final long until = System.currentTimeMillis() + 3500;
            for (long left = 3500; left > 0; left = until - System.currentTimeMillis())
            {
                final String m = next(systemd, (int)left);
                if (m != null)
                {
                    messages.add(m);
                }
            }
            final long pings = messages.stream().filter("WATCHDOG=1"::equals).count();
            assertTrue(pings >= 2 && pings <= 4, "3.5 s at one ping per 1-1.25 s, not one per tick: " + messages);

            assertEquals(0, pg.stop(), pg.log());
            final List<String> after = new ArrayList<>();
            for (String m = next(systemd, 100); m != null; m = next(systemd, 100))
            {
                after.add(m);
            }
            assertTrue(after.contains("STOPPING=1"), "STOPPING=1 on SIGTERM: " + after);
        }
    }
}

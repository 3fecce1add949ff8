package io.passgate.daemon;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import io.passgate.sys.UnixDatagramSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sd_notify messages a socket bound where $NOTIFY_SOCKET points receives, with time driven by hand. */
class SystemdNotifierTest
{
    private static final long PID = 4242;

    private static String next(final UnixDatagramSocket receiver, final int timeoutMs) throws Exception
    {
        final byte[] into = new byte[UnixDatagramSocket.MAX_DATAGRAM];
        final int n = receiver.receive(into, timeoutMs);
        return n < 0 ? null : new String(into, 0, n, StandardCharsets.UTF_8);
    }

    @Test
    void readyWatchdogAtHalfTheIntervalAndStopping(@TempDir final Path dir) throws Exception
    {
        final String path = dir.resolve("notify").toString();
        try (UnixDatagramSocket systemd = UnixDatagramSocket.open();
            SystemdNotifier notifier = SystemdNotifier.fromEnvironment(
                Map.of("NOTIFY_SOCKET", path, "WATCHDOG_USEC", "20000000", "WATCHDOG_PID", Long.toString(PID)), PID))
        {
            systemd.bind(path);
            assertTrue(notifier.enabled());
            assertEquals(20_000, notifier.watchdogIntervalMs());

            notifier.watchdog(0);
            assertNull(next(systemd, 100), "no watchdog before READY=1");
            notifier.ready("passgate running");
            assertEquals("READY=1\nSTATUS=passgate running", next(systemd, 5000));

            notifier.watchdog(1_000);
            assertEquals("WATCHDOG=1", next(systemd, 5000), "the first call pings");
            notifier.watchdog(1_250);
            notifier.watchdog(10_999);
            assertNull(next(systemd, 100), "nothing until half the interval has passed");
            notifier.watchdog(11_000);
            assertEquals("WATCHDOG=1", next(systemd, 5000));

            notifier.status("dataplane stalled: heartbeat withheld");
            assertEquals("STATUS=dataplane stalled: heartbeat withheld", next(systemd, 5000));
            notifier.stopping();
            assertEquals("STOPPING=1", next(systemd, 5000));
        }
    }

    @Test
    void anAbstractSocketName() throws Exception
    {
        final String name = "@passgate-notify-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        try (UnixDatagramSocket systemd = UnixDatagramSocket.open();
            SystemdNotifier notifier = SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", name), PID))
        {
            systemd.bind(name);
            notifier.ready("up");
            assertEquals("READY=1\nSTATUS=up", next(systemd, 5000));
            assertEquals(0, notifier.watchdogIntervalMs(), "no WATCHDOG_USEC: no watchdog");
        }
    }

    @Test
    void aWatchdogMeantForAnotherProcessOrNoSocketIsOff()
    {
        final SystemdNotifier other = SystemdNotifier.fromEnvironment(
            Map.of("NOTIFY_SOCKET", "/run/systemd/notify", "WATCHDOG_USEC", "20000000", "WATCHDOG_PID", "1"), PID);
        assertTrue(other.enabled());
        assertEquals(0, other.watchdogIntervalMs());
        assertFalse(SystemdNotifier.fromEnvironment(Map.of(), PID).enabled());
        assertFalse(SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", "vsock:2:1234"), PID).enabled());
    }

    @Test
    void aMissingReceiverDoesNotStopTheCaller(@TempDir final Path dir)
    {
        try (SystemdNotifier notifier = SystemdNotifier.fromEnvironment(
            Map.of("NOTIFY_SOCKET", dir.resolve("gone").toString(), "WATCHDOG_USEC", "1000000"), PID))
        {
            assertDoesNotThrow(() -> notifier.ready("up"));
            assertDoesNotThrow(() -> notifier.watchdog(0));
            assertDoesNotThrow(notifier::stopping);
        }
    }
}

package io.passgate.daemon;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import io.passgate.sys.ErrnoException;
import io.passgate.sys.UnixDatagramSocket;
import org.tinylog.Logger;

/**
 * systemd's service notifications (sd_notify(3)) for the unit's {@code Type=notify} and {@code WatchdogSec=}:
 * {@code READY=1} once the rules are in and the dataplane runs, {@code WATCHDOG=1} while every dataplane thread
 * makes progress, {@code STATUS=} when the state changes, {@code STOPPING=1} when a stop begins. They go to
 * {@code $NOTIFY_SOCKET} (a path, or {@code @name} in the abstract namespace); without it (not started by
 * systemd) every call does nothing. A failed send is logged once and never stops the gateway.
 */
public final class SystemdNotifier implements AutoCloseable
{
    public static final String NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET";
    public static final String WATCHDOG_USEC_ENV = "WATCHDOG_USEC";
    public static final String WATCHDOG_PID_ENV = "WATCHDOG_PID";

    private final String address;
    private final long watchdogIntervalMs;
    private UnixDatagramSocket socket;
    private long nextWatchdogMs;
    private boolean readySent;
    private boolean sendFailed;
    private boolean closed;

    SystemdNotifier(final String address, final long watchdogIntervalMs)
    {
        this.address = address;
        this.watchdogIntervalMs = watchdogIntervalMs;
    }

    /** A notifier that sends nothing. */
    public static SystemdNotifier disabled()
    {
        return new SystemdNotifier(null, 0);
    }

    /**
     * From the environment systemd gives the service's main process {@code pid}: {@code NOTIFY_SOCKET}, and
     * {@code WATCHDOG_USEC} unless {@code WATCHDOG_PID} names another process.
     */
    public static SystemdNotifier fromEnvironment(final Map<String, String> env, final long pid)
    {
        final String address = env.get(NOTIFY_SOCKET_ENV);
        if (address == null || address.isEmpty())
        {
            return disabled();
        }
        if (!address.startsWith("/") && !address.startsWith("@"))
        {
            Logger.warn("{}={}: not a path or an abstract socket name; not notifying systemd", NOTIFY_SOCKET_ENV, address);
            return disabled();
        }
        long intervalMs = 0;
        final String usec = env.get(WATCHDOG_USEC_ENV);
        final String watchdogPid = env.get(WATCHDOG_PID_ENV);
        if (usec != null && (watchdogPid == null || watchdogPid.equals(Long.toString(pid))))
        {
            try
            {
                intervalMs = Math.max(1, Long.parseLong(usec.strip()) / 1000);
            }
            catch (final NumberFormatException e)
            {
                Logger.warn("{}={}: not a number; no watchdog", WATCHDOG_USEC_ENV, usec);
            }
        }
        return new SystemdNotifier(address, intervalMs);
    }

    public boolean enabled()
    {
        return address != null;
    }

    /** The watchdog interval systemd asked for (WatchdogSec=), 0 for none. */
    public long watchdogIntervalMs()
    {
        return watchdogIntervalMs;
    }

    /** The service is up: {@code systemctl start} returns, units ordered after passgate start. */
    public synchronized void ready(final String status)
    {
        readySent = true;
        send("READY=1\nSTATUS=" + status);
    }

    /** The one-line status {@code systemctl status} shows. */
    public void status(final String status)
    {
        send("STATUS=" + status);
    }

    /**
     * A sign of life, sent after READY=1 and at most every half of the watchdog interval (sd_watchdog_enabled(3));
     * the caller calls it only while the dataplane makes progress, so a stalled dataplane is restarted by systemd.
     */
    public synchronized void watchdog(final long nowMs)
    {
        if (watchdogIntervalMs == 0 || !readySent || nowMs < nextWatchdogMs)
        {
            return;
        }
        nextWatchdogMs = nowMs + watchdogIntervalMs / 2;
        send("WATCHDOG=1");
    }

    /** A stop has begun (the rules are being taken out). */
    public void stopping()
    {
        send("STOPPING=1");
    }

    private synchronized void send(final String message)
    {
        if (address == null || closed)
        {
            return;
        }
        try
        {
            if (socket == null)
            {
                socket = UnixDatagramSocket.open();
            }
            socket.send(address, message.getBytes(StandardCharsets.UTF_8));
            if (sendFailed)
            {
                sendFailed = false;
                Logger.info("systemd notifications to {} work again", address);
            }
        }
        catch (final ErrnoException | IllegalArgumentException e)
        {
            if (!sendFailed)
            {
                sendFailed = true;
                Logger.warn("systemd notification to {} failed: {}", address, e.getMessage());
            }
        }
    }

    @Override
    public synchronized void close()
    {
        closed = true;
        if (socket != null)
        {
            socket.close();
            socket = null;
        }
    }
}

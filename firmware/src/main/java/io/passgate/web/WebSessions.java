package io.passgate.web;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The status page's admin sessions and its failed-login limit. A session is a random 128-bit id (the cookie)
 * with its own random 128-bit CSRF token, and expires after {@code idleMs} without a request. Failed logins
 * are limited per client address: {@code maxFailures} within {@code windowMs}, then refused until the oldest
 * failure leaves the window. Everything under one lock: a handful of requests a second at most.
 */
public final class WebSessions
{
    /** A live session. */
    public record Session(String id, String csrf, String client)
    {
        /** Whether {@code token} is this session's CSRF token (constant time). */
        public boolean csrfMatches(final String token)
        {
            return token != null && MessageDigest.isEqual(csrf.getBytes(StandardCharsets.US_ASCII),
                token.getBytes(StandardCharsets.US_ASCII));
        }
    }

    private static final int MAX_SESSIONS = 32;
    private static final int MAX_CLIENTS = 1024;
    private final SecureRandom random = new SecureRandom();
    private final LongSupplier clock;
    private final long idleMs;
    private final int maxFailures;
    private final long windowMs;
    /** Session id to session and its last use, oldest first (access order). */
    private final LinkedHashMap<String, Long> lastUse = new LinkedHashMap<>(16, 0.75f, true);
    private final Map<String, Session> sessions = new LinkedHashMap<>();
    private final LinkedHashMap<String, Deque<Long>> failures = new LinkedHashMap<>();

    public WebSessions(final LongSupplier clock, final long idleMs, final int maxFailures, final long windowMs)
    {
        this.clock = clock;
        this.idleMs = idleMs;
        this.maxFailures = maxFailures;
        this.windowMs = windowMs;
    }

    private String token()
    {
        final byte[] b = new byte[16];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** A new session for a client that gave the password (the oldest one goes when there are too many). */
    public synchronized Session create(final String client)
    {
        expire();
        while (sessions.size() >= MAX_SESSIONS)
        {
            final String oldest = lastUse.keySet().iterator().next();
            lastUse.remove(oldest);
            sessions.remove(oldest);
        }
        final Session s = new Session(token(), token(), client);
        sessions.put(s.id(), s);
        lastUse.put(s.id(), clock.getAsLong());
        failures.remove(client);
        return s;
    }

    /** The live session with this id, its idle time restarted; null when unknown or expired. */
    public synchronized Session find(final String id)
    {
        if (id == null)
        {
            return null;
        }
        expire();
        final Session s = sessions.get(id);
        if (s != null)
        {
            lastUse.put(id, clock.getAsLong());
        }
        return s;
    }

    public synchronized void remove(final String id)
    {
        if (id != null)
        {
            sessions.remove(id);
            lastUse.remove(id);
        }
    }

    private void expire()
    {
        final long now = clock.getAsLong();
        final Iterator<Map.Entry<String, Long>> it = lastUse.entrySet().iterator();
        while (it.hasNext())
        {
            final Map.Entry<String, Long> e = it.next();
            if (now - e.getValue() < idleMs)
            {
                break;
            }
            sessions.remove(e.getKey());
            it.remove();
        }
    }

    /** Milliseconds until this client may try again (0: now), its failures within the window counted. */
    public synchronized long retryAfterMs(final String client)
    {
        final Deque<Long> times = failures.get(client);
        if (times == null)
        {
            return 0;
        }
        final long now = clock.getAsLong();
        while (!times.isEmpty() && now - times.peekFirst() >= windowMs)
        {
            times.removeFirst();
        }
        if (times.isEmpty())
        {
            failures.remove(client);
            return 0;
        }
        return times.size() >= maxFailures ? times.peekFirst() + windowMs - now : 0;
    }

    /** Counts a failed login of this client. */
    public synchronized void failed(final String client)
    {
        if (!failures.containsKey(client) && failures.size() >= MAX_CLIENTS)
        {
            failures.remove(failures.keySet().iterator().next());
        }
        final Deque<Long> times = failures.computeIfAbsent(client, k -> new ArrayDeque<>());
        times.addLast(clock.getAsLong());
        while (times.size() > maxFailures)
        {
            times.removeFirst();
        }
    }

    public synchronized int size()
    {
        expire();
        return sessions.size();
    }
}

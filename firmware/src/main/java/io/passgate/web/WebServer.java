package io.passgate.web;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.passgate.control.Json;
import org.tinylog.Logger;

/**
 * The status page on {@code web.listen} (the LAN address, never a wildcard or the WAN address): one
 * self-contained page (/) and the JSON behind it, in the control API's own shapes, served by the JDK's HTTP
 * server on virtual threads. Reading needs nothing; changing a switch needs a session (the admin password,
 * {@code web.password-hash}) and its CSRF token. Without a password the page is read-only.
 *
 * <pre>
 * GET  /                 the page
 * GET  /api/status       as the control API's {"cmd":"status"} (status, panel, leds)
 * GET  /api/tunnels      as {"cmd":"tunnels"} (every row; the page's update has the busiest PAGE_FLOWS offloaded flows)
 * GET  /api/counters     as {"cmd":"counters"}
 * GET  /api/history      the last 10 minutes of tunnel traffic per protocol, one sample a second
 * GET  /api/session      {"password-set":..,"logged-in":..,"csrf":..}
 * GET  /api/events       Server-Sent Events: "update" (status, tunnels, refusals and drops, the newest sample)
 *                        once a second and at once after a switch change
 * POST /api/login        password (JSON or form): a session cookie and its CSRF token
 * POST /api/logout       (CSRF token)
 * POST /api/switch       {"protocol":"pptp|ipsec|natt|l2tp|all","on":true|false} (CSRF token): as {"cmd":"switch"}
 * </pre>
 */
public final class WebServer implements AutoCloseable
{
    public static final String COOKIE = "pgsid";
    public static final String CSRF_HEADER = "X-CSRF-Token";
    static final long IDLE_MS = 15 * 60_000L;
    static final int MAX_FAILURES = 5;
    static final long FAILURE_WINDOW_MS = 60_000L;
    static final int MAX_BODY = 4096;
    static final int MAX_STREAMS = 16;
    /**
     * The offloaded TCP and UDP flows the page's update lists (the busiest, per dataplane thread; the count of
     * all beside them): a few dozen rows a second, where hundreds grew the heap to its bound.
     */
    static final int PAGE_FLOWS = 50;

    private final HttpServer server;
    private final ExecutorService executor;
    private final Function<Map<String, Object>, Map<String, Object>> api;
    private final WebPassword password;
    private final WebSessions sessions;
    private final TrafficHistory history;
    /** The offloaded flows there were in all at the last read of the tunnels (sampler thread, publish). */
    private volatile long offloadedFlows;
    private final LongSupplier clock;
    private final byte[] page;
    private final String csp;
    private final Semaphore streams = new Semaphore(MAX_STREAMS);
    private final Thread sampler;
    private final Object updates = new Object();
    private volatile String update = "{}";
    private long generation;
    private volatile boolean running = true;

    /**
     * @param api      the control API's request handler (status, tunnels, counters, switch are used)
     * @param password the admin password, null: read-only
     * @param groups   the tunnel groups charted (pptp, ipsec, l2tp)
     */
    public WebServer(final String address, final int port, final Function<Map<String, Object>, Map<String, Object>> api,
        final WebPassword password, final List<String> groups) throws IOException
    {
        this(address, port, api, password, groups, System::currentTimeMillis, IDLE_MS, true);
    }

    WebServer(final String address, final int port, final Function<Map<String, Object>, Map<String, Object>> api,
        final WebPassword password, final List<String> groups, final LongSupplier clock, final long idleMs,
        final boolean sample) throws IOException
    {
        final InetAddress bind = InetAddress.getByName(address);
        if (bind.isAnyLocalAddress())
        {
            throw new IllegalArgumentException("the status page is never served on a wildcard address");
        }
        this.api = api;
        this.password = password;
        this.clock = clock;
        this.sessions = new WebSessions(clock, idleMs, MAX_FAILURES, FAILURE_WINDOW_MS);
        this.history = new TrafficHistory(groups);
        final String html = resource("/web/status.html");
        this.page = html.getBytes(StandardCharsets.UTF_8);
        this.csp = "default-src 'none'; script-src " + hashes(html, "script") + "; style-src " + hashes(html, "style")
            + "; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
        executor = Executors.newVirtualThreadPerTaskExecutor();
        server = HttpServer.create(new InetSocketAddress(bind, port), 16);
        server.setExecutor(executor);
        server.createContext("/", this::serve);
        publish();
        server.start();
        sampler = new Thread(this::sampleLoop, "passgate-web");
        sampler.setDaemon(true);
        if (sample)
        {
            sampler.start();
        }
    }

    private static String resource(final String name) throws IOException
    {
        try (InputStream in = WebServer.class.getResourceAsStream(name))
        {
            if (in == null)
            {
                throw new IOException(name + " missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** The CSP sources of the page's inline elements of one kind: their SHA-256 hashes, nothing else inline. */
    private static String hashes(final String html, final String tag)
    {
        final StringBuilder b = new StringBuilder();
        final Matcher m = java.util.regex.Pattern.compile("<" + tag + ">(.*?)</" + tag + ">", java.util.regex.Pattern.DOTALL)
            .matcher(html);
        while (m.find())
        {
            try
            {
                final byte[] d = MessageDigest.getInstance("SHA-256").digest(m.group(1).getBytes(StandardCharsets.UTF_8));
                b.append(b.isEmpty() ? "" : " ").append("'sha256-").append(Base64.getEncoder().encodeToString(d)).append('\'');
            }
            catch (final NoSuchAlgorithmException e)
            {
                throw new IllegalStateException(e);
            }
        }
        return b.isEmpty() ? "'none'" : b.toString();
    }

    public int port()
    {
        return server.getAddress().getPort();
    }

    TrafficHistory history()
    {
        return history;
    }

    /** The sampler: a history sample and an update for the page's streams, every second. */
    private void sampleLoop()
    {
        long next = clock.getAsLong();
        while (running)
        {
            try
            {
                // nobody watching: the history alone, from the helpers' tunnels (the offloaded TCP and UDP flows,
                // maybe hundreds, are in no chart), and no update; a stream that opens gets a fresh one at once
                final boolean watched = streams.availablePermits() < MAX_STREAMS;
                final List<Map<String, Object>> rows = sample(watched);
                if (watched)
                {
                    publish(rows);
                }
            }
            catch (final RuntimeException e)
            {
                Logger.warn("status page: {}", e.toString());
            }
            next += 1000;
            final long wait = next - clock.getAsLong();
            if (wait < -5000)
            {
                next = clock.getAsLong();
            }
            try
            {
                Thread.sleep(Math.max(1, wait));
            }
            catch (final InterruptedException e)
            {
                return;
            }
        }
    }

    /** One history sample from the tunnel table (the sampler; tests); returns the rows it read. */
    List<Map<String, Object>> sampleNow()
    {
        return sample(true);
    }

    /** One history sample; with {@code flows} from every row the page shows, else from the helpers' tunnels. */
    private List<Map<String, Object>> sample(final boolean flows)
    {
        final List<Map<String, Object>> rows = flows ? tunnels() : rows(api.apply(Map.of("cmd", "tunnels", "flows", false))
            .get("tunnels"));
        history.sample(clock.getAsLong(), rows);
        return rows;
    }

    /**
     * The page's tunnel rows: every helper's tunnel and the {@link #PAGE_FLOWS} busiest offloaded TCP and UDP
     * flows (of each dataplane thread); how many offloaded flows there are in all goes to {@link #offloadedFlows}.
     */
    private List<Map<String, Object>> tunnels()
    {
        final Map<String, Object> r = api.apply(Map.of("cmd", "tunnels", "max-flows", PAGE_FLOWS));
        offloadedFlows = r.get("offloaded-flows") instanceof Number n ? n.longValue() : 0;
        return rows(r.get("tunnels"));
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> rows(final Object o)
    {
        return o instanceof List<?> l ? (List<Map<String, Object>>)l : List.of();
    }

    /** Builds the update the streams send, with the tunnels read now, and wakes them (a switch change). */
    void publish()
    {
        publish(tunnels());
    }

    /** Builds the update the streams send from these tunnel rows and wakes them. */
    private void publish(final List<Map<String, Object>> tunnels)
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        final Map<String, Object> status = api.apply(Map.of("cmd", "status"));
        m.put("status", status.get("status"));
        m.put("panel", status.get("panel"));
        m.put("leds", status.get("leds"));
        m.put("tunnels", tunnels);
        m.put("offloaded-flows", offloadedFlows);
        final Object counters = api.apply(Map.of("cmd", "counters")).get("counters");
        final Map<String, Object> refusals = new LinkedHashMap<>();
        final Map<String, Object> drops = new LinkedHashMap<>();
        if (counters instanceof Map<?, ?> c)
        {
            for (final Map.Entry<?, ?> e : c.entrySet())
            {
                final String k = String.valueOf(e.getKey());
                if (k.startsWith("passthrough-"))
                {
                    refusals.put(k, e.getValue());
                }
                else if (k.startsWith("drop-") && e.getValue() instanceof Number n && n.longValue() != 0)
                {
                    drops.put(k, e.getValue());
                }
            }
        }
        m.put("refusals", refusals);
        m.put("drops", drops);
        m.put("sample", history.latest());
        final String json = Json.write(m);
        synchronized (updates)
        {
            update = json;
            generation++;
            updates.notifyAll();
        }
    }

    // ---- HTTP

    private void serve(final HttpExchange ex) throws IOException
    {
        try (ex)
        {
            final Map<String, Object> answer = route(ex);
            if (answer != null)
            {
                final int code = answer.containsKey("http-status") ? ((Number)answer.remove("http-status")).intValue() : 200;
                json(ex, code, answer);
            }
        }
        catch (final IOException e)
        {
            // the client went away
        }
        catch (final RuntimeException e)
        {
            Logger.warn("status page request {} failed: {}", ex.getRequestURI().getPath(), e.toString());
            try
            {
                json(ex, 500, error(500, "internal error"));
            }
            catch (final IOException | RuntimeException ignore)
            {
                // answered already or gone
            }
        }
    }

    /** Answers the request: a JSON answer to send, or null when it was sent here. */
    private Map<String, Object> route(final HttpExchange ex) throws IOException
    {
        final String path = ex.getRequestURI().getPath();
        final String method = ex.getRequestMethod();
        final boolean get = method.equals("GET") || method.equals("HEAD");
        switch (path)
        {
            case "/", "/index.html" ->
            {
                if (!get)
                {
                    return error(405, "GET only");
                }
                headers(ex);
                ex.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
                ex.getResponseHeaders().set("Content-Security-Policy", csp);
                send(ex, 200, page);
                return null;
            }
            case "/api/status", "/api/tunnels", "/api/counters" ->
            {
                return get ? api.apply(Map.of("cmd", path.substring(5))) : error(405, "GET only");
            }
            case "/api/history" ->
            {
                if (!get)
                {
                    return error(405, "GET only");
                }
                final Map<String, Object> m = ok();
                m.put("history", history.toJson());
                return m;
            }
            case "/api/session" ->
            {
                if (!get)
                {
                    return error(405, "GET only");
                }
                final WebSessions.Session s = sessions.find(cookie(ex));
                final Map<String, Object> m = ok();
                m.put("password-set", password != null);
                m.put("logged-in", s != null);
                m.put("csrf", s == null ? null : s.csrf());
                return m;
            }
            case "/api/events" ->
            {
                if (!get)
                {
                    return error(405, "GET only");
                }
                events(ex);
                return null;
            }
            case "/api/login", "/api/logout", "/api/switch" ->
            {
                if (!method.equals("POST"))
                {
                    return error(405, "POST only");
                }
                return post(ex, path);
            }
            default ->
            {
                return error(404, "no such page");
            }
        }
    }

    private Map<String, Object> post(final HttpExchange ex, final String path) throws IOException
    {
        final String client = ex.getRemoteAddress().getAddress().getHostAddress();
        if (!sameOrigin(ex))
        {
            return error(403, "cross-origin request refused");
        }
        if (password == null)
        {
            return error(403, "no admin password is set (web.password-hash; passgatectl web-password): the page is read-only");
        }
        final Map<String, String> form = body(ex);
        if (form == null)
        {
            return error(400, "a JSON object or a form of at most " + MAX_BODY + " bytes");
        }
        if (path.equals("/api/login"))
        {
            return login(ex, client, form);
        }
        final WebSessions.Session s = sessions.find(cookie(ex));
        if (s == null)
        {
            return error(403, "log in first (or the session expired)");
        }
        final String token = ex.getRequestHeaders().getFirst(CSRF_HEADER);
        if (!s.csrfMatches(token != null ? token : form.get("csrf")))
        {
            Logger.warn("status page: {} sent {} without its CSRF token: refused", client, path);
            return error(403, "missing or wrong CSRF token");
        }
        if (path.equals("/api/logout"))
        {
            sessions.remove(s.id());
            ex.getResponseHeaders().add("Set-Cookie", COOKIE + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
            Logger.info("status page: {} logged out", client);
            return ok();
        }
        final String protocol = form.get("protocol");
        final String on = form.get("on");
        if (protocol == null || !("true".equals(on) || "false".equals(on)))
        {
            return error(400, "switch needs protocol and on (true or false)");
        }
        final Map<String, Object> request = new LinkedHashMap<>();
        request.put("cmd", "switch");
        request.put("protocol", protocol);
        request.put("on", Boolean.parseBoolean(on));
        final Map<String, Object> answer;
        try
        {
            answer = new LinkedHashMap<>(api.apply(request));
        }
        catch (final IllegalArgumentException e)
        {
            return error(400, e.getMessage());
        }
        if (!Boolean.TRUE.equals(answer.get("ok")))
        {
            answer.put("http-status", 400);
            return answer;
        }
        Logger.info("status page: {} switched {} {}", client, protocol, Boolean.parseBoolean(on) ? "on" : "off");
        publish();
        return answer;
    }

    private Map<String, Object> login(final HttpExchange ex, final String client, final Map<String, String> form)
    {
        final long retry = sessions.retryAfterMs(client);
        if (retry > 0)
        {
            ex.getResponseHeaders().set("Retry-After", Long.toString((retry + 999) / 1000));
            return error(429, "too many failed logins: try again in " + (retry + 999) / 1000 + " s");
        }
        final String given = form.get("password");
        if (given == null || given.length() > 1024 || !password.matches(given.toCharArray()))
        {
            sessions.failed(client);
            Logger.warn("status page: failed login from {}", client);
            return error(401, "wrong password");
        }
        final WebSessions.Session s = sessions.create(client);
        ex.getResponseHeaders().add("Set-Cookie", COOKIE + "=" + s.id() + "; Path=/; HttpOnly; SameSite=Strict");
        Logger.info("status page: {} logged in", client);
        final Map<String, Object> m = ok();
        m.put("csrf", s.csrf());
        return m;
    }

    /** An Origin header, when the browser sends one, names this server (Host). */
    private static boolean sameOrigin(final HttpExchange ex)
    {
        final String origin = ex.getRequestHeaders().getFirst("Origin");
        if (origin == null)
        {
            return true;
        }
        final String host = ex.getRequestHeaders().getFirst("Host");
        try
        {
            final URI u = URI.create(origin);
            return host != null && u.getRawAuthority() != null && u.getRawAuthority().equalsIgnoreCase(host);
        }
        catch (final IllegalArgumentException e)
        {
            return false;
        }
    }

    /** The body as fields: a JSON object (values as text) or a urlencoded form; null when too long or unreadable. */
    private static Map<String, String> body(final HttpExchange ex) throws IOException
    {
        final ByteArrayOutputStream b = new ByteArrayOutputStream();
        final InputStream in = ex.getRequestBody();
        final byte[] buffer = new byte[1024];
        int n;
        while ((n = in.read(buffer)) > 0)
        {
            if (b.size() + n > MAX_BODY)
            {
                return null;
            }
            b.write(buffer, 0, n);
        }
        final String text = b.toString(StandardCharsets.UTF_8).strip();
        final Map<String, String> fields = new LinkedHashMap<>();
        if (text.startsWith("{"))
        {
            try
            {
                for (final Map.Entry<String, Object> e : Json.parseObject(text).entrySet())
                {
                    fields.put(e.getKey(), String.valueOf(e.getValue()));
                }
            }
            catch (final IllegalArgumentException e)
            {
                return null;
            }
            return fields;
        }
        for (final String pair : text.split("&"))
        {
            final int eq = pair.indexOf('=');
            if (eq > 0)
            {
                try
                {
                    fields.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                        URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
                }
                catch (final IllegalArgumentException e)
                {
                    return null;
                }
            }
        }
        return fields;
    }

    private static String cookie(final HttpExchange ex)
    {
        final List<String> headers = ex.getRequestHeaders().get("Cookie");
        if (headers == null)
        {
            return null;
        }
        for (final String h : headers)
        {
            for (final String part : h.split(";"))
            {
                final String p = part.strip();
                if (p.startsWith(COOKIE + "="))
                {
                    return p.substring(COOKIE.length() + 1);
                }
            }
        }
        return null;
    }

    /** Server-Sent Events: the newest update at once, then each new one; a comment every 15 s keeps it open. */
    private void events(final HttpExchange ex) throws IOException
    {
        if (!streams.tryAcquire())
        {
            json(ex, 503, error(503, "too many open streams"));
            return;
        }
        try
        {
            // the sampler builds no updates while nobody watches: this stream's first one is fresh
            publish();
            headers(ex);
            ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
            ex.sendResponseHeaders(200, 0);
            final OutputStream out = ex.getResponseBody();
            long seen = -1;
            while (running)
            {
                final String data;
                synchronized (updates)
                {
                    if (seen == generation)
                    {
                        updates.wait(15_000);
                    }
                    data = seen == generation ? null : update;
                    seen = generation;
                }
                if (!running)
                {
                    break;
                }
                out.write((data == null ? ": keep-alive\n\n" : "event: update\ndata: " + data + "\n\n")
                    .getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        finally
        {
            streams.release();
        }
    }

    private static void headers(final HttpExchange ex)
    {
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
        ex.getResponseHeaders().set("X-Frame-Options", "DENY");
        ex.getResponseHeaders().set("Referrer-Policy", "no-referrer");
    }

    private static void json(final HttpExchange ex, final int code, final Map<String, Object> body) throws IOException
    {
        headers(ex);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        final Map<String, Object> shown = new LinkedHashMap<>(body);
        shown.remove("http-status");
        send(ex, code, (Json.write(shown) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void send(final HttpExchange ex, final int code, final byte[] body) throws IOException
    {
        if (ex.getRequestMethod().equals("HEAD"))
        {
            ex.sendResponseHeaders(code, -1);
            return;
        }
        ex.sendResponseHeaders(code, body.length);
        ex.getResponseBody().write(body);
    }

    private static Map<String, Object> ok()
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("ok", true);
        return m;
    }

    private static Map<String, Object> error(final int code, final String message)
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("ok", false);
        m.put("error", message);
        m.put("http-status", code);
        return m;
    }

    @Override
    public void close()
    {
        running = false;
        sampler.interrupt();
        synchronized (updates)
        {
            updates.notifyAll();
        }
        server.stop(0);
        executor.shutdownNow();
    }
}

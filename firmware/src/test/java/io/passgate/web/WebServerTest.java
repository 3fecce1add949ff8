package io.passgate.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import io.passgate.alg.Helpers;
import io.passgate.control.Json;
import io.passgate.control.StatusSnapshot;
import io.passgate.control.Switches;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The status page's HTTP handlers on loopback, against a control API handler that keeps real switches: reading
 * needs nothing; a switch change needs the password, a live session and its CSRF token; failed logins are
 * limited; sessions expire; the page is read-only without a password.
 */
class WebServerTest
{
    private static final String PASSWORD = "correct horse";
    private static final WebPassword HASH = WebPassword.parse(WebPassword.hash(PASSWORD.toCharArray(),
        WebPassword.MIN_ITERATIONS));
    private final AtomicReference<Switches> switches = new AtomicReference<>(Switches.ALL_ON);
    private final List<String> requests = new ArrayList<>();
    private final AtomicLong clock = new AtomicLong(1_000_000);
    private volatile List<Map<String, Object>> tunnelRows = List.of();
    private final HttpClient http = HttpClient.newHttpClient();
    private WebServer server;

    /** The control API's shapes, with switches that change. */
    private Map<String, Object> api(final Map<String, Object> request)
    {
        final String cmd = String.valueOf(request.get("cmd"));
        synchronized (requests)
        {
            requests.add(cmd + (Boolean.FALSE.equals(request.get("flows")) ? "-helpers"
                : request.containsKey("max-flows") ? "-max" + request.get("max-flows") : ""));
        }
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("ok", true);
        switch (cmd)
        {
            case "status" ->
            {
                m.put("status", StatusSnapshot.starting(switches.get()).toJson());
                m.put("panel", "virtual board");
                m.put("leds", Map.of("pptp", switches.get().effective("pptp") ? "on" : "off"));
            }
            case "tunnels" ->
            {
                m.put("tunnels", tunnelRows);
                if (request.containsKey("max-flows"))
                {
                    m.put("offloaded-flows", 480L);
                }
            }
            case "counters" -> m.put("counters", Map.of("passthrough-refused", 3L, "drop-malformed", 2L, "drop-filtered", 0L));
            case "switch" ->
            {
                switches.set(switches.get().with(String.valueOf(request.get("protocol")), (Boolean)request.get("on")));
                m.put("switches", switches.get().toJson());
            }
            default -> throw new IllegalArgumentException("unknown command " + cmd);
        }
        return m;
    }

    private WebServer start(final WebPassword password) throws Exception
    {
        server = new WebServer("127.0.0.1", 0, this::api, password, Helpers.PASSTHROUGHS.tunnelGroups(), clock::get,
            WebServer.IDLE_MS, false);
        return server;
    }

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
    }

    private URI uri(final String path)
    {
        return URI.create("http://127.0.0.1:" + server.port() + path);
    }

    private HttpResponse<String> get(final String path, final String cookie) throws Exception
    {
        final HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).GET();
        if (cookie != null)
        {
            b.header("Cookie", cookie);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(final String path, final String body, final String cookie, final String csrf)
        throws Exception
    {
        final HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofString(body))
            .header("Content-Type", "application/json");
        if (cookie != null)
        {
            b.header("Cookie", cookie);
        }
        if (csrf != null)
        {
            b.header(WebServer.CSRF_HEADER, csrf);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> login(final String password) throws Exception
    {
        return post("/api/login", Json.write(Map.of("password", password)), null, null);
    }

    private static String cookieOf(final HttpResponse<String> r)
    {
        final String set = r.headers().firstValue("Set-Cookie").orElseThrow();
        return set.substring(0, set.indexOf(';'));
    }

    private static String csrfOf(final HttpResponse<String> r)
    {
        return String.valueOf(Json.parseObject(r.body()).get("csrf"));
    }

    private static final String PPTP_OFF = "{\"protocol\":\"pptp\",\"on\":false}";

    @Test
    void thePageAndTheJsonAreServedToAnyone() throws Exception
    {
        start(null);
        final HttpResponse<String> page = get("/", null);
        assertEquals(200, page.statusCode());
        assertTrue(page.body().contains("<title>passgate</title>"));
        final String csp = page.headers().firstValue("Content-Security-Policy").orElseThrow();
        assertTrue(csp.contains("script-src 'sha256-") && !csp.contains("unsafe-inline"), csp);
        final Map<String, Object> status = Json.parseObject(get("/api/status", null).body());
        assertEquals(Boolean.TRUE, status.get("ok"));
        assertTrue(status.get("status") instanceof Map<?, ?> s && s.containsKey("switches"), status.toString());
        assertEquals(Map.of("pptp", "on"), status.get("leds"));
        assertTrue(Json.parseObject(get("/api/tunnels", null).body()).get("tunnels") instanceof List<?>);
        assertTrue(Json.parseObject(get("/api/history", null).body()).get("history") instanceof Map<?, ?> h
            && h.containsKey("pptp"));
        assertEquals(404, get("/etc/passwd", null).statusCode());
        assertEquals(405, get("/api/switch", null).statusCode());
    }

    @Test
    void withoutAPasswordThePageIsReadOnly() throws Exception
    {
        start(null);
        final Map<String, Object> session = Json.parseObject(get("/api/session", null).body());
        assertEquals(Boolean.FALSE, session.get("password-set"));
        final HttpResponse<String> login = login("");
        assertEquals(403, login.statusCode());
        assertTrue(login.body().contains("read-only"), login.body());
        final HttpResponse<String> change = post("/api/switch", PPTP_OFF, null, null);
        assertEquals(403, change.statusCode());
        assertTrue(switches.get().effective("pptp"), "the switch did not change");
        assertFalse(requests.contains("switch"));
    }

    @Test
    void aSwitchNeedsALoginAndTheSessionsCsrfToken() throws Exception
    {
        start(HASH);
        assertEquals(401, login("wrong").statusCode());
        final HttpResponse<String> ok = login(PASSWORD);
        assertEquals(200, ok.statusCode(), ok.body());
        final String set = ok.headers().firstValue("Set-Cookie").orElseThrow();
        assertTrue(set.contains("HttpOnly") && set.contains("SameSite=Strict"), set);
        final String cookie = cookieOf(ok);
        assertEquals(WebServer.COOKIE.length() + 1 + 32, cookie.length(), "a 128-bit session id: " + cookie);
        final String csrf = csrfOf(ok);
        assertEquals(32, csrf.length());
        assertEquals(Boolean.TRUE, Json.parseObject(get("/api/session", cookie).body()).get("logged-in"));

        assertEquals(403, post("/api/switch", PPTP_OFF, null, csrf).statusCode(), "no session");
        final HttpResponse<String> noToken = post("/api/switch", PPTP_OFF, cookie, null);
        assertEquals(403, noToken.statusCode());
        assertTrue(noToken.body().contains("CSRF"), noToken.body());
        assertEquals(403, post("/api/switch", PPTP_OFF, cookie, "0".repeat(32)).statusCode(), "wrong token");
        assertEquals(403, http.send(HttpRequest.newBuilder(uri("/api/switch")).POST(HttpRequest.BodyPublishers.ofString(PPTP_OFF))
            .header("Cookie", cookie).header(WebServer.CSRF_HEADER, csrf).header("Origin", "http://evil.example")
            .build(), HttpResponse.BodyHandlers.ofString()).statusCode(), "cross-origin");
        assertTrue(switches.get().effective("pptp"), "nothing changed so far");

        final HttpResponse<String> done = post("/api/switch", PPTP_OFF, cookie, csrf);
        assertEquals(200, done.statusCode(), done.body());
        assertFalse(switches.get().effective("pptp"));
        assertEquals(Boolean.FALSE, ((Map<?, ?>)((Map<?, ?>)Json.parseObject(done.body()).get("switches")).get("settings"))
            .get("pptp"), done.body());
        // a form field carries the token as well
        final HttpResponse<String> form = http.send(HttpRequest.newBuilder(uri("/api/switch"))
            .POST(HttpRequest.BodyPublishers.ofString("protocol=pptp&on=true&csrf=" + csrf))
            .header("Content-Type", "application/x-www-form-urlencoded").header("Cookie", cookie).build(),
            HttpResponse.BodyHandlers.ofString());
        assertEquals(200, form.statusCode(), form.body());
        assertTrue(switches.get().effective("pptp"));
        assertEquals(400, post("/api/switch", "{\"protocol\":\"pptp\",\"on\":\"maybe\"}", cookie, csrf).statusCode());

        assertEquals(200, post("/api/logout", "{}", cookie, csrf).statusCode());
        assertEquals(403, post("/api/switch", PPTP_OFF, cookie, csrf).statusCode(), "logged out");
    }

    @Test
    void failedLoginsAreLimitedPerClient() throws Exception
    {
        start(HASH);
        for (int i = 0; i < WebServer.MAX_FAILURES; i++)
        {
            assertEquals(401, login("guess" + i).statusCode());
        }
        final HttpResponse<String> limited = login(PASSWORD);
        assertEquals(429, limited.statusCode(), "even the right password, until the window passes");
        assertEquals("60", limited.headers().firstValue("Retry-After").orElseThrow());
        clock.addAndGet(30_000);
        assertEquals("30", login(PASSWORD).headers().firstValue("Retry-After").orElseThrow());
        clock.addAndGet(30_000);
        assertEquals(200, login(PASSWORD).statusCode());
    }

    @Test
    void sessionsExpireWhenIdle() throws Exception
    {
        start(HASH);
        final HttpResponse<String> ok = login(PASSWORD);
        final String cookie = cookieOf(ok);
        final String csrf = csrfOf(ok);
        clock.addAndGet(WebServer.IDLE_MS - 1000);
        assertEquals(Boolean.TRUE, Json.parseObject(get("/api/session", cookie).body()).get("logged-in"), "used: kept");
        clock.addAndGet(WebServer.IDLE_MS - 1000);
        assertEquals(200, post("/api/switch", PPTP_OFF, cookie, csrf).statusCode(), "still within the idle time");
        clock.addAndGet(WebServer.IDLE_MS);
        final HttpResponse<String> expired = post("/api/switch", "{\"protocol\":\"pptp\",\"on\":true}", cookie, csrf);
        assertEquals(403, expired.statusCode());
        assertTrue(expired.body().contains("expired"), expired.body());
        assertFalse(switches.get().effective("pptp"), "the expired session changed nothing");
    }

    @Test
    void eventsStreamAnUpdateAtOnceAndAfterASwitch() throws Exception
    {
        start(HASH);
        try (Socket s = new Socket("127.0.0.1", server.port()))
        {
            s.setSoTimeout(5000);
            final OutputStream out = s.getOutputStream();
            out.write("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            final BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            assertTrue(in.readLine().startsWith("HTTP/1.1 200"));
            final String first = nextData(in);
            final Map<String, Object> update = Json.parseObject(first);
            assertTrue(update.containsKey("status") && update.containsKey("tunnels") && update.containsKey("leds"), first);
            assertEquals(Map.of("passthrough-refused", 3L), update.get("refusals"));
            assertEquals(Map.of("drop-malformed", 2L), update.get("drops"), "drops that happened");
            final HttpResponse<String> ok = login(PASSWORD);
            assertEquals(200, post("/api/switch", PPTP_OFF, cookieOf(ok), csrfOf(ok)).statusCode());
            final String second = nextData(in);
            assertTrue(second.contains("\"leds\":{\"pptp\":\"off\"}"), second);
        }
    }

    /** The data of the next SSE event (chunked transfer: chunk-size lines are skipped). */
    private static String nextData(final BufferedReader in) throws Exception
    {
        String line;
        while ((line = in.readLine()) != null)
        {
            if (line.startsWith("data: "))
            {
                return line.substring(6);
            }
        }
        throw new AssertionError("stream ended");
    }

    @Test
    @SuppressWarnings("unchecked")
    void theHistoryChartsWhatTheTunnelsCarriedEachSecond() throws Exception
    {
        start(null);
        final Map<String, Object> row = new LinkedHashMap<>(Map.of("protocol", "pptp-call", "client", "10.77.0.11",
            "server", "203.0.113.10", "wan-call-id", 1L, "packets-out", 10L, "bytes-out", 1000L, "packets-in", 5L,
            "bytes-in", 400L, "age-s", 1L, "idle-s", 0L));
        tunnelRows = List.of(row);
        server.sampleNow();
        clock.addAndGet(1000);
        row.put("packets-out", 30L);
        row.put("bytes-out", 3000L);
        server.sampleNow();
        final Map<String, Object> h = (Map<String, Object>)Json.parseObject(get("/api/history", null).body()).get("history");
        assertEquals(List.of(1_000_000L, 1_001_000L), h.get("time-ms"));
        assertEquals(List.of(15L, 20L), ((Map<String, Object>)h.get("pptp")).get("packets"));
        assertEquals(List.of(1400L, 2000L), ((Map<String, Object>)h.get("pptp")).get("bytes"));
        assertEquals(List.of(0L, 0L), ((Map<String, Object>)h.get("l2tp")).get("packets"));
    }

    /**
     * The sampler (once a second): while no page watches, a history sample from the helpers' tunnels alone (the
     * offloaded flows may be hundreds of rows) and no update; a stream that opens gets a fresh update at once,
     * and from then on the sampler reads every row and publishes.
     */
    @Test
    void theSamplerReadsEveryRowOnlyWhileAPageWatches() throws Exception
    {
        server = new WebServer("127.0.0.1", 0, this::api, null, Helpers.PASSTHROUGHS.tunnelGroups(),
            System::currentTimeMillis, WebServer.IDLE_MS, true);
        synchronized (requests)
        {
            requests.clear();   // the first update, built at start
        }
        Thread.sleep(2500);
        synchronized (requests)
        {
            assertTrue(requests.contains("tunnels-helpers"), requests.toString());
            assertFalse(requests.contains("tunnels") || requests.contains("tunnels-max" + WebServer.PAGE_FLOWS)
                || requests.contains("counters"), "nobody watches: " + requests);
            requests.clear();
        }
        try (Socket s = new Socket("127.0.0.1", server.port()))
        {
            s.setSoTimeout(5000);
            s.getOutputStream().write("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            final BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            assertTrue(in.readLine().startsWith("HTTP/1.1 200"));
            assertTrue(Json.parseObject(nextData(in)).containsKey("tunnels"), "a fresh update at once");
            final Map<String, Object> next = Json.parseObject(nextData(in));   // the sampler's next one
            synchronized (requests)
            {
                // the page's rows: the helpers' tunnels and the busiest offloaded flows, never all of them
                assertTrue(requests.contains("tunnels-max" + WebServer.PAGE_FLOWS) && requests.contains("counters"),
                    "watched: " + requests);
                assertFalse(requests.contains("tunnels"), "watched: " + requests);
            }
            assertEquals(480L, next.get("offloaded-flows"), "how many the kernel carries in all");
        }
    }

    @Test
    void neverOnAWildcard()
    {
        assertThrows(IllegalArgumentException.class, () -> new WebServer("0.0.0.0", 0, this::api, null,
            List.of("pptp"), clock::get, WebServer.IDLE_MS, false));
    }

    @Test
    void hashesAreSaltedAndChecked()
    {
        final String a = WebPassword.hash("x".toCharArray(), WebPassword.MIN_ITERATIONS);
        final String b = WebPassword.hash("x".toCharArray(), WebPassword.MIN_ITERATIONS);
        assertFalse(a.equals(b), "a fresh salt each time");
        assertNotNull(WebPassword.parse(a));
        assertTrue(WebPassword.parse(b).matches("x".toCharArray()));
        assertFalse(WebPassword.parse(b).matches("y".toCharArray()));
        assertEquals(null, WebPassword.parse("none"));
    }
}

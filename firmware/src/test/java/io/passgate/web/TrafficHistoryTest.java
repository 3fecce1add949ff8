package io.passgate.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class TrafficHistoryTest
{
    private static Map<String, Object> row(final String protocol, final String client, final long wanId, final long packets,
        final long bytes)
    {
        final Map<String, Object> r = new LinkedHashMap<>();
        r.put("protocol", protocol);
        r.put("client", client);
        r.put("server", "203.0.113.10");
        r.put("wan-call-id", wanId);
        r.put("packets-out", packets);
        r.put("bytes-out", bytes);
        r.put("packets-in", 1L);
        r.put("bytes-in", 100L);
        r.put("age-s", 3L);
        r.put("idle-s", 0L);
        return r;
    }

    @SuppressWarnings("unchecked")
    private static long value(final Map<String, Object> sample, final String group, final String kind)
    {
        return ((Number)((Map<String, Object>)sample.get(group)).get(kind)).longValue();
    }

    @Test
    void eachSampleIsWhatTheTunnelsCarriedSinceThePrevious()
    {
        final TrafficHistory h = new TrafficHistory(List.of("pptp", "ipsec", "l2tp"));
        assertNull(h.latest());
        h.sample(1000, List.of(row("pptp-call", "10.77.0.11", 1, 10, 1000), row("ipsec", "10.77.0.12", 0, 5, 500)));
        // first sight: counted whole (packets out + in, bytes out + in)
        assertEquals(11, value(h.latest(), "pptp", "packets"));
        assertEquals(1100, value(h.latest(), "pptp", "bytes"));
        assertEquals(6, value(h.latest(), "ipsec", "packets"));
        h.sample(2000, List.of(row("pptp-call", "10.77.0.11", 1, 14, 1400), row("pptp-control", "10.77.0.11", 0, 2, 200)));
        assertEquals(4 + 3, value(h.latest(), "pptp", "packets"), "4 more on the call, a new control connection");
        assertEquals(400 + 300, value(h.latest(), "pptp", "bytes"));
        assertEquals(0, value(h.latest(), "ipsec", "packets"), "the IPsec tunnel ended");
        // a new tunnel with the same identity and smaller totals counts whole
        h.sample(3000, List.of(row("pptp-call", "10.77.0.11", 1, 2, 200)));
        assertEquals(3, value(h.latest(), "pptp", "packets"));
    }

    @Test
    @SuppressWarnings("unchecked")
    void keepsTheLast600SecondsOldestFirst()
    {
        final TrafficHistory h = new TrafficHistory(List.of("pptp"));
        for (int i = 0; i < 700; i++)
        {
            h.sample(i * 1000L, List.of(row("pptp-call", "10.77.0.11", i, i, 0)));
        }
        final Map<String, Object> json = h.toJson();
        final List<Object> times = (List<Object>)json.get("time-ms");
        assertEquals(600, times.size());
        assertEquals(100_000L, times.get(0));
        assertEquals(699_000L, times.get(599));
        final List<Object> packets = (List<Object>)((Map<String, Object>)json.get("pptp")).get("packets");
        assertEquals(100L + 1, packets.get(0), "tunnel 100 seen once: its 100 packets out and 1 in");
    }
}

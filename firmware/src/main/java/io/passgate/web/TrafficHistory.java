package io.passgate.web;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The last {@link #SAMPLES} seconds of tunnel traffic per protocol (packets and bytes, both directions), for the
 * status page's charts. Fed once a second by the web server's sampler from the tunnel table the control API
 * lists (each shard copies it on its own thread through its command queue), so nothing is added to the packet
 * path. A sample is what the live tunnels carried since the previous one: each tunnel's totals are remembered
 * by its identity; a tunnel seen for the first time counts whole, and what a tunnel carried in the second it
 * ended is not seen.
 */
public final class TrafficHistory
{
    public static final int SAMPLES = 600;
    private final List<String> groups;
    private final long[][] packets;
    private final long[][] bytes;
    private final long[] times = new long[SAMPLES];
    private int next;
    private int count;
    private Map<String, long[]> previous = new HashMap<>();

    public TrafficHistory(final List<String> groups)
    {
        this.groups = List.copyOf(groups);
        packets = new long[groups.size()][SAMPLES];
        bytes = new long[groups.size()][SAMPLES];
    }

    /** The group a tunnel row's protocol belongs to ("pptp-call" to pptp), or -1. */
    int group(final String protocol)
    {
        for (int g = 0; g < groups.size(); g++)
        {
            final String name = groups.get(g);
            if (protocol.equals(name) || protocol.startsWith(name + "-"))
            {
                return g;
            }
        }
        return -1;
    }

    private static long number(final Object o)
    {
        return o instanceof Number n ? n.longValue() : 0;
    }

    /** Adds the sample for {@code timeMs} from the live tunnel rows (the control API's "tunnels"). */
    public synchronized void sample(final long timeMs, final List<Map<String, Object>> rows)
    {
        final int slot = next;
        for (int g = 0; g < groups.size(); g++)
        {
            packets[g][slot] = 0;
            bytes[g][slot] = 0;
        }
        final Map<String, long[]> seen = new HashMap<>();
        for (final Map<String, Object> row : rows)
        {
            final int g = group(String.valueOf(row.get("protocol")));
            if (g < 0)
            {
                continue;
            }
            final StringBuilder id = new StringBuilder();
            for (final Map.Entry<String, Object> e : row.entrySet())
            {
                final String k = e.getKey();
                if (!k.startsWith("packets-") && !k.startsWith("bytes-") && !k.equals("age-s") && !k.equals("idle-s"))
                {
                    id.append(k).append('=').append(e.getValue()).append(' ');
                }
            }
            final long p = number(row.get("packets-out")) + number(row.get("packets-in"));
            final long b = number(row.get("bytes-out")) + number(row.get("bytes-in"));
            final long[] before = previous.get(id.toString());
            // a smaller total is a new tunnel with the same identity
            final boolean same = before != null && before[0] <= p && before[1] <= b;
            packets[g][slot] += same ? p - before[0] : p;
            bytes[g][slot] += same ? b - before[1] : b;
            seen.put(id.toString(), new long[] {p, b});
        }
        previous = seen;
        times[slot] = timeMs;
        next = (slot + 1) % SAMPLES;
        count = Math.min(SAMPLES, count + 1);
    }

    /** The newest sample per group: {"time-ms":..,"pptp":{"packets":..,"bytes":..},..}; null before the first. */
    public synchronized Map<String, Object> latest()
    {
        if (count == 0)
        {
            return null;
        }
        final int slot = (next + SAMPLES - 1) % SAMPLES;
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("time-ms", times[slot]);
        for (int g = 0; g < groups.size(); g++)
        {
            final Map<String, Object> v = new LinkedHashMap<>();
            v.put("packets", packets[g][slot]);
            v.put("bytes", bytes[g][slot]);
            m.put(groups.get(g), v);
        }
        return m;
    }

    /** Every sample kept, oldest first: {"interval-s":1,"time-ms":[..],"pptp":{"packets":[..],"bytes":[..]},..}. */
    public synchronized Map<String, Object> toJson()
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("interval-s", 1);
        final int first = (next + SAMPLES - count) % SAMPLES;
        final List<Object> t = new ArrayList<>(count);
        for (int i = 0; i < count; i++)
        {
            t.add(times[(first + i) % SAMPLES]);
        }
        m.put("time-ms", t);
        for (int g = 0; g < groups.size(); g++)
        {
            final List<Object> p = new ArrayList<>(count);
            final List<Object> b = new ArrayList<>(count);
            for (int i = 0; i < count; i++)
            {
                p.add(packets[g][(first + i) % SAMPLES]);
                b.add(bytes[g][(first + i) % SAMPLES]);
            }
            final Map<String, Object> v = new LinkedHashMap<>();
            v.put("packets", p);
            v.put("bytes", b);
            m.put(groups.get(g), v);
        }
        return m;
    }
}

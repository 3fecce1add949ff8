package io.passgate.control;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.passgate.nat.HelperSpec;
import io.passgate.nat.NatEngine;
import io.passgate.nat.TunnelSink;
import io.passgate.wire.Ipv4Header;

/**
 * The live VPN tunnels of one shard, as its helpers list them, and the TCP and UDP flows the kernel carries for
 * it (offload: OpenVPN, WireGuard and any other settled flow, protocol "tcp" or "udp", "offloaded": true): copied
 * on the shard's own thread into
 * preallocated arrays ({@link #collect}, allocation-free), then read and turned into JSON by the control thread
 * with the names each helper declared for its rows' identifiers.
 */
public final class TunnelTable implements TunnelSink
{
    public static final int CAPACITY = 4096;

    private final byte[] helper = new byte[CAPACITY];
    private final byte[] kind = new byte[CAPACITY];
    private final int[] client = new int[CAPACITY];
    private final int[] server = new int[CAPACITY];
    private final long[] ids = new long[CAPACITY * IDS];
    private final long[] packetsOut = new long[CAPACITY];
    private final long[] bytesOut = new long[CAPACITY];
    private final long[] packetsIn = new long[CAPACITY];
    private final long[] bytesIn = new long[CAPACITY];
    private final long[] created = new long[CAPACITY];
    private final long[] lastSeen = new long[CAPACITY];
    private final List<HelperSpec> specs = new ArrayList<>();
    private int size;
    private boolean truncated;
    private long collectedAt;

    /** Copies the tunnels of every helper of {@code engine} (its dataplane thread). */
    public void collect(final NatEngine engine, final long nowMs)
    {
        size = 0;
        truncated = false;
        collectedAt = nowMs;
        if (specs.size() != engine.helperCount())
        {
            specs.clear();
            for (int h = 1; h <= engine.helperCount(); h++)
            {
                specs.add(engine.helper(h).spec());
            }
        }
        for (int h = 1; h <= engine.helperCount() && !truncated; h++)
        {
            engine.helper(h).collectTunnels(h, this);
        }
        if (!truncated)
        {
            engine.collectOffloaded(this);   // OpenVPN, WireGuard and the rest while the kernel carries them
        }
    }

    private static final List<String> OFFLOADED_IDS = List.of("client-port", "server-port", "wan-port");

    @Override
    public boolean row(final int helperIndex, final int rowKind, final int rowClient, final int rowServer, final long id0,
        final long id1, final long id2, final long id3, final long id4, final long id5, final long id6, final long rowPacketsOut,
        final long rowBytesOut, final long rowPacketsIn, final long rowBytesIn, final long createdMs,
        final long lastSeenMs)
    {
        if (size == CAPACITY)
        {
            truncated = true;
            return false;
        }
        final int r = size++;
        helper[r] = (byte)helperIndex;
        kind[r] = (byte)rowKind;
        client[r] = rowClient;
        server[r] = rowServer;
        ids[r * IDS] = id0;
        ids[r * IDS + 1] = id1;
        ids[r * IDS + 2] = id2;
        ids[r * IDS + 3] = id3;
        ids[r * IDS + 4] = id4;
        ids[r * IDS + 5] = id5;
        ids[r * IDS + 6] = id6;
        packetsOut[r] = rowPacketsOut;
        bytesOut[r] = rowBytesOut;
        packetsIn[r] = rowPacketsIn;
        bytesIn[r] = rowBytesIn;
        created[r] = createdMs;
        lastSeen[r] = lastSeenMs;
        return true;
    }

    public int size()
    {
        return size;
    }

    public boolean truncated()
    {
        return truncated;
    }

    /** The rows as JSON-ready maps (control thread); a "wan" entry names the WAN address and port or ID. */
    public List<Map<String, Object>> rows(final String wanAddress)
    {
        return rows(wanAddress, true);
    }

    /**
     * The rows as JSON-ready maps; without {@code flows} the helpers' tunnels alone, not the offloaded TCP and UDP
     * flows (which may be hundreds on a busy LAN).
     */
    public List<Map<String, Object>> rows(final String wanAddress, final boolean flows)
    {
        return rows(wanAddress, flows ? Integer.MAX_VALUE : 0);
    }

    /** The offloaded TCP and UDP flows among the rows. */
    public int offloadedFlows()
    {
        int n = 0;
        for (int r = 0; r < size; r++)
        {
            if (helper[r] == NatEngine.OFFLOADED_ROWS)
            {
                n++;
            }
        }
        return n;
    }

    /**
     * The rows as JSON-ready maps: every helper's tunnel, and of the offloaded TCP and UDP flows the
     * {@code maxFlows} busiest (bytes both ways; the table's order among equals). A status page that updates
     * every second shows a few dozen: building hundreds of rows a second was garbage enough to grow the heap.
     */
    public List<Map<String, Object>> rows(final String wanAddress, final int maxFlows)
    {
        final boolean[] shown = busiestFlows(maxFlows);
        final List<Map<String, Object>> out = new ArrayList<>();
        for (int r = 0; r < size; r++)
        {
            final boolean offloaded = helper[r] == NatEngine.OFFLOADED_ROWS;
            if (offloaded && (shown == null || !shown[r]))
            {
                continue;
            }
            final String kindName = offloaded ? (kind[r] == NatEngine.OFFLOADED_TCP ? "tcp" : "udp")
                : specs.get(helper[r] - 1).tunnelKinds().get(kind[r]).name();
            final List<String> idNames = offloaded ? OFFLOADED_IDS
                : specs.get(helper[r] - 1).tunnelKinds().get(kind[r]).ids();
            final Map<String, Object> row = new LinkedHashMap<>();
            row.put("protocol", kindName);
            row.put("client", Ipv4Header.format(client[r]));
            row.put("server", Ipv4Header.format(server[r]));
            if (offloaded)
            {
                row.put("offloaded", true);
            }
            for (int i = 0; i < idNames.size() && i < IDS; i++)
            {
                final String name = idNames.get(i);
                final long value = ids[r * IDS + i];
                row.put(name, name.endsWith("-spi") ? String.format("%0" + (value > 0xFFFF_FFFFL || value < 0 ? 16 : 8) + "x", value)
                    : (Object)value);
            }
            if (row.containsKey("wan-port"))
            {
                row.put("wan", wanAddress + ":" + row.get("wan-port"));
            }
            else if (row.containsKey("wan-call-id"))
            {
                row.put("wan", wanAddress + " call-id " + row.get("wan-call-id"));
            }
            else
            {
                row.put("wan", wanAddress);
            }
            row.put("packets-out", packetsOut[r]);
            row.put("bytes-out", bytesOut[r]);
            row.put("packets-in", packetsIn[r]);
            row.put("bytes-in", bytesIn[r]);
            row.put("age-s", (collectedAt - created[r]) / 1000);
            row.put("idle-s", (collectedAt - lastSeen[r]) / 1000);
            out.add(row);
        }
        return out;
    }

    /** Which rows are among the {@code maxFlows} busiest offloaded flows; null for none. */
    private boolean[] busiestFlows(final int maxFlows)
    {
        if (maxFlows <= 0)
        {
            return null;
        }
        final boolean[] shown = new boolean[size];
        final int flows = offloadedFlows();
        if (flows <= maxFlows)
        {
            for (int r = 0; r < size; r++)
            {
                shown[r] = helper[r] == NatEngine.OFFLOADED_ROWS;
            }
            return shown;
        }
        for (int k = 0; k < maxFlows; k++)   // a few dozen passes over a few hundred rows, once a second
        {
            int best = -1;
            for (int r = 0; r < size; r++)
            {
                if (helper[r] == NatEngine.OFFLOADED_ROWS && !shown[r]
                    && (best < 0 || bytesOut[r] + bytesIn[r] > bytesOut[best] + bytesIn[best]))
                {
                    best = r;
                }
            }
            shown[best] = true;
        }
        return shown;
    }
}

package io.passgate.control;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.passgate.nat.FlowTable;
import io.passgate.nat.NatEngine;
import io.passgate.nat.PassthroughPolicy;
import io.passgate.nat.Protocols;
import io.passgate.wire.Ipv4Header;

/**
 * The live VPN tunnels of one shard, copied from its session table on its own thread into preallocated
 * arrays ({@link #collect}, allocation-free), then read and turned into JSON by the control thread.
 */
public final class TunnelTable
{
    public static final int CAPACITY = 4096;
    private static final String[] KINDS = {"", "pptp-control", "pptp-call", "ike", "natt", "esp", "ah", "l2tp"};

    private final byte[] kind = new byte[CAPACITY];
    private final int[] client = new int[CAPACITY];
    private final int[] clientId = new int[CAPACITY];
    private final int[] server = new int[CAPACITY];
    private final int[] serverId = new int[CAPACITY];
    private final int[] wanId = new int[CAPACITY];
    private final long[] packetsOut = new long[CAPACITY];
    private final long[] bytesOut = new long[CAPACITY];
    private final long[] packetsIn = new long[CAPACITY];
    private final long[] bytesIn = new long[CAPACITY];
    private final long[] created = new long[CAPACITY];
    private final long[] lastSeen = new long[CAPACITY];
    private int size;
    private boolean truncated;
    private long collectedAt;

    /** Copies the tunnel sessions of {@code engine} (its dataplane thread). */
    public void collect(final NatEngine engine, final long nowMs)
    {
        final FlowTable flows = engine.flows();
        size = 0;
        truncated = false;
        collectedAt = nowMs;
        for (int f = 0; f < flows.capacity(); f++)
        {
            if (!flows.inUse(f))
            {
                continue;
            }
            final int k = kindOf(engine, flows, f);
            if (k == 0)
            {
                continue;
            }
            if (size == CAPACITY)
            {
                truncated = true;
                return;
            }
            final int r = size++;
            kind[r] = (byte)k;
            client[r] = flows.intAddr(f);
            clientId[r] = flows.intPort(f);
            server[r] = flows.remAddr(f);
            serverId[r] = flows.remPort(f);
            wanId[r] = flows.extPort(f);
            packetsOut[r] = flows.packetsOut(f);
            bytesOut[r] = flows.bytesOut(f);
            packetsIn[r] = flows.packetsIn(f);
            bytesIn[r] = flows.bytesIn(f);
            created[r] = flows.created(f);
            lastSeen[r] = flows.lastSeen(f);
        }
    }

    private static int kindOf(final NatEngine engine, final FlowTable flows, final int f)
    {
        final int proto = flows.protocol(f);
        return switch (engine.passthroughOf(f))
        {
            case PassthroughPolicy.PPTP -> proto == Protocols.TCP ? 1 : 2;
            case PassthroughPolicy.IPSEC -> proto == Protocols.UDP ? 3 : proto == Protocols.ESP ? 5 : 6;
            case PassthroughPolicy.NATT -> 4;
            case PassthroughPolicy.L2TP -> 7;
            default -> 0;
        };
    }

    public int size()
    {
        return size;
    }

    public boolean truncated()
    {
        return truncated;
    }

    /** The rows as JSON-ready maps (control thread). */
    public List<Map<String, Object>> rows(final String wanAddress)
    {
        final List<Map<String, Object>> out = new ArrayList<>();
        for (int r = 0; r < size; r++)
        {
            final Map<String, Object> row = new LinkedHashMap<>();
            final String k = KINDS[kind[r]];
            row.put("protocol", k);
            row.put("client", Ipv4Header.format(client[r]));
            row.put("server", Ipv4Header.format(server[r]));
            switch (k)
            {
                case "pptp-call" ->
                {
                    row.put("client-call-id", clientId[r]);
                    row.put("server-call-id", serverId[r]);
                    row.put("wan", wanAddress + " call-id " + wanId[r]);
                }
                case "esp", "ah" -> row.put("wan", wanAddress);
                default ->
                {
                    row.put("client-port", clientId[r]);
                    row.put("server-port", serverId[r]);
                    row.put("wan", wanAddress + ":" + wanId[r]);
                }
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
}

package io.passgate.nft;

import java.util.Objects;

import io.passgate.wire.Ipv4Header;

/**
 * Everything the rendered rules depend on.
 *
 * @param lanInterface   the LAN interface name
 * @param wanInterface   the WAN interface name
 * @param wanAddress     the router's WAN address (host order)
 * @param queueBase      first queue number
 * @param queues         number of queues (1, 2 or 4): one per dataplane thread
 * @param failOpen       fail-open (kernel masquerade while passgate is down) or fail-closed
 * @param translate      true for the NAT dataplane, false for plain forwarding through the queue
 * @param backend        where the queue statements go
 * @param hairpinMark    packet mark bit passgate sets on hairpinned packets
 * @param aliveTimeoutMs fail-open: how long after the last heartbeat the kernel takes over
 * @param liveMark       mark bit of packets of live flows (sets {@link #LIVE_PORTS_SET} and {@link #LIVE_PROTOS_SET}),
 *                       queued to a live queue of their own per shard ({@link #liveQueue}); 0: no live queues
 * @param lanNewRate     packets per second a LAN client may send outside live flows (a kernel limit); 0: none
 * @param wanNewRate     packets per second a WAN source may send to the WAN address outside live flows; 0: none
 * @param liveSetSize    how many elements each live set holds
 * @param offloadSetSize how many elements the offload set and maps hold; 0: no offload
 * @param flowtable      offloaded TCP and UDP flows also go to the kernel's flowtable {@link #FLOWTABLE} on the LAN
 *                       and WAN interfaces (software fast path: past netfilter's hooks); offload only
 */
public record RulesetSpec(String lanInterface, String wanInterface, int wanAddress, int queueBase, int queues,
    boolean failOpen, boolean translate, QueueBackend backend, int hairpinMark, int aliveTimeoutMs, int liveMark,
    int lanNewRate, int wanNewRate, int liveSetSize, int offloadSetSize, boolean flowtable)
{
    /**
     * The kernel's software flowtable: offloaded TCP and UDP flows (connection mark bit 31) are added to it in
     * the forward hook, and then go from the ingress hook of the LAN or WAN interface straight to the other one
     * with conntrack's translation, past prerouting, forward and postrouting.
     */
    public static final String FLOWTABLE = "fastpath";
    /**
     * Offloaded TCP and UDP flows (see Offloader), both directions as on the wire: accepted before the notrack
     * rule, so conntrack's entry (passgate's mapping) carries them.
     */
    public static final String OFFLOAD_PORTS_SET = "offload_ports";
    /**
     * Mark bit raw prerouting sets on an offloaded tunnel's packet to a server (ESP, PPTP GRE), so that chain
     * offload_snat rewrites its source without a second lookup (which would count it twice).
     */
    public static final int OFFLOAD_TUNNEL_MARK = 0x400000;
    /** Offloaded ESP from a server: (server, SPI as received) to the LAN client's address (a stateless rewrite). */
    public static final String ESP_IN_MAP = "esp_in";
    /** Offloaded ESP to a server: (LAN client, server, SPI); its source becomes the WAN address. */
    public static final String ESP_OUT_SET = "esp_out";
    /** Offloaded PPTP GRE from a server: (server, the Call ID passgate gave) to the LAN client's address. */
    public static final String GRE_IN_MAP = "gre_in";
    /** Offloaded PPTP GRE from a server: (server, the Call ID passgate gave) to the client's own Call ID. */
    public static final String GRE_IN_CALL_MAP = "gre_in_call";
    /** Offloaded PPTP GRE to a server: (LAN client, server, the server's Call ID); its source becomes the WAN address. */
    public static final String GRE_OUT_SET = "gre_out";
    /** Live flows of TCP and UDP: (source, destination, protocol, source port, destination port) as on the wire. */
    public static final String LIVE_PORTS_SET = "live_ports";
    /** Live flows of GRE and ESP: (source, destination, protocol). */
    public static final String LIVE_PROTOS_SET = "live_protos";
    /** LAN clients over their rate of packets outside live flows (a dynamic set with a limit per element). */
    public static final String LAN_NEW_SET = "lan_new";
    /** WAN sources over their rate of packets to the WAN address outside live flows. */
    public static final String WAN_NEW_SET = "wan_new";

    public static final String TABLE = "passgate";
    public static final String ALIVE_SET = "alive";
    /** UDP ports the IPsec and L2TP helpers own; with several queues their traffic goes to the first. */
    public static final int[] PINNED_UDP_PORTS = {500, 1701, 4500};
    public static final int PPTP_PORT = 1723;

    /** Without live queues and flood limits. */
    public RulesetSpec(final String lanInterface, final String wanInterface, final int wanAddress, final int queueBase,
        final int queues, final boolean failOpen, final boolean translate, final QueueBackend backend,
        final int hairpinMark, final int aliveTimeoutMs)
    {
        this(lanInterface, wanInterface, wanAddress, queueBase, queues, failOpen, translate, backend, hairpinMark,
            aliveTimeoutMs, 0, 0, 0, 0, 0, false);
    }

    /** Without offload. */
    public RulesetSpec(final String lanInterface, final String wanInterface, final int wanAddress, final int queueBase,
        final int queues, final boolean failOpen, final boolean translate, final QueueBackend backend,
        final int hairpinMark, final int aliveTimeoutMs, final int liveMark, final int lanNewRate,
        final int wanNewRate, final int liveSetSize)
    {
        this(lanInterface, wanInterface, wanAddress, queueBase, queues, failOpen, translate, backend, hairpinMark,
            aliveTimeoutMs, liveMark, lanNewRate, wanNewRate, liveSetSize, 0, false);
    }

    /** Without the flowtable. */
    public RulesetSpec(final String lanInterface, final String wanInterface, final int wanAddress, final int queueBase,
        final int queues, final boolean failOpen, final boolean translate, final QueueBackend backend,
        final int hairpinMark, final int aliveTimeoutMs, final int liveMark, final int lanNewRate,
        final int wanNewRate, final int liveSetSize, final int offloadSetSize)
    {
        this(lanInterface, wanInterface, wanAddress, queueBase, queues, failOpen, translate, backend, hairpinMark,
            aliveTimeoutMs, liveMark, lanNewRate, wanNewRate, liveSetSize, offloadSetSize, false);
    }

    public RulesetSpec
    {
        Objects.requireNonNull(lanInterface);
        Objects.requireNonNull(wanInterface);
        Objects.requireNonNull(backend);
        if (queues != 1 && queues != 2 && queues != 4)
        {
            throw new IllegalArgumentException("queues must be 1, 2 or 4: " + queues);
        }
    }

    public String wan()
    {
        return Ipv4Header.format(wanAddress);
    }

    public int lastQueue()
    {
        return queueBase + queues - 1;
    }

    /** Whether settled flows may be offloaded to the kernel's conntrack (translate mode only). */
    public boolean offload()
    {
        return offloadSetSize > 0 && translate;
    }

    /** Whether offloaded TCP and UDP flows go to the kernel's flowtable (offload only). */
    public boolean flowtableOffload()
    {
        return flowtable && offload();
    }

    /** Whether live flows have queues of their own (translate mode only). */
    public boolean liveQueues()
    {
        return liveMark != 0 && translate;
    }

    /** Shard {@code shard}'s live queue: after the bulk queues. */
    public int liveQueue(final int shard)
    {
        return queueBase + queues + shard;
    }

    /** The highest queue number the rules use. */
    public int lastQueueUsed()
    {
        return liveQueues() ? liveQueue(queues - 1) : lastQueue();
    }
}

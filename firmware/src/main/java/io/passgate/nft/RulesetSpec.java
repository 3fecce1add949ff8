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
 */
public record RulesetSpec(String lanInterface, String wanInterface, int wanAddress, int queueBase, int queues,
    boolean failOpen, boolean translate, QueueBackend backend, int hairpinMark, int aliveTimeoutMs)
{
    public static final String TABLE = "passgate";
    public static final String ALIVE_SET = "alive";
    /** UDP ports the IPsec and L2TP helpers own; with several queues their traffic goes to the first. */
    public static final int[] PINNED_UDP_PORTS = {500, 1701, 4500};
    public static final int PPTP_PORT = 1723;

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
}

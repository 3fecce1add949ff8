package io.passgate.nat;

import org.agrona.collections.Long2LongHashMap;

/**
 * Which dataplane shard holds the mapping of each internal endpoint (protocol, LAN address, LAN port), when
 * several shards run. The queue rules send a client's traffic to its shard by its address, but the helpers'
 * traffic (UDP 500/1701/4500, PPTP control) to the first: a socket that talks both to a helper port and to
 * another port would otherwise get a mapping in each shard (two external ports, against endpoint-independent
 * mapping, RFC 4787 REQ-1). A shard about to create a mapping registers the endpoint here; when another shard
 * already holds it, the packet is handed to that shard's queue instead ({@link NatEngine}'s requeue).
 *
 * <p>Consulted only when a mapping is created or freed, never per packet of an existing session; one lock,
 * a preallocated Agrona map (sized for every shard's mappings, so it never grows).
 */
public final class SharedEndpoints
{
    private static final long MISSING = -1;
    private final Long2LongHashMap owners;

    public SharedEndpoints(final int capacity)
    {
        owners = MapSizes.map(capacity, MISSING);
    }

    private static long key(final int protocol, final int address, final int port)
    {
        return ((long)protocol << 48) | ((address & 0xFFFF_FFFFL) << 16) | (port & 0xFFFF);
    }

    /** Registers {@code shard} as the endpoint's holder unless another holds it; returns the holder. */
    public synchronized int claim(final int protocol, final int address, final int port, final int shard)
    {
        final long k = key(protocol, address, port);
        final long holder = owners.get(k);
        if (holder != MISSING)
        {
            return (int)holder;
        }
        owners.put(k, shard);
        return shard;
    }

    /** The shard's mapping of the endpoint is gone. */
    public synchronized void release(final int protocol, final int address, final int port, final int shard)
    {
        final long k = key(protocol, address, port);
        if (owners.get(k) == shard)
        {
            owners.remove(k);
        }
    }

    /** The shard holding the endpoint's mapping, -1 when none (tests). */
    public synchronized int holder(final int protocol, final int address, final int port)
    {
        return (int)owners.get(key(protocol, address, port));
    }
}

package io.passgate.nat;

import io.passgate.config.PassgateContext.Filtering;
import org.agrona.collections.Long2LongHashMap;

/**
 * Inbound filtering (RFC 4787 REQ-8): endpoint-independent lets anything reach a mapping; address-dependent
 * (the default) only the addresses the mapping's sessions talk to, counted per (mapping, remote address);
 * address-and-port-dependent only existing sessions (the engine's lookup already decided).
 */
final class Filter
{
    private final Filtering filtering;
    private final Long2LongHashMap permissions;

    Filter(final Filtering filtering, final int capacity)
    {
        this.filtering = filtering;
        this.permissions = MapSizes.map(capacity, 0L);
    }

    private static long key(final int mapping, final int remote)
    {
        return ((long)mapping << 32) | (remote & 0xFFFF_FFFFL);
    }

    Filtering mode()
    {
        return filtering;
    }

    /** A session of {@code mapping} with {@code remote} starts. */
    void opened(final int mapping, final int remote)
    {
        final long k = key(mapping, remote);
        permissions.put(k, permissions.get(k) + 1);
    }

    /** A session of {@code mapping} with {@code remote} ends. */
    void closed(final int mapping, final int remote)
    {
        final long k = key(mapping, remote);
        final long count = permissions.get(k) - 1;
        if (count <= 0)
        {
            permissions.remove(k);
        }
        else
        {
            permissions.put(k, count);
        }
    }

    /** Whether a packet from {@code remote} may open a new session of {@code mapping}. */
    boolean allows(final int mapping, final int remote)
    {
        return filtering == Filtering.ENDPOINT_INDEPENDENT
            || (filtering == Filtering.ADDRESS_DEPENDENT && permissions.get(key(mapping, remote)) > 0);
    }

    /** Whether {@code remote} is one of {@code mapping}'s peers (address-dependent view, whatever the mode). */
    boolean talksTo(final int mapping, final int remote)
    {
        return permissions.get(key(mapping, remote)) > 0;
    }
}

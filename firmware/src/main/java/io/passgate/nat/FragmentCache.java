package io.passgate.nat;

/**
 * Later fragments carry no ports: inbound, the LAN host of a datagram is remembered from its first fragment,
 * by (source, identification, protocol), for 30 s, in a small direct-mapped cache (the kernel reassembles
 * before the queue; this only serves stray fragments). Outbound fragments need only the source rewritten.
 */
final class FragmentCache
{
    private static final int SIZE = 256;
    private static final long LIFETIME_MS = 30_000;

    private final long[] key = new long[SIZE];
    private final int[] host = new int[SIZE];
    private final long[] expiry = new long[SIZE];

    private static long key(final int source, final int identification, final int protocol)
    {
        return ((source & 0xFFFF_FFFFL) << 24) ^ ((long)identification << 8) ^ protocol;
    }

    private static int slot(final long k)
    {
        return (int)(k ^ (k >>> 17)) & (SIZE - 1);
    }

    void remember(final int source, final int identification, final int protocol, final int lanHost, final long nowMs)
    {
        final long k = key(source, identification, protocol);
        final int s = slot(k);
        key[s] = k;
        host[s] = lanHost;
        expiry[s] = nowMs + LIFETIME_MS;
    }

    /** The LAN host of a later fragment, 0 when unknown or expired. */
    int hostOf(final int source, final int identification, final int protocol, final long nowMs)
    {
        final long k = key(source, identification, protocol);
        final int s = slot(k);
        return key[s] == k && expiry[s] >= nowMs ? host[s] : 0;
    }
}

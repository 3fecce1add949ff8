package io.passgate.nat;

/**
 * Where a helper copies its live tunnels for {@code passgatectl tunnels} (on its dataplane thread, into
 * preallocated arrays: allocation-free). One row per tunnel: its kind (index in the helper's
 * {@link HelperSpec#tunnelKinds()}), client and server, up to {@link #IDS} identifiers, traffic and times.
 */
public interface TunnelSink
{
    int IDS = 7;

    /**
     * Adds a row; {@code ids} beyond the kind's list are ignored. Returns false when the table is full.
     */
    boolean row(int helper, int kind, int client, int server, long id0, long id1, long id2, long id3, long id4,
        long id5, long id6, long packetsOut, long bytesOut, long packetsIn, long bytesIn, long createdMs, long lastSeenMs);
}

package io.passgate.nat;

/**
 * Where a shard's engine posts its live flows (a flow that has carried traffic both ways, a tunnel), so that
 * the kernel can tell their packets from new traffic: passgate notracks what it translates, so conntrack
 * cannot. Called on the packet path: an implementation must not block or allocate.
 */
public interface LiveFlows
{
    /**
     * A flow became live (or is still live: posted again every {@link #REFRESH_MS} while it carries traffic both
     * ways), {@code add}; or it ended, {@code !add}. Addresses and ports in host order. False when there was
     * no room (the engine tries again later).
     */
    boolean post(boolean add, int protocol, int clientAddress, int clientPort, int serverAddress, int serverPort,
        int externalPort);

    /** How often a live flow is posted again while it lives. */
    long REFRESH_MS = 10_000;
    /** How long the kernel keeps a live flow's element after its last post. */
    long TIMEOUT_MS = 30_000;
}

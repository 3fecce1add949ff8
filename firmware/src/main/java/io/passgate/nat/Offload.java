package io.passgate.nat;

/**
 * Where a shard's engine hands settled sessions to the kernel (offload, see nft.Offloader) and hears back.
 * passgate still decides every mapping and sees a flow's first packets; once the flow is settled (both ways,
 * no helper needs its bytes) the engine offers it, and the kernel carries it with a conntrack entry that holds
 * passgate's own mapping. The kernel side reports back through {@link #poll}: offloaded, refused, traffic
 * (so the session's counters and idle timer stay true) and ended. Called on the packet path: an implementation
 * must not block or allocate. Addresses and ports in host order.
 */
public interface Offload
{
    /** Report kinds. */
    int REFUSED = 1;
    /** Traffic the kernel carried since the last report (counter deltas). */
    int TRAFFIC = 2;
    /** The kernel's entry is gone (its timeout, its TCP close, someone deleted it): with the last deltas. */
    int ENDED = 3;
    /** The kernel's TCP states from here on (enum tcp_conntrack: FIN_WAIT, CLOSE_WAIT, ..., CLOSE) are closing. */
    int TCP_FIN_WAIT = 4;

    /** Offers flow {@code flow}; false when there was no room (the engine tries again later). */
    boolean offer(int flow, int protocol, int clientAddress, int clientPort, int serverAddress, int serverPort,
        int externalPort);

    /** The engine ended an offloaded flow: the kernel's entry and elements go. False when there was no room. */
    boolean withdraw(int flow, int protocol, int clientAddress, int clientPort, int serverAddress, int serverPort,
        int externalPort);

    /** Reads up to {@code limit} reports; returns how many. */
    int poll(Reports reports, int limit);

    /** What the kernel side tells the engine. */
    interface Reports
    {
        /**
         * @param tcpState the kernel's TCP state at the end (enum tcp_conntrack; -1 none or not ended)
         * @param packetsOut packets client to server since the last report (likewise the others)
         */
        void report(int kind, int flow, int protocol, int clientAddress, int clientPort, int serverAddress,
            int serverPort, int externalPort, int tcpState, long packetsOut, long bytesOut, long packetsIn,
            long bytesIn);
    }
}

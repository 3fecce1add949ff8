package io.passgate.nat;

import java.util.Arrays;

/**
 * The NAT's sessions (flows): preallocated struct-of-arrays, flow id = index, with two open-addressing
 * indexes keyed by the flow's five fields seen from each side. Written for passgate because a key does
 * not fit one long (Agrona's primitive maps take one): the outbound key is (protocol, internal address,
 * internal port, remote address, remote port), 104 bits; the inbound key (protocol, external port, remote
 * address, remote port). Linear probing, deletion by backward shift (no tombstones), a per-table random
 * seed against crafted collisions. Nothing here allocates after construction.
 *
 * <p>"Port" means the protocol's demultiplexer: the TCP/UDP port, the ICMP query identifier, the PPTP Call
 * ID for GRE, the SPI for ESP. For GRE and ESP the outbound key leaves out the internal port (a client's GRE
 * carries the server's Call ID, its ESP the server's SPI) and the inbound key leaves out the remote port (the
 * server's GRE carries only the translated Call ID, its ESP the client's SPI): see {@link #outboundIntPort}
 * and {@link #inboundRemPort}.
 */
public final class FlowTable
{
    public static final int NONE = -1;

    private final int capacity;
    private final int mask;
    private final long seed;

    // flow fields (protocol as a byte: read it with & 0xFF, SCTP and UDP-Lite are above 127)
    final byte[] protocol;
    final int[] intAddr;
    final int[] intPort;
    final int[] extPort;
    final int[] remAddr;
    final int[] remPort;
    final int[] mapping;
    final byte[] state;
    final int[] flags;
    final long[] created;
    final long[] lastSeen;
    final long[] expiresAt;
    final long[] packetsOut;
    final long[] bytesOut;
    final long[] packetsIn;
    final long[] bytesIn;
    final int[] alg;
    final int[] algData;
    final long[] timerId;
    /** Live flows: when to post the flow to {@link LiveFlows} again; 0 never posted, Long.MAX_VALUE never to post. */
    final long[] liveAt;
    // free list and transitory LRU (intrusive, by index)
    private final int[] next;
    private final int[] lruPrev;
    private final int[] lruNext;
    private int freeHead;
    private int lruHead = NONE;
    private int lruTail = NONE;
    private int size;

    // indexes: slot holds flow id + 1, 0 = empty
    private final int[] outSlots;
    private final int[] inSlots;

    public FlowTable(final int capacity, final long seed)
    {
        if (capacity < 1 || capacity > (1 << 24))
        {
            throw new IllegalArgumentException("flow capacity out of range: " + capacity);
        }
        this.capacity = capacity;
        this.seed = seed;
        final int slots = Integer.highestOneBit(capacity * 2 - 1) << 1;
        this.mask = slots - 1;
        protocol = new byte[capacity];
        intAddr = new int[capacity];
        intPort = new int[capacity];
        extPort = new int[capacity];
        remAddr = new int[capacity];
        remPort = new int[capacity];
        mapping = new int[capacity];
        state = new byte[capacity];
        flags = new int[capacity];
        created = new long[capacity];
        lastSeen = new long[capacity];
        expiresAt = new long[capacity];
        packetsOut = new long[capacity];
        bytesOut = new long[capacity];
        packetsIn = new long[capacity];
        bytesIn = new long[capacity];
        alg = new int[capacity];
        algData = new int[capacity];
        timerId = new long[capacity];
        liveAt = new long[capacity];
        next = new int[capacity];
        lruPrev = new int[capacity];
        lruNext = new int[capacity];
        outSlots = new int[slots];
        inSlots = new int[slots];
        clear();
    }

    public void clear()
    {
        for (int i = 0; i < capacity; i++)
        {
            next[i] = i + 1 < capacity ? i + 1 : NONE;
            protocol[i] = 0;
        }
        Arrays.fill(lruPrev, NONE);
        Arrays.fill(lruNext, NONE);
        Arrays.fill(outSlots, 0);
        Arrays.fill(inSlots, 0);
        freeHead = 0;
        lruHead = NONE;
        lruTail = NONE;
        size = 0;
    }

    public int capacity()
    {
        return capacity;
    }

    public int size()
    {
        return size;
    }

    public boolean isFull()
    {
        return freeHead == NONE;
    }

    public boolean inUse(final int flow)
    {
        return protocol[flow] != 0;
    }

    static int outboundIntPort(final int proto, final int port)
    {
        return proto == Protocols.GRE || proto == Protocols.ESP ? 0 : port;
    }

    static int inboundRemPort(final int proto, final int port)
    {
        return proto == Protocols.GRE || proto == Protocols.ESP ? 0 : port;
    }

    private int hashOut(final int proto, final int ia, final int ip, final int ra, final int rp)
    {
        return mix(((long)ia << 32) ^ (ra & 0xFFFF_FFFFL), ((long)proto << 48) ^ ((long)ip << 24) ^ rp);
    }

    private int hashIn(final int proto, final int ep, final int ra, final int rp)
    {
        return mix(((long)ep << 32) ^ (ra & 0xFFFF_FFFFL), ((long)proto << 48) ^ rp);
    }

    private int mix(final long a, final long b)
    {
        long h = (a ^ seed) * 0x9E3779B97F4A7C15L;
        h ^= Long.rotateLeft(b + seed, 31) * 0xC2B2AE3D27D4EB4FL;
        h ^= h >>> 33;
        h *= 0xFF51AFD7ED558CCDL;
        h ^= h >>> 29;
        return (int)h & mask;
    }

    /** Finds a flow by its outbound key; {@link #NONE} when absent. */
    public int findOutbound(final int proto, final int ia, final int ip, final int ra, final int rp)
    {
        final int kp = outboundIntPort(proto, ip);
        int slot = hashOut(proto, ia, kp, ra, rp);
        while (true)
        {
            final int v = outSlots[slot];
            if (v == 0)
            {
                return NONE;
            }
            final int f = v - 1;
            if ((protocol[f] & 0xFF) == proto && intAddr[f] == ia && outboundIntPort(proto, intPort[f]) == kp
                && remAddr[f] == ra && remPort[f] == rp)
            {
                return f;
            }
            slot = (slot + 1) & mask;
        }
    }

    /** Finds a flow by its inbound key; {@link #NONE} when absent. */
    public int findInbound(final int proto, final int ep, final int ra, final int rp)
    {
        final int kp = inboundRemPort(proto, rp);
        int slot = hashIn(proto, ep, ra, kp);
        while (true)
        {
            final int v = inSlots[slot];
            if (v == 0)
            {
                return NONE;
            }
            final int f = v - 1;
            if ((protocol[f] & 0xFF) == proto && extPort[f] == ep && remAddr[f] == ra
                && inboundRemPort(proto, remPort[f]) == kp)
            {
                return f;
            }
            slot = (slot + 1) & mask;
        }
    }

    /**
     * Takes a free record and indexes it. The caller has checked that neither key exists. Returns
     * {@link #NONE} when the table is full.
     */
    public int insert(final int proto, final int ia, final int ip, final int ep, final int ra, final int rp,
        final int mappingId, final long now)
    {
        final int f = freeHead;
        if (f == NONE)
        {
            return NONE;
        }
        freeHead = next[f];
        next[f] = NONE;
        protocol[f] = (byte)proto;
        intAddr[f] = ia;
        intPort[f] = ip;
        extPort[f] = ep;
        remAddr[f] = ra;
        remPort[f] = rp;
        mapping[f] = mappingId;
        state[f] = 0;
        flags[f] = 0;
        created[f] = now;
        lastSeen[f] = now;
        expiresAt[f] = now;
        packetsOut[f] = 0;
        bytesOut[f] = 0;
        packetsIn[f] = 0;
        bytesIn[f] = 0;
        alg[f] = 0;
        algData[f] = 0;
        timerId[f] = -1;
        liveAt[f] = 0;
        lruPrev[f] = NONE;
        lruNext[f] = NONE;
        place(outSlots, hashOut(proto, ia, outboundIntPort(proto, ip), ra, rp), f);
        place(inSlots, hashIn(proto, ep, ra, inboundRemPort(proto, rp)), f);
        size++;
        return f;
    }

    private void place(final int[] slots, final int start, final int flow)
    {
        int slot = start;
        while (slots[slot] != 0)
        {
            slot = (slot + 1) & mask;
        }
        slots[slot] = flow + 1;
    }

    /** Unindexes and frees a flow. */
    public void remove(final int f)
    {
        if (protocol[f] == 0)
        {
            return;
        }
        final int proto = protocol[f] & 0xFF;
        unplace(outSlots, hashOut(proto, intAddr[f], outboundIntPort(proto, intPort[f]), remAddr[f], remPort[f]), f, true);
        unplace(inSlots, hashIn(proto, extPort[f], remAddr[f], inboundRemPort(proto, remPort[f])), f, false);
        lruUnlink(f);
        protocol[f] = 0;
        next[f] = freeHead;
        freeHead = f;
        size--;
    }

    private void unplace(final int[] slots, final int start, final int flow, final boolean outbound)
    {
        int slot = start;
        while (slots[slot] != flow + 1)
        {
            if (slots[slot] == 0)
            {
                throw new IllegalStateException("flow " + flow + " not indexed");
            }
            slot = (slot + 1) & mask;
        }
        // backward-shift deletion: move later entries of the cluster into the hole when their home allows
        int hole = slot;
        int i = (slot + 1) & mask;
        while (slots[i] != 0)
        {
            final int g = slots[i] - 1;
            final int gp = protocol[g] & 0xFF;
            final int home = outbound
                ? hashOut(gp, intAddr[g], outboundIntPort(gp, intPort[g]), remAddr[g], remPort[g])
                : hashIn(gp, extPort[g], remAddr[g], inboundRemPort(gp, remPort[g]));
            // move g into the hole if its home is not cyclically within (hole, i]
            if (((i - home) & mask) >= ((i - hole) & mask))
            {
                slots[hole] = slots[i];
                hole = i;
            }
            i = (i + 1) & mask;
        }
        slots[hole] = 0;
    }

    /**
     * Changes the remote port of a flow (an L2TP server answering from another port, RFC 2661 8.1) and
     * reindexes it.
     */
    public void rekeyRemotePort(final int f, final int newRemPort)
    {
        unindex(f);
        remPort[f] = newRemPort;
        index(f);
    }

    /** Changes the external port of a flow (an ESP security association's inbound SPI, once learnt) and reindexes it. */
    public void rekeyExternalPort(final int f, final int newExtPort)
    {
        unindex(f);
        extPort[f] = newExtPort;
        index(f);
    }

    private void unindex(final int f)
    {
        final int proto = protocol[f] & 0xFF;
        unplace(outSlots, hashOut(proto, intAddr[f], outboundIntPort(proto, intPort[f]), remAddr[f], remPort[f]), f, true);
        unplace(inSlots, hashIn(proto, extPort[f], remAddr[f], inboundRemPort(proto, remPort[f])), f, false);
    }

    private void index(final int f)
    {
        final int proto = protocol[f] & 0xFF;
        place(outSlots, hashOut(proto, intAddr[f], outboundIntPort(proto, intPort[f]), remAddr[f], remPort[f]), f);
        place(inSlots, hashIn(proto, extPort[f], remAddr[f], inboundRemPort(proto, remPort[f])), f);
    }

    // restore after a restart (EngineImage): sessions come back at their own indexes, so that the helpers'
    // tables, restored verbatim, still name the right ones

    /** Starts restoring into this empty table: no free record until {@link #endRestore}. */
    void beginRestore()
    {
        if (size != 0)
        {
            throw new IllegalStateException("restore into a table with " + size + " sessions");
        }
        freeHead = NONE;
    }

    /** Restores one saved session at index {@code f} (free, keys unused: checked by the caller). */
    void restoreAt(final int f, final int proto, final int ia, final int ip, final int ep, final int ra, final int rp,
        final int mappingId, final long createdAt, final long seenAt)
    {
        next[f] = NONE;
        protocol[f] = (byte)proto;
        intAddr[f] = ia;
        intPort[f] = ip;
        extPort[f] = ep;
        remAddr[f] = ra;
        remPort[f] = rp;
        mapping[f] = mappingId;
        state[f] = 0;
        flags[f] = 0;
        created[f] = createdAt;
        lastSeen[f] = seenAt;
        expiresAt[f] = seenAt;
        packetsOut[f] = 0;
        bytesOut[f] = 0;
        packetsIn[f] = 0;
        bytesIn[f] = 0;
        alg[f] = 0;
        algData[f] = 0;
        timerId[f] = -1;
        liveAt[f] = 0;   // posted to the kernel's live set again on its next packet
        lruPrev[f] = NONE;
        lruNext[f] = NONE;
        index(f);
        size++;
    }

    /** Ends a restore: every record not restored is free again. */
    void endRestore()
    {
        freeHead = NONE;
        for (int i = capacity - 1; i >= 0; i--)
        {
            if (protocol[i] == 0)
            {
                next[i] = freeHead;
                freeHead = i;
            }
        }
    }

    // transitory LRU: oldest first, for eviction when the table is full

    public void lruAppend(final int f)
    {
        if (lruPrev[f] != NONE || lruHead == f)
        {
            return;
        }
        lruPrev[f] = lruTail;
        lruNext[f] = NONE;
        if (lruTail != NONE)
        {
            lruNext[lruTail] = f;
        }
        else
        {
            lruHead = f;
        }
        lruTail = f;
    }

    public void lruUnlink(final int f)
    {
        if (lruPrev[f] == NONE && lruHead != f)
        {
            return;
        }
        final int p = lruPrev[f];
        final int n = lruNext[f];
        if (p != NONE)
        {
            lruNext[p] = n;
        }
        else
        {
            lruHead = n;
        }
        if (n != NONE)
        {
            lruPrev[n] = p;
        }
        else
        {
            lruTail = p;
        }
        lruPrev[f] = NONE;
        lruNext[f] = NONE;
    }

    /** The oldest transitory flow, or {@link #NONE}. */
    public int oldestTransitory()
    {
        return lruHead;
    }

    /** The oldest transitory flow other than {@code flow}, or {@link #NONE}. */
    public int oldestTransitoryExcept(final int flow)
    {
        return lruHead != flow || lruHead == NONE ? lruHead : lruNext[lruHead];
    }

    // accessors for the engine, the ALGs, the tunnel table and tests

    public int protocol(final int f)
    {
        return protocol[f] & 0xFF;
    }

    public int intAddr(final int f)
    {
        return intAddr[f];
    }

    public int intPort(final int f)
    {
        return intPort[f];
    }

    public int extPort(final int f)
    {
        return extPort[f];
    }

    public int remAddr(final int f)
    {
        return remAddr[f];
    }

    public int remPort(final int f)
    {
        return remPort[f];
    }

    public int mapping(final int f)
    {
        return mapping[f];
    }

    public int state(final int f)
    {
        return state[f];
    }

    public int flags(final int f)
    {
        return flags[f];
    }

    public long created(final int f)
    {
        return created[f];
    }

    public long lastSeen(final int f)
    {
        return lastSeen[f];
    }

    public long expiresAt(final int f)
    {
        return expiresAt[f];
    }

    public long packetsOut(final int f)
    {
        return packetsOut[f];
    }

    public long bytesOut(final int f)
    {
        return bytesOut[f];
    }

    public long packetsIn(final int f)
    {
        return packetsIn[f];
    }

    public long bytesIn(final int f)
    {
        return bytesIn[f];
    }

    public int alg(final int f)
    {
        return alg[f];
    }

    public int algData(final int f)
    {
        return algData[f];
    }

    public void algData(final int f, final int value)
    {
        algData[f] = value;
    }
}

package io.passgate.nat;

import java.util.SplittableRandom;

import org.agrona.collections.Long2LongHashMap;

/**
 * Endpoint-independent mappings (RFC 4787 REQ-1, RFC 5382 REQ-1): (protocol, internal address, internal
 * port) to one external port of the WAN address, whatever the destination, shared by the mapping's flows.
 * Each external port has at most one owner per port space (no port overloading, RFC 4787 REQ-3): the owner
 * arrays double as the port bitmaps and as the O(1) inbound lookup. The internal-key index is Agrona's
 * {@link Long2LongHashMap} (the key fits one long), presized so it never grows.
 *
 * <p>Allocation (RFC 4787 REQ-3/4, RFC 6056): keep the internal port when it is free, in this shard's
 * share of the range and not reserved; otherwise a random start in the configured range and a linear probe,
 * keeping parity when configured. An internal port below 1024 maps into 1..1023. With several dataplane
 * shards, shard i owns the external ports p with {@code p & (shards - 1) == i}, so the kernel's queue rules
 * can send every inbound packet to the shard that owns its mapping.
 */
public final class MappingTable
{
    public static final int NONE = -1;

    private final int capacity;
    private final int[] protocol;
    private final int[] intAddr;
    private final int[] intPort;
    private final int[] extPort;
    private final int[] flows;
    private final int[] next;
    private int freeHead;
    private int size;
    private final Long2LongHashMap byInternal;
    private final int[][] owner = new int[Protocols.SPACES][65536];
    /** Ports no generic mapping may take: the helpers' own (500, 1701, 4500) and the router's listeners. */
    private final boolean[][] reserved = new boolean[Protocols.SPACES][65536];
    private final int portMin;
    private final int portMax;
    private final boolean parity;
    private final int shard;
    private final int shardMask;
    private final SplittableRandom random;
    private boolean lastPreserved;

    public MappingTable(final int capacity, final int portMin, final int portMax, final boolean parity,
        final int shard, final int shards, final long seed)
    {
        this.capacity = capacity;
        this.portMin = portMin;
        this.portMax = portMax;
        this.parity = parity;
        this.shard = shard;
        this.shardMask = shards - 1;
        this.random = new SplittableRandom(seed);
        protocol = new int[capacity];
        intAddr = new int[capacity];
        intPort = new int[capacity];
        extPort = new int[capacity];
        flows = new int[capacity];
        next = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            next[i] = i + 1 < capacity ? i + 1 : NONE;
        }
        byInternal = new Long2LongHashMap(Math.max(16, Integer.highestOneBit(capacity * 2) << 1), 0.65f, -1L, true);
    }

    private static long key(final int proto, final int addr, final int port)
    {
        return ((long)proto << 48) | ((addr & 0xFFFF_FFFFL) << 16) | (port & 0xFFFF);
    }

    public int size()
    {
        return size;
    }

    public int capacity()
    {
        return capacity;
    }

    public void reserve(final int space, final int port, final boolean value)
    {
        reserved[space][port] = value;
    }

    public boolean isReserved(final int space, final int port)
    {
        return reserved[space][port];
    }

    public int find(final int proto, final int addr, final int port)
    {
        return (int)byInternal.get(key(proto, addr, port));
    }

    /** The mapping owning an external port, or {@link #NONE}. */
    public int byExternal(final int space, final int port)
    {
        return owner[space][port & 0xFFFF] - 1;
    }

    public boolean isFree(final int space, final int port)
    {
        return owner[space][port] == 0;
    }

    /** True when this shard may hand out {@code port}. */
    public boolean ownsPort(final int port)
    {
        return (port & shardMask) == shard;
    }

    /** Whether the last {@link #create} kept the internal port. */
    public boolean lastPreserved()
    {
        return lastPreserved;
    }

    /**
     * Creates a mapping with a freshly allocated external port. Returns {@link #NONE} when the table is full
     * or no port is free (the caller refuses the flow and counts why: see {@link #isFull()}).
     */
    public int create(final int proto, final int space, final int addr, final int port)
    {
        if (freeHead == NONE)
        {
            return NONE;
        }
        final int ext = allocate(space, port);
        if (ext < 0)
        {
            return NONE;
        }
        return createWith(proto, space, addr, port, ext);
    }

    /** Creates a mapping on a given external port (a helper's choice); the port must be free. */
    public int createWith(final int proto, final int space, final int addr, final int port, final int ext)
    {
        if (freeHead == NONE || owner[space][ext] != 0)
        {
            return NONE;
        }
        final int m = freeHead;
        freeHead = next[m];
        next[m] = NONE;
        protocol[m] = proto;
        intAddr[m] = addr;
        intPort[m] = port;
        extPort[m] = ext;
        flows[m] = 0;
        owner[space][ext] = m + 1;
        byInternal.put(key(proto, addr, port), m);
        size++;
        return m;
    }

    public boolean isFull()
    {
        return freeHead == NONE;
    }

    private int allocate(final int space, final int port)
    {
        final boolean queryId = space == Protocols.SPACE_ICMP;
        final int lo;
        final int hi;
        if (queryId)
        {
            lo = 1;
            hi = 65535;
        }
        else if (port < 1024)
        {
            lo = 1;
            hi = 1023;
        }
        else
        {
            lo = portMin;
            hi = portMax;
        }
        final int[] own = owner[space];
        final boolean[] res = reserved[space];
        if (port >= lo && port <= hi && own[port] == 0 && !res[port] && ownsPort(port))
        {
            lastPreserved = true;
            return port;
        }
        lastPreserved = false;
        final int span = hi - lo + 1;
        final int start = lo + random.nextInt(span);
        final boolean keepParity = parity && !queryId;
        for (int i = 0; i < span; i++)
        {
            int p = start + i;
            if (p > hi)
            {
                p -= span;
            }
            if (own[p] == 0 && !res[p] && ownsPort(p) && (!keepParity || ((p ^ port) & 1) == 0))
            {
                return p;
            }
        }
        return -1;
    }

    public void addFlow(final int m)
    {
        flows[m]++;
    }

    /** Drops a flow reference; frees the mapping and its port with the last one. Returns true when freed. */
    public boolean removeFlow(final int m)
    {
        if (--flows[m] > 0)
        {
            return false;
        }
        final int space = Protocols.space(protocol[m]);
        if (space >= 0)
        {
            owner[space][extPort[m]] = 0;
        }
        byInternal.remove(key(protocol[m], intAddr[m], intPort[m]));
        next[m] = freeHead;
        freeHead = m;
        size--;
        return true;
    }

    public int protocol(final int m)
    {
        return protocol[m];
    }

    public int intAddr(final int m)
    {
        return intAddr[m];
    }

    public int intPort(final int m)
    {
        return intPort[m];
    }

    public int extPort(final int m)
    {
        return extPort[m];
    }

    public int flows(final int m)
    {
        return flows[m];
    }
}

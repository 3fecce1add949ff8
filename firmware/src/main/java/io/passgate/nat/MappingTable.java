package io.passgate.nat;

import java.util.SplittableRandom;

import org.agrona.collections.Long2LongHashMap;

/**
 * Endpoint-independent mappings (RFC 4787 REQ-1, RFC 5382 REQ-1): (protocol, internal address, internal
 * port) to one external port of the WAN address, whatever the destination, shared by the mapping's flows.
 * Each external port has at most one owner per port space (no port overloading, RFC 4787 REQ-3): an
 * open-addressing index of (space, external port) to its mapping is both the ports-in-use set and the O(1)
 * inbound lookup. It is sized by the table's capacity (64 KB at 8192 mappings), not by the six 64 K port
 * spaces (the per-space owner arrays it replaced held 1.5 MB whatever the table size). The internal-key index
 * is Agrona's {@link Long2LongHashMap} (the key fits one long), presized so it never grows.
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
    /** The helper following the sessions of each mapping (1-based; 0 = none): inbound new sessions are its. */
    private final int[] helper;
    private final int[] next;
    private int freeHead;
    private int size;
    private final Long2LongHashMap byInternal;
    /** Each mapping's (space, external port) as {@code space << 16 | port}: the key of {@link #portSlots}. */
    private final int[] extKey;
    /**
     * (space, external port) to mapping + 1 (0: empty), linear probing, backward-shift deletion (no
     * tombstones), at most {@link MapSizes#LOAD_FACTOR} full: a table full of mappings never degrades it.
     */
    private final int[] portSlots;
    private final int portMask;
    /**
     * Ports no generic mapping may take: the helpers' own (UDP 500, 1701, 4500: only a session of their own
     * protocol may keep them) and the ports the router itself listens on (never). One bit per (space, port) for
     * each of {@link #RESERVED_HELPER} and {@link #RESERVED_LISTENER} (96 KB for all six spaces).
     */
    private final long[] helperPorts = new long[Protocols.SPACES << 10];
    private final long[] listenerPorts = new long[Protocols.SPACES << 10];
    public static final int RESERVED_HELPER = 1;
    public static final int RESERVED_LISTENER = 2;
    /** Ports the first shard owns whatever their low bits (the helpers' ports: their traffic is queued there). */
    private final int[] firstShardPorts = new int[8];
    private final int[] firstShardSpaces = new int[8];
    private int firstShardCount;
    private final int portMin;
    private final int portMax;
    private final boolean parity;
    private final int shard;
    private final int shardMask;
    private final SplittableRandom random;
    /**
     * Ports still free, per space, range (0: 1..1023, 1: the configured range) and parity: an exhausted
     * range fails at once instead of probing every port for each refused session.
     */
    private final int[][][] available = new int[Protocols.SPACES][2][2];
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
        helper = new int[capacity];
        next = new int[capacity];
        extKey = new int[capacity];
        portSlots = new int[MapSizes.slotsFor(capacity)];
        portMask = portSlots.length - 1;
        for (int i = 0; i < capacity; i++)
        {
            next[i] = i + 1 < capacity ? i + 1 : NONE;
        }
        byInternal = MapSizes.map(capacity, -1L);
        for (int space = 0; space < Protocols.SPACES; space++)
        {
            for (int p = 1; p <= 65535; p++)
            {
                if (eligible(space, p))
                {
                    available[space][rangeOf(space, p)][p & 1]++;
                }
            }
        }
    }

    /** Which allocation range a port belongs to: 0 for 1..1023, 1 for the configured range (ICMP: all ids). */
    private int rangeOf(final int space, final int port)
    {
        return space == Protocols.SPACE_ICMP || port >= 1024 ? 1 : 0;
    }

    private boolean eligible(final int space, final int port)
    {
        final boolean inRange = space == Protocols.SPACE_ICMP || port < 1024 || (port >= portMin && port <= portMax);
        return inRange && reservedBits(space, port) == 0 && ownsPort(space, port);
    }

    /** The reservation bits of a port ({@link #RESERVED_HELPER}, {@link #RESERVED_LISTENER}). */
    private int reservedBits(final int space, final int port)
    {
        final int word = (space << 10) | (port >>> 6);
        final long bit = 1L << port;
        return ((helperPorts[word] & bit) != 0 ? RESERVED_HELPER : 0)
            | ((listenerPorts[word] & bit) != 0 ? RESERVED_LISTENER : 0);
    }

    private static int slotOf(final int key, final int mask)
    {
        final int h = key * 0x9E3779B9;
        return (h ^ h >>> 16) & mask;
    }

    /** The mapping owning (space, port), or {@link #NONE}. */
    private int owner(final int space, final int port)
    {
        final int key = (space << 16) | port;
        final int[] slots = portSlots;
        int i = slotOf(key, portMask);
        int v;
        while ((v = slots[i]) != 0)
        {
            if (extKey[v - 1] == key)
            {
                return v - 1;
            }
            i = (i + 1) & portMask;
        }
        return NONE;
    }

    private void own(final int m, final int space, final int port)
    {
        final int key = (space << 16) | port;
        extKey[m] = key;
        int i = slotOf(key, portMask);
        while (portSlots[i] != 0)
        {
            i = (i + 1) & portMask;
        }
        portSlots[i] = m + 1;
    }

    /** Frees mapping m's port: backward-shift deletion keeps every other key reachable from its home slot. */
    private void disown(final int m)
    {
        final int key = extKey[m];
        int i = slotOf(key, portMask);
        while (portSlots[i] != m + 1)
        {
            if (portSlots[i] == 0)
            {
                return;
            }
            i = (i + 1) & portMask;
        }
        int hole = i;
        int j = i;
        while (true)
        {
            j = (j + 1) & portMask;
            final int v = portSlots[j];
            if (v == 0)
            {
                break;
            }
            final int home = slotOf(extKey[v - 1], portMask);
            // move v into the hole unless its home lies cyclically in (hole, j]
            if (((j - home) & portMask) >= ((j - hole) & portMask))
            {
                portSlots[hole] = v;
                hole = j;
            }
        }
        portSlots[hole] = 0;
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

    /** Sets or clears reservation bits ({@link #RESERVED_HELPER}, {@link #RESERVED_LISTENER}) of a port. */
    public void reserve(final int space, final int port, final int bits, final boolean value)
    {
        final boolean wasEligible = eligible(space, port) && owner(space, port) == NONE;
        final int word = (space << 10) | (port >>> 6);
        final long bit = 1L << port;
        if ((bits & RESERVED_HELPER) != 0)
        {
            helperPorts[word] = value ? helperPorts[word] | bit : helperPorts[word] & ~bit;
        }
        if ((bits & RESERVED_LISTENER) != 0)
        {
            listenerPorts[word] = value ? listenerPorts[word] | bit : listenerPorts[word] & ~bit;
        }
        final boolean isEligible = eligible(space, port) && owner(space, port) == NONE;
        if (wasEligible != isEligible)
        {
            available[space][rangeOf(space, port)][port & 1] += isEligible ? 1 : -1;
        }
    }

    /**
     * Makes the first shard the owner of {@code port} whatever its low bits (the helpers' ports, whose traffic
     * the queue rules send to the first queue). Call before the first mapping.
     */
    public void assignToFirstShard(final int space, final int port)
    {
        final boolean wasEligible = eligible(space, port);
        firstShardSpaces[firstShardCount] = space;
        firstShardPorts[firstShardCount++] = port;
        final boolean isEligible = eligible(space, port);
        if (wasEligible != isEligible)
        {
            available[space][rangeOf(space, port)][port & 1] += isEligible ? 1 : -1;
        }
    }

    /** Free ports left for a new mapping from an internal port like {@code port} (same range). */
    public int available(final int space, final int port)
    {
        final int[] byParity = available[space][rangeOf(space, port)];
        return byParity[0] + byParity[1];
    }

    public boolean isReserved(final int space, final int port)
    {
        return reservedBits(space, port) != 0;
    }

    /** Whether the router itself listens on the port (reserved with {@link #RESERVED_LISTENER}). */
    public boolean isRouterPort(final int space, final int port)
    {
        return (reservedBits(space, port) & RESERVED_LISTENER) != 0;
    }

    public int find(final int proto, final int addr, final int port)
    {
        return (int)byInternal.get(key(proto, addr, port));
    }

    /** The mapping owning an external port, or {@link #NONE}. */
    public int byExternal(final int space, final int port)
    {
        return owner(space, port & 0xFFFF);
    }

    public boolean isFree(final int space, final int port)
    {
        return owner(space, port) == NONE;
    }

    /** True when this shard may hand out {@code port} of {@code space}. */
    public boolean ownsPort(final int space, final int port)
    {
        if (shardMask == 0)
        {
            return true;
        }
        for (int i = 0; i < firstShardCount; i++)
        {
            if (firstShardPorts[i] == port && firstShardSpaces[i] == space)
            {
                return shard == 0;
            }
        }
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
        return create(proto, space, addr, port, false);
    }

    /**
     * As {@link #create(int, int, int, int)}; {@code ownProtocol}: the session is of the protocol a helper port
     * is reserved for, so that port may be kept (a listener's port never is).
     */
    public int create(final int proto, final int space, final int addr, final int port, final boolean ownProtocol)
    {
        if (freeHead == NONE)
        {
            return NONE;
        }
        final int ext = allocate(space, port, ownProtocol);
        if (ext < 0)
        {
            return NONE;
        }
        return createWith(proto, space, addr, port, ext);
    }

    /** Creates a mapping on a given external port (a helper's choice); the port must be free. */
    public int createWith(final int proto, final int space, final int addr, final int port, final int ext)
    {
        if (freeHead == NONE || owner(space, ext) != NONE)
        {
            return NONE;
        }
        final int m = freeHead;
        freeHead = next[m];
        next[m] = NONE;
        if (eligible(space, ext))
        {
            available[space][rangeOf(space, ext)][ext & 1]--;
        }
        protocol[m] = proto;
        intAddr[m] = addr;
        intPort[m] = port;
        extPort[m] = ext;
        flows[m] = 0;
        helper[m] = 0;
        own(m, space, ext);
        byInternal.put(key(proto, addr, port), m);
        size++;
        return m;
    }

    public boolean isFull()
    {
        return freeHead == NONE;
    }

    private int allocate(final int space, final int port, final boolean ownProtocol)
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
        final int blocking = ownProtocol ? RESERVED_LISTENER : RESERVED_HELPER | RESERVED_LISTENER;
        if (port >= lo && port <= hi && (reservedBits(space, port) & blocking) == 0 && ownsPort(space, port)
            && owner(space, port) == NONE)
        {
            lastPreserved = true;
            return port;
        }
        lastPreserved = false;
        final boolean keepParity = parity && !queryId;
        final int[] left = available[space][rangeOf(space, port)];
        if ((keepParity ? left[port & 1] : left[0] + left[1]) == 0)
        {
            return -1;
        }
        final int span = hi - lo + 1;
        final int start = lo + random.nextInt(span);
        for (int i = 0; i < span; i++)
        {
            int p = start + i;
            if (p > hi)
            {
                p -= span;
            }
            if ((!keepParity || ((p ^ port) & 1) == 0) && reservedBits(space, p) == 0 && ownsPort(space, p)
                && owner(space, p) == NONE)
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
            disown(m);
            if (eligible(space, extPort[m]))
            {
                available[space][rangeOf(space, extPort[m])][extPort[m] & 1]++;
            }
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

    /** The helper following the mapping's sessions (1-based; 0 = none). */
    public int helper(final int m)
    {
        return helper[m];
    }

    public void helper(final int m, final int index)
    {
        helper[m] = index;
    }
}

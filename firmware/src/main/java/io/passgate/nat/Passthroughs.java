package io.passgate.nat;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import io.passgate.counters.Counter;

/**
 * Every passthrough switch the registered helpers declare, in registration order, with the lookups derived
 * from them: which switch covers a server port or an IP protocol, which UDP ports the helpers serve or keep,
 * what the queue rules send to the helpers' queue. Immutable; one instance for the process
 * ({@code io.passgate.alg.Helpers#PASSTHROUGHS}).
 */
public final class Passthroughs
{
    public static final int NONE = -1;

    private final List<HelperSpec> specs;
    private final Passthrough[] all;
    private final int[] parent;
    private final int[] tcpPorts;
    private final int[] tcpPortSwitch;
    private final int[] udpPorts;
    private final int[] udpPortSwitch;
    private final int[] protocols;
    private final int[] protocolSwitch;
    private final int[] sharedUdpPorts;
    private final int[] keptUdpPorts;
    private final int[] sharedUdpHelper;
    private final int[] queuedUdpPorts;
    private final int[] queuedTcpPorts;

    private Passthroughs(final List<HelperSpec> specs)
    {
        this.specs = List.copyOf(specs);
        final List<Passthrough> list = new ArrayList<>();
        for (final HelperSpec spec : specs)
        {
            list.addAll(spec.passthroughs());
        }
        all = list.toArray(Passthrough[]::new);
        parent = new int[all.length];
        final List<int[]> tcp = new ArrayList<>();
        final List<int[]> udp = new ArrayList<>();
        final List<int[]> proto = new ArrayList<>();
        final TreeSet<Integer> queuedUdp = new TreeSet<>();
        final TreeSet<Integer> queuedTcp = new TreeSet<>();
        for (int i = 0; i < all.length; i++)
        {
            final Passthrough p = all[i];
            parent[i] = p.parent() == null ? NONE : index(p.parent());
            if (p.parent() != null && parent[i] == NONE)
            {
                throw new IllegalArgumentException("passthrough " + p.name() + ": no parent " + p.parent());
            }
            for (final int port : p.tcpServerPorts())
            {
                tcp.add(new int[] {port, i});
                queuedTcp.add(port);
            }
            for (final int port : p.udpServerPorts())
            {
                udp.add(new int[] {port, i});
                queuedUdp.add(port);
            }
            for (final int protocol : p.protocols())
            {
                proto.add(new int[] {protocol, i});
            }
        }
        tcpPorts = column(tcp, 0);
        tcpPortSwitch = column(tcp, 1);
        udpPorts = column(udp, 0);
        udpPortSwitch = column(udp, 1);
        protocols = column(proto, 0);
        protocolSwitch = column(proto, 1);
        final List<int[]> shared = new ArrayList<>();
        final TreeSet<Integer> kept = new TreeSet<>();
        for (int h = 0; h < specs.size(); h++)
        {
            for (final int port : specs.get(h).sharedUdpPorts())
            {
                shared.add(new int[] {port, h});
                queuedUdp.add(port);
            }
            for (final int port : specs.get(h).keptUdpPorts())
            {
                kept.add(port);
                queuedUdp.add(port);
            }
        }
        sharedUdpPorts = column(shared, 0);
        sharedUdpHelper = column(shared, 1);
        keptUdpPorts = kept.stream().mapToInt(Integer::intValue).toArray();
        queuedUdpPorts = queuedUdp.stream().mapToInt(Integer::intValue).toArray();
        queuedTcpPorts = queuedTcp.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int[] column(final List<int[]> rows, final int c)
    {
        final int[] out = new int[rows.size()];
        for (int i = 0; i < out.length; i++)
        {
            out[i] = rows.get(i)[c];
        }
        return out;
    }

    public static Passthroughs of(final List<HelperSpec> specs)
    {
        return new Passthroughs(specs);
    }

    public List<HelperSpec> specs()
    {
        return specs;
    }

    public int count()
    {
        return all.length;
    }

    public Passthrough get(final int index)
    {
        return all[index];
    }

    public String name(final int index)
    {
        return all[index].name();
    }

    /** The switch names in registration order. */
    public List<String> names()
    {
        final List<String> names = new ArrayList<>();
        for (final Passthrough p : all)
        {
            names.add(p.name());
        }
        return names;
    }

    /** The index of switch {@code name}, {@link #NONE} when no helper declares it. */
    public int index(final String name)
    {
        for (int i = 0; i < all.length; i++)
        {
            if (all[i].name().equals(name))
            {
                return i;
            }
        }
        return NONE;
    }

    /** The switch a switch needs on, {@link #NONE} when none. */
    public int parent(final int index)
    {
        return parent[index];
    }

    /** The tunnel groups (a switch's tunnels are reported with its group), in registration order, once each. */
    public List<String> tunnelGroups()
    {
        final List<String> groups = new ArrayList<>();
        for (final Passthrough p : all)
        {
            if (!groups.contains(p.tunnelGroup()))
            {
                groups.add(p.tunnelGroup());
            }
        }
        return groups;
    }

    /** The gauge counting a tunnel group's live tunnels. */
    public Counter tunnelCounter(final String group)
    {
        for (final Passthrough p : all)
        {
            if (p.tunnelGroup().equals(group))
            {
                return p.tunnels();
            }
        }
        throw new IllegalArgumentException("no tunnel group " + group);
    }

    /** The switch covering a TCP/UDP session to (or, inbound, from) server port {@code port}, or {@link #NONE}. */
    public int ofPort(final int protocol, final int port)
    {
        if (protocol == Protocols.TCP)
        {
            return find(tcpPorts, tcpPortSwitch, port);
        }
        return protocol == Protocols.UDP ? find(udpPorts, udpPortSwitch, port) : NONE;
    }

    /** The switch covering a port-less IP protocol ({@code greVersion1}: GRE carrying PPTP), or {@link #NONE}. */
    public int ofProtocol(final int protocol, final boolean greVersion1)
    {
        final int code = protocol == Protocols.GRE && greVersion1 ? Passthrough.ENHANCED_GRE : protocol;
        return find(protocols, protocolSwitch, code);
    }

    private static int find(final int[] keys, final int[] values, final int key)
    {
        for (int i = 0; i < keys.length; i++)
        {
            if (keys[i] == key)
            {
                return values[i];
            }
        }
        return NONE;
    }

    /** The helper (index in {@link #specs()}) serving external UDP port {@code port}, or {@link #NONE}. */
    public int sharedPortHelper(final int port)
    {
        return find(sharedUdpPorts, sharedUdpHelper, port);
    }

    /** The UDP ports a helper serves itself (sorted). */
    public int[] sharedUdpPorts()
    {
        return sharedUdpPorts.clone();
    }

    /** The UDP ports only their own protocol may keep (sorted). */
    public int[] keptUdpPorts()
    {
        return keptUdpPorts.clone();
    }

    /** The UDP ports whose traffic the helpers see (the queue rules send it to the first queue), sorted. */
    public int[] queuedUdpPorts()
    {
        return queuedUdpPorts.clone();
    }

    /** The TCP server ports whose traffic the helpers see, sorted. */
    public int[] queuedTcpPorts()
    {
        return queuedTcpPorts.clone();
    }

    /**
     * Whether a session from client port {@code sport} to server port {@code dport} may keep {@code sport}, a
     * port reserved for the helpers' protocols: only when both belong to the same helper (NAT-T from 4500 to
     * 4500, L2TP from 1701 to 1701) and no helper serves that port itself.
     */
    public boolean ownProtocolPort(final int protocol, final int sport, final int dport)
    {
        if (protocol != Protocols.UDP || sharedPortHelper(sport) != NONE)
        {
            return false;   // a shared port is never a mapping's: its helper serves it
        }
        final int mine = helperOfUdpPort(sport);
        return mine != NONE && mine == helperOfUdpPort(dport);
    }

    private int helperOfUdpPort(final int port)
    {
        for (int h = 0; h < specs.size(); h++)
        {
            final HelperSpec spec = specs.get(h);
            if (contains(spec.sharedUdpPorts(), port) || contains(spec.keptUdpPorts(), port))
            {
                return h;
            }
            for (final Passthrough p : spec.passthroughs())
            {
                if (contains(p.udpServerPorts(), port))
                {
                    return h;
                }
            }
        }
        return NONE;
    }

    private static boolean contains(final int[] values, final int value)
    {
        for (final int v : values)
        {
            if (v == value)
            {
                return true;
            }
        }
        return false;
    }
}

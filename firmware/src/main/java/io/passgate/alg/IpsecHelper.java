package io.passgate.alg;

import java.nio.ByteOrder;
import java.util.List;

import io.passgate.config.PassgateContext;
import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.FlowTable;
import io.passgate.nat.Helper;
import io.passgate.nat.HelperHost;
import io.passgate.nat.HelperSpec;
import io.passgate.nat.Passthrough;
import io.passgate.nat.PassthroughPolicy;
import io.passgate.nat.Protocols;
import io.passgate.nat.TunnelSink;
import io.passgate.nfq.PacketHandler;
import io.passgate.wire.EspHeader;
import io.passgate.wire.IkeHeader;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.UdpHeader;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * IPsec passthrough (RFC 7296 and RFC 2408/2409 for IKE, RFC 3947/3948 for NAT-T, RFC 4303 for ESP): several
 * LAN clients to one server, each keeping UDP 500, each with its own plain ESP.
 *
 * <p><b>IKE on UDP 500.</b> Every client keeps source port 500 towards every server: the external port 500 is
 * shared, served by this helper (never a mapping). A client's messages teach it the IKE SPIs (the initiator
 * SPI or IKEv1 cookie of the client's first message, the responder's from any later one; both are random 64-bit
 * values); a message from a server to port 500 goes to the client whose SPI it carries. A message with unknown
 * SPIs goes to the server's only IKE client, else it is dropped and counted (after a rekey, the client's first
 * message with the new SPIs teaches them). IKE payloads are never changed: NAT-D hashes stay true, so the peers
 * detect the NAT and float to 4500. A client talking IKE from another port, or the router itself listening on
 * 500, gets a mapping as any UDP session.
 *
 * <p><b>NAT-T on UDP 4500.</b> After the float, a client's 4500 keeps its port where it is free; a later
 * client to the same server gets another (RFC 3947 lets the peers use whatever port they see; the server
 * answers to it). IKE (after the non-ESP marker) and UDP-encapsulated ESP are then told apart by port, with no
 * guessing; keepalives refresh the mapping like any datagram.
 *
 * <p><b>Plain ESP (IP 50).</b> Outbound, a security association is keyed by (client, server, SPI), the SPI the
 * server chose; inbound by (server, SPI), the SPI the client chose, which the NAT can only learn from the first
 * inbound packet. An inbound SPI not yet known is bound to the client that is <em>waiting</em> on that server:
 * the one whose outbound SPI is new (a new or rekeyed SA, or manual keys) or whose IKE exchange that creates
 * SAs (IKE_AUTH, CREATE_CHILD_SA, Quick Mode) it has just sent, for {@link #WAIT_MS}. Never two clients wait on
 * one server at once: while one waits, another client's packet that would start waiting (its new SA's first
 * ESP, its SA-creating IKE message) is <em>held</em> (copied, dropped from the queue) and sent on when the
 * first is bound or its wait is over, so an inbound SPI is never guessed. With no client waiting, an unknown
 * inbound SPI goes to the server's only IPsec client, else it is dropped and counted, until the client sends on
 * that SA: a client sending on an SA whose inbound SPI is still unknown (the server did not answer within the
 * wait) waits again when nobody waits on that server and nothing is held for it (a running wait is not
 * extended, so the others' turns still come). ESP security associations expire after {@link #ESP_TIMEOUT_MS}
 * idle. AH passes as address-only NAT, one client per server (it authenticates the addresses, so it cannot
 * cross a NAT anyway).
 */
public final class IpsecHelper implements Helper
{
    /** How long a client waits for the first inbound packet of its new SA before another client's turn. */
    public static final long WAIT_MS = 3000;
    /** An ESP security association that carried nothing for this long ends (it is learnt again with traffic). */
    public static final long ESP_TIMEOUT_MS = 30 * 60_000;
    /** A held packet older than this is dropped (counted). */
    public static final long HOLD_MAX_MS = 10_000;
    static final int HOLD_SLOTS = 64;
    static final int HOLD_BYTES = 2048;
    private static final int IKE_PORT = 500;
    private static final int NATT_PORT = 4500;
    private static final int NONE = -1;
    private static final int SPI_PROBES = 16;
    private static final long SWEEP_MS = 250;

    /** What IPsec passthrough is: two switches (NAT-T needs IPsec), shared port 500, kept port 4500. */
    public static final HelperSpec SPEC = new HelperSpec("ipsec",
        List.of(new Passthrough("ipsec", null, "UDP 500 (IKE), ESP (IP 50) and AH (IP 51)", new int[0],
                new int[] {IKE_PORT}, new int[] {Protocols.ESP, Protocols.AH}, Counter.TUNNELS_IPSEC, "ipsec"),
            new Passthrough("natt", "ipsec", "UDP 4500 (IKE and ESP over NAT-T; on only while ipsec is on)",
                new int[0], new int[] {NATT_PORT}, new int[0], Counter.TUNNELS_IPSEC, "ipsec")),
        new int[] {IKE_PORT}, new int[] {NATT_PORT},
        List.of(new HelperSpec.TunnelKind("ipsec", List.of("client-port", "wan-port", "ike-initiator-spi",
            "ike-responder-spi", "esp-out-spi", "esp-in-spi"))));

    private final int maxTunnels;
    private HelperHost host;
    private FlowTable flows;
    private CounterSet counters;
    private int index;
    private int ipsec;
    private int natt;

    // tunnels: one per (client, server), its sessions' count, what it last showed
    private final int[] tunClient;
    private final int[] tunServer;
    private final int[] tunFlows;
    private final long[] tunIkeI;
    private final long[] tunIkeR;
    private final int[] tunEspOut;
    private final int[] tunEspIn;
    private final int[] tunPort;
    private final int[] tunWanPort;
    private final long[] tunCreated;
    private final int[] tunNext;
    private int tunFree;
    private int tunLive;
    private final Long2LongHashMap tunnelIndex;
    /** Server to its number of tunnels (its IPsec clients). */
    private final Long2LongHashMap serverTunnels;
    // collection scratch: traffic summed over a tunnel's sessions
    private final long[] sumPacketsOut;
    private final long[] sumBytesOut;
    private final long[] sumPacketsIn;
    private final long[] sumBytesIn;
    private final long[] sumLastSeen;

    // IKE SPIs seen on the shared port 500: (server, SPI) to the session, checked on use
    private final int spiMask;
    private final int[] spiServer;
    private final long[] spiValue;
    private final int[] spiFlow;
    private final int[] spiClient;

    // the client waiting on each server for its first inbound ESP, and since when
    private final Long2LongHashMap waiting;
    private final int[] waitServer;
    private final int[] waitClient;
    private final int[] waitFlow;
    private final long[] waitSince;
    private final int[] waitNext;
    private int waitFree;

    // held packets (already translated), in arrival order
    private final int[] holdServer = new int[HOLD_SLOTS];
    private final int[] holdClient = new int[HOLD_SLOTS];
    private final int[] holdLength = new int[HOLD_SLOTS];
    private final int[] holdSpi = new int[HOLD_SLOTS];
    private final long[] holdAt = new long[HOLD_SLOTS];
    private final boolean[] holdEsp = new boolean[HOLD_SLOTS];
    private final boolean[] holdUsed = new boolean[HOLD_SLOTS];
    private final UnsafeBuffer held = new UnsafeBuffer(new byte[HOLD_SLOTS * HOLD_BYTES]);
    private long holdSequence;
    private final long[] holdOrder = new long[HOLD_SLOTS];

    private final Ipv4Header heldIp = new Ipv4Header();
    private final UdpHeader udp = new UdpHeader();
    private final IkeHeader ike = new IkeHeader();
    private final EspHeader esp = new EspHeader();
    private long now;
    private long nextSweepMs;

    public IpsecHelper(final int maxTunnels)
    {
        this.maxTunnels = maxTunnels;
        tunClient = new int[maxTunnels];
        tunServer = new int[maxTunnels];
        tunFlows = new int[maxTunnels];
        tunIkeI = new long[maxTunnels];
        tunIkeR = new long[maxTunnels];
        tunEspOut = new int[maxTunnels];
        tunEspIn = new int[maxTunnels];
        tunPort = new int[maxTunnels];
        tunWanPort = new int[maxTunnels];
        tunCreated = new long[maxTunnels];
        tunNext = new int[maxTunnels];
        sumPacketsOut = new long[maxTunnels];
        sumBytesOut = new long[maxTunnels];
        sumPacketsIn = new long[maxTunnels];
        sumBytesIn = new long[maxTunnels];
        sumLastSeen = new long[maxTunnels];
        for (int t = 0; t < maxTunnels; t++)
        {
            tunNext[t] = t + 1 < maxTunnels ? t + 1 : NONE;
            tunServer[t] = 0;
        }
        final int mapCapacity = Integer.highestOneBit(Math.max(16, maxTunnels * 2) * 2 - 1);
        tunnelIndex = new Long2LongHashMap(mapCapacity, 0.65f, NONE, true);
        serverTunnels = new Long2LongHashMap(mapCapacity, 0.65f, 0, true);
        final int spiSlots = Integer.highestOneBit(Math.max(64, maxTunnels * 4) * 2 - 1);
        spiMask = spiSlots - 1;
        spiServer = new int[spiSlots];
        spiValue = new long[spiSlots];
        spiFlow = new int[spiSlots];
        spiClient = new int[spiSlots];
        java.util.Arrays.fill(spiFlow, NONE);
        waiting = new Long2LongHashMap(mapCapacity, 0.65f, NONE, true);
        waitServer = new int[maxTunnels];
        waitClient = new int[maxTunnels];
        waitFlow = new int[maxTunnels];
        waitSince = new long[maxTunnels];
        waitNext = new int[maxTunnels];
        for (int w = 0; w < maxTunnels; w++)
        {
            waitNext[w] = w + 1 < maxTunnels ? w + 1 : NONE;
        }
    }

    /** The helper as the configuration sets it up: room for a tunnel per 16 sessions. */
    public static IpsecHelper create(final PassgateContext ctx, final long seed)
    {
        return new IpsecHelper(Math.max(64, ctx.natMaxFlows() / 16));
    }

    @Override
    public HelperSpec spec()
    {
        return SPEC;
    }

    @Override
    public void attach(final HelperHost host, final int index)
    {
        this.host = host;
        this.flows = host.flows();
        this.counters = host.counters();
        this.index = index;
        this.ipsec = host.passthrough().layout().index("ipsec");
        this.natt = host.passthrough().layout().index("natt");
    }

    /** Live tunnels (client-server pairs with IPsec state). */
    public int liveTunnels()
    {
        return tunLive;
    }

    // ------------------------------------------------------------------------------------------- tunnels

    private static long pair(final int client, final int server)
    {
        return ((client & 0xFFFF_FFFFL) << 32) | (server & 0xFFFF_FFFFL);
    }

    /** The tunnel of (client, server), made when new; NONE when the tunnel table is full (counted). */
    private int tunnel(final int client, final int server)
    {
        final long key = pair(client, server);
        final long t = tunnelIndex.get(key);
        if (t != NONE)
        {
            return (int)t;
        }
        final int n = tunFree;
        if (n == NONE)
        {
            counters.increment(Counter.DROP_IPSEC_LIMIT);
            return NONE;
        }
        tunFree = tunNext[n];
        tunNext[n] = NONE;
        tunClient[n] = client;
        tunServer[n] = server;
        tunFlows[n] = 0;
        tunIkeI[n] = 0;
        tunIkeR[n] = 0;
        tunEspOut[n] = 0;
        tunEspIn[n] = 0;
        tunPort[n] = 0;
        tunWanPort[n] = 0;
        tunCreated[n] = now;
        tunnelIndex.put(key, n);
        serverTunnels.put(server, serverTunnels.get(server) + 1);
        tunLive++;
        counters.set(Counter.TUNNELS_IPSEC, tunLive);
        return n;
    }

    /** Binds session {@code f} to its tunnel (once); false when no tunnel is left. */
    private boolean join(final int f)
    {
        if (flows.algData(f) != 0)
        {
            return true;
        }
        final int t = tunnel(flows.intAddr(f), flows.remAddr(f));
        if (t == NONE)
        {
            return false;
        }
        tunFlows[t]++;
        flows.algData(f, t + 1);
        return true;
    }

    private void leave(final int t)
    {
        if (--tunFlows[t] > 0)
        {
            return;
        }
        final int server = tunServer[t];
        tunnelIndex.remove(pair(tunClient[t], server));
        final long left = serverTunnels.get(server) - 1;
        if (left <= 0)
        {
            serverTunnels.remove(server);
        }
        else
        {
            serverTunnels.put(server, left);
        }
        tunNext[t] = tunFree;
        tunFree = t;
        tunLive--;
        counters.set(Counter.TUNNELS_IPSEC, tunLive);
    }

    /** The server's only IPsec client, 0 when it has none or several. */
    private int onlyClient(final int server)
    {
        if (serverTunnels.get(server) != 1)
        {
            return 0;
        }
        for (int t = 0; t < maxTunnels; t++)
        {
            if (tunFlows[t] > 0 && tunServer[t] == server)
            {
                return tunClient[t];
            }
        }
        return 0;
    }

    // ------------------------------------------------------------------------------------- IKE SPI index

    private int spiSlot(final int server, final long spi)
    {
        long h = (spi ^ ((long)server * 0x9E3779B97F4A7C15L)) * 0xC2B2AE3D27D4EB4FL;
        h ^= h >>> 31;
        return (int)h & spiMask;
    }

    private boolean spiEntryLive(final int slot)
    {
        final int f = spiFlow[slot];
        return f >= 0 && flows.inUse(f) && flows.protocol(f) == Protocols.UDP && flows.intAddr(f) == spiClient[slot]
            && flows.remAddr(f) == spiServer[slot] && flows.extPort(f) == IKE_PORT;
    }

    /** Remembers that the IKE SPI {@code spi} with {@code server} belongs to session {@code f}. */
    private void learnSpi(final int server, final long spi, final int f)
    {
        if (spi == 0)
        {
            return;
        }
        final int home = spiSlot(server, spi);
        int free = NONE;
        for (int i = 0; i < SPI_PROBES; i++)
        {
            final int s = (home + i) & spiMask;
            if (spiValue[s] == spi && spiServer[s] == server)
            {
                if (spiFlow[s] != f)
                {
                    spiFlow[s] = f;
                    spiClient[s] = flows.intAddr(f);
                }
                return;
            }
            if (free == NONE && !spiEntryLive(s))
            {
                free = s;
            }
        }
        final int s = free == NONE ? home : free;   // all live: the oldest home slot gives way
        spiServer[s] = server;
        spiValue[s] = spi;
        spiFlow[s] = f;
        spiClient[s] = flows.intAddr(f);
        counters.increment(Counter.IPSEC_IKE_SPIS_LEARNT);
    }

    private int findSpi(final int server, final long spi)
    {
        if (spi == 0)
        {
            return NONE;
        }
        final int home = spiSlot(server, spi);
        for (int i = 0; i < SPI_PROBES; i++)
        {
            final int s = (home + i) & spiMask;
            if (spiValue[s] == spi && spiServer[s] == server && spiEntryLive(s))
            {
                return spiFlow[s];
            }
        }
        return NONE;
    }

    // ------------------------------------------------------------------------------------- IKE and NAT-T

    /**
     * UDP to port 500 from port 500: served on the shared external port 500 (unless the router itself listens
     * there); other IKE and NAT-T sessions are mapped as usual and followed.
     */
    @Override
    public int claimOutbound(final int protocol, final int src, final int sport, final int dst, final int dport,
        final Ipv4Header packet)
    {
        if (protocol != Protocols.UDP || (dport != IKE_PORT && dport != NATT_PORT))
        {
            return NOT_MINE;
        }
        if (dport != IKE_PORT || sport != IKE_PORT || !host.mayShare(Protocols.UDP, IKE_PORT))
        {
            return FOLLOW;
        }
        now = host.now();
        final int f = host.createSession(Protocols.UDP, src, IKE_PORT, IKE_PORT, dst, IKE_PORT, false);
        if (f < 0)
        {
            return REFUSE;
        }
        if (!join(f))
        {
            host.removeSession(f);
            return REFUSE;
        }
        return f;
    }

    /** A packet from a server to the shared port 500: the client whose IKE SPIs it carries. */
    @Override
    public int demuxInbound(final Ipv4Header ip, final int l4Offset, final int l4Length)
    {
        if (!udp.wrap(ip.buffer(), l4Offset, l4Length) || !ike.wrap(ip.buffer(), udp.payloadOffset(), udp.payloadLength()))
        {
            counters.increment(Counter.DROP_IKE_MALFORMED);
            return REFUSE;
        }
        now = host.now();
        final int server = ip.source();
        final int sport = udp.sourcePort();
        int f = findSpi(server, ike.initiatorSpi());
        if (f == NONE)
        {
            f = findSpi(server, ike.responderSpi());
        }
        if (f == NONE)
        {
            final int client = onlyClient(server);
            f = client == 0 ? NONE : flows.findOutbound(Protocols.UDP, client, IKE_PORT, server, sport);
            if (f == NONE || flows.extPort(f) != IKE_PORT)
            {
                counters.increment(Counter.DROP_IKE_UNKNOWN_SPI);
                return REFUSE;
            }
        }
        if (flows.remPort(f) != sport)
        {
            counters.increment(Counter.DROP_IKE_UNKNOWN_SPI);
            return REFUSE;
        }
        return f;
    }

    @Override
    public int outbound(final int flow, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean partialChecksum, final long nowMs)
    {
        now = nowMs;
        if (!join(flow))
        {
            return PacketHandler.VERDICT_DROP;
        }
        return ikeOrNatt(flow, ip, l4Offset, l4Length, true);
    }

    @Override
    public int inbound(final int flow, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean partialChecksum, final long nowMs)
    {
        now = nowMs;
        if (!join(flow))
        {
            return PacketHandler.VERDICT_DROP;
        }
        return ikeOrNatt(flow, ip, l4Offset, l4Length, false);
    }

    /**
     * Reads an IKE or NAT-T datagram of session {@code f} (already translated): learns its SPIs for the shared
     * port and the listing; an outbound message of an exchange that creates SAs makes its client wait for the
     * server's first ESP, or is held while another client waits.
     */
    private int ikeOrNatt(final int f, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean outbound)
    {
        if (!udp.wrap(ip.buffer(), l4Offset, l4Length))
        {
            return CONTINUE;
        }
        final int t = flows.algData(f) - 1;
        tunPort[t] = flows.intPort(f);
        tunWanPort[t] = flows.extPort(f);
        final boolean natT = flows.remPort(f) == NATT_PORT;
        int at = udp.payloadOffset();
        int length = udp.payloadLength();
        if (natT)
        {
            if (length == 1)
            {
                return CONTINUE;   // NAT-keepalive (0xFF): it only refreshes the mapping
            }
            if (length >= IkeHeader.NON_ESP_MARKER && ip.buffer().getInt(at) != 0)
            {
                // UDP-encapsulated ESP: its SPI for the listing
                final int spi = ip.buffer().getInt(at, ByteOrder.BIG_ENDIAN);
                if (outbound)
                {
                    tunEspOut[t] = spi;
                }
                else
                {
                    tunEspIn[t] = spi;
                }
                return CONTINUE;
            }
            at += IkeHeader.NON_ESP_MARKER;
            length -= IkeHeader.NON_ESP_MARKER;
        }
        if (!ike.wrap(ip.buffer(), at, length))
        {
            counters.increment(Counter.DROP_IKE_MALFORMED);
            return CONTINUE;   // not IKE as far as passgate can tell: passed as UDP
        }
        counters.increment(Counter.IPSEC_IKE_MESSAGES);
        tunIkeI[t] = ike.initiatorSpi();
        if (ike.responderSpi() != 0)
        {
            tunIkeR[t] = ike.responderSpi();
        }
        final int server = flows.remAddr(f);
        if (flows.extPort(f) == IKE_PORT && flows.mapping(f) < 0)
        {
            learnSpi(server, ike.initiatorSpi(), f);
            learnSpi(server, ike.responderSpi(), f);
        }
        if (outbound && !natT && ike.createsSas())
        {
            final int client = flows.intAddr(f);
            if (!awaitTurn(server, client, NONE))
            {
                return hold(ip, server, client, false, 0);
            }
        }
        return CONTINUE;
    }

    // ---------------------------------------------------------------------------------------- plain ESP

    @Override
    public int outboundOther(final Ipv4Header ip, final long nowMs)
    {
        if (ip.protocol() != Protocols.ESP)
        {
            return NOT_MINE;   // AH and the rest: address-only NAT
        }
        now = nowMs;
        if (!esp.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength()))
        {
            counters.increment(Counter.DROP_ESP_MALFORMED);
            return PacketHandler.VERDICT_DROP;
        }
        final int client = ip.source();
        final int server = ip.destination();
        final int spi = esp.spi();
        int f = flows.findOutbound(Protocols.ESP, client, 0, server, spi);
        if (f == FlowTable.NONE)
        {
            // an SA whose inbound SPI is known already (the server spoke first) learns its outbound SPI
            f = flows.findOutbound(Protocols.ESP, client, 0, server, 0);
            if (f != FlowTable.NONE && flows.extPort(f) != 0)
            {
                host.rekeyRemotePort(f, spi);
            }
            else
            {
                ip.source(host.wanAddress());
                if (!awaitTurn(server, client, NONE))
                {
                    return hold(ip, server, client, true, spi);
                }
                f = newSa(client, server, 0, spi);
                if (f == NONE)
                {
                    return PacketHandler.VERDICT_DROP;
                }
                waitFlow[(int)waiting.get(server)] = f;
                counters.increment(Counter.IPSEC_ESP_SAS);
                host.touchOutbound(f, ip);
                tunEspOut[flows.algData(f) - 1] = spi;
                counters.increment(Counter.IPSEC_ESP_OUT);
                return PacketHandler.VERDICT_ACCEPT_MODIFIED;
            }
        }
        else if (flows.extPort(f) == 0 && waiting.get(server) == NONE && awaitTurn(server, client, f))
        {
            // the server has not answered this SA yet and its wait ran out: the next unknown SPI is its again
            counters.increment(Counter.IPSEC_WAITS_AGAIN);
        }
        host.touchOutbound(f, ip);
        ip.source(host.wanAddress());
        tunEspOut[flows.algData(f) - 1] = spi;
        counters.increment(Counter.IPSEC_ESP_OUT);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    /** A new ESP security association session of (client, server); NONE when there is no room. */
    private int newSa(final int client, final int server, final int inboundSpi, final int outboundSpi)
    {
        final int f = host.createSession(Protocols.ESP, client, 0, inboundSpi, server, outboundSpi, false);
        if (f < 0)
        {
            return NONE;
        }
        if (!join(f))
        {
            host.removeSession(f);
            return NONE;
        }
        return f;
    }

    @Override
    public int inboundOther(final Ipv4Header ip, final long nowMs)
    {
        if (ip.protocol() != Protocols.ESP)
        {
            return NOT_MINE;
        }
        now = nowMs;
        if (!esp.wrap(ip.buffer(), ip.payloadOffset(), ip.payloadLength()))
        {
            counters.increment(Counter.DROP_ESP_MALFORMED);
            return PacketHandler.VERDICT_DROP;
        }
        final int server = ip.source();
        final int spi = esp.spi();
        int f = flows.findInbound(Protocols.ESP, spi, server, 0);
        if (f == FlowTable.NONE)
        {
            f = bind(server, spi);
            if (f == NONE)
            {
                counters.increment(Counter.DROP_ESP_UNKNOWN_SPI);
                return PacketHandler.VERDICT_DROP;
            }
        }
        host.touchInbound(f, ip);
        ip.destination(flows.intAddr(f));
        tunEspIn[flows.algData(f) - 1] = spi;
        counters.increment(Counter.IPSEC_ESP_IN);
        return PacketHandler.VERDICT_ACCEPT_MODIFIED;
    }

    /**
     * An inbound SPI seen for the first time: the client waiting on the server takes it; with none waiting, the
     * server's only IPsec client; else nobody (NONE: dropped, never guessed).
     */
    private int bind(final int server, final int spi)
    {
        final long w = waiting.get(server);
        int client;
        int f = NONE;
        if (w != NONE)
        {
            client = waitClient[(int)w];
            f = waitFlow[(int)w];
            endWait(server, (int)w);
            counters.increment(Counter.IPSEC_ESP_BOUND);
        }
        else
        {
            client = onlyClient(server);
            if (client == 0)
            {
                return NONE;
            }
            counters.increment(Counter.IPSEC_ESP_BOUND_ONLY_CLIENT);
        }
        if (f != NONE && flows.inUse(f) && flows.protocol(f) == Protocols.ESP && flows.intAddr(f) == client
            && flows.extPort(f) == 0)
        {
            host.rekeyExternalPort(f, spi);
        }
        else
        {
            // no outbound packet of this SA yet: its outbound SPI is learnt from the client's first one
            f = flows.findOutbound(Protocols.ESP, client, 0, server, 0);
            if (f != FlowTable.NONE && flows.extPort(f) == 0)
            {
                host.rekeyExternalPort(f, spi);
            }
            else
            {
                f = newSa(client, server, spi, 0);
            }
        }
        releaseHeld(server);
        return f;
    }

    // ----------------------------------------------------------------------------- waiting and holding

    /**
     * Client {@code client} is about to start an SA with {@code server}: it becomes the one waiting on the
     * server, unless another client waits there (false: the caller holds the packet). A client already waiting
     * just waits on.
     */
    private boolean awaitTurn(final int server, final int client, final int flow)
    {
        final long w = waiting.get(server);
        if (w != NONE)
        {
            final int slot = (int)w;
            if (waitClient[slot] != client)
            {
                return false;
            }
            waitSince[slot] = now;
            return true;
        }
        if (hasHeld(server))
        {
            return false;   // others were first: their turn comes before this one
        }
        final int slot = waitFree;
        if (slot == NONE)
        {
            return false;
        }
        waitFree = waitNext[slot];
        waitServer[slot] = server;
        waitClient[slot] = client;
        waitFlow[slot] = flow;
        waitSince[slot] = now;
        waiting.put(server, slot);
        return true;
    }

    private void endWait(final int server, final int slot)
    {
        waiting.remove(server);
        waitNext[slot] = waitFree;
        waitFree = slot;
    }

    private boolean hasHeld(final int server)
    {
        for (int i = 0; i < HOLD_SLOTS; i++)
        {
            if (holdUsed[i] && holdServer[i] == server)
            {
                return true;
            }
        }
        return false;
    }

    /** Copies a translated packet to wait for its server's turn; the queued original is dropped. */
    private int hold(final Ipv4Header ip, final int server, final int client, final boolean isEsp, final int spi)
    {
        final int length = ip.totalLength();
        int slot = NONE;
        for (int i = 0; i < HOLD_SLOTS && slot == NONE; i++)
        {
            if (!holdUsed[i])
            {
                slot = i;
            }
        }
        if (slot == NONE || length > HOLD_BYTES)
        {
            counters.increment(Counter.DROP_IPSEC_HOLD_FULL);
            return PacketHandler.VERDICT_DROP;
        }
        held.putBytes(slot * HOLD_BYTES, ip.buffer(), ip.offset(), length);
        holdUsed[slot] = true;
        holdServer[slot] = server;
        holdClient[slot] = client;
        holdLength[slot] = length;
        holdEsp[slot] = isEsp;
        holdSpi[slot] = spi;
        holdAt[slot] = now;
        holdOrder[slot] = ++holdSequence;
        counters.increment(Counter.IPSEC_HELD);
        return PacketHandler.VERDICT_DROP;
    }

    /**
     * The server is free: its oldest held packet goes out and its client waits now; that client's other held
     * packets for the server follow it.
     */
    private void releaseHeld(final int server)
    {
        if (waiting.get(server) != NONE)
        {
            return;
        }
        int first = NONE;
        for (int i = 0; i < HOLD_SLOTS; i++)
        {
            if (holdUsed[i] && holdServer[i] == server && (first == NONE || holdOrder[i] < holdOrder[first]))
            {
                first = i;
            }
        }
        if (first == NONE)
        {
            return;
        }
        final int client = holdClient[first];
        awaitTurnNow(server, client);
        for (long order = 0; ; )
        {
            int next = NONE;
            for (int i = 0; i < HOLD_SLOTS; i++)
            {
                if (holdUsed[i] && holdServer[i] == server && holdClient[i] == client && holdOrder[i] > order
                    && (next == NONE || holdOrder[i] < holdOrder[next]))
                {
                    next = i;
                }
            }
            if (next == NONE)
            {
                break;
            }
            order = holdOrder[next];
            send(next);
        }
    }

    private void awaitTurnNow(final int server, final int client)
    {
        final int slot = waitFree;
        if (slot == NONE)
        {
            return;
        }
        waitFree = waitNext[slot];
        waitServer[slot] = server;
        waitClient[slot] = client;
        waitFlow[slot] = NONE;
        waitSince[slot] = now;
        waiting.put(server, slot);
    }

    /** Sends held packet {@code slot}; an ESP packet starts its SA's session now. */
    private void send(final int slot)
    {
        holdUsed[slot] = false;
        final int server = holdServer[slot];
        final int client = holdClient[slot];
        if (holdEsp[slot])
        {
            int f = flows.findOutbound(Protocols.ESP, client, 0, server, holdSpi[slot]);
            if (f == FlowTable.NONE)
            {
                f = newSa(client, server, 0, holdSpi[slot]);
                if (f == NONE)
                {
                    return;
                }
                final long w = waiting.get(server);
                if (w != NONE && waitClient[(int)w] == client)
                {
                    waitFlow[(int)w] = f;
                }
                counters.increment(Counter.IPSEC_ESP_SAS);
            }
            if (heldIp.wrap(held, slot * HOLD_BYTES, holdLength[slot]))
            {
                host.touchOutbound(f, heldIp);
            }
            tunEspOut[flows.algData(f) - 1] = holdSpi[slot];
            counters.increment(Counter.IPSEC_ESP_OUT);   // translated LAN to WAN like any other: the totals add up
        }
        host.send(held, slot * HOLD_BYTES, holdLength[slot], server);
        counters.increment(Counter.IPSEC_RELEASED);
    }

    /** Waits that ran out, held packets too old; each freed server's next turn. */
    @Override
    public int tick(final long nowMs)
    {
        now = nowMs;
        if (nowMs < nextSweepMs)
        {
            return 0;
        }
        nextSweepMs = nowMs + SWEEP_MS;
        int work = 0;
        for (int slot = 0; slot < maxTunnels; slot++)
        {
            final int server = waitServer[slot];
            if (server != 0 && waiting.get(server) == slot && nowMs - waitSince[slot] >= WAIT_MS)
            {
                endWait(server, slot);
                counters.increment(Counter.IPSEC_WAITS_EXPIRED);
                releaseHeld(server);
                work++;
            }
        }
        for (int i = 0; i < HOLD_SLOTS; i++)
        {
            if (holdUsed[i] && nowMs - holdAt[i] > HOLD_MAX_MS)
            {
                holdUsed[i] = false;
                counters.increment(Counter.DROP_IPSEC_HOLD_EXPIRED);
                work++;
            }
            else if (holdUsed[i] && waiting.get(holdServer[i]) == NONE)
            {
                releaseHeld(holdServer[i]);
                work++;
            }
        }
        return work;
    }

    /**
     * After a restart: the packets held for a waiting server were in the old process's memory, not in the
     * image; their slots are freed (counted as expired holds: the clients retransmit). Waits go on.
     */
    @Override
    public void afterRestore(final long nowMs)
    {
        for (int i = 0; i < HOLD_SLOTS; i++)
        {
            if (holdUsed[i])
            {
                holdUsed[i] = false;
                counters.increment(Counter.DROP_IPSEC_HOLD_EXPIRED);
            }
        }
        counters.set(Counter.TUNNELS_IPSEC, tunLive);
    }

    // ------------------------------------------------------------------------------ switches, expiry, ICMP

    @Override
    public void passthroughChanged(final PassthroughPolicy policy)
    {
        if (!policy.allows("ipsec"))
        {
            // switched off: nothing held goes out later, nobody waits
            for (int i = 0; i < HOLD_SLOTS; i++)
            {
                holdUsed[i] = false;
            }
            for (int slot = 0; slot < maxTunnels; slot++)
            {
                if (waitServer[slot] != 0 && waiting.get(waitServer[slot]) == slot)
                {
                    endWait(waitServer[slot], slot);
                }
            }
        }
    }

    @Override
    public int passthroughOf(final int flow)
    {
        return flows.protocol(flow) == Protocols.UDP && flows.remPort(flow) == NATT_PORT ? natt : ipsec;
    }

    @Override
    public long timeoutOf(final int flow)
    {
        return flows.protocol(flow) == Protocols.ESP ? ESP_TIMEOUT_MS : -1;
    }

    /**
     * An ESP SA may be offloaded once both its SPIs are known (bound both ways): the kernel then carries it by
     * (server, inbound SPI) and (client, server, outbound SPI) without a lookup here. An SA still waiting for an
     * SPI is asked again at its next packets; IKE and NAT-T (UDP, whose IKE messages this helper reads) never are.
     * A new SA (a rekey) starts in passgate like any other, so the wait, the hold and the binding stay here.
     */
    @Override
    public int offloadable(final int flow)
    {
        if (flows.protocol(flow) != Protocols.ESP)
        {
            return OFFLOAD_NEVER;
        }
        return flows.extPort(flow) != 0 && flows.remPort(flow) != 0 ? OFFLOAD_YES : OFFLOAD_NOT_YET;
    }

    @Override
    public void flowRemoved(final int flow)
    {
        final int t = flows.algData(flow) - 1;
        if (t >= 0)
        {
            flows.algData(flow, 0);
            leave(t);
        }
        final long w = waiting.get(flows.remAddr(flow));
        if (w != NONE && waitFlow[(int)w] == flow)
        {
            waitFlow[(int)w] = NONE;
        }
    }

    /**
     * An ICMP error about ESP or IKE a client sent (quoted: WAN address to server): ESP by the server's SPI among
     * the server's clients, IKE on the shared port by its SPIs (a quote too short for them: the server's only
     * client). Other IKE and NAT-T sessions have their own ports: the engine finds them.
     */
    @Override
    public int icmpErrorInbound(final Ipv4Header inner, final int transport, final int available,
        final QuoteWriter quote)
    {
        final int server = inner.destination();
        if (inner.protocol() == Protocols.ESP)
        {
            if (available < 4)
            {
                return REFUSE;
            }
            final int spi = inner.buffer().getInt(transport, ByteOrder.BIG_ENDIAN);
            int found = NONE;
            for (int t = 0; t < maxTunnels; t++)
            {
                if (tunFlows[t] > 0 && tunServer[t] == server)
                {
                    final int f = flows.findOutbound(Protocols.ESP, tunClient[t], 0, server, spi);
                    if (f != FlowTable.NONE)
                    {
                        if (found != NONE)
                        {
                            counters.increment(Counter.DROP_ICMP_AMBIGUOUS);
                            return REFUSE;
                        }
                        found = f;
                    }
                }
            }
            return found == NONE ? REFUSE : found;
        }
        if (inner.protocol() != Protocols.UDP || available < 4
            || (inner.buffer().getShort(transport, ByteOrder.BIG_ENDIAN) & 0xFFFF) != IKE_PORT)
        {
            return NOT_MINE;
        }
        final int dport = inner.buffer().getShort(transport + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        int f = NONE;
        if (available >= UdpHeader.LENGTH + 16)
        {
            f = findSpi(server, inner.buffer().getLong(transport + UdpHeader.LENGTH, ByteOrder.BIG_ENDIAN));
            if (f == NONE)
            {
                f = findSpi(server, inner.buffer().getLong(transport + UdpHeader.LENGTH + 8, ByteOrder.BIG_ENDIAN));
            }
        }
        if (f == NONE)
        {
            final int client = onlyClient(server);
            f = client == 0 ? NONE : flows.findOutbound(Protocols.UDP, client, IKE_PORT, server, dport);
        }
        if (f == NONE)
        {
            counters.increment(Counter.DROP_ICMP_AMBIGUOUS);
            return REFUSE;
        }
        return f;
    }

    /** A client's ICMP error about ESP or IKE (port 500) it received: the session by the quote's SPI or ports. */
    @Override
    public int icmpErrorOutbound(final Ipv4Header inner, final int transport, final int available,
        final QuoteWriter quote)
    {
        final int server = inner.source();
        final int client = inner.destination();
        if (inner.protocol() == Protocols.ESP)
        {
            if (available < 4)
            {
                return REFUSE;
            }
            final int f = flows.findInbound(Protocols.ESP, inner.buffer().getInt(transport, ByteOrder.BIG_ENDIAN), server,
                0);
            return f != FlowTable.NONE && flows.intAddr(f) == client ? f : REFUSE;
        }
        if (inner.protocol() == Protocols.UDP && available >= 4
            && (inner.buffer().getShort(transport + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF) == IKE_PORT)
        {
            final int sport = inner.buffer().getShort(transport, ByteOrder.BIG_ENDIAN) & 0xFFFF;
            final int f = flows.findOutbound(Protocols.UDP, client, IKE_PORT, server, sport);
            return f != FlowTable.NONE && flows.extPort(f) == IKE_PORT ? f : NOT_MINE;
        }
        return NOT_MINE;
    }

    // ------------------------------------------------------------------------------------------- listing

    /**
     * One row per client and server: the IKE port and its WAN port, the IKE SPIs and ESP SPIs seen last, and the
     * traffic of every session of the pair (IKE, NAT-T, ESP).
     */
    @Override
    public void collectTunnels(final int helper, final TunnelSink sink)
    {
        java.util.Arrays.fill(sumPacketsOut, 0);
        java.util.Arrays.fill(sumBytesOut, 0);
        java.util.Arrays.fill(sumPacketsIn, 0);
        java.util.Arrays.fill(sumBytesIn, 0);
        java.util.Arrays.fill(sumLastSeen, 0);
        for (int f = 0; f < flows.capacity(); f++)
        {
            final int t = flows.inUse(f) ? flows.algData(f) - 1 : NONE;
            if (t >= 0 && t < maxTunnels && tunFlows[t] > 0 && flows.intAddr(f) == tunClient[t]
                && flows.remAddr(f) == tunServer[t] && flows.alg(f) == index)
            {
                sumPacketsOut[t] += flows.packetsOut(f);
                sumBytesOut[t] += flows.bytesOut(f);
                sumPacketsIn[t] += flows.packetsIn(f);
                sumBytesIn[t] += flows.bytesIn(f);
                sumLastSeen[t] = Math.max(sumLastSeen[t], flows.lastSeen(f));
            }
        }
        for (int t = 0; t < maxTunnels; t++)
        {
            if (tunFlows[t] > 0 && !sink.row(helper, 0, tunClient[t], tunServer[t], tunPort[t], tunWanPort[t], tunIkeI[t],
                tunIkeR[t], tunEspOut[t] & 0xFFFF_FFFFL, tunEspIn[t] & 0xFFFF_FFFFL, 0, sumPacketsOut[t], sumBytesOut[t],
                sumPacketsIn[t], sumBytesIn[t], tunCreated[t], sumLastSeen[t]))
            {
                return;
            }
        }
    }
}

package io.passgate.config;

import static io.passgate.config.ConfigKeys.*;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import io.passgate.alg.Helpers;
import io.passgate.wire.Ipv4Header;

/**
 * passgate's configuration, filled from a {@link ConfigSource} by {@link #conclude}, which validates every
 * value (errors name the line and key, {@link ConfigValues}), rejects unknown keys ({@link ConfigKeys}), and
 * resolves "auto" addresses from the interfaces.
 */
public final class PassgateContext
{
    /** How inbound packets are filtered against a mapping (RFC 4787 section 5). */
    public enum Filtering
    {
        ENDPOINT_INDEPENDENT,
        ADDRESS_DEPENDENT,
        ADDRESS_AND_PORT_DEPENDENT
    }

    private String lanInterface;
    private String wanInterface;
    private int wanAddress;
    private int lanAddress;
    private int lanPrefixLength;
    private boolean translate;
    private boolean failOpen;
    private boolean removeOnStop;
    private String rulesBackend;
    private int queueBase;
    private int threads;
    private int queueBatch;
    private int queueMaxLength;
    private int queueReceiveBuffer;
    private boolean gso;
    private int idlePollMs;
    private int aliveTimeoutMs;
    private boolean stateKeep;
    private int stateIntervalMs;
    private int hairpinMark;
    private int liveMark;
    private boolean natLiveFlows;
    private int natNewRatePerClient;
    private int natWanRatePerSource;
    private boolean offload;
    private int offloadAfterPackets;
    private boolean offloadFlowtable;
    private Path runtimeDir;
    private Path stateDir;
    private String logLevel;
    private int natMaxFlows;
    private int natPortMin;
    private int natPortMax;
    private boolean natPortParity;
    private Filtering natFiltering;
    private int natUdpTimeoutS;
    private int natTcpEstablishedTimeoutS;
    private int natTcpTransitoryTimeoutS;
    private int natIcmpTimeoutS;
    private int natMssClamp;
    private boolean natUnsolicitedSynIcmp;
    private int natIcmpRate;
    private int pptpMaxConnections;
    private int pptpMaxCalls;
    private int pptpMaxCallsPerConnection;
    private boolean pptpResetOnInvalid;
    private boolean l2tpKeepPortForAll;
    private final Map<String, Boolean> passthrough = new LinkedHashMap<>();
    private String controlGroup;
    private String metricsAddress;
    private int metricsPort;
    private String webAddress;
    private int webPort;
    private io.passgate.web.WebPassword webPassword;
    private String board;
    private final Map<String, String> boardSettings = new LinkedHashMap<>();
    private final Map<String, String> boardOrigins = new LinkedHashMap<>();
    private final Map<String, String> effective = new LinkedHashMap<>();

    /** An interface's first IPv4 address and prefix length, or null. Overridable for tests. */
    public interface AddressResolver
    {
        int[] addressOf(String interfaceName) throws ConfigException;
    }

    public static final AddressResolver SYSTEM_RESOLVER = name ->
    {
        try
        {
            final NetworkInterface nif = NetworkInterface.getByName(name);
            if (nif == null)
            {
                throw new ConfigException("interface " + name + " does not exist");
            }
            for (final InterfaceAddress a : nif.getInterfaceAddresses())
            {
                final InetAddress address = a.getAddress();
                if (address instanceof Inet4Address)
                {
                    final byte[] b = address.getAddress();
                    final int value = ((b[0] & 0xFF) << 24) | ((b[1] & 0xFF) << 16) | ((b[2] & 0xFF) << 8) | (b[3] & 0xFF);
                    return new int[] {value, a.getNetworkPrefixLength()};
                }
            }
            return null;
        }
        catch (final SocketException e)
        {
            throw new ConfigException("cannot read interface " + name + ": " + e.getMessage());
        }
    };

    /** Validates {@code source}, fills defaults and resolves "auto" addresses. */
    public PassgateContext conclude(final ConfigSource source, final AddressResolver resolver) throws ConfigException
    {
        for (final ConfigSource.Entry e : source.entries().values())
        {
            if (e.key().startsWith(BOARD_PREFIX))
            {
                boardSettings.put(e.key().substring(BOARD_PREFIX.length()), e.value());
                boardOrigins.put(e.key().substring(BOARD_PREFIX.length()), e.origin() + ", key '" + e.key() + "'");
                continue;
            }
            if (!DEFAULTS.containsKey(e.key()))
            {
                throw new ConfigException(e.origin() + ": unknown key '" + e.key() + "'");
            }
        }
        final ConfigValues v = new ConfigValues(source);
        lanInterface = v.interfaceName(LAN_INTERFACE_PROP_NAME);
        wanInterface = v.interfaceName(WAN_INTERFACE_PROP_NAME);
        if (lanInterface.equals(wanInterface))
        {
            throw new ConfigException(v.where(WAN_INTERFACE_PROP_NAME) + ": the WAN interface must differ from the LAN interface");
        }
        translate = v.choice(MODE_PROP_NAME, "nat", "forward").equals("nat");
        failOpen = v.choice(FAIL_MODE_PROP_NAME, "open", "closed").equals("open");
        removeOnStop = v.choice(ON_STOP_PROP_NAME, "fallback", "remove").equals("remove");
        rulesBackend = v.choice(RULES_BACKEND_PROP_NAME, "auto", "nft", "iptables");
        queueBase = v.integer(QUEUE_BASE_PROP_NAME, 0, 65528);   // up to 4 bulk and 4 live queues
        threads = v.integer(THREADS_PROP_NAME, 1, 4);
        if (threads == 3)
        {
            throw new ConfigException(v.where(THREADS_PROP_NAME) + ": must be 1, 2 or 4 (queues are chosen by address and port bits)");
        }
        queueBatch = v.integer(QUEUE_BATCH_PROP_NAME, 1, 1024);
        queueMaxLength = v.integer(QUEUE_MAX_LENGTH_PROP_NAME, 16, 1 << 20);
        queueReceiveBuffer = (int)v.size(QUEUE_RECEIVE_BUFFER_PROP_NAME, 64 * 1024, 1L << 30);
        gso = v.bool(GSO_PROP_NAME);
        idlePollMs = v.integer(IDLE_POLL_MS_PROP_NAME, 1, 1000);
        aliveTimeoutMs = v.integer(ALIVE_TIMEOUT_MS_PROP_NAME, 500, 60_000);
        stateKeep = v.bool(STATE_KEEP_PROP_NAME);
        stateIntervalMs = v.integer(STATE_INTERVAL_MS_PROP_NAME, 10, 60_000);
        hairpinMark = v.mark(HAIRPIN_MARK_PROP_NAME);
        liveMark = v.mark(LIVE_MARK_PROP_NAME);
        runtimeDir = v.path(RUNTIME_DIR_PROP_NAME);
        stateDir = v.path(STATE_DIR_PROP_NAME);
        logLevel = v.choice(LOG_LEVEL_PROP_NAME, "trace", "debug", "info", "warn", "error");
        if ("auto".equals(v.text(NAT_MAX_FLOWS_PROP_NAME)))
        {
            natMaxFlows = autoMaxFlows(memTotalKb());
            v.effective.put(NAT_MAX_FLOWS_PROP_NAME, natMaxFlows + " (auto)");
        }
        else
        {
            natMaxFlows = v.integer(NAT_MAX_FLOWS_PROP_NAME, 64, 1 << 22);
        }
        final int[] range = v.portRange(NAT_PORT_RANGE_PROP_NAME);
        natPortMin = range[0];
        natPortMax = range[1];
        natPortParity = v.bool(NAT_PORT_PARITY_PROP_NAME);
        natFiltering = switch (v.choice(NAT_FILTERING_PROP_NAME, "endpoint-independent", "address-dependent",
            "address-and-port-dependent"))
        {
            case "endpoint-independent" -> Filtering.ENDPOINT_INDEPENDENT;
            case "address-dependent" -> Filtering.ADDRESS_DEPENDENT;
            default -> Filtering.ADDRESS_AND_PORT_DEPENDENT;
        };
        // RFC minimums: UDP mapping >= 2 min (RFC 4787 REQ-5), TCP established >= 2 h 4 min and transitory
        // >= 4 min (RFC 5382 REQ-5), ICMP query >= 60 s (RFC 5508 REQ-1)
        natUdpTimeoutS = v.integer(NAT_UDP_TIMEOUT_PROP_NAME, 120, 86_400);
        natTcpEstablishedTimeoutS = v.integer(NAT_TCP_ESTABLISHED_TIMEOUT_PROP_NAME, 7440, 7 * 86_400);
        natTcpTransitoryTimeoutS = v.integer(NAT_TCP_TRANSITORY_TIMEOUT_PROP_NAME, 240, 86_400);
        natIcmpTimeoutS = v.integer(NAT_ICMP_TIMEOUT_PROP_NAME, 60, 86_400);
        final String clamp = v.text(NAT_MSS_CLAMP_PROP_NAME);
        natMssClamp = switch (clamp)
        {
            case "auto" -> -1;
            case "off" -> 0;
            default -> v.integer(NAT_MSS_CLAMP_PROP_NAME, 536, 65495);
        };
        natUnsolicitedSynIcmp = v.bool(NAT_UNSOLICITED_SYN_ICMP_PROP_NAME);
        natIcmpRate = v.integer(NAT_ICMP_RATE_PROP_NAME, 0, 100_000);
        natLiveFlows = v.bool(NAT_LIVE_FLOWS_PROP_NAME);
        if (natLiveFlows && translate && liveMark == hairpinMark)
        {
            throw new ConfigException(v.where(LIVE_MARK_PROP_NAME) + ": must differ from " + HAIRPIN_MARK_PROP_NAME);
        }
        natNewRatePerClient = v.integer(NAT_NEW_RATE_PER_CLIENT_PROP_NAME, 0, 10_000_000);
        natWanRatePerSource = v.integer(NAT_WAN_RATE_PER_SOURCE_PROP_NAME, 0, 10_000_000);
        offload = v.bool(OFFLOAD_PROP_NAME);
        if (offload && translate && (hairpinMark & io.passgate.nft.RulesetSpec.OFFLOAD_TUNNEL_MARK) != 0)
        {
            throw new ConfigException(v.where(HAIRPIN_MARK_PROP_NAME) + ": must not use bit 0x400000 (offload's)");
        }
        if (offload && translate && natLiveFlows && (liveMark & io.passgate.nft.RulesetSpec.OFFLOAD_TUNNEL_MARK) != 0)
        {
            throw new ConfigException(v.where(LIVE_MARK_PROP_NAME) + ": must not use bit 0x400000 (offload's)");
        }
        offloadAfterPackets = v.integer(OFFLOAD_AFTER_PACKETS_PROP_NAME, 2, 1_000_000);
        offloadFlowtable = v.choice(OFFLOAD_FLOWTABLE_PROP_NAME, "auto", "off").equals("auto");
        pptpMaxConnections = v.integer(PPTP_MAX_CONNECTIONS_PROP_NAME, 1, 65536);
        pptpMaxCalls = v.integer(PPTP_MAX_CALLS_PROP_NAME, 1, 65535);
        pptpMaxCallsPerConnection = v.integer(PPTP_MAX_CALLS_PER_CONNECTION_PROP_NAME, 1, 65535);
        pptpResetOnInvalid = v.choice(PPTP_ON_INVALID_PROP_NAME, "reset", "drop").equals("reset");
        l2tpKeepPortForAll = v.choice(L2TP_KEEP_PORT_PROP_NAME, "all", "first").equals("all");
        for (final String name : Helpers.PASSTHROUGHS.names())
        {
            passthrough.put(name, v.bool(PASSTHROUGH_PREFIX + name));
        }
        controlGroup = v.text(CONTROL_GROUP_PROP_NAME);
        board = v.choice(BOARD_PROP_NAME, "auto", "none", "virtual", "pi4j", "gpio");

        wanAddress = v.address(WAN_ADDRESS_PROP_NAME, wanInterface, resolver)[0];
        final int[] lan = v.address(LAN_ADDRESS_PROP_NAME, lanInterface, resolver);
        lanAddress = lan[0];
        lanPrefixLength = lan[1];
        final String metrics = v.text(METRICS_LISTEN_PROP_NAME);
        if (!metrics.equalsIgnoreCase("off"))
        {
            final int colon = metrics.lastIndexOf(':');
            final int address;
            try
            {
                address = Ipv4Header.parse(metrics.substring(0, Math.max(0, colon)));
                metricsPort = Integer.parseInt(metrics.substring(colon + 1));
                if (metricsPort < 1 || metricsPort > 65535)
                {
                    throw new NumberFormatException();
                }
            }
            catch (final IllegalArgumentException e)
            {
                throw new ConfigException(v.where(METRICS_LISTEN_PROP_NAME) + ": must be off or ADDRESS:PORT, e.g. "
                    + Ipv4Header.format(lanAddress) + ":9464 (got '" + metrics + "')");
            }
            if (address == 0 || address == wanAddress)
            {
                throw new ConfigException(v.where(METRICS_LISTEN_PROP_NAME)
                    + ": metrics are never served on the WAN: use the LAN address or 127.0.0.1, not " + metrics);
            }
            metricsAddress = Ipv4Header.format(address);
        }
        final String web = v.text(WEB_LISTEN_PROP_NAME);
        if (!web.equalsIgnoreCase("off"))
        {
            final int colon = web.lastIndexOf(':');
            final int address;
            try
            {
                final String host = web.substring(0, Math.max(0, colon));
                address = host.equals("lan") ? lanAddress : Ipv4Header.parse(host);
                webPort = Integer.parseInt(web.substring(colon + 1));
                if (webPort < 1 || webPort > 65535)
                {
                    throw new NumberFormatException();
                }
            }
            catch (final IllegalArgumentException e)
            {
                throw new ConfigException(v.where(WEB_LISTEN_PROP_NAME) + ": must be off, lan:PORT or ADDRESS:PORT, e.g. "
                    + "lan:80 (got '" + web + "')");
            }
            if (address != lanAddress && (address >>> 24) != 127)
            {
                throw new ConfigException(v.where(WEB_LISTEN_PROP_NAME) + ": the status page is served on the LAN "
                    + "address only (" + Ipv4Header.format(lanAddress) + ", or 127.0.0.1), never on a wildcard or the WAN: "
                    + "not " + web);
            }
            webAddress = Ipv4Header.format(address);
        }
        try
        {
            webPassword = io.passgate.web.WebPassword.parse(v.text(WEB_PASSWORD_HASH_PROP_NAME));
        }
        catch (final IllegalArgumentException e)
        {
            throw new ConfigException(v.where(WEB_PASSWORD_HASH_PROP_NAME) + ": " + e.getMessage());
        }
        effective.putAll(v.effective);
        return this;
    }

    public String lanInterface()
    {
        return lanInterface;
    }

    public String wanInterface()
    {
        return wanInterface;
    }

    public int wanAddress()
    {
        return wanAddress;
    }

    public int lanAddress()
    {
        return lanAddress;
    }

    public int lanPrefixLength()
    {
        return lanPrefixLength;
    }

    public boolean translate()
    {
        return translate;
    }

    public boolean failOpen()
    {
        return failOpen;
    }

    public boolean removeOnStop()
    {
        return removeOnStop;
    }

    public String rulesBackend()
    {
        return rulesBackend;
    }

    public int queueBase()
    {
        return queueBase;
    }

    public int threads()
    {
        return threads;
    }

    public int queueBatch()
    {
        return queueBatch;
    }

    public int queueMaxLength()
    {
        return queueMaxLength;
    }

    public int queueReceiveBuffer()
    {
        return queueReceiveBuffer;
    }

    public boolean gso()
    {
        return gso;
    }

    public int idlePollMs()
    {
        return idlePollMs;
    }

    public int aliveTimeoutMs()
    {
        return aliveTimeoutMs;
    }

    /** Whether the sessions are kept in a state file under runtime-dir, for a restart to take up. */
    public boolean stateKeep()
    {
        return stateKeep;
    }

    /** How often (at most) the dataplane writes the state file while traffic flows. */
    public int stateIntervalMs()
    {
        return stateIntervalMs;
    }

    public int hairpinMark()
    {
        return hairpinMark;
    }

    public Path runtimeDir()
    {
        return runtimeDir;
    }

    public Path stateDir()
    {
        return stateDir;
    }

    public String logLevel()
    {
        return logLevel;
    }

    /** Below this much memory (MemTotal, kB: a 512 MB Pi Zero 2 W, a 1 GB Pi 3) "auto" sizes the tables smaller. */
    static final long SMALL_BOARD_KB = 1L << 20;

    /**
     * nat.max-flows = auto: sessions per dataplane thread for a board with {@code memTotalKb} of memory (0 when
     * unknown). 4 096 below 1 GiB, like the kernel's own conntrack table on a 512 MB board, so the default
     * configuration stays small beside the rest of the system; 8 192 from 1 GiB on (within the launcher's
     * -Xmx32m for up to 4 threads). More is a number here and a bigger heap (README, "Memory").
     */
    static int autoMaxFlows(final long memTotalKb)
    {
        return memTotalKb > 0 && memTotalKb >= SMALL_BOARD_KB ? 8192 : 4096;
    }

    /** MemTotal from /proc/meminfo in kB, or 0 when it cannot be read. */
    static long memTotalKb()
    {
        try
        {
            for (final String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/meminfo")))
            {
                if (line.startsWith("MemTotal:"))
                {
                    final String[] f = line.trim().split("\\s+");
                    return f.length >= 2 ? Long.parseLong(f[1]) : 0;
                }
            }
        }
        catch (final java.io.IOException | RuntimeException e)
        {
            // unknown: the small size
        }
        return 0;
    }

    public int natMaxFlows()
    {
        return natMaxFlows;
    }

    public int natPortMin()
    {
        return natPortMin;
    }

    public int natPortMax()
    {
        return natPortMax;
    }

    public boolean natPortParity()
    {
        return natPortParity;
    }

    public Filtering natFiltering()
    {
        return natFiltering;
    }

    public int natUdpTimeoutS()
    {
        return natUdpTimeoutS;
    }

    public int natTcpEstablishedTimeoutS()
    {
        return natTcpEstablishedTimeoutS;
    }

    public int natTcpTransitoryTimeoutS()
    {
        return natTcpTransitoryTimeoutS;
    }

    public int natIcmpTimeoutS()
    {
        return natIcmpTimeoutS;
    }

    /** -1 = from the WAN MTU, 0 = off, else the clamp value. */
    public int natMssClamp()
    {
        return natMssClamp;
    }

    public boolean natUnsolicitedSynIcmp()
    {
        return natUnsolicitedSynIcmp;
    }

    public int natIcmpRate()
    {
        return natIcmpRate;
    }

    /** The mark bit of live flows' packets (see {@link #natLiveFlows()}). */
    public int liveMark()
    {
        return liveMark;
    }

    /** Live flows in a kernel set, their packets on queues of their own ahead of new traffic. */
    public boolean natLiveFlows()
    {
        return natLiveFlows;
    }

    /** Whether settled TCP and UDP flows are handed to the kernel's conntrack (translate mode). */
    public boolean offload()
    {
        return offload;
    }

    /**
     * Whether offloaded TCP and UDP flows also go to the kernel's flowtable where it has one ("auto"), which
     * carries them past netfilter's hooks; "off": conntrack's path alone.
     */
    public boolean offloadFlowtable()
    {
        return offloadFlowtable;
    }

    /** Packets (both ways together, each way at least one) a flow carries in passgate before it is offloaded. */
    public int offloadAfterPackets()
    {
        return offloadAfterPackets;
    }

    /** Packets per second a LAN client may send outside live flows (0: no limit; needs live flows). */
    public int natNewRatePerClient()
    {
        return natNewRatePerClient;
    }

    /** Packets per second a WAN source may send to the WAN address outside live flows (0: no limit). */
    public int natWanRatePerSource()
    {
        return natWanRatePerSource;
    }

    public int pptpMaxConnections()
    {
        return pptpMaxConnections;
    }

    public int pptpMaxCalls()
    {
        return pptpMaxCalls;
    }

    public int pptpMaxCallsPerConnection()
    {
        return pptpMaxCallsPerConnection;
    }

    public boolean pptpResetOnInvalid()
    {
        return pptpResetOnInvalid;
    }

    /**
     * {@code l2tp.keep-port}: every client keeps UDP 1701 towards a server ({@code all}, RFC 2661's demultiplexing by
     * Tunnel ID), or only the first client to each server does and the later ones get their own port
     * ({@code first}, for an LNS that tells tunnels apart by address and port).
     */
    public boolean l2tpKeepPortForAll()
    {
        return l2tpKeepPortForAll;
    }

    /** Each passthrough switch's configured default (passthrough.NAME), by switch name. */
    public Map<String, Boolean> passthrough()
    {
        return passthrough;
    }

    public String controlGroup()
    {
        return controlGroup;
    }

    /** The status page's address (the LAN address or loopback); null when it is off. */
    public String webAddress()
    {
        return webAddress;
    }

    public int webPort()
    {
        return webPort;
    }

    /** The status page's admin password; null: none, the page is read-only. */
    public io.passgate.web.WebPassword webPassword()
    {
        return webPassword;
    }

    /** null when metrics are off. */
    public String metricsAddress()
    {
        return metricsAddress;
    }

    public int metricsPort()
    {
        return metricsPort;
    }

    public String board()
    {
        return board;
    }

    /** The board.* settings without the prefix. */
    public Map<String, String> boardSettings()
    {
        return boardSettings;
    }

    /** Where each board.* setting was made, for error messages. */
    public Map<String, String> boardOrigins()
    {
        return boardOrigins;
    }

    /** Every effective value (after defaults and "auto"), for the start-up log and `status`. */
    public Map<String, String> effective()
    {
        return effective;
    }
}

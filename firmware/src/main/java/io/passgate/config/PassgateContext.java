package io.passgate.config;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import io.passgate.wire.Ipv4Header;

/**
 * passgate's configuration: each key as a {@code *_PROP_NAME} / {@code *_DEFAULT} pair, filled from a
 * {@link ConfigSource} by {@link #conclude}, which validates every value (errors name the line and key),
 * rejects unknown keys, and resolves "auto" addresses from the interfaces.
 */
public final class PassgateContext
{
    public static final String LAN_INTERFACE_PROP_NAME = "lan-interface";
    public static final String WAN_INTERFACE_PROP_NAME = "wan-interface";
    public static final String WAN_ADDRESS_PROP_NAME = "wan-address";
    public static final String WAN_ADDRESS_DEFAULT = "auto";
    public static final String LAN_ADDRESS_PROP_NAME = "lan-address";
    public static final String LAN_ADDRESS_DEFAULT = "auto";
    public static final String MODE_PROP_NAME = "mode";
    public static final String MODE_DEFAULT = "nat";
    public static final String FAIL_MODE_PROP_NAME = "fail-mode";
    public static final String FAIL_MODE_DEFAULT = "open";
    public static final String ON_STOP_PROP_NAME = "on-stop";
    public static final String ON_STOP_DEFAULT = "fallback";
    public static final String RULES_BACKEND_PROP_NAME = "rules-backend";
    public static final String RULES_BACKEND_DEFAULT = "auto";
    public static final String QUEUE_BASE_PROP_NAME = "queue-base";
    public static final String QUEUE_BASE_DEFAULT = "0";
    public static final String THREADS_PROP_NAME = "threads";
    public static final String THREADS_DEFAULT = "1";
    public static final String QUEUE_BATCH_PROP_NAME = "queue-batch";
    public static final String QUEUE_BATCH_DEFAULT = "64";
    public static final String QUEUE_MAX_LENGTH_PROP_NAME = "queue-max-length";
    public static final String QUEUE_MAX_LENGTH_DEFAULT = "8192";
    public static final String QUEUE_RECEIVE_BUFFER_PROP_NAME = "queue-receive-buffer";
    public static final String QUEUE_RECEIVE_BUFFER_DEFAULT = "8M";
    public static final String GSO_PROP_NAME = "gso";
    public static final String GSO_DEFAULT = "true";
    public static final String IDLE_POLL_MS_PROP_NAME = "idle-poll-ms";
    public static final String IDLE_POLL_MS_DEFAULT = "100";
    public static final String ALIVE_TIMEOUT_MS_PROP_NAME = "alive-timeout-ms";
    public static final String ALIVE_TIMEOUT_MS_DEFAULT = "2000";
    public static final String HAIRPIN_MARK_PROP_NAME = "hairpin-mark";
    public static final String HAIRPIN_MARK_DEFAULT = "0x100000";
    public static final String RUNTIME_DIR_PROP_NAME = "runtime-dir";
    public static final String RUNTIME_DIR_DEFAULT = "/run/passgate";
    public static final String STATE_DIR_PROP_NAME = "state-dir";
    public static final String STATE_DIR_DEFAULT = "/var/lib/passgate";
    public static final String LOG_LEVEL_PROP_NAME = "log-level";
    public static final String LOG_LEVEL_DEFAULT = "info";

    public static final String NAT_MAX_FLOWS_PROP_NAME = "nat.max-flows";
    public static final String NAT_MAX_FLOWS_DEFAULT = "65536";
    public static final String NAT_PORT_RANGE_PROP_NAME = "nat.port-range";
    public static final String NAT_PORT_RANGE_DEFAULT = "1024-65535";
    public static final String NAT_PORT_PARITY_PROP_NAME = "nat.port-parity";
    public static final String NAT_PORT_PARITY_DEFAULT = "false";
    public static final String NAT_FILTERING_PROP_NAME = "nat.filtering";
    public static final String NAT_FILTERING_DEFAULT = "address-dependent";
    public static final String NAT_UDP_TIMEOUT_PROP_NAME = "nat.udp-timeout";
    public static final String NAT_UDP_TIMEOUT_DEFAULT = "300";
    public static final String NAT_TCP_ESTABLISHED_TIMEOUT_PROP_NAME = "nat.tcp-established-timeout";
    public static final String NAT_TCP_ESTABLISHED_TIMEOUT_DEFAULT = "7440";
    public static final String NAT_TCP_TRANSITORY_TIMEOUT_PROP_NAME = "nat.tcp-transitory-timeout";
    public static final String NAT_TCP_TRANSITORY_TIMEOUT_DEFAULT = "240";
    public static final String NAT_ICMP_TIMEOUT_PROP_NAME = "nat.icmp-timeout";
    public static final String NAT_ICMP_TIMEOUT_DEFAULT = "60";
    public static final String NAT_MSS_CLAMP_PROP_NAME = "nat.mss-clamp";
    public static final String NAT_MSS_CLAMP_DEFAULT = "auto";
    public static final String NAT_UNSOLICITED_SYN_ICMP_PROP_NAME = "nat.unsolicited-syn-icmp";
    public static final String NAT_UNSOLICITED_SYN_ICMP_DEFAULT = "true";
    public static final String NAT_ICMP_RATE_PROP_NAME = "nat.icmp-rate";
    public static final String NAT_ICMP_RATE_DEFAULT = "100";

    public static final String PPTP_MAX_CONNECTIONS_PROP_NAME = "pptp.max-connections";
    public static final String PPTP_MAX_CONNECTIONS_DEFAULT = "256";
    public static final String PPTP_MAX_CALLS_PROP_NAME = "pptp.max-calls";
    public static final String PPTP_MAX_CALLS_DEFAULT = "1024";
    public static final String PPTP_MAX_CALLS_PER_CONNECTION_PROP_NAME = "pptp.max-calls-per-connection";
    public static final String PPTP_MAX_CALLS_PER_CONNECTION_DEFAULT = "64";
    public static final String PPTP_ON_INVALID_PROP_NAME = "pptp.on-invalid";
    public static final String PPTP_ON_INVALID_DEFAULT = "reset";

    public static final String PASSTHROUGH_PPTP_PROP_NAME = "passthrough.pptp";
    public static final String PASSTHROUGH_IPSEC_PROP_NAME = "passthrough.ipsec";
    public static final String PASSTHROUGH_NATT_PROP_NAME = "passthrough.natt";
    public static final String PASSTHROUGH_L2TP_PROP_NAME = "passthrough.l2tp";
    public static final String PASSTHROUGH_DEFAULT = "on";
    public static final String CONTROL_GROUP_PROP_NAME = "control.group";
    public static final String CONTROL_GROUP_DEFAULT = "passgate";
    public static final String METRICS_LISTEN_PROP_NAME = "metrics.listen";
    public static final String METRICS_LISTEN_DEFAULT = "off";
    public static final String BOARD_PROP_NAME = "board";
    public static final String BOARD_DEFAULT = "auto";
    /** Keys under this prefix belong to the status panel, which validates them. */
    public static final String BOARD_PREFIX = "board.";

    /** Every key with its default; the order is the order of --help and of the sample config. */
    public static final Map<String, String> DEFAULTS = new LinkedHashMap<>();

    static
    {
        DEFAULTS.put(LAN_INTERFACE_PROP_NAME, null);
        DEFAULTS.put(WAN_INTERFACE_PROP_NAME, null);
        DEFAULTS.put(WAN_ADDRESS_PROP_NAME, WAN_ADDRESS_DEFAULT);
        DEFAULTS.put(LAN_ADDRESS_PROP_NAME, LAN_ADDRESS_DEFAULT);
        DEFAULTS.put(MODE_PROP_NAME, MODE_DEFAULT);
        DEFAULTS.put(FAIL_MODE_PROP_NAME, FAIL_MODE_DEFAULT);
        DEFAULTS.put(ON_STOP_PROP_NAME, ON_STOP_DEFAULT);
        DEFAULTS.put(RULES_BACKEND_PROP_NAME, RULES_BACKEND_DEFAULT);
        DEFAULTS.put(QUEUE_BASE_PROP_NAME, QUEUE_BASE_DEFAULT);
        DEFAULTS.put(THREADS_PROP_NAME, THREADS_DEFAULT);
        DEFAULTS.put(QUEUE_BATCH_PROP_NAME, QUEUE_BATCH_DEFAULT);
        DEFAULTS.put(QUEUE_MAX_LENGTH_PROP_NAME, QUEUE_MAX_LENGTH_DEFAULT);
        DEFAULTS.put(QUEUE_RECEIVE_BUFFER_PROP_NAME, QUEUE_RECEIVE_BUFFER_DEFAULT);
        DEFAULTS.put(GSO_PROP_NAME, GSO_DEFAULT);
        DEFAULTS.put(IDLE_POLL_MS_PROP_NAME, IDLE_POLL_MS_DEFAULT);
        DEFAULTS.put(ALIVE_TIMEOUT_MS_PROP_NAME, ALIVE_TIMEOUT_MS_DEFAULT);
        DEFAULTS.put(HAIRPIN_MARK_PROP_NAME, HAIRPIN_MARK_DEFAULT);
        DEFAULTS.put(RUNTIME_DIR_PROP_NAME, RUNTIME_DIR_DEFAULT);
        DEFAULTS.put(STATE_DIR_PROP_NAME, STATE_DIR_DEFAULT);
        DEFAULTS.put(LOG_LEVEL_PROP_NAME, LOG_LEVEL_DEFAULT);
        DEFAULTS.put(NAT_MAX_FLOWS_PROP_NAME, NAT_MAX_FLOWS_DEFAULT);
        DEFAULTS.put(NAT_PORT_RANGE_PROP_NAME, NAT_PORT_RANGE_DEFAULT);
        DEFAULTS.put(NAT_PORT_PARITY_PROP_NAME, NAT_PORT_PARITY_DEFAULT);
        DEFAULTS.put(NAT_FILTERING_PROP_NAME, NAT_FILTERING_DEFAULT);
        DEFAULTS.put(NAT_UDP_TIMEOUT_PROP_NAME, NAT_UDP_TIMEOUT_DEFAULT);
        DEFAULTS.put(NAT_TCP_ESTABLISHED_TIMEOUT_PROP_NAME, NAT_TCP_ESTABLISHED_TIMEOUT_DEFAULT);
        DEFAULTS.put(NAT_TCP_TRANSITORY_TIMEOUT_PROP_NAME, NAT_TCP_TRANSITORY_TIMEOUT_DEFAULT);
        DEFAULTS.put(NAT_ICMP_TIMEOUT_PROP_NAME, NAT_ICMP_TIMEOUT_DEFAULT);
        DEFAULTS.put(NAT_MSS_CLAMP_PROP_NAME, NAT_MSS_CLAMP_DEFAULT);
        DEFAULTS.put(NAT_UNSOLICITED_SYN_ICMP_PROP_NAME, NAT_UNSOLICITED_SYN_ICMP_DEFAULT);
        DEFAULTS.put(NAT_ICMP_RATE_PROP_NAME, NAT_ICMP_RATE_DEFAULT);
        DEFAULTS.put(PPTP_MAX_CONNECTIONS_PROP_NAME, PPTP_MAX_CONNECTIONS_DEFAULT);
        DEFAULTS.put(PPTP_MAX_CALLS_PROP_NAME, PPTP_MAX_CALLS_DEFAULT);
        DEFAULTS.put(PPTP_MAX_CALLS_PER_CONNECTION_PROP_NAME, PPTP_MAX_CALLS_PER_CONNECTION_DEFAULT);
        DEFAULTS.put(PPTP_ON_INVALID_PROP_NAME, PPTP_ON_INVALID_DEFAULT);
        DEFAULTS.put(PASSTHROUGH_PPTP_PROP_NAME, PASSTHROUGH_DEFAULT);
        DEFAULTS.put(PASSTHROUGH_IPSEC_PROP_NAME, PASSTHROUGH_DEFAULT);
        DEFAULTS.put(PASSTHROUGH_NATT_PROP_NAME, PASSTHROUGH_DEFAULT);
        DEFAULTS.put(PASSTHROUGH_L2TP_PROP_NAME, PASSTHROUGH_DEFAULT);
        DEFAULTS.put(CONTROL_GROUP_PROP_NAME, CONTROL_GROUP_DEFAULT);
        DEFAULTS.put(METRICS_LISTEN_PROP_NAME, METRICS_LISTEN_DEFAULT);
        DEFAULTS.put(BOARD_PROP_NAME, BOARD_DEFAULT);
    }

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
    private int hairpinMark;
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
    private boolean passthroughPptp;
    private boolean passthroughIpsec;
    private boolean passthroughNatt;
    private boolean passthroughL2tp;
    private String controlGroup;
    private String metricsAddress;
    private int metricsPort;
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
        final Values v = new Values(source);
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
        queueBase = v.integer(QUEUE_BASE_PROP_NAME, 0, 65532);
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
        hairpinMark = v.mark(HAIRPIN_MARK_PROP_NAME);
        runtimeDir = Path.of(v.text(RUNTIME_DIR_PROP_NAME));
        stateDir = Path.of(v.text(STATE_DIR_PROP_NAME));
        logLevel = v.choice(LOG_LEVEL_PROP_NAME, "trace", "debug", "info", "warn", "error");
        natMaxFlows = v.integer(NAT_MAX_FLOWS_PROP_NAME, 64, 1 << 22);
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
        pptpMaxConnections = v.integer(PPTP_MAX_CONNECTIONS_PROP_NAME, 1, 65536);
        pptpMaxCalls = v.integer(PPTP_MAX_CALLS_PROP_NAME, 1, 65535);
        pptpMaxCallsPerConnection = v.integer(PPTP_MAX_CALLS_PER_CONNECTION_PROP_NAME, 1, 65535);
        pptpResetOnInvalid = v.choice(PPTP_ON_INVALID_PROP_NAME, "reset", "drop").equals("reset");
        passthroughPptp = v.bool(PASSTHROUGH_PPTP_PROP_NAME);
        passthroughIpsec = v.bool(PASSTHROUGH_IPSEC_PROP_NAME);
        passthroughNatt = v.bool(PASSTHROUGH_NATT_PROP_NAME);
        passthroughL2tp = v.bool(PASSTHROUGH_L2TP_PROP_NAME);
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
        effective.putAll(v.effective);
        return this;
    }

    /** Reads typed values, recording each effective value and naming the origin in every error. */
    private static final class Values
    {
        private final ConfigSource source;
        private final Map<String, String> effective = new LinkedHashMap<>();

        Values(final ConfigSource source)
        {
            this.source = source;
        }

        String where(final String key)
        {
            final ConfigSource.Entry e = source.get(key);
            return (e == null ? "default" : e.origin()) + ", key '" + key + "'";
        }

        String text(final String key) throws ConfigException
        {
            final ConfigSource.Entry e = source.get(key);
            final String value = e != null ? e.value() : DEFAULTS.get(key);
            if (value == null || value.isEmpty())
            {
                throw new ConfigException("key '" + key + "' is required (set it in the config file or on the command line)");
            }
            effective.put(key, value);
            return value;
        }

        String interfaceName(final String key) throws ConfigException
        {
            final String value = text(key);
            if (!value.matches("[A-Za-z0-9_.@-]{1,15}"))
            {
                throw new ConfigException(where(key) + ": not an interface name: '" + value + "'");
            }
            return value;
        }

        String choice(final String key, final String... allowed) throws ConfigException
        {
            final String value = text(key).toLowerCase(Locale.ROOT);
            for (final String a : allowed)
            {
                if (a.equals(value))
                {
                    return value;
                }
            }
            throw new ConfigException(where(key) + ": must be one of " + String.join(", ", allowed) + " (got '" + value + "')");
        }

        boolean bool(final String key) throws ConfigException
        {
            final String value = text(key).toLowerCase(Locale.ROOT);
            return switch (value)
            {
                case "true", "yes", "on", "1" -> true;
                case "false", "no", "off", "0" -> false;
                default -> throw new ConfigException(where(key) + ": must be true or false (got '" + value + "')");
            };
        }

        int integer(final String key, final int min, final int max) throws ConfigException
        {
            final String value = text(key);
            final long n;
            try
            {
                n = Long.parseLong(value);
            }
            catch (final NumberFormatException e)
            {
                throw new ConfigException(where(key) + ": not a number: '" + value + "'");
            }
            if (n < min || n > max)
            {
                throw new ConfigException(where(key) + ": must be " + min + ".." + max + " (got " + value + ")");
            }
            return (int)n;
        }

        long size(final String key, final long min, final long max) throws ConfigException
        {
            final String value = text(key).toUpperCase(Locale.ROOT);
            long multiplier = 1;
            String digits = value;
            if (value.endsWith("K") || value.endsWith("M") || value.endsWith("G"))
            {
                multiplier = switch (value.charAt(value.length() - 1))
                {
                    case 'K' -> 1024L;
                    case 'M' -> 1024L * 1024;
                    default -> 1024L * 1024 * 1024;
                };
                digits = value.substring(0, value.length() - 1);
            }
            final long n;
            try
            {
                n = Math.multiplyExact(Long.parseLong(digits), multiplier);
            }
            catch (final NumberFormatException e)
            {
                throw new ConfigException(where(key) + ": not a size (bytes, or with K, M, G): '" + value + "'");
            }
            catch (final ArithmeticException e)
            {
                throw new ConfigException(where(key) + ": must be " + min + ".." + max + " bytes (got " + value
                    + ", which overflows)");
            }
            if (n < min || n > max)
            {
                throw new ConfigException(where(key) + ": must be " + min + ".." + max + " bytes (got " + value + ")");
            }
            return n;
        }

        int mark(final String key) throws ConfigException
        {
            final String value = text(key);
            try
            {
                final long n = value.startsWith("0x") ? Long.parseLong(value.substring(2), 16) : Long.parseLong(value);
                if (n <= 0 || n > 0xFFFF_FFFFL || Long.bitCount(n) != 1)
                {
                    throw new NumberFormatException();
                }
                return (int)n;
            }
            catch (final NumberFormatException e)
            {
                throw new ConfigException(where(key) + ": must be a single mark bit such as 0x100000 (got '" + value + "')");
            }
        }

        int[] portRange(final String key) throws ConfigException
        {
            final String value = text(key);
            final String[] parts = value.split("-");
            try
            {
                final int lo = Integer.parseInt(parts[0].strip());
                final int hi = Integer.parseInt(parts[parts.length == 2 ? 1 : 0].strip());
                if (parts.length > 2 || lo < 1024 || hi > 65535 || hi - lo < 63)
                {
                    throw new NumberFormatException();
                }
                return new int[] {lo, hi};
            }
            catch (final NumberFormatException | ArrayIndexOutOfBoundsException e)
            {
                throw new ConfigException(where(key) + ": must be LOW-HIGH within 1024-65535, at least 64 ports (got '" + value + "')");
            }
        }

        int[] address(final String key, final String interfaceName, final AddressResolver resolver)
            throws ConfigException
        {
            final String value = text(key);
            if (value.equalsIgnoreCase("auto"))
            {
                final int[] found = resolver.addressOf(interfaceName);
                if (found == null)
                {
                    throw new ConfigException(where(key) + ": 'auto' but interface " + interfaceName + " has no IPv4 address");
                }
                effective.put(key, Ipv4Header.format(found[0]) + " (auto from " + interfaceName + ")");
                return found;
            }
            try
            {
                final String[] parts = value.split("/");
                final int prefix = parts.length == 2 ? Integer.parseInt(parts[1]) : 24;
                if (prefix < 8 || prefix > 32)
                {
                    throw new IllegalArgumentException();
                }
                return new int[] {Ipv4Header.parse(parts[0]), prefix};
            }
            catch (final IllegalArgumentException e)
            {
                throw new ConfigException(where(key) + ": must be an IPv4 address or 'auto' (got '" + value + "')");
            }
        }
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

    public boolean passthroughPptp()
    {
        return passthroughPptp;
    }

    public boolean passthroughIpsec()
    {
        return passthroughIpsec;
    }

    public boolean passthroughNatt()
    {
        return passthroughNatt;
    }

    public boolean passthroughL2tp()
    {
        return passthroughL2tp;
    }

    public String controlGroup()
    {
        return controlGroup;
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

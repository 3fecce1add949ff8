package io.passgate.config;

import java.util.LinkedHashMap;
import java.util.Map;

import io.passgate.alg.Helpers;

/**
 * passgate's configuration keys: each a {@code *_PROP_NAME} / {@code *_DEFAULT} pair, and {@link #DEFAULTS},
 * every key with its default in the order of {@code --help} and of the sample config. The passthrough switches'
 * keys ({@code passthrough.NAME}) come from the helpers' declarations.
 */
public final class ConfigKeys
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
    public static final String QUEUE_BATCH_DEFAULT = "16";
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
    public static final String LIVE_MARK_PROP_NAME = "live-mark";
    public static final String LIVE_MARK_DEFAULT = "0x200000";
    public static final String RUNTIME_DIR_PROP_NAME = "runtime-dir";
    public static final String RUNTIME_DIR_DEFAULT = "/run/passgate";
    public static final String STATE_DIR_PROP_NAME = "state-dir";
    public static final String STATE_DIR_DEFAULT = "/var/lib/passgate";
    public static final String STATE_KEEP_PROP_NAME = "state.keep";
    public static final String STATE_KEEP_DEFAULT = "true";
    public static final String STATE_INTERVAL_MS_PROP_NAME = "state.interval-ms";
    public static final String STATE_INTERVAL_MS_DEFAULT = "250";
    public static final String LOG_LEVEL_PROP_NAME = "log-level";
    public static final String LOG_LEVEL_DEFAULT = "info";

    public static final String NAT_MAX_FLOWS_PROP_NAME = "nat.max-flows";
    public static final String NAT_MAX_FLOWS_DEFAULT = "auto";
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
    public static final String NAT_LIVE_FLOWS_PROP_NAME = "nat.live-flows";
    public static final String NAT_LIVE_FLOWS_DEFAULT = "true";
    public static final String NAT_NEW_RATE_PER_CLIENT_PROP_NAME = "nat.new-rate-per-client";
    public static final String NAT_NEW_RATE_PER_CLIENT_DEFAULT = "10000";
    public static final String NAT_WAN_RATE_PER_SOURCE_PROP_NAME = "nat.wan-rate-per-source";
    public static final String NAT_WAN_RATE_PER_SOURCE_DEFAULT = "10000";
    public static final String OFFLOAD_PROP_NAME = "offload";
    public static final String OFFLOAD_DEFAULT = "false";
    public static final String OFFLOAD_AFTER_PACKETS_PROP_NAME = "offload.after-packets";
    public static final String OFFLOAD_AFTER_PACKETS_DEFAULT = "8";
    public static final String OFFLOAD_FLOWTABLE_PROP_NAME = "offload.flowtable";
    public static final String OFFLOAD_FLOWTABLE_DEFAULT = "auto";

    public static final String PPTP_MAX_CONNECTIONS_PROP_NAME = "pptp.max-connections";
    public static final String PPTP_MAX_CONNECTIONS_DEFAULT = "256";
    public static final String PPTP_MAX_CALLS_PROP_NAME = "pptp.max-calls";
    public static final String PPTP_MAX_CALLS_DEFAULT = "1024";
    public static final String PPTP_MAX_CALLS_PER_CONNECTION_PROP_NAME = "pptp.max-calls-per-connection";
    public static final String PPTP_MAX_CALLS_PER_CONNECTION_DEFAULT = "64";
    public static final String PPTP_ON_INVALID_PROP_NAME = "pptp.on-invalid";
    public static final String PPTP_ON_INVALID_DEFAULT = "reset";
    public static final String L2TP_KEEP_PORT_PROP_NAME = "l2tp.keep-port";
    public static final String L2TP_KEEP_PORT_DEFAULT = "all";

    /** passthrough.NAME for each switch a helper declares ({@code io.passgate.alg.Helpers}). */
    public static final String PASSTHROUGH_PREFIX = "passthrough.";
    public static final String PASSTHROUGH_DEFAULT = "on";
    public static final String CONTROL_GROUP_PROP_NAME = "control.group";
    public static final String CONTROL_GROUP_DEFAULT = "passgate";
    public static final String METRICS_LISTEN_PROP_NAME = "metrics.listen";
    public static final String METRICS_LISTEN_DEFAULT = "off";
    public static final String WEB_LISTEN_PROP_NAME = "web.listen";
    public static final String WEB_LISTEN_DEFAULT = "lan:80";
    public static final String WEB_PASSWORD_HASH_PROP_NAME = "web.password-hash";
    public static final String WEB_PASSWORD_HASH_DEFAULT = "none";
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
        DEFAULTS.put(STATE_KEEP_PROP_NAME, STATE_KEEP_DEFAULT);
        DEFAULTS.put(STATE_INTERVAL_MS_PROP_NAME, STATE_INTERVAL_MS_DEFAULT);
        DEFAULTS.put(HAIRPIN_MARK_PROP_NAME, HAIRPIN_MARK_DEFAULT);
        DEFAULTS.put(LIVE_MARK_PROP_NAME, LIVE_MARK_DEFAULT);
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
        DEFAULTS.put(NAT_LIVE_FLOWS_PROP_NAME, NAT_LIVE_FLOWS_DEFAULT);
        DEFAULTS.put(OFFLOAD_PROP_NAME, OFFLOAD_DEFAULT);
        DEFAULTS.put(OFFLOAD_AFTER_PACKETS_PROP_NAME, OFFLOAD_AFTER_PACKETS_DEFAULT);
        DEFAULTS.put(OFFLOAD_FLOWTABLE_PROP_NAME, OFFLOAD_FLOWTABLE_DEFAULT);
        DEFAULTS.put(NAT_NEW_RATE_PER_CLIENT_PROP_NAME, NAT_NEW_RATE_PER_CLIENT_DEFAULT);
        DEFAULTS.put(NAT_WAN_RATE_PER_SOURCE_PROP_NAME, NAT_WAN_RATE_PER_SOURCE_DEFAULT);
        DEFAULTS.put(PPTP_MAX_CONNECTIONS_PROP_NAME, PPTP_MAX_CONNECTIONS_DEFAULT);
        DEFAULTS.put(PPTP_MAX_CALLS_PROP_NAME, PPTP_MAX_CALLS_DEFAULT);
        DEFAULTS.put(PPTP_MAX_CALLS_PER_CONNECTION_PROP_NAME, PPTP_MAX_CALLS_PER_CONNECTION_DEFAULT);
        DEFAULTS.put(PPTP_ON_INVALID_PROP_NAME, PPTP_ON_INVALID_DEFAULT);
        DEFAULTS.put(L2TP_KEEP_PORT_PROP_NAME, L2TP_KEEP_PORT_DEFAULT);
        for (final String name : Helpers.PASSTHROUGHS.names())
        {
            DEFAULTS.put(PASSTHROUGH_PREFIX + name, PASSTHROUGH_DEFAULT);
        }
        DEFAULTS.put(CONTROL_GROUP_PROP_NAME, CONTROL_GROUP_DEFAULT);
        DEFAULTS.put(METRICS_LISTEN_PROP_NAME, METRICS_LISTEN_DEFAULT);
        DEFAULTS.put(WEB_LISTEN_PROP_NAME, WEB_LISTEN_DEFAULT);
        DEFAULTS.put(WEB_PASSWORD_HASH_PROP_NAME, WEB_PASSWORD_HASH_DEFAULT);
        DEFAULTS.put(BOARD_PROP_NAME, BOARD_DEFAULT);
    }

    private ConfigKeys()
    {
    }
}

package io.passgate.counters;

/**
 * Every counter passgate keeps, as descriptors (the Aeron SystemCounterDescriptor shape). Each dataplane
 * shard counts into its own {@link CounterSet}; the {@link CountersFile} publishes them for passgatectl,
 * the metrics endpoint and tests. Drops are counted by reason: nothing is logged per packet.
 */
public enum Counter
{
    // nfqueue I/O
    RECEIVE_CALLS("recvmmsg calls that returned packets"),
    PACKETS_RECEIVED("packets received from the queue"),
    BYTES_RECEIVED("bytes received from the queue (IP length)"),
    GSO_PACKETS("GSO super-packets received"),
    CSUM_PARTIAL_PACKETS("packets with a CHECKSUM_PARTIAL transport checksum"),
    ACCEPTED("packets accepted unchanged"),
    MODIFIED("packets accepted rewritten"),
    DROPPED("packets dropped (all reasons)"),
    VERDICT_MESSAGES("verdict messages sent"),
    VERDICT_SENDS("sendmsg calls carrying verdicts"),
    VERDICT_SEND_ERRORS("failed verdict sends"),
    NETLINK_ERRORS("netlink error replies"),
    RECEIVE_ERRORS("failed receives other than EAGAIN"),
    ENOBUFS("socket overruns reported (ENOBUFS)"),
    TRUNCATED("packets copied short of their length (never rewritten)"),
    DECODE_ERRORS("queue messages that could not be decoded"),
    REQUEUED("packets handed to the queue of the shard that owns their session"),
    QUEUE_DROPPED("packets the kernel dropped because the queue was full (nfnetlink_queue queue_dropped)"),
    QUEUE_USER_DROPPED("packets the kernel could not hand to passgate's socket (user_dropped)"),

    // traffic by protocol and direction (outbound = LAN to WAN, inbound = WAN to LAN)
    OUT_PACKETS("outbound packets"),
    OUT_BYTES("outbound bytes (IP length)"),
    IN_PACKETS("inbound packets"),
    IN_BYTES("inbound bytes (IP length)"),
    OUT_TCP_PACKETS("outbound TCP packets"),
    OUT_TCP_PAYLOAD_BYTES("outbound TCP payload bytes"),
    IN_TCP_PACKETS("inbound TCP packets"),
    IN_TCP_PAYLOAD_BYTES("inbound TCP payload bytes"),
    OUT_UDP_PACKETS("outbound UDP packets"),
    OUT_UDP_PAYLOAD_BYTES("outbound UDP payload bytes"),
    IN_UDP_PACKETS("inbound UDP packets"),
    IN_UDP_PAYLOAD_BYTES("inbound UDP payload bytes"),
    OUT_ICMP_PACKETS("outbound ICMP packets"),
    IN_ICMP_PACKETS("inbound ICMP packets"),
    OUT_GRE_PACKETS("outbound GRE packets"),
    IN_GRE_PACKETS("inbound GRE packets"),
    OUT_ESP_PACKETS("outbound ESP packets"),
    IN_ESP_PACKETS("inbound ESP packets"),
    OUT_OTHER_PACKETS("outbound packets of other protocols"),
    IN_OTHER_PACKETS("inbound packets of other protocols"),

    // NAT
    NAT_FLOWS_CREATED("NAT sessions created"),
    NAT_FLOWS_EXPIRED("NAT sessions expired"),
    NAT_FLOWS_EVICTED("transitory NAT sessions evicted because the table was full"),
    NAT_FLOWS_LIVE("NAT sessions live (gauge)"),
    NAT_MAPPINGS_CREATED("NAT mappings created"),
    NAT_MAPPINGS_LIVE("NAT mappings live (gauge)"),
    NAT_PORTS_PRESERVED("mappings that kept the internal port"),
    NAT_PORTS_RANDOM("mappings given a random port"),
    NAT_TCP_PICKUPS("TCP sessions picked up mid-stream (after a takeover)"),
    NAT_TCP_RESETS("TCP resets seen (session held 4 minutes, RFC 7857)"),
    NAT_ICMP_ERRORS_TRANSLATED("ICMP errors translated with their embedded header"),
    NAT_MSS_CLAMPED("SYNs whose MSS was clamped"),
    NAT_HAIRPIN_PACKETS("packets hairpinned from LAN to LAN through the WAN address"),
    NAT_FRAGMENTS("non-first fragments translated"),
    NAT_UNSOLICITED_SYNS_HELD("unsolicited inbound SYNs held before an ICMP answer (RFC 5382 REQ-4)"),
    NAT_TO_ROUTER("packets to the WAN address left to the router itself"),
    NAT_REQUEUED_TO_HOLDER("new sessions handed to the shard that already holds their endpoint's mapping"),
    ICMP_SENT("ICMP errors passgate sent"),
    ICMP_RATE_LIMITED("ICMP errors not sent: rate limit"),

    // PPTP
    PPTP_CONTROL_CONNECTIONS("PPTP control connections tracked"),
    PPTP_CONTROL_LIVE("PPTP control connections live (gauge)"),
    PPTP_MESSAGES("PPTP control messages parsed"),
    PPTP_CALLS_CREATED("PPTP calls created"),
    PPTP_CALLS_LIVE("PPTP calls live (gauge)"),
    PPTP_CALL_IDS_TRANSLATED("PPTP Call ID fields rewritten"),
    PPTP_INVALID("invalid PPTP control messages or sequences"),
    PPTP_RESETS_SENT("PPTP control connections reset by passgate"),
    PPTP_RETRANSMISSIONS_PATCHED("retransmitted PPTP bytes rewritten as the first time"),
    PPTP_OUT_OF_ORDER("PPTP control segments dropped until the gap before them is filled"),
    PPTP_RESYNCED("PPTP control streams taken up again at a message start after a restart"),
    PPTP_UNSYNCED("PPTP control segments passed untouched (connection picked up mid-stream)"),
    PPTP_GRE_OUT("enhanced GRE packets translated LAN to WAN"),
    PPTP_GRE_IN("enhanced GRE packets translated WAN to LAN"),
    PPTP_SEGMENTS_UNDONE("PPTP control segments dropped with what they did undone (parsed afresh when resent)"),
    PPTP_CALLS_TIMED_OUT("PPTP call requests never answered, ended after 10 minutes"),
    PPTP_CLEARS_UNKNOWN("Call-Clear-Requests for a call already gone (a teardown race), passed as they are"),

    // IPsec
    IPSEC_IKE_MESSAGES("IKE messages seen (UDP 500 and 4500)"),
    IPSEC_IKE_SPIS_LEARNT("IKE SPIs learnt for the shared port 500"),
    IPSEC_ESP_SAS("ESP security associations started from the LAN"),
    IPSEC_ESP_OUT("ESP packets translated LAN to WAN"),
    IPSEC_ESP_IN("ESP packets translated WAN to LAN"),
    IPSEC_ESP_BOUND("inbound ESP SPIs bound to the client waiting on their server"),
    IPSEC_ESP_BOUND_ONLY_CLIENT("inbound ESP SPIs bound to their server's only IPsec client"),
    IPSEC_HELD("IKE or ESP packets held while another client waited on the same server"),
    IPSEC_RELEASED("held IKE or ESP packets sent on when their turn came"),
    IPSEC_WAITS_EXPIRED("clients whose wait for a server's first ESP ran out"),
    IPSEC_WAITS_AGAIN("clients waiting again: sending on an SA the server had not answered when the wait ran out"),
    L2TP_TUNNELS("L2TP tunnels seen opening (SCCRQ or SCCRP from the LAN)"),
    L2TP_CONTROL_MESSAGES("L2TP control messages read"),
    L2TP_TUNNEL_IDS_TRANSLATED("L2TP Tunnel IDs rewritten (a second client to one server with the same ID)"),
    L2TP_SERVER_PORT_MOVES("L2TP tunnels moved to the port their server answered from (RFC 2661 8.1)"),
    L2TP_PORT_FALLBACKS("L2TP clients given their own WAN port: a hidden Assigned Tunnel ID that could clash on 1701, or l2tp.keep-port = first"),
    L2TP_HIDDEN_IDS_LEARNT("hidden L2TP Tunnel IDs learnt from the server's answer"),
    L2TP_TUNNELS_ADOPTED("L2TP tunnels taken up mid-way (the server's only client on 1701, e.g. after a restart)"),
    L2TP_RETRANSMISSIONS("L2TP control messages seen again (same Ns): nothing changed twice"),
    L2TP_STOPCCN("L2TP tunnels ended by StopCCN"),
    L2TP_CDN("L2TP sessions ended by CDN"),
    L2TP_TUNNELS_CLOSED("L2TP tunnels removed 31 s after their StopCCN"),
    L2TP_TUNNELS_UNANSWERED("L2TP tunnels removed: no answer to their SCCRQ within 60 s"),
    L2TP_TUNNELS_IDLE("L2TP tunnels removed after 5 minutes without traffic"),
    L2TP_TUNNELS_SWITCHED_OFF("L2TP tunnels ended by switching L2TP passthrough off"),
    L2TP_OTHER_VERSIONS("UDP 1701 datagrams that are not L2TPv2 (L2TPv3 and others: plain UDP NAT)"),

    // floods: live flows (see nft.LiveFlowSet)
    LIVE_FLOWS_POSTED("live flows posted to the kernel's live set (new ones and refreshes)"),
    LIVE_FLOWS_RING_FULL("live flows not posted: the ring to the live-set writer was full (tried again)"),
    LIVE_SET_ELEMENTS_ADDED("live-set elements written to the kernel (both directions of each flow)"),
    LIVE_SET_ELEMENTS_REMOVED("live-set elements removed when their flow ended"),
    LIVE_SET_ERRORS("live-set writes the kernel refused"),
    LIVE_PACKETS("packets received from the live queues (live flows, served first)"),
    LIVE_QUEUE_DROPPED("packets the kernel dropped because a live queue was full (nfnetlink_queue queue_dropped)"),

    // offload: settled flows carried by the kernel (see nft.Offloader)
    OFFLOAD_OFFERED("settled flows the engine offered to the kernel"),
    OFFLOAD_RING_FULL("offers and withdrawals not posted: the ring to the offload writer was full (an offer is tried again at a later packet, a withdrawal at the kernel's next traffic report)"),
    OFFLOADED("flows the kernel took: a conntrack entry with passgate's mapping, in set offload_ports"),
    OFFLOADED_ESP("ESP security associations the kernel took: stateless rewrites by (server, SPI) from maps esp_in and esp_out"),
    OFFLOADED_GRE("PPTP calls' GRE the kernel took: stateless rewrites by (server, Call ID) from maps gre_in, gre_in_call and set gre_out"),
    OFFLOAD_REFUSED("offers the kernel refused (the flow stays in passgate)"),
    OFFLOAD_REPLACED("offers that met an entry of the flow's own tuple not passgate's (the fail-open fallback's masquerade made it while passgate was down): that entry deleted, passgate's made"),
    OFFLOAD_LIVE("flows the kernel carries now (gauge)"),
    OFFLOAD_HANDED_BACK("offloaded flows handed back to passgate when the kernel's entry ended (its idle timeout, deleted)"),
    OFFLOAD_ENDED("offloaded TCP connections the kernel saw close (FIN or RST): their sessions end"),
    OFFLOAD_KEPT("offloaded entries given more time so the kernel's idle timeout never ends a flow passgate keeps"),
    OFFLOAD_WITHDRAWN("offloaded flows passgate ended (its own idle timer, eviction, a reset)"),
    OFFLOAD_PACKETS("packets the kernel carried for offloaded flows (conntrack accounting, the tunnel maps' element counters)"),
    OFFLOAD_BYTES("bytes the kernel carried for offloaded flows (IP length)"),
    OFFLOAD_ERRORS("offload requests the kernel refused, and destroy events lost (made up by the next dump)"),
    OFFLOAD_STRAYS("traffic the kernel reported for a flow passgate no longer offloads (its withdrawal was lost to a full ring): withdrawn again"),

    // passthrough switches and tunnels
    PASSTHROUGH_REFUSED("packets refused because their passthrough is switched off (RST or ICMP 3/13 sent)"),
    PASSTHROUGH_TORN_DOWN("sessions torn down when their passthrough was switched off"),
    TUNNELS_PPTP("live PPTP calls (gauge)"),
    TUNNELS_IPSEC("live IKE, NAT-T and ESP sessions (gauge)"),
    TUNNELS_L2TP("live L2TP tunnels (gauge)"),

    // drops by reason
    DROP_MALFORMED("dropped: malformed IPv4 or transport header"),
    DROP_NOT_IPV4("dropped: not IPv4"),
    DROP_NO_MAPPING("dropped: inbound, no mapping"),
    DROP_FILTERED("dropped: inbound, refused by the mapping's filter"),
    DROP_TABLE_FULL("dropped: session table full (ICMP 3/13 sent)"),
    DROP_PORTS_EXHAUSTED("dropped: no external port free (ICMP 3/13 sent)"),
    DROP_CONFLICT("dropped: protocol without ports already mapped to another client for that server"),
    DROP_FRAGMENT_NO_STATE("dropped: fragment of a datagram whose first fragment was not seen"),
    DROP_UNTRANSLATABLE("dropped: LAN packet that cannot be translated"),
    DROP_GRE_NO_CALL("dropped: enhanced GRE that belongs to no PPTP call"),
    DROP_PPTP_LIMIT("dropped: PPTP connection or call limit reached"),
    DROP_IKE_UNKNOWN_SPI("dropped: IKE to the shared port 500 with SPIs no client sent (several clients on that server)"),
    DROP_IKE_MALFORMED("dropped: not a valid IKE header on the shared port 500"),
    DROP_ESP_UNKNOWN_SPI("dropped: inbound ESP with an SPI no waiting client takes (several clients on that server)"),
    DROP_ESP_MALFORMED("dropped: ESP shorter than its SPI and sequence number, or SPI 0"),
    DROP_IPSEC_HOLD_FULL("dropped: no room to hold an IKE or ESP packet for its turn"),
    DROP_IPSEC_HOLD_EXPIRED("dropped: a held IKE or ESP packet whose turn did not come within 10 s"),
    DROP_IPSEC_LIMIT("dropped: IPsec tunnel table full"),
    DROP_L2TP_MALFORMED("dropped: L2TP with a bad header, Length or AVP length, or a missing or hidden Message Type"),
    DROP_L2TP_UNKNOWN_MANDATORY("dropped: L2TP control message with a mandatory AVP passgate does not know"),
    DROP_L2TP_UNKNOWN_TUNNEL("dropped: inbound L2TP with a Tunnel ID no client assigned with that server"),
    DROP_L2TP_WRONG_PORT("dropped: L2TP for a live tunnel from another port of its server"),
    DROP_L2TP_PENDING("dropped: a second L2TP tunnel on 1701 while another client's hidden ID awaits its answer (resent)"),
    DROP_L2TP_LIMIT("dropped: L2TP tunnel table full, or no free Tunnel ID with that server"),
    DROP_ICMP_AMBIGUOUS("dropped: ICMP error whose quote matches several clients' sessions"),
    DROP_HANDLER_FAULT("dropped: the packet handler failed on it (a passgate bug; see passgatectl status)"),

    // faults (a passgate bug or the system refusing; see passgatectl status for the last one)
    STATE_SAVES("state images written to the state file (sessions and tunnels a restart keeps)"),
    STATE_SAVE_FAILED("state images not written: larger than the state file (see the log)"),
    STATE_RESTORED_SESSIONS("sessions restored from the state file at start (a restart kept them)"),
    DATAPLANE_ERRORS("exceptions out of a dataplane duty cycle (the loop went on)"),
    SEND_ERRORS("passgate's own packets (TCP RST, ICMP errors) the raw socket failed to send"),

    // liveness
    DUTY_CYCLES("dataplane duty cycles"),
    LAST_DUTY_CYCLE_MS("epoch ms of the last duty cycle");

    private final String description;

    Counter(final String description)
    {
        this.description = description;
    }

    public String description()
    {
        return description;
    }

    /** The name in metrics and passgatectl output: lower case with dashes. */
    public String label()
    {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    private static final Counter[] VALUES = values();

    public static Counter byIndex(final int index)
    {
        return VALUES[index];
    }

    public static int count()
    {
        return VALUES.length;
    }
}

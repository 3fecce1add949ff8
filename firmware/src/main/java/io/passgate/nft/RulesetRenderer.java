package io.passgate.nft;

import java.util.ArrayList;
import java.util.List;

import io.passgate.alg.Helpers;

/**
 * Renders passgate's rules: one nftables table {@code inet passgate}, replaced whole and atomically with
 * {@code nft -f} (the OpenWrt firewall4 way), and, on kernels without nft's queue expression, the queue
 * statements as iptables NFQUEUE targets in passgate's own chains of table {@code ip mangle}.
 * Every rule carries a comment saying why it is there.
 *
 * <p>The packet's way (translate mode):
 * <ul>
 *   <li>raw prerouting, first (with offload): a flow in set {@code offload_ports} is accepted tracked, and the
 *       conntrack entry passgate created for it (its mapping as the entry's source NAT) translates it; the queue
 *       rules below take untracked packets only (see {@link Offloader}); an offloaded tunnel's ESP or PPTP GRE
 *       is rewritten statelessly from passgate's maps and accepted untracked (the source of packets to the
 *       server in chain offload_snat, after routing);</li>
 *   <li>raw prerouting: traffic from the LAN that will be forwarded, and traffic to the WAN address that no
 *       local socket wants, is marked notrack: passgate rewrites its addresses itself, so conntrack must not
 *       (in fail-open, only while passgate's heartbeat element is in set {@code alive});</li>
 *   <li>prerouting (mangle): packets to the WAN address are queued, so a destination rewrite happens before
 *       routing;</li>
 *   <li>postrouting (mangle): untracked LAN packets leaving by the WAN, and hairpinned packets going back
 *       to the LAN, are queued, so the source rewrite happens after routing;</li>
 *   <li>postrouting (srcnat+10): a LAN packet may leave by the WAN only with the WAN address as source;</li>
 *   <li>fail-open: a masquerade rule takes over the moment the heartbeat stops (tracked traffic only).</li>
 * </ul>
 */
public final class RulesetRenderer
{
    /** Connection-mark bit of the entries passgate offloaded (Offloader.MARK_BIT). */
    static final int OFFLOAD_CT_MARK = Offloader.MARK_BIT;

    private RulesetRenderer()
    {
    }

    /** The nft -f script: creates the table if absent, deletes it, and defines it anew, in one transaction. */
    public static String nftScript(final RulesetSpec s)
    {
        final StringBuilder b = new StringBuilder(4096);
        b.append("# passgate ruleset: rendered by passgate, replaced atomically on start, removed on stop.\n");
        b.append("# Do not edit: changes are lost at the next start.\n");
        b.append("table inet ").append(RulesetSpec.TABLE).append(" {\n}\n");
        b.append("delete table inet ").append(RulesetSpec.TABLE).append('\n');
        b.append("table inet ").append(RulesetSpec.TABLE).append(" {\n");
        final String lan = quote(s.lanInterface());
        final String wan = quote(s.wanInterface());
        final String alive = s.failOpen() ? "meta nfproto @" + RulesetSpec.ALIVE_SET + " " : "";
        if (s.failOpen())
        {
            b.append("\tset ").append(RulesetSpec.ALIVE_SET).append(" {\n");
            b.append("\t\ttype nf_proto\n");
            b.append("\t\tflags timeout\n");
            b.append("\t\tcomment \"passgate heartbeat: while an element is here, passgate owns the traffic\"\n");
            b.append("\t}\n\n");
        }

        final boolean live = s.liveQueues();
        final String notLive = live ? "meta mark & " + hex(s.liveMark()) + " == 0 " : "";
        if (live)
        {
            b.append("\tset ").append(RulesetSpec.LIVE_PORTS_SET).append(" {\n");
            b.append("\t\ttype ipv4_addr . ipv4_addr . inet_proto . inet_service . inet_service\n");
            b.append("\t\tflags timeout\n");
            b.append("\t\tsize ").append(s.liveSetSize()).append('\n');
            b.append("\t\tcomment \"live TCP and UDP flows, both directions as on the wire: passgate adds and removes them\"\n");
            b.append("\t}\n\n");
            b.append("\tset ").append(RulesetSpec.LIVE_PROTOS_SET).append(" {\n");
            b.append("\t\ttype ipv4_addr . ipv4_addr . inet_proto\n");
            b.append("\t\tflags timeout\n");
            b.append("\t\tsize ").append(s.liveSetSize()).append('\n');
            b.append("\t\tcomment \"live GRE and ESP flows, both directions: passgate adds and removes them\"\n");
            b.append("\t}\n\n");
            appendRateSet(b, RulesetSpec.LAN_NEW_SET, s.lanNewRate(), "LAN clients sending outside live flows");
            appendRateSet(b, RulesetSpec.WAN_NEW_SET, s.wanNewRate(), "WAN sources sending to the WAN address outside live flows");
        }

        final boolean offload = s.offload();
        if (offload)
        {
            b.append("\tset ").append(RulesetSpec.OFFLOAD_PORTS_SET).append(" {\n");
            b.append("\t\ttype ipv4_addr . ipv4_addr . inet_proto . inet_service . inet_service\n");
            b.append("\t\tsize ").append(s.offloadSetSize()).append('\n');
            b.append("\t\tcomment \"offloaded flows, both directions as on the wire: the kernel's conntrack entry (passgate's mapping) carries them\"\n");
            b.append("\t}\n\n");
            appendTunnelMaps(b, s.offloadSetSize());
            if (s.flowtableOffload())
            {
                appendFlowtable(b, lan, wan);
            }
        }

        // raw prerouting
        b.append("\tchain raw_prerouting {\n");
        b.append("\t\ttype filter hook prerouting priority raw; policy accept;\n");
        if (s.translate())
        {
            if (offload)
            {
                b.append("\t\tip saddr . ip daddr . meta l4proto . th sport . th dport @").append(RulesetSpec.OFFLOAD_PORTS_SET)
                    .append(" accept comment \"offloaded: tracked, conntrack's entry translates it (never queued)\"\n");
                appendTunnelRules(b, s, lan);
            }
            if (live)
            {
                b.append("\t\tip saddr . ip daddr . meta l4proto . th sport . th dport @").append(RulesetSpec.LIVE_PORTS_SET)
                    .append(" meta mark set meta mark | ").append(hex(s.liveMark()))
                    .append(" comment \"a live flow's packet: to its shard's live queue\"\n");
                b.append("\t\tip saddr . ip daddr . meta l4proto @").append(RulesetSpec.LIVE_PROTOS_SET)
                    .append(" meta mark set meta mark | ").append(hex(s.liveMark()))
                    .append(" comment \"a live tunnel's GRE or ESP: to the live queue\"\n");
                if (s.lanNewRate() > 0)
                {
                    // meta nfproto ipv4 after the alive lookup: nft 1.1 wants the network layer known before ip saddr
                    b.append("\t\tiifname ").append(lan).append(" fib daddr type != local ").append(notLive).append(alive)
                        .append("meta nfproto ipv4 add @").append(RulesetSpec.LAN_NEW_SET).append(" { ip saddr limit rate over ")
                        .append(s.lanNewRate()).append("/second burst ").append(s.lanNewRate())
                        .append(" packets } counter drop comment \"flood: a LAN client over nat.new-rate-per-client outside live flows\"\n");
                }
            }
            b.append("\t\tiifname ").append(lan).append(" fib daddr type != local ").append(alive)
                .append("notrack comment \"LAN traffic to forward: passgate translates it\"\n");
            b.append("\t\tip daddr ").append(s.wan())
                .append(" meta l4proto { tcp, udp } socket transparent 0 accept comment \"the router's own sockets: kernel\"\n");
            if (live && s.wanNewRate() > 0)
            {
                b.append("\t\tip daddr ").append(s.wan()).append(' ').append(notLive).append(alive)
                    .append("meta nfproto ipv4 add @").append(RulesetSpec.WAN_NEW_SET).append(" { ip saddr limit rate over ")
                    .append(s.wanNewRate()).append("/second burst ").append(s.wanNewRate())
                    .append(" packets } counter drop comment \"flood: a WAN source over nat.wan-rate-per-source outside live flows\"\n");
            }
            b.append("\t\tip daddr ").append(s.wan()).append(' ').append(alive)
                .append("notrack comment \"to the WAN address: passgate's mappings\"\n");
        }
        b.append("\t\tct state untracked meta nfproto ipv4 counter comment \"passgate owned\"\n");
        b.append("\t}\n\n");

        if (s.backend() == QueueBackend.NFT)
        {
            b.append("\tchain queue_prerouting {\n");
            b.append("\t\ttype filter hook prerouting priority mangle; policy accept;\n");
            for (final String rule : preroutingQueueRules(s, true))
            {
                b.append("\t\t").append(rule).append('\n');
            }
            b.append("\t}\n\n");
            b.append("\tchain queue_postrouting {\n");
            b.append("\t\ttype filter hook postrouting priority mangle; policy accept;\n");
            for (final String rule : postroutingQueueRules(s, true))
            {
                b.append("\t\t").append(rule).append('\n');
            }
            b.append("\t}\n\n");
        }

        if (offload)
        {
            b.append("\tchain offload_snat {\n");
            b.append("\t\ttype filter hook postrouting priority mangle - 10; policy accept;\n");
            final String mark = hex(RulesetSpec.OFFLOAD_TUNNEL_MARK);
            b.append("\t\toifname ").append(wan).append(" meta mark & ").append(mark).append(" == ").append(mark)
                .append(" ip saddr set ").append(s.wan())
                .append(" comment \"offloaded ESP and PPTP GRE to their server: the WAN address as source (before the queue rules)\"\n");
            b.append("\t}\n\n");
        }

        if (s.translate())
        {
            b.append("\tchain leak_guard {\n");
            b.append("\t\ttype filter hook postrouting priority srcnat + 10; policy accept;\n");
            b.append("\t\tiifname ").append(lan).append(" oifname ").append(wan).append(" ip saddr != ")
                .append(s.wan()).append(" counter drop comment \"a LAN address never leaves by the WAN\"\n");
            b.append("\t}\n");
            if (s.failOpen())
            {
                b.append('\n');
                appendFallbackNat(b, lan, wan);
            }
            else
            {
                b.append('\n');
                b.append("\tchain fail_closed {\n");
                b.append("\t\ttype filter hook forward priority filter + 10; policy accept;\n");
                b.append("\t\tiifname ").append(lan).append(" oifname ").append(wan)
                    .append(" ct state != untracked ").append(offload ? "ct mark & " + hex(OFFLOAD_CT_MARK) + " == 0 " : "")
                    .append("counter drop comment \"fail-closed: nothing passgate did not translate\"\n");
                b.append("\t}\n");
                if (offload)
                {
                    b.append('\n');
                    b.append("\tchain offload_nat {\n");
                    b.append("\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
                    b.append("\t\tcomment \"no rules: its presence turns on the kernel's NAT hooks, which apply offloaded entries' mappings\"\n");
                    b.append("\t}\n");
                }
            }
        }
        b.append("}\n");
        return b.toString();
    }

    /**
     * The table passgate leaves when it stops in translate mode: the fail-mode fallback alone (no queue, no
     * notrack): fail-open keeps kernel masquerade, fail-closed forwards nothing from the LAN to the WAN.
     */
    public static String nftStoppedScript(final RulesetSpec s)
    {
        final String lan = quote(s.lanInterface());
        final String wan = quote(s.wanInterface());
        final StringBuilder b = new StringBuilder(1024);
        b.append("# passgate is stopped: its fail-").append(s.failOpen() ? "open" : "closed")
            .append(" fallback only. Removed by 'passgate --remove-rules'.\n");
        b.append("table inet ").append(RulesetSpec.TABLE).append(" {\n}\n");
        b.append("delete table inet ").append(RulesetSpec.TABLE).append('\n');
        b.append("table inet ").append(RulesetSpec.TABLE).append(" {\n");
        if (s.failOpen())
        {
            appendFallbackNat(b, lan, wan);
            b.append('\n');
            b.append("\tchain leak_guard {\n");
            b.append("\t\ttype filter hook postrouting priority srcnat + 10; policy accept;\n");
            b.append("\t\tiifname ").append(lan).append(" oifname ").append(wan).append(" ip saddr != ")
                .append(s.wan()).append(" counter drop comment \"a LAN address never leaves by the WAN\"\n");
            b.append("\t}\n");
        }
        else
        {
            b.append("\tchain fail_closed {\n");
            b.append("\t\ttype filter hook forward priority filter + 10; policy accept;\n");
            b.append("\t\tiifname ").append(lan).append(" oifname ").append(wan)
                .append(" counter drop comment \"fail-closed: passgate is stopped\"\n");
            b.append("\t}\n");
        }
        b.append("}\n");
        return b.toString();
    }

    /**
     * The helpers' traffic (GRE, ESP, IKE, L2TP, NAT-T, PPTP control) goes to the first queue, where the ALGs
     * live; {@code pptpPort} is "dport" on the way out, "sport" on the way back.
     */
    private static void addHelperRules(final List<QueueRule> rules, final String n, final String x, final int q0,
        final String tcpPort)
    {
        rules.add(new QueueRule(n + "meta l4proto != { " + PORT_PROTOCOLS_NFT + ", icmp }",
            x + "-m u32 ! --u32 \"6&0xFF=0x1," + PORT_PROTOCOLS_U32 + "\"", q0,
            "GRE, ESP, AH and other protocols without ports: the helpers, on the first queue"));
        final String udp = join(Helpers.PASSTHROUGHS.queuedUdpPorts(), ", ");
        rules.add(new QueueRule(n + "udp dport { " + udp + " }", x + "-p udp -m multiport --dports "
            + join(Helpers.PASSTHROUGHS.queuedUdpPorts(), ","), q0, "the helpers' UDP ports: on the first queue"));
        if ("dport".equals(tcpPort))
        {
            // a client's own port that a helper serves (L2TP 1701, IKE 500) towards a server's other port: an L2TP
            // server that answered from another port (RFC 2661 8.1)
            final int[] shared = Helpers.PASSTHROUGHS.sharedUdpPorts();
            rules.add(new QueueRule(n + "udp sport { " + join(shared, ", ") + " }", x + "-p udp -m multiport --sports "
                + join(shared, ","), q0, "the helpers' shared ports as a client's source: on the first queue"));
        }
        final int[] tcp = Helpers.PASSTHROUGHS.queuedTcpPorts();
        rules.add(new QueueRule(n + "tcp " + tcpPort + (tcp.length == 1 ? " " + tcp[0] : " { " + join(tcp, ", ") + " }"),
            x + "-p tcp " + (tcp.length == 1 ? "--" + tcpPort + " " + tcp[0]
                : "-m multiport --" + tcpPort + "s " + join(tcp, ",")), q0,
            "the helpers' TCP ports (PPTP control): on the first queue"));
    }

    /** The helpers' ports, TCP and UDP, as an nft set's elements. */
    private static String helperPorts()
    {
        final java.util.TreeSet<Integer> all = new java.util.TreeSet<>();
        for (final int p : Helpers.PASSTHROUGHS.queuedUdpPorts())
        {
            all.add(p);
        }
        for (final int p : Helpers.PASSTHROUGHS.queuedTcpPorts())
        {
            all.add(p);
        }
        return join(all.stream().mapToInt(Integer::intValue).toArray(), ", ");
    }

    private static String join(final int[] values, final String separator)
    {
        final StringBuilder b = new StringBuilder();
        for (final int v : values)
        {
            if (b.length() > 0)
            {
                b.append(separator);
            }
            b.append(v);
        }
        return b.toString();
    }

    /**
     * Enhanced GRE (RFC 2637 4.1) as PPTP sends it: no checksum or routing bit, the key bit set, version 1, protocol
     * 0x880B; its Call ID is then bytes 6-7 (bits 48-63). {@code ip protocol gre}, not {@code meta l4proto gre}: with
     * the latter nft 1.0.6 asserts when it lists the rule.
     */
    static final String PPTP_GRE = "ip protocol gre @th,0,16 & 0xe007 == 0x2001 @th,16,16 0x880b";

    /**
     * The maps of offloaded tunnels (see Offloader): ESP by (server, SPI), PPTP GRE by (server, Call ID). Each
     * element counts its packets and bytes; its comment names the passgate session.
     */
    private static void appendTunnelMaps(final StringBuilder b, final int size)
    {
        appendTunnelMap(b, RulesetSpec.ESP_IN_MAP, "ip saddr . esp spi : ip daddr", size, true,
            "offloaded ESP from a server: server . SPI to the LAN client");
        appendTunnelMap(b, RulesetSpec.ESP_OUT_SET, "ip saddr . ip daddr . esp spi", size, true,
            "offloaded ESP to a server: client . server . SPI, sent from the WAN address");
        appendTunnelMap(b, RulesetSpec.GRE_IN_MAP, "ip saddr . @th,48,16 : ip daddr", size, true,
            "offloaded PPTP GRE from a server: server . the Call ID passgate gave to the LAN client");
        appendTunnelMap(b, RulesetSpec.GRE_IN_CALL_MAP, "ip saddr . @th,48,16 : @th,48,16", size, false,
            "offloaded PPTP GRE from a server: server . the Call ID passgate gave to the client's own Call ID");
        appendTunnelMap(b, RulesetSpec.GRE_OUT_SET, "ip saddr . ip daddr . @th,48,16", size, true,
            "offloaded PPTP GRE to a server: client . server . the server's Call ID, sent from the WAN address");
    }

    private static void appendTunnelMap(final StringBuilder b, final String name, final String typeof, final int size,
        final boolean counter, final String what)
    {
        b.append('\t').append(typeof.contains(":") ? "map " : "set ").append(name).append(" {\n");
        b.append("\t\ttypeof ").append(typeof).append('\n');
        b.append("\t\tsize ").append(size).append('\n');
        if (counter)
        {
            b.append("\t\tcounter\n");
        }
        b.append("\t\tcomment \"").append(what).append("\"\n");
        b.append("\t}\n\n");
    }

    /**
     * Offloaded tunnels' packets, first in raw prerouting: rewritten without conntrack (each rule stops at a key
     * not in its map, and the packet goes on to the queue) and accepted untracked, past the flood limits. From
     * a server, the destination (and GRE's Call ID) is rewritten here, so the queue rules, which take packets to
     * the WAN address, no longer match; to a server, the source is rewritten in chain offload_snat after
     * routing (the WAN address as a source arriving from the LAN would be a martian here).
     */
    private static void appendTunnelRules(final StringBuilder b, final RulesetSpec s, final String lan)
    {
        b.append("\t\tip daddr ").append(s.wan()).append(" meta l4proto esp ip daddr set ip saddr . esp spi map @")
            .append(RulesetSpec.ESP_IN_MAP).append(" notrack accept comment \"offloaded ESP from a server: to its client by SPI\"\n");
        final String mark = " meta mark set meta mark | " + hex(RulesetSpec.OFFLOAD_TUNNEL_MARK);
        b.append("\t\tiifname ").append(lan).append(" meta l4proto esp ip saddr . ip daddr . esp spi @")
            .append(RulesetSpec.ESP_OUT_SET).append(mark)
            .append(" notrack accept comment \"offloaded ESP to a server: offload_snat gives it the WAN address\"\n");
        b.append("\t\tip daddr ").append(s.wan()).append(' ').append(PPTP_GRE).append(" ip daddr set ip saddr . @th,48,16 map @")
            .append(RulesetSpec.GRE_IN_MAP).append(" @th,48,16 set ip saddr . @th,48,16 map @").append(RulesetSpec.GRE_IN_CALL_MAP)
            .append(" notrack accept comment \"offloaded PPTP GRE from a server: to its client and its Call ID\"\n");
        b.append("\t\tiifname ").append(lan).append(' ').append(PPTP_GRE).append(" ip saddr . ip daddr . @th,48,16 @")
            .append(RulesetSpec.GRE_OUT_SET).append(mark)
            .append(" notrack accept comment \"offloaded PPTP GRE to a server: offload_snat gives it the WAN address\"\n");
    }

    /** A dynamic set of source addresses, each with its own rate limit (a meter); elements idle out after a minute. */
    private static void appendRateSet(final StringBuilder b, final String name, final int rate, final String what)
    {
        if (rate <= 0)
        {
            return;
        }
        b.append("\tset ").append(name).append(" {\n");
        b.append("\t\ttype ipv4_addr\n");
        b.append("\t\tflags dynamic,timeout\n");
        b.append("\t\tsize 65535\n");
        b.append("\t\ttimeout 1m\n");
        b.append("\t\tcomment \"").append(what).append(": a rate limit each\"\n");
        b.append("\t}\n\n");
    }

    /**
     * The software flowtable and the rule that fills it: an offloaded flow's conntrack entry (passgate's mapping,
     * connection mark bit 31) goes to the flowtable with its next packet forwarded from the LAN (as on the wire in
     * set offload_ports, so never an earlier run's entry: the set starts empty), and from then on the ingress
     * hook of either interface forwards the flow's packets with that entry's translation, past prerouting,
     * forward and postrouting (the kernel's own checks: an established TCP entry, no FIN or RST, a route both
     * ways). A FIN or RST, 30 s idle, or the entry's deletion hand the flow back to conntrack's path; the
     * counter flag keeps conntrack accounting (passgate's traffic reports) true.
     */
    private static void appendFlowtable(final StringBuilder b, final String lan, final String wan)
    {
        b.append("\t# offloaded flows past netfilter's hooks (the kernel's software fast path)\n");
        appendFlowtableDeclaration(b, lan, wan);
        b.append("\tchain offload_flow {\n");
        b.append("\t\ttype filter hook forward priority filter + 20; policy accept;\n");
        b.append("\t\tct mark & ").append(hex(OFFLOAD_CT_MARK)).append(" == ").append(hex(OFFLOAD_CT_MARK))
            .append(" ip saddr . ip daddr . meta l4proto . th sport . th dport @").append(RulesetSpec.OFFLOAD_PORTS_SET)
            .append(" flow add @").append(RulesetSpec.FLOWTABLE)
            .append(" comment \"an offloaded flow's entry, from the LAN: to the flowtable (not an earlier run's)\"\n");
        b.append("\t}\n\n");
    }

    private static void appendFlowtableDeclaration(final StringBuilder b, final String lan, final String wan)
    {
        b.append("\tflowtable ").append(RulesetSpec.FLOWTABLE).append(" {\n");
        b.append("\t\thook ingress priority filter\n");
        b.append("\t\tdevices = { ").append(lan).append(", ").append(wan).append(" }\n");
        b.append("\t\tcounter\n");
        b.append("\t}\n\n");
    }

    /**
     * A table that only {@code nft -c} checks ({@link Firewall#flowtableProblem}): passgate's flowtable on these
     * interfaces and a rule that adds offloaded flows to it, the parts of the offload table a kernel without
     * nf_flow_table (or without the flowtable's counter) refuses.
     */
    static String flowtableProbe(final String lanInterface, final String wanInterface)
    {
        final StringBuilder b = new StringBuilder("table inet passgate_probe {\n");
        appendFlowtableDeclaration(b, quote(lanInterface), quote(wanInterface));
        b.append("\tchain c {\n");
        b.append("\t\ttype filter hook forward priority filter + 20;\n");
        b.append("\t\tct mark & ").append(hex(OFFLOAD_CT_MARK)).append(" == ").append(hex(OFFLOAD_CT_MARK))
            .append(" meta l4proto { tcp, udp } flow add @").append(RulesetSpec.FLOWTABLE).append('\n');
        b.append("\t}\n}\n");
        return b.toString();
    }

    /** The fail-open chain: the kernel masquerades LAN-to-WAN traffic that passgate does not handle. */
    private static void appendFallbackNat(final StringBuilder b, final String lan, final String wan)
    {
        b.append("\tchain fallback_nat {\n");
        b.append("\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
        b.append("\t\tiifname ").append(lan).append(" oifname ").append(wan)
            .append(" counter masquerade comment \"fail-open: the kernel's NAT while passgate is down\"\n");
        b.append("\t}\n");
    }

    /** iptables-restore input (with --noflush) for the iptables queue backend: passgate's own chains only. */
    public static String iptablesScript(final RulesetSpec s)
    {
        final StringBuilder b = new StringBuilder(1024);
        b.append("# passgate queue rules (xtables NFQUEUE target: this kernel has no nft queue expression)\n");
        b.append("*mangle\n");
        b.append(":PASSGATE_PRE - [0:0]\n");
        b.append(":PASSGATE_POST - [0:0]\n");
        for (final String rule : preroutingQueueRules(s, false))
        {
            b.append("-A PASSGATE_PRE ").append(rule).append('\n');
        }
        for (final String rule : postroutingQueueRules(s, false))
        {
            b.append("-A PASSGATE_POST ").append(rule).append('\n');
        }
        b.append("COMMIT\n");
        return b.toString();
    }

    /** One queue rule in both renderings. */
    private record QueueRule(String nft, String iptables, int queue, String why)
    {
    }

    /** The protocols translated by port (TCP, UDP, DCCP, SCTP, UDP-Lite), in both renderings. */
    private static final String PORT_PROTOCOLS_NFT = "tcp, udp, dccp, sctp, udplite";
    private static final String PORT_PROTOCOLS_U32 = "0x6,0x11,0x21,0x84,0x88";
    private static final String ICMP_QUERY_REPLIES_NFT = "icmp type { echo-reply, timestamp-reply, info-reply, address-mask-reply }";
    private static final String ICMP_QUERY_REQUESTS_NFT = "icmp type { echo-request, timestamp-request, info-request, address-mask-request }";
    private static final String ICMP_ERRORS_NFT = "icmp type { destination-unreachable, source-quench, time-exceeded, parameter-problem }";
    // u32: byte 9 is the protocol; "0>>22&0x3C@" moves to the transport header
    private static final String U32_ICMP_QUERY_REPLY = "-m u32 --u32 \"6&0xFF=0x1 && 0>>22&0x3C@0>>24=0x0,0xE,0x10,0x12\"";
    private static final String U32_ICMP_QUERY_REQUEST = "-m u32 --u32 \"6&0xFF=0x1 && 0>>22&0x3C@0>>24=0x8,0xD,0xF,0x11\"";
    private static final String U32_ICMP_ERROR = "6&0xFF=0x1 && 0>>22&0x3C@0>>24=0x3,0x4,0xB,0xC";

    /**
     * With several queues every packet must reach the shard that owns its session: the helpers' protocols
     * and ports, and ICMP queries, go to the first queue; other mappings by the low bits of the WAN port
     * (inbound; shard i allocates ports whose low bits are i), of the embedded source port (ICMP errors), or
     * of the LAN client's address (outbound, where shard i's clients get their mappings).
     */
    static List<String> preroutingQueueRules(final RulesetSpec s, final boolean nft)
    {
        final List<QueueRule> rules = new ArrayList<>();
        final int q0 = s.queueBase();
        if (s.translate())
        {
            final String n = "ip daddr " + s.wan() + " ct state untracked ";
            final String x = "-d " + s.wan() + "/32 -m conntrack --ctstate UNTRACKED ";
            if (s.queues() == 1)
            {
                rules.add(new QueueRule(n.strip(), x.strip(), q0, "to the WAN address: destination rewrite before routing"));
            }
            else
            {
                final int mask = s.queues() - 1;
                addHelperRules(rules, n, x, q0, "sport");
                for (int q = 0; q < s.queues(); q++)
                {
                    rules.add(new QueueRule(n + "meta l4proto { " + PORT_PROTOCOLS_NFT + " } th dport & " + mask + " == " + q,
                        x + "-m u32 --u32 \"6&0xFF=" + PORT_PROTOCOLS_U32 + " && 0>>22&0x3C@0&0x" + Integer.toHexString(mask) + "=0x"
                            + Integer.toHexString(q) + "\"",
                        q0 + q, "mappings whose WAN port belongs to queue " + (q0 + q)));
                }
                rules.add(new QueueRule(n + ICMP_QUERY_REPLIES_NFT, x + U32_ICMP_QUERY_REPLY, q0,
                    "ICMP query replies: the first queue maps ICMP queries"));
                // errors: the embedded header starts 8 bytes into the ICMP message, its protocol at byte 17,
                // its source port 8 bytes past its own header (assumed 20 bytes in the nft rendering)
                rules.add(new QueueRule(n + ICMP_ERRORS_NFT + " @th,136,8 != { 6, 17, 33, 132, 136 }",
                    x + "-m u32 ! --u32 \"0>>22&0x3C@14&0xFF=" + PORT_PROTOCOLS_U32 + "\" -p icmp", q0,
                    "ICMP errors about ICMP, GRE, ESP and other protocols without ports: the first queue"));
                rules.add(new QueueRule(n + ICMP_ERRORS_NFT + " @th,224,16 { " + helperPorts() + " }",
                    x + "-m u32 --u32 \"" + U32_ICMP_ERROR + " && 0>>22&0x3C@8>>22&0x3C@8>>16="
                        + helperPorts().replace(" ", "") + "\"",
                    q0, "ICMP errors about the helpers' sessions: the first queue"));
                for (int q = 0; q < s.queues(); q++)
                {
                    rules.add(new QueueRule(n + ICMP_ERRORS_NFT + " @th,224,16 & " + mask + " == " + q,
                        x + "-m u32 --u32 \"" + U32_ICMP_ERROR + " && 0>>22&0x3C@8>>22&0x3C@8>>16&0x"
                            + Integer.toHexString(mask) + "=0x" + Integer.toHexString(q) + "\"",
                        q0 + q, "ICMP errors about sessions of queue " + (q0 + q)));
                }
                rules.add(new QueueRule(n.strip(), x.strip(), q0, "the rest: first queue"));
            }
        }
        else
        {
            rules.add(new QueueRule("iifname " + quote(s.wanInterface()) + " fib daddr type != local",
                "-i " + s.wanInterface() + " -m addrtype ! --dst-type LOCAL", q0, "forward mode: WAN to LAN through the queue"));
        }
        return render(s, nft, rules);
    }

    static List<String> postroutingQueueRules(final RulesetSpec s, final boolean nft)
    {
        final List<QueueRule> rules = new ArrayList<>();
        final int q0 = s.queueBase();
        if (s.translate())
        {
            final String n = "oifname " + quote(s.wanInterface()) + " ip saddr != " + s.wan() + " ct state untracked ";
            final String x = "-o " + s.wanInterface() + " ! -s " + s.wan() + "/32 -m conntrack --ctstate UNTRACKED ";
            final String hn = "oifname " + quote(s.lanInterface()) + " meta mark & " + hex(s.hairpinMark()) + " == "
                + hex(s.hairpinMark()) + " ";
            final String hx = "-o " + s.lanInterface() + " -m mark --mark " + hex(s.hairpinMark()) + "/" + hex(s.hairpinMark()) + " ";
            if (s.queues() == 1)
            {
                rules.add(new QueueRule(n.strip(), x.strip(), q0, "LAN to WAN: source rewrite after routing"));
                rules.add(new QueueRule(hn.strip(), hx.strip(), q0, "hairpin back to the LAN: source rewrite"));
            }
            else
            {
                final int mask = s.queues() - 1;
                addHelperRules(rules, n, x, q0, "dport");
                rules.add(new QueueRule(n + ICMP_QUERY_REQUESTS_NFT, x + U32_ICMP_QUERY_REQUEST, q0,
                    "ICMP queries: the first queue maps them"));
                for (int q = 0; q < s.queues(); q++)
                {
                    final String byClientN = "ip saddr & 0.0.0." + mask + " == 0.0.0." + q;
                    final String byClientX = "-m u32 --u32 \"12&0x" + Integer.toHexString(mask) + "=0x"
                        + Integer.toHexString(q) + "\"";
                    rules.add(new QueueRule(n + byClientN, x + byClientX, q0 + q,
                        "LAN clients whose address belongs to queue " + (q0 + q)));
                    rules.add(new QueueRule(hn + byClientN, hx + byClientX, q0 + q,
                        "hairpin from clients of queue " + (q0 + q)));
                }
            }
        }
        else
        {
            rules.add(new QueueRule("iifname " + quote(s.lanInterface()) + " oifname " + quote(s.wanInterface()),
                "-o " + s.wanInterface() + " -m addrtype ! --src-type LOCAL", q0, "forward mode: LAN to WAN through the queue"));
        }
        return render(s, nft, rules);
    }

    /**
     * With live queues every rule comes twice: first for packets of live flows (marked in raw prerouting), to
     * the shard's live queue, then for the rest, to its bulk queue. NFQUEUE ends the packet's way through the
     * chain, so a marked packet never reaches the second half.
     */
    private static List<String> render(final RulesetSpec s, final boolean nft, final List<QueueRule> rules)
    {
        final List<String> out = new ArrayList<>();
        if (s.liveQueues())
        {
            final String mark = hex(s.liveMark());
            for (final QueueRule r : rules)
            {
                final String match = nft ? r.nft() : r.iptables();
                if (match != null)
                {
                    out.add(queue(s, nft, (nft ? "meta mark & " + mark + " == " + mark + " " : "-m mark --mark " + mark
                        + "/" + mark + " ") + match, r.queue() + s.queues(), "live flows: " + r.why()));
                }
            }
        }
        for (final QueueRule r : rules)
        {
            final String match = nft ? r.nft() : r.iptables();
            if (match != null)
            {
                out.add(queue(s, nft, match, r.queue(), r.why()));
            }
        }
        return out;
    }

    private static String queue(final RulesetSpec s, final boolean nft, final String match, final int queue,
        final String why)
    {
        if (nft)
        {
            return match + " counter queue" + (s.failOpen() ? " flags bypass" : "") + " to " + queue
                + " comment \"" + why + "\"";
        }
        return match + " -m comment --comment \"" + why + "\" -j NFQUEUE --queue-num " + queue
            + (s.failOpen() ? " --queue-bypass" : "");
    }

    static String quote(final String name)
    {
        return "\"" + name + "\"";
    }

    private static String hex(final int value)
    {
        return "0x" + Integer.toHexString(value);
    }
}

package io.passgate.nft;

import java.util.ArrayList;
import java.util.List;

/**
 * Renders passgate's rules: one nftables table {@code inet passgate}, replaced whole and atomically with
 * {@code nft -f} (the OpenWrt firewall4 way), and, on kernels without nft's queue expression, the queue
 * statements as iptables NFQUEUE targets in passgate's own chains of table {@code ip mangle}.
 * Every rule carries a comment saying why it is there.
 *
 * <p>The packet's way (translate mode):
 * <ul>
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

        // raw prerouting
        b.append("\tchain raw_prerouting {\n");
        b.append("\t\ttype filter hook prerouting priority raw; policy accept;\n");
        if (s.translate())
        {
            b.append("\t\tiifname ").append(lan).append(" fib daddr type != local ").append(alive)
                .append("notrack comment \"LAN traffic to forward: passgate translates it\"\n");
            b.append("\t\tip daddr ").append(s.wan())
                .append(" meta l4proto { tcp, udp } socket transparent 0 accept comment \"the router's own sockets: kernel\"\n");
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
                b.append("\tchain fallback_nat {\n");
                b.append("\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
                b.append("\t\tiifname ").append(lan).append(" oifname ").append(wan)
                    .append(" counter masquerade comment \"fail-open: the kernel's NAT while passgate is down\"\n");
                b.append("\t}\n");
            }
            else
            {
                b.append('\n');
                b.append("\tchain fail_closed {\n");
                b.append("\t\ttype filter hook forward priority filter + 10; policy accept;\n");
                b.append("\t\tiifname ").append(lan).append(" oifname ").append(wan)
                    .append(" ct state != untracked counter drop comment \"fail-closed: nothing passgate did not translate\"\n");
                b.append("\t}\n");
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
            b.append("\tchain fallback_nat {\n");
            b.append("\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
            b.append("\t\tiifname ").append(lan).append(" oifname ").append(wan)
                .append(" counter masquerade comment \"fail-open: the kernel's NAT while passgate is down\"\n");
            b.append("\t}\n\n");
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

    static List<String> preroutingQueueRules(final RulesetSpec s, final boolean nft)
    {
        final List<String> rules = new ArrayList<>();
        if (s.translate())
        {
            final String match = nft ? "ip daddr " + s.wan() + " ct state untracked"
                : "-d " + s.wan() + "/32 -m conntrack --ctstate UNTRACKED";
            if (s.queues() == 1)
            {
                rules.add(queue(s, nft, match, s.queueBase(), "to the WAN address: destination rewrite before routing"));
            }
            else
            {
                // the helpers' traffic and every inbound packet of a mapping go to the queue that owns it
                rules.add(queue(s, nft, match + (nft ? " meta l4proto { gre, esp }" : " -p gre"), s.queueBase(),
                    "GRE: PPTP helper on the first queue"));
                if (!nft)
                {
                    rules.add(queue(s, nft, match + " -p esp", s.queueBase(), "ESP: IPsec helper on the first queue"));
                }
                rules.add(queue(s, nft, match + (nft ? " udp dport { 500, 1701, 4500 }" : " -p udp -m multiport --dports 500,1701,4500"),
                    s.queueBase(), "IKE, L2TP, NAT-T: helpers on the first queue"));
                rules.add(queue(s, nft, match + (nft ? " tcp sport 1723" : " -p tcp --sport 1723"), s.queueBase(),
                    "PPTP control: helper on the first queue"));
                for (int q = 0; q < s.queues(); q++)
                {
                    final int mask = s.queues() - 1;
                    final String byPort = nft ? " th dport & " + mask + " == " + q
                        : " -m u32 --u32 \"6&0xFF=0x6,0x11 && 0>>22&0x3C@0&0x" + Integer.toHexString(mask) + "=0x"
                            + Integer.toHexString(q) + "\"";
                    rules.add(queue(s, nft, match + (nft ? " meta l4proto { tcp, udp }" : "") + byPort,
                        s.queueBase() + q, "mappings whose WAN port belongs to queue " + (s.queueBase() + q)));
                }
                rules.add(queue(s, nft, match, s.queueBase(), "ICMP and the rest: first queue"));
            }
        }
        else
        {
            final String match = nft ? "iifname " + quote(s.wanInterface()) + " fib daddr type != local"
                : "-i " + s.wanInterface() + " -m addrtype ! --dst-type LOCAL";
            rules.add(queue(s, nft, match, s.queueBase(), "forward mode: WAN to LAN through the queue"));
        }
        return rules;
    }

    static List<String> postroutingQueueRules(final RulesetSpec s, final boolean nft)
    {
        final List<String> rules = new ArrayList<>();
        if (s.translate())
        {
            final String out = nft
                ? "oifname " + quote(s.wanInterface()) + " ip saddr != " + s.wan() + " ct state untracked"
                : "-o " + s.wanInterface() + " ! -s " + s.wan() + "/32 -m conntrack --ctstate UNTRACKED";
            final String hairpin = nft
                ? "oifname " + quote(s.lanInterface()) + " meta mark & " + hex(s.hairpinMark()) + " == " + hex(s.hairpinMark())
                : "-o " + s.lanInterface() + " -m mark --mark " + hex(s.hairpinMark()) + "/" + hex(s.hairpinMark());
            if (s.queues() == 1)
            {
                rules.add(queue(s, nft, out, s.queueBase(), "LAN to WAN: source rewrite after routing"));
                rules.add(queue(s, nft, hairpin, s.queueBase(), "hairpin back to the LAN: source rewrite"));
            }
            else
            {
                rules.add(queue(s, nft, out + (nft ? " meta l4proto { gre, esp }" : " -p gre"), s.queueBase(),
                    "GRE: PPTP helper on the first queue"));
                if (!nft)
                {
                    rules.add(queue(s, nft, out + " -p esp", s.queueBase(), "ESP: IPsec helper on the first queue"));
                }
                rules.add(queue(s, nft, out + (nft ? " udp dport { 500, 1701, 4500 }" : " -p udp -m multiport --dports 500,1701,4500"),
                    s.queueBase(), "IKE, L2TP, NAT-T: helpers on the first queue"));
                rules.add(queue(s, nft, out + (nft ? " tcp dport 1723" : " -p tcp --dport 1723"), s.queueBase(),
                    "PPTP control: helper on the first queue"));
                final int mask = s.queues() - 1;
                for (int q = 0; q < s.queues(); q++)
                {
                    final String byClient = nft ? " ip saddr & 0.0.0." + mask + " == 0.0.0." + q
                        : " -s 0.0.0." + q + "/0.0.0." + mask;
                    rules.add(queue(s, nft, out + byClient, s.queueBase() + q,
                        "LAN clients whose address belongs to queue " + (s.queueBase() + q)));
                    rules.add(queue(s, nft, hairpin + byClient, s.queueBase() + q,
                        "hairpin from clients of queue " + (s.queueBase() + q)));
                }
            }
        }
        else
        {
            final String match = nft ? "iifname " + quote(s.lanInterface()) + " oifname " + quote(s.wanInterface())
                : "-o " + s.wanInterface() + " -m addrtype ! --src-type LOCAL";
            rules.add(queue(s, nft, match, s.queueBase(), "forward mode: LAN to WAN through the queue"));
        }
        return rules;
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

    private static String quote(final String name)
    {
        return "\"" + name + "\"";
    }

    private static String hex(final int value)
    {
        return "0x" + Integer.toHexString(value);
    }
}

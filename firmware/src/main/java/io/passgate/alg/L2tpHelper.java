package io.passgate.alg;

import java.util.List;

import io.passgate.config.PassgateContext;
import io.passgate.counters.Counter;
import io.passgate.nat.FlowTable;
import io.passgate.nat.Helper;
import io.passgate.nat.HelperHost;
import io.passgate.nat.HelperSpec;
import io.passgate.nat.Passthrough;
import io.passgate.nat.Protocols;
import io.passgate.nat.TunnelSink;
import io.passgate.wire.Ipv4Header;

/**
 * L2TP passthrough (RFC 2661, UDP 1701): for now its sessions are mapped as any UDP session (1701 kept for the
 * first client), followed for the switch, the tunnel count and the listing.
 */
public final class L2tpHelper implements Helper
{
    public static final int PORT = 1701;

    public static final HelperSpec SPEC = new HelperSpec("l2tp",
        List.of(new Passthrough("l2tp", null, "UDP 1701", new int[0], new int[] {PORT}, new int[0],
            Counter.TUNNELS_L2TP, "l2tp")),
        new int[0], new int[] {PORT},
        List.of(new HelperSpec.TunnelKind("l2tp", List.of("client-port", "server-port", "wan-port"))));

    private HelperHost host;
    private FlowTable flows;
    private int index;
    private int l2tp;
    private int live;

    public static L2tpHelper create(final PassgateContext ctx, final long seed)
    {
        return new L2tpHelper();
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
        this.index = index;
        this.l2tp = host.passthrough().layout().index("l2tp");
    }

    @Override
    public int claimOutbound(final int protocol, final int src, final int sport, final int dst, final int dport)
    {
        return protocol == Protocols.UDP && dport == PORT ? FOLLOW : NOT_MINE;
    }

    private void count(final int flow)
    {
        if (flows.algData(flow) == 0)
        {
            flows.algData(flow, 1);
            live++;
            host.counters().set(Counter.TUNNELS_L2TP, live);
        }
    }

    @Override
    public int outbound(final int flow, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean partialChecksum, final long nowMs)
    {
        count(flow);
        return CONTINUE;
    }

    @Override
    public int inbound(final int flow, final Ipv4Header ip, final int l4Offset, final int l4Length,
        final boolean partialChecksum, final long nowMs)
    {
        count(flow);
        return CONTINUE;
    }

    @Override
    public int passthroughOf(final int flow)
    {
        return l2tp;
    }

    @Override
    public void flowRemoved(final int flow)
    {
        if (flows.algData(flow) != 0)
        {
            flows.algData(flow, 0);
            live--;
            host.counters().set(Counter.TUNNELS_L2TP, live);
        }
    }

    @Override
    public void collectTunnels(final int helper, final TunnelSink sink)
    {
        for (int f = 0; f < flows.capacity(); f++)
        {
            if (flows.inUse(f) && flows.alg(f) == index && flows.algData(f) == 1 && !sink.row(helper, 0, flows.intAddr(f), flows.remAddr(f), flows.intPort(f), flows.remPort(f),
                    flows.extPort(f), 0, 0, 0, flows.packetsOut(f), flows.bytesOut(f), flows.packetsIn(f),
                    flows.bytesIn(f), flows.created(f), flows.lastSeen(f)))
            {
                return;
            }
        }
    }
}

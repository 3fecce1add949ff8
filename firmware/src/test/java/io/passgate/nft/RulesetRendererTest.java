package io.passgate.nft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import io.passgate.wire.Ipv4Header;
import org.junit.jupiter.api.Test;

/**
 * Golden files of the rendered rules (src/test/resources/rules). To accept a deliberate change, run with
 * -Dpassgate.updateGolden=true and review the diff.
 */
class RulesetRendererTest
{
    private static RulesetSpec spec(final int queues, final boolean failOpen, final boolean translate,
        final QueueBackend backend)
    {
        return new RulesetSpec("eth0", "eth1", Ipv4Header.parse("203.0.113.1"), 0, queues, failOpen, translate,
            backend, 0x100000, 2000);
    }

    private static void golden(final String name, final String actual) throws IOException
    {
        if (Boolean.getBoolean("passgate.updateGolden"))
        {
            final Path file = Path.of("src/test/resources/rules", name);
            Files.createDirectories(file.getParent());
            Files.writeString(file, actual);
            return;
        }
        try (InputStream in = RulesetRendererTest.class.getResourceAsStream("/rules/" + name))
        {
            if (in == null)
            {
                throw new AssertionError("missing golden file rules/" + name);
            }
            assertEquals(new String(in.readAllBytes(), StandardCharsets.UTF_8), actual, name);
        }
    }

    @Test
    void nftQueueFailOpen() throws IOException
    {
        golden("nft-queue-fail-open.nft", RulesetRenderer.nftScript(spec(1, true, true, QueueBackend.NFT)));
    }

    @Test
    void nftQueueFailClosed() throws IOException
    {
        golden("nft-queue-fail-closed.nft", RulesetRenderer.nftScript(spec(1, false, true, QueueBackend.NFT)));
    }

    @Test
    void nftQueueTwoQueues() throws IOException
    {
        golden("nft-queue-two-queues.nft", RulesetRenderer.nftScript(spec(2, true, true, QueueBackend.NFT)));
    }

    @Test
    void iptablesBackend() throws IOException
    {
        golden("iptables-backend-fail-open.nft", RulesetRenderer.nftScript(spec(1, true, true, QueueBackend.IPTABLES)));
        golden("iptables-backend-fail-open.iptables", RulesetRenderer.iptablesScript(spec(1, true, true, QueueBackend.IPTABLES)));
        golden("iptables-backend-fail-closed.iptables", RulesetRenderer.iptablesScript(spec(1, false, true, QueueBackend.IPTABLES)));
        golden("iptables-backend-two-queues.iptables", RulesetRenderer.iptablesScript(spec(2, true, true, QueueBackend.IPTABLES)));
    }

    @Test
    void forwardMode() throws IOException
    {
        golden("forward-mode.nft", RulesetRenderer.nftScript(spec(1, true, false, QueueBackend.NFT)));
        golden("forward-mode.iptables", RulesetRenderer.iptablesScript(spec(1, true, false, QueueBackend.IPTABLES)));
    }

    @Test
    void stoppedFallbacks() throws IOException
    {
        golden("stopped-fail-open.nft", RulesetRenderer.nftStoppedScript(spec(1, true, true, QueueBackend.NFT)));
        golden("stopped-fail-closed.nft", RulesetRenderer.nftStoppedScript(spec(1, false, true, QueueBackend.NFT)));
    }

    private static RulesetSpec liveSpec(final int queues, final QueueBackend backend)
    {
        return new RulesetSpec("eth0", "eth1", Ipv4Header.parse("203.0.113.1"), 0, queues, true, true, backend,
            0x100000, 2000, 0x200000, 10000, 5000, 131072);
    }

    @Test
    void liveQueuesAndFloodLimits() throws IOException
    {
        golden("live-queues.nft", RulesetRenderer.nftScript(liveSpec(1, QueueBackend.IPTABLES)));
        golden("live-queues.iptables", RulesetRenderer.iptablesScript(liveSpec(1, QueueBackend.IPTABLES)));
        golden("live-queues-two-queues.iptables", RulesetRenderer.iptablesScript(liveSpec(2, QueueBackend.IPTABLES)));
        golden("live-queues-nft-queue.nft", RulesetRenderer.nftScript(liveSpec(2, QueueBackend.NFT)));
    }

    @Test
    void liveQueuesComeAfterTheBulkQueues()
    {
        final RulesetSpec s = liveSpec(4, QueueBackend.IPTABLES);
        assertEquals(4, s.liveQueue(0));
        assertEquals(7, s.lastQueueUsed());
        assertEquals(3, s.lastQueue());
        assertEquals(3, spec(4, true, true, QueueBackend.IPTABLES).lastQueueUsed(), "no live queues: the bulk ones only");
    }

    private static RulesetSpec offloadSpec(final boolean failOpen)
    {
        return new RulesetSpec("eth0", "eth1", Ipv4Header.parse("203.0.113.1"), 0, 1, failOpen, true,
            QueueBackend.IPTABLES, 0x100000, 2000, 0x200000, 10000, 5000, 131072, 131072);
    }

    @Test
    void offload() throws IOException
    {
        golden("offload-fail-open.nft", RulesetRenderer.nftScript(offloadSpec(true)));
        golden("offload-fail-closed.nft", RulesetRenderer.nftScript(offloadSpec(false)));
        assertEquals(RulesetRenderer.iptablesScript(liveSpec(1, QueueBackend.IPTABLES)),
            RulesetRenderer.iptablesScript(offloadSpec(true)), "offload changes no queue rule: they take untracked packets only");
    }

    @Test
    void offloadWithTheFlowtable() throws IOException
    {
        final RulesetSpec s = new RulesetSpec("eth0", "eth1", Ipv4Header.parse("203.0.113.1"), 0, 1, false, true,
            QueueBackend.IPTABLES, 0x100000, 2000, 0x200000, 10000, 5000, 131072, 131072, true);
        assertTrue(s.flowtableOffload());
        final String nft = RulesetRenderer.nftScript(s);
        golden("offload-flowtable.nft", nft);
        assertTrue(nft.contains("devices = { \"eth0\", \"eth1\" }"), "the LAN and WAN interfaces");
        assertTrue(nft.contains("ct mark & 0x80000000 == 0x80000000 ip saddr . ip daddr . meta l4proto . th sport . th dport"
            + " @offload_ports flow add @fastpath"), "only passgate's offloaded entries, of this run's flows");
        assertEquals(RulesetRenderer.nftScript(offloadSpec(false)),
            nft.replaceAll("(?s)\t# offloaded flows past.*?chain offload_flow \\{.*?\t}\n\n", ""),
            "the flowtable adds itself and its chain, nothing else");
        assertFalse(new RulesetSpec("eth0", "eth1", 1, 0, 1, false, true, QueueBackend.IPTABLES, 0x100000, 2000, 0, 0,
            0, 1024, 0, true).flowtableOffload(), "no flowtable without offload");
        assertFalse(RulesetRenderer.nftStoppedScript(s).contains("flowtable"), "a stop removes it with the table");
        // the start's probe (nft -c) checks the flowtable the table declares, and a flow add of passgate's entries
        final String probe = RulesetRenderer.flowtableProbe("eth0", "eth1");
        final String declared = nft.substring(nft.indexOf("\tflowtable fastpath {"), nft.indexOf("\tchain offload_flow"));
        assertTrue(probe.startsWith("table inet passgate_probe {\n" + declared), probe);
        assertTrue(probe.contains("ct mark & 0x80000000 == 0x80000000 meta l4proto { tcp, udp } flow add @fastpath"), probe);
    }
}

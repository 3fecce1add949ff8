package io.passgate.nft;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}

package io.passgate.nft;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.passgate.counters.CounterSet;
import io.passgate.nat.Protocols;
import io.passgate.testing.RequiresRoot;
import io.passgate.wire.Ipv4Header;
import org.junit.jupiter.api.Test;

/**
 * The live-set writer against the real kernel, in a namespace with passgate's rendered table: idle, it sleeps
 * (no polling rounds while nothing is posted); a post wakes it, and the flow's two elements are in set
 * {@code live_ports}.
 */
@RequiresRoot
class LiveFlowSetKernelTest
{
    private static final int WAN = Ipv4Header.parse("203.0.113.1");
    private static final int CLIENT = Ipv4Header.parse("10.77.0.11");
    private static final int SERVER = Ipv4Header.parse("203.0.113.10");

    @Test
    void anIdleWriterSleepsUntilAPostWakesIt() throws Exception
    {
        OffloaderKernelTest.inNamespace(LiveFlowSetKernelTest::exercise);
    }

    private static String exercise(final String ns) throws Exception
    {
        try (LiveFlowSet set = new LiveFlowSet(WAN, new CounterSet()))
        {
            final LiveFlowSet.Ring ring = set.ring();
            set.start();
            assertTrue(eventually(() -> set.sleeping()), "the writer goes to sleep with nothing posted");
            final long rounds = set.rounds();
            Thread.sleep(500);
            final long idleRounds = set.rounds() - rounds;
            // polling every 2 ms made 250 rounds here; asleep, at most the 1 s bound's
            assertTrue(idleRounds <= 1, "rounds while idle: " + idleRounds);

            assertTrue(ring.post(true, Protocols.UDP, CLIENT, 5000, SERVER, 53, 40000));
            assertTrue(eventually(() -> listed(ns).contains("10.77.0.11 . 203.0.113.10 . udp . 5000 . 53")
                && listed(ns).contains("203.0.113.10 . 203.0.113.1 . udp . 53 . 40000")), listed(ns));
            assertTrue(set.wakes() >= 1, "the post woke the writer");
            return "live set kernel test: " + idleRounds + " rounds in 500 ms idle, " + set.wakes() + " wake-ups by posts";
        }
    }

    private static String listed(final String ns)
    {
        try
        {
            return OffloaderKernelTest.run("ip", "netns", "exec", ns, "nft", "list", "set", "inet", "passgate", "live_ports");
        }
        catch (final Exception e)
        {
            return e.toString();
        }
    }

    private interface Condition
    {
        boolean holds() throws Exception;
    }

    private static boolean eventually(final Condition c) throws Exception
    {
        for (int i = 0; i < 100; i++)
        {
            if (c.holds())
            {
                return true;
            }
            Thread.sleep(50);
        }
        return c.holds();
    }
}

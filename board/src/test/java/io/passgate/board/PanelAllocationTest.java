package io.passgate.board;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import io.passgate.control.StatusSnapshot;
import io.passgate.control.Switches;
import io.passgate.testing.Allocations;
import org.junit.jupiter.api.Test;

/**
 * The panel's steady state allocates nothing: every 10 ms tick samples the button and sets blinking LEDs
 * (heartbeat, slow blink, on, off), as the gpio provider's loop does with its lines for as long as passgate
 * runs.
 */
class PanelAllocationTest
{
    private static final class CountingLed implements LedOutput
    {
        int writes;

        @Override
        public void set(final boolean on)
        {
            writes++;
        }

        @Override
        public String where()
        {
            return "test";
        }

        @Override
        public void close()
        {
        }
    }

    @Test
    void ticksAllocateNothing()
    {
        final CountingLed[] leds = {new CountingLed(), new CountingLed(), new CountingLed(), new CountingLed()};
        final ButtonInput released = new ButtonInput()
        {
            @Override
            public boolean pressed()
            {
                return false;
            }

            @Override
            public void close()
            {
            }
        };
        final Panel panel = new Panel("test", List.of(new Panel.Led(PanelLogic.SYSTEM, leds[0]),
            new Panel.Led(PanelLogic.PPTP, leds[1]), new Panel.Led(PanelLogic.IPSEC, leds[2]),
            new Panel.Led(PanelLogic.L2TP, leds[3])), released, new PanelLogic(50, 3000), null, null);
        panel.show(new StatusSnapshot(0, true, true, null, Switches.ALL_ON.with("l2tp", false), Map.of("pptp", 2L), 0, 0, Map.of()));
        long now = 1_000_000;
        for (int i = 0; i < 300_000; i++)   // warm up: the JIT compiles the loop
        {
            panel.tick(now += Panel.TICK_MS);
        }
        final int before = leds[0].writes;
        final long allocated = Allocations.currentThread();
        for (int i = 0; i < 300_000; i++)
        {
            panel.tick(now += Panel.TICK_MS);
        }
        final long bytes = Allocations.currentThread() - allocated;
        assertTrue(leds[0].writes - before > 5_000, "the heartbeat LED was written at each of its changes");
        assertEquals(0, bytes, "bytes allocated by 300 000 ticks");
    }
}

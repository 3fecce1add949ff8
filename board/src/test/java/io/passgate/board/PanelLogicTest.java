package io.passgate.board;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.passgate.control.StatusSnapshot;
import io.passgate.control.Switches;
import org.junit.jupiter.api.Test;

/** Debouncing, short and long presses, and every LED pattern, with time advanced by hand. */
class PanelLogicTest
{
    private final PanelLogic logic = new PanelLogic(50, 3000);
    private long now = 10_000;
    private final List<PanelLogic.Press> presses = new ArrayList<>();

    /** Holds a raw level for {@code ms}, sampling every 10 ms as the panel's scheduler does. */
    private void hold(final boolean pressed, final long ms)
    {
        final long end = now + ms;
        while (now < end)
        {
            now += 10;
            final PanelLogic.Press p = logic.sample(pressed, now);
            if (p != PanelLogic.Press.NONE)
            {
                presses.add(p);
            }
        }
    }

    private void bounce(final int times, final long eachMs)
    {
        for (int i = 0; i < times; i++)
        {
            hold(i % 2 == 0, eachMs);
        }
    }

    @Test
    void aBouncyShortPressIsOneShortPress()
    {
        bounce(7, 10);          // contact bounce on press
        hold(true, 300);
        bounce(6, 10);          // and on release
        hold(false, 200);
        assertEquals(List.of(PanelLogic.Press.SHORT), presses);
    }

    @Test
    void bouncesAloneAreNothing()
    {
        for (int i = 0; i < 50; i++)
        {
            bounce(2, 20);   // 20 ms pulses, under the 50 ms debounce
        }
        hold(false, 500);
        assertEquals(List.of(), presses);
    }

    @Test
    void aLongPressFiresOnceAtThreeSecondsAndItsReleaseNothing()
    {
        hold(true, 2900);
        assertEquals(List.of(), presses, "not yet");
        hold(true, 200);
        assertEquals(List.of(PanelLogic.Press.LONG), presses, "at 3 s, while still held");
        bounce(9, 10);      // bounces during the long press
        hold(true, 4000);   // held much longer
        hold(false, 500);
        assertEquals(List.of(PanelLogic.Press.LONG), presses, "no second action, no short on release");
    }

    @Test
    void pressesInARow()
    {
        for (int i = 0; i < 3; i++)
        {
            hold(true, 150);
            hold(false, 150);
        }
        assertEquals(List.of(PanelLogic.Press.SHORT, PanelLogic.Press.SHORT, PanelLogic.Press.SHORT), presses);
    }

    @Test
    void exactlyTheDebounceTimeCounts()
    {
        hold(true, 40);
        hold(false, 100);
        assertEquals(List.of(), presses, "40 ms is a bounce");
        hold(true, 60);
        hold(false, 100);
        assertEquals(List.of(PanelLogic.Press.SHORT), presses, "60 ms is a press");
    }

    @Test
    void aShortPressActsOnItsReleaseEdgeNotADebounceLater()
    {
        hold(true, 100);
        assertEquals(List.of(), presses, "a press alone does nothing yet");
        now += 1;
        assertEquals(PanelLogic.Press.SHORT, logic.sample(false, now), "the first released sample is the press");
        hold(false, 100);
        assertEquals(List.of(), presses, "and nothing after it");
    }

    @Test
    void contactRightAfterAReleaseIsABounceOfThatPress()
    {
        hold(true, 200);
        hold(false, 10);
        assertEquals(List.of(PanelLogic.Press.SHORT), presses);
        hold(true, 30);      // back in contact 10 ms after the release, for 30 ms
        hold(false, 10);
        hold(true, 20);
        hold(false, 300);
        assertEquals(List.of(PanelLogic.Press.SHORT), presses, "release bounces, however long, are the same press");
        hold(true, 100);
        hold(false, 100);
        assertEquals(List.of(PanelLogic.Press.SHORT, PanelLogic.Press.SHORT), presses, "a new press after the debounce time");
    }

    private static StatusSnapshot snapshot(final boolean alive, final String fault, final Switches s, final long pptp,
        final long ipsec, final long l2tp)
    {
        return new StatusSnapshot(0, alive, true, fault, s, Map.of("pptp", (long)pptp, "ipsec", (long)ipsec, "l2tp", (long)l2tp), 0, 0, Map.of());
    }

    /** Every combination: fault, dataplane, master switch, each protocol's switch, its tunnels. */
    @Test
    void patternForEveryStatusCombination()
    {
        for (final boolean fault : new boolean[] {false, true})
        {
            for (final boolean alive : new boolean[] {false, true})
            {
                for (final boolean master : new boolean[] {false, true})
                {
                    for (final boolean on : new boolean[] {false, true})
                    {
                        for (final long tunnels : new long[] {0, 3})
                        {
                            final Switches sw = new Switches(master, java.util.Map.of("pptp", on, "ipsec", on, "natt", on, "l2tp", on));
                            final StatusSnapshot s = snapshot(alive, fault ? "dataplane stalled" : null, sw, tunnels, tunnels,
                                tunnels);
                            final String what = "fault=" + fault + " alive=" + alive + " master=" + master + " on=" + on
                                + " tunnels=" + tunnels;
                            final Pattern expectProtocol = fault ? Pattern.FAST_BLINK : !(master && on) ? Pattern.OFF
                                : tunnels > 0 ? Pattern.SLOW_BLINK : Pattern.ON;
                            for (final String led : new String[] {PanelLogic.PPTP, PanelLogic.IPSEC, PanelLogic.L2TP})
                            {
                                assertEquals(expectProtocol, PanelLogic.pattern(led, s), led + " " + what);
                            }
                            assertEquals(fault ? Pattern.FAST_BLINK : alive ? Pattern.HEARTBEAT : Pattern.OFF,
                                PanelLogic.pattern(PanelLogic.SYSTEM, s), "system " + what);
                            assertEquals(fault ? Pattern.FAST_BLINK : !master ? Pattern.OFF
                                    : tunnels > 0 ? Pattern.SLOW_BLINK : Pattern.ON,
                                PanelLogic.pattern(PanelLogic.PASSTHROUGH, s), "passthrough " + what);
                        }
                    }
                }
            }
        }
        // one protocol off, another with a tunnel: each LED its own
        final StatusSnapshot mixed = snapshot(true, null, Switches.ALL_ON.with("pptp", false), 0, 2, 0);
        assertEquals(Pattern.OFF, PanelLogic.pattern(PanelLogic.PPTP, mixed));
        assertEquals(Pattern.SLOW_BLINK, PanelLogic.pattern(PanelLogic.IPSEC, mixed));
        assertEquals(Pattern.ON, PanelLogic.pattern(PanelLogic.L2TP, mixed));
        // IPsec's LED follows the ipsec switch, NAT-T being part of it
        assertEquals(Pattern.ON, PanelLogic.pattern(PanelLogic.IPSEC, snapshot(true, null, Switches.ALL_ON.with("natt", false), 0, 0, 0)));
    }

    @Test
    void blinkTimings()
    {
        int slowOn = 0;
        int fastChanges = 0;
        int heartbeatOn = 0;
        boolean lastFast = false;
        for (long t = 0; t < 1200; t += 10)
        {
            slowOn += t < 1000 && Pattern.SLOW_BLINK.level(t) ? 1 : 0;
            heartbeatOn += Pattern.HEARTBEAT.level(t) ? 1 : 0;
            if (Pattern.FAST_BLINK.level(t) != lastFast)
            {
                fastChanges++;
                lastFast = !lastFast;
            }
        }
        assertEquals(50, slowOn, "1 Hz, half on");
        assertEquals(12, fastChanges, "5 Hz over 1.2 s");
        assertEquals(20, heartbeatOn, "two 100 ms pulses per 1.2 s");
    }
}

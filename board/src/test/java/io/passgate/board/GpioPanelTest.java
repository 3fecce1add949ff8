package io.passgate.board;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.passgate.control.StatusSnapshot;
import io.passgate.control.Switches;
import io.passgate.status.ButtonActions;
import io.passgate.status.PanelUnavailableException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gpio provider's settings, chip choice and errors (this machine has no GPIO chip: the real chip is
 * driven in the VM test, tools/vm/tests/gpio-board.sh), and the panel's loop with a button that reports its
 * edges.
 */
class GpioPanelTest
{
    @TempDir
    Path dir;

    private BoardSettings settings(final Map<String, String> values, final String model) throws Exception
    {
        final Path file = dir.resolve("model");
        if (model == null)
        {
            Files.deleteIfExists(file);
        }
        else
        {
            Files.writeString(file, model + "\u0000");
        }
        final Map<String, String> origins = new java.util.HashMap<>();
        values.keySet().forEach(k -> origins.put(k, "passgate.conf line 4, key 'board." + k + "'"));
        return new BoardSettings(values, origins, file, false);
    }

    @Test
    void nonPiProfilesAreDetectedAndGiveTheirHeaderLines() throws Exception
    {
        final BoardSettings opi = settings(Map.of(), "OrangePi Zero 2W");
        assertEquals("opi-zero2w", opi.profile.id());
        assertEquals("226", opi.buttonPin.text(), "header pin 11 is PH2 = 7 * 32 + 2");
        assertEquals("228", opi.ledPins.get(PanelLogic.L2TP).text(), "header pin 18 is PH4");
        assertEquals(List.of("300b000.pinctrl"), opi.profile.chipLabels());
        assertFalse(opi.linesGuessed);
        assertEquals("pine64", settings(Map.of(), "Pine64+").profile.id());
        assertNull(settings(Map.of(), "Pine64 PinePhone (1.2)").profile, "no 40-pin header there");
        assertEquals("pi5", settings(Map.of(), "Raspberry Pi 5 Model B Rev 1.0").profile.id());
        assertTrue(settings(Map.of(), "Raspberry Pi 5 Model B Rev 1.0").profile.raspberryPi());
        final BoardSettings unknown = settings(Map.of(), "Some x86 box");
        assertNull(unknown.profile);
        assertTrue(unknown.linesGuessed, "no profile, no pins: the Pi numbers are only a guess");
        final BoardSettings named = settings(Map.of("button-pin", "button", "led-system-pin", "sys"), null);
        assertTrue(named.buttonPin.named());
        assertFalse(named.linesGuessed);
        assertEquals("auto", named.gpioChip);
        assertFalse(named.fallBackToVirtual);
        assertTrue(settings(Map.of("on-error", "virtual"), null).fallBackToVirtual);
        final String bad = assertThrows(IllegalArgumentException.class,
            () -> settings(Map.of("on-error", "ignore"), null)).getMessage();
        assertTrue(bad.startsWith("passgate.conf line 4, key 'board.on-error': must be one of fail, virtual"), bad);
        final String sameName = assertThrows(IllegalArgumentException.class,
            () -> settings(Map.of("button-pin", "GPIO5", "led-l2tp-pin", "GPIO5"), null)).getMessage();
        assertTrue(sameName.contains("key 'board.led-l2tp-pin': GPIO5 is already board.button-pin"), sameName);
    }

    @Test
    void aMissingChipIsAnErrorNamingTheKey() throws Exception
    {
        final String noDevice = assertThrows(PanelUnavailableException.class, () -> GpioPanelProvider.openChip(
            settings(Map.of("gpio-chip", "/dev/gpiochip-missing"), null), dir)).getMessage();
        assertTrue(noDevice.startsWith("passgate.conf line 4, key 'board.gpio-chip': /dev/gpiochip-missing is not a usable GPIO chip"),
            noDevice);
        assertTrue(noDevice.contains("ENOENT"), noDevice);

        final Path dev = Files.createDirectories(dir.resolve("dev"));
        final String none = assertThrows(PanelUnavailableException.class,
            () -> GpioPanelProvider.openChip(settings(Map.of(), null), dev)).getMessage();
        assertTrue(none.startsWith("default, key 'board.gpio-chip': no header chip recognised") && none.contains("no GPIO chip in"),
            none);

        // something called gpiochip0 that is not a GPIO chip: listed with why, never used
        Files.writeString(dev.resolve("gpiochip0"), "");
        final String label = assertThrows(PanelUnavailableException.class,
            () -> GpioPanelProvider.openChip(settings(Map.of("gpio-chip", "pinctrl-bcm2711"), null), dev)).getMessage();
        assertTrue(label.contains("key 'board.gpio-chip': no GPIO chip labelled or named 'pinctrl-bcm2711'"), label);
        assertTrue(label.contains("gpiochip0 (ENOTTY)"), label);
    }

    /** A button that reports its changes at once, as a GPIO line with edge events does. */
    private static final class EdgeButton implements ButtonInput
    {
        final LinkedBlockingQueue<Boolean> edges = new LinkedBlockingQueue<>();
        volatile boolean level;
        volatile boolean closed;

        @Override
        public boolean pressed()
        {
            return level;
        }

        @Override
        public void await(final long timeoutMs) throws InterruptedException
        {
            final Boolean next = edges.poll(timeoutMs, TimeUnit.MILLISECONDS);
            if (next != null)
            {
                level = next;
            }
        }

        @Override
        public boolean reportsEdges()
        {
            return true;
        }

        @Override
        public void close()
        {
            closed = true;
        }
    }

    private static final class RecordingLed implements LedOutput
    {
        final List<Boolean> writes = new ArrayList<>();
        volatile boolean closed;

        @Override
        public synchronized void set(final boolean on)
        {
            writes.add(on);
        }

        @Override
        public String where()
        {
            return "test";
        }

        @Override
        public void close()
        {
            closed = true;
        }
    }

    /**
     * With a button that reports edges and at rest, the loop sleeps until an LED's next change: the heartbeat's
     * four changes in 1.2 s and no more (was a round every 10 ms); the LED still gets every change, in order,
     * and a press still acts.
     */
    @Test
    void aRestingPanelWakesOnlyForItsLedsChanges() throws Exception
    {
        final EdgeButton button = new EdgeButton();
        final RecordingLed system = new RecordingLed();
        final RecordingLed pptp = new RecordingLed();
        final CountDownLatch shortPress = new CountDownLatch(1);
        final Panel panel = new Panel("test", List.of(new Panel.Led(PanelLogic.SYSTEM, system),
            new Panel.Led(PanelLogic.PPTP, pptp)), button, new PanelLogic(30, 3000), null, null);
        panel.show(new StatusSnapshot(0, true, true, null, Switches.ALL_ON, Map.of(), 0, 0, Map.of()));
        assertEquals(Map.of(PanelLogic.SYSTEM, "heartbeat", PanelLogic.PPTP, "on"), panel.leds());
        panel.start(new ButtonActions()
        {
            @Override
            public void shortPress()
            {
                shortPress.countDown();
            }

            @Override
            public void longPress()
            {
            }
        });
        try
        {
            Thread.sleep(300);
            final long rounds = panel.rounds();
            final int writes;
            synchronized (system)
            {
                writes = system.writes.size();
            }
            Thread.sleep(2400);
            final long idle = panel.rounds() - rounds;
            // two heartbeat periods: 8 changes, plus at most one REST_MS round each 250 ms; 10 ms ticks were 240
            assertTrue(idle >= 6 && idle <= 30, "rounds in 2.4 s at rest: " + idle);
            synchronized (system)
            {
                final int changes = system.writes.size() - writes;
                assertTrue(changes >= 6 && changes <= 10, "heartbeat changes in 2.4 s: " + changes);
                for (int i = 1; i < system.writes.size(); i++)
                {
                    assertNotEquals(system.writes.get(i - 1), system.writes.get(i), "each write a change");
                }
            }
            button.edges.put(true);
            Thread.sleep(100);
            button.edges.put(false);
            assertTrue(shortPress.await(5, TimeUnit.SECONDS), "a press on a resting panel acts");
        }
        finally
        {
            panel.close();
        }
    }

    @Test
    void theLoopActsOnAnEdgeAndReleasesEverythingOnClose() throws Exception
    {
        final EdgeButton button = new EdgeButton();
        final RecordingLed led = new RecordingLed();
        final CountDownLatch shortPress = new CountDownLatch(1);
        final boolean[] chipClosed = new boolean[1];
        final Panel panel = new Panel("test", List.of(new Panel.Led(PanelLogic.PPTP, led)), button, new PanelLogic(30, 3000),
            null, () -> chipClosed[0] = true);
        panel.show(new StatusSnapshot(0, true, true, null, Switches.ALL_ON, Map.of(), 0, 0, Map.of()));
        panel.start(new ButtonActions()
        {
            @Override
            public void shortPress()
            {
                shortPress.countDown();
            }

            @Override
            public void longPress()
            {
            }
        });
        try
        {
            button.edges.put(true);
            Thread.sleep(100);   // held past the 30 ms debounce (the loop's own clock)
            assertEquals(1, shortPress.getCount(), "a press acts on its release");
            button.edges.put(false);
            assertTrue(shortPress.await(5, TimeUnit.SECONDS), "the release edge is the short press");
        }
        finally
        {
            panel.close();
        }
        assertTrue(button.closed && led.closed && chipClosed[0], "button, LED and chip released on stop");
        synchronized (led)
        {
            assertTrue(led.writes.get(0), "the LED was lit (pptp on)");
            assertFalse(led.writes.get(led.writes.size() - 1), "and switched off on stop");
        }
    }
}

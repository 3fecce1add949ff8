package io.passgate.board;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import com.pi4j.Pi4J;
import com.pi4j.context.Context;
import com.pi4j.io.gpio.digital.DigitalOutput;
import com.pi4j.io.gpio.digital.DigitalState;
import com.pi4j.plugin.mock.platform.MockPlatform;
import com.pi4j.plugin.mock.provider.gpio.digital.MockDigitalInput;
import com.pi4j.plugin.mock.provider.gpio.digital.MockDigitalInputProvider;
import com.pi4j.plugin.mock.provider.gpio.digital.MockDigitalOutputProvider;
import io.passgate.control.StatusSnapshot;
import io.passgate.control.Switches;
import io.passgate.status.ButtonActions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Pi4J panel on Pi4J's mock plugin: real Pi4J I/O objects, pins driven by the test, time by hand. */
class Pi4jPanelTest
{
    @TempDir
    Path dir;

    private Context context;
    private Panel panel;
    private final AtomicInteger shortPresses = new AtomicInteger();
    private final AtomicInteger longPresses = new AtomicInteger();
    private long now = 100_000;

    @BeforeEach
    void setUp() throws Exception
    {
        context = Pi4J.newContextBuilder().add(new MockPlatform())
            .add(MockDigitalInputProvider.newInstance(), MockDigitalOutputProvider.newInstance()).build();
        Files.writeString(dir.resolve("model"), "Raspberry Pi 4 Model B Rev 1.4\u0000");
    }

    @AfterEach
    void tearDown()
    {
        if (panel != null)
        {
            panel.close();
        }
        context.shutdown();
    }

    private Panel panel(final Map<String, String> settings)
    {
        final BoardSettings s = new BoardSettings(settings, Map.of(), dir.resolve("model"), true);
        panel = Pi4jPanelProvider.create(s, context, dir.resolve("leds"), false);
        panel.attach(new ButtonActions()
        {
            @Override
            public void shortPress()
            {
                shortPresses.incrementAndGet();
            }

            @Override
            public void longPress()
            {
                longPresses.incrementAndGet();
            }
        });
        return panel;
    }

    private MockDigitalInput button()
    {
        return context.registry().get("passgate-button");
    }

    private DigitalState led(final String role)
    {
        return context.registry().<DigitalOutput>get("passgate-led-" + role).state();
    }

    private void run(final long ms)
    {
        final long end = now + ms;
        while (now < end)
        {
            now += Panel.TICK_MS;
            panel.tick(now);
        }
    }

    @Test
    void activeLowButtonWithBouncesGivesOneShortPressThenALongPress()
    {
        panel(Map.of());
        button().mockState(DigitalState.HIGH);   // released: pulled up
        run(100);
        for (int i = 0; i < 6; i++)
        {
            button().mockState(i % 2 == 0 ? DigitalState.LOW : DigitalState.HIGH);
            run(10);
        }
        button().mockState(DigitalState.LOW);
        run(200);
        button().mockState(DigitalState.HIGH);
        run(100);
        assertEquals(1, shortPresses.get());
        assertEquals(0, longPresses.get());

        button().mockState(DigitalState.LOW);
        run(3500);
        button().mockState(DigitalState.HIGH);
        run(200);
        assertEquals(1, shortPresses.get(), "the long press is not also a short one");
        assertEquals(1, longPresses.get());
    }

    @Test
    void activeHighButtonWhenConfigured()
    {
        panel(Map.of("button-active", "high"));
        button().mockState(DigitalState.LOW);
        run(100);
        button().mockState(DigitalState.HIGH);
        run(150);
        button().mockState(DigitalState.LOW);
        run(100);
        assertEquals(1, shortPresses.get());
    }

    @Test
    void ledsFollowTheSnapshot()
    {
        panel(Map.of());
        button().mockState(DigitalState.HIGH);
        panel.show(new StatusSnapshot(0, true, true, null, Switches.ALL_ON.with("l2tp", false), Map.of("pptp", 1L), 0, 0, Map.of()));
        run(10);
        assertEquals(DigitalState.HIGH, led("ipsec"), "on, no tunnel");
        assertEquals(DigitalState.LOW, led("l2tp"), "switched off");
        // the PPTP LED blinks at 1 Hz: sample its level over a second of ticks
        int high = 0;
        for (int i = 0; i < 100; i++)
        {
            run(10);
            high += led("pptp") == DigitalState.HIGH ? 1 : 0;
        }
        assertTrue(high >= 45 && high <= 55, "slow blink, half the time on: " + high);
        assertEquals(Map.of("system", "heartbeat", "pptp", "slow-blink", "ipsec", "on", "l2tp", "off"), panel.leds());
        // a fault: everything blinks fast
        panel.show(new StatusSnapshot(0, false, true, "dataplane stalled", Switches.ALL_ON, Map.of("pptp", 0L), 0, 0, Map.of()));
        run(10);
        assertEquals("fast-blink", panel.leds().get("system"));
        assertEquals("fast-blink", panel.leds().get("l2tp"));
    }

    @Test
    void aFailingLedIsLoggedOnceAndTheRestGoesOn()
    {
        final AtomicInteger writes = new AtomicInteger();
        final LedOutput broken = new LedOutput()
        {
            @Override
            public void set(final boolean on) throws Exception
            {
                writes.incrementAndGet();
                throw new java.io.IOException("line busy");
            }

            @Override
            public String where()
            {
                return "BCM 5";
            }

            @Override
            public void close()
            {
            }
        };
        final boolean[] good = new boolean[1];
        final LedOutput fine = new LedOutput()
        {
            @Override
            public void set(final boolean on)
            {
                good[0] = on;
            }

            @Override
            public String where()
            {
                return "BCM 6";
            }

            @Override
            public void close()
            {
            }
        };
        panel = new Panel("test", List.of(new Panel.Led("pptp", broken), new Panel.Led("ipsec", fine)), null,
            new PanelLogic(50, 3000), null, null);
        panel.show(new StatusSnapshot(0, true, true, null, Switches.ALL_ON, Map.of("pptp", 0L), 0, 0, Map.of()));
        run(1000);
        assertEquals(1, writes.get(), "tried once, then left alone");
        assertTrue(good[0], "the other LED works");
    }

    @Test
    void onboardLedsTakeAndGiveBackTheirTrigger() throws Exception
    {
        for (final String name : new String[] {"ACT", "PWR"})
        {
            Files.createDirectories(dir.resolve("leds").resolve(name));
            Files.writeString(dir.resolve("leds").resolve(name).resolve("trigger"), "none [mmc0] heartbeat default-on");
            Files.writeString(dir.resolve("leds").resolve(name).resolve("brightness"), "0");
        }
        panel(Map.of("onboard-leds", "on", "gpio-leds", "off"));
        assertEquals("none", Files.readString(dir.resolve("leds/ACT/trigger")));
        panel.show(new StatusSnapshot(0, true, true, null, Switches.ALL_ON, Map.of("pptp", 0L), 0, 0, Map.of()));
        run(20);
        assertEquals("1", Files.readString(dir.resolve("leds/PWR/brightness")), "passthrough on: PWR on");
        panel.close();
        panel = null;
        assertEquals("mmc0", Files.readString(dir.resolve("leds/ACT/trigger")), "restored on stop");
    }

    private static Map<String, String> texts(final Map<String, BoardSettings.Line> lines)
    {
        final Map<String, String> m = new java.util.LinkedHashMap<>();
        lines.forEach((k, v) -> m.put(k, v.text()));
        return m;
    }

    @Test
    void profilesAndPinErrors() throws Exception
    {
        assertEquals("pi4", new BoardSettings(Map.of(), Map.of(), dir.resolve("model"), true).profile.id());
        Files.writeString(dir.resolve("model5"), "Raspberry Pi 5 Model B Rev 1.0\u0000");
        assertEquals("pi5", new BoardSettings(Map.of(), Map.of(), dir.resolve("model5"), true).profile.id());
        Files.writeString(dir.resolve("modelz"), "Raspberry Pi Zero 2 W Rev 1.0\u0000");
        final BoardSettings zero = new BoardSettings(Map.of(), Map.of(), dir.resolve("modelz"), true);
        assertEquals("zero2w", zero.profile.id());
        assertEquals(List.of("ACT"), zero.profile.onboardLeds(), "the Zero 2 W has no PWR LED");
        assertEquals("cm4", BoardProfile.forModel("Raspberry Pi Compute Module 4 Rev 1.0").id());
        assertEquals("pi3", BoardProfile.forModel("Raspberry Pi 3 Model B Plus Rev 1.3").id());
        assertEquals(Map.of("system", "27", "pptp", "22", "ipsec", "23", "l2tp", "24"), texts(zero.ledPins));

        final Map<String, String> origin = Map.of("led-pptp-pin", "passgate.conf line 9, key 'board.led-pptp-pin'",
            "button-pin", "passgate.conf line 8, key 'board.button-pin'");
        final String unknown = assertThrows(IllegalArgumentException.class,
            () -> panel(Map.of("led-pptp-pin", "40"))).getMessage();
        assertTrue(unknown.startsWith("key 'board.led-pptp-pin'") || unknown.contains("board.led-pptp-pin': BCM 40 is not a usable GPIO"),
            unknown);
        final String unknownWithOrigin = assertThrows(IllegalArgumentException.class,
            () -> BoardSettings.bcm(new BoardSettings(Map.of("led-pptp-pin", "40"), origin, dir.resolve("model"), true)
                .ledPins.get("pptp"))).getMessage();
        assertTrue(unknownWithOrigin.startsWith("passgate.conf line 9, key 'board.led-pptp-pin': BCM 40 is not a usable GPIO"),
            unknownWithOrigin);
        final String conflict = assertThrows(IllegalArgumentException.class,
            () -> new BoardSettings(Map.of("led-pptp-pin", "17"), origin, dir.resolve("model"), true)).getMessage();
        assertTrue(conflict.contains("17 is already board.button-pin"), conflict);
        assertEquals(17, BoardSettings.bcm(new BoardSettings(Map.of("button-pin", "GPIO17"), origin, dir.resolve("model"), true)
            .buttonPin), "a Pi line name is its BCM number");
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> BoardSettings.bcm(new BoardSettings(Map.of("button-pin", "PH2"), origin, dir.resolve("model"), true)
                .buttonPin)).getMessage().contains("Pi4J takes BCM numbers or GPIOn names"));
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> new BoardSettings(Map.of("button-pin", "17 18"), origin, dir.resolve("model"), true)).getMessage()
            .startsWith("passgate.conf line 8, key 'board.button-pin': not a GPIO line number or line name"));
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> new BoardSettings(Map.of("profile", "pi9"), Map.of(), dir.resolve("model"), true)).getMessage()
            .contains("unknown profile 'pi9'"));
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> new BoardSettings(Map.of("colour", "red"), Map.of(), dir.resolve("model"), true)).getMessage()
            .contains("unknown board setting"));
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> new BoardSettings(Map.of(), Map.of(), dir.resolve("no-such-model"), true)).getMessage()
            .contains("set board.profile"));
        assertFalse(new BoardSettings(Map.of("button", "off"), Map.of(), dir.resolve("model"), true).button);
    }
}

package io.passgate.board;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.pi4j.Pi4J;
import com.pi4j.context.Context;
import com.pi4j.io.IOType;
import com.pi4j.io.gpio.digital.DigitalInput;
import com.pi4j.io.gpio.digital.DigitalInputConfigBuilder;
import com.pi4j.io.gpio.digital.DigitalOutput;
import com.pi4j.io.gpio.digital.DigitalOutputConfigBuilder;
import com.pi4j.io.gpio.digital.DigitalState;
import com.pi4j.io.gpio.digital.PullResistance;
import com.pi4j.plugin.gpiod.provider.gpio.digital.GpioDDigitalInputProvider;
import com.pi4j.plugin.gpiod.provider.gpio.digital.GpioDDigitalOutputProvider;
import io.passgate.status.PanelUnavailableException;
import io.passgate.status.StatusPanel;
import io.passgate.status.StatusPanelProvider;
import org.tinylog.Logger;

/**
 * The Raspberry Pi board through Pi4J 3 and its GpioD plugin: the GPIO character device, so it works on the
 * Pi 5 (RP1) and needs no root; the plugin bundles its own libgpiod, so Raspberry Pi OS trixie's libgpiod 2
 * does not matter. The Pi4J context is built once here and shut down when the panel closes.
 */
public final class Pi4jPanelProvider implements StatusPanelProvider
{
    static final Path MODEL = Path.of("/proc/device-tree/model");
    static final Path LEDS = Path.of("/sys/class/leds");

    @Override
    public String id()
    {
        return "pi4j";
    }

    /** On a Raspberry Pi passgate knows (its device-tree model), with a GPIO chip. */
    @Override
    public boolean availableHere()
    {
        final BoardProfile profile = BoardProfile.forModel(BoardProfile.detectModel(MODEL));
        return profile != null && profile.raspberryPi() && Files.exists(Path.of("/dev/gpiochip0"));
    }

    @Override
    public StatusPanel create(final Map<String, String> settings, final Map<String, String> origins)
    {
        final BoardSettings s = new BoardSettings(settings, origins, MODEL, true);
        final Context context = Pi4J.newContextBuilder()
            .add(GpioDDigitalInputProvider.newInstance(), GpioDDigitalOutputProvider.newInstance())
            .build();
        try
        {
            return create(s, context, LEDS, true);
        }
        catch (final RuntimeException e)
        {
            context.shutdown();
            throw e;
        }
    }

    /** A Pi4J I/O; Pi4J's failure (the line is held by another process, no chip) named by the key. */
    private static <T extends com.pi4j.io.IO<?, ?, ?>> T create(final Context context,
        final com.pi4j.io.IOConfig<?> config, final IOType type, final BoardSettings.Line line, final int pin)
    {
        try
        {
            return context.create(config, type);
        }
        catch (final RuntimeException e)
        {
            throw new PanelUnavailableException(line.where() + ": Pi4J cannot open BCM " + pin + ": " + e.getMessage(), e);
        }
    }

    /** Builds the panel on a given Pi4J context (the mock one in tests). */
    static Panel create(final BoardSettings s, final Context context, final Path ledsRoot, final boolean shutdownContext)
    {
        final List<Panel.Led> leds = new ArrayList<>();
        final Map<String, Integer> bcm = new java.util.LinkedHashMap<>();
        for (final Map.Entry<String, BoardSettings.Line> e : s.ledPins.entrySet())
        {
            bcm.put(e.getKey(), BoardSettings.bcm(e.getValue()));
        }
        final int buttonBcm = s.button ? BoardSettings.bcm(s.buttonPin) : -1;
        for (final Map.Entry<String, BoardSettings.Line> e : s.ledPins.entrySet())
        {
            final int pin = bcm.get(e.getKey());
            final DigitalOutputConfigBuilder config = DigitalOutput.newConfigBuilder(context)
                .id("passgate-led-" + e.getKey()).name("passgate " + e.getKey() + " LED").address(pin)
                .initial(DigitalState.LOW).shutdown(DigitalState.LOW);
            final DigitalOutput out = create(context, config.build(), IOType.DIGITAL_OUTPUT, e.getValue(), pin);
            leds.add(new Panel.Led(e.getKey(), new LedOutput()
            {
                @Override
                public void set(final boolean on) throws Exception
                {
                    out.state(on ? DigitalState.HIGH : DigitalState.LOW);
                }

                @Override
                public String where()
                {
                    return "BCM " + pin;
                }

                @Override
                public void close()
                {
                    // the context's shutdown releases the line
                }
            }));
        }
        SysfsLed.addOnboard(s, ledsRoot, leds);
        ButtonInput button = null;
        if (s.button)
        {
            final DigitalInputConfigBuilder config = DigitalInput.newConfigBuilder(context).id("passgate-button")
                .name("passgate button").address(buttonBcm)
                .pull(switch (s.pull)
                {
                    case "up" -> PullResistance.PULL_UP;
                    case "down" -> PullResistance.PULL_DOWN;
                    default -> PullResistance.OFF;
                });
            final DigitalInput in = create(context, config.build(), IOType.DIGITAL_INPUT, s.buttonPin, buttonBcm);
            final boolean activeLow = s.activeLow;
            button = new ButtonInput()
            {
                @Override
                public boolean pressed()
                {
                    return activeLow ? in.state() == DigitalState.LOW : in.state() == DigitalState.HIGH;
                }

                @Override
                public void close()
                {
                    // the context's shutdown releases the line
                }
            };
        }
        final String description = (s.model == null ? "board" : s.model) + " (profile "
            + (s.profile == null ? "none" : s.profile.id()) + ", Pi4J GpioD; button " + (s.button ? "BCM " + buttonBcm : "off")
            + ", LEDs " + bcm + (s.onboardLeds ? " + on-board" : "") + ")";
        return new Panel(description, leds, button, new PanelLogic(s.debounceMs, s.longPressMs),
            change -> Logger.info("LED {}", change), shutdownContext ? context::shutdown : null);
    }
}

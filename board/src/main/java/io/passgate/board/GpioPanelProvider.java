package io.passgate.board;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.passgate.status.PanelUnavailableException;
import io.passgate.status.StatusPanel;
import io.passgate.status.StatusPanelProvider;
import io.passgate.sys.ErrnoException;
import io.passgate.sys.GpioChip;
import io.passgate.sys.GpioLine;
import io.passgate.sys.Linux;
import org.tinylog.Logger;

/**
 * The board through passgate's own binding to the Linux GPIO character device (uAPI v2, native module): any
 * Linux board with a GPIO chip, on any architecture, no Pi4J and no libgpiod. The button's line is requested
 * with its bias and both edges, and the panel's loop wakes on its edge events; each LED is an output line.
 * Closing the panel releases every line.
 *
 * <p>{@code board.gpio-chip}: {@code auto} (the chip of the board profile, else a Raspberry Pi header chip
 * by its label, else the only chip), a device ({@code /dev/gpiochip0}), or a chip label ({@code pinctrl-rp1}).
 * A missing chip or line, or a line held by another process, is a {@link PanelUnavailableException} naming the
 * key.
 */
public final class GpioPanelProvider implements StatusPanelProvider
{
    static final Path DEV = Path.of("/dev");
    static final String CONSUMER = "passgate";

    @Override
    public String id()
    {
        return "gpio";
    }

    /** Where a GPIO chip exists. */
    @Override
    public boolean availableHere()
    {
        return !GpioChip.devices(DEV).isEmpty();
    }

    @Override
    public StatusPanel create(final Map<String, String> settings, final Map<String, String> origins)
    {
        final BoardSettings s = new BoardSettings(settings, origins, Pi4jPanelProvider.MODEL, false);
        return create(s, DEV, Pi4jPanelProvider.LEDS);
    }

    /** Builds the panel on the chips under {@code dev} (tests: a folder with links to gpio-sim chips). */
    static Panel create(final BoardSettings s, final Path dev, final Path ledsRoot)
    {
        final GpioChip chip = openChip(s, dev);
        final List<GpioLine> requested = new ArrayList<>();
        try
        {
            if (s.linesGuessed && !BoardProfile.PI_CHIP_LABELS.contains(chip.label()))
            {
                throw new PanelUnavailableException("default, key 'board.profile': no board profile for this machine ("
                    + (s.model == null ? "no /proc/device-tree/model" : s.model) + ") and no board.*-pin set: set "
                    + "board.profile (" + BoardProfile.ids() + ") or board.button-pin and board.led-*-pin (line numbers or "
                    + "names of " + describe(chip) + ")");
            }
            final Map<Integer, String> used = new LinkedHashMap<>();
            final List<Panel.Led> leds = new ArrayList<>();
            final Map<String, String> shown = new LinkedHashMap<>();
            for (final Map.Entry<String, BoardSettings.Line> e : s.ledPins.entrySet())
            {
                final int offset = resolve(chip, e.getValue(), used);
                final GpioLine line = request(chip, e.getValue(), offset, false, s);
                requested.add(line);
                shown.put(e.getKey(), label(chip, offset));
                leds.add(new Panel.Led(e.getKey(), new GpioLed(line)));
            }
            SysfsLed.addOnboard(s, ledsRoot, leds);
            GpioButton button = null;
            String buttonShown = "off";
            if (s.button)
            {
                final int offset = resolve(chip, s.buttonPin, used);
                final GpioLine line = request(chip, s.buttonPin, offset, true, s);
                requested.add(line);
                button = new GpioButton(line);
                buttonShown = label(chip, offset);
            }
            final String description = (s.model == null ? "board" : s.model) + " (profile "
                + (s.profile == null ? "none" : s.profile.id()) + ", GPIO character device " + describe(chip) + "; button "
                + buttonShown + ", LEDs " + shown + (s.onboardLeds ? " + on-board" : "") + ")";
            return new Panel(description, leds, button, new PanelLogic(s.debounceMs, s.longPressMs),
                change -> Logger.info("LED {}", change), chip::close);
        }
        catch (final RuntimeException e)
        {
            for (final GpioLine line : requested)
            {
                line.close();
            }
            chip.close();
            throw e;
        }
    }

    /** The chip board.gpio-chip names (or auto finds). */
    static GpioChip openChip(final BoardSettings s, final Path dev)
    {
        final String where = s.where("gpio-chip");
        final String wanted = s.gpioChip;
        if (wanted.startsWith("/"))
        {
            try
            {
                return GpioChip.open(Path.of(wanted));
            }
            catch (final ErrnoException e)
            {
                throw new PanelUnavailableException(where + ": " + wanted + " is not a usable GPIO chip: " + e.getMessage(), e);
            }
        }
        final List<GpioChip> chips = new ArrayList<>();
        final List<String> found = new ArrayList<>();
        for (final Path p : GpioChip.devices(dev))
        {
            try
            {
                final GpioChip chip = GpioChip.open(p);
                chips.add(chip);
                found.add(describe(chip));
            }
            catch (final ErrnoException e)
            {
                found.add(p + " (" + e.errnoName() + ")");
            }
        }
        GpioChip chosen = null;
        if (wanted.equals("auto"))
        {
            final List<String> labels = new ArrayList<>();
            if (s.profile != null)
            {
                labels.addAll(s.profile.chipLabels());
            }
            labels.addAll(BoardProfile.PI_CHIP_LABELS);
            for (final String label : labels)
            {
                for (final GpioChip c : chips)
                {
                    if (chosen == null && c.label().equals(label))
                    {
                        chosen = c;
                    }
                }
            }
            if (chosen == null && chips.size() == 1)
            {
                chosen = chips.get(0);
            }
        }
        else
        {
            for (final GpioChip c : chips)
            {
                if (chosen == null && (c.label().equals(wanted) || c.name().equals(wanted)))
                {
                    chosen = c;
                }
            }
        }
        for (final GpioChip c : chips)
        {
            if (c != chosen)
            {
                c.close();
            }
        }
        if (chosen == null)
        {
            final String have = found.isEmpty() ? "no GPIO chip in " + dev : "found: " + String.join(", ", found);
            throw new PanelUnavailableException(where + ": " + (wanted.equals("auto")
                ? "no header chip recognised and not exactly one chip: set board.gpio-chip to a label or device"
                : "no GPIO chip labelled or named '" + wanted + "'") + " (" + have + ")");
        }
        return chosen;
    }

    /** The offset of a pin setting on the chip, checked against the lines the chip has and against reuse. */
    private static int resolve(final GpioChip chip, final BoardSettings.Line line, final Map<Integer, String> used)
    {
        final int offset;
        try
        {
            offset = line.named() ? chip.lineNamed(line.name()) : line.number();
        }
        catch (final ErrnoException e)
        {
            throw new PanelUnavailableException(line.where() + ": cannot read the lines of " + describe(chip) + ": "
                + e.getMessage(), e);
        }
        if (offset < 0)
        {
            throw new PanelUnavailableException(line.where() + ": no line named '" + line.name() + "' on " + describe(chip));
        }
        if (offset >= chip.lines())
        {
            throw new PanelUnavailableException(line.where() + ": line " + offset + " does not exist on " + describe(chip)
                + " (lines 0.." + (chip.lines() - 1) + ")");
        }
        final String other = used.putIfAbsent(offset, line.key());
        if (other != null)
        {
            throw new PanelUnavailableException(line.where() + ": line " + offset + " is already board." + other);
        }
        return offset;
    }

    private static GpioLine request(final GpioChip chip, final BoardSettings.Line line, final int offset,
        final boolean input, final BoardSettings s)
    {
        try
        {
            if (input)
            {
                long flags = Linux.GPIO_V2_LINE_FLAG_EDGE_RISING | Linux.GPIO_V2_LINE_FLAG_EDGE_FALLING;
                flags |= switch (s.pull)
                {
                    case "up" -> Linux.GPIO_V2_LINE_FLAG_BIAS_PULL_UP;
                    case "down" -> Linux.GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN;
                    default -> Linux.GPIO_V2_LINE_FLAG_BIAS_DISABLED;
                };
                if (s.activeLow)
                {
                    flags |= Linux.GPIO_V2_LINE_FLAG_ACTIVE_LOW;
                }
                return chip.requestInput(offset, CONSUMER + "-button", flags, 0);
            }
            return chip.requestOutput(offset, CONSUMER + "-led", 0, false);
        }
        catch (final ErrnoException e)
        {
            String holder = "";
            if (e.errno() == Linux.EBUSY)
            {
                try
                {
                    final GpioChip.LineInfo info = chip.lineInfo(offset);
                    holder = " held by " + (info.consumer().isEmpty() ? "another user" : "'" + info.consumer() + "'");
                }
                catch (final ErrnoException ignore)
                {
                    holder = " held by another user";
                }
            }
            throw new PanelUnavailableException(line.where() + ": cannot use " + label(chip, offset) + holder + ": "
                + e.getMessage(), e);
        }
    }

    private static String describe(final GpioChip chip)
    {
        return chip.path() + " [" + chip.label() + ", " + chip.lines() + " lines]";
    }

    /** "gpiochip0 line 17 (GPIO17)". */
    private static String label(final GpioChip chip, final int offset)
    {
        String name = "";
        try
        {
            name = chip.lineInfo(offset).name();
        }
        catch (final ErrnoException ignore)
        {
            // the number alone
        }
        return chip.name() + " line " + offset + (name.isEmpty() ? "" : " (" + name + ")");
    }

    /** An LED on an output line; writes only changes (the panel already does), never allocates. */
    static final class GpioLed implements LedOutput
    {
        private final GpioLine line;

        GpioLed(final GpioLine line)
        {
            this.line = line;
        }

        @Override
        public void set(final boolean on) throws ErrnoException
        {
            line.value(on);
        }

        @Override
        public String where()
        {
            return line.where();
        }

        @Override
        public void close()
        {
            line.close();
        }
    }

    /** The button on an input line with edge events: its level is read again whenever an edge arrives. */
    static final class GpioButton implements ButtonInput
    {
        private final GpioLine line;
        private volatile boolean level;

        GpioButton(final GpioLine line)
        {
            this.line = line;
            try
            {
                this.level = line.value();
            }
            catch (final ErrnoException e)
            {
                throw new PanelUnavailableException(line.where() + ": cannot read the button: " + e.getMessage(), e);
            }
        }

        @Override
        public boolean pressed()
        {
            return level;
        }

        /** Sleeps in poll(2) on the line until an edge or the timeout; after edges, the level as it is now. */
        @Override
        public void await(final long timeoutMs) throws ErrnoException
        {
            if (line.awaitEvents((int)Math.min(timeoutMs, Integer.MAX_VALUE)) > 0)
            {
                level = line.value();
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
            line.close();
        }
    }
}

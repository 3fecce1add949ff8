package io.passgate.board;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An on-board LED through /sys/class/leds/NAME: its trigger is set to "none" while passgate drives it and
 * restored on close (the ACT LED goes back to showing disk activity, PWR to power).
 */
public final class SysfsLed implements LedOutput
{
    private final Path dir;
    private final String previousTrigger;
    private Boolean last;

    public SysfsLed(final Path ledsRoot, final String name) throws IOException
    {
        this.dir = ledsRoot.resolve(name);
        final String triggers = Files.readString(dir.resolve("trigger")).strip();
        String current = "none";
        for (final String t : triggers.split("\\s+"))
        {
            if (t.startsWith("[") && t.endsWith("]"))
            {
                current = t.substring(1, t.length() - 1);
            }
        }
        this.previousTrigger = current;
        Files.writeString(dir.resolve("trigger"), "none");
    }

    /**
     * With board.onboard-leds = on and a profile: the board's on-board LEDs join {@code leds}, ACT showing
     * the system pattern, PWR (where the board has one) all passthrough together. One that cannot be used
     * is logged and left out.
     */
    static void addOnboard(final BoardSettings s, final Path ledsRoot, final java.util.List<Panel.Led> leds)
    {
        if (!s.onboardLeds || s.profile == null)
        {
            return;
        }
        final java.util.List<String> names = s.profile.onboardLeds();
        for (int i = 0; i < names.size() && i < 2; i++)
        {
            try
            {
                leds.add(new Panel.Led(i == 0 ? PanelLogic.SYSTEM : PanelLogic.PASSTHROUGH, new SysfsLed(ledsRoot, names.get(i))));
            }
            catch (final IOException ex)
            {
                org.tinylog.Logger.warn("on-board LED {} not usable: {}", names.get(i), ex.getMessage());
            }
        }
    }

    @Override
    public void set(final boolean on) throws IOException
    {
        if (last != null && last == on)
        {
            return;
        }
        Files.writeString(dir.resolve("brightness"), on ? "1" : "0");
        last = on;
    }

    @Override
    public String where()
    {
        return dir.toString();
    }

    public String previousTrigger()
    {
        return previousTrigger;
    }

    @Override
    public void close()
    {
        try
        {
            Files.writeString(dir.resolve("trigger"), previousTrigger);
        }
        catch (final IOException ignore)
        {
            // best effort on the way out
        }
    }
}

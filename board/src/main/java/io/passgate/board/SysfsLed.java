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

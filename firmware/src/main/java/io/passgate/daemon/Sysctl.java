package io.passgate.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads and writes /proc/sys values of the network namespace the daemon runs in. */
final class Sysctl
{
    private Sysctl()
    {
    }

    static String read(final String key)
    {
        try
        {
            return Files.readString(Path.of("/proc/sys", key.replace('.', '/'))).strip();
        }
        catch (final IOException e)
        {
            return null;
        }
    }

    static boolean write(final String key, final String value)
    {
        try
        {
            Files.writeString(Path.of("/proc/sys", key.replace('.', '/')), value);
            return true;
        }
        catch (final IOException e)
        {
            return false;
        }
    }

    static int interfaceMtu(final String name)
    {
        try
        {
            return Integer.parseInt(Files.readString(Path.of("/sys/class/net", name, "mtu")).strip());
        }
        catch (final IOException | NumberFormatException e)
        {
            return 1500;
        }
    }
}

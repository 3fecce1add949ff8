package io.passgate.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code key = value} lines, {@code #} comments, blank lines ignored; each value remembers where it came
 * from (file and line, or the command line) so an error can name it.
 */
public final class ConfigSource
{
    /** A value and where it was set. */
    public record Entry(String key, String value, String origin)
    {
    }

    private final Map<String, Entry> entries = new LinkedHashMap<>();

    public static ConfigSource parse(final String name, final List<String> lines) throws ConfigException
    {
        final ConfigSource source = new ConfigSource();
        for (int i = 0; i < lines.size(); i++)
        {
            String line = lines.get(i);
            final int hash = line.indexOf('#');
            if (hash >= 0)
            {
                line = line.substring(0, hash);
            }
            line = line.strip();
            if (line.isEmpty())
            {
                continue;
            }
            final String origin = name + " line " + (i + 1);
            final int eq = line.indexOf('=');
            if (eq <= 0)
            {
                throw new ConfigException(origin + ": expected 'key = value', got '" + line + "'");
            }
            final String key = line.substring(0, eq).strip();
            final String value = line.substring(eq + 1).strip();
            if (!key.matches("[a-z][a-z0-9.-]*"))
            {
                throw new ConfigException(origin + ": malformed key '" + key + "'");
            }
            if (source.entries.containsKey(key))
            {
                throw new ConfigException(origin + ", key '" + key + "': set twice (first at "
                    + source.entries.get(key).origin() + ")");
            }
            source.entries.put(key, new Entry(key, value, origin));
        }
        return source;
    }

    public static ConfigSource load(final Path file) throws ConfigException
    {
        try
        {
            return parse(file.toString(), Files.readAllLines(file, StandardCharsets.UTF_8));
        }
        catch (final IOException e)
        {
            throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
        }
    }

    public void set(final String key, final String value, final String origin)
    {
        entries.put(key, new Entry(key, value, origin));
    }

    public Entry get(final String key)
    {
        return entries.get(key);
    }

    public Map<String, Entry> entries()
    {
        return entries;
    }
}

package io.passgate.config;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import io.passgate.wire.Ipv4Header;

import static io.passgate.config.ConfigKeys.DEFAULTS;

/** Reads typed values, recording each effective value and naming the origin in every error. */
final class ConfigValues
{
    private final ConfigSource source;
    final Map<String, String> effective = new LinkedHashMap<>();

    ConfigValues(final ConfigSource source)
    {
        this.source = source;
    }

    String where(final String key)
    {
        final ConfigSource.Entry e = source.get(key);
        return (e == null ? "default" : e.origin()) + ", key '" + key + "'";
    }

    String text(final String key) throws ConfigException
    {
        final ConfigSource.Entry e = source.get(key);
        final String value = e != null ? e.value() : DEFAULTS.get(key);
        if (value == null || value.isEmpty())
        {
            throw new ConfigException("key '" + key + "' is required (set it in the config file or on the command line)");
        }
        effective.put(key, value);
        return value;
    }

    /** A path; one the file system cannot name (a NUL byte) is a ConfigException, not an exception at startup. */
    Path path(final String key) throws ConfigException
    {
        final String value = text(key);
        try
        {
            return Path.of(value);
        }
        catch (final InvalidPathException e)
        {
            throw new ConfigException(where(key) + ": not a usable path (" + e.getReason() + ")");
        }
    }

    String interfaceName(final String key) throws ConfigException
    {
        final String value = text(key);
        if (!value.matches("[A-Za-z0-9_.@-]{1,15}"))
        {
            throw new ConfigException(where(key) + ": not an interface name: '" + value + "'");
        }
        return value;
    }

    String choice(final String key, final String... allowed) throws ConfigException
    {
        final String value = text(key).toLowerCase(Locale.ROOT);
        for (final String a : allowed)
        {
            if (a.equals(value))
            {
                return value;
            }
        }
        throw new ConfigException(where(key) + ": must be one of " + String.join(", ", allowed) + " (got '" + value + "')");
    }

    boolean bool(final String key) throws ConfigException
    {
        final String value = text(key).toLowerCase(Locale.ROOT);
        return switch (value)
        {
            case "true", "yes", "on", "1" -> true;
            case "false", "no", "off", "0" -> false;
            default -> throw new ConfigException(where(key) + ": must be true or false (got '" + value + "')");
        };
    }

    int integer(final String key, final int min, final int max) throws ConfigException
    {
        final String value = text(key);
        final long n;
        try
        {
            n = Long.parseLong(value);
        }
        catch (final NumberFormatException e)
        {
            throw new ConfigException(where(key) + ": not a number: '" + value + "'");
        }
        if (n < min || n > max)
        {
            throw new ConfigException(where(key) + ": must be " + min + ".." + max + " (got " + value + ")");
        }
        return (int)n;
    }

    long size(final String key, final long min, final long max) throws ConfigException
    {
        final String value = text(key).toUpperCase(Locale.ROOT);
        long multiplier = 1;
        String digits = value;
        if (value.endsWith("K") || value.endsWith("M") || value.endsWith("G"))
        {
            multiplier = switch (value.charAt(value.length() - 1))
            {
                case 'K' -> 1024L;
                case 'M' -> 1024L * 1024;
                default -> 1024L * 1024 * 1024;
            };
            digits = value.substring(0, value.length() - 1);
        }
        final long n;
        try
        {
            n = Math.multiplyExact(Long.parseLong(digits), multiplier);
        }
        catch (final NumberFormatException e)
        {
            throw new ConfigException(where(key) + ": not a size (bytes, or with K, M, G): '" + value + "'");
        }
        catch (final ArithmeticException e)
        {
            throw new ConfigException(where(key) + ": must be " + min + ".." + max + " bytes (got " + value
                + ", which overflows)");
        }
        if (n < min || n > max)
        {
            throw new ConfigException(where(key) + ": must be " + min + ".." + max + " bytes (got " + value + ")");
        }
        return n;
    }

    int mark(final String key) throws ConfigException
    {
        final String value = text(key);
        try
        {
            final long n = value.startsWith("0x") ? Long.parseLong(value.substring(2), 16) : Long.parseLong(value);
            if (n <= 0 || n > 0xFFFF_FFFFL || Long.bitCount(n) != 1)
            {
                throw new NumberFormatException();
            }
            return (int)n;
        }
        catch (final NumberFormatException e)
        {
            throw new ConfigException(where(key) + ": must be a single mark bit such as 0x100000 (got '" + value + "')");
        }
    }

    int[] portRange(final String key) throws ConfigException
    {
        final String value = text(key);
        final String[] parts = value.split("-");
        try
        {
            final int lo = Integer.parseInt(parts[0].strip());
            final int hi = Integer.parseInt(parts[parts.length == 2 ? 1 : 0].strip());
            if (parts.length > 2 || lo < 1024 || hi > 65535 || hi - lo < 63)
            {
                throw new NumberFormatException();
            }
            return new int[] {lo, hi};
        }
        catch (final NumberFormatException | ArrayIndexOutOfBoundsException e)
        {
            throw new ConfigException(where(key) + ": must be LOW-HIGH within 1024-65535, at least 64 ports (got '" + value + "')");
        }
    }

    int[] address(final String key, final String interfaceName, final PassgateContext.AddressResolver resolver)
        throws ConfigException
    {
        final String value = text(key);
        if (value.equalsIgnoreCase("auto"))
        {
            final int[] found = resolver.addressOf(interfaceName);
            if (found == null)
            {
                throw new ConfigException(where(key) + ": 'auto' but interface " + interfaceName + " has no IPv4 address");
            }
            effective.put(key, Ipv4Header.format(found[0]) + " (auto from " + interfaceName + ")");
            return found;
        }
        try
        {
            final String[] parts = value.split("/");
            final int prefix = parts.length == 2 ? Integer.parseInt(parts[1]) : 24;
            if (prefix < 8 || prefix > 32)
            {
                throw new IllegalArgumentException();
            }
            return new int[] {Ipv4Header.parse(parts[0]), prefix};
        }
        catch (final IllegalArgumentException e)
        {
            throw new ConfigException(where(key) + ": must be an IPv4 address or 'auto' (got '" + value + "')");
        }
    }
}

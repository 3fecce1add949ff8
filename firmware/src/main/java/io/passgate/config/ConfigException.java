package io.passgate.config;

/** A configuration error; the message names the source, line and key. */
public final class ConfigException extends Exception
{
    private static final long serialVersionUID = 1L;

    public ConfigException(final String message)
    {
        super(message);
    }
}

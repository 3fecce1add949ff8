package io.passgate.sys;

/**
 * Network interface lookups.
 */
public final class Interfaces
{
    private Interfaces()
    {
    }

    /** if_nametoindex(3); throws naming the interface when it does not exist. */
    public static int indexOf(final String name) throws ErrnoException
    {
        return Sys.ifNameToIndex(name);
    }
}

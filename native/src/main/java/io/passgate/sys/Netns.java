package io.passgate.sys;

/**
 * Network namespaces. {@link #enter(String)} moves only the calling thread (setns(2) is per thread): sockets
 * that thread opens afterwards live in the namespace. Used by tests and the lab to run a peer or a
 * dataplane thread inside a namespace the test built.
 */
public final class Netns
{
    private Netns()
    {
    }

    /** Moves the calling thread into the named namespace (a file under /var/run/netns, as ip-netns makes). */
    public static void enter(final String name) throws ErrnoException
    {
        final String path = name.startsWith("/") ? name : "/var/run/netns/" + name;
        final int fd = Sys.open(path, Linux.O_RDONLY | Linux.O_CLOEXEC);
        try
        {
            Sys.setns(fd, Linux.CLONE_NEWNET, path);
        }
        finally
        {
            Sys.close(fd);
        }
    }
}

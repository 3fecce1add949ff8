package io.passgate.daemon;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

import io.passgate.control.Json;
import org.tinylog.Logger;

/**
 * The control API: a Unix socket (owner root, group {@code control.group}, mode 0660) speaking JSON lines,
 * one request object per line, one response object per line. Each connection is served on a virtual thread.
 */
public final class ControlServer implements AutoCloseable
{
    private final Path path;
    private final ServerSocketChannel server;
    private final Function<Map<String, Object>, Map<String, Object>> handler;
    private final Thread acceptor;
    private volatile boolean running = true;

    public ControlServer(final Path path, final String group, final Function<Map<String, Object>, Map<String, Object>> handler)
        throws IOException
    {
        this.path = path;
        this.handler = handler;
        Files.createDirectories(path.getParent());
        Files.deleteIfExists(path);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw----"));
        if (group != null && !group.isEmpty())
        {
            final PosixFileAttributeView view = Files.getFileAttributeView(path, PosixFileAttributeView.class);
            try
            {
                final GroupPrincipal principal = path.getFileSystem().getUserPrincipalLookupService()
                    .lookupPrincipalByGroupName(group);
                // the packaged service runs as user passgate, group passgate: the socket has the group already,
                // and its syscall filter has no chown
                if (!view.readAttributes().group().equals(principal))
                {
                    view.setGroup(principal);
                }
            }
            catch (final IOException e)
            {
                Logger.warn("control socket: cannot give it group '{}' ({}); root and group '{}' may use it",
                    group, e instanceof UserPrincipalNotFoundException ? "no such group" : e.getMessage(), currentGroup(view));
            }
        }
        acceptor = new Thread(this::accept, "passgate-api");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    private static String currentGroup(final PosixFileAttributeView view)
    {
        try
        {
            return view.readAttributes().group().getName();
        }
        catch (final IOException e)
        {
            return "?";
        }
    }

    public Path path()
    {
        return path;
    }

    private void accept()
    {
        while (running)
        {
            try
            {
                final SocketChannel client = server.accept();
                Thread.ofVirtual().name("passgate-api-client").start(() -> serve(client));
            }
            catch (final IOException e)
            {
                if (running)
                {
                    Logger.warn("control socket: {}", e.getMessage());
                }
                return;
            }
        }
    }

    /** The longest request line, in bytes: a longer one is refused before it is held whole. */
    static final int MAX_REQUEST = 4096;
    static final int TOO_LONG = -2;

    /**
     * Reads one line (without its newline) into {@code buffer}, never more than {@link #MAX_REQUEST} bytes:
     * returns its length, -1 at the end of the stream, or {@link #TOO_LONG} as soon as the limit is passed.
     */
    static int readLine(final InputStream in, final byte[] buffer) throws IOException
    {
        int n = 0;
        while (true)
        {
            final int b = in.read();
            if (b < 0)
            {
                return n == 0 ? -1 : n;
            }
            if (b == '\n')
            {
                return n > 0 && buffer[n - 1] == '\r' ? n - 1 : n;
            }
            if (n == MAX_REQUEST)
            {
                return TOO_LONG;
            }
            buffer[n++] = (byte)b;
        }
    }

    private void serve(final SocketChannel client)
    {
        try (client;
            InputStream in = new BufferedInputStream(Channels.newInputStream(client), 1024);
            OutputStream out = Channels.newOutputStream(client))
        {
            final byte[] buffer = new byte[MAX_REQUEST];
            int lines = 0;
            int length;
            while ((length = readLine(in, buffer)) != -1 && lines++ < 1000)
            {
                if (length == TOO_LONG)
                {
                    write(out, error("request longer than " + MAX_REQUEST + " bytes"));
                    return;
                }
                final String line = new String(buffer, 0, length, StandardCharsets.UTF_8);
                if (line.isBlank())
                {
                    continue;
                }
                Map<String, Object> response;
                try
                {
                    response = handler.apply(Json.parseObject(line));
                }
                catch (final IllegalArgumentException e)
                {
                    response = error(e.getMessage());
                }
                catch (final RuntimeException e)
                {
                    Logger.warn("control request failed: {}", e.toString());
                    response = error("internal error: " + e);
                }
                write(out, response);
            }
        }
        catch (final IOException ignore)
        {
            // the client went away
        }
    }

    private static void write(final OutputStream out, final Map<String, Object> response) throws IOException
    {
        out.write((Json.write(response) + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    static Map<String, Object> error(final String message)
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("ok", false);
        m.put("error", message);
        return m;
    }

    @Override
    public void close()
    {
        running = false;
        try
        {
            server.close();
        }
        catch (final IOException ignore)
        {
            // closing
        }
        try
        {
            Files.deleteIfExists(path);
        }
        catch (final IOException ignore)
        {
            // best effort
        }
    }
}

package io.passgate.daemon;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
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
            try
            {
                final GroupPrincipal principal = path.getFileSystem().getUserPrincipalLookupService()
                    .lookupPrincipalByGroupName(group);
                Files.getFileAttributeView(path, PosixFileAttributeView.class).setGroup(principal);
            }
            catch (final IOException e)
            {
                Logger.warn("control socket: group '{}' not found; only root may use it ({})", group, e.getMessage());
            }
        }
        acceptor = new Thread(this::accept, "passgate-api");
        acceptor.setDaemon(true);
        acceptor.start();
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

    private void serve(final SocketChannel client)
    {
        try (client;
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client),
                StandardCharsets.UTF_8));
            OutputStream out = Channels.newOutputStream(client))
        {
            String line;
            int lines = 0;
            while ((line = in.readLine()) != null && lines++ < 1000)
            {
                if (line.length() > 4096)
                {
                    write(out, error("request longer than 4096 characters"));
                    return;
                }
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

package io.passgate.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/** The control socket's request reading: bounded before a line is held whole (review item 14). */
class ControlServerTest
{
    @Test
    void readLineStopsAtTheLimit() throws IOException
    {
        final byte[] buffer = new byte[ControlServer.MAX_REQUEST];
        assertEquals(3, ControlServer.readLine(new ByteArrayInputStream("abc\nrest".getBytes()), buffer));
        assertEquals(2, ControlServer.readLine(new ByteArrayInputStream("ab\r\n".getBytes()), buffer));
        assertEquals(-1, ControlServer.readLine(new ByteArrayInputStream(new byte[0]), buffer));
        final byte[] exact = new byte[ControlServer.MAX_REQUEST + 1];
        java.util.Arrays.fill(exact, (byte)'a');
        exact[ControlServer.MAX_REQUEST] = '\n';
        assertEquals(ControlServer.MAX_REQUEST, ControlServer.readLine(new ByteArrayInputStream(exact), buffer));
        final byte[] over = new byte[ControlServer.MAX_REQUEST + 2];
        java.util.Arrays.fill(over, (byte)'a');
        assertEquals(ControlServer.TOO_LONG, ControlServer.readLine(new ByteArrayInputStream(over), buffer));
    }

    /**
     * One local client streams a request without a newline: the daemon answers with an error and hangs up after
     * at most the limit (plus socket buffers), instead of reading (and holding) everything. Before the fix, the
     * whole 64 MB stream was read into one String.
     */
    @Test
    void anEndlessRequestIsRefusedWithoutBeingHeld() throws Exception
    {
        final Path dir = Files.createTempDirectory("pgctl");
        final AtomicInteger handled = new AtomicInteger();
        try (ControlServer server = new ControlServer(dir.resolve("control.sock"), null, request ->
        {
            handled.incrementAndGet();
            return Map.of("ok", true);
        }); SocketChannel client = SocketChannel.open(StandardProtocolFamily.UNIX))
        {
            client.connect(UnixDomainSocketAddress.of(server.path()));
            final ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
            long written = 0;
            boolean hungUp = false;
            try
            {
                while (written < 64L << 20)
                {
                    java.util.Arrays.fill(chunk.array(), (byte)'{');
                    chunk.clear();
                    written += client.write(chunk);
                }
            }
            catch (final IOException e)
            {
                hungUp = true;   // EPIPE / connection reset: the daemon closed its end
            }
            assertTrue(hungUp, "the daemon hung up instead of reading " + written + " bytes");
            assertTrue(written < 16L << 20, "hung up after " + written + " bytes");
            final ByteBuffer answer = ByteBuffer.allocate(4096);
            client.read(answer);
            final String text = new String(answer.array(), 0, answer.position(), StandardCharsets.UTF_8);
            assertTrue(text.contains("\"ok\":false") && text.contains("longer than 4096 bytes"), text);
            assertEquals(0, handled.get(), "nothing was handled");
        }
    }
}

package io.passgate.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UnixDatagramSocketTest
{
    private static String receive(final UnixDatagramSocket socket) throws ErrnoException
    {
        final byte[] into = new byte[UnixDatagramSocket.MAX_DATAGRAM];
        final int n = socket.receive(into, 5000);
        return n < 0 ? null : new String(into, 0, n, StandardCharsets.UTF_8);
    }

    @Test
    void aDatagramReachesASocketBoundToAPath(@TempDir final Path dir) throws Exception
    {
        final String path = dir.resolve("notify").toString();
        try (UnixDatagramSocket receiver = UnixDatagramSocket.open(); UnixDatagramSocket sender = UnixDatagramSocket.open())
        {
            receiver.bind(path);
            assertTrue(Files.exists(Path.of(path)), "bind creates the socket file");
            sender.send(path, "READY=1\nSTATUS=up".getBytes(StandardCharsets.UTF_8));
            sender.send(path, "WATCHDOG=1".getBytes(StandardCharsets.UTF_8));
            assertEquals("READY=1\nSTATUS=up", receive(receiver));
            assertEquals("WATCHDOG=1", receive(receiver), "one receive is one datagram");
            assertEquals(-1, receiver.receive(new byte[16], 50), "nothing more: timeout");
        }
    }

    @Test
    void anAbstractNameIsWrittenWithALeadingAt() throws Exception
    {
        final String name = "@passgate-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        try (UnixDatagramSocket receiver = UnixDatagramSocket.open(); UnixDatagramSocket sender = UnixDatagramSocket.open())
        {
            receiver.bind(name);
            sender.send(name, "STOPPING=1".getBytes(StandardCharsets.UTF_8));
            assertEquals("STOPPING=1", receive(receiver));
        }
    }

    @Test
    void sockaddrUnLayout()
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[Structs.SOCKADDR_UN_SIZE]);
        assertEquals(2 + 4 + 1, UnixDatagramSocket.putAddress(b, 0, "/a/b"), "family, path, its NUL");
        assertEquals(Linux.AF_UNIX, b.getShort(0, java.nio.ByteOrder.nativeOrder()));
        assertEquals('/', b.getByte(2));
        assertEquals(0, b.getByte(6));
        assertEquals(2 + 1 + 3, UnixDatagramSocket.putAddress(b, 0, "@abc"), "family, NUL, name; no NUL after it");
        assertEquals(0, b.getByte(2));
        assertEquals('a', b.getByte(3));
        assertEquals('c', b.getByte(5));
        assertThrows(IllegalArgumentException.class, () -> UnixDatagramSocket.putAddress(b, 0, "@"));
        assertThrows(IllegalArgumentException.class, () -> UnixDatagramSocket.putAddress(b, 0, "/" + "x".repeat(107)));
        assertEquals(2 + 108, UnixDatagramSocket.putAddress(b, 0, "/" + "x".repeat(106)), "the longest path fits");
    }

    @Test
    void aMissingReceiverIsATypedError(@TempDir final Path dir) throws Exception
    {
        try (UnixDatagramSocket sender = UnixDatagramSocket.open())
        {
            final ErrnoException e = assertThrows(ErrnoException.class,
                () -> sender.send(dir.resolve("nobody").toString(), new byte[] {1}));
            assertEquals(Linux.ENOENT, e.errno(), e.getMessage());
            assertTrue(e.getMessage().contains("sendmsg(AF_UNIX "), e.getMessage());
        }
    }
}

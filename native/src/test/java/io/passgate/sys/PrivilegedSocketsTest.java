package io.passgate.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteOrder;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.passgate.testing.RequiresRoot;
import org.junit.jupiter.api.Test;

@RequiresRoot
class PrivilegedSocketsTest
{
    private static void run(final String... command) throws IOException, InterruptedException
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0)
        {
            throw new IOException(String.join(" ", command) + ": " + out);
        }
    }

    /** setns on one thread, raw IP_HDRINCL send and AF_PACKET receive inside a namespace this test built. */
    @Test
    void rawSocketInjectsAPacketThatAPacketSocketSees() throws Exception
    {
        final String ns = "pgsys" + ProcessHandle.current().pid();
        run("ip", "netns", "add", ns);
        try
        {
            run("ip", "-n", ns, "link", "set", "lo", "up");
            final CompletableFuture<Integer> seen = CompletableFuture.supplyAsync(() ->
            {
                try
                {
                    Netns.enter(ns);
                    try (PacketSocket packets = PacketSocket.open("lo");
                        RawIpSocket raw = RawIpSocket.open();
                        NativeBuffer buf = NativeBuffer.allocate(4096))
                    {
                        assertEquals(1, packets.ifIndex());
                        final var b = buf.buffer();
                        // IPv4 + UDP 127.0.0.1:40000 -> 127.0.0.1:9, payload "passgate"
                        final int total = 20 + 8 + 8;
                        b.putByte(0, (byte)0x45);
                        b.putShort(2, (short)total, ByteOrder.BIG_ENDIAN);
                        b.putByte(8, (byte)64);
                        b.putByte(9, (byte)Linux.IPPROTO_UDP);
                        b.putInt(12, 0x7F000001, ByteOrder.BIG_ENDIAN);
                        b.putInt(16, 0x7F000001, ByteOrder.BIG_ENDIAN);
                        b.putShort(20, (short)40000, ByteOrder.BIG_ENDIAN);
                        b.putShort(22, (short)9, ByteOrder.BIG_ENDIAN);
                        b.putShort(24, (short)16, ByteOrder.BIG_ENDIAN);
                        b.putBytes(28, "passgate".getBytes());
                        assertEquals(total, raw.send(buf.address(), total, 0x7F000001));
                        for (int i = 0; i < 100; i++)
                        {
                            final long n = packets.receive(buf.address() + 1024, 2048, 0);
                            // loopback frames carry a 14-byte zero Ethernet header
                            if (n >= 14 + total && b.getShort(1024 + 14 + 20, ByteOrder.BIG_ENDIAN) == (short)40000)
                            {
                                return (int)n;
                            }
                        }
                        return -1;
                    }
                }
                catch (final ErrnoException e)
                {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(seen.get(10, TimeUnit.SECONDS) >= 14 + 36);
        }
        finally
        {
            run("ip", "netns", "del", ns);
        }
    }
}

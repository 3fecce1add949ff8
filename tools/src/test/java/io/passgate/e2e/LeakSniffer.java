package io.passgate.e2e;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.PacketSocket;
import io.passgate.tools.lab.Lab;
import io.passgate.wire.Ipv4Header;

/** Watches a server's interface for IPv4 packets whose source is a LAN address: a leak through the NAT. */
final class LeakSniffer implements AutoCloseable
{
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicLong leaks = new AtomicLong();
    private final AtomicLong seen = new AtomicLong();
    private final CompletableFuture<Void> done;
    private final CompletableFuture<Boolean> ready = new CompletableFuture<>();

    LeakSniffer(final String serverNs)
    {
        final int lanNet = Ipv4Header.parse(Lab.LAN_NET + ".0");
        done = Lab.inNamespaceAsync(serverNs, () ->
        {
            try (PacketSocket s = PacketSocket.open("eth0"); NativeBuffer buf = NativeBuffer.allocate(65536))
            {
                final Ipv4Header ip = new Ipv4Header();
                ready.complete(true);
                while (running.get())
                {
                    final long n = s.receive(buf.address(), 65536, Linux.MSG_DONTWAIT);
                    if (n <= 0)
                    {
                        Thread.sleep(2);
                        continue;
                    }
                    if (n > 14 && buf.buffer().getShort(12, java.nio.ByteOrder.BIG_ENDIAN) == 0x0800
                        && ip.wrap(buf.buffer(), 14, (int)n - 14))
                    {
                        seen.incrementAndGet();
                        if ((ip.source() & 0xFFFFFF00) == lanNet)
                        {
                            leaks.incrementAndGet();
                        }
                    }
                }
            }
            return null;
        });
        ready.join();
    }

    long leaks()
    {
        return leaks.get();
    }

    long seen()
    {
        return seen.get();
    }

    @Override
    public void close()
    {
        running.set(false);
        done.join();
    }
}

package io.passgate.tools.bench;

import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

import io.passgate.alg.IpsecHelper;
import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Protocols;
import io.passgate.wire.Ipv4Header;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * ns per inbound plain ESP packet found by its SPI (server, SPI) and translated to its client, with 1 000 or
 * 100 000 live security associations (1 000 clients, up to 100 SAs each, to 10 servers); the packets cycle
 * through 1 024 SAs so the lookup is not one cached slot. {@code tools/bin/jmh IpsecBenchmark -prof gc}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Xmx3g", "-XX:+UseSerialGC"})
public class IpsecBenchmark
{
    private static final int WAN = Ipv4Header.parse("203.0.113.1");
    private static final int SERVER = Ipv4Header.parse("198.51.100.10");
    private static final int OFFSET = 32;
    private static final int LENGTH = 20 + 8 + 1200;
    private static final int CYCLE = 1024;

    @Param({"1000", "100000"})
    public int sas;

    private NatEngine engine;
    private final UnsafeBuffer packet = new UnsafeBuffer(new byte[OFFSET + LENGTH]);
    private byte[] template;
    private final int[] spis = new int[CYCLE];
    private final int[] servers = new int[CYCLE];
    private int next;
    private final long now = 1_000_000;

    private void esp(final int src, final int dst, final int spi)
    {
        Ipv4Header.write(packet, OFFSET, LENGTH, 1, 64, Protocols.ESP, src, dst);
        packet.putInt(OFFSET + 20, spi, ByteOrder.BIG_ENDIAN);
        packet.putInt(OFFSET + 24, 1, ByteOrder.BIG_ENDIAN);
    }

    @Setup(Level.Trial)
    public void setUp()
    {
        final int capacity = Integer.highestOneBit(Math.max(4096, sas * 2) * 2 - 1);
        engine = new NatEngine(NatConfig.defaults(WAN, Ipv4Header.parse("10.0.0.1"), 2, capacity), new CounterSet(),
            (b, o, l, d) -> { }, 0, now);
        engine.register(new IpsecHelper(20_000));
        // each SA comes up as in life: the client's first ESP, then the server's binds it to the waiting client
        for (int i = 0; i < sas; i++)
        {
            final int client = Ipv4Header.parse("10.0.0.0") + 2 + i % 1000;
            final int server = SERVER + (i / 1000) % 10;
            esp(client, server, 0x1000_0000 + i);
            if (engine.outbound(packet, OFFSET, LENGTH, false, false, now) != 1)
            {
                throw new IllegalStateException("SA " + i + " refused outbound");
            }
            esp(server, WAN, 0x2000_0000 + i);
            if (engine.inbound(packet, OFFSET, LENGTH, false, false, now) != 1)
            {
                throw new IllegalStateException("SA " + i + " not bound");
            }
            if ((sas < CYCLE || i % (sas / CYCLE) == 0) && next < CYCLE)
            {
                spis[next] = 0x2000_0000 + i;
                servers[next++] = server;
            }
        }
        for (int i = next; i < CYCLE; i++)
        {
            spis[i] = spis[i % Math.max(1, next)];
            servers[i] = servers[i % Math.max(1, next)];
        }
        esp(SERVER, WAN, spis[0]);
        template = packet.byteArray().clone();
        next = 0;
    }

    @Benchmark
    public int espInbound()
    {
        final int i = next++ & (CYCLE - 1);
        packet.putBytes(0, template, 0, OFFSET + 28);
        packet.putInt(OFFSET + 12, servers[i], ByteOrder.BIG_ENDIAN);
        packet.putInt(OFFSET + 20, spis[i], ByteOrder.BIG_ENDIAN);
        return engine.inbound(packet, OFFSET, LENGTH, false, false, now);
    }
}

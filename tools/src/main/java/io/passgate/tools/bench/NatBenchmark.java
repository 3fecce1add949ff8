package io.passgate.tools.bench;

import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Protocols;
import io.passgate.wire.Checksum;
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
 * ns per translated packet (outbound, the common direction) for TCP, UDP and ICMP, with 1 000 or 1 000 000
 * live sessions in the table: the lookup cost's growth is the ratio of the two. Run with
 * {@code tools/bin/jmh NatBenchmark -prof gc} to see the allocation rate (expected ~0 B/op).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Xmx3g", "-XX:+UseSerialGC"})
public class NatBenchmark
{
    private static final int WAN = Ipv4Header.parse("203.0.113.1");
    private static final int SERVER = Ipv4Header.parse("198.51.100.10");
    private static final int OFFSET = 32;

    @Param({"1000", "1000000"})
    public int liveFlows;

    private NatEngine engine;
    private final UnsafeBuffer tcp = new UnsafeBuffer(new byte[OFFSET + 1500]);
    private final UnsafeBuffer udp = new UnsafeBuffer(new byte[OFFSET + 1500]);
    private final UnsafeBuffer icmp = new UnsafeBuffer(new byte[OFFSET + 100]);
    private byte[] tcpOriginal;
    private byte[] udpOriginal;
    private byte[] icmpOriginal;
    private long now = 1_000_000;

    @Setup(Level.Trial)
    public void setUp()
    {
        final int capacity = Math.max(4096, Integer.highestOneBit(liveFlows * 2 - 1) << 1);
        engine = new NatEngine(NatConfig.defaults(WAN, Ipv4Header.parse("10.0.0.1"), 2, capacity), new CounterSet(),
            (b, o, l, d) -> { }, 0, now);
        // as passgate runs by default: live flows posted (the benchmark's flows are one-way, so never posted: the
        // per-packet cost is the check)
        engine.liveFlows((add, protocol, client, clientPort, server, serverPort, external) -> true);
        // live sessions: at most 50 000 UDP mappings (one WAN address has ~64 000 ports), each with sessions
        // to up to 20 servers (endpoint-independent mapping: one mapping, many remote endpoints)
        final UnsafeBuffer p = new UnsafeBuffer(new byte[OFFSET + 100]);
        final int mappings = Math.min(liveFlows, 50_000);
        for (int i = 0; i < liveFlows - 3; i++)
        {
            final int mapping = i % mappings;
            final int client = Ipv4Header.parse("10.0.0.0") + 2 + mapping / 20;
            udp(p, client, 20000 + mapping % 20, SERVER + i / mappings, 53, 8);
            if (engine.outbound(p, OFFSET, 36, false, false, now) != 1)
            {
                throw new IllegalStateException("setup session " + i + " refused");
            }
        }
        tcpOriginal = tcp(Ipv4Header.parse("10.200.0.1"), 33000, SERVER, 443, 1200);
        udpOriginal = udp(udp, Ipv4Header.parse("10.200.0.2"), 5000, SERVER, 53, 512);
        icmpOriginal = icmp(Ipv4Header.parse("10.200.0.3"), SERVER);
    }

    private byte[] tcp(final int src, final int sport, final int dst, final int dport, final int payload)
    {
        final int l4 = 20 + payload;
        Ipv4Header.write(tcp, OFFSET, 20 + l4, 1, 64, Protocols.TCP, src, dst);
        final int t = OFFSET + 20;
        tcp.putShort(t, (short)sport, ByteOrder.BIG_ENDIAN);
        tcp.putShort(t + 2, (short)dport, ByteOrder.BIG_ENDIAN);
        tcp.putByte(t + 12, (byte)0x50);
        tcp.putByte(t + 13, (byte)0x10);
        tcp.putShort(t + 16, (short)Checksum.compute(tcp, t, l4, Checksum.pseudoHeader(src, dst, 6, l4)), ByteOrder.BIG_ENDIAN);
        return tcp.byteArray().clone();
    }

    private static byte[] udp(final UnsafeBuffer b, final int src, final int sport, final int dst, final int dport,
        final int payload)
    {
        final int l4 = 8 + payload;
        Ipv4Header.write(b, OFFSET, 20 + l4, 1, 64, Protocols.UDP, src, dst);
        final int u = OFFSET + 20;
        b.putShort(u, (short)sport, ByteOrder.BIG_ENDIAN);
        b.putShort(u + 2, (short)dport, ByteOrder.BIG_ENDIAN);
        b.putShort(u + 4, (short)l4, ByteOrder.BIG_ENDIAN);
        b.putShort(u + 6, (short)Checksum.compute(b, u, l4, Checksum.pseudoHeader(src, dst, 17, l4)), ByteOrder.BIG_ENDIAN);
        return b.byteArray().clone();
    }

    private byte[] icmp(final int src, final int dst)
    {
        Ipv4Header.write(icmp, OFFSET, 20 + 16, 1, 64, Protocols.ICMP, src, dst);
        icmp.putByte(OFFSET + 20, (byte)8);
        icmp.putShort(OFFSET + 24, (short)77, ByteOrder.BIG_ENDIAN);
        icmp.putShort(OFFSET + 22, (short)Checksum.compute(icmp, OFFSET + 20, 16, 0), ByteOrder.BIG_ENDIAN);
        return icmp.byteArray().clone();
    }

    @Benchmark
    public int tcpOutbound()
    {
        tcp.putBytes(0, tcpOriginal, 0, OFFSET + 40);   // headers only: the payload is not touched
        return engine.outbound(tcp, OFFSET, 1240, false, false, now);
    }

    @Benchmark
    public int udpOutbound()
    {
        udp.putBytes(0, udpOriginal, 0, OFFSET + 28);
        return engine.outbound(udp, OFFSET, 540, false, false, now);
    }

    @Benchmark
    public int icmpOutbound()
    {
        icmp.putBytes(0, icmpOriginal, 0, OFFSET + 36);
        return engine.outbound(icmp, OFFSET, 36, false, false, now);
    }
}

package io.passgate.nat;

import static io.passgate.nat.NatHarness.A;
import static io.passgate.nat.NatHarness.S1;
import static io.passgate.nat.NatHarness.WAN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;
import java.util.function.LongUnaryOperator;

import io.passgate.config.PassgateContext;
import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nfq.PacketHandler;
import io.passgate.wire.Ipv4Header;
import io.passgate.testing.Allocations;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.TcpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * The translation path allocates nothing: a million packets each of TCP, UDP and ICMP, both ways, after
 * warm-up, and the thread's allocated-bytes counter (ThreadMXBean) does not move. And every other packet
 * path, each over 100 000 rounds after warm-up: new sessions (UDP, TCP, ICMP echo), a TCP session's whole
 * life (SYN, SYN-ACK, ACK, FIN both ways, or RST), ICMP errors both ways, hairpinning, fragments both ways,
 * refusals (table full with ICMP 3/13 sent, unsolicited packets, unsolicited SYNs held), eviction.
 */
class NatAllocationTest
{
    private static final int PACKETS = 1_000_000;

    private static long allocated()
    {
        return Allocations.currentThread();
    }

    @Test
    void millionsOfTranslatedPacketsAllocateNothing()
    {
        final NatHarness nat = new NatHarness(NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, 65536));
        final NatEngine engine = nat.engine;
        // live flows posted to a real ring (never drained here: it fills, and the full-ring path is measured too)
        engine.liveFlows(new io.passgate.nft.LiveFlowSet.Ring());
        // offload whose ring is always full: every packet of a settled flow tries to offer it (the costliest way)
        engine.offload(new Offload()
        {
            @Override
            public boolean offer(final int flow, final int protocol, final int clientAddress, final int clientPort,
                final int serverAddress, final int serverPort, final int externalPort)
            {
                return false;
            }

            @Override
            public boolean withdraw(final int flow, final int protocol, final int clientAddress, final int clientPort,
                final int serverAddress, final int serverPort, final int externalPort)
            {
                return false;
            }

            @Override
            public int poll(final Reports reports, final int limit)
            {
                return 0;
            }
        }, 2);
        final UnsafeBuffer tcp = Packets.tcp(A, 33000, S1, 443, TcpHeader.ACK, 0, 1200);
        final UnsafeBuffer udp = Packets.udp(A, 5000, S1, 53, 512);
        final UnsafeBuffer ping = Packets.icmpQuery(A, S1, IcmpHeader.ECHO_REQUEST, 99, 1);
        final byte[] tcpOrig = tcp.byteArray().clone();
        final byte[] udpOrig = udp.byteArray().clone();
        final byte[] pingOrig = ping.byteArray().clone();
        final UnsafeBuffer tcpIn = new UnsafeBuffer(new byte[tcp.capacity()]);
        final UnsafeBuffer udpIn = new UnsafeBuffer(new byte[udp.capacity()]);
        final UnsafeBuffer pingIn = new UnsafeBuffer(new byte[ping.capacity()]);

        // warm-up: JIT, first sessions, and background sessions expiring on the way (the timer paths)
        background(engine, nat.now, 1);
        run(engine, tcp, tcpOrig, udp, udpOrig, ping, pingOrig, 400_000, nat.now);
        nat.now += 400_000;
        buildReplies(engine, tcpIn, udpIn, pingIn);
        final byte[] t = tcpIn.byteArray().clone();
        final byte[] u = udpIn.byteArray().clone();
        final byte[] p = pingIn.byteArray().clone();
        runInbound(engine, tcpIn, t, udpIn, u, pingIn, p, 200_000, nat.now);   // warm the inbound path too
        // Measured windows of 3 million packets each way. A per-packet allocation shows in every window (3 MB and
        // more); the JIT can still deoptimize a frame inside one (a late recompilation: it rematerializes the
        // objects C2 had scalar-replaced, some hundred bytes once, 1 run in 4 here). So up to three windows, and
        // one of them must allocate nothing.
        final StringBuilder windows = new StringBuilder();
        long outBytes = -1;
        long inBytes = -1;
        long now = nat.now;
        for (int w = 0; w < 3 && (outBytes != 0 || inBytes != 0); w++)
        {
            // background sessions that expire during the measured run: lookups walk a populated table and the
            // expiry path runs while measured
            final long expiredBefore = nat.count(Counter.NAT_FLOWS_EXPIRED);
            background(engine, now, 2 + w);
            final long before = allocated();
            final long out = run(engine, tcp, tcpOrig, udp, udpOrig, ping, pingOrig, PACKETS, now);
            final long mid = allocated();
            final long in = runInbound(engine, tcpIn, t, udpIn, u, pingIn, p, PACKETS, now + PACKETS);
            final long after = allocated();
            assertEquals(3L * PACKETS, out, "every outbound packet translated");
            assertEquals(3L * PACKETS, in, "every inbound packet translated");
            assertTrue(nat.count(Counter.NAT_FLOWS_EXPIRED) - expiredBefore >= 20_000, "background sessions expired meanwhile");
            outBytes = outBytes == 0 ? 0 : mid - before;
            inBytes = inBytes == 0 ? 0 : after - mid;
            windows.append(" window ").append(w + 1).append(": ").append(mid - before).append(" B out, ")
                .append(after - mid).append(" B in;");
            now += PACKETS + 1;   // the next window right after: the sessions stay fresh
        }
        assertEquals(0, outBytes, "bytes allocated over 3000000 outbound translated packets (" + windows + ")");
        assertEquals(0, inBytes, "bytes allocated over 3000000 inbound translated packets (" + windows + ")");
    }

    private static void background(final NatEngine engine, final long now, final int net)
    {
        for (int i = 0; i < 20_000; i++)
        {
            final UnsafeBuffer p = Packets.udp(Packets.ip("10." + net + "." + (i >> 8) + "." + (i & 0xFF)), 7000, S1, 53, 4);
            engine.outbound(p, Packets.OFFSET, Packets.length(p), false, false, now);
        }
    }

    private static long run(final NatEngine engine, final UnsafeBuffer tcp, final byte[] tcpOrig, final UnsafeBuffer udp,
        final byte[] udpOrig, final UnsafeBuffer ping, final byte[] pingOrig, final int n, final long now)
    {
        long ok = 0;
        for (int i = 0; i < n; i++)
        {
            tcp.putBytes(0, tcpOrig);
            udp.putBytes(0, udpOrig);
            ping.putBytes(0, pingOrig);
            ok += engine.outbound(tcp, Packets.OFFSET, Packets.length(tcp), false, false, now + i)
                == PacketHandler.VERDICT_ACCEPT_MODIFIED ? 1 : 0;
            ok += engine.outbound(udp, Packets.OFFSET, Packets.length(udp), false, false, now + i)
                == PacketHandler.VERDICT_ACCEPT_MODIFIED ? 1 : 0;
            ok += engine.outbound(ping, Packets.OFFSET, Packets.length(ping), false, false, now + i)
                == PacketHandler.VERDICT_ACCEPT_MODIFIED ? 1 : 0;
            if ((i & 0x3F) == 0)
            {
                engine.tick(now + i);
            }
        }
        return ok;
    }

    private static void buildReplies(final NatEngine engine, final UnsafeBuffer tcpIn, final UnsafeBuffer udpIn,
        final UnsafeBuffer pingIn)
    {
        final FlowTable flows = engine.flows();
        final int tcpExt = flows.extPort(flows.findOutbound(Protocols.TCP, A, 33000, S1, 443));
        final int udpExt = flows.extPort(flows.findOutbound(Protocols.UDP, A, 5000, S1, 53));
        final int pingExt = flows.extPort(flows.findOutbound(Protocols.ICMP, A, 99, S1, 0));
        tcpIn.putBytes(0, Packets.tcp(S1, 443, WAN, tcpExt, TcpHeader.ACK, 0, 1200), 0, tcpIn.capacity());
        udpIn.putBytes(0, Packets.udp(S1, 53, WAN, udpExt, 512), 0, udpIn.capacity());
        pingIn.putBytes(0, Packets.icmpQuery(S1, WAN, IcmpHeader.ECHO_REPLY, pingExt, 1), 0, pingIn.capacity());
    }

    private static long runInbound(final NatEngine engine, final UnsafeBuffer tcpIn, final byte[] t,
        final UnsafeBuffer udpIn, final byte[] u, final UnsafeBuffer pingIn, final byte[] p, final int n, final long now)
    {
        long ok = 0;
        for (int i = 0; i < n; i++)
        {
            tcpIn.putBytes(0, t);
            udpIn.putBytes(0, u);
            pingIn.putBytes(0, p);
            ok += engine.inbound(tcpIn, Packets.OFFSET, Packets.length(tcpIn), false, false, now)
                == PacketHandler.VERDICT_ACCEPT_MODIFIED ? 1 : 0;
            ok += engine.inbound(udpIn, Packets.OFFSET, Packets.length(udpIn), false, false, now)
                == PacketHandler.VERDICT_ACCEPT_MODIFIED ? 1 : 0;
            ok += engine.inbound(pingIn, Packets.OFFSET, Packets.length(pingIn), false, false, now)
                == PacketHandler.VERDICT_ACCEPT_MODIFIED ? 1 : 0;
        }
        return ok;
    }

    // ---------------------------------------------------------------------------------------- every path

    private static final int ROUNDS = 100_000;
    private static final int B = Packets.ip("10.0.0.12");

    /**
     * Runs {@code step} (given a running index) {@code 3 x ROUNDS} times to warm up, then measures rounds of
     * {@link #ROUNDS} until one allocates nothing (at most 4: a late JIT deoptimization may allocate once on a
     * loaded machine; a path that allocates per packet allocates in every round). Returns "" once a round was
     * clean, else the bytes of each measured round.
     */
    private static String allocatedBytes(final LongUnaryOperator step, final long[] index)
    {
        for (int i = 0; i < 3 * ROUNDS; i++)
        {
            step.applyAsLong(index[0]++);
        }
        final StringBuilder rounds = new StringBuilder();
        for (int round = 0; round < 4; round++)
        {
            final long before = Allocations.currentThread();
            for (int i = 0; i < ROUNDS; i++)
            {
                step.applyAsLong(index[0]++);
            }
            final long bytes = Allocations.currentThread() - before;
            if (bytes == 0)
            {
                return "";
            }
            rounds.append(bytes).append(' ');
        }
        return rounds.toString();
    }

    /** Restores a packet and sets 16-bit fields (offsets from the IP header), then fixes the checksums. */
    private static final class Template
    {
        final UnsafeBuffer buffer;
        final byte[] bytes;
        final int length;
        private final Ipv4Header ip = new Ipv4Header();

        Template(final UnsafeBuffer packet)
        {
            buffer = packet;
            bytes = packet.byteArray().clone();
            length = Packets.length(packet);
        }

        UnsafeBuffer with(final int at, final int value)
        {
            buffer.putBytes(0, bytes);
            return set(at, value);
        }

        UnsafeBuffer with(final int at, final int value, final int at2, final int value2)
        {
            with(at, value);
            return set(at2, value2);
        }

        private UnsafeBuffer set(final int at, final int value)
        {
            if (at >= 0)
            {
                buffer.putShort(Packets.OFFSET + at, (short)value, ByteOrder.BIG_ENDIAN);
                ip.wrap(buffer, Packets.OFFSET, length);
                ip.checksum(ip.computeChecksum());
                if (!ip.isFragment())
                {
                    if (ip.protocol() == Protocols.ICMP)
                    {
                        buffer.putShort(ip.payloadOffset() + 2, (short)0, ByteOrder.BIG_ENDIAN);
                        buffer.putShort(ip.payloadOffset() + 2,
                            (short)io.passgate.wire.Checksum.compute(buffer, ip.payloadOffset(), ip.payloadLength(), 0),
                            ByteOrder.BIG_ENDIAN);
                    }
                    else
                    {
                        io.passgate.wire.Checksum.completeTransport(ip);
                    }
                }
            }
            return buffer;
        }

        int out(final NatEngine engine, final long now)
        {
            return engine.outbound(buffer, Packets.OFFSET, length, false, false, now);
        }

        int in(final NatEngine engine, final long now)
        {
            return engine.inbound(buffer, Packets.OFFSET, length, false, false, now);
        }
    }

    private static final int SPORT = 20;
    private static final int DPORT = 22;
    private static final int IP_ID = 4;
    private static final int ICMP_ID = 24;

    private static NatEngine engine(final CounterSet counters, final int capacity, final PassgateContext.Filtering f)
    {
        return new NatEngine(NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, 2, capacity).with(f), counters,
            (b, o, l, d) -> { }, 1000, 1_000_000);
    }

    private static void expect(final int expected, final int verdict, final String what)
    {
        if (verdict != expected)
        {
            throw new AssertionError(what + ": verdict " + verdict + ", expected " + expected);
        }
    }

    /** A port from 1024 up, cycling through 60 000: long expired when it comes round again. */
    private static int port(final long i)
    {
        return 1024 + (int)(i % 60_000);
    }

    @Test
    void newSessionsAllocateNothing()
    {
        final CounterSet counters = new CounterSet();
        final NatEngine engine = engine(counters, 65536, PassgateContext.Filtering.ADDRESS_DEPENDENT);
        final Template udp = new Template(Packets.udp(A, 5000, S1, 53, 64));
        final Template syn = new Template(Packets.tcp(A, 5000, S1, 443, TcpHeader.SYN, 9000, 0));
        final Template ping = new Template(Packets.icmpQuery(A, S1, IcmpHeader.ECHO_REQUEST, 1, 1));
        final long[] index = {0};
        final long created = counters.get(Counter.NAT_FLOWS_CREATED);
        // three new sessions a round, 10 ms apart: the UDP and ICMP ones expire after 300 s and 60 s, the SYNs
        // (never answered) after the transitory 240 s: at most ~60 000 live in a table of 65 536
        final String bytes = allocatedBytes(i ->
        {
            final long now = 1_000_000 + i * 10;
            udp.with(SPORT, port(i));
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, udp.out(engine, now), "new UDP");
            syn.with(SPORT, port(i));
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, syn.out(engine, now), "new TCP");
            ping.with(ICMP_ID, port(i));
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, ping.out(engine, now), "new ICMP");
            if ((i & 15) == 0)
            {
                engine.tick(now);
            }
            return 0;
        }, index);
        assertEquals(3 * index[0], counters.get(Counter.NAT_FLOWS_CREATED) - created, "every packet a new session");
        assertTrue(counters.get(Counter.NAT_MSS_CLAMPED) >= index[0], "the SYNs' MSS clamped");
        assertTrue(counters.get(Counter.NAT_FLOWS_EXPIRED) > 100_000, "sessions expired meanwhile");
        assertEquals("", bytes, "bytes allocated per round of " + ROUNDS + " x 3 new sessions");
    }

    @Test
    void tcpSessionsFromSynToFinOrRstAllocateNothing()
    {
        final CounterSet counters = new CounterSet();
        final NatEngine engine = engine(counters, 65536, PassgateContext.Filtering.ADDRESS_DEPENDENT);
        final Template syn = new Template(Packets.tcp(A, 5000, S1, 443, TcpHeader.SYN, 1460, 0));
        final Template synAck = new Template(Packets.tcp(S1, 443, WAN, 5000, TcpHeader.SYN | TcpHeader.ACK, 1460, 0));
        final Template ack = new Template(Packets.tcp(A, 5000, S1, 443, TcpHeader.ACK, 0, 100));
        final Template fin = new Template(Packets.tcp(A, 5000, S1, 443, TcpHeader.FIN | TcpHeader.ACK, 0, 0));
        final Template finIn = new Template(Packets.tcp(S1, 443, WAN, 5000, TcpHeader.FIN | TcpHeader.ACK, 0, 0));
        final Template rst = new Template(Packets.tcp(S1, 443, WAN, 5000, TcpHeader.RST, 0, 0));
        final long[] index = {0};
        final long resets = counters.get(Counter.NAT_TCP_RESETS);
        final String bytes = allocatedBytes(i ->
        {
            final long now = 1_000_000 + i * 10;
            final int p = port(i);
            syn.with(SPORT, p);
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, syn.out(engine, now), "SYN");
            final int ext = Packets.sourcePort(syn.buffer);
            synAck.with(DPORT, ext);
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, synAck.in(engine, now), "SYN-ACK");
            ack.with(SPORT, p);
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, ack.out(engine, now), "ACK");
            if ((i & 1) == 0)
            {
                fin.with(SPORT, p);
                expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, fin.out(engine, now), "FIN out");
                finIn.with(DPORT, ext);
                expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, finIn.in(engine, now), "FIN in");
                ack.with(SPORT, p);
                expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, ack.out(engine, now), "last ACK");
            }
            else
            {
                rst.with(DPORT, ext);
                expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, rst.in(engine, now), "RST");
            }
            if ((i & 15) == 0)
            {
                engine.tick(now);
            }
            return 0;
        }, index);
        assertEquals(index[0] / 2, counters.get(Counter.NAT_TCP_RESETS) - resets, "every other session reset");
        assertEquals("", bytes, "bytes allocated per round of " + ROUNDS + " TCP sessions");
    }

    @Test
    void icmpErrorsBothWaysAllocateNothing()
    {
        final CounterSet counters = new CounterSet();
        final NatEngine engine = engine(counters, 1024, PassgateContext.Filtering.ADDRESS_DEPENDENT);
        final UnsafeBuffer udp = Packets.udp(A, 5000, S1, 53, 32);
        engine.outbound(udp, Packets.OFFSET, Packets.length(udp), false, false, 1_000_000);
        final int udpExt = Packets.sourcePort(udp);
        final UnsafeBuffer syn = Packets.tcp(A, 33000, S1, 443, TcpHeader.SYN, 0, 0);
        engine.outbound(syn, Packets.OFFSET, Packets.length(syn), false, false, 1_000_000);
        final int tcpExt = Packets.sourcePort(syn);
        // the server's port unreachable about the translated datagram, a TTL exceeded about the SYN, and the
        // client's port unreachable about a reply
        final Template unreachable = new Template(Packets.icmpError(S1, WAN, 3, 3, Packets.udp(WAN, udpExt, S1, 53, 8), 36));
        final Template ttl = new Template(Packets.icmpError(S1, WAN, 11, 0,
            Packets.tcp(WAN, tcpExt, S1, 443, TcpHeader.SYN, 0, 0), 40));
        final Template clientError = new Template(Packets.icmpError(A, S1, 3, 3, Packets.udp(S1, 53, A, 5000, 8), 36));
        final long[] index = {0};
        final long translated = counters.get(Counter.NAT_ICMP_ERRORS_TRANSLATED);
        final String bytes = allocatedBytes(i ->
        {
            final long now = 1_000_000 + i;
            unreachable.with(-1, 0);
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, unreachable.in(engine, now), "ICMP error in (UDP)");
            ttl.with(-1, 0);
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, ttl.in(engine, now), "ICMP error in (TCP)");
            clientError.with(-1, 0);
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, clientError.out(engine, now), "ICMP error out");
            return 0;
        }, index);
        assertEquals(3 * index[0], counters.get(Counter.NAT_ICMP_ERRORS_TRANSLATED) - translated);
        assertEquals("", bytes, "bytes allocated per round of " + ROUNDS + " x 3 ICMP errors");
    }

    @Test
    void hairpinAllocatesNothing()
    {
        final CounterSet counters = new CounterSet();
        final NatEngine engine = engine(counters, 1024, PassgateContext.Filtering.ENDPOINT_INDEPENDENT);
        final UnsafeBuffer open = Packets.udp(B, 6000, S1, 53, 8);
        engine.outbound(open, Packets.OFFSET, Packets.length(open), false, false, 1_000_000);
        final int bExt = Packets.sourcePort(open);
        final Template toB = new Template(Packets.udp(A, 5000, WAN, bExt, 200));
        final long[] index = {0};
        final long hairpins = counters.get(Counter.NAT_HAIRPIN_PACKETS);
        final String bytes = allocatedBytes(i ->
        {
            final long now = 1_000_000 + i;
            toB.with(-1, 0);
            expect(NatEngine.VERDICT_HAIRPIN,
                engine.inbound(toB.buffer, Packets.OFFSET, toB.length, false, true, now), "hairpin turned to B");
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED,
                engine.outbound(toB.buffer, Packets.OFFSET, toB.length, false, true, now), "hairpin from the WAN address");
            return 0;
        }, index);
        assertEquals(2 * index[0], counters.get(Counter.NAT_HAIRPIN_PACKETS) - hairpins);
        assertEquals("", bytes, "bytes allocated per round of " + ROUNDS + " hairpinned packets");
    }

    @Test
    void fragmentsBothWaysAllocateNothing()
    {
        final CounterSet counters = new CounterSet();
        final NatEngine engine = engine(counters, 1024, PassgateContext.Filtering.ADDRESS_DEPENDENT);
        final UnsafeBuffer first = Packets.udp(A, 5001, S1, 53, 64);
        first.putShort(Packets.OFFSET + 6, (short)0x2000, ByteOrder.BIG_ENDIAN);   // more fragments
        final Template firstOut = new Template(first);
        final UnsafeBuffer later = Packets.other(A, S1, Protocols.UDP, 40);
        later.putShort(Packets.OFFSET + 6, (short)0x0009, ByteOrder.BIG_ENDIAN);   // offset 72, last
        final Template laterOut = new Template(later);
        firstOut.with(IP_ID, 1);
        engine.outbound(firstOut.buffer, Packets.OFFSET, firstOut.length, false, false, 1_000_000);
        final int ext = Packets.sourcePort(firstOut.buffer);
        final UnsafeBuffer reply = Packets.udp(S1, 53, WAN, ext, 64);
        reply.putShort(Packets.OFFSET + 6, (short)0x2000, ByteOrder.BIG_ENDIAN);
        final Template firstIn = new Template(reply);
        final UnsafeBuffer replyLater = Packets.other(S1, WAN, Protocols.UDP, 40);
        replyLater.putShort(Packets.OFFSET + 6, (short)0x0009, ByteOrder.BIG_ENDIAN);
        final Template laterIn = new Template(replyLater);
        final long[] index = {0};
        final long fragments = counters.get(Counter.NAT_FRAGMENTS);
        final String bytes = allocatedBytes(i ->
        {
            final long now = 1_000_000 + i;
            final int id = (int)(i & 0xFFFF);
            firstOut.with(IP_ID, id);
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, firstOut.out(engine, now), "first fragment out");
            laterOut.with(IP_ID, id);
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, laterOut.out(engine, now), "later fragment out");
            firstIn.with(IP_ID, id);
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, firstIn.in(engine, now), "first fragment in");
            laterIn.with(IP_ID, id);
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, laterIn.in(engine, now), "later fragment in");
            return 0;
        }, index);
        assertEquals(2 * index[0], counters.get(Counter.NAT_FRAGMENTS) - fragments, "later fragments both ways");
        assertEquals("", bytes, "bytes allocated per round of " + ROUNDS + " x 4 fragments");
    }

    @Test
    void refusalsAndEvictionAllocateNothing()
    {
        // a table of 64 established TCP sessions: no room, nothing to evict
        final CounterSet counters = new CounterSet();
        final NatEngine full = engine(counters, 64, PassgateContext.Filtering.ADDRESS_DEPENDENT);
        for (int p = 0; p < 64; p++)
        {
            final UnsafeBuffer syn = Packets.tcp(A, 40000 + p, S1, 443, TcpHeader.SYN, 0, 0);
            full.outbound(syn, Packets.OFFSET, Packets.length(syn), false, false, 1_000_000);
            final UnsafeBuffer synAck = Packets.tcp(S1, 443, WAN, Packets.sourcePort(syn), TcpHeader.SYN | TcpHeader.ACK, 0, 0);
            full.inbound(synAck, Packets.OFFSET, Packets.length(synAck), false, false, 1_000_000);
            final UnsafeBuffer ack = Packets.tcp(A, 40000 + p, S1, 443, TcpHeader.ACK, 0, 0);
            full.outbound(ack, Packets.OFFSET, Packets.length(ack), false, false, 1_000_000);
        }
        assertEquals(64, full.flows().size());
        final Template newUdp = new Template(Packets.udp(B, 5000, S1, 53, 16));
        final Template unsolicited = new Template(Packets.udp(NatHarness.S2, 53, WAN, 7000, 16));
        final Template unsolicitedSyn = new Template(Packets.tcp(NatHarness.S2, 5555, WAN, 7000, TcpHeader.SYN, 0, 0));
        final Template keepAlive = new Template(Packets.tcp(A, 40000, S1, 443, TcpHeader.ACK, 0, 0));
        final long[] index = {0};
        final long refused = counters.get(Counter.DROP_TABLE_FULL);
        final long held = counters.get(Counter.NAT_UNSOLICITED_SYNS_HELD);
        final String refusals = allocatedBytes(i ->
        {
            final long now = 1_000_000 + i;
            newUdp.with(SPORT, port(i));
            expect(PacketHandler.VERDICT_DROP, newUdp.out(full, now), "new session, table full");
            unsolicited.with(DPORT, port(i));
            expect(PacketHandler.VERDICT_DROP, unsolicited.in(full, now), "unsolicited datagram");
            unsolicitedSyn.with(SPORT, port(i));
            expect(PacketHandler.VERDICT_DROP, unsolicitedSyn.in(full, now), "unsolicited SYN");
            if ((i & 255) == 0)
            {
                for (int p = 0; p < 64; p++)
                {
                    keepAlive.with(SPORT, 40000 + p);
                    keepAlive.out(full, now);
                }
                full.tick(now);
            }
            return 0;
        }, index);
        assertEquals(index[0], counters.get(Counter.DROP_TABLE_FULL) - refused, "every new session refused");
        assertTrue(counters.get(Counter.ICMP_SENT) > 1000, "ICMP 3/13 and port unreachables sent: " + counters.get(Counter.ICMP_SENT));
        assertTrue(counters.get(Counter.NAT_UNSOLICITED_SYNS_HELD) - held > 1000, "unsolicited SYNs held");
        assertEquals("", refusals, "bytes allocated per round of " + ROUNDS + " x 3 refused packets");

        // a table of 64 transitory sessions (unanswered SYNs): each new one evicts the oldest
        final CounterSet counters2 = new CounterSet();
        final NatEngine evicting = engine(counters2, 64, PassgateContext.Filtering.ADDRESS_DEPENDENT);
        final Template syn = new Template(Packets.tcp(A, 5000, S1, 443, TcpHeader.SYN, 0, 0));
        final long[] index2 = {0};
        final String eviction = allocatedBytes(i ->
        {
            syn.with(SPORT, port(i));
            expect(PacketHandler.VERDICT_ACCEPT_MODIFIED, syn.out(evicting, 1_000_000 + i), "new session by eviction");
            return 0;
        }, index2);
        assertEquals(index2[0] - 64, counters2.get(Counter.NAT_FLOWS_EVICTED), "all but the first 64 evicted one");
        assertEquals("", eviction, "bytes allocated per round of " + ROUNDS + " evictions");
    }
}

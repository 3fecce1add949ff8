package io.passgate.alg;

import static io.passgate.alg.PptpTestSession.first;
import static io.passgate.alg.PptpTestSession.simple;
import static io.passgate.nfq.PacketHandler.VERDICT_ACCEPT_MODIFIED;
import static io.passgate.nfq.PacketHandler.VERDICT_DROP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.EngineImage;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nat.StateStore;
import io.passgate.testing.Allocations;
import io.passgate.wire.IkeHeader;
import io.passgate.wire.PptpControl;
import io.passgate.wire.TcpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restart keeps the tunnels: an engine's image (sessions and the helpers' tables) written by one engine and
 * taken up by a fresh one, which then carries the same flows with the same external ports, Call IDs, SPIs and
 * Tunnel IDs; the state file refuses torn, foreign and stale images; saving allocates nothing.
 */
class RestartStateTest
{
    static final int WAN = Packets.ip("203.0.113.1");
    static final int SERVER = Packets.ip("198.51.100.10");
    static final int C1 = Packets.ip("10.0.0.11");
    static final int C2 = Packets.ip("10.0.0.12");
    static final int C3 = Packets.ip("10.0.0.13");

    @TempDir
    Path dir;

    private long now = 1_000_000;

    private static final class Gateway
    {
        final CounterSet counters = new CounterSet();
        final NatEngine engine;
        final List<byte[]> sent = new ArrayList<>();

        Gateway(final long seed, final long now)
        {
            this(seed, now, 64);
        }

        Gateway(final long seed, final long now, final int pptpCalls)
        {
            final NatConfig base = NatConfig.defaults(WAN, Packets.ip("10.0.0.1"), 2, 4096);
            final NatConfig config = new NatConfig(base.wanAddress(), base.lanAddress(), base.lanIfIndex(),
                base.maxFlows(), base.portMin(), base.portMax(), base.parity(), base.filtering(), base.udpTimeoutMs(),
                base.tcpEstablishedMs(), base.tcpTransitoryMs(), base.icmpTimeoutMs(), base.mssClamp(),
                base.unsolicitedSynIcmp(), base.hairpinMark(), base.shard(), base.shards(), seed);
            engine = new NatEngine(config, counters, (b, o, l, d) ->
            {
                final byte[] copy = new byte[l];
                b.getBytes(o, copy);
                sent.add(copy);
            }, 1000, now);
            engine.register(new PptpHelper(16, pptpCalls, 8, PptpHelper.OnInvalid.RESET, seed));
            engine.register(new IpsecHelper(256));
            engine.register(new L2tpHelper(256, seed));
        }

        int out(final UnsafeBuffer p, final long now)
        {
            final int v = engine.outbound(p, Packets.OFFSET, Packets.length(p), false, false, now);
            if (v != VERDICT_DROP)
            {
                assertTrue(Packets.checksumsValid(p));
            }
            return v;
        }

        int in(final UnsafeBuffer p, final long now)
        {
            final int v = engine.inbound(p, Packets.OFFSET, Packets.length(p), false, false, now);
            if (v != VERDICT_DROP)
            {
                assertTrue(Packets.checksumsValid(p));
            }
            return v;
        }

        List<String> tunnels()
        {
            final List<String> rows = new ArrayList<>();
            for (int h = 1; h <= engine.helperCount(); h++)
            {
                engine.helper(h).collectTunnels(h, (helper, kind, client, server, id0, id1, id2, id3, id4, id5, id6,
                    po, bo, pi, bi, created, seen) -> rows.add(helper + "/" + kind + " " + client + ">" + server + " "
                    + id0 + "," + id1 + "," + id2 + "," + id3 + "," + id4 + "," + id5 + "," + id6));
            }
            rows.sort(String::compareTo);
            return rows;
        }
    }

    /** Everything a LAN with VPNs has going: two PPTP calls with one Call ID, two clients' ESP, L2TP, UDP, TCP. */
    private final class Traffic
    {
        PptpTestSession a;
        PptpTestSession b;
        int ta;
        int tb;
        int udpExt;
        int tcpExt;
        int l2tpExt;

        void open(final Gateway g)
        {
            a = new PptpTestSession(g.engine, C1, 40011, SERVER, WAN, now);
            b = new PptpTestSession(g.engine, C2, 40012, SERVER, WAN, now);
            a.start();
            b.start();
            ta = a.call(5, 700);
            tb = b.call(5, 701);
            assertNotEquals(ta, tb);
            // IPsec: two clients keep UDP 500, each with its own ESP SA to the server
            esp(g, C1, 0x10, 0x1111, 0x2111);
            esp(g, C2, 0x20, 0x1222, 0x2222);
            // OpenVPN-like UDP and a TCP connection, both answered
            final UnsafeBuffer u = Packets.udp(C3, 1194, SERVER, 1194, 40);
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.out(u, now));
            udpExt = Packets.sourcePort(u);
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.in(Packets.udp(SERVER, 1194, WAN, udpExt, 40), now));
            final UnsafeBuffer syn = Packets.tcp(C3, 50000, SERVER, 443, TcpHeader.SYN, 1, 0);
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.out(syn, now));
            tcpExt = Packets.sourcePort(syn);
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.in(Packets.tcp(SERVER, 443, WAN, tcpExt,
                TcpHeader.SYN | TcpHeader.ACK, 9, 2), now));
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.out(Packets.tcp(C3, 50000, SERVER, 443, TcpHeader.ACK, 2, 10), now));
            // L2TP: a tunnel from 1701
            final UnsafeBuffer sccrq = Packets.udp(C3, 1701, SERVER, 1701, Packets.sccrq(9));
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.out(sccrq, now));
            l2tpExt = Packets.sourcePort(sccrq);
            assertEquals(1701, l2tpExt);
        }

        private void esp(final Gateway g, final int c, final long ikeSpi, final int outSpi, final int inSpi)
        {
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.out(IpsecHelperTest.ike(c, 500, SERVER, 500, ikeSpi, ikeSpi + 1,
                IkeHeader.IKE_AUTH, IkeHeader.FLAG_INITIATOR, 64), now));
            final UnsafeBuffer first = IpsecHelperTest.esp(c, SERVER, outSpi, 1, 40);
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.out(first, now));
            final UnsafeBuffer back = IpsecHelperTest.esp(SERVER, WAN, inSpi, 1, 40);
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.in(back, now));
            assertEquals(c, Packets.destination(back));
        }

        /** Every flow still works through {@code g}, as before, both ways. */
        void carriesOn(final Gateway g)
        {
            final PptpTestSession a2 = a.on(g.engine);
            final PptpTestSession b2 = b.on(g.engine);
            a2.now = now;
            b2.now = now;
            // GRE from the server by translated Call ID reaches each client with its own Call ID 5
            final UnsafeBuffer toB = Packets.pptpGre(SERVER, WAN, tb, 2, "for b".getBytes());
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.in(toB, now));
            assertEquals(C2, Packets.destination(toB));
            assertEquals(5, toB.getShort(Packets.OFFSET + 26, ByteOrder.BIG_ENDIAN) & 0xFFFF);
            final UnsafeBuffer toA = Packets.pptpGre(SERVER, WAN, ta, 2, "for a".getBytes());
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.in(toA, now));
            assertEquals(C1, Packets.destination(toA));
            final UnsafeBuffer fromA = Packets.pptpGre(C1, SERVER, 700, 3, "x".getBytes());
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.out(fromA, now));
            assertEquals(WAN, Packets.source(fromA));
            // the control connections go on from where they were: an echo, then a call cleared with its
            // translated Call ID
            a2.send(simple(PptpControl.ECHO_REQUEST));
            assertNotEquals(VERDICT_DROP, a2.lastVerdict, "the echo passes");
            final UnsafeBuffer clear = b2.send(first(PptpControl.CALL_CLEAR_REQUEST, 5));
            assertNotEquals(VERDICT_DROP, b2.lastVerdict);
            assertEquals(tb, PptpTestSession.field(clear, 0, 12), "Call-Clear-Request with the translated Call ID");
            // ESP by SPI to each client
            for (final int[] pair : new int[][] {{C1, 0x1111, 0x2111}, {C2, 0x1222, 0x2222}})
            {
                final UnsafeBuffer o = IpsecHelperTest.esp(pair[0], SERVER, pair[1], 9, 60);
                assertEquals(VERDICT_ACCEPT_MODIFIED, g.out(o, now));
                assertEquals(WAN, Packets.source(o));
                final UnsafeBuffer i = IpsecHelperTest.esp(SERVER, WAN, pair[2], 9, 60);
                assertEquals(VERDICT_ACCEPT_MODIFIED, g.in(i, now));
                assertEquals(pair[0], Packets.destination(i));
            }
            // IKE to 500 by SPI
            final UnsafeBuffer ike = IpsecHelperTest.ike(SERVER, 500, WAN, 500, 0x20, 0x21, IkeHeader.INFORMATIONAL,
                0, 40);
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.in(ike, now));
            assertEquals(C2, Packets.destination(ike));
            // UDP and TCP keep their external ports both ways
            final UnsafeBuffer u = Packets.udp(C3, 1194, SERVER, 1194, 40);
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.out(u, now));
            assertEquals(udpExt, Packets.sourcePort(u));
            final UnsafeBuffer ub = Packets.udp(SERVER, 1194, WAN, udpExt, 40);
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.in(ub, now));
            assertEquals(C3, Packets.destination(ub));
            final UnsafeBuffer t = Packets.tcp(C3, 50000, SERVER, 443, TcpHeader.ACK, 2, 10);
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.out(t, now));
            assertEquals(tcpExt, Packets.sourcePort(t));
            final UnsafeBuffer tb2 = Packets.tcp(SERVER, 443, WAN, tcpExt, TcpHeader.ACK, 10, 2);
            assertEquals(VERDICT_ACCEPT_MODIFIED, g.in(tb2, now));
            assertEquals(C3, Packets.destination(tb2));
        }
    }

    @Test
    void aFreshEngineTakesUpEveryTunnelFromTheImage()
    {
        final Gateway old = new Gateway(1, now);
        final Traffic traffic = new Traffic();
        traffic.open(old);
        final List<String> before = old.tunnels();
        final EngineImage image = new EngineImage(old.engine);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[image.maxSize() + 65536]);
        final int n = image.save(buffer, 0, buffer.capacity());
        assertTrue(n > 0);

        now += 1500;   // the restart
        final Gateway fresh = new Gateway(99, now);
        assertNull(new EngineImage(fresh.engine).restore(buffer, 0, n, now));
        assertEquals(old.engine.flows().size(), fresh.engine.flows().size(), "every session kept");
        assertEquals(old.engine.flows().size(), fresh.counters.get(Counter.STATE_RESTORED_SESSIONS));
        assertEquals(before, fresh.tunnels(), "the same tunnels, IDs and ports");
        assertEquals(2, fresh.counters.get(Counter.TUNNELS_PPTP));
        traffic.carriesOn(fresh);
        assertEquals(0, fresh.counters.get(Counter.PPTP_OUT_OF_ORDER));
        assertEquals(0, fresh.counters.get(Counter.DROP_ESP_UNKNOWN_SPI));
    }

    @Test
    void aControlMessageAfterTheImageIsTakenUpAtTheNextMessage()
    {
        final Gateway old = new Gateway(1, now);
        final PptpTestSession a = new PptpTestSession(old.engine, C1, 40011, SERVER, WAN, now);
        a.start();
        final int ta = a.call(5, 700);
        final EngineImage image = new EngineImage(old.engine);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[image.maxSize() + 65536]);
        final int n = image.save(buffer, 0, buffer.capacity());
        // the old passgate forwards one more message before it dies: the image does not know it
        a.send(simple(PptpControl.ECHO_REQUEST));
        final Gateway fresh = new Gateway(2, now);
        assertNull(new EngineImage(fresh.engine).restore(buffer, 0, n, now));
        final PptpTestSession a2 = a.on(fresh.engine);
        // a segment in the middle of a message cannot be taken up: dropped and counted
        a2.resend(a2.clientSeq + 4, simple(PptpControl.ECHO_REQUEST), 4, 12);
        assertEquals(VERDICT_DROP, a2.lastVerdict);
        assertEquals(1, fresh.counters.get(Counter.PPTP_OUT_OF_ORDER));
        // the next message starts a segment: the parser takes up the stream there, translating as before
        final UnsafeBuffer clear = a2.send(first(PptpControl.CALL_CLEAR_REQUEST, 5));
        assertNotEquals(VERDICT_DROP, a2.lastVerdict);
        assertEquals(ta, PptpTestSession.field(clear, 0, 12));
        assertEquals(1, fresh.counters.get(Counter.PPTP_RESYNCED));
    }

    @Test
    void theStateFileKeepsTheNewestIntactImage() throws IOException
    {
        final Path file = dir.resolve("state-0");
        final Gateway first = new Gateway(1, now);
        final StateStore store = open(file, first, "boot-1");
        assertEquals(0, store.found().sessions());
        assertNull(store.found().problem(), "a new file: nothing to report");
        final Traffic traffic = new Traffic();
        traffic.open(first);
        assertTrue(store.save(now));
        final int full = first.engine.flows().size();
        // one more answered UDP flow, a second image; then the newest is torn (a kill in mid-write)
        assertEquals(VERDICT_ACCEPT_MODIFIED, first.out(Packets.udp(C3, 5000, SERVER, 53, 20), now));
        assertEquals(VERDICT_ACCEPT_MODIFIED, first.in(Packets.udp(SERVER, 53, WAN, 5000, 20), now));
        assertTrue(store.save(now));
        store.close();

        final Gateway second = new Gateway(2, now);
        final StateStore reopened = open(file, second, "boot-1");
        assertEquals(full + 1, reopened.found().sessions(), "the newest image: " + reopened.found().problem());
        traffic.carriesOn(second);
        reopened.close();

        tearNewestSlot(file);
        final Gateway third = new Gateway(3, now);
        final StateStore afterTear = open(file, third, "boot-1");
        assertEquals(full, afterTear.found().sessions(), "the image before the torn one");
        assertNotNull(afterTear.found().problem());
        assertTrue(afterTear.found().problem().contains("torn"), afterTear.found().problem());
        afterTear.close();
    }

    @Test
    void foreignStaleAndMismatchedFilesStartEmpty() throws IOException
    {
        final Path file = dir.resolve("state-0");
        final Gateway first = new Gateway(1, now);
        final StateStore store = open(file, first, "boot-1");
        new Traffic().open(first);
        assertTrue(store.save(now));
        store.close();

        // another boot: a cold start is empty
        final Gateway cold = new Gateway(2, now);
        final StateStore afterBoot = open(file, cold, "boot-2");
        assertEquals(0, afterBoot.found().sessions());
        assertEquals(0, cold.engine.flows().size());
        assertTrue(afterBoot.found().problem().contains("earlier boot"), afterBoot.found().problem());
        afterBoot.close();

        // another configuration (a helper sized otherwise): refused, empty
        final Gateway saver = new Gateway(3, now);
        final StateStore again = open(file, saver, "boot-2");
        new Traffic().open(saver);
        assertTrue(again.save(now));
        again.close();
        final Gateway resized = new Gateway(4, now, 128);
        final StateStore other = open(file, resized, "boot-2");
        assertEquals(0, resized.engine.flows().size());
        assertNotNull(other.found().problem());
        other.close();
        open(file, new Gateway(8, now), "boot-2").close();   // back to this configuration's file size

        // random bytes of the right size, and a file of another size: reported, replaced, usable
        final byte[] noise = new byte[(int)Files.size(file)];
        new java.util.Random(5).nextBytes(noise);
        Files.write(file, noise);
        final Gateway afterNoise = new Gateway(5, now);
        final StateStore replaced = open(file, afterNoise, "boot-2");
        assertEquals(0, afterNoise.engine.flows().size());
        assertTrue(replaced.found().problem().contains("not passgate's"), replaced.found().problem());
        new Traffic().open(afterNoise);
        assertTrue(replaced.save(now));
        replaced.close();
        final Gateway reread = new Gateway(6, now);
        final StateStore good = open(file, reread, "boot-2");
        assertTrue(good.found().sessions() > 0, "the replaced file works");
        good.close();

        Files.write(file, new byte[1000]);
        final Gateway small = new Gateway(7, now);
        final StateStore resizedFile = open(file, small, "boot-2");
        assertEquals(0, small.engine.flows().size());
        assertNotNull(resizedFile.found().problem());
        resizedFile.close();
    }

    @Test
    void savingAllocatesNothing() throws IOException
    {
        final Path file = dir.resolve("state-0");
        final Gateway g = new Gateway(1, now);
        final StateStore store = open(file, g, "boot-1");
        new Traffic().open(g);
        // warm up through the same call as measured, long enough for C2 to have compiled it: a clean-clone run
        // (2 000 direct saves of warm-up) once counted 904 bytes in the window, the allocations of code not yet
        // compiled or of a deoptimization, not of a save (5 000 saves allocating would be 80 KB and more)
        for (int i = 0; i < 20_000; i++)
        {
            store.maybeSave(now + i * 1000L, i);
        }
        final long before = Allocations.currentThread();
        for (int i = 0; i < 5000; i++)
        {
            store.maybeSave(now + (20_000 + i) * 1000L, 20_000 + i);
        }
        final long allocated = Allocations.currentThread() - before;
        assertEquals(5000 + 20_000, g.counters.get(Counter.STATE_SAVES));
        assertEquals(0, allocated, "bytes allocated by 5000 images");
        store.close();
    }

    private StateStore open(final Path file, final Gateway g, final String boot) throws IOException
    {
        return StateStore.open(file, g.engine, new EngineImage(g.engine), 0, boot, 250, now);
    }

    /** Flips a byte in the body of the slot with the higher generation. */
    private static void tearNewestSlot(final Path file) throws IOException
    {
        try (var ch = java.nio.channels.FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final var map = ch.map(java.nio.channels.FileChannel.MapMode.READ_WRITE, 0, ch.size());
            final UnsafeBuffer b = new UnsafeBuffer(map);
            final int slotSize = b.getInt(12);
            final int s0 = 4096;
            final int s1 = 4096 + slotSize;
            final int newest = b.getLong(s0) > b.getLong(s1) ? s0 : s1;
            b.putByte(newest + 64 + 100, (byte)(b.getByte(newest + 64 + 100) ^ 0x5A));
            map.force();
        }
    }
}

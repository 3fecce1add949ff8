package io.passgate.nat;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/** A NAT engine with a hand-driven clock and a sink that records what it sends. */
final class NatHarness
{
    static final int WAN = Packets.ip("203.0.113.1");
    static final int LAN_ROUTER = Packets.ip("10.0.0.1");
    static final int A = Packets.ip("10.0.0.11");
    static final int B = Packets.ip("10.0.0.12");
    static final int S1 = Packets.ip("198.51.100.10");
    static final int S2 = Packets.ip("198.51.100.20");
    static final int S3 = Packets.ip("198.51.100.30");
    static final int LAN_IF = 2;
    /** Past a timeout by more than the timer wheel's granularity and one periodic tick. */
    static final long SLACK = NatEngine.TIMER_TICK_MS + 1_100;

    /** A packet passgate sent itself. */
    record Sent(byte[] bytes, int destination)
    {
        UnsafeBuffer buffer()
        {
            final byte[] padded = new byte[Packets.OFFSET + bytes.length];
            System.arraycopy(bytes, 0, padded, Packets.OFFSET, bytes.length);
            return new UnsafeBuffer(padded);
        }
    }

    final CounterSet counters = new CounterSet();
    final List<Sent> sent = new ArrayList<>();
    final NatEngine engine;
    long now = 1_000_000;

    NatHarness()
    {
        this(NatConfig.defaults(WAN, LAN_ROUTER, LAN_IF, 1024));
    }

    NatHarness(final NatConfig config)
    {
        this(config, null);
    }

    NatHarness(final NatConfig config, final SharedEndpoints shared)
    {
        engine = new NatEngine(config, counters, this::record, 1000, now, shared);
    }

    /** A harness whose engine runs the real helpers (PPTP, IPsec, L2TP). */
    static NatHarness withHelpers()
    {
        return withHelpers(NatConfig.defaults(WAN, LAN_ROUTER, LAN_IF, 1024));
    }

    static NatHarness withHelpers(final NatConfig config)
    {
        final NatHarness h = new NatHarness(config);
        h.engine.register(new io.passgate.alg.PptpHelper(16, 64, 8, io.passgate.alg.PptpHelper.OnInvalid.RESET, 7));
        h.engine.register(new io.passgate.alg.IpsecHelper(64));
        h.engine.register(new io.passgate.alg.L2tpHelper(64, 11));
        return h;
    }

    /** Applies switch states as the control plane would; returns the sessions torn down. */
    int switches(final boolean pptp, final boolean ipsec, final boolean natt, final boolean l2tp)
    {
        return engine.applyPassthrough(name -> switch (name)
        {
            case "pptp" -> pptp;
            case "ipsec" -> ipsec;
            case "natt" -> ipsec && natt;
            case "l2tp" -> l2tp;
            default -> true;
        });
    }

    private void record(final DirectBuffer b, final int offset, final int length, final int destination)
    {
        final byte[] copy = new byte[length];
        b.getBytes(offset, copy);
        sent.add(new Sent(copy, destination));
    }

    int out(final UnsafeBuffer packet)
    {
        final int v = engine.outbound(packet, Packets.OFFSET, Packets.length(packet), false, false, now);
        assertTrue(Packets.checksumsValid(packet), "checksums after outbound translation");
        return v;
    }

    int hairpinOut(final UnsafeBuffer packet)
    {
        final int v = engine.outbound(packet, Packets.OFFSET, Packets.length(packet), false, true, now);
        assertTrue(Packets.checksumsValid(packet));
        return v;
    }

    int in(final UnsafeBuffer packet)
    {
        final int v = engine.inbound(packet, Packets.OFFSET, Packets.length(packet), false, false, now);
        assertTrue(Packets.checksumsValid(packet), "checksums after inbound translation");
        return v;
    }

    int fromLan(final UnsafeBuffer packet)
    {
        final int v = engine.inbound(packet, Packets.OFFSET, Packets.length(packet), false, true, now);
        assertTrue(Packets.checksumsValid(packet));
        return v;
    }

    /** Moves the clock forward and runs the timers as the dataplane's periodic tick would. */
    void advance(final long ms)
    {
        final long end = now + ms;
        while (now < end)
        {
            now = Math.min(end, now + 1000);
            engine.tick(now);
        }
    }

    long count(final Counter c)
    {
        return counters.get(c);
    }
}

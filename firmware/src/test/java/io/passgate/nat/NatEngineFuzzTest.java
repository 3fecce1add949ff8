package io.passgate.nat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteOrder;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.passgate.alg.IpsecHelper;
import io.passgate.alg.L2tpHelper;
import io.passgate.alg.PptpHelper;
import io.passgate.counters.CounterSet;
import io.passgate.fuzz.PacketChecks;
import io.passgate.nfq.PacketHandler;
import io.passgate.wire.Ipv4Header;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The NAT engine (with the PPTP, IPsec and L2TP helpers) fed whole packets both ways, one input being a
 * sequence of packets so that sessions are made, used, evicted and expired. Input: records of a control
 * byte, a 16-bit length and the packet. Control bits: 0 inbound (else outbound), 1 from the LAN / hairpin,
 * 2 repair the packet's lengths and checksums, 3 fit the addresses (outbound: from LAN client
 * 10.0.0.11+bits 6-7; inbound: to the WAN address), 4 advance the clock 61 s first (timers run), 5 mark the
 * checksum partial.
 *
 * <p>Invariants after every packet: the engine wrote nothing outside the packet (guard bytes) and left its
 * length alone; a packet it dropped left no new session or mapping (but a hairpin the receiver's filter
 * refused, whose way out opens its sender's own session towards the WAN address, RFC 4787 REQ-9); the tables stay within their capacity;
 * a packet that went out by the WAN has the WAN address as source; a checksum-correct packet it rewrote is
 * still checksum-correct (complete form); and every packet it built itself (ICMP errors, RSTs) is
 * checksum-correct and within the sink's buffer.
 */
class NatEngineFuzzTest
{
    static final int WAN = NatHarness.WAN;
    static final int CAPACITY = 32;
    private static final int OFFSET = 48;
    private static final int GUARD = 64;

    private final Ipv4Header ip = new Ipv4Header();
    private final Ipv4Header header = new Ipv4Header();
    /** Every packet fed so far had correct checksums (else a packet a helper held and sends later may not). */
    private boolean allValid;

    @FuzzTest(maxDuration = "20s")
    void packets(final byte[] data)
    {
        final CounterSet counters = new CounterSet();
        final NatConfig config = NatConfig.defaults(WAN, NatHarness.LAN_ROUTER, NatHarness.LAN_IF, CAPACITY);
        final NatEngine engine = new NatEngine(config, counters, this::sent, 1000, 1_000_000);
        allValid = true;
        engine.register(new PptpHelper(4, 8, 4, PptpHelper.OnInvalid.RESET, 7));
        engine.register(new IpsecHelper(8));
        engine.register(new L2tpHelper(8, 11));
        long now = 1_000_000;
        int at = 0;
        while (at + 3 <= data.length)
        {
            final int control = data[at] & 0xFF;
            final int n = Math.min(((data[at + 1] & 0xFF) << 8) | (data[at + 2] & 0xFF), data.length - at - 3);
            final UnsafeBuffer b = new UnsafeBuffer(new byte[OFFSET + n + GUARD]);
            PacketChecks.guard(b, 0, b.capacity());
            b.putBytes(OFFSET, data, at + 3, n);
            at += 3 + n;
            final boolean inbound = (control & 1) != 0;
            final boolean lan = (control & 2) != 0;
            final boolean partial = (control & 32) != 0;
            if ((control & 8) != 0 && n >= 20)
            {
                b.putInt(OFFSET + (inbound ? 16 : 12), inbound ? WAN : NatHarness.A + (control >>> 6), ByteOrder.BIG_ENDIAN);
            }
            if (header.wrapQuoted(b, OFFSET, n))
            {
                // the kernel drops a packet whose IPv4 header checksum is wrong before any hook queues it
                header.checksum(header.computeChecksum());
            }
            final boolean valid = (control & 4) != 0 ? PacketChecks.repair(b, OFFSET, n, true)
                : PacketChecks.checksumsValid(b, OFFSET, n);
            allValid &= valid;
            if ((control & 16) != 0)
            {
                now += 61_000;
                for (long t = now - 60_000; t <= now; t += 1000)
                {
                    engine.tick(t);
                }
                tables(engine);
            }
            now++;
            final int flows = engine.flows().size();
            final int mappings = engine.mappings().size();
            final int totalLength = n >= 4 ? b.getShort(OFFSET + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF : -1;
            final int verdict = inbound ? engine.inbound(b, OFFSET, n, partial, lan, now)
                : engine.outbound(b, OFFSET, n, partial, lan, now);

            assertEquals(-1, PacketChecks.guardBroken(b, 0, OFFSET), "nothing written before the packet");
            assertEquals(-1, PacketChecks.guardBroken(b, OFFSET + n, b.capacity()), "nothing written after the packet");
            if (n >= 4)
            {
                assertEquals(totalLength, b.getShort(OFFSET + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF, "length unchanged");
            }
            tables(engine);
            switch (verdict)
            {
                case PacketHandler.VERDICT_DROP ->
                {
                    if (inbound && lan && engine.flows().size() > flows)
                    {
                        // a hairpin the receiver's filter refused: its way out still opened the sender's own
                        // session towards the WAN address (RFC 4787 REQ-9, hole punching between two clients),
                        // that one and no other
                        assertEquals(flows + 1, engine.flows().size(), "a refused hairpin made one session");
                        assertTrue(ip.wrap(b, OFFSET, n) && n >= ip.payloadOffset() - OFFSET + 4);
                        final int sport = b.getShort(ip.payloadOffset(), ByteOrder.BIG_ENDIAN) & 0xFFFF;
                        final int dport = b.getShort(ip.payloadOffset() + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF;
                        assertTrue(engine.flows().findOutbound(ip.protocol(), ip.source(), sport, WAN, dport)
                            != FlowTable.NONE, "the session a refused hairpin made is its sender's");
                    }
                    else
                    {
                        assertTrue(engine.flows().size() <= flows, "a dropped packet made no session");
                        assertTrue(engine.mappings().size() <= mappings, "a dropped packet made no mapping");
                    }
                }
                case PacketHandler.VERDICT_ACCEPT, PacketHandler.VERDICT_ACCEPT_MODIFIED, NatEngine.VERDICT_HAIRPIN ->
                {
                    if (!inbound && !lan)
                    {
                        assertTrue(ip.wrap(b, OFFSET, n), "what leaves is a packet");
                        assertEquals(WAN, ip.source(), "what leaves by the WAN comes from the WAN address");
                    }
                    if (verdict != PacketHandler.VERDICT_ACCEPT && valid && !partial)
                    {
                        assertTrue(PacketChecks.checksumsValid(b, OFFSET, n), "checksums verify after translation");
                    }
                }
                default ->
                {
                    if (verdict < NatEngine.VERDICT_REQUEUE_BASE)
                    {
                        fail("verdict " + verdict);
                    }
                }
            }
        }
    }

    private static void tables(final NatEngine engine)
    {
        assertTrue(engine.flows().size() <= engine.flows().capacity() && engine.flows().size() >= 0, "flows within capacity");
        assertTrue(engine.mappings().size() <= engine.mappings().capacity(), "mappings within capacity");
    }

    /**
     * What passgate sends itself (ICMP errors, RSTs, packets a helper held): inside its buffer, its IPv4 header
     * checksum correct, and its transport checksum too unless a packet fed was wrong (a held one is sent as
     * it came, translated).
     */
    private void sent(final DirectBuffer buffer, final int offset, final int length, final int destination)
    {
        assertTrue(offset >= 0 && offset + length <= buffer.capacity(), "a built packet inside its buffer");
        final UnsafeBuffer copy = new UnsafeBuffer(new byte[length]);
        copy.putBytes(0, buffer, offset, length);
        final Ipv4Header sentHeader = new Ipv4Header();
        assertTrue(sentHeader.wrap(copy, 0, length) && sentHeader.checksumValid(), "a packet passgate sends has a correct header");
        if (allValid)
        {
            assertTrue(PacketChecks.checksumsValid(copy, 0, length), "a packet passgate sends is checksum-correct");
        }
    }
}

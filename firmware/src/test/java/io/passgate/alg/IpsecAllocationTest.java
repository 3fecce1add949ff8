package io.passgate.alg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nfq.PacketHandler;
import io.passgate.testing.Allocations;
import io.passgate.wire.IkeHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * The IKE and ESP paths allocate nothing: three clients' IKE on the shared port 500 and plain ESP both ways,
 * with a rekey (a new SA started, waited on, bound) every thousand rounds and a second client's start held
 * and released, after warm-up, a million and a half packets: the thread's allocated bytes do not move.
 */
class IpsecAllocationTest
{
    private static final int[] CLIENTS = {Packets.ip("10.0.0.11"), Packets.ip("10.0.0.12"), Packets.ip("10.0.0.13")};
    private static final int SERVER = Packets.ip("198.51.100.10");
    private static final int WAN = Packets.ip("203.0.113.1");

    private final CounterSet counters = new CounterSet();
    private final NatEngine engine = new NatEngine(NatConfig.defaults(WAN, Packets.ip("10.0.0.1"), 2, 4096), counters,
        (b, o, l, d) -> { }, 100, 1_000_000);
    private final UnsafeBuffer[] ikeOut = new UnsafeBuffer[3];
    private final UnsafeBuffer[] ikeIn = new UnsafeBuffer[3];
    private final UnsafeBuffer[] espOut = new UnsafeBuffer[3];
    private final UnsafeBuffer[] espIn = new UnsafeBuffer[3];
    private final byte[][] ikeOutBytes = new byte[3][];
    private final byte[][] ikeInBytes = new byte[3][];
    private final byte[][] espOutBytes = new byte[3][];
    private final byte[][] espInBytes = new byte[3][];
    private final UnsafeBuffer rekey = IpsecHelperTest.ike(CLIENTS[0], 500, SERVER, 500, 0x100, 0x200,
        IkeHeader.CREATE_CHILD_SA, IkeHeader.FLAG_INITIATOR, 64);
    private final UnsafeBuffer otherStart = IpsecHelperTest.ike(CLIENTS[1], 500, SERVER, 500, 0x101, 0x201,
        IkeHeader.CREATE_CHILD_SA, IkeHeader.FLAG_INITIATOR, 64);
    private final byte[] rekeyBytes = rekey.byteArray().clone();
    private final byte[] otherStartBytes = otherStart.byteArray().clone();
    private final UnsafeBuffer newOut = new UnsafeBuffer(new byte[IpsecHelperTest.esp(CLIENTS[0], SERVER, 1, 1, 64).capacity()]);
    private final UnsafeBuffer newIn = new UnsafeBuffer(new byte[newOut.capacity()]);
    private final byte[] newOutBytes = IpsecHelperTest.esp(CLIENTS[0], SERVER, 0x7000_0000, 1, 64).byteArray();
    private final byte[] newInBytes = IpsecHelperTest.esp(SERVER, WAN, 0x7100_0000, 1, 64).byteArray();
    private int generation;
    private long now = 1_000_000;

    private int pass(final UnsafeBuffer b, final byte[] bytes, final boolean outbound)
    {
        b.putBytes(0, bytes);
        return outbound ? engine.outbound(b, Packets.OFFSET, Packets.length(b), false, false, now)
            : engine.inbound(b, Packets.OFFSET, Packets.length(b), false, false, now);
    }

    /** One round: each client's IKE both ways and ESP both ways. */
    private int round()
    {
        int modified = 0;
        for (int c = 0; c < 3; c++)
        {
            modified += pass(ikeOut[c], ikeOutBytes[c], true);
            modified += pass(ikeIn[c], ikeInBytes[c], false);
            modified += pass(espOut[c], espOutBytes[c], true);
            modified += pass(espIn[c], espInBytes[c], false);
        }
        return modified;
    }

    /** A rekey of client 0 while client 1 starts too: client 1's start is held, then released. */
    private void rekeyWithAHold()
    {
        generation++;
        pass(rekey, rekeyBytes, true);
        pass(otherStart, otherStartBytes, true);   // held: client 0 waits
        newOut.putBytes(0, newOutBytes);
        newOut.putInt(Packets.OFFSET + 20, 0x7000_0000 + generation, ByteOrder.BIG_ENDIAN);
        engine.outbound(newOut, Packets.OFFSET, Packets.length(newOut), false, false, now);
        newIn.putBytes(0, newInBytes);
        newIn.putInt(Packets.OFFSET + 20, 0x7100_0000 + generation, ByteOrder.BIG_ENDIAN);
        engine.inbound(newIn, Packets.OFFSET, Packets.length(newIn), false, false, now);   // bound; client 1 released
        now += 3_500;
        engine.tick(now);   // client 1's wait runs out
    }

    @Test
    void ikeAndEspAllocateNothing()
    {
        engine.register(new IpsecHelper(64));
        for (int c = 0; c < 3; c++)
        {
            final long spi = 0x100 + c;
            ikeOut[c] = IpsecHelperTest.ike(CLIENTS[c], 500, SERVER, 500, spi, spi + 0x100, IkeHeader.INFORMATIONAL,
                IkeHeader.FLAG_INITIATOR, 48);
            ikeIn[c] = IpsecHelperTest.ike(SERVER, 500, WAN, 500, spi, spi + 0x100, IkeHeader.INFORMATIONAL,
                IkeHeader.FLAG_RESPONSE, 48);
            espOut[c] = IpsecHelperTest.esp(CLIENTS[c], SERVER, 0x1000 + c, 1, 1200);
            espIn[c] = IpsecHelperTest.esp(SERVER, WAN, 0x2000 + c, 1, 1200);
            ikeOutBytes[c] = ikeOut[c].byteArray().clone();
            ikeInBytes[c] = ikeIn[c].byteArray().clone();
            espOutBytes[c] = espOut[c].byteArray().clone();
            espInBytes[c] = espIn[c].byteArray().clone();
            // bring each SA up in turn (the waiting client binds the server's first ESP)
            pass(ikeOut[c], ikeOutBytes[c], true);
            pass(espOut[c], espOutBytes[c], true);
            pass(espIn[c], espInBytes[c], false);
        }
        for (int i = 0; i < 100_000; i++)
        {
            round();
            if (i % 1000 == 0)
            {
                rekeyWithAHold();
            }
        }
        final long espBefore = counters.get(Counter.IPSEC_ESP_IN) + counters.get(Counter.IPSEC_ESP_OUT);
        final long heldBefore = counters.get(Counter.IPSEC_HELD);
        final long before = Allocations.currentThread();
        long modified = 0;
        for (int i = 0; i < 125_000; i++)
        {
            modified += round();
            if (i % 1000 == 0)
            {
                rekeyWithAHold();
            }
        }
        final long after = Allocations.currentThread();
        assertEquals(125_000L * 12 * PacketHandler.VERDICT_ACCEPT_MODIFIED, modified, "every packet translated");
        assertEquals(125_000L * 6, counters.get(Counter.IPSEC_ESP_IN) + counters.get(Counter.IPSEC_ESP_OUT) - espBefore
            - 2L * 125, "ESP both ways (and the rekeys' own)");
        assertTrue(counters.get(Counter.IPSEC_HELD) - heldBefore >= 125, "the held path ran");
        assertEquals(0, after - before, "bytes allocated over 1.5 million IKE and ESP packets with 125 rekeys");
    }
}

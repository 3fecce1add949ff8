package io.passgate.nat;

import static io.passgate.nat.NatHarness.A;
import static io.passgate.nat.NatHarness.S1;
import static io.passgate.nat.NatHarness.WAN;
import static io.passgate.nfq.PacketHandler.VERDICT_ACCEPT_MODIFIED;
import static io.passgate.nfq.PacketHandler.VERDICT_DROP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;

import io.passgate.counters.Counter;
import io.passgate.wire.TcpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** The passthrough switches in the NAT: what each covers, refusal at once, teardown, and what is never touched. */
class PassthroughTest
{
    private final NatHarness nat = NatHarness.withHelpers();

    private int icmpSentOfType313()
    {
        int n = 0;
        for (final NatHarness.Sent s : nat.sent)
        {
            final UnsafeBuffer b = s.buffer();
            if (b.getByte(Packets.OFFSET + 9) == 1 && b.getByte(Packets.OFFSET + 20) == 3 && b.getByte(Packets.OFFSET + 21) == 13)
            {
                n++;
            }
        }
        return n;
    }

    @Test
    void pptpOffRefusesANewControlConnectionWithAReset()
    {
        nat.switches(false, true, true, true);
        final UnsafeBuffer syn = Packets.tcp(A, 40000, S1, 1723, TcpHeader.SYN, 1460, 0);
        assertEquals(VERDICT_DROP, nat.out(syn));
        assertEquals(1, nat.sent.size());
        final UnsafeBuffer rst = nat.sent.get(0).buffer();
        assertTrue(Packets.checksumsValid(rst));
        assertEquals(S1, Packets.source(rst), "as if from the server");
        assertEquals(A, Packets.destination(rst));
        assertEquals(1723, Packets.sourcePort(rst));
        assertEquals(40000, Packets.destinationPort(rst));
        assertEquals(TcpHeader.RST | TcpHeader.ACK, rst.getByte(Packets.OFFSET + 33) & 0xFF);
        assertEquals(1001, rst.getInt(Packets.OFFSET + 28, ByteOrder.BIG_ENDIAN), "acknowledges the SYN");
        assertEquals(1, nat.count(Counter.PASSTHROUGH_REFUSED));
        // GRE v1 (PPTP data) is refused with ICMP 3/13; GRE v0 is not PPTP and passes
        assertEquals(VERDICT_DROP, nat.out(Packets.pptpGre(A, S1, 5, 1, new byte[8])), "refused before any helper");
        final UnsafeBuffer greV0 = Packets.other(A, S1, Protocols.GRE, 8);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(greV0));
    }

    @Test
    void ipsecOffCoversIkeNattEspAndAh()
    {
        nat.switches(true, false, true, true);
        assertEquals(VERDICT_DROP, nat.out(Packets.udp(A, 500, S1, 500, 40)), "IKE");
        assertEquals(VERDICT_DROP, nat.out(Packets.udp(A, 4500, S1, 4500, 40)), "NAT-T follows IPsec");
        assertEquals(VERDICT_DROP, nat.out(Packets.other(A, S1, Protocols.ESP, 40)), "ESP");
        assertEquals(VERDICT_DROP, nat.out(Packets.other(A, S1, Protocols.AH, 40)), "AH");
        assertEquals(4, icmpSentOfType313(), "each refused with ICMP 3/13");
        assertEquals(VERDICT_DROP, nat.in(Packets.other(S1, WAN, Protocols.ESP, 40)), "inbound ESP dropped too");
    }

    @Test
    void nattOffAloneLeavesIkeAndEsp()
    {
        nat.switches(true, true, false, true);
        assertEquals(VERDICT_DROP, nat.out(Packets.udp(A, 4500, S1, 4500, 40)));
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(Packets.udp(A, 500, S1, 500, 40)));
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(Packets.other(A, S1, Protocols.ESP, 40)));
    }

    @Test
    void l2tpOffCoversUdp1701()
    {
        nat.switches(true, true, true, false);
        assertEquals(VERDICT_DROP, nat.out(Packets.udp(A, 1701, S1, 1701, 40)));
        assertEquals(1, icmpSentOfType313());
    }

    @Test
    void openVpnWireGuardAndSstpPassWithEverySwitchOff()
    {
        nat.switches(false, false, false, false);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(Packets.udp(A, 40000, S1, 1194, 40)), "OpenVPN UDP");
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(Packets.tcp(A, 40001, S1, 1194, TcpHeader.SYN, 1460, 0)), "OpenVPN TCP");
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(Packets.udp(A, 40002, S1, 51820, 148)), "WireGuard");
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(Packets.tcp(A, 40003, S1, 443, TcpHeader.SYN, 1460, 0)), "SSTP");
        assertEquals(0, nat.count(Counter.PASSTHROUGH_REFUSED));
    }

    @Test
    void switchingOffTearsDownLiveSessionsAndOnTakesEffectForTheNextPacket()
    {
        final UnsafeBuffer ike = Packets.udp(A, 500, S1, 500, 40);
        nat.out(ike);
        final int ext = Packets.sourcePort(ike);
        nat.out(Packets.udp(A, 1701, S1, 1701, Packets.sccrq(7)));
        nat.out(Packets.udp(A, 40000, S1, 1194, 40));
        assertEquals(1, nat.count(Counter.TUNNELS_IPSEC));
        assertEquals(1, nat.count(Counter.TUNNELS_L2TP));
        assertEquals(2, nat.switches(true, false, true, false), "IKE and L2TP torn down");
        assertEquals(0, nat.count(Counter.TUNNELS_IPSEC));
        assertEquals(0, nat.count(Counter.TUNNELS_L2TP));
        assertEquals(VERDICT_DROP, nat.in(Packets.udp(S1, 500, WAN, ext, 40)), "the server's IKE no longer reaches the client");
        assertEquals(1, nat.engine.flows().size(), "OpenVPN's session untouched");
        nat.switches(true, true, true, true);
        assertEquals(VERDICT_ACCEPT_MODIFIED, nat.out(Packets.udp(A, 500, S1, 500, 40)), "on again: the next packet passes");
        assertEquals(500, Packets.sourcePort(ike), "port 500 kept where it can be");
    }

    @Test
    void refusalsAreRateLimited()
    {
        final NatHarness limited = NatHarness.withHelpers();
        limited.switches(true, true, true, false);
        for (int i = 0; i < 3000; i++)
        {
            limited.out(Packets.udp(A, 1701, S1, 1701, 8));
        }
        assertEquals(3000, limited.count(Counter.PASSTHROUGH_REFUSED));
        assertTrue(limited.sent.size() <= 1001, "ICMP sent within the rate: " + limited.sent.size());
        assertTrue(limited.count(Counter.ICMP_RATE_LIMITED) >= 1999);
    }
}

package io.passgate.alg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.nfq.PacketHandler;
import io.passgate.pcap.Pcap;
import io.passgate.wire.GreHeader;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.PptpControl;
import io.passgate.wire.TcpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * Replays pptp.pcap (a Windows client's control connection and first GRE packet) through the NAT and the
 * PPTP helper, the client on the LAN and the server on the WAN side: every message is parsed, the client's
 * Call ID is translated where RFC 2637 puts it, the server's packets come back to the client byte for byte
 * as captured (the restored Call ID included), and every checksum is valid.
 */
class PptpReplayTest
{
    private static final int WAN = Packets.ip("203.0.113.1");
    private static final int CLIENT = Packets.ip("10.1.1.11");
    private static final int SERVER = Packets.ip("10.1.1.10");

    private static Path capture(final String name) throws URISyntaxException
    {
        return Path.of(PptpReplayTest.class.getResource("/captures/" + name).toURI());
    }

    @Test
    void pptpCaptureThroughTheNat() throws Exception
    {
        final CounterSet counters = new CounterSet();
        final NatEngine engine = new NatEngine(NatConfig.defaults(WAN, Packets.ip("10.1.1.1"), 2, 1024), counters,
            (b, o, l, d) -> { }, 100, 1_000_000);
        final PptpHelper pptp = new PptpHelper(8, 16, 4, PptpHelper.OnInvalid.RESET, 1);
        engine.register(pptp);
        final List<Pcap.Packet> packets = Pcap.read(capture("pptp.pcap"));
        final Ipv4Header ip = new Ipv4Header();
        final TcpHeader tcp = new TcpHeader();
        int extPort = -1;
        int translatedCallId = -1;
        int outbound = 0;
        int inbound = 0;
        for (final Pcap.Packet p : packets)
        {
            final int length = p.l3Length();
            final byte[] original = new byte[length];
            System.arraycopy(p.data(), p.l3Offset(), original, 0, length);
            final UnsafeBuffer b = new UnsafeBuffer(new byte[Packets.OFFSET + length + 16]);
            b.putBytes(Packets.OFFSET, original);
            assertTrue(ip.wrap(b, Packets.OFFSET, length));
            if (ip.source() == CLIENT)
            {
                outbound++;
                assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED,
                    engine.outbound(b, Packets.OFFSET, length, false, false, 1_000_000), "packet " + p.index());
                assertTrue(Packets.checksumsValid(b), "packet " + p.index());
                assertEquals(WAN, Packets.source(b));
                if (ip.protocol() == 6)
                {
                    extPort = Packets.sourcePort(b);
                    tcp.wrap(b, ip.payloadOffset(), ip.payloadLength());
                    final int data = ip.payloadOffset() + tcp.headerLength();
                    if (ip.payloadLength() > tcp.headerLength()
                        && PptpControl.controlType(b, data) == PptpControl.OUTGOING_CALL_REQUEST)
                    {
                        translatedCallId = PptpControl.field(b, data, PptpControl.CALL_ID_OFFSET);
                        assertEquals(0, PptpControl.field(UnsafeBuffer.class.cast(new UnsafeBuffer(original)), 20 + 20,
                            PptpControl.CALL_ID_OFFSET), "the capture's client picked Call ID 0");
                        assertNotEquals(0, translatedCallId, "translated (0 is never handed out)");
                        // nothing else of the message changed
                        final byte[] after = Packets.bytes(b, data, 168);
                        final byte[] before = new byte[168];
                        System.arraycopy(original, 40, before, 0, 168);
                        before[12] = after[12];
                        before[13] = after[13];
                        assertArrayEquals(before, after);
                    }
                }
                else
                {
                    final GreHeader gre = new GreHeader();
                    assertTrue(gre.wrap(b, ip.payloadOffset(), ip.payloadLength()));
                    assertEquals(0, gre.callId(), "the client's GRE carries the server's Call ID 0, untouched");
                }
            }
            else
            {
                inbound++;
                // the server's packet as it arrives at the WAN address
                ip.destination(WAN);
                tcp.wrap(b, ip.payloadOffset(), ip.payloadLength());
                tcp.addressChanged(CLIENT, WAN, false).destinationPort(extPort, false);
                final int data = ip.payloadOffset() + tcp.headerLength();
                if (ip.payloadLength() > tcp.headerLength()
                    && PptpControl.controlType(b, data) == PptpControl.OUTGOING_CALL_REPLY)
                {
                    // the server answers the translated Call ID
                    final int old = b.getShort(data + 14, ByteOrder.BIG_ENDIAN) & 0xFFFF;
                    b.putShort(data + 14, (short)translatedCallId, ByteOrder.BIG_ENDIAN);
                    tcp.checksum(io.passgate.wire.Checksum.update16(tcp.checksum(), old, translatedCallId));
                }
                assertTrue(Packets.checksumsValid(b));
                assertEquals(PacketHandler.VERDICT_ACCEPT_MODIFIED,
                    engine.inbound(b, Packets.OFFSET, length, false, false, 1_000_000), "packet " + p.index());
                // back to the client exactly as captured
                final byte[] restored = Packets.bytes(b, Packets.OFFSET, length);
                assertArrayEquals(original, restored, "packet " + p.index() + " restored byte for byte");
            }
        }
        assertEquals(7, outbound);
        assertEquals(16, inbound, "the capture holds the server's packets twice");
        assertEquals(5, counters.get(Counter.PPTP_MESSAGES), "SCCRQ, SCCRP, OCRQ, OCRP, SLI (duplicates parsed once)");
        assertEquals(2, counters.get(Counter.PPTP_CALL_IDS_TRANSLATED), "OCRQ out, OCRP in");
        assertTrue(counters.get(Counter.PPTP_RETRANSMISSIONS_PATCHED) >= 1, "the duplicated OCRP rewritten again");
        assertEquals(1, counters.get(Counter.PPTP_GRE_OUT));
        assertEquals(0, counters.get(Counter.PPTP_INVALID));
        assertEquals(1, pptp.liveCalls());
    }

    /** zeek-gre-pptp.pcap: enhanced GRE inside IPv6/IPIP: the views find both Call IDs and sequence numbers. */
    @Test
    void zeekGrePptpParsed() throws Exception
    {
        final List<Pcap.Packet> packets = Pcap.read(capture("zeek-gre-pptp.pcap"));
        final Ipv4Header ip = new Ipv4Header();
        final GreHeader gre = new GreHeader();
        final int[] callIds = new int[2];
        for (int i = 0; i < 2; i++)
        {
            final Pcap.Packet p = packets.get(i);
            final UnsafeBuffer b = p.buffer();
            assertTrue(ip.wrap(b, p.l3Offset() + 40, p.l3Length() - 40));
            assertTrue(gre.wrap(b, ip.payloadOffset(), ip.payloadLength()));
            assertTrue(gre.isPptp());
            callIds[i] = gre.callId();
        }
        assertArrayEquals(new int[] {6016, 17}, callIds);
    }
}

package io.passgate.alg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.passgate.counters.CounterSet;
import io.passgate.nat.Helper;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.Packets;
import io.passgate.pcap.Pcap;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.PptpControl;
import io.passgate.wire.TcpHeader;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * The test peers' encoder against the messages a Windows client and its server exchanged (pptp.pcap): the
 * same values give the same bytes. And GRE version 0 (various_gre.pcap) is never taken for PPTP.
 */
class PptpLayoutTest
{
    private static List<byte[]> controlMessages() throws Exception
    {
        final List<byte[]> messages = new ArrayList<>();
        final Ipv4Header ip = new Ipv4Header();
        final TcpHeader tcp = new TcpHeader();
        for (final Pcap.Packet p : Pcap.read(Path.of(PptpLayoutTest.class.getResource("/captures/pptp.pcap").toURI())))
        {
            final UnsafeBuffer b = p.buffer();
            if (ip.wrap(b, p.l3Offset(), p.l3Length()) && ip.protocol() == 6 && tcp.wrap(b, ip.payloadOffset(), ip.payloadLength())
                && ip.payloadLength() > tcp.headerLength())
            {
                final int at = ip.payloadOffset() + tcp.headerLength();
                final byte[] m = new byte[PptpControl.length(b, at)];
                b.getBytes(at, m);
                messages.add(m);
            }
        }
        return messages;
    }

    private static byte[] slice(final byte[] b, final int from, final int to)
    {
        final byte[] out = new byte[to - from];
        System.arraycopy(b, from, out, 0, out.length);
        return out;
    }

    @Test
    void encoderMatchesTheCapturedLayouts() throws Exception
    {
        final List<byte[]> messages = controlMessages();
        int checked = 0;
        for (final byte[] m : messages)
        {
            final UnsafeBuffer captured = new UnsafeBuffer(m);
            final int type = PptpControl.controlType(captured, 0);
            assertEquals(PptpControl.size(type), m.length, PptpControl.name(type) + " has its RFC size");
            final UnsafeBuffer ours = new UnsafeBuffer(new byte[m.length]);
            switch (type)
            {
                case PptpControl.OUTGOING_CALL_REQUEST ->
                {
                    PptpControl.outgoingCallRequest(ours, 0, PptpControl.field(captured, 0, 12),
                        PptpControl.field(captured, 0, 14));
                    // header, Call ID, serial, min/max bps, bearer and framing type, window (36 bytes)
                    assertArrayEquals(slice(m, 0, 36), slice(ours.byteArray(), 0, 36), "OCRQ layout");
                    checked++;
                }
                case PptpControl.OUTGOING_CALL_REPLY ->
                {
                    PptpControl.outgoingCallReply(ours, 0, PptpControl.field(captured, 0, 12),
                        PptpControl.field(captured, 0, 14), m[16]);
                    assertArrayEquals(m, ours.byteArray(), "OCRP layout");
                    checked++;
                }
                case PptpControl.SET_LINK_INFO ->
                {
                    PptpControl.withFirstCallId(ours, 0, type, PptpControl.field(captured, 0, 12));
                    assertArrayEquals(m, ours.byteArray(), "SLI layout");
                    checked++;
                }
                case PptpControl.START_CONTROL_CONNECTION_REQUEST, PptpControl.START_CONTROL_CONNECTION_REPLY ->
                {
                    if (type == PptpControl.START_CONTROL_CONNECTION_REQUEST)
                    {
                        PptpControl.startRequest(ours, 0, "");
                    }
                    else
                    {
                        PptpControl.startReply(ours, 0, m[14]);
                    }
                    assertArrayEquals(slice(m, 0, 14), slice(ours.byteArray(), 0, 14), PptpControl.name(type) + " header and version");
                    checked++;
                }
                default -> throw new AssertionError("unexpected " + PptpControl.name(type));
            }
        }
        assertTrue(checked >= 5, "messages compared: " + checked);
    }

    @Test
    void greVersionZeroIsNeverPptp() throws Exception
    {
        final NatEngine engine = new NatEngine(NatConfig.defaults(Packets.ip("203.0.113.1"), Packets.ip("10.0.0.1"), 2, 256),
            new CounterSet(), (b, o, l, d) -> { }, 10, 0);
        final PptpHelper pptp = new PptpHelper(4, 4, 4, PptpHelper.OnInvalid.RESET, 1);
        engine.register(pptp);
        final Ipv4Header ip = new Ipv4Header();
        int gre = 0;
        for (final String file : new String[] {"various_gre.pcap", "zeek-gre-sample.pcap", "gre-heapoverflow-1.pcap",
            "gre-heapoverflow-2.pcap"})
        {
            for (final Pcap.Packet p : Pcap.read(Path.of(PptpLayoutTest.class.getResource("/captures/" + file).toURI())))
            {
                final UnsafeBuffer b = p.buffer();
                if (p.isIpv4() && ip.wrap(b, p.l3Offset(), p.l3Length()) && ip.protocol() == 47)
                {
                    gre++;
                    assertEquals(Helper.NOT_MINE, pptp.outboundOther(ip, 0), file + " packet " + p.index());
                    assertEquals(Helper.NOT_MINE, pptp.inboundOther(ip, 0), file + " packet " + p.index());
                }
            }
        }
        assertTrue(gre >= 70, "GRE packets looked at: " + gre);
    }
}

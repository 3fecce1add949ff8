package io.passgate.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.passgate.fuzz.PacketChecks;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Fuzz targets for the wire flyweights (seeds: WireFuzzTestInputs, made from the captures and the tests'
 * packets by io.passgate.fuzz.SeedCorpus). The bytes sit in a buffer exactly their size, so a read past the
 * end throws (Agrona's bounds checks). Beyond "no exception": every view's offsets and lengths stay inside
 * what it was given, and a rewrite through the views (as the NAT does: address, ports, ICMP identifier, MSS)
 * of a checksum-correct packet leaves it checksum-correct.
 */
class WireFuzzTest
{
    private final Ipv4Header ip = new Ipv4Header();
    private final TcpHeader tcp = new TcpHeader();
    private final UdpHeader udp = new UdpHeader();
    private final IcmpHeader icmp = new IcmpHeader();
    private final GreHeader gre = new GreHeader();
    private final EspHeader esp = new EspHeader();
    private final IkeHeader ike = new IkeHeader();
    private final L2tpHeader l2tp = new L2tpHeader();
    private final PortsHeader ports = new PortsHeader();

    /**
     * First byte: control (bit 0 repair the checksums, bit 1 set the total length to what is there, bits 2-7
     * mix the rewrite values); the rest: an IPv4 packet.
     */
    @FuzzTest(maxDuration = "15s")
    void ipv4Packet(final byte[] data)
    {
        if (data.length < 1)
        {
            return;
        }
        final int control = data[0] & 0xFF;
        final int n = data.length - 1;
        final UnsafeBuffer b = new UnsafeBuffer(new byte[n]);
        b.putBytes(0, data, 1, n);
        final boolean valid = (control & 1) != 0 ? PacketChecks.repair(b, 0, n, (control & 2) != 0)
            : PacketChecks.checksumsValid(b, 0, n);

        if (ip.wrapQuoted(b, 0, n))
        {
            assertTrue(ip.totalLength() <= n && ip.headerLength() >= 20 && ip.payloadOffset() + ip.payloadLength() <= n);
            transports(b, ip.protocol(), ip.payloadOffset(), ip.payloadLength());
        }
        if (!ip.wrap(b, 0, n))
        {
            assertTrue(ip.error() != 0, "a refusal names its reason");
            return;
        }
        assertTrue(ip.totalLength() <= n, "total length within what arrived");
        assertEquals(ip.totalLength(), ip.payloadOffset() + ip.payloadLength());
        transports(b, ip.protocol(), ip.payloadOffset(), ip.payloadLength());
        if (valid)
        {
            rewrite(b, n, control);
        }
    }

    /** Tunnel and control payloads on their own (GRE, ESP, IKE, L2TP, PPTP control) at a fuzzed offset. */
    @FuzzTest(maxDuration = "15s")
    void tunnelPayload(final byte[] data)
    {
        final UnsafeBuffer b = new UnsafeBuffer(data);
        final int n = data.length;
        transports(b, 47, 0, n);
        transports(b, 50, 0, n);
        ikeAndL2tp(b, 0, n);
        if (n >= PptpControl.HEADER_LENGTH)
        {
            final int type = PptpControl.controlType(b, 0);
            final int length = PptpControl.length(b, 0);
            if (PptpControl.validType(type) && length == PptpControl.size(type) && length <= n)
            {
                final int callId = PptpControl.outboundCallIdOffset(type);
                final int peer = PptpControl.inboundPeerCallIdOffset(type);
                assertTrue(callId < 0 || callId + 2 <= length, "the Call ID field lies in the message");
                assertTrue(peer < 0 || peer + 2 <= length, "the peer's Call ID field lies in the message");
            }
        }
    }

    private void transports(final UnsafeBuffer b, final int protocol, final int at, final int length)
    {
        final int end = at + length;
        switch (protocol)
        {
            case 6 ->
            {
                if (tcp.wrap(b, at, length))
                {
                    assertTrue(tcp.headerLength() >= 20 && at + tcp.headerLength() <= end);
                    final int mss = tcp.mssOptionOffset();
                    assertTrue(mss < 0 || (mss >= at + 20 && mss + 2 <= at + tcp.headerLength()), "MSS inside the options");
                    tcp.sourcePort();
                    tcp.flags();
                    tcp.sequence();
                }
            }
            case 17 ->
            {
                if (udp.wrap(b, at, length))
                {
                    assertTrue(udp.length() >= 8 && udp.payloadOffset() + udp.payloadLength() <= end);
                    ikeAndL2tp(b, udp.payloadOffset(), udp.payloadLength());
                }
            }
            case 1 ->
            {
                if (icmp.wrap(b, at, length))
                {
                    assertTrue(icmp.embeddedOffset() + icmp.embeddedLength() <= end);
                    if (icmp.isError())
                    {
                        final Ipv4Header inner = new Ipv4Header();
                        if (inner.wrapQuoted(b, icmp.embeddedOffset(), icmp.embeddedLength()))
                        {
                            assertTrue(inner.payloadOffset() + inner.payloadLength() <= end, "quote inside the error");
                        }
                    }
                }
            }
            case 47 ->
            {
                if (gre.wrap(b, at, length))
                {
                    assertTrue(gre.headerLength() >= 4 && gre.payloadOffset() + gre.payloadLength() <= end,
                        "GRE payload inside the packet");
                    if (gre.isPptp())
                    {
                        gre.callId();
                        gre.pptpPayloadLength();
                    }
                    gre.hasSequence();
                }
                else
                {
                    assertTrue(GreHeader.describe(gre.error()) != null);
                }
            }
            case 50 ->
            {
                if (esp.wrap(b, at, length))
                {
                    assertTrue(esp.spi() != 0 && esp.offset() + 8 + esp.payloadLength() <= end);
                }
            }
            case PortsHeader.SCTP, PortsHeader.DCCP, PortsHeader.UDPLITE ->
            {
                if (ports.wrap(b, at, length, protocol))
                {
                    assertTrue(ports.offset() + ports.length() <= end);
                }
            }
            default ->
            {
            }
        }
    }

    private void ikeAndL2tp(final UnsafeBuffer b, final int at, final int length)
    {
        if (ike.wrap(b, at, length))
        {
            ike.initiatorSpi();
            ike.exchangeType();
            ike.createsSas();
        }
        if (l2tp.wrap(b, at, length))
        {
            assertTrue(l2tp.length() <= length, "L2TP length inside the datagram");
            if (l2tp.control())
            {
                if (l2tp.readAvps())
                {
                    final int t = l2tp.assignedTunnelIdOffset();
                    assertTrue(t < 0 || (t >= at && t + 2 <= at + length), "Assigned Tunnel ID inside the message");
                    L2tpHeader.messageName(l2tp.messageType());
                }
            }
            l2tp.tunnelId();
            l2tp.sessionId();
        }
    }

    /** As the NAT rewrites: new source address and port (or ICMP identifier), MSS clamp; checksums still verify. */
    private void rewrite(final UnsafeBuffer b, final int n, final int control)
    {
        final int newAddress = 0xCB007101 + (control >>> 2);
        final int newPort = 1024 + control * 251;
        final int old = ip.source();
        ip.source(newAddress);
        if (!ip.isFragment())
        {
            final int at = ip.payloadOffset();
            final int l4 = ip.payloadLength();
            switch (ip.protocol())
            {
                case 6 ->
                {
                    if (tcp.wrap(b, at, l4))
                    {
                        tcp.addressChanged(old, newAddress, false).sourcePort(newPort, false);
                        tcp.clampMss(536 + control, false);
                    }
                }
                case 17 ->
                {
                    if (udp.wrap(b, at, l4))
                    {
                        udp.addressChanged(old, newAddress, false).sourcePort(newPort, false);
                    }
                }
                case 1 ->
                {
                    if (icmp.wrap(b, at, l4) && IcmpHeader.isQueryRequest(icmp.type()))
                    {
                        icmp.identifier(newPort);
                    }
                }
                case PortsHeader.SCTP, PortsHeader.DCCP, PortsHeader.UDPLITE ->
                {
                    if (ports.wrap(b, at, l4, ip.protocol()))
                    {
                        ports.addressChanged(old, newAddress, false).sourcePort(newPort, false).finish(false);
                    }
                }
                default ->
                {
                }
            }
        }
        assertTrue(PacketChecks.checksumsValid(b, 0, n), "checksums verify after the rewrite");
    }
}

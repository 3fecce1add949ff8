package io.passgate.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeMap;
import java.util.stream.Stream;

import io.passgate.pcap.Pcap;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * Parses every packet of every capture in src/test/resources/captures (copied from ../shared/captures) with
 * the wire views. Well-formed packets parse to the values tcpdump shows; malformed ones are rejected with a
 * reason, never with an exception out of a view.
 */
class CaptureReplayTest
{
    /** Counts of what the views made of one capture. */
    static final class Tally
    {
        final TreeMap<String, Integer> counts = new TreeMap<>();

        void add(final String what)
        {
            counts.merge(what, 1, Integer::sum);
        }

        int get(final String what)
        {
            return counts.getOrDefault(what, 0);
        }
    }

    private final Ipv4Header ip = new Ipv4Header();
    private final TcpHeader tcp = new TcpHeader();
    private final UdpHeader udp = new UdpHeader();
    private final IcmpHeader icmp = new IcmpHeader();
    private final GreHeader gre = new GreHeader();
    private final EspHeader esp = new EspHeader();

    static Path captures() throws URISyntaxException
    {
        return Path.of(CaptureReplayTest.class.getResource("/captures/pptp.pcap").toURI()).getParent();
    }

    Tally dissect(final String file) throws Exception
    {
        final Tally tally = new Tally();
        for (final Pcap.Packet p : Pcap.read(captures().resolve(file)))
        {
            final UnsafeBuffer b = p.buffer();
            if (p.isIpv4())
            {
                ipv4(b, p.l3Offset(), p.l3Length(), tally);
            }
            else if (p.isIpv6() && p.l3Length() >= 40)
            {
                final int next = b.getByte(p.l3Offset() + 6) & 0xFF;
                tally.add("ipv6");
                if (next == 4)
                {
                    ipv4(b, p.l3Offset() + 40, p.l3Length() - 40, tally);
                }
                else
                {
                    transport(next, b, p.l3Offset() + 40, p.l3Length() - 40, tally);
                }
            }
            else
            {
                tally.add("not-ip");
            }
        }
        return tally;
    }

    private void ipv4(final UnsafeBuffer b, final int offset, final int length, final Tally tally)
    {
        if (!ip.wrap(b, offset, length))
        {
            tally.add("ipv4-rejected:" + Ipv4Header.describe(ip.error()));
            return;
        }
        tally.add("ipv4");
        if (!ip.checksumValid())
        {
            tally.add("ipv4-bad-checksum");
        }
        if (ip.isFragment() && ip.fragmentOffset() > 0)
        {
            tally.add("fragment");
            return;
        }
        transport(ip.protocol(), b, ip.payloadOffset(), ip.payloadLength(), tally);
    }

    private void transport(final int protocol, final UnsafeBuffer b, final int offset, final int length,
        final Tally tally)
    {
        switch (protocol)
        {
            case 6 -> tally.add(tcp.wrap(b, offset, length) ? "tcp" : "tcp-rejected");
            case 17 ->
            {
                if (udp.wrap(b, offset, length))
                {
                    tally.add("udp");
                    final int port = Math.min(udp.sourcePort(), udp.destinationPort());
                    if (udp.destinationPort() == 4500 || udp.sourcePort() == 4500)
                    {
                        // RFC 3948: a non-ESP marker (four zero bytes) means IKE, else ESP
                        final int payload = udp.payloadLength();
                        if (payload == 1 && (b.getByte(udp.payloadOffset()) & 0xFF) == 0xFF)
                        {
                            tally.add("natt-keepalive");
                        }
                        else if (payload >= 4 && b.getInt(udp.payloadOffset()) == 0)
                        {
                            tally.add("natt-ike");
                        }
                        else
                        {
                            tally.add(esp.wrap(b, udp.payloadOffset(), payload) ? "udp-esp" : "udp-esp-rejected");
                        }
                    }
                    else if (port == 500)
                    {
                        tally.add("ike");
                    }
                    else if (udp.destinationPort() == 1701 || udp.sourcePort() == 1701)
                    {
                        tally.add("l2tp");
                    }
                }
                else
                {
                    tally.add("udp-rejected");
                }
            }
            case 1 -> tally.add(icmp.wrap(b, offset, length) ? "icmp" : "icmp-rejected");
            case 47 ->
            {
                if (gre.wrap(b, offset, length))
                {
                    tally.add(gre.isPptp() ? "gre-v1" : "gre-v0");
                }
                else
                {
                    tally.add("gre-rejected:" + GreHeader.describe(gre.error()));
                }
            }
            case 50 -> tally.add(esp.wrap(b, offset, length) ? "esp" : "esp-rejected");
            default -> tally.add("proto-" + protocol);
        }
    }

    @Test
    void everyCaptureParsesWithoutAnException() throws Exception
    {
        final List<Path> files;
        try (Stream<Path> s = Files.list(captures()))
        {
            files = s.filter(f -> f.toString().endsWith(".pcap")).sorted().toList();
        }
        assertEquals(15, files.size(), "all 14 captures from ../shared/captures are here, and passgate's own xl2tpd one");
        int packets = 0;
        for (final Path f : files)
        {
            final Tally t = dissect(f.getFileName().toString());
            packets += t.counts.values().stream().mapToInt(Integer::intValue).sum();
        }
        assertTrue(packets > 300);
    }

    @Test
    void pptpCapture() throws Exception
    {
        final Tally t = dissect("pptp.pcap");
        assertEquals(22, t.get("tcp"));
        assertEquals(1, t.get("gre-v1"));
        assertEquals(23, t.get("ipv4"));
        assertEquals(0, t.get("ipv4-bad-checksum"));
    }

    @Test
    void zeekPptpOverIpv6() throws Exception
    {
        final Tally t = dissect("zeek-gre-pptp.pcap");
        assertEquals(2, t.get("ipv6"));
        assertEquals(2, t.get("gre-v1"));
    }

    /** GRE v0 of many kinds: none of it is PPTP. */
    @Test
    void variousGreIsNeverPptp() throws Exception
    {
        final Tally various = dissect("various_gre.pcap");
        assertEquals(0, various.get("gre-v1"));
        assertTrue(various.get("gre-v0") >= 30, various.counts.toString());
        final Tally sample = dissect("zeek-gre-sample.pcap");
        assertEquals(0, sample.get("gre-v1"));
        assertEquals(40, sample.get("gre-v0"), sample.counts.toString());
    }

    @Test
    void espCaptures() throws Exception
    {
        assertEquals(8, dissect("02-sunrise-sunset-esp.pcap").get("esp"));
        assertEquals(8, dissect("08-sunrise-sunset-esp2.pcap").get("esp"));
        final Tally udp = dissect("espudp1.pcap");
        assertEquals(8, udp.get("udp-esp") + udp.get("natt-ike") + udp.get("natt-keepalive"), udp.counts.toString());
        assertTrue(udp.get("udp-esp") >= 6);
    }

    @Test
    void ikeCaptures() throws Exception
    {
        assertEquals(9, dissect("ISAKMP_sa_setup.pcap").get("ike"));
        final Tally four = dissect("ikev2four.pcap");
        assertEquals(21, four.get("ike"), four.counts.toString());
        final Tally natt = dissect("isakmp4500.pcap");
        assertTrue(natt.get("natt-ike") > 0 && natt.get("udp-esp") + natt.get("natt-keepalive") > 0,
            natt.counts.toString());
    }

    @Test
    void malformedCapturesAreRejectedCleanly() throws Exception
    {
        final Tally trunc = dissect("esp_truncated.pcap");
        assertEquals(1, trunc.get("ipv4-rejected:total length out of range"), trunc.counts.toString());
        final Tally h1 = dissect("gre-heapoverflow-1.pcap");
        final Tally h2 = dissect("gre-heapoverflow-2.pcap");
        assertEquals(0, h1.get("gre-v1") + h2.get("gre-v1") + h1.get("gre-v0") + h2.get("gre-v0"),
            h1.counts + " " + h2.counts);
        final Tally l2tp = dissect("l2tp-avp-overflow.pcap");
        assertEquals(20, l2tp.counts.values().stream().mapToInt(Integer::intValue).sum());
    }
}

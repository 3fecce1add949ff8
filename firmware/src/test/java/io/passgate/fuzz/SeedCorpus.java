package io.passgate.fuzz;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import io.passgate.nat.Packets;
import io.passgate.nfq.Netlink;
import io.passgate.pcap.Pcap;
import io.passgate.sys.Linux;
import io.passgate.wire.IcmpHeader;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.L2tpMessages;
import io.passgate.wire.PptpControl;
import io.passgate.wire.TcpHeader;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Writes the fuzz targets' seed corpora (src/test/resources/io/passgate/.../*FuzzTestInputs/<target>/) from
 * the captures (src/test/resources/captures, copied from ../shared/captures) and the packets the unit tests
 * build. Deterministic (fixed random seed), file names are content hashes. Run by {@code tools/bin/fuzz
 * --seeds}; the seeds are committed.
 *
 * <p>Usage: {@code SeedCorpus CAPTURES_DIR RESOURCES_DIR}
 */
public final class SeedCorpus
{
    private static final int A = Packets.ip("10.0.0.11");
    private static final int WAN = Packets.ip("203.0.113.1");
    private static final int S1 = Packets.ip("198.51.100.10");
    private static final int MAX_PACKET = 320;

    private final Path resources;
    private int files;
    private long bytes;

    private SeedCorpus(final Path resources)
    {
        this.resources = resources;
    }

    public static void main(final String[] args) throws Exception
    {
        final Path captures = Path.of(args[0]);
        final SeedCorpus seeds = new SeedCorpus(Path.of(args[1]));
        final List<List<byte[]>> pcaps = new ArrayList<>();
        try (Stream<Path> list = Files.list(captures))
        {
            for (final Path p : list.filter(f -> f.toString().endsWith(".pcap")).sorted().toList())
            {
                final List<byte[]> packets = new ArrayList<>();
                for (final Pcap.Packet packet : Pcap.read(p))
                {
                    if (packet.isIpv4())
                    {
                        final byte[] l3 = new byte[Math.min(packet.l3Length(), MAX_PACKET)];
                        System.arraycopy(packet.data(), packet.l3Offset(), l3, 0, l3.length);
                        packets.add(l3);
                    }
                }
                pcaps.add(packets);
            }
        }
        final List<byte[]> built = built();
        seeds.wire(pcaps, built);
        seeds.engine(pcaps);
        seeds.pptp();
        seeds.tunnels(pcaps);
        seeds.nfq(pcaps, built);
        seeds.text();
        System.out.println("seed corpus: " + seeds.files + " files, " + seeds.bytes + " bytes");
    }

    /** The tests' own packets: TCP with flags and MSS, UDP, ICMP queries and errors, fragments, GRE, others. */
    private static List<byte[]> built()
    {
        final List<UnsafeBuffer> p = new ArrayList<>();
        p.add(Packets.tcp(A, 33000, S1, 443, TcpHeader.SYN, 1460, 0));
        p.add(Packets.tcp(S1, 443, WAN, 33000, TcpHeader.SYN | TcpHeader.ACK, 1400, 0));
        p.add(Packets.tcp(A, 33000, S1, 443, TcpHeader.ACK, 0, 64));
        p.add(Packets.tcp(A, 33000, S1, 443, TcpHeader.FIN | TcpHeader.ACK, 0, 0));
        p.add(Packets.tcp(S1, 443, WAN, 33000, TcpHeader.RST, 0, 0));
        p.add(Packets.udp(A, 5000, S1, 53, 32));
        p.add(Packets.udp(S1, 53, WAN, 5000, 32));
        p.add(Packets.udp(A, 500, S1, 500, 28));
        p.add(Packets.udp(A, 1701, S1, 1701, Packets.sccrq(7)));
        p.add(Packets.icmpQuery(A, S1, IcmpHeader.ECHO_REQUEST, 99, 1));
        p.add(Packets.icmpQuery(S1, WAN, IcmpHeader.ECHO_REPLY, 99, 1));
        final UnsafeBuffer quoted = Packets.udp(WAN, 5000, S1, 53, 8);
        p.add(Packets.icmpError(S1, WAN, 3, 3, quoted, 28));
        p.add(Packets.icmpError(S1, WAN, 3, 4, Packets.tcp(WAN, 33000, S1, 443, TcpHeader.ACK, 0, 0), 40));
        p.add(Packets.pptpGre(A, S1, 5, 1, new byte[12]));
        p.add(Packets.other(A, S1, 50, 24));
        p.add(Packets.other(A, S1, 41, 24));
        p.add(Packets.ported(132, A, 5000, S1, 6000, 16));
        p.add(Packets.ported(33, A, 5000, S1, 6000, 16));
        p.add(Packets.ported(136, A, 5000, S1, 6000, 16));
        final UnsafeBuffer first = Packets.udp(A, 5001, S1, 53, 64);
        first.putShort(Packets.OFFSET + 6, (short)0x2000, ByteOrder.BIG_ENDIAN);   // more fragments
        p.add(first);
        final UnsafeBuffer later = Packets.other(A, S1, 17, 40);
        later.putShort(Packets.OFFSET + 6, (short)0x0009, ByteOrder.BIG_ENDIAN);   // offset 72
        p.add(later);
        final List<byte[]> out = new ArrayList<>();
        for (final UnsafeBuffer b : p)
        {
            out.add(Packets.bytes(b, Packets.OFFSET, Packets.length(b)));
        }
        return out;
    }

    private void wire(final List<List<byte[]>> pcaps, final List<byte[]> built) throws IOException
    {
        final Random random = new Random(12);
        for (final List<byte[]> packets : pcaps)
        {
            for (int i = 0; i < packets.size() && i < 12; i++)
            {
                final byte[] packet = packets.get(random.nextInt(packets.size()));
                write("wire/WireFuzzTestInputs/ipv4Packet", prefixed(0, packet));
                final Ipv4Header ip = new Ipv4Header();
                final UnsafeBuffer b = new UnsafeBuffer(packet);
                if (ip.wrapQuoted(b, 0, packet.length))
                {
                    final byte[] l4 = new byte[ip.payloadLength()];
                    b.getBytes(ip.payloadOffset(), l4);
                    write("wire/WireFuzzTestInputs/tunnelPayload", l4.length > 8 && ip.protocol() == 17
                        ? java.util.Arrays.copyOfRange(l4, 8, l4.length) : l4);
                }
            }
        }
        for (final byte[] packet : built)
        {
            write("wire/WireFuzzTestInputs/ipv4Packet", prefixed(0, packet));
            write("wire/WireFuzzTestInputs/ipv4Packet", prefixed(3, packet));
        }
        write("wire/WireFuzzTestInputs/tunnelPayload", Packets.sccrq(9));
        write("wire/WireFuzzTestInputs/tunnelPayload", L2tpMessages.zlb(9, 1, 1));
        write("wire/WireFuzzTestInputs/tunnelPayload", pptpMessages().get(2));
    }

    /** Each capture as one sequence (its first source is the LAN client), and the tests' sessions. */
    private void engine(final List<List<byte[]>> pcaps) throws IOException
    {
        for (final List<byte[]> packets : pcaps)
        {
            if (packets.isEmpty())
            {
                continue;
            }
            final int client = new UnsafeBuffer(packets.get(0)).getInt(12, ByteOrder.BIG_ENDIAN);
            final Sequence s = new Sequence();
            for (int i = 0; i < packets.size() && i < 24; i++)
            {
                final byte[] p = packets.get(i);
                final boolean out = p.length >= 20 && new UnsafeBuffer(p).getInt(12, ByteOrder.BIG_ENDIAN) == client;
                s.add(out ? 0x0C : 0x0D, p);
            }
            write("nat/NatEngineFuzzTestInputs/packets", s.bytes());
        }
        // a TCP session opened, used, closed; another reset
        Sequence s = new Sequence();
        s.add(0x0C, tcp(A, 33000, S1, 443, TcpHeader.SYN, 1460));
        s.add(0x0D, tcp(S1, 443, WAN, 33000, TcpHeader.SYN | TcpHeader.ACK, 1400));
        s.add(0x0C, tcp(A, 33000, S1, 443, TcpHeader.ACK, 0));
        s.add(0x0C, tcp(A, 33000, S1, 443, TcpHeader.FIN | TcpHeader.ACK, 0));
        s.add(0x0D, tcp(S1, 443, WAN, 33000, TcpHeader.FIN | TcpHeader.ACK, 0));
        s.add(0x0C, tcp(A, 33001, S1, 443, TcpHeader.SYN, 1460));
        s.add(0x0D, tcp(S1, 443, WAN, 33001, TcpHeader.RST, 0));
        s.add(0x1D, tcp(S1, 443, WAN, 40000, TcpHeader.SYN, 0));   // unsolicited, after time passes
        write("nat/NatEngineFuzzTestInputs/packets", s.bytes());
        // UDP and ICMP both ways, an ICMP error for the UDP session, a hairpin, fragments, another protocol
        s = new Sequence();
        s.add(0x0C, bytes(Packets.udp(A, 5000, S1, 53, 32)));
        s.add(0x0D, bytes(Packets.udp(S1, 53, WAN, 5000, 32)));
        s.add(0x0C, bytes(Packets.icmpQuery(A, S1, IcmpHeader.ECHO_REQUEST, 99, 1)));
        s.add(0x0D, bytes(Packets.icmpQuery(S1, WAN, IcmpHeader.ECHO_REPLY, 99, 1)));
        s.add(0x0D, bytes(Packets.icmpError(S1, WAN, 3, 3, Packets.udp(WAN, 5000, S1, 53, 8), 28)));
        s.add(0x0E, bytes(Packets.udp(A, 6000, WAN, 5000, 16)));   // hairpin: LAN to the WAN address
        s.add(0x0C, bytes(Packets.other(A, S1, 47, 24)));
        final UnsafeBuffer later = Packets.other(A, S1, 17, 40);
        later.putShort(Packets.OFFSET + 6, (short)0x0009, ByteOrder.BIG_ENDIAN);
        s.add(0x0C, bytes(later));
        s.add(0x0D, bytes(Packets.udp(S1, 53, WAN, 5000, 32)));
        write("nat/NatEngineFuzzTestInputs/packets", s.bytes());
        // more sessions than the table holds (refusals, eviction), then expiry
        s = new Sequence();
        for (int i = 0; i < 40; i++)
        {
            s.add(0x0C | ((i & 3) << 6), bytes(Packets.udp(A, 7000 + i, S1, 53, 4)));
        }
        s.add(0x1C, bytes(Packets.udp(A, 8000, S1, 53, 4)));
        write("nat/NatEngineFuzzTestInputs/packets", s.bytes());
        // PPTP control connection opening and a call, with GRE
        s = new Sequence();
        s.add(0x0C, tcp(A, 41000, S1, PptpControl.PORT, TcpHeader.SYN, 1460));
        s.add(0x0D, tcp(S1, PptpControl.PORT, WAN, 41000, TcpHeader.SYN | TcpHeader.ACK, 1460));
        long seq = 1001;
        for (final byte[] m : pptpMessages())
        {
            final int type = PptpControl.controlType(new UnsafeBuffer(m), 0);
            final boolean fromClient = fromClient(type);
            s.add(fromClient ? 0x0C : 0x0D, bytes(fromClient
                ? Packets.tcpSegment(A, 41000, S1, PptpControl.PORT, TcpHeader.ACK | TcpHeader.PSH, seq, 5001, m, 0, m.length)
                : Packets.tcpSegment(S1, PptpControl.PORT, WAN, 41000, TcpHeader.ACK | TcpHeader.PSH, 5001, seq, m, 0, m.length)));
            seq += fromClient ? m.length : 0;
        }
        s.add(0x0C, bytes(Packets.pptpGre(A, S1, 500, 1, new byte[16])));
        write("nat/NatEngineFuzzTestInputs/packets", s.bytes());
    }

    /** The PPTP stream after SCCRQ/SCCRP: a call set up and torn down, cut at random points. */
    private void pptp() throws IOException
    {
        final List<byte[]> messages = pptpMessages().subList(2, pptpMessages().size());
        final Random random = new Random(7);
        for (int variant = 0; variant < 8; variant++)
        {
            final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            for (final byte[] m : messages)
            {
                final int type = PptpControl.controlType(new UnsafeBuffer(m), 0);
                final boolean fromServer = !fromClient(type);
                int at = 0;
                while (at < m.length)
                {
                    final int n = variant == 0 ? m.length : Math.min(m.length - at, 1 + random.nextInt(m.length));
                    out.write((fromServer ? 1 : 0) | (variant >= 4 && at == 0 ? 2 : 0));
                    out.write(n);
                    out.write(m, at, n);
                    at += n;
                }
            }
            write("alg/PptpStreamFuzzTestInputs/controlStream", out.toByteArray());
        }
    }

    /** Who sends a control message: the PNS (the LAN client) or the PAC (the server). */
    private static boolean fromClient(final int type)
    {
        return switch (type)
        {
            case PptpControl.START_CONTROL_CONNECTION_REQUEST, PptpControl.STOP_CONTROL_CONNECTION_REQUEST,
                PptpControl.OUTGOING_CALL_REQUEST, PptpControl.INCOMING_CALL_REPLY, PptpControl.CALL_CLEAR_REQUEST,
                PptpControl.SET_LINK_INFO, PptpControl.ECHO_REQUEST -> true;
            default -> false;
        };
    }

    /** IKE, NAT-T and L2TP datagrams of the captures, as records of the helpers' target (port, direction). */
    private void tunnels(final List<List<byte[]>> pcaps) throws IOException
    {
        for (final List<byte[]> packets : pcaps)
        {
            final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            int client = 0;
            for (final byte[] p : packets)
            {
                final Ipv4Header ip = new Ipv4Header();
                final UnsafeBuffer b = new UnsafeBuffer(p);
                if (!ip.wrapQuoted(b, 0, p.length) || ip.isFragment() || ip.payloadLength() < 8)
                {
                    continue;
                }
                final boolean esp = ip.protocol() == 50;
                final int sport = b.getShort(ip.payloadOffset(), ByteOrder.BIG_ENDIAN) & 0xFFFF;
                final int dport = b.getShort(ip.payloadOffset() + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF;
                final int port = Math.min(sport, dport);
                final int portBits = port == 500 ? 0 : port == 4500 ? 1 : port == 1701 ? 2 : -1;
                if (!esp && (ip.protocol() != 17 || portBits < 0))
                {
                    continue;
                }
                if (client == 0)
                {
                    client = ip.source();
                }
                final int from = esp ? ip.payloadOffset() : ip.payloadOffset() + 8;
                final int n = Math.min(255, ip.payloadOffset() + ip.payloadLength() - from);
                out.write((ip.source() == client ? 0 : 1) | ((esp ? 0 : portBits) << 1) | (esp ? 32 : 0));
                out.write(n);
                out.write(p, from, n);
                if (out.size() > 3000)
                {
                    break;
                }
            }
            if (out.size() > 0)
            {
                write("alg/TunnelHelpersFuzzTestInputs/ikeAndL2tp", out.toByteArray());
            }
        }
        final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (final byte[] m : List.of(Packets.sccrq(7), L2tpMessages.zlb(7, 1, 1), L2tpMessages.data(7, 3, new byte[12])))
        {
            out.write(4);
            out.write(m.length);
            out.write(m, 0, m.length);
        }
        write("alg/TunnelHelpersFuzzTestInputs/ikeAndL2tp", out.toByteArray());
    }

    /** SCCRQ, SCCRP, OCRQ, OCRP, SLI, ICRQ, ICRP, CCRQ, CDN, StopCCRQ, StopCCRP. */
    private static List<byte[]> pptpMessages()
    {
        final List<byte[]> m = new ArrayList<>();
        UnsafeBuffer b = new UnsafeBuffer(new byte[156]);
        PptpControl.startRequest(b, 0, "client");
        m.add(b.byteArray());
        b = new UnsafeBuffer(new byte[156]);
        PptpControl.startReply(b, 0, PptpControl.RESULT_OK);
        m.add(b.byteArray());
        b = new UnsafeBuffer(new byte[168]);
        PptpControl.outgoingCallRequest(b, 0, 1, 1);
        m.add(b.byteArray());
        b = new UnsafeBuffer(new byte[32]);
        PptpControl.outgoingCallReply(b, 0, 500, 1, PptpControl.RESULT_OK);
        m.add(b.byteArray());
        m.add(first(PptpControl.SET_LINK_INFO, 500));
        b = new UnsafeBuffer(new byte[PptpControl.size(PptpControl.INCOMING_CALL_REQUEST)]);
        PptpControl.incomingCallRequest(b, 0, 600);
        m.add(b.byteArray());
        b = new UnsafeBuffer(new byte[PptpControl.size(PptpControl.INCOMING_CALL_REPLY)]);
        PptpControl.incomingCallReply(b, 0, 2, 600);
        m.add(b.byteArray());
        m.add(first(PptpControl.CALL_CLEAR_REQUEST, 1));
        m.add(first(PptpControl.CALL_DISCONNECT_NOTIFY, 500));
        m.add(simple(PptpControl.STOP_CONTROL_CONNECTION_REQUEST));
        m.add(simple(PptpControl.STOP_CONTROL_CONNECTION_REPLY));
        return m;
    }

    private static byte[] first(final int type, final int callId)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[PptpControl.size(type)]);
        PptpControl.withFirstCallId(b, 0, type, callId);
        return b.byteArray();
    }

    private static byte[] simple(final int type)
    {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[PptpControl.size(type)]);
        PptpControl.simple(b, 0, type);
        return b.byteArray();
    }

    /** NFQNL_MSG_PACKET messages around packets, with and without the optional attributes. */
    private void nfq(final List<List<byte[]>> pcaps, final List<byte[]> built) throws IOException
    {
        final List<byte[]> packets = new ArrayList<>(built.subList(0, 6));
        for (final List<byte[]> p : pcaps)
        {
            if (!p.isEmpty())
            {
                packets.add(p.get(0));
            }
        }
        int id = 1;
        for (final byte[] packet : packets)
        {
            final UnsafeBuffer b = new UnsafeBuffer(new byte[1 + 128 + packet.length]);
            final int start = 1;
            int at = Netlink.putNfHeader(b, start, Linux.NFNL_SUBSYS_QUEUE, Linux.NFQNL_MSG_PACKET, 0, 0, 2, id % 4);
            final int hdr = Netlink.putAttrHeader(b, at, Linux.NFQA_PACKET_HDR, 7);
            b.putInt(hdr, id, ByteOrder.BIG_ENDIAN);
            b.putShort(hdr + 4, (short)0x0800, ByteOrder.BIG_ENDIAN);
            b.putByte(hdr + 6, (byte)(id % 5));
            at = Netlink.align(hdr + 7);
            if ((id & 1) == 0)
            {
                at = Netlink.putAttrU32Be(b, at, Linux.NFQA_MARK, 0x100000);
                at = Netlink.putAttrU32Be(b, at, Linux.NFQA_IFINDEX_INDEV, 2);
                at = Netlink.putAttrU32Be(b, at, Linux.NFQA_SKB_INFO, 1);
                at = Netlink.putAttrU32Be(b, at, Linux.NFQA_CAP_LEN, packet.length + 100);
            }
            final int payload = Netlink.putAttrHeader(b, at, Linux.NFQA_PAYLOAD, packet.length);
            b.putBytes(payload, packet);
            final int end = Netlink.finish(b, start, payload + packet.length);
            final byte[] message = new byte[end];
            b.getBytes(0, message);
            write("nfq/NfqPacketFuzzTestInputs/message", message);
            id++;
        }
    }

    /** The control API's requests and the shipped config file with variations. */
    private void text() throws IOException
    {
        for (final String json : List.of("{\"cmd\":\"status\"}", "{\"cmd\":\"switch\",\"protocol\":\"pptp\",\"on\":false}",
            "{\"cmd\":\"switch\",\"protocol\":\"pptp\",\"on\":false,\"n\":-12,\"x\":1.5e3,\"s\":\"a\\\"b\\\\c\\u00e9\\n\","
                + "\"a\":[1,[2,{}],null,true],\"o\":{\"p\":{}}}", "{\"cmd\":\"tunnels\"}", "{}"))
        {
            write("control/JsonFuzzTestInputs/parse", json.getBytes(StandardCharsets.UTF_8));
        }
        final Path shipped = resources.resolve("../../main/resources/passgate.conf").normalize();
        final String conf = Files.readString(shipped);
        final String essentials = "lan-interface = eth0\nwan-interface = eth1\nwan-address = auto\n";
        for (final String text : List.of(conf, essentials, essentials + "threads = 2\nnat.max-flows = 1024\n"
                + "nat.port-range = 20000-20999\nnat.filtering = endpoint-independent\npptp.max-calls = 8\n",
            essentials + "translate = off\nfail-open = off\nnat.mss-clamp = 1400\nnat.udp-timeout = 120\n"))
        {
            write("config/ConfigFuzzTestInputs/file", text.getBytes(StandardCharsets.UTF_8));
        }
    }

    private static byte[] tcp(final int src, final int sport, final int dst, final int dport, final int flags, final int mss)
    {
        return bytes(Packets.tcp(src, sport, dst, dport, flags, mss, 0));
    }

    private static byte[] bytes(final UnsafeBuffer b)
    {
        return Packets.bytes(b, Packets.OFFSET, Packets.length(b));
    }

    private static byte[] prefixed(final int control, final byte[] packet)
    {
        final byte[] out = new byte[packet.length + 1];
        out[0] = (byte)control;
        System.arraycopy(packet, 0, out, 1, packet.length);
        return out;
    }

    /** Records of the engine target: control byte, 16-bit length, packet. */
    private static final class Sequence
    {
        private final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();

        void add(final int control, final byte[] packet)
        {
            out.write(control);
            out.write(packet.length >>> 8);
            out.write(packet.length);
            out.write(packet, 0, packet.length);
        }

        byte[] bytes()
        {
            return out.toByteArray();
        }
    }

    private void write(final String dir, final byte[] content) throws IOException
    {
        final Path d = resources.resolve("io/passgate").resolve(dir);
        Files.createDirectories(d);
        final Path f = d.resolve(hash(content));
        if (!Files.exists(f))
        {
            Files.write(f, content);
            files++;
            bytes += content.length;
        }
    }

    private static String hash(final byte[] content)
    {
        try
        {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(content));
        }
        catch (final NoSuchAlgorithmException e)
        {
            throw new IllegalStateException(e);
        }
    }
}

package io.passgate.tools.peers;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.passgate.sys.IpProtocolSocket;
import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.Poller;
import io.passgate.tools.lab.Lab;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.PortsHeader;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * passgate's own peers for IP protocols the lab's kernel does not speak (SCTP without its module, AH without
 * IPsec): raw IP sockets that send a packet and an echo server that answers each packet to its sender. For
 * SCTP the packet is a common header (ports, verification tag, CRC32c) and payload bytes; the echo swaps the
 * ports. Other protocols are echoed byte for byte.
 */
public final class RawPeer
{
    /** What the server saw of one packet: who sent it, from which port (SCTP), and its CRC check. */
    public record Seen(String source, int sourcePort, int destinationPort, boolean crcValid, int length)
    {
    }

    /** What came back to a client: the reply's source, its ports (SCTP) and CRC check; null fields when none. */
    public record Reply(boolean received, String source, int sourcePort, int destinationPort, boolean crcValid,
        byte[] payload)
    {
    }

    private RawPeer()
    {
    }

    private static final int SCTP_HEADER = PortsHeader.SCTP_HEADER_LENGTH;

    /** Writes an SCTP packet (header and payload) at 0 of {@code b}; returns its length. */
    public static int sctp(final UnsafeBuffer b, final int sport, final int dport, final int tag, final byte[] payload)
    {
        b.putShort(0, (short)sport, ByteOrder.BIG_ENDIAN);
        b.putShort(2, (short)dport, ByteOrder.BIG_ENDIAN);
        b.putInt(4, tag, ByteOrder.BIG_ENDIAN);
        b.putBytes(SCTP_HEADER, payload);
        final int length = SCTP_HEADER + payload.length;
        PortsHeader.writeSctpCrc(b, 0, length);
        return length;
    }

    /**
     * An echo server in namespace {@code ns} for IP protocol {@code protocol}: answers up to {@code count}
     * packets (or until {@code timeoutMs} passes without one) and returns what it saw. {@code ready} completes
     * once the socket is open.
     */
    public static CompletableFuture<List<Seen>> echoServer(final String ns, final int protocol, final int count,
        final long timeoutMs, final CompletableFuture<Boolean> ready)
    {
        return Lab.inNamespaceAsync(ns, () ->
        {
            final List<Seen> seen = new ArrayList<>();
            try (IpProtocolSocket socket = IpProtocolSocket.open(protocol); NativeBuffer in = NativeBuffer.allocate(65536);
                NativeBuffer out = NativeBuffer.allocate(65536); Poller poller = new Poller(1))
            {
                poller.add(socket.fd(), Linux.POLLIN);
                ready.complete(true);
                final Ipv4Header ip = new Ipv4Header();
                while (seen.size() < count)
                {
                    if (poller.poll((int)timeoutMs) <= 0)
                    {
                        break;
                    }
                    final long n = socket.receive(in.address(), 65536, Linux.MSG_DONTWAIT);
                    if (n <= 0 || !ip.wrap(in.buffer(), 0, (int)n))
                    {
                        continue;
                    }
                    final int at = ip.payloadOffset();
                    final int length = ip.payloadLength();
                    final UnsafeBuffer o = out.buffer();
                    o.putBytes(0, in.buffer(), at, length);
                    if (protocol == PortsHeader.SCTP && length >= SCTP_HEADER)
                    {
                        final PortsHeader h = new PortsHeader();
                        h.wrap(in.buffer(), at, length, protocol);
                        seen.add(new Seen(Ipv4Header.format(ip.source()), h.sourcePort(), h.destinationPort(),
                            h.checksumValid(0), length));
                        o.putShort(0, (short)h.destinationPort(), ByteOrder.BIG_ENDIAN);
                        o.putShort(2, (short)h.sourcePort(), ByteOrder.BIG_ENDIAN);
                        PortsHeader.writeSctpCrc(o, 0, length);
                    }
                    else
                    {
                        seen.add(new Seen(Ipv4Header.format(ip.source()), 0, 0, true, length));
                    }
                    socket.send(out.address(), length, ip.source());
                }
            }
            return seen;
        });
    }

    /**
     * Sends one packet of {@code protocol} from namespace {@code ns} to {@code destination} (for SCTP with the
     * given ports and {@code payload}; else {@code payload} is the whole protocol packet) and waits up to
     * {@code waitMs} for a packet of that protocol back from it.
     */
    public static Reply exchange(final String ns, final int protocol, final int sport, final String destination,
        final int dport, final byte[] payload, final int waitMs) throws Exception
    {
        return Lab.inNamespace(ns, waitMs + 10_000L, () ->
        {
            try (IpProtocolSocket socket = IpProtocolSocket.open(protocol); NativeBuffer buf = NativeBuffer.allocate(65536);
                Poller poller = new Poller(1))
            {
                final UnsafeBuffer b = buf.buffer();
                final int length;
                if (protocol == PortsHeader.SCTP)
                {
                    length = sctp(b, sport, dport, 0x0BAD_CAFE, payload);
                }
                else
                {
                    b.putBytes(0, payload);
                    length = payload.length;
                }
                final int to = Ipv4Header.parse(destination);
                socket.send(buf.address(), length, to);
                poller.add(socket.fd(), Linux.POLLIN);
                final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
                final Ipv4Header ip = new Ipv4Header();
                while (System.nanoTime() < deadline)
                {
                    if (poller.poll((int)Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))) <= 0)
                    {
                        continue;
                    }
                    final long n = socket.receive(buf.address() + 32768, 32768, Linux.MSG_DONTWAIT);
                    if (n <= 0 || !ip.wrap(b, 32768, (int)n) || ip.source() != to)
                    {
                        continue;
                    }
                    final int at = ip.payloadOffset();
                    final int got = ip.payloadLength();
                    if (protocol == PortsHeader.SCTP)
                    {
                        final PortsHeader h = new PortsHeader();
                        if (!h.wrap(b, at, got, protocol))
                        {
                            continue;
                        }
                        final byte[] data = new byte[got - SCTP_HEADER];
                        b.getBytes(at + SCTP_HEADER, data);
                        return new Reply(true, Ipv4Header.format(ip.source()), h.sourcePort(), h.destinationPort(),
                            h.checksumValid(0), data);
                    }
                    final byte[] data = new byte[got];
                    b.getBytes(at, data);
                    return new Reply(true, Ipv4Header.format(ip.source()), 0, 0, true, data);
                }
                return new Reply(false, null, 0, 0, false, null);
            }
        });
    }
}

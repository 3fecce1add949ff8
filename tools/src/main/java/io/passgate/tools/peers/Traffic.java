package io.passgate.tools.peers;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.passgate.tools.lab.Lab;

/**
 * TCP and UDP test peers that run inside lab namespaces on threads of the calling JVM (setns per thread),
 * so a test gets their results as values: bytes and checksums, the address the server saw.
 */
public final class Traffic
{
    private Traffic()
    {
    }

    /** What a TCP transfer did. */
    public record TcpResult(long bytes, String sentSha256, String receivedSha256, String serverSawAddress,
        int serverSawPort, long millis)
    {
        public boolean intact()
        {
            return sentSha256.equals(receivedSha256);
        }
    }

    /** What a UDP exchange did. */
    public record UdpResult(int sent, int echoed, String serverSawAddress, int serverSawPort, int localPort)
    {
    }

    private static MessageDigest sha256()
    {
        try
        {
            return MessageDigest.getInstance("SHA-256");
        }
        catch (final NoSuchAlgorithmException e)
        {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Sends {@code bytes} pseudo-random bytes from a client namespace to a server namespace over TCP and
     * compares SHA-256 at both ends.
     */
    public static TcpResult tcpTransfer(final String clientNs, final String serverNs, final String serverAddress,
        final int port, final long bytes, final long timeoutMs) throws Exception
    {
        final CompletableFuture<ServerSocket> listening = new CompletableFuture<>();
        final CompletableFuture<Object[]> server = Lab.inNamespaceAsync(serverNs, () ->
        {
            try (ServerSocket ss = new ServerSocket())
            {
                ss.setReuseAddress(true);
                ss.bind(new InetSocketAddress(port));
                ss.setSoTimeout((int)timeoutMs);
                listening.complete(ss);
                try (Socket s = ss.accept(); InputStream in = s.getInputStream())
                {
                    s.setSoTimeout((int)timeoutMs);
                    final MessageDigest digest = sha256();
                    final byte[] buf = new byte[64 * 1024];
                    long total = 0;
                    int n;
                    while ((n = in.read(buf)) > 0)
                    {
                        digest.update(buf, 0, n);
                        total += n;
                    }
                    return new Object[] {total, HexFormat.of().formatHex(digest.digest()),
                        s.getInetAddress().getHostAddress(), s.getPort()};
                }
            }
        });
        listening.get(10, TimeUnit.SECONDS);
        final long start = System.nanoTime();
        final String sent = Lab.inNamespace(clientNs, timeoutMs, () ->
        {
            final MessageDigest digest = sha256();
            try (Socket s = new Socket())
            {
                s.connect(new InetSocketAddress(serverAddress, port), 10_000);
                final OutputStream out = s.getOutputStream();
                final SplittableRandom random = new SplittableRandom(bytes);
                final byte[] buf = new byte[64 * 1024];
                long left = bytes;
                while (left > 0)
                {
                    final int n = (int)Math.min(buf.length, left);
                    for (int i = 0; i < n; i += 8)
                    {
                        final long v = random.nextLong();
                        for (int j = 0; j < 8 && i + j < n; j++)
                        {
                            buf[i + j] = (byte)(v >>> (8 * j));
                        }
                    }
                    out.write(buf, 0, n);
                    digest.update(buf, 0, n);
                    left -= n;
                }
                s.shutdownOutput();
                s.getInputStream().read();   // wait for the server to close
            }
            return HexFormat.of().formatHex(digest.digest());
        });
        final Object[] r = server.get(timeoutMs, TimeUnit.MILLISECONDS);
        return new TcpResult((Long)r[0], sent, (String)r[1], (String)r[2], (Integer)r[3],
            (System.nanoTime() - start) / 1_000_000);
    }

    /**
     * A UDP echo server in {@code serverNs} answers {@code count} datagrams sent from {@code clientNs}
     * (bound to {@code localPort}, 0 for any); returns how many came back.
     */
    public static UdpResult udpEcho(final String clientNs, final int localPort, final String serverNs,
        final String serverAddress, final int port, final int count, final int size) throws Exception
    {
        final CompletableFuture<Boolean> ready = new CompletableFuture<>();
        final CompletableFuture<Object[]> server = Lab.inNamespaceAsync(serverNs, () ->
        {
            try (DatagramSocket s = new DatagramSocket(null))
            {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(port));
                s.setSoTimeout(2000);
                ready.complete(true);
                final byte[] buf = new byte[65536];
                String address = "";
                int peerPort = 0;
                int answered = 0;
                while (answered < count)
                {
                    final DatagramPacket p = new DatagramPacket(buf, buf.length);
                    try
                    {
                        s.receive(p);
                    }
                    catch (final SocketTimeoutException e)
                    {
                        break;
                    }
                    address = p.getAddress().getHostAddress();
                    peerPort = p.getPort();
                    s.send(new DatagramPacket(buf, p.getLength(), p.getSocketAddress()));
                    answered++;
                }
                return new Object[] {address, peerPort};
            }
        });
        ready.get(10, TimeUnit.SECONDS);
        final int[] counts = Lab.inNamespace(clientNs, 60_000, () ->
        {
            try (DatagramSocket s = new DatagramSocket(null))
            {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(localPort));
                s.setSoTimeout(1000);
                final byte[] out = new byte[size];
                final byte[] in = new byte[65536];
                int echoed = 0;
                for (int i = 0; i < count; i++)
                {
                    out[0] = (byte)i;
                    s.send(new DatagramPacket(out, size, InetAddress.getByName(serverAddress), port));
                    try
                    {
                        final DatagramPacket p = new DatagramPacket(in, in.length);
                        s.receive(p);
                        if (p.getLength() == size)
                        {
                            echoed++;
                        }
                    }
                    catch (final SocketTimeoutException e)
                    {
                        // lost: counted by the caller as sent minus echoed
                    }
                }
                return new int[] {echoed, s.getLocalPort()};
            }
        });
        final Object[] r = server.get(30, TimeUnit.SECONDS);
        return new UdpResult(count, counts[0], (String)r[0], (Integer)r[1], counts[1]);
    }

    /** Sends one datagram from a namespace and says whether anything answered within {@code waitMs}. */
    public static boolean udpProbe(final String ns, final int localPort, final String address, final int port,
        final int waitMs) throws Exception
    {
        return Lab.inNamespace(ns, waitMs + 10_000L, () ->
        {
            try (DatagramSocket s = new DatagramSocket(null))
            {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(localPort));
                s.setSoTimeout(waitMs);
                s.send(new DatagramPacket(new byte[] {1, 2, 3}, 3, InetAddress.getByName(address), port));
                try
                {
                    s.receive(new DatagramPacket(new byte[2048], 2048));
                    return true;
                }
                catch (final SocketTimeoutException e)
                {
                    return false;
                }
            }
        });
    }
}

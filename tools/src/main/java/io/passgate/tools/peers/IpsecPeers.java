package io.passgate.tools.peers;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.passgate.sys.IpProtocolSocket;
import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.Poller;
import io.passgate.wire.IkeHeader;
import io.passgate.wire.Ipv4Header;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * passgate's own IPsec test peers (the lab's kernel has no ESP): a client and a server that speak the IKE
 * exchanges' shape on UDP 500 (IKEv2 headers with real SPIs, so a NAT must tell clients apart by them; the
 * payload is the test's own, not IKE's) and plain ESP over raw IP protocol 50 sockets. An IKE_AUTH or
 * CREATE_CHILD_SA request carries the client's new inbound SPI, the response the server's; the server echoes
 * every ESP packet on the client's SPI of that SA. Manually keyed SAs skip IKE.
 */
public final class IpsecPeers
{
    private static final int IKE_PORT = 500;

    private IpsecPeers()
    {
    }

    /** What an ESP packet the server got looked like: its source, SPI and payload. */
    public record EspSeen(String source, int spi, String payload)
    {
    }

    /** The server: IKE on UDP 500, ESP echo; optionally it speaks first on each new SA. */
    public static final class Server implements AutoCloseable
    {
        private final DatagramSocket ike;
        private final IpProtocolSocket esp;
        private final boolean speaksFirst;
        private final Map<Integer, Integer> sas = new ConcurrentHashMap<>();
        private final Map<Integer, InetAddress> peers = new ConcurrentHashMap<>();
        private final List<String> ikeSources = Collections.synchronizedList(new ArrayList<>());
        private final List<EspSeen> espSeen = Collections.synchronizedList(new ArrayList<>());
        private final AtomicLong echoed = new AtomicLong();
        /** Counting mode (the bench): ESP packets received per SPI, nothing kept, nothing echoed. */
        private final Map<Integer, java.util.concurrent.atomic.LongAdder> counts = new ConcurrentHashMap<>();
        private volatile boolean counting;
        private final Thread ikeThread;
        private final Thread espThread;
        private volatile boolean running = true;

        /** In the server's namespace. */
        public Server(final boolean speaksFirst) throws IOException
        {
            this.speaksFirst = speaksFirst;
            ike = new DatagramSocket(null);
            ike.setReuseAddress(true);
            ike.bind(new InetSocketAddress(IKE_PORT));
            ike.setSoTimeout(200);
            esp = IpProtocolSocket.open(Linux.IPPROTO_ESP);
            ikeThread = new Thread(this::ikeLoop, "ipsec-server-ike");
            espThread = new Thread(this::espLoop, "ipsec-server-esp");
            ikeThread.setDaemon(true);
            espThread.setDaemon(true);
            ikeThread.start();
            espThread.start();
        }

        /** A manually keyed SA: ESP to {@code serverSpi} is echoed on {@code clientSpi} to {@code peer}. */
        public void manual(final int serverSpi, final int clientSpi, final String peer) throws IOException
        {
            sas.put(serverSpi, clientSpi);
            peers.put(serverSpi, InetAddress.getByName(peer));
        }

        /**
         * Counting mode on (the bench): from now on ESP packets are only counted per SPI ({@link #received}), not
         * kept or echoed; off: back to echoing.
         */
        public void counting(final boolean on)
        {
            counting = on;
        }

        /** ESP packets received to {@code spi} in counting mode. */
        public long received(final int spi)
        {
            final java.util.concurrent.atomic.LongAdder a = counts.get(spi);
            return a == null ? 0 : a.sum();
        }

        /** "address:port" of every IKE message received. */
        public List<String> ikeSources()
        {
            synchronized (ikeSources)
            {
                return new ArrayList<>(ikeSources);
            }
        }

        public List<EspSeen> espSeen()
        {
            synchronized (espSeen)
            {
                return new ArrayList<>(espSeen);
            }
        }

        public long echoed()
        {
            return echoed.get();
        }

        private void ikeLoop()
        {
            final byte[] buf = new byte[2048];
            while (running)
            {
                final DatagramPacket p = new DatagramPacket(buf, buf.length);
                try
                {
                    ike.receive(p);
                }
                catch (final SocketTimeoutException e)
                {
                    continue;
                }
                catch (final IOException e)
                {
                    return;
                }
                if (p.getLength() < IkeHeader.LENGTH)
                {
                    continue;
                }
                ikeSources.add(p.getAddress().getHostAddress() + ":" + p.getPort());
                final UnsafeBuffer in = new UnsafeBuffer(buf, 0, p.getLength());
                final long ispi = in.getLong(0, ByteOrder.BIG_ENDIAN);
                long rspi = in.getLong(8, ByteOrder.BIG_ENDIAN);
                final int exchange = in.getByte(IkeHeader.EXCHANGE_OFFSET) & 0xFF;
                final int messageId = in.getInt(20, ByteOrder.BIG_ENDIAN);
                final byte[] out = new byte[IkeHeader.LENGTH + 4];
                final UnsafeBuffer o = new UnsafeBuffer(out);
                if (exchange == IkeHeader.IKE_SA_INIT && rspi == 0)
                {
                    rspi = ThreadLocalRandom.current().nextLong() | 1;
                }
                int serverSpi = 0;
                if ((exchange == IkeHeader.IKE_AUTH || exchange == IkeHeader.CREATE_CHILD_SA)
                    && p.getLength() >= IkeHeader.LENGTH + 4)
                {
                    final int clientSpi = in.getInt(IkeHeader.LENGTH, ByteOrder.BIG_ENDIAN);
                    serverSpi = ThreadLocalRandom.current().nextInt() | 0x100;
                    sas.put(serverSpi, clientSpi);
                    peers.put(serverSpi, p.getAddress());
                }
                IkeHeader.write(o, 0, ispi, rspi, 2, exchange, IkeHeader.FLAG_RESPONSE, messageId, out.length);
                o.putInt(IkeHeader.LENGTH, serverSpi, ByteOrder.BIG_ENDIAN);
                try
                {
                    ike.send(new DatagramPacket(out, out.length, p.getSocketAddress()));
                    if (serverSpi != 0 && speaksFirst)
                    {
                        sendEsp(sas.get(serverSpi), 0, ("hello " + Integer.toHexString(serverSpi)).getBytes(),
                            p.getAddress());
                    }
                }
                catch (final IOException e)
                {
                    return;
                }
            }
        }

        private final NativeBuffer espOut = NativeBuffer.allocate(4096);

        private void sendEsp(final int spi, final int seq, final byte[] payload, final InetAddress to)
        {
            synchronized (espOut)
            {
                final UnsafeBuffer b = espOut.buffer();
                b.putInt(0, spi, ByteOrder.BIG_ENDIAN);
                b.putInt(4, seq, ByteOrder.BIG_ENDIAN);
                b.putBytes(8, payload);
                esp.send(espOut.address(), 8 + payload.length, Ipv4Header.parse(to.getHostAddress()));
            }
        }

        private void espLoop()
        {
            try (NativeBuffer buf = NativeBuffer.allocate(65536); Poller poller = new Poller(1))
            {
                poller.add(esp.fd(), Linux.POLLIN);
                final Ipv4Header ip = new Ipv4Header();
                while (running)
                {
                    if (poller.poll(200) <= 0)
                    {
                        continue;
                    }
                    long n = esp.receive(buf.address(), 65536, Linux.MSG_DONTWAIT);
                    while (counting && n > 0)
                    {
                        if (ip.wrap(buf.buffer(), 0, (int)n) && ip.payloadLength() >= 8)
                        {
                            counts.computeIfAbsent(buf.buffer().getInt(ip.payloadOffset(), ByteOrder.BIG_ENDIAN),
                                k -> new java.util.concurrent.atomic.LongAdder()).increment();
                        }
                        n = esp.receive(buf.address(), 65536, Linux.MSG_DONTWAIT);
                    }
                    if (n <= 0 || !ip.wrap(buf.buffer(), 0, (int)n) || ip.payloadLength() < 8)
                    {
                        continue;
                    }
                    final UnsafeBuffer b = buf.buffer();
                    final int spi = b.getInt(ip.payloadOffset(), ByteOrder.BIG_ENDIAN);
                    final int seq = b.getInt(ip.payloadOffset() + 4, ByteOrder.BIG_ENDIAN);
                    final byte[] payload = new byte[ip.payloadLength() - 8];
                    b.getBytes(ip.payloadOffset() + 8, payload);
                    final String text = new String(payload);
                    espSeen.add(new EspSeen(Ipv4Header.format(ip.source()), spi, text));
                    final Integer clientSpi = sas.get(spi);
                    if (clientSpi != null)
                    {
                        echoed.incrementAndGet();   // before the answer: a client may read the count once answered
                        sendEsp(clientSpi, seq, ("echo " + text).getBytes(),
                            InetAddress.getByName(Ipv4Header.format(ip.source())));
                    }
                }
            }
            catch (final IOException e)
            {
                // closing
            }
        }

        @Override
        public void close()
        {
            running = false;
            ike.close();
            try
            {
                ikeThread.join(2000);
                espThread.join(2000);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
            esp.close();
            espOut.close();
        }
    }

    /** A client: IKE from UDP 500, ESP through a raw socket; one SA at a time (the newest). */
    public static final class Client implements AutoCloseable
    {
        private final InetAddress server;
        private final DatagramSocket ike;
        private final IpProtocolSocket esp;
        private final NativeBuffer buf = NativeBuffer.allocate(65536);
        private final Poller poller;
        private long ispi;
        private long rspi;
        private int messageId;
        private int clientSpi;
        private int serverSpi;
        private int sequence;

        /** In the client's namespace. */
        public Client(final String serverAddress) throws IOException
        {
            server = InetAddress.getByName(serverAddress);
            ike = new DatagramSocket(null);
            ike.setReuseAddress(true);
            ike.bind(new InetSocketAddress(IKE_PORT));
            esp = IpProtocolSocket.open(Linux.IPPROTO_ESP);
            poller = new Poller(1);
            poller.add(esp.fd(), Linux.POLLIN);
        }

        public int clientSpi()
        {
            return clientSpi;
        }

        public int serverSpi()
        {
            return serverSpi;
        }

        /** One IKE request and its response (retransmitted every second, up to {@code timeoutMs}). */
        private ByteBuffer exchange(final int exchange, final int payloadSpi, final int timeoutMs) throws IOException
        {
            final byte[] out = new byte[IkeHeader.LENGTH + 4];
            final UnsafeBuffer o = new UnsafeBuffer(out);
            final int id = messageId++;
            IkeHeader.write(o, 0, ispi, rspi, 2, exchange, IkeHeader.FLAG_INITIATOR, id, out.length);
            o.putInt(IkeHeader.LENGTH, payloadSpi, ByteOrder.BIG_ENDIAN);
            final byte[] in = new byte[2048];
            final long deadline = System.currentTimeMillis() + timeoutMs;
            while (System.currentTimeMillis() < deadline)
            {
                ike.send(new DatagramPacket(out, out.length, server, IKE_PORT));
                ike.setSoTimeout(1000);
                try
                {
                    while (true)
                    {
                        final DatagramPacket p = new DatagramPacket(in, in.length);
                        ike.receive(p);
                        final ByteBuffer r = ByteBuffer.wrap(in, 0, p.getLength());
                        if (p.getLength() >= IkeHeader.LENGTH && r.getLong(0) == ispi && r.getInt(20) == id)
                        {
                            return r;
                        }
                    }
                }
                catch (final SocketTimeoutException e)
                {
                    // retransmit
                }
            }
            throw new IOException("no IKE answer from " + server.getHostAddress() + " within " + timeoutMs + " ms");
        }

        /** IKE_SA_INIT then IKE_AUTH: an IKE SA and a first ESP SA. */
        public void initiate() throws IOException
        {
            initiate(10_000);
        }

        /** As {@link #initiate()}, giving up on IKE_SA_INIT after {@code timeoutMs} (a refused attempt fails sooner). */
        public void initiate(final int timeoutMs) throws IOException
        {
            ispi = ThreadLocalRandom.current().nextLong() | 1;
            rspi = 0;
            messageId = 0;
            final ByteBuffer init = exchange(IkeHeader.IKE_SA_INIT, 0, timeoutMs);
            rspi = init.getLong(8);
            child(IkeHeader.IKE_AUTH);
        }

        /** A new ESP SA under the IKE SA (CREATE_CHILD_SA): new SPIs both ways. */
        public void rekey() throws IOException
        {
            child(IkeHeader.CREATE_CHILD_SA);
        }

        private void child(final int exchange) throws IOException
        {
            final int mine = ThreadLocalRandom.current().nextInt() | 0x100;
            final ByteBuffer r = exchange(exchange, mine, 15_000);
            clientSpi = mine;
            serverSpi = r.getInt(IkeHeader.LENGTH);
            sequence = 0;
        }

        /** A manually keyed SA, no IKE. */
        public void manual(final int mine, final int theirs)
        {
            clientSpi = mine;
            serverSpi = theirs;
            sequence = 0;
        }

        /** Sends an ESP packet on the current SA. */
        public void send(final byte[] payload)
        {
            final UnsafeBuffer b = buf.buffer();
            b.putInt(0, serverSpi, ByteOrder.BIG_ENDIAN);
            b.putInt(4, ++sequence, ByteOrder.BIG_ENDIAN);
            b.putBytes(8, payload);
            esp.send(buf.address(), 8 + payload.length, Ipv4Header.parse(server.getHostAddress()));
        }

        /**
         * Sends ESP packets of {@code payloadBytes} on the current SA as fast as the socket takes them, for
         * {@code millis}; returns how many were sent (the bench).
         */
        public long blast(final long millis, final int payloadBytes)
        {
            final UnsafeBuffer b = buf.buffer();
            b.setMemory(8, payloadBytes, (byte)0x5A);
            b.putInt(0, serverSpi, ByteOrder.BIG_ENDIAN);
            final int to = Ipv4Header.parse(server.getHostAddress());
            final long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            long sent = 0;
            while (System.nanoTime() < end)
            {
                for (int i = 0; i < 64; i++)
                {
                    b.putInt(4, ++sequence, ByteOrder.BIG_ENDIAN);
                    if (esp.send(buf.address(), 8 + payloadBytes, to) > 0)
                    {
                        sent++;
                    }
                }
            }
            return sent;
        }

        /** The next ESP packet from the server within {@code timeoutMs}: "SPI payload", or null. */
        public String receive(final int timeoutMs) throws IOException
        {
            final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            final Ipv4Header ip = new Ipv4Header();
            while (System.nanoTime() < deadline)
            {
                if (poller.poll((int)Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))) <= 0)
                {
                    continue;
                }
                final long n = esp.receive(buf.address() + 32768, 32768, Linux.MSG_DONTWAIT);
                if (n <= 0 || !ip.wrap(buf.buffer(), 32768, (int)n) || ip.payloadLength() < 8)
                {
                    continue;
                }
                final UnsafeBuffer b = buf.buffer();
                final int spi = b.getInt(ip.payloadOffset(), ByteOrder.BIG_ENDIAN);
                final byte[] payload = new byte[ip.payloadLength() - 8];
                b.getBytes(ip.payloadOffset() + 8, payload);
                return Integer.toHexString(spi) + " " + new String(payload);
            }
            return null;
        }

        /** Sends {@code text} and waits for its echo; returns what came back (null if nothing). */
        public String echo(final String text, final int timeoutMs) throws IOException
        {
            send(text.getBytes());
            final long deadline = System.currentTimeMillis() + timeoutMs;
            while (System.currentTimeMillis() < deadline)
            {
                final String got = receive((int)Math.max(1, deadline - System.currentTimeMillis()));
                if (got == null || got.endsWith("echo " + text) || !got.contains(" hello "))
                {
                    return got;
                }
            }
            return null;
        }

        @Override
        public void close()
        {
            ike.close();
            esp.close();
            poller.close();
            buf.close();
        }
    }
}

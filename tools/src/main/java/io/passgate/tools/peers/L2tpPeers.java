package io.passgate.tools.peers;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

import io.passgate.wire.L2tpHeader;
import io.passgate.wire.L2tpMessages;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * passgate's own L2TPv2 test peers (RFC 2661; the lab's kernel has no L2TP or PPP): an LNS that may answer an
 * SCCRQ from another port than 1701 (section 8.1) and then uses that port for the tunnel, and a LAC on UDP 1701
 * with the Tunnel ID the test picks (two clients may pick the same), which opens a tunnel and a session
 * (SCCRQ/SCCRP/SCCCN, ICRQ/ICRP/ICCN, each acknowledged), sends data messages (T = 0) that the server echoes on
 * the same tunnel and session, HELLOs, and ends with StopCCN. Control messages are retransmitted as RFC 2661
 * 5.8 asks (1 s, up to 5 times), so a lost datagram does not fail a test; the server answers a retransmission
 * again and changes nothing twice.
 */
public final class L2tpPeers
{
    public static final int PORT = 1701;
    private static final int RESULT_CODE = 1;

    private L2tpPeers()
    {
    }

    /** A parsed message: header fields, the AVPs that matter, and a data message's payload. */
    record Message(boolean control, int tunnelId, int sessionId, int ns, int nr, int type, int assignedTunnelId,
        int assignedSessionId, String payload)
    {
        boolean zlb()
        {
            return control && type == L2tpHeader.ZLB;
        }

        static Message parse(final DatagramPacket p)
        {
            final UnsafeBuffer b = new UnsafeBuffer(p.getData(), p.getOffset(), p.getLength());
            final L2tpHeader h = new L2tpHeader();
            if (!h.wrap(b, 0, p.getLength()))
            {
                return null;
            }
            if (!h.control())
            {
                final int header = 6 + ((h.flags() & L2tpHeader.FLAG_LENGTH) != 0 ? 2 : 0)
                    + (h.hasSequence() ? 4 : 0);
                final byte[] body = new byte[Math.max(0, h.length() - header)];
                b.getBytes(header, body);
                return new Message(false, h.tunnelId(), h.sessionId(), -1, -1, -1, -1, -1,
                    new String(body, StandardCharsets.UTF_8));
            }
            if (h.length() == 12)
            {
                return new Message(true, h.tunnelId(), h.sessionId(), h.ns(), h.nr(), L2tpHeader.ZLB, -1, -1, null);
            }
            if (!h.readAvps())
            {
                return null;
            }
            return new Message(true, h.tunnelId(), h.sessionId(), h.ns(), h.nr(), h.messageType(),
                h.assignedTunnelId(), h.assignedSessionId(), null);
        }
    }

    /** A tunnel as the server saw it open: the SCCRQ's source, the Tunnel ID it assigned, the server's. */
    public record TunnelSeen(String source, int clientTunnelId, int serverTunnelId)
    {
    }

    /** A data message the server got: its source, and the server's Tunnel ID in its header. */
    public record DataSeen(String source, int serverTunnelId, String payload)
    {
    }

    // ------------------------------------------------------------------------------------------------ server

    /** The LNS: UDP 1701, answering from {@code answerPort} (1701 or another). */
    public static final class Server implements AutoCloseable
    {
        private final DatagramSocket control;
        private final DatagramSocket answer;
        private final List<Thread> threads = new ArrayList<>();
        private final Map<String, Tunnel> bySource = new ConcurrentHashMap<>();
        private final Map<Integer, Tunnel> byServerId = new ConcurrentHashMap<>();
        private final List<TunnelSeen> opened = Collections.synchronizedList(new ArrayList<>());
        private final List<DataSeen> data = Collections.synchronizedList(new ArrayList<>());
        private final List<String> sources = Collections.synchronizedList(new ArrayList<>());
        private final AtomicLong unknown = new AtomicLong();
        private final AtomicLong echoed = new AtomicLong();
        private final AtomicLong stopped = new AtomicLong();
        private volatile boolean running = true;

        private static final class Tunnel
        {
            final InetSocketAddress peer;
            final int clientId;
            final int serverId;
            int clientSession;
            int serverSession;
            int ns;
            int nr;
            byte[] lastAnswer;

            Tunnel(final InetSocketAddress peer, final int clientId, final int serverId)
            {
                this.peer = peer;
                this.clientId = clientId;
                this.serverId = serverId;
            }
        }

        public Server(final int answerPort) throws IOException
        {
            control = new DatagramSocket(new InetSocketAddress(PORT));
            answer = answerPort == PORT ? control : new DatagramSocket(new InetSocketAddress(answerPort));
            threads.add(Thread.ofPlatform().daemon().name("l2tp-server-1701").start(() -> loop(control)));
            if (answer != control)
            {
                threads.add(Thread.ofPlatform().daemon().name("l2tp-server-" + answerPort).start(() -> loop(answer)));
            }
        }

        /** Every tunnel opened (a retransmitted SCCRQ counts once). */
        public List<TunnelSeen> opened()
        {
            synchronized (opened)
            {
                return List.copyOf(opened);
            }
        }

        /** Every data message received. */
        public List<DataSeen> data()
        {
            synchronized (data)
            {
                return List.copyOf(data);
            }
        }

        /** The source (address:port) of every message received, control and data. */
        public List<String> sources()
        {
            synchronized (sources)
            {
                return List.copyOf(sources);
            }
        }

        /** Messages with a Tunnel ID the server never assigned. */
        public long unknown()
        {
            return unknown.get();
        }

        public long echoed()
        {
            return echoed.get();
        }

        /** Tunnels the clients ended with StopCCN. */
        public long stopped()
        {
            return stopped.get();
        }

        private void loop(final DatagramSocket socket)
        {
            final byte[] buf = new byte[2048];
            while (running)
            {
                final DatagramPacket p = new DatagramPacket(buf, buf.length);
                try
                {
                    socket.receive(p);
                    handle(p);
                }
                catch (final IOException e)
                {
                    if (running)
                    {
                        System.err.println("l2tp server: " + e);
                    }
                }
            }
        }

        private synchronized void handle(final DatagramPacket p) throws IOException
        {
            final InetSocketAddress from = (InetSocketAddress)p.getSocketAddress();
            final String source = from.getAddress().getHostAddress() + ":" + from.getPort();
            sources.add(source);
            final Message m = Message.parse(p);
            if (m == null)
            {
                return;
            }
            if (m.control() && m.type() == L2tpHeader.SCCRQ)
            {
                final String key = source + "/" + m.assignedTunnelId();
                Tunnel t = bySource.get(key);
                if (t == null)
                {
                    int id;
                    do
                    {
                        id = ThreadLocalRandom.current().nextInt(1, 0x10000);
                    }
                    while (byServerId.containsKey(id));
                    t = new Tunnel(from, m.assignedTunnelId(), id);
                    t.nr = m.ns() + 1;
                    bySource.put(key, t);
                    byServerId.put(id, t);
                    opened.add(new TunnelSeen(source, m.assignedTunnelId(), id));
                    t.lastAnswer = new L2tpMessages.Control(t.clientId, 0, t.ns++, t.nr).type(L2tpHeader.SCCRP)
                        .sccrqExtras("passgate-test-lns").u16(L2tpHeader.AVP_ASSIGNED_TUNNEL_ID, id).bytes();
                }
                send(t.lastAnswer, from);   // a resent SCCRQ gets the same SCCRP
                return;
            }
            final Tunnel t = byServerId.get(m.tunnelId());
            if (t == null)
            {
                unknown.incrementAndGet();
                return;
            }
            if (!m.control())
            {
                data.add(new DataSeen(source, m.tunnelId(), m.payload()));
                echoed.incrementAndGet();   // before the answer: a client may read the count once answered
                send(L2tpMessages.data(t.clientId, t.clientSession, ("echo " + m.payload()).getBytes(StandardCharsets.UTF_8)),
                    from);
                return;
            }
            if (m.zlb())
            {
                return;
            }
            if (m.ns() != t.nr)
            {
                // a retransmission: acknowledge again, or answer again what it asked
                if (m.type() == L2tpHeader.ICRQ && t.lastAnswer != null)
                {
                    send(t.lastAnswer, from);
                }
                else
                {
                    send(L2tpMessages.zlb(t.clientId, t.ns, t.nr), from);
                }
                return;
            }
            t.nr = m.ns() + 1;
            switch (m.type())
            {
                case L2tpHeader.ICRQ ->
                {
                    t.clientSession = m.assignedSessionId();
                    t.serverSession = ThreadLocalRandom.current().nextInt(1, 0x10000);
                    t.lastAnswer = new L2tpMessages.Control(t.clientId, t.clientSession, t.ns++, t.nr)
                        .type(L2tpHeader.ICRP).u16(L2tpHeader.AVP_ASSIGNED_SESSION_ID, t.serverSession).bytes();
                    send(t.lastAnswer, from);
                }
                case L2tpHeader.STOPCCN ->
                {
                    stopped.incrementAndGet();
                    send(L2tpMessages.zlb(t.clientId, t.ns, t.nr), from);
                }
                default -> send(L2tpMessages.zlb(t.clientId, t.ns, t.nr), from);   // SCCCN, ICCN, HELLO, CDN
            }
        }

        private void send(final byte[] message, final InetSocketAddress to) throws IOException
        {
            answer.send(new DatagramPacket(message, message.length, to));
        }

        @Override
        public void close()
        {
            running = false;
            control.close();
            answer.close();
            for (final Thread t : threads)
            {
                try
                {
                    t.join(2000);
                }
                catch (final InterruptedException e)
                {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ client

    /** The LAC: UDP 1701 towards the server's 1701, with Tunnel ID {@code tunnelId} and Session ID 1. */
    public static final class Client implements AutoCloseable
    {
        private static final int SESSION = 1;
        private final DatagramSocket socket;
        private final InetAddress server;
        private final int tunnelId;
        private int serverPort = PORT;
        private int serverTunnelId;
        private int serverSession;
        private int ns;
        private int nr;

        public Client(final String server, final int tunnelId) throws IOException
        {
            this.socket = new DatagramSocket(null);
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(PORT));
            this.server = InetAddress.getByName(server);
            this.tunnelId = tunnelId;
        }

        public int serverPort()
        {
            return serverPort;
        }

        public int serverTunnelId()
        {
            return serverTunnelId;
        }

        /** Opens the tunnel and a session; false when the server did not answer (after retransmissions). */
        public boolean open() throws IOException
        {
            final byte[] sccrq = new L2tpMessages.Control(0, 0, ns++, nr).type(L2tpHeader.SCCRQ)
                .sccrqExtras("passgate-test-lac").u16(L2tpHeader.AVP_ASSIGNED_TUNNEL_ID, tunnelId).bytes();
            final Message sccrp = request(sccrq, PORT, L2tpHeader.SCCRP);
            if (sccrp == null)
            {
                return false;
            }
            serverTunnelId = sccrp.assignedTunnelId();
            nr = sccrp.ns() + 1;
            final byte[] scccn = new L2tpMessages.Control(serverTunnelId, 0, ns++, nr).type(L2tpHeader.SCCCN).bytes();
            if (request(scccn, serverPort, L2tpHeader.ZLB) == null)
            {
                return false;
            }
            final byte[] icrq = new L2tpMessages.Control(serverTunnelId, 0, ns++, nr).type(L2tpHeader.ICRQ)
                .u16(L2tpHeader.AVP_ASSIGNED_SESSION_ID, SESSION).u16(15, 1).bytes();   // Call Serial Number
            final Message icrp = request(icrq, serverPort, L2tpHeader.ICRP);
            if (icrp == null || icrp.sessionId() != SESSION)
            {
                return false;
            }
            serverSession = icrp.assignedSessionId();
            nr = icrp.ns() + 1;
            final byte[] iccn = new L2tpMessages.Control(serverTunnelId, serverSession, ns++, nr).type(L2tpHeader.ICCN)
                .avp(true, false, 0, 24, new byte[] {0, 0, 0x27, 0x10})   // (Tx) Connect Speed
                .avp(true, false, 0, 19, new byte[] {0, 0, 0, 1}).bytes();   // Framing Type
            return request(iccn, serverPort, L2tpHeader.ZLB) != null;
        }

        /** A data message on the session; the server's echo, or null within {@code timeoutMs}. */
        public String echo(final String text, final int timeoutMs) throws IOException
        {
            final byte[] d = L2tpMessages.data(serverTunnelId, serverSession, text.getBytes(StandardCharsets.UTF_8));
            socket.send(new DatagramPacket(d, d.length, server, serverPort));
            final long end = System.currentTimeMillis() + timeoutMs;
            while (System.currentTimeMillis() < end)
            {
                final Message m = receive((int)Math.max(1, end - System.currentTimeMillis()));
                if (m != null && !m.control())
                {
                    if (m.tunnelId() != tunnelId || m.sessionId() != SESSION)
                    {
                        return "wrong tunnel/session " + m.tunnelId() + "/" + m.sessionId() + ": " + m.payload();
                    }
                    return m.payload();
                }
            }
            return null;
        }

        /** A HELLO, acknowledged. */
        public boolean hello() throws IOException
        {
            final byte[] hello = new L2tpMessages.Control(serverTunnelId, 0, ns++, nr).type(L2tpHeader.HELLO).bytes();
            return request(hello, serverPort, L2tpHeader.ZLB) != null;
        }

        /** StopCCN, acknowledged. */
        public boolean stop() throws IOException
        {
            final byte[] stop = new L2tpMessages.Control(serverTunnelId, 0, ns++, nr).type(L2tpHeader.STOPCCN)
                .u16(L2tpHeader.AVP_ASSIGNED_TUNNEL_ID, tunnelId).u16(RESULT_CODE, 1).bytes();
            return request(stop, serverPort, L2tpHeader.ZLB) != null;
        }

        /** Sends a control message and waits for the answer of {@code type}, resending every second up to 5 times. */
        private Message request(final byte[] message, final int port, final int type) throws IOException
        {
            for (int attempt = 0; attempt < 6; attempt++)
            {
                socket.send(new DatagramPacket(message, message.length, server, port));
                final long end = System.currentTimeMillis() + 1000;
                while (System.currentTimeMillis() < end)
                {
                    final Message m = receive((int)Math.max(1, end - System.currentTimeMillis()));
                    if (m != null && m.control() && m.type() == type && m.tunnelId() == tunnelId)
                    {
                        return m;
                    }
                }
            }
            return null;
        }

        private final byte[] buf = new byte[2048];
        private int lastPort;

        private Message receive(final int timeoutMs) throws IOException
        {
            socket.setSoTimeout(timeoutMs);
            final DatagramPacket p = new DatagramPacket(buf, buf.length);
            try
            {
                socket.receive(p);
            }
            catch (final SocketTimeoutException e)
            {
                return null;
            }
            catch (final SocketException e)
            {
                if (socket.isClosed())
                {
                    return null;
                }
                throw e;
            }
            if (!p.getAddress().equals(server))
            {
                return null;
            }
            lastPort = p.getPort();
            final Message m = Message.parse(p);
            if (m != null && m.control() && m.type() == L2tpHeader.SCCRP)
            {
                serverPort = lastPort;   // RFC 2661 8.1: the tunnel uses the port the answer came from
            }
            return m;
        }

        @Override
        public void close()
        {
            socket.close();
        }
    }
}

package io.passgate.tools.peers;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.passgate.sys.ErrnoException;
import io.passgate.sys.IpProtocolSocket;
import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.Poller;
import io.passgate.wire.GreHeader;
import io.passgate.wire.Ipv4Header;
import io.passgate.wire.PptpControl;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * passgate's PPTP test server (RFC 2637 PAC): answers control connections and echoes every enhanced GRE
 * payload back to the call it came on, addressed with the Call ID the client's Outgoing-Call-Request gave
 * (as the server saw it: translated by the NAT). Create it on a thread inside the server's namespace.
 */
public final class PptpServer implements AutoCloseable
{
    /** A call as the server knows it. */
    public record Call(int pacCallId, int peerCallId, String peer)
    {
    }

    private final ServerSocket listener;
    private final IpProtocolSocket gre;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicInteger nextCallId = new AtomicInteger(100);
    private final Map<Integer, Call> calls = new ConcurrentHashMap<>();
    private final AtomicLong echoed = new AtomicLong();
    private final AtomicLong unknownGre = new AtomicLong();
    private final AtomicInteger connections = new AtomicInteger();
    private final Thread acceptor;
    private final Thread echo;

    public PptpServer() throws IOException
    {
        listener = new ServerSocket();
        listener.setReuseAddress(true);
        listener.bind(new InetSocketAddress(PptpControl.PORT));
        gre = IpProtocolSocket.open(Linux.IPPROTO_GRE);
        acceptor = new Thread(this::accept, "pptp-server-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        echo = new Thread(this::echo, "pptp-server-gre");
        echo.setDaemon(true);
        echo.start();
    }

    public Map<Integer, Call> calls()
    {
        return calls;
    }

    public long echoed()
    {
        return echoed.get();
    }

    public long unknownGre()
    {
        return unknownGre.get();
    }

    public int connections()
    {
        return connections.get();
    }

    private void accept()
    {
        while (running.get())
        {
            try
            {
                final Socket s = listener.accept();
                connections.incrementAndGet();
                final Thread t = new Thread(() -> serve(s), "pptp-server-" + s.getPort());
                t.setDaemon(true);
                t.start();
            }
            catch (final IOException e)
            {
                return;
            }
        }
    }

    private void serve(final Socket socket)
    {
        final UnsafeBuffer m = new UnsafeBuffer(new byte[PptpControl.MAX_LENGTH]);
        final String peer = socket.getInetAddress().getHostAddress();
        try (socket; DataInputStream in = new DataInputStream(socket.getInputStream()))
        {
            final OutputStream out = socket.getOutputStream();
            while (running.get())
            {
                final int length = in.readUnsignedShort();
                if (length < 12 || length > PptpControl.MAX_LENGTH)
                {
                    return;
                }
                final byte[] bytes = new byte[length];
                bytes[0] = (byte)(length >>> 8);
                bytes[1] = (byte)length;
                in.readFully(bytes, 2, length - 2);
                m.putBytes(0, bytes);
                if (m.getInt(PptpControl.COOKIE_OFFSET, ByteOrder.BIG_ENDIAN) != PptpControl.MAGIC_COOKIE)
                {
                    return;
                }
                final int reply;
                switch (PptpControl.controlType(m, 0))
                {
                    case PptpControl.START_CONTROL_CONNECTION_REQUEST ->
                        reply = PptpControl.startReply(m, 0, PptpControl.RESULT_OK);
                    case PptpControl.OUTGOING_CALL_REQUEST ->
                    {
                        final int peerCallId = PptpControl.field(m, 0, PptpControl.CALL_ID_OFFSET);
                        final int pac = nextCallId.getAndIncrement();
                        calls.put(pac, new Call(pac, peerCallId, peer));
                        reply = PptpControl.outgoingCallReply(m, 0, pac, peerCallId, PptpControl.RESULT_OK);
                    }
                    case PptpControl.CALL_CLEAR_REQUEST ->
                    {
                        final int peerCallId = PptpControl.field(m, 0, PptpControl.CALL_ID_OFFSET);
                        int pac = -1;
                        for (final Call c : calls.values())
                        {
                            if (c.peerCallId() == peerCallId && c.peer().equals(peer))
                            {
                                pac = c.pacCallId();
                            }
                        }
                        calls.remove(pac);
                        reply = PptpControl.withFirstCallId(m, 0, PptpControl.CALL_DISCONNECT_NOTIFY, pac);
                    }
                    case PptpControl.STOP_CONTROL_CONNECTION_REQUEST ->
                    {
                        calls.values().removeIf(c -> c.peer().equals(peer));
                        reply = PptpControl.simple(m, 0, PptpControl.STOP_CONTROL_CONNECTION_REPLY);
                    }
                    case PptpControl.ECHO_REQUEST -> reply = PptpControl.simple(m, 0, PptpControl.ECHO_REPLY);
                    default -> reply = 0;
                }
                if (reply > 0)
                {
                    final byte[] r = new byte[reply];
                    m.getBytes(0, r);
                    out.write(r);
                    out.flush();
                }
            }
        }
        catch (final IOException e)
        {
            // connection ended
        }
    }

    private void echo()
    {
        try (NativeBuffer in = NativeBuffer.allocate(65536); NativeBuffer out = NativeBuffer.allocate(65536);
            Poller poller = new Poller(1))
        {
            poller.add(gre.fd(), Linux.POLLIN);
            final Ipv4Header ip = new Ipv4Header();
            final GreHeader header = new GreHeader();
            long sequence = 0;
            while (running.get())
            {
                if (poller.poll(100) <= 0)
                {
                    continue;
                }
                final long n = gre.receive(in.address(), 65536, Linux.MSG_DONTWAIT);
                if (n <= 0 || !ip.wrap(in.buffer(), 0, (int)n)
                    || !header.wrap(in.buffer(), ip.payloadOffset(), ip.payloadLength()) || !header.isPptp())
                {
                    continue;
                }
                final Call call = calls.get(header.callId());
                if (call == null)
                {
                    unknownGre.incrementAndGet();
                    continue;
                }
                final int length = header.payloadLength();
                final int h = GreHeader.writePptp(out.buffer(), 0, length, call.peerCallId(), sequence++,
                    header.hasSequence() ? header.sequence() : -1);
                out.buffer().putBytes(h, in.buffer(), header.payloadOffset(), length);
                if (gre.send(out.address(), h + length, ip.source()) > 0)
                {
                    echoed.incrementAndGet();
                }
            }
        }
        catch (final ErrnoException e)
        {
            // stopped
        }
    }

    @Override
    public void close()
    {
        running.set(false);
        try
        {
            listener.close();
        }
        catch (final IOException ignore)
        {
            // closing
        }
        try
        {
            echo.join(2000);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        gre.close();
    }
}

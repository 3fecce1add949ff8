package io.passgate.tools.peers;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

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
 * passgate's PPTP test client (RFC 2637 PNS), for kernels without PPP: opens the control connection, runs
 * Start-Control-Connection and Outgoing-Call, sends and receives enhanced GRE with sequence and
 * acknowledgement numbers, and tears down. Create it on a thread inside the client's namespace (its sockets
 * live there); use it from any thread afterwards.
 *
 * <p>Command line: {@code PptpClient SERVER CALL-ID COUNT} runs one call and echoes COUNT GRE packets.
 */
public final class PptpClient implements AutoCloseable
{
    private final Socket control;
    private final DataInputStream in;
    private final OutputStream out;
    private final IpProtocolSocket gre;
    private final int server;
    private final NativeBuffer greBuffer;
    private final Poller poller;
    private final UnsafeBuffer message = new UnsafeBuffer(new byte[PptpControl.MAX_LENGTH]);
    private long sequence;
    private long lastReceived = -1;
    private boolean splitMessages;

    public PptpClient(final String serverAddress) throws IOException
    {
        server = Ipv4Header.parse(serverAddress);
        control = new Socket();
        control.setTcpNoDelay(true);
        control.connect(new InetSocketAddress(serverAddress, PptpControl.PORT), 5000);
        control.setSoTimeout(5000);
        in = new DataInputStream(control.getInputStream());
        out = control.getOutputStream();
        gre = IpProtocolSocket.open(Linux.IPPROTO_GRE);
        greBuffer = NativeBuffer.allocate(65536);
        poller = new Poller(1);
        poller.add(gre.fd(), Linux.POLLIN);
    }

    /** Writes each message in two TCP segments (split inside the Call ID field), to exercise reassembly. */
    public PptpClient splitMessages(final boolean split)
    {
        this.splitMessages = split;
        return this;
    }

    private void send(final int length) throws IOException
    {
        final byte[] bytes = new byte[length];
        message.getBytes(0, bytes);
        if (splitMessages && length > 13)
        {
            out.write(bytes, 0, 13);
            out.flush();
            try
            {
                Thread.sleep(20);   // Nagle is off: this goes out as its own segment
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
            out.write(bytes, 13, length - 13);
        }
        else
        {
            out.write(bytes);
        }
        out.flush();
    }

    /** Reads one control message; returns its type. */
    private int receive() throws IOException
    {
        final int length = in.readUnsignedShort();
        if (length < 12 || length > PptpControl.MAX_LENGTH)
        {
            throw new IOException("bad PPTP message length " + length);
        }
        final byte[] bytes = new byte[length];
        bytes[0] = (byte)(length >>> 8);
        bytes[1] = (byte)length;
        in.readFully(bytes, 2, length - 2);
        message.putBytes(0, bytes);
        if (message.getInt(PptpControl.COOKIE_OFFSET, ByteOrder.BIG_ENDIAN) != PptpControl.MAGIC_COOKIE)
        {
            throw new IOException("bad magic cookie from the server");
        }
        return PptpControl.controlType(message, 0);
    }

    private int receive(final int expected) throws IOException
    {
        int type;
        while ((type = receive()) == PptpControl.SET_LINK_INFO || type == PptpControl.ECHO_REQUEST)
        {
            // not what we wait for
        }
        if (type != expected)
        {
            throw new IOException("expected " + PptpControl.name(expected) + ", got " + PptpControl.name(type));
        }
        return type;
    }

    public void start() throws IOException
    {
        send(PptpControl.startRequest(message, 0, "passgate-test-client"));
        receive(PptpControl.START_CONTROL_CONNECTION_REPLY);
        if (message.getByte(PptpControl.SCCRP_RESULT_OFFSET) != PptpControl.RESULT_OK)
        {
            throw new IOException("control connection refused");
        }
    }

    /** Places an outgoing call with our Call ID; returns the server's Call ID. */
    public int call(final int callId) throws IOException
    {
        send(PptpControl.outgoingCallRequest(message, 0, callId, callId));
        receive(PptpControl.OUTGOING_CALL_REPLY);
        final int peer = PptpControl.field(message, 0, PptpControl.PEER_CALL_ID_OFFSET);
        if (peer != callId)
        {
            throw new IOException("Outgoing-Call-Reply names Call ID " + peer + ", ours is " + callId);
        }
        if (message.getByte(PptpControl.OCRP_RESULT_OFFSET) != PptpControl.RESULT_OK)
        {
            throw new IOException("call refused");
        }
        final int pac = PptpControl.field(message, 0, PptpControl.CALL_ID_OFFSET);
        send(PptpControl.withFirstCallId(message, 0, PptpControl.SET_LINK_INFO, pac));
        return pac;
    }

    /** Ends a call: Call-Clear-Request, then the server's Call-Disconnect-Notify. */
    public void clear(final int callId) throws IOException
    {
        send(PptpControl.withFirstCallId(message, 0, PptpControl.CALL_CLEAR_REQUEST, callId));
        receive(PptpControl.CALL_DISCONNECT_NOTIFY);
    }

    public void stop() throws IOException
    {
        send(PptpControl.simple(message, 0, PptpControl.STOP_CONTROL_CONNECTION_REQUEST));
        receive(PptpControl.STOP_CONTROL_CONNECTION_REPLY);
    }

    /** Sends a GRE packet to the server's call {@code pacCallId}, with our sequence number and an ack. */
    public void sendGre(final int pacCallId, final byte[] payload) throws ErrnoException
    {
        final UnsafeBuffer b = greBuffer.buffer();
        final int header = GreHeader.writePptp(b, 0, payload.length, pacCallId, sequence++, lastReceived);
        b.putBytes(header, payload);
        final long sent = gre.send(greBuffer.address(), header + payload.length, server);
        if (sent < 0)
        {
            throw new ErrnoException("send GRE", (int)-sent);
        }
    }

    /** Receives GRE for our call {@code callId} within {@code timeoutMs}; null on timeout. */
    public byte[] receiveGre(final int callId, final int timeoutMs)
    {
        final long deadline = System.currentTimeMillis() + timeoutMs;
        final UnsafeBuffer b = greBuffer.buffer();
        final Ipv4Header ip = new Ipv4Header();
        final GreHeader header = new GreHeader();
        while (System.currentTimeMillis() < deadline)
        {
            if (poller.poll((int)Math.max(1, deadline - System.currentTimeMillis())) <= 0)
            {
                continue;
            }
            final long n = gre.receive(greBuffer.address(), 65536, Linux.MSG_DONTWAIT);
            if (n <= 0 || !ip.wrap(b, 0, (int)n) || ip.source() != server
                || !header.wrap(b, ip.payloadOffset(), ip.payloadLength()) || !header.isPptp() || header.callId() != callId)
            {
                continue;
            }
            if (header.hasSequence())
            {
                lastReceived = header.sequence();
            }
            final byte[] payload = new byte[header.payloadLength()];
            b.getBytes(header.payloadOffset(), payload);
            return payload;
        }
        return null;
    }

    @Override
    public void close()
    {
        try
        {
            control.close();
        }
        catch (final IOException ignore)
        {
            // closing
        }
        gre.close();
        poller.close();
        greBuffer.close();
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length < 3)
        {
            System.err.println("usage: PptpClient SERVER CALL-ID COUNT");
            System.exit(2);
        }
        try (PptpClient c = new PptpClient(args[0]))
        {
            c.start();
            final int callId = Integer.parseInt(args[1]);
            final int pac = c.call(callId);
            final List<String> missing = new ArrayList<>();
            for (int i = 0; i < Integer.parseInt(args[2]); i++)
            {
                final String text = "call " + callId + " packet " + i;
                c.sendGre(pac, text.getBytes());
                final byte[] back = c.receiveGre(callId, 2000);
                if (back == null || !new String(back).equals(text))
                {
                    missing.add(text);
                }
            }
            c.clear(callId);
            c.stop();
            System.out.println(missing.isEmpty() ? "ok" : "missing: " + missing);
        }
    }
}

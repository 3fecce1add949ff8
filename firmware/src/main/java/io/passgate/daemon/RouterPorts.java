package io.passgate.daemon;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

import io.passgate.nat.Protocols;
import io.passgate.nfq.Netlink;
import io.passgate.nfq.NetlinkDump;
import io.passgate.sys.Errno;
import io.passgate.sys.ErrnoException;
import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.NetlinkSocket;
import org.agrona.concurrent.UnsafeBuffer;
import org.tinylog.Logger;

/**
 * The ports the router itself listens on, asked of the kernel for passgate's network namespace: TCP sockets in
 * LISTEN and unconnected UDP sockets, bound to the WAN address or the wildcard (an IPv6 socket on {@code ::} takes
 * IPv4 too unless it is v6only). A mapping on such a port would hand its replies to the router's socket (the raw
 * prerouting rule leaves packets for local sockets to the kernel), so the NAT never allocates them. Read at start
 * and every second by the control thread.
 *
 * <p>The kernel is asked over {@code NETLINK_SOCK_DIAG} ({@link #kernel}): a dump of listeners only walks the
 * kernel's listening table, and the answer says which IPv6 sockets are v6only. Reading {@code /proc/net/tcp}
 * instead walks every bucket of the established-connection hash, which the kernel sizes by RAM: 13 ms of kernel
 * time a second on a 24 GB machine, taken from the packets. Where sock_diag is missing (no inet_diag or udp_diag
 * in the kernel), {@code /proc/net/tcp}, {@code tcp6}, {@code udp} and {@code udp6} are read as before; they cannot
 * tell a v6only socket, so they count {@code ::} as taking IPv4 too.
 */
public final class RouterPorts implements AutoCloseable
{
    private static final String TCP_LISTEN = "0A";
    private static final String UDP_UNCONNECTED_REMOTE_V4 = "00000000:0000";
    private static final String UDP_UNCONNECTED_REMOTE_V6 = "00000000000000000000000000000000:0000";

    private static final int REPLY_BYTES = 65536;   // a sock_diag dump message is 32 KiB at most

    private final Path procNet;
    private final int wanAddress;
    /** Strict: a dump ends with DONE, so an ACK or a malformed message fails it (-EIO). */
    private final NetlinkDump sockets = new NetlinkDump(this::dumpMessage, true);
    private NetlinkSocket diag;
    private NativeBuffer request;
    private NativeBuffer reply;
    /** What {@link #dump} asked for, and where its sockets go. */
    private int dumpProtocol;
    private int dumpState;
    private Set<Integer> dumpInto;
    private int seq = 1;
    private String fallback;

    /** Reads {@code procNet} only: normally {@code /proc/net} (tests give a folder of their own). */
    public RouterPorts(final Path procNet, final int wanAddress)
    {
        this.procNet = procNet;
        this.wanAddress = wanAddress;
    }

    /**
     * Asks the kernel over sock_diag; where it cannot be opened or a dump fails (no inet_diag, udp_diag), reads
     * {@code /proc/net}.
     */
    public static RouterPorts kernel(final int wanAddress)
    {
        final RouterPorts ports = new RouterPorts(Path.of("/proc/net"), wanAddress);
        try
        {
            ports.reply = NativeBuffer.allocate(REPLY_BYTES);
            ports.request = NativeBuffer.allocate(128);
            ports.diag = NetlinkSocket.open(Linux.NETLINK_SOCK_DIAG);
        }
        catch (final ErrnoException e)
        {
            ports.fallBack(e.getMessage());
        }
        return ports;
    }

    /** Where the ports come from: "sock_diag", or "/proc/net (why sock_diag is not used)". */
    public synchronized String source()
    {
        return diag != null ? "sock_diag" : procNet + (fallback != null ? " (" + fallback + ")" : "");
    }

    /** A protocol and port the router listens on, as one sortable value: protocol << 16 | port. */
    public static int key(final int protocol, final int port)
    {
        return (protocol << 16) | port;
    }

    public static int protocolOf(final int key)
    {
        return key >>> 16;
    }

    public static int portOf(final int key)
    {
        return key & 0xFFFF;
    }

    /** The router's listening ports now; an unreadable file counts as none. */
    public synchronized Set<Integer> read()
    {
        final Set<Integer> ports = new TreeSet<>();
        if (diag != null)
        {
            final int error = dumpAll(ports);
            if (error == 0)
            {
                return ports;
            }
            fallBack("sock_diag: " + Errno.name(-error) + " (" + Errno.describe(-error) + ")");
            ports.clear();
        }
        parse("tcp", Protocols.TCP, false, ports);
        parse("tcp6", Protocols.TCP, true, ports);
        parse("udp", Protocols.UDP, false, ports);
        parse("udp6", Protocols.UDP, true, ports);
        return ports;
    }

    private void parse(final String file, final int protocol, final boolean v6, final Set<Integer> into)
    {
        final List<String> lines;
        try
        {
            lines = Files.readAllLines(procNet.resolve(file));
        }
        catch (final IOException e)
        {
            return;   // no IPv6 here, or no such table: nothing listens there
        }
        for (int i = 1; i < lines.size(); i++)
        {
            // sl local_address rem_address st ...
            final String[] f = lines.get(i).trim().split("\\s+");
            if (f.length < 4)
            {
                continue;
            }
            final boolean listening = protocol == Protocols.TCP ? f[3].equals(TCP_LISTEN)
                : f[2].equals(v6 ? UDP_UNCONNECTED_REMOTE_V6 : UDP_UNCONNECTED_REMOTE_V4);
            if (!listening)
            {
                continue;
            }
            final int colon = f[1].indexOf(':');
            if (colon < 0)
            {
                continue;
            }
            final String address = f[1].substring(0, colon).toUpperCase(Locale.ROOT);
            final int port;
            try
            {
                port = Integer.parseInt(f[1].substring(colon + 1), 16);
            }
            catch (final NumberFormatException e)
            {
                continue;
            }
            if (port > 0 && reachesWan(address, v6))
            {
                into.add(key(protocol, port));
            }
        }
    }

    private int dumpAll(final Set<Integer> into)
    {
        int error = dump(Linux.AF_INET, Linux.IPPROTO_TCP, Linux.TCP_LISTEN, into);
        if (error == 0)
        {
            error = dump(Linux.AF_INET6, Linux.IPPROTO_TCP, Linux.TCP_LISTEN, into);
        }
        if (error == 0)
        {
            error = dump(Linux.AF_INET, Linux.IPPROTO_UDP, Linux.TCP_CLOSE, into);
        }
        if (error == 0)
        {
            error = dump(Linux.AF_INET6, Linux.IPPROTO_UDP, Linux.TCP_CLOSE, into);
        }
        return error;
    }

    /**
     * One SOCK_DIAG_BY_FAMILY dump of the sockets of a family and protocol in one state (an unconnected UDP
     * socket is in TCP_CLOSE); 0, or -errno.
     */
    private int dump(final int family, final int protocol, final int state, final Set<Integer> into)
    {
        final UnsafeBuffer b = request.buffer();
        final int mySeq = seq++;
        final int body = Netlink.putHeader(b, 0, Linux.SOCK_DIAG_BY_FAMILY, Linux.NLM_F_REQUEST | Linux.NLM_F_DUMP, mySeq);
        b.setMemory(body, Linux.INET_DIAG_REQ_V2_LEN, (byte)0);   // no extensions, any socket id
        b.putByte(body, (byte)family);
        b.putByte(body + 1, (byte)protocol);
        b.putInt(body + 4, 1 << state, ByteOrder.nativeOrder());
        final long sent = diag.send(request.address(), Netlink.finish(b, 0, body + Linux.INET_DIAG_REQ_V2_LEN));
        if (sent < 0)
        {
            return (int)sent;
        }
        dumpProtocol = protocol;
        dumpState = state;
        dumpInto = into;
        final int result = sockets.read(diag, reply, mySeq);
        dumpInto = null;
        return result < 0 ? result : 0;
    }

    /** One message of {@link #dump}: a socket's when it is SOCK_DIAG_BY_FAMILY. */
    private int dumpMessage(final UnsafeBuffer r, final int offset, final int length, final int type)
    {
        if (type == Linux.SOCK_DIAG_BY_FAMILY)
        {
            socket(r, offset + Linux.NLMSG_HDRLEN, offset + length, dumpProtocol, dumpState, dumpInto);
        }
        return 0;
    }

    /** One inet_diag_msg (family, state, id: sport, dport, src, dst, ...) and its attributes. */
    private void socket(final UnsafeBuffer r, final int at, final int end, final int protocol, final int state,
        final Set<Integer> into)
    {
        if (at + Linux.INET_DIAG_MSG_LEN > end || (r.getByte(at + 1) & 0xFF) != state)
        {
            return;
        }
        final int family = r.getByte(at) & 0xFF;
        final int port = r.getShort(at + 4, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        if (port == 0 || r.getShort(at + 6, ByteOrder.BIG_ENDIAN) != 0)
        {
            return;   // not bound to a port, or connected
        }
        final boolean reaches;
        if (family == Linux.AF_INET)
        {
            final int address = r.getInt(at + 8, ByteOrder.BIG_ENDIAN);
            reaches = address == 0 || address == wanAddress;
        }
        else if (family == Linux.AF_INET6)
        {
            final long high = r.getLong(at + 8, ByteOrder.BIG_ENDIAN);
            final long low = r.getLong(at + 16, ByteOrder.BIG_ENDIAN);
            reaches = high == 0 && (low == 0 && !v6only(r, at + Linux.INET_DIAG_MSG_LEN, end)
                || low == (0x0000_FFFFL << 32 | (wanAddress & 0xFFFF_FFFFL)));
        }
        else
        {
            reaches = false;
        }
        if (reaches)
        {
            into.add(key(protocol == Linux.IPPROTO_TCP ? Protocols.TCP : Protocols.UDP, port));
        }
    }

    /** Whether the attributes after an IPv6 socket's inet_diag_msg say v6only (absent: it takes IPv4 too). */
    private static boolean v6only(final UnsafeBuffer r, final int start, final int end)
    {
        int at = start;
        while (at + 4 <= end)
        {
            final int len = r.getShort(at, ByteOrder.nativeOrder()) & 0xFFFF;
            if (len < 4 || at + len > end)
            {
                return false;
            }
            if ((r.getShort(at + 2, ByteOrder.nativeOrder()) & 0x3FFF) == Linux.INET_DIAG_SKV6ONLY && len >= 5)
            {
                return r.getByte(at + 4) != 0;
            }
            at += Netlink.align(len);
        }
        return false;
    }

    private void fallBack(final String why)
    {
        fallback = why;
        Logger.warn("the router's own ports: {}; reading /proc/net instead", why);
        closeDiag();
    }

    private void closeDiag()
    {
        if (diag != null)
        {
            diag.close();
            diag = null;
        }
        if (request != null)
        {
            request.close();
            request = null;
        }
        if (reply != null)
        {
            reply.close();
            reply = null;
        }
    }

    @Override
    public synchronized void close()
    {
        closeDiag();
    }

    /**
     * Whether a local address (as /proc prints it: the raw 32-bit words in host byte order) takes packets to the
     * WAN address: the wildcard, or the WAN address itself (IPv4, or IPv4-mapped IPv6).
     */
    private boolean reachesWan(final String address, final boolean v6)
    {
        if (!v6)
        {
            return address.equals("00000000") || word(address, 0) == wanAddress;
        }
        if (address.length() != 32)
        {
            return false;
        }
        if (address.equals("00000000000000000000000000000000"))
        {
            return true;
        }
        // ::ffff:a.b.c.d: words 0 and 1 zero, word 2 0000FFFF in network order
        return address.startsWith("0000000000000000") && word(address, 16) == 0x0000_FFFF && word(address, 24) == wanAddress;
    }

    /** The 32-bit word at {@code at} of a /proc hex address, in network order (host order as an int). */
    private static int word(final String hex, final int at)
    {
        final int raw = (int)Long.parseLong(hex.substring(at, at + 8), 16);
        return ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? Integer.reverseBytes(raw) : raw;
    }
}

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

/**
 * The ports the router itself listens on, read from the kernel ({@code /proc/net/tcp}, {@code tcp6}, {@code udp},
 * {@code udp6} of passgate's network namespace): TCP sockets in LISTEN and unconnected UDP sockets, bound to the
 * WAN address or the wildcard (IPv6 {@code ::} takes IPv4 too unless v6only). A mapping on such a port would
 * hand its replies to the router's socket (the raw prerouting rule leaves packets for local sockets to the
 * kernel), so the NAT never allocates them. Read at start and every few seconds by the control thread.
 */
public final class RouterPorts
{
    private static final String TCP_LISTEN = "0A";
    private static final String UDP_UNCONNECTED_REMOTE_V4 = "00000000:0000";
    private static final String UDP_UNCONNECTED_REMOTE_V6 = "00000000000000000000000000000000:0000";

    private final Path procNet;
    private final int wanAddress;

    /** {@code procNet}: normally {@code /proc/net} (tests give a folder of their own). */
    public RouterPorts(final Path procNet, final int wanAddress)
    {
        this.procNet = procNet;
        this.wanAddress = wanAddress;
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
    public Set<Integer> read()
    {
        final Set<Integer> ports = new TreeSet<>();
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

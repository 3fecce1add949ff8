package io.passgate.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteOrder;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

import io.passgate.nat.Protocols;
import io.passgate.sys.Linux;
import io.passgate.sys.NativeBuffer;
import io.passgate.sys.Sys;
import io.passgate.wire.Ipv4Header;
import org.junit.jupiter.api.Test;

/** The router's listening ports as /proc/net shows them (a little-endian machine's layout). */
class RouterPortsTest
{
    private static final int IPPROTO_IPV6 = 41;
    private static final int IPV6_V6ONLY = 26;
    private static final String HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    @Test
    void listenersOnTheWildcardOrTheWanAddressOnly() throws Exception
    {
        final Path dir = Files.createTempDirectory("procnet");
        final int wan = Ipv4Header.parse("10.0.0.1");   // 0100000A as /proc prints it on little-endian
        Files.writeString(dir.resolve("tcp"), HEADER
            + "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"   // *:22 listen
            + "   1: 0100000A:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2\n"   // wan:80 listen
            + "   2: 0100A8C0:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3\n"   // lan:8080 listen
            + "   3: 0100000A:A000 0200000A:0050 01 00000000:00000000 00:00000000 00000000     0        0 4\n"); // connected
        Files.writeString(dir.resolve("udp"), HEADER
            + "   0: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5\n"   // *:53
            + "   1: 0100007F:007B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 6\n"   // lo:123
            + "   2: 0100000A:9C40 0200000A:0035 01 00000000:00000000 00:00000000 00000000     0        0 7\n"); // connected
        Files.writeString(dir.resolve("udp6"), HEADER
            + "   0: 00000000000000000000000000000000:0044 00000000000000000000000000000000:0000 07 0 0 0 0 0 8\n"   // [::]:68
            + "   1: 0000000000000000FFFF00000100000A:01BB 00000000000000000000000000000000:0000 07 0 0 0 0 0 9\n"   // [::ffff:10.0.0.1]:443
            + "   2: 000080FE000000000000000001000000:0222 00000000000000000000000000000000:0000 07 0 0 0 0 0 10\n"); // link-local
        final Set<Integer> expected = new TreeSet<>();
        expected.add(RouterPorts.key(Protocols.TCP, 22));
        expected.add(RouterPorts.key(Protocols.TCP, 80));
        expected.add(RouterPorts.key(Protocols.UDP, 53));
        expected.add(RouterPorts.key(Protocols.UDP, 68));
        expected.add(RouterPorts.key(Protocols.UDP, 443));
        assertEquals(expected, new RouterPorts(dir, wan).read());
    }

    /**
     * The kernel's answer over sock_diag, for sockets this test opens in this namespace (the WAN address here is
     * 127.0.0.2, which loopback owns): listeners and unconnected UDP sockets on the wildcard or the WAN address
     * count; on another address, connected, or v6only (IPv4 packets never reach it) they do not. /proc/net
     * agrees, but for the v6only socket, which it cannot tell.
     */
    @Test
    void sockDiagTellsTheSameListenersAndV6Only() throws Exception
    {
        final int wan = Ipv4Header.parse("127.0.0.2");
        try (ServerSocketChannel anyTcp = ServerSocketChannel.open(StandardProtocolFamily.INET);
            ServerSocketChannel wanTcp = ServerSocketChannel.open(StandardProtocolFamily.INET);
            ServerSocketChannel otherTcp = ServerSocketChannel.open(StandardProtocolFamily.INET);
            ServerSocketChannel anyTcp6 = ServerSocketChannel.open(StandardProtocolFamily.INET6);
            SocketChannel client = SocketChannel.open(StandardProtocolFamily.INET);
            DatagramChannel anyUdp = DatagramChannel.open(StandardProtocolFamily.INET);
            DatagramChannel wanUdp = DatagramChannel.open(StandardProtocolFamily.INET);
            DatagramChannel connectedUdp = DatagramChannel.open(StandardProtocolFamily.INET);
            DatagramChannel anyUdp6 = DatagramChannel.open(StandardProtocolFamily.INET6);
            RouterPorts ports = RouterPorts.kernel(wan))
        {
            anyTcp.bind(new InetSocketAddress("0.0.0.0", 0));
            wanTcp.bind(new InetSocketAddress("127.0.0.2", 0));
            otherTcp.bind(new InetSocketAddress("127.0.0.3", 0));
            anyTcp6.bind(new InetSocketAddress("::", 0));
            client.connect(new InetSocketAddress("127.0.0.2", port(wanTcp.getLocalAddress())));
            anyUdp.bind(new InetSocketAddress("0.0.0.0", 0));
            wanUdp.bind(new InetSocketAddress("127.0.0.2", 0));
            connectedUdp.bind(new InetSocketAddress("0.0.0.0", 0));
            connectedUdp.connect(new InetSocketAddress("127.0.0.1", 9));
            anyUdp6.bind(new InetSocketAddress("::", 0));
            final int v6only = Sys.socket(Linux.AF_INET6, Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, 0);
            try (NativeBuffer b = NativeBuffer.allocate(64))
            {
                b.buffer().putInt(0, 1, ByteOrder.nativeOrder());
                Sys.setsockopt(v6only, IPPROTO_IPV6, IPV6_V6ONLY, b.address(), 4, "IPV6_V6ONLY");
                b.buffer().setMemory(0, 64, (byte)0);
                b.buffer().putShort(0, (short)Linux.AF_INET6, ByteOrder.nativeOrder());   // [::]:0
                Sys.bind(v6only, b.address(), 28, "bind [::]:0");
                b.buffer().putInt(32, 28, ByteOrder.nativeOrder());
                Sys.getsockname(v6only, b.address(), b.address() + 32);
                final int v6onlyPort = b.buffer().getShort(2, ByteOrder.BIG_ENDIAN) & 0xFFFF;

                final Set<Integer> read = ports.read();
                assertEquals("sock_diag", ports.source());
                final Set<Integer> proc = new RouterPorts(Path.of("/proc/net"), wan).read();
                final int[][] counted = {
                    {Protocols.TCP, port(anyTcp.getLocalAddress())},
                    {Protocols.TCP, port(wanTcp.getLocalAddress())},
                    {Protocols.TCP, port(anyTcp6.getLocalAddress())},
                    {Protocols.UDP, port(anyUdp.getLocalAddress())},
                    {Protocols.UDP, port(wanUdp.getLocalAddress())},
                    {Protocols.UDP, port(anyUdp6.getLocalAddress())}};
                for (final int[] c : counted)
                {
                    assertTrue(read.contains(RouterPorts.key(c[0], c[1])), "sock_diag: " + c[0] + "/" + c[1]);
                    assertTrue(proc.contains(RouterPorts.key(c[0], c[1])), "/proc/net: " + c[0] + "/" + c[1]);
                }
                final int[][] notCounted = {
                    {Protocols.TCP, port(otherTcp.getLocalAddress())},
                    {Protocols.TCP, port(client.getLocalAddress())},
                    {Protocols.UDP, port(connectedUdp.getLocalAddress())}};
                for (final int[] c : notCounted)
                {
                    assertFalse(read.contains(RouterPorts.key(c[0], c[1])), "sock_diag: " + c[0] + "/" + c[1]);
                    assertFalse(proc.contains(RouterPorts.key(c[0], c[1])), "/proc/net: " + c[0] + "/" + c[1]);
                }
                assertFalse(read.contains(RouterPorts.key(Protocols.UDP, v6onlyPort)), "sock_diag: v6only");
                assertTrue(proc.contains(RouterPorts.key(Protocols.UDP, v6onlyPort)), "/proc/net cannot tell v6only");
            }
            finally
            {
                Sys.close(v6only);
            }
        }
    }

    private static int port(final java.net.SocketAddress a)
    {
        return ((InetSocketAddress)a).getPort();
    }

    @Test
    void thisNamespacesTablesAreReadable()
    {
        // the real files parse without error (what is listed depends on the machine)
        new RouterPorts(Path.of("/proc/net"), Ipv4Header.parse("203.0.113.1")).read();
    }
}

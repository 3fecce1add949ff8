package io.passgate.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

import io.passgate.nat.Protocols;
import io.passgate.wire.Ipv4Header;
import org.junit.jupiter.api.Test;

/** The router's listening ports as /proc/net shows them (a little-endian machine's layout). */
class RouterPortsTest
{
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

    @Test
    void thisNamespacesTablesAreReadable()
    {
        // the real files parse without error (what is listed depends on the machine)
        new RouterPorts(Path.of("/proc/net"), Ipv4Header.parse("203.0.113.1")).read();
    }
}

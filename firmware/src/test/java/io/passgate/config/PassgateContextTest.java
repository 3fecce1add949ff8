package io.passgate.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import io.passgate.wire.Ipv4Header;
import org.junit.jupiter.api.Test;

class PassgateContextTest
{
    private static final PassgateContext.AddressResolver RESOLVER = name -> switch (name)
    {
        case "eth0" -> new int[] {Ipv4Header.parse("192.168.1.1"), 24};
        case "eth1" -> new int[] {Ipv4Header.parse("203.0.113.7"), 24};
        default -> null;
    };

    private static PassgateContext conclude(final String... lines) throws ConfigException
    {
        return new PassgateContext().conclude(ConfigSource.parse("test.conf", List.of(lines)), RESOLVER);
    }

    private static String error(final String... lines)
    {
        return assertThrows(ConfigException.class, () -> conclude(lines)).getMessage();
    }

    @Test
    void autoTablesAreSizedByTheBoardsMemory() throws Exception
    {
        assertEquals(4096, PassgateContext.autoMaxFlows(443_000), "Pi Zero 2 W: 512 MB less the GPU's share");
        assertEquals(4096, PassgateContext.autoMaxFlows(940_000), "Pi 3: 1 GB");
        assertEquals(8192, PassgateContext.autoMaxFlows(1_900_000), "Pi 4, 2 GB");
        assertEquals(8192, PassgateContext.autoMaxFlows(8_000_000), "Pi 5, 8 GB");
        assertEquals(4096, PassgateContext.autoMaxFlows(0), "unknown: the small size");
        assertTrue(PassgateContext.memTotalKb() > 0, "this machine's /proc/meminfo");
        final PassgateContext set = conclude("lan-interface = eth0", "wan-interface = eth1", "wan-address = auto",
            "nat.max-flows = 20000");
        assertEquals(20000, set.natMaxFlows());
        assertEquals("20000", set.effective().get("nat.max-flows"));
        final ConfigException bad = assertThrows(ConfigException.class, () -> conclude("lan-interface = eth0",
            "wan-interface = eth1", "wan-address = auto", "nat.max-flows = lots"));
        assertTrue(bad.getMessage().contains("nat.max-flows"), bad.getMessage());
    }

    @Test
    void theThreeEssentialsAreEnough() throws Exception
    {
        final PassgateContext ctx = conclude("lan-interface = eth0", "wan-interface = eth1", "wan-address = auto");
        assertEquals(Ipv4Header.parse("203.0.113.7"), ctx.wanAddress());
        assertEquals(Ipv4Header.parse("192.168.1.1"), ctx.lanAddress());
        assertTrue(ctx.translate());
        assertTrue(ctx.failOpen());
        assertEquals(1, ctx.threads());
        assertEquals(PassgateContext.autoMaxFlows(PassgateContext.memTotalKb()), ctx.natMaxFlows());
        assertEquals(ctx.natMaxFlows() + " (auto)", ctx.effective().get("nat.max-flows"));
        assertEquals(300, ctx.natUdpTimeoutS());
        assertEquals(7440, ctx.natTcpEstablishedTimeoutS());
        assertEquals(8 << 20, ctx.queueReceiveBuffer());
        assertEquals(PassgateContext.Filtering.ADDRESS_DEPENDENT, ctx.natFiltering());
        assertTrue(ctx.l2tpKeepPortForAll(), "l2tp.keep-port = all by default");
        assertEquals("203.0.113.7 (auto from eth1)", ctx.effective().get("wan-address"));
    }

    @Test
    void valuesParsed() throws Exception
    {
        final PassgateContext ctx = conclude(
            "# a comment", "", "lan-interface = eth0   # trailing comment", "wan-interface=eth1",
            "wan-address = 198.51.100.2", "fail-mode = closed", "threads = 2", "queue-receive-buffer = 16M",
            "nat.port-range = 20000-29999", "nat.filtering = endpoint-independent", "nat.mss-clamp = 1400",
            "mode = forward", "hairpin-mark = 0x200000", "l2tp.keep-port = first");
        assertEquals(Ipv4Header.parse("198.51.100.2"), ctx.wanAddress());
        assertFalse(ctx.failOpen());
        assertFalse(ctx.translate());
        assertEquals(2, ctx.threads());
        assertEquals(16 << 20, ctx.queueReceiveBuffer());
        assertEquals(20000, ctx.natPortMin());
        assertEquals(29999, ctx.natPortMax());
        assertEquals(1400, ctx.natMssClamp());
        assertEquals(0x200000, ctx.hairpinMark());
        assertEquals(PassgateContext.Filtering.ENDPOINT_INDEPENDENT, ctx.natFiltering());
        assertFalse(ctx.l2tpKeepPortForAll());
    }

    @Test
    void errorsNameTheLineAndTheKey()
    {
        assertEquals("test.conf line 3, key 'threads': must be 1..4 (got 9)",
            error("lan-interface = eth0", "wan-interface = eth1", "threads = 9"));
        assertEquals("test.conf line 2: unknown key 'wan-iface'", error("lan-interface = eth0", "wan-iface = eth1"));
        assertEquals("test.conf line 1: expected 'key = value', got 'lan-interface eth0'", error("lan-interface eth0"));
        assertTrue(error("lan-interface = eth0").contains("key 'wan-interface' is required"));
        assertEquals("test.conf line 3, key 'nat.udp-timeout': must be 120..86400 (got 60)",
            error("lan-interface = eth0", "wan-interface = eth1", "nat.udp-timeout = 60"),
            "RFC 4787 REQ-5: never under two minutes");
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "nat.tcp-established-timeout = 3600")
            .contains("must be 7440.."));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "threads = 3").contains("must be 1, 2 or 4"));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "fail-mode = maybe")
            .contains("line 3, key 'fail-mode': must be one of open, closed"));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "wan-address = 300.1.1.1")
            .contains("key 'wan-address': must be an IPv4 address or 'auto'"));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth9").contains("'auto' but interface eth9 has no IPv4 address"));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth0").contains("must differ"));
        assertTrue(error("lan-interface = eth0", "lan-interface = eth2").contains("set twice (first at test.conf line 1)"));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "nat.port-range = 100-200").contains("1024-65535"));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "hairpin-mark = 3").contains("single mark bit"));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "live-mark = 0x100000")
            .contains("key 'live-mark': must differ from hairpin-mark"));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "offload = true", "hairpin-mark = 0x400000")
            .contains("key 'hairpin-mark': must not use bit 0x400000 (offload's)"));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "offload = true", "live-mark = 0x400000")
            .contains("key 'live-mark': must not use bit 0x400000 (offload's)"));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "nat.new-rate-per-client = -1").contains("nat.new-rate-per-client"));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "gso = perhaps").contains("true or false"));
        assertTrue(error("lan-interface = eth0;rm -rf", "wan-interface = eth1").contains("not an interface name"));
    }

    /** Review item 15: a size whose multiplication overflows (17179869185 G wraps to exactly 1 GiB) is refused. */
    @Test
    void configSizeOverflowIsRefused()
    {
        final String e = error("lan-interface = eth0", "wan-interface = eth1", "queue-receive-buffer = 17179869185G");
        assertTrue(e.startsWith("test.conf line 3, key 'queue-receive-buffer': must be"), e);
        assertTrue(e.contains("overflows"), e);
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "queue-receive-buffer = 9223372036854775807K")
            .contains("overflows"));
        assertTrue(error("lan-interface = eth0", "wan-interface = eth1", "queue-receive-buffer = 99999999999999999999")
            .contains("not a size"));
    }

    @Test
    void commandLineOverridesTheFile() throws Exception
    {
        final ConfigSource source = ConfigSource.parse("f", List.of("lan-interface = eth0", "wan-interface = eth1",
            "threads = 2"));
        source.set("threads", "4", "option --set threads");
        final PassgateContext ctx = new PassgateContext().conclude(source, RESOLVER);
        assertEquals(4, ctx.threads());
        source.set("threads", "5", "option --set threads");
        assertEquals("option --set threads, key 'threads': must be 1..4 (got 5)",
            assertThrows(ConfigException.class, () -> new PassgateContext().conclude(source, RESOLVER)).getMessage());
    }

    /** The sample config in the jar names every key with its default, and parses. */
    @Test
    void sampleConfigIsCompleteAndValid() throws Exception
    {
        final java.util.List<String> lines;
        try (java.io.InputStream in = PassgateContextTest.class.getResourceAsStream("/passgate.conf"))
        {
            lines = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        }
        final ConfigSource source = ConfigSource.parse("passgate.conf", lines);
        for (final java.util.Map.Entry<String, String> e : ConfigKeys.DEFAULTS.entrySet())
        {
            final ConfigSource.Entry entry = source.get(e.getKey());
            assertTrue(entry != null, "sample lacks " + e.getKey());
            if (e.getValue() != null)
            {
                assertEquals(e.getValue(), entry.value(), "sample shows the default of " + e.getKey());
            }
        }
        new PassgateContext().conclude(source, RESOLVER);
    }

    @Test
    void theFlowtableIsAutoByDefaultOffOnRequestAndNothingElse() throws ConfigException
    {
        assertTrue(conclude("lan-interface = eth0", "wan-interface = eth1", "offload = true").offloadFlowtable());
        assertFalse(conclude("lan-interface = eth0", "wan-interface = eth1", "offload = true",
            "offload.flowtable = off").offloadFlowtable());
        final String message = error("lan-interface = eth0", "wan-interface = eth1", "offload.flowtable = on");
        assertTrue(message.contains("offload.flowtable"), message);
    }

    @Test
    void aPathTheFileSystemCannotNameIsAConfigError()
    {
        // found by ConfigFuzzTest: a NUL byte in runtime-dir escaped as InvalidPathException
        final String message = error("lan-interface = eth0", "wan-interface = eth1", "wan-address = auto",
            "runtime-dir = /run/pass\0gate");
        assertTrue(message.contains("runtime-dir"), message);
    }
}

package io.passgate.config;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.passgate.alg.Helpers;
import io.passgate.counters.CounterSet;
import io.passgate.nat.Helper;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.wire.Ipv4Header;

/**
 * The config file (/etc/passgate/passgate.conf), the input's bytes as UTF-8: any text is concluded to a context or refused with a
 * ConfigException naming the line or key, nothing else. An accepted context holds values the daemon can
 * use: a port range of at least 64 ports inside 1024-65535, a table capacity, 1, 2 or 4 threads; and (when
 * small enough to build quickly) a NAT engine and its helpers are made from it as the daemon makes them.
 */
class ConfigFuzzTest
{
    private static final PassgateContext.AddressResolver RESOLVER = name -> switch (name)
    {
        case "eth0" -> new int[] {Ipv4Header.parse("192.168.1.1"), 24};
        case "eth1" -> new int[] {Ipv4Header.parse("203.0.113.7"), 24};
        default -> null;
    };

    @FuzzTest(maxDuration = "15s")
    void file(final byte[] data)
    {
        final String text = new String(data, StandardCharsets.UTF_8);
        final PassgateContext ctx;
        try
        {
            ctx = new PassgateContext().conclude(ConfigSource.parse("fuzz.conf", Arrays.asList(text.split("\n", -1))),
                RESOLVER);
        }
        catch (final ConfigException refused)
        {
            assertTrue(refused.getMessage() != null && !refused.getMessage().isBlank(), "a refusal says why");
            return;
        }
        assertTrue(ctx.natPortMin() >= 1024 && ctx.natPortMax() <= 65535 && ctx.natPortMax() - ctx.natPortMin() >= 63,
            "port range");
        assertTrue(ctx.natMaxFlows() > 0, "table capacity");
        assertTrue(ctx.threads() == 1 || ctx.threads() == 2 || ctx.threads() == 4, "threads");
        assertTrue(ctx.lanInterface() != null && ctx.wanInterface() != null, "interfaces");
        if (ctx.natMaxFlows() <= 4096)
        {
            final NatConfig config = new NatConfig(ctx.wanAddress(), ctx.lanAddress(), 2, ctx.natMaxFlows(),
                ctx.natPortMin(), ctx.natPortMax(), ctx.natPortParity(), ctx.natFiltering(),
                ctx.natUdpTimeoutS() * 1000L, ctx.natTcpEstablishedTimeoutS() * 1000L,
                ctx.natTcpTransitoryTimeoutS() * 1000L, ctx.natIcmpTimeoutS() * 1000L, Math.max(0, ctx.natMssClamp()),
                ctx.natUnsolicitedSynIcmp(), ctx.hairpinMark(), 0, ctx.threads(), 1);
            final NatEngine engine = new NatEngine(config, new CounterSet(), (b, o, l, d) -> { }, ctx.natIcmpRate(), 0);
            for (final Helper helper : Helpers.create(ctx, 5))
            {
                engine.register(helper);
            }
        }
    }
}

package io.passgate.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import io.passgate.web.WebPassword;
import io.passgate.wire.Ipv4Header;
import org.junit.jupiter.api.Test;

/** web.listen and web.password-hash: the LAN address only, never a wildcard or the WAN; a well-formed hash. */
class WebConfigTest
{
    private static final PassgateContext.AddressResolver RESOLVER = name -> switch (name)
    {
        case "eth0" -> new int[] {Ipv4Header.parse("192.168.1.1"), 24};
        case "eth1" -> new int[] {Ipv4Header.parse("203.0.113.7"), 24};
        default -> null;
    };

    private static PassgateContext conclude(final String... extra) throws ConfigException
    {
        final List<String> lines = new ArrayList<>(List.of("lan-interface = eth0", "wan-interface = eth1"));
        lines.addAll(List.of(extra));
        return new PassgateContext().conclude(ConfigSource.parse("test.conf", lines), RESOLVER);
    }

    private static String error(final String... extra)
    {
        return assertThrows(ConfigException.class, () -> conclude(extra)).getMessage();
    }

    @Test
    void defaultIsTheLanAddressOnPort80AndReadOnly() throws Exception
    {
        final PassgateContext ctx = conclude();
        assertEquals("192.168.1.1", ctx.webAddress());
        assertEquals(80, ctx.webPort());
        assertNull(ctx.webPassword(), "no default password: read-only");
    }

    @Test
    void lanPortLoopbackAndOff() throws Exception
    {
        assertEquals(8080, conclude("web.listen = lan:8080").webPort());
        assertEquals("192.168.1.1", conclude("web.listen = 192.168.1.1:8080").webAddress());
        assertEquals("127.0.0.1", conclude("web.listen = 127.0.0.1:8080").webAddress());
        assertNull(conclude("web.listen = off").webAddress());
    }

    @Test
    void wildcardWanAndOtherAddressesRefused()
    {
        assertTrue(error("web.listen = 0.0.0.0:80").contains("key 'web.listen': the status page is served on the LAN "
            + "address only (192.168.1.1, or 127.0.0.1), never on a wildcard or the WAN"));
        assertTrue(error("web.listen = 203.0.113.7:80").contains("never on a wildcard or the WAN: not 203.0.113.7:80"));
        assertTrue(error("web.listen = 10.9.9.9:80").contains("LAN address only"));
        assertTrue(error("web.listen = lan").contains("must be off, lan:PORT or ADDRESS:PORT"));
        assertTrue(error("web.listen = lan:0").contains("must be off, lan:PORT or ADDRESS:PORT"));
    }

    @Test
    void passwordHashParsedOrRefusedNamingTheKey() throws Exception
    {
        final String hash = WebPassword.hash("secret".toCharArray(), WebPassword.MIN_ITERATIONS);
        final WebPassword p = conclude("web.password-hash = " + hash).webPassword();
        assertNotNull(p);
        assertTrue(p.matches("secret".toCharArray()));
        assertTrue(!p.matches("Secret".toCharArray()));
        assertTrue(error("web.password-hash = secret").contains("key 'web.password-hash': must be none or pbkdf2-sha256:"));
        assertTrue(error("web.password-hash = pbkdf2-sha256:1000:" + hash.split(":")[2] + ":" + hash.split(":")[3])
            .contains("too weak"));
    }
}

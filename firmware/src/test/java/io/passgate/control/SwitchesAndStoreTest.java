package io.passgate.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SwitchesAndStoreTest
{
    @TempDir
    Path dir;

    @Test
    void masterRemembersEachProtocolsSetting()
    {
        Switches s = Switches.ALL_ON.with("l2tp", false);
        assertFalse(s.effective("l2tp"));
        s = s.with("all", false);
        for (final String p : Switches.names())
        {
            assertFalse(s.effective(p), p + " off under the master switch");
        }
        assertTrue(s.setting("pptp"), "remembered");
        s = s.with("all", true);
        assertTrue(s.effective("pptp"));
        assertFalse(s.effective("l2tp"), "still its own setting");
    }

    @Test
    void nattNeedsIpsec()
    {
        final Switches s = Switches.ALL_ON.with("ipsec", false);
        assertTrue(s.setting("natt"));
        assertFalse(s.effective("natt"));
        assertTrue(Switches.ALL_ON.with("natt", false).effective("ipsec"), "and not the other way round");
        assertThrows(IllegalArgumentException.class, () -> s.with("ftp", true));
    }

    @Test
    void storeRoundTripAndDefaultsWhenMissing() throws Exception
    {
        final SwitchStore store = new SwitchStore(dir);
        final SwitchStore.Loaded missing = store.load(Switches.ALL_ON);
        assertEquals(Switches.ALL_ON, missing.switches());
        assertNull(missing.problem());
        final Switches s = new Switches(false, java.util.Map.of("pptp", true, "ipsec", false, "natt", true, "l2tp", false));
        store.save(s);
        final SwitchStore.Loaded back = store.load(Switches.ALL_ON);
        assertEquals(s, back.switches());
        assertNull(back.problem());
        assertFalse(Files.exists(dir.resolve("switches.tmp")), "no temporary file left");
    }

    @Test
    void corruptFilesAreReportedAndReplaced() throws Exception
    {
        final SwitchStore store = new SwitchStore(dir);
        final Switches defaults = Switches.ALL_ON.with("l2tp", false);
        for (final String bad : List.of("", "all = on\npptp = of", "garbage\u0000\u0001",
            "all = on\npptp = on\nipsec = on\nnatt = on\nl2tp = on\ncrc32 = 00000000\n",
            "all = on\ncrc32 = " + "x"))
        {
            Files.writeString(dir.resolve("switches"), bad);
            final SwitchStore.Loaded loaded = store.load(defaults);
            assertEquals(defaults, loaded.switches(), "defaults for " + bad);
            assertNotNull(loaded.problem());
            assertTrue(loaded.problem().contains("corrupt"), loaded.problem());
            assertEquals(defaults, store.load(Switches.ALL_ON).switches(), "the file was rewritten with the defaults");
        }
        // an edited value breaks the checksum
        store.save(Switches.ALL_ON);
        Files.writeString(dir.resolve("switches"), Files.readString(dir.resolve("switches")).replace("pptp = on", "pptp = off"));
        assertTrue(store.load(defaults).problem().contains("checksum mismatch"));
    }

    @Test
    void jsonRoundTrip()
    {
        final Map<String, Object> m = Json.parseObject("{\"cmd\":\"switch\",\"protocol\":\"pptp\",\"on\":false,\"n\":-12,"
            + "\"nested\":{\"a\":[1,2,{\"b\":null}]},\"s\":\"q\\\"uote\\n\"}");
        assertEquals("switch", m.get("cmd"));
        assertEquals(Boolean.FALSE, m.get("on"));
        assertEquals(-12L, m.get("n"));
        assertEquals("q\"uote\n", m.get("s"));
        assertEquals(m, Json.parseObject(Json.write(m)));
        assertThrows(IllegalArgumentException.class, () -> Json.parseObject("{\"a\":}"));
        assertThrows(IllegalArgumentException.class, () -> Json.parseObject("{\"a\":1} x"));
        assertThrows(IllegalArgumentException.class, () -> Json.parseObject("[" .repeat(100)));
        // found by JsonFuzzTest: beyond a double's range parsed as -Infinity, which write() gave back as is
        assertThrows(IllegalArgumentException.class, () -> Json.parseObject("{\"n\":-1e322}"));
        assertEquals("{\"x\":null}", Json.write(java.util.Map.of("x", Double.NaN)), "JSON has no NaN");
        assertThrows(IllegalArgumentException.class, () -> Json.parseObject("{\"a\":" + "[".repeat(100)));
    }
}

package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.passgate.testing.RequiresRoot;
import io.passgate.tools.lab.Lab;
import org.junit.jupiter.api.Test;

/**
 * tools/bin/demo as a user runs it (a process, its output read as text): each of its eight tunnels (PPTP,
 * IPsec, L2TP, OpenVPN from two clients) carried packets both ways by passgate's table, the button's
 * refusals showed, the tunnels worked again, everything was removed; and a protocol switched off by
 * configuration is reported FAILED with exit status 1.
 */
@RequiresRoot
class DemoIT
{
    private static final Pattern SUMMARY = Pattern.compile(
        "(?m)^  (pptp|ipsec|l2tp|openvpn) +(10\\.77\\.0\\.1[12]) -> 203\\.0\\.113\\.10: carried (\\d+) packets both ways .*: (OK|FAILED)$");
    private static final Pattern LAB = Pattern.compile("(?m)^lab (pg\\d+x\\d+): ");

    private static Lab.Result demo(final String... args) throws IOException
    {
        final List<String> command = new java.util.ArrayList<>(List.of(Lab.home().resolve("bin/demo").toString(),
            "--seconds", "6"));
        command.addAll(List.of(args));
        final Lab.Result r = Lab.exec(null, 300_000, command.toArray(String[]::new));
        System.out.println(r.output());
        return r;
    }

    /** The summary lines by "protocol client": packets and verdict. */
    private static java.util.Map<String, String[]> summary(final String output)
    {
        final java.util.Map<String, String[]> lines = new java.util.LinkedHashMap<>();
        final Matcher m = SUMMARY.matcher(output);
        while (m.find())
        {
            assertEquals(null, lines.put(m.group(1) + " " + m.group(2), new String[] {m.group(3), m.group(4)}),
                "one summary line per tunnel: " + m.group());
        }
        return lines;
    }

    private static void labRemoved(final String output) throws IOException
    {
        final Matcher lab = LAB.matcher(output);
        assertTrue(lab.find(), output);
        final String namespaces = Lab.exec(null, 10_000, "ip", "netns", "list").output();
        assertFalse(namespaces.contains(lab.group(1) + "-"), "the demo's namespaces are gone: " + namespaces);
    }

    @Test
    void everyTunnelCarriesTrafficTheButtonRefusesAndAllowsAgain() throws Exception
    {
        final Lab.Result r = demo();
        final String out = r.output();
        assertEquals(0, r.status(), out);
        final java.util.Map<String, String[]> lines = summary(out);
        for (final String protocol : new String[] {"pptp", "ipsec", "l2tp", "openvpn"})
        {
            for (final String client : new String[] {"10.77.0.11", "10.77.0.12"})
            {
                final String[] line = lines.get(protocol + " " + client);
                assertTrue(line != null, protocol + " from " + client + " has a summary line:\n" + out);
                assertEquals("OK", line[1], protocol + " from " + client + ":\n" + out);
                assertTrue(Long.parseLong(line[0]) >= 20, protocol + " from " + client + " carried " + line[0] + " packets");
            }
        }
        assertEquals(8, lines.size(), out);
        // the live table showed passgate's rows (translated IDs among them) and the LEDs
        assertTrue(out.contains("passgate's tunnel table (passgatectl tunnels)"), out);
        assertTrue(Pattern.compile("(?m)^pptp-call +10\\.77\\.0\\.1[12] .* call-id 1 wan \\d+ server \\d+$").matcher(out).find(), out);
        assertTrue(Pattern.compile("(?m)^l2tp +10\\.77\\.0\\.1[12] .* tid=5 wan-tid=(?!5 )\\d+").matcher(out).find(),
            "the second Tunnel ID 5 was translated:\n" + out);
        assertTrue(out.contains("LEDs: system=heartbeat pptp=slow-blink ipsec=slow-blink l2tp=slow-blink"), out);
        // off: LEDs, teardown, refusals as the client sees them; OpenVPN still passes
        assertTrue(out.contains("pressing the virtual button (passgatectl button short): passthrough: all off"), out);
        assertTrue(out.contains("LEDs: system=heartbeat pptp=off ipsec=off l2tp=off"), out);
        for (final String protocol : new String[] {"pptp", "ipsec", "l2tp"})
        {
            assertTrue(out.contains("  refused " + protocol + " from 10.77.0.11: "), protocol + " refused:\n" + out);
            assertTrue(out.contains("on again: " + protocol + " from 10.77.0.11: OK"), out);
        }
        assertTrue(Pattern.compile("client saw \\d+x: ICMP 3/13 \\(administratively prohibited\\) from 10\\.77\\.0\\.1 about its UDP "
            + ":500 -> 203\\.0\\.113\\.10:500").matcher(out).find(), "the IKE attempt got ICMP 3/13:\n" + out);
        final Matcher refused = Pattern.compile("passthrough-refused: \\+(\\d+)").matcher(out);
        assertTrue(refused.find() && Long.parseLong(refused.group(1)) >= 3, out);
        assertTrue(out.contains("openvpn from 10.77.0.11 passes with passthrough off (no helper needed): OK"), out);
        assertTrue(out.contains("pressing the virtual button again: passthrough: all on"), out);
        assertTrue(out.contains("demo: all OK"), out);
        labRemoved(out);
    }

    /**
     * With offload on, the kernel carries the settled tunnels (ESP by SPI, PPTP GRE by Call ID, OpenVPN's UDP
     * flows) and the demo still passes: their packets are counted in passgate's table, the button's teardown
     * empties the helpers' rows (the offloaded OpenVPN flows stay rows of their own), and tunnels work again.
     */
    @Test
    void withOffloadTheKernelCarriesTheTunnelsAndTheDemoStillPasses() throws Exception
    {
        final Lab.Result r = demo("--set", "offload=true");
        final String out = r.output();
        assertEquals(0, r.status(), out);
        final java.util.Map<String, String[]> lines = summary(out);
        assertEquals(8, lines.size(), out);
        lines.forEach((tunnel, line) -> assertEquals("OK", line[1], tunnel + ":\n" + out));
        final Matcher offload = Pattern.compile("offload: the kernel took (\\d+) flow\\(s\\), (\\d+) ESP SA\\(s\\), (\\d+) PPTP call")
            .matcher(out);
        assertTrue(offload.find(), out);
        assertTrue(Long.parseLong(offload.group(1)) >= 2, "both clients' OpenVPN flows offloaded:\n" + out);
        assertTrue(Long.parseLong(offload.group(2)) >= 2, "both clients' ESP SAs:\n" + out);
        assertTrue(Long.parseLong(offload.group(3)) >= 2, "both clients' PPTP calls:\n" + out);
        assertTrue(out.contains("passgate tore the live PPTP, IPsec and L2TP tunnels down (none left in its tunnel table): OK"), out);
        assertTrue(out.contains("demo: all OK"), out);
        labRemoved(out);
    }

    @Test
    void aProtocolSwitchedOffIsReportedFailedWithExitStatusOne() throws Exception
    {
        final Lab.Result r = demo("--set", "passthrough.l2tp=off");
        final String out = r.output();
        assertEquals(1, r.status(), out);
        final java.util.Map<String, String[]> lines = summary(out);
        assertEquals(8, lines.size(), out);
        for (final String client : new String[] {"10.77.0.11", "10.77.0.12"})
        {
            assertEquals("FAILED", lines.get("l2tp " + client)[1], out);
            assertEquals("0", lines.get("l2tp " + client)[0], out);
            assertEquals("OK", lines.get("pptp " + client)[1], out);
            assertEquals("OK", lines.get("openvpn " + client)[1], out);
        }
        assertTrue(out.contains("on again: l2tp from 10.77.0.11: FAILED"), out);
        assertTrue(out.contains("demo: FAILED: "), out);
        labRemoved(out);
    }
}

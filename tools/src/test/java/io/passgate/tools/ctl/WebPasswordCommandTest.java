package io.passgate.tools.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import io.passgate.web.WebPassword;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** passgatectl web-password: prints or writes a hash the daemon accepts, never a short password. */
class WebPasswordCommandTest
{
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(final String stdin, final String... args)
    {
        return PassgateCtl.run(args, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
            new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void printsAHashLineThatMatchesThePassword()
    {
        assertEquals(0, run("a long secret\n", "web-password", "--stdin"), err.toString());
        final String line = out.toString(StandardCharsets.UTF_8).strip();
        assertTrue(line.startsWith("web.password-hash = pbkdf2-sha256:" + WebPassword.ITERATIONS + ":"), line);
        final WebPassword p = WebPassword.parse(line.substring(line.indexOf('=') + 1).strip());
        assertTrue(p.matches("a long secret".toCharArray()));
        assertFalse(p.matches("a long secreT".toCharArray()));
    }

    @Test
    void shortPasswordsAndNoTerminalAreRefused()
    {
        assertEquals(2, run("short\n", "web-password", "--stdin"));
        assertTrue(err.toString().contains("at least 8 characters"), err.toString());
        assertEquals(2, run("", "web-password", "--bogus"));
        // no terminal here (tests run without a console) and no --stdin
        if (System.console() == null)
        {
            assertEquals(2, run("", "web-password"));
            assertTrue(err.toString().contains("use --stdin"), err.toString());
        }
    }

    @Test
    void writesTheKeyIntoTheConfigKeepingTheRestAndThePermissions(@TempDir final Path dir) throws Exception
    {
        final Path conf = dir.resolve("passgate.conf");
        Files.write(conf, List.of("lan-interface = eth0", "# the page", "web.password-hash = none", "board = auto"));
        Files.setPosixFilePermissions(conf, PosixFilePermissions.fromString("rw-r-----"));
        assertEquals(0, run("another secret\n", "web-password", "--stdin", "--config", conf.toString()), err.toString());
        final List<String> lines = Files.readAllLines(conf);
        assertEquals(4, lines.size(), lines.toString());
        assertEquals("lan-interface = eth0", lines.get(0));
        assertEquals("board = auto", lines.get(3));
        assertTrue(WebPassword.parse(lines.get(2).substring(lines.get(2).indexOf('=') + 1).strip())
            .matches("another secret".toCharArray()));
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(conf)));
        assertTrue(out.toString().contains("restart passgate"), out.toString());
        try (var files = Files.list(dir))
        {
            assertEquals(1, files.count(), "no temporary file left");
        }

        // a file without the key gets it added
        final Path bare = dir.resolve("bare.conf");
        Files.write(bare, List.of("lan-interface = eth0"));
        assertEquals(0, run("another secret\n", "web-password", "--stdin", "--config", bare.toString()));
        assertTrue(Files.readAllLines(bare).get(1).startsWith("web.password-hash = pbkdf2-sha256:"));
    }
}

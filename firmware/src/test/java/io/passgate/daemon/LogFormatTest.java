package io.passgate.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogFormatTest
{
    @Test
    void datedUnlessStandardOutputIsTheJournalStream()
    {
        assertEquals(Main.DATED_FORMAT, Main.logFormat(null, "25:1234"));
        assertEquals(Main.DATED_FORMAT, Main.logFormat("", "25:1234"));
        assertEquals(Main.DATED_FORMAT, Main.logFormat("25:1234", null));
        // inherited by a process whose output went elsewhere
        assertEquals(Main.DATED_FORMAT, Main.logFormat("25:1234", "25:999"));
        assertEquals(Main.JOURNAL_FORMAT, Main.logFormat("25:1234", "25:1234"));
    }

    @Test
    void standardOutputIdentityMatchesStatOfTheStream(@TempDir final Path dir) throws IOException, InterruptedException
    {
        // a child JVM's standard output is a file: its identity must be the file's device and inode, as stat prints
        final Path out = dir.resolve("out");
        final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        final Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Probe.class.getName())
            .redirectOutput(out.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        final Process stat = new ProcessBuilder("stat", "-c", "%d:%i", out.toString()).start();
        final String expected = new String(stat.getInputStream().readAllBytes()).trim();
        assertTrue(stat.waitFor(10, TimeUnit.SECONDS));
        assertEquals(expected, Files.readString(out).trim());
        assertNotNull(Main.stdoutIdentity());
    }

    /** Prints its own standard output's identity. */
    public static final class Probe
    {
        public static void main(final String[] args)
        {
            System.out.println(Main.stdoutIdentity());
        }
    }
}

package io.passgate.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.passgate.tools.lab.Lab;
import org.junit.jupiter.api.Test;

/**
 * The daemon's launcher (bin/passgate) picks its JIT by PASSGATE_JIT: c1 alone, c2 alone, or by the board's
 * memory (auto: c1 below 1 GiB of MemTotal). Checked with the JVM's own final flags (-XX:+PrintFlagsFinal through
 * PASSGATE_JAVA_OPTS, which comes last) and passgate --version, so the real launcher and JVM are what answer.
 */
class LauncherIT
{
    private record Run(int status, String output)
    {
        /** A flag's final value as -XX:+PrintFlagsFinal prints it, e.g. "TieredStopAtLevel = 1". */
        String flag(final String name)
        {
            for (final String line : output.split("\n"))
            {
                final String[] f = line.trim().split("\\s+");
                if (f.length >= 4 && f[1].equals(name) && f[2].equals("="))
                {
                    return f[3];
                }
            }
            return null;
        }
    }

    private static Run launch(final String jit, final String javaOpts) throws Exception
    {
        final List<String> command = new ArrayList<>(List.of("env"));
        if (jit != null)
        {
            command.add("PASSGATE_JIT=" + jit);
        }
        else
        {
            command.add("-u");
            command.add("PASSGATE_JIT");
        }
        command.add("PASSGATE_JAVA_OPTS=" + javaOpts);
        command.add(Lab.home().resolve("bin/passgate").toString());
        command.add("--version");
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "launcher did not exit");
        return new Run(p.exitValue(), out);
    }

    @Test
    void c1IsTheClientCompilerAloneAndC2TheOptimizingOneAlone() throws Exception
    {
        final Run c1 = launch("c1", "-XX:+PrintFlagsFinal");
        assertEquals(0, c1.status(), c1.output());
        assertTrue(c1.output().contains("passgate "), c1.output());
        assertEquals("true", c1.flag("TieredCompilation"), c1.output());
        assertEquals("1", c1.flag("TieredStopAtLevel"));
        assertEquals("1", c1.flag("CICompilerCount"));
        assertEquals("10.000000", c1.flag("CompileThresholdScaling"));

        final Run c2 = launch("c2", "-XX:+PrintFlagsFinal");
        assertEquals(0, c2.status(), c2.output());
        assertEquals("false", c2.flag("TieredCompilation"), c2.output());
        assertEquals("1", c2.flag("CICompilerCount"));
        assertEquals("1.000000", c2.flag("CompileThresholdScaling"));   // C2's packet path compiled as soon as usual
        // the heap a Pi Zero 2 W affords, whichever the JIT
        assertEquals(Long.toString(32L << 20), c1.flag("MaxHeapSize"));
        assertEquals(Long.toString(32L << 20), c2.flag("MaxHeapSize"));
    }

    @Test
    void autoPicksByTheBoardsMemory() throws Exception
    {
        long memTotalKb = 0;
        for (final String line : Files.readAllLines(Path.of("/proc/meminfo")))
        {
            if (line.startsWith("MemTotal:"))
            {
                memTotalKb = Long.parseLong(line.trim().split("\\s+")[1]);
            }
        }
        final String expected = memTotalKb >= 1L << 20 ? "false" : "true";   // c2 from 1 GiB on, else c1
        final Run unset = launch(null, "-XX:+PrintFlagsFinal");
        assertEquals(0, unset.status(), unset.output());
        assertEquals(expected, unset.flag("TieredCompilation"), "MemTotal " + memTotalKb + " kB");
        final Run auto = launch("auto", "-XX:+PrintFlagsFinal");
        assertEquals(expected, auto.flag("TieredCompilation"));
    }

    @Test
    void theUsersJavaOptionsStillWinAndABadChoiceIsRefused() throws Exception
    {
        final Run opts = launch("c1", "-XX:TieredStopAtLevel=3 -XX:+PrintFlagsFinal");
        assertEquals(0, opts.status(), opts.output());
        assertEquals("3", opts.flag("TieredStopAtLevel"));

        final Run bad = launch("c3", "");
        assertEquals(2, bad.status(), bad.output());
        assertTrue(bad.output().contains("PASSGATE_JIT must be auto, c1 or c2 (is 'c3')"), bad.output());
    }
}

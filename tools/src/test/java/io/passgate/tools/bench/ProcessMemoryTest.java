package io.passgate.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ProcessMemoryTest
{
    @Test
    void theHeapIsEveryGenerationNotTheFirstOne()
    {
        final String serial = """
            12345:
            DefNew     total 1856K, used 581K [0x00000000fe000000, 0x00000000fe200000, 0x00000000fe200000)
             eden space 1664K,  33% used [0x00000000fe000000, 0x00000000fe08b730, 0x00000000fe1a0000)
             from space 192K,  12% used [0x00000000fe1d0000, 0x00000000fe1d6048, 0x00000000fe200000)
             to   space 192K,   0% used [0x00000000fe1a0000, 0x00000000fe1a0000, 0x00000000fe1d0000)
            Tenured    total 14336K, used 8712K [0x00000000fe200000, 0x00000000ff000000, 0x0000000100000000)
             the  space 14336K,  60% used [0x00000000fe200000, 0x00000000fea82210, 0x00000000ff000000)
            """;
        assertEquals("heap used 9293K of 16192K (DefNew 581K of 1856K, Tenured 8712K of 14336K)",
            ProcessMemory.heapOf(serial));
        assertEquals("", ProcessMemory.heapOf("12345:\nno heap here\n"));
    }

    @Test
    void statusLinesOfThisProcess() throws Exception
    {
        final String s = ProcessMemory.status(ProcessHandle.current().pid(), "VmRSS", "Threads");
        assertTrue(s.matches("VmRSS: \\d+ kB; Threads: \\d+; "), s);
    }

    @Test
    void oneStatusValueInKb() throws Exception
    {
        final long pid = ProcessHandle.current().pid();
        final long rss = ProcessMemory.kb(pid, "VmRSS");
        assertTrue(rss > 1024 && rss <= ProcessMemory.kb(pid, "VmHWM"), rss + " kB");
        assertEquals(-1, ProcessMemory.kb(pid, "NoSuchKey"));
    }

    @Test
    void theJitACommandLinePicksLastOptionWins()
    {
        // passgate's launcher: the tools' -XX:TieredStopAtLevel=4, then its own choice
        assertEquals("c1", ProcessMemory.jitOf(new String[] {"java", "-XX:TieredStopAtLevel=4",
            "-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1", "io.passgate.daemon.Main"}));
        assertEquals("c2", ProcessMemory.jitOf(new String[] {"java", "-XX:TieredStopAtLevel=4",
            "-XX:-TieredCompilation", "io.passgate.daemon.Main"}));
        assertEquals("tiered", ProcessMemory.jitOf(new String[] {"java", "-XX:TieredStopAtLevel=1",
            "-XX:TieredStopAtLevel=4", "Main"}));
        assertEquals("tiered", ProcessMemory.jitOf(new String[] {"java", "Main"}));
        assertEquals("c2", ProcessMemory.jitOf(new String[] {"java", "-XX:+TieredCompilation",
            "-XX:-TieredCompilation", "Main"}));
    }

    @Test
    void theSamplerSeesAPeak() throws Exception
    {
        // this JVM touches 64 MB of native memory: the sampler sees RSS rise by it
        final long pid = ProcessHandle.current().pid();
        try (ProcessMemory.RssSampler sampler = new ProcessMemory.RssSampler(pid, 5))
        {
            while (sampler.samples() < 2)
            {
                Thread.sleep(5);
            }
            final long before = ProcessMemory.kb(pid, "VmRSS");
            final java.nio.ByteBuffer big = java.nio.ByteBuffer.allocateDirect(64 << 20);
            for (int i = 0; i < big.capacity(); i += 4096)
            {
                big.put(i, (byte)1);
            }
            final long seen = sampler.samples();
            while (sampler.samples() < seen + 3)
            {
                Thread.sleep(5);
            }
            assertTrue(sampler.maxKb() >= before + 60_000, sampler.maxKb() + " kB, before " + before + " kB");
        }
    }
}

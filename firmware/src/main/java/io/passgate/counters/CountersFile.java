package io.passgate.counters;

import java.io.File;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The counters of every shard in a memory-mapped file (runtime-dir/counters), written by the daemon and
 * read by passgatectl, the metrics endpoint and tests without any call into the daemon, as Aeron's CnC
 * file is read by AeronStat.
 *
 * <pre>
 * 0   magic "PGCNTRS1"          8
 * 8   shards                    4
 * 12  counters per shard        4
 * 16  pid of the writer         8
 * 24  start time (epoch ms)     8
 * 32  label table: counters x 64 bytes, NUL padded
 * ..  values: shards x counters x 8 bytes, stored with release semantics
 * </pre>
 */
public final class CountersFile implements AutoCloseable
{
    private static final long MAGIC = 0x5347544E43474750L; // "PGCNTRS1" read little endian is irrelevant: fixed value
    private static final int HEADER = 32;
    private static final int LABEL = 64;

    private final MappedByteBuffer mapped;
    private final UnsafeBuffer buffer;
    private final int shards;
    private final int counters;
    private final int valuesOffset;

    private CountersFile(final MappedByteBuffer mapped, final int shards, final int counters)
    {
        this.mapped = mapped;
        this.buffer = new UnsafeBuffer(mapped);
        this.shards = shards;
        this.counters = counters;
        this.valuesOffset = HEADER + counters * LABEL;
    }

    /** Creates (replacing) the file for {@code shards} shards of every {@link Counter}. */
    public static CountersFile create(final Path path, final int shards, final long pid, final long startMs)
        throws IOException
    {
        Files.createDirectories(path.toAbsolutePath().getParent());
        final int counters = Counter.count();
        final long length = HEADER + (long)counters * LABEL + (long)shards * counters * 8;
        final File file = path.toFile();
        Files.deleteIfExists(path);
        final MappedByteBuffer mapped = IoUtil.mapNewFile(file, length, true);
        final CountersFile f = new CountersFile(mapped, shards, counters);
        final UnsafeBuffer b = f.buffer;
        b.putInt(8, shards);
        b.putInt(12, counters);
        b.putLong(16, pid);
        b.putLong(24, startMs);
        for (int i = 0; i < counters; i++)
        {
            final byte[] label = Counter.byIndex(i).label().getBytes(StandardCharsets.US_ASCII);
            b.putBytes(HEADER + i * LABEL, label, 0, Math.min(label.length, LABEL - 1));
        }
        b.putLongRelease(0, MAGIC);
        return f;
    }

    /** Maps an existing file read-only-in-spirit (for readers). */
    public static CountersFile open(final Path path) throws IOException
    {
        if (!Files.exists(path))
        {
            throw new IOException("no counters file at " + path + " (is the daemon running?)");
        }
        final MappedByteBuffer mapped = IoUtil.mapExistingFile(path.toFile(), "counters");
        final UnsafeBuffer b = new UnsafeBuffer(mapped);
        if (b.capacity() < HEADER || b.getLongVolatile(0) != MAGIC)
        {
            IoUtil.unmap(mapped);
            throw new IOException(path + " is not a passgate counters file");
        }
        return new CountersFile(mapped, b.getInt(8), b.getInt(12));
    }

    public int shards()
    {
        return shards;
    }

    public long pid()
    {
        return buffer.getLong(16);
    }

    public long startMs()
    {
        return buffer.getLong(24);
    }

    /** Copies a shard's counters into the file (dataplane thread, once per tick; no allocation). */
    public void publish(final int shard, final CounterSet set)
    {
        final int base = valuesOffset + shard * counters * 8;
        final int n = Math.min(counters, Counter.count());
        for (int i = 0; i < n; i++)
        {
            buffer.putLongRelease(base + i * 8, set.get(i));
        }
    }

    public String label(final int index)
    {
        final int at = HEADER + index * LABEL;
        int end = at;
        while (end < at + LABEL && buffer.getByte(end) != 0)
        {
            end++;
        }
        return buffer.getStringWithoutLengthAscii(at, end - at);
    }

    public long value(final int shard, final int index)
    {
        return buffer.getLongVolatile(valuesOffset + (shard * counters + index) * 8);
    }

    /** The sum over shards of a counter found by label, or -1 when the file has no such label. */
    public long total(final String label)
    {
        for (int i = 0; i < counters; i++)
        {
            if (label(i).equals(label))
            {
                long sum = 0;
                for (int s = 0; s < shards; s++)
                {
                    sum += value(s, i);
                }
                return sum;
            }
        }
        return -1;
    }

    public long total(final Counter counter)
    {
        return total(counter.label());
    }

    /** Label to sum over shards, in file order. */
    public Map<String, Long> totals()
    {
        final Map<String, Long> out = new LinkedHashMap<>();
        for (int i = 0; i < counters; i++)
        {
            long sum = 0;
            for (int s = 0; s < shards; s++)
            {
                sum += value(s, i);
            }
            out.put(label(i), sum);
        }
        return out;
    }

    @Override
    public void close()
    {
        IoUtil.unmap(mapped);
    }
}

package io.passgate.nat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import org.agrona.concurrent.UnsafeBuffer;
import org.tinylog.Logger;

/**
 * One shard's state file: the engine's image ({@link EngineImage}) in a memory-mapped file under
 * {@code runtime-dir}, as Aeron keeps its CnC file: what the dataplane thread writes there is in the kernel's
 * page cache the moment it is written, so a {@code kill -9} loses nothing already written; only a crash of the
 * whole machine (which also empties {@code /run}) does.
 *
 * <p>Layout: a 4 KiB header (magic, format version, slot size, the image's layout hash, the boot id, the WAN
 * address and the shard), then two slots. An image goes to the slot not holding the last good one: its bytes,
 * their CRC32C and length, and last its generation (a release store). A reader takes the slot with a
 * matching CRC and the higher generation, so an image torn by a kill in the middle of a write leaves the one
 * before it. A file of another format, layout, boot (a cold boot starts empty), WAN address or size, or one
 * with no good slot, is reported and replaced by an empty one, never trusted.
 */
public final class StateStore implements AutoCloseable
{
    static final long MAGIC = 0x3145_5441_5453_4750L;   // "PGSTATE1" little-endian
    static final int VERSION = 1;
    static final int HEADER = 4096;
    static final int SLOT_HEADER = 64;
    // header fields
    private static final int H_MAGIC = 0;
    private static final int H_VERSION = 8;
    private static final int H_SLOT_SIZE = 12;
    private static final int H_SCHEMA = 16;
    private static final int H_WAN = 20;
    private static final int H_SHARD = 24;
    private static final int H_BOOT = 32;   // 36 bytes of text
    // slot header fields
    private static final int S_GENERATION = 0;
    private static final int S_LENGTH = 8;
    private static final int S_CRC = 12;
    private static final int S_SAVED_AT = 16;

    private final Path path;
    private final FileChannel channel;
    private final MappedByteBuffer mapped;
    private final UnsafeBuffer buffer;
    private final int slotSize;
    private final EngineImage image;
    private final CounterSet counters;
    private final long intervalMs;
    private final CRC32C crc = new CRC32C();
    private long generation;
    private int lastSlot = -1;
    private long nextSaveMs;
    private long savedActivity = -1;
    private boolean tooBigLogged;

    /** What {@link #open} found in the file. */
    public record Found(int sessions, String problem, long savedAtMs)
    {
    }

    private Found found;

    private StateStore(final Path path, final FileChannel channel, final MappedByteBuffer mapped, final int slotSize,
        final EngineImage image, final CounterSet counters, final long intervalMs)
    {
        this.path = path;
        this.channel = channel;
        this.mapped = mapped;
        this.buffer = new UnsafeBuffer(mapped);
        this.slotSize = slotSize;
        this.image = image;
        this.counters = counters;
        this.intervalMs = intervalMs;
    }

    /** The boot id of the running kernel ({@code /proc/sys/kernel/random/boot_id}), "" when unknown. */
    public static String bootId()
    {
        try
        {
            return Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
        }
        catch (final IOException | RuntimeException e)
        {
            return "";
        }
    }

    /**
     * Opens (or creates) the state file of a shard whose engine is registered but not yet running, restores
     * what a good image in it holds into the engine ({@link #found()} says what), and leaves the file ready
     * for {@link #maybeSave}.
     */
    public static StateStore open(final Path path, final NatEngine engine, final EngineImage image, final int shard,
        final String bootId, final long intervalMs, final long nowMs) throws IOException
    {
        // room for a full table and helpers, with slack for the helpers' maps that grow
        final long want = SLOT_HEADER + (long)image.maxSize() * 2 + (1 << 20);
        final int slotSize = (int)Math.min(Integer.MAX_VALUE / 2 - HEADER, (want + 4095) & ~4095L);
        Files.createDirectories(path.getParent());
        final FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
            StandardOpenOption.WRITE);
        final long size = HEADER + 2L * slotSize;
        String problem = null;
        final long existing = channel.size();
        if (existing == 0)
        {
            problem = null;   // a new file: nothing to say
        }
        else if (existing != size)
        {
            problem = "state file " + path + " has " + existing + " bytes, this configuration needs " + size;
        }
        if (existing != size)
        {
            channel.truncate(0);
            channel.write(ByteBuffer.allocate(1), size - 1);
        }
        final MappedByteBuffer mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, size);
        final StateStore store = new StateStore(path, channel, mapped, slotSize, image, engine.counters(), intervalMs);
        store.found = existing == size ? store.load(engine, shard, bootId, nowMs)
            : new Found(0, problem, 0);
        store.writeHeader(image.schema(), engine.config().wanAddress(), shard, bootId);
        return store;
    }

    public Found found()
    {
        return found;
    }

    public Path path()
    {
        return path;
    }

    private Found load(final NatEngine engine, final int shard, final String bootId, final long nowMs)
    {
        if (buffer.getLong(H_MAGIC) != MAGIC)
        {
            return new Found(0, allZero() ? null : "state file " + path + " is not passgate's (bad magic): replaced",
                0);
        }
        if (buffer.getInt(H_VERSION) != VERSION || buffer.getInt(H_SLOT_SIZE) != slotSize)
        {
            return new Found(0, "state file " + path + " has format " + buffer.getInt(H_VERSION) + ", slot size "
                + buffer.getInt(H_SLOT_SIZE) + ": replaced", 0);
        }
        final String savedBoot = readBoot();
        if (!savedBoot.equals(bootId))
        {
            return new Found(0, "state file " + path + " is from an earlier boot: starting empty", 0);
        }
        if (buffer.getInt(H_WAN) != engine.config().wanAddress() || buffer.getInt(H_SHARD) != shard)
        {
            return new Found(0, "state file " + path + " was written for another WAN address or shard: starting empty",
                0);
        }
        if (buffer.getInt(H_SCHEMA) != image.schema())
        {
            return new Found(0, "state file " + path + " holds another passgate version's layout: starting empty", 0);
        }
        int best = -1;
        long bestGeneration = 0;
        int torn = 0;
        for (int s = 0; s < 2; s++)
        {
            final int base = slotBase(s);
            final long g = buffer.getLongVolatile(base + S_GENERATION);
            final int length = buffer.getInt(base + S_LENGTH);
            if (g <= 0)
            {
                continue;
            }
            if (length < 0 || length > slotSize - SLOT_HEADER || crcOf(base + SLOT_HEADER, length)
                != buffer.getInt(base + S_CRC))
            {
                torn++;
                continue;
            }
            if (best < 0 || g > bestGeneration)
            {
                best = s;
                bestGeneration = g;
            }
        }
        if (best < 0)
        {
            return new Found(0, torn > 0 ? "state file " + path + ": no intact image (" + torn
                + " torn): starting empty" : null, 0);
        }
        final int base = slotBase(best);
        final int length = buffer.getInt(base + S_LENGTH);
        final String problem = image.restore(buffer, base + SLOT_HEADER, length, nowMs);
        if (problem != null)
        {
            return new Found(0, "state file " + path + ": " + problem + ": starting empty", 0);
        }
        generation = bestGeneration;
        lastSlot = best;
        return new Found(image.lastSessions(), torn > 0 ? "state file " + path
            + ": the newest image was torn, the one before it was restored" : null, buffer.getLong(base + S_SAVED_AT));
    }

    private boolean allZero()
    {
        for (int i = 0; i < 64; i += 8)
        {
            if (buffer.getLong(i) != 0)
            {
                return false;
            }
        }
        return true;
    }

    private String readBoot()
    {
        final byte[] b = new byte[36];
        buffer.getBytes(H_BOOT, b);
        int n = 0;
        while (n < b.length && b[n] != 0)
        {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.US_ASCII);
    }

    private void writeHeader(final int schema, final int wan, final int shard, final String bootId)
    {
        buffer.putInt(H_VERSION, VERSION);
        buffer.putInt(H_SLOT_SIZE, slotSize);
        buffer.putInt(H_SCHEMA, schema);
        buffer.putInt(H_WAN, wan);
        buffer.putInt(H_SHARD, shard);
        final byte[] boot = new byte[36];
        final byte[] id = bootId.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(id, 0, boot, 0, Math.min(36, id.length));
        buffer.putBytes(H_BOOT, boot);
        if (lastSlot < 0)
        {
            // nothing restored: no slot may look valid to the next reader
            for (int s = 0; s < 2; s++)
            {
                buffer.putLongVolatile(slotBase(s) + S_GENERATION, 0);
            }
        }
        buffer.putLongVolatile(H_MAGIC, MAGIC);
    }

    private int slotBase(final int slot)
    {
        return HEADER + slot * slotSize;
    }

    private int crcOf(final int offset, final int length)
    {
        crc.reset();
        final ByteBuffer view = mapped.duplicate();
        view.limit(offset + length).position(offset);
        crc.update(view);
        return (int)crc.getValue();
    }

    /**
     * Writes an image when {@code intervalMs} passed since the last one and the engine did something since.
     * On the dataplane thread, between batches. Returns true when it wrote one.
     */
    public boolean maybeSave(final long nowMs, final long activity)
    {
        if (nowMs < nextSaveMs || activity == savedActivity)
        {
            return false;
        }
        nextSaveMs = nowMs + intervalMs;
        savedActivity = activity;
        return save(nowMs);
    }

    /** Writes an image now (also on a clean stop). */
    public boolean save(final long nowMs)
    {
        final int slot = lastSlot == 0 ? 1 : 0;
        final int base = slotBase(slot);
        buffer.putLongVolatile(base + S_GENERATION, 0);   // invalid while being written
        final int n = image.save(buffer, base + SLOT_HEADER, base + slotSize);
        if (n < 0)
        {
            counters.increment(Counter.STATE_SAVE_FAILED);
            if (!tooBigLogged)
            {
                tooBigLogged = true;
                Logger.warn("state image larger than the state file's {} bytes: the last image written stays", slotSize);
            }
            return false;
        }
        buffer.putInt(base + S_LENGTH, n);
        buffer.putInt(base + S_CRC, crcOfNoAlloc(base + SLOT_HEADER, n));
        buffer.putLong(base + S_SAVED_AT, nowMs);
        buffer.putLongRelease(base + S_GENERATION, ++generation);
        lastSlot = slot;
        counters.increment(Counter.STATE_SAVES);
        return true;
    }

    // a reusable view of the mapping for the checksum: no ByteBuffer per save
    private ByteBuffer crcView;

    private int crcOfNoAlloc(final int offset, final int length)
    {
        if (crcView == null)
        {
            crcView = mapped.duplicate();
        }
        crc.reset();
        crcView.limit(offset + length).position(offset);
        crc.update(crcView);
        return (int)crc.getValue();
    }

    @Override
    public void close()
    {
        try
        {
            channel.close();
        }
        catch (final IOException e)
        {
            Logger.warn("closing {}: {}", path, e.getMessage());
        }
    }
}

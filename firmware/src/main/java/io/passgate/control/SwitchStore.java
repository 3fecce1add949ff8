package io.passgate.control;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Switch states across restarts and reboots: a small file in the state directory, written atomically
 * (a temporary file, fsync, rename, fsync of the directory) with a CRC so a torn or edited file is noticed.
 * A missing file means the configuration's defaults; a corrupt one is reported and replaced by them.
 */
public final class SwitchStore
{
    public static final String FILE = "switches";

    private final Path file;

    /** What loading found. */
    public record Loaded(Switches switches, String problem)
    {
    }

    public SwitchStore(final Path stateDir)
    {
        this.file = stateDir.resolve(FILE);
    }

    public Path file()
    {
        return file;
    }

    public Loaded load(final Switches defaults)
    {
        if (!Files.exists(file))
        {
            return new Loaded(defaults, null);
        }
        try
        {
            final String text = Files.readString(file, StandardCharsets.UTF_8);
            final int crcAt = text.lastIndexOf("crc32 = ");
            if (crcAt < 0)
            {
                return corrupt(defaults, "no checksum line");
            }
            final String body = text.substring(0, crcAt);
            final String crcText = text.substring(crcAt + 8).strip();
            if (!crcText.equals(crc(body)))
            {
                return corrupt(defaults, "checksum mismatch");
            }
            final Map<String, Boolean> values = new HashMap<>();
            for (final String raw : body.split("\n"))
            {
                final String line = raw.strip();
                if (line.isEmpty() || line.startsWith("#"))
                {
                    continue;
                }
                final String[] kv = line.split("=", 2);
                if (kv.length != 2)
                {
                    return corrupt(defaults, "malformed line '" + line + "'");
                }
                final String value = kv[1].strip();
                if (!value.equals("on") && !value.equals("off"))
                {
                    return corrupt(defaults, "value '" + value + "' is neither on nor off");
                }
                values.put(kv[0].strip(), value.equals("on"));
            }
            if (!values.containsKey("all"))
            {
                return corrupt(defaults, "no value for 'all'");
            }
            // a switch the file does not know (a helper added since) takes the configuration's default; a switch
            // no helper declares any more is ignored
            final Map<String, Boolean> settings = new java.util.LinkedHashMap<>();
            for (final String name : Switches.names())
            {
                settings.put(name, values.getOrDefault(name, defaults.setting(name)));
            }
            return new Loaded(new Switches(values.get("all"), settings), null);
        }
        catch (final IOException e)
        {
            return corrupt(defaults, e.getMessage());
        }
    }

    private Loaded corrupt(final Switches defaults, final String why)
    {
        final String problem = "switch state file " + file + " is corrupt (" + why + "): replaced by the configuration's defaults";
        try
        {
            save(defaults);
        }
        catch (final IOException e)
        {
            return new Loaded(defaults, problem + "; could not rewrite it: " + e.getMessage());
        }
        return new Loaded(defaults, problem);
    }

    private static String crc(final String body)
    {
        final CRC32 crc = new CRC32();
        crc.update(body.getBytes(StandardCharsets.UTF_8));
        return String.format("%08x", crc.getValue());
    }

    public void save(final Switches s) throws IOException
    {
        Files.createDirectories(file.getParent());
        final StringBuilder b = new StringBuilder("# passgate passthrough switches: written by passgate, change them with passgatectl\n");
        b.append("all = ").append(Switches.onOff(s.master())).append('\n');
        for (final String p : Switches.names())
        {
            b.append(p).append(" = ").append(Switches.onOff(s.setting(p))).append('\n');
        }
        final String body = b.toString();
        final String text = body + "crc32 = " + crc(body) + "\n";
        final Path tmp = file.resolveSibling(FILE + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING))
        {
            ch.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ))
        {
            dir.force(true);
        }
        catch (final IOException ignore)
        {
            // some filesystems refuse fsync on a directory; the rename is atomic either way
        }
    }
}

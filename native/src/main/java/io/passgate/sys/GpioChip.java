package io.passgate.sys;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * A GPIO chip through the Linux GPIO character device ({@code /dev/gpiochipN}), uAPI v2 of
 * {@code <linux/gpio.h>} (Linux 5.10+): the chip's name, label and line count, each line's info, and line
 * requests ({@link GpioLine}). The same code runs on every architecture: the v2 structs are laid out alike
 * everywhere (see {@link Structs}). Control path only; a failed call throws {@link ErrnoException} naming the
 * ioctl and the chip (and line). One page of native memory, allocated at open, holds every struct passed.
 */
public final class GpioChip implements AutoCloseable
{
    /** What the kernel says about one line. */
    public record LineInfo(int offset, String name, String consumer, long flags)
    {
        /** Requested by someone (a process, or the kernel itself). */
        public boolean used()
        {
            return (flags & Linux.GPIO_V2_LINE_FLAG_USED) != 0;
        }

        public boolean output()
        {
            return (flags & Linux.GPIO_V2_LINE_FLAG_OUTPUT) != 0;
        }
    }

    private final Path path;
    private final int fd;
    private final NativeBuffer memory;
    private final UnsafeBuffer view;
    private final String name;
    private final String label;
    private final int lines;
    private boolean closed;

    private GpioChip(final Path path, final int fd, final NativeBuffer memory) throws ErrnoException
    {
        this.path = path;
        this.fd = fd;
        this.memory = memory;
        this.view = memory.buffer();
        view.setMemory(0, Structs.GPIOCHIP_INFO_SIZE, (byte)0);
        ioctl(Linux.GPIO_GET_CHIPINFO_IOCTL, "GPIO_GET_CHIPINFO_IOCTL", "");
        this.name = string(Structs.GPIOCHIP_INFO_NAME, Linux.GPIO_MAX_NAME_SIZE);
        this.label = string(Structs.GPIOCHIP_INFO_LABEL, Linux.GPIO_MAX_NAME_SIZE);
        this.lines = view.getInt(Structs.GPIOCHIP_INFO_LINES, ByteOrder.nativeOrder());
    }

    /** Opens a chip, e.g. {@code /dev/gpiochip0}. ENOTTY: not a GPIO chip. */
    public static GpioChip open(final Path path) throws ErrnoException
    {
        final int fd = Sys.open(path.toString(), Linux.O_RDWR | Linux.O_CLOEXEC);
        NativeBuffer memory = null;
        try
        {
            memory = NativeBuffer.allocate(4096);
            return new GpioChip(path, fd, memory);
        }
        catch (final ErrnoException | RuntimeException e)
        {
            if (memory != null)
            {
                memory.close();
            }
            Sys.close(fd);
            throw e;
        }
    }

    /** The GPIO chip devices of this machine ({@code /dev/gpiochip*}), in number order. */
    public static List<Path> devices(final Path dev)
    {
        final List<Path> found = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dev, "gpiochip*"))
        {
            for (final Path p : s)
            {
                if (p.getFileName().toString().substring("gpiochip".length()).chars().allMatch(Character::isDigit))
                {
                    found.add(p);
                }
            }
        }
        catch (final IOException e)
        {
            return found;
        }
        found.sort((a, b) -> Integer.compare(number(a), number(b)));
        return found;
    }

    private static int number(final Path p)
    {
        final String digits = p.getFileName().toString().substring("gpiochip".length());
        return digits.isEmpty() ? -1 : Integer.parseInt(digits);
    }

    public Path path()
    {
        return path;
    }

    /** The kernel's name, e.g. "gpiochip0". */
    public String name()
    {
        return name;
    }

    /** The driver's label, e.g. "pinctrl-bcm2711", "gpio-sim.0-node0". */
    public String label()
    {
        return label;
    }

    public int lines()
    {
        return lines;
    }

    /** The info of line {@code offset} (0 .. lines() - 1). */
    public LineInfo lineInfo(final int offset) throws ErrnoException
    {
        view.setMemory(0, Structs.GPIO_V2_LINE_INFO_SIZE, (byte)0);
        view.putInt(Structs.GPIO_V2_LINE_INFO_OFFSET, offset, ByteOrder.nativeOrder());
        ioctl(Linux.GPIO_V2_GET_LINEINFO_IOCTL, "GPIO_V2_GET_LINEINFO_IOCTL", " line " + offset);
        return new LineInfo(offset, string(Structs.GPIO_V2_LINE_INFO_NAME, Linux.GPIO_MAX_NAME_SIZE),
            string(Structs.GPIO_V2_LINE_INFO_CONSUMER, Linux.GPIO_MAX_NAME_SIZE),
            view.getLong(Structs.GPIO_V2_LINE_INFO_FLAGS, ByteOrder.nativeOrder()));
    }

    /** The offset of the line named {@code lineName} (as the device tree or driver names it), or -1. */
    public int lineNamed(final String lineName) throws ErrnoException
    {
        for (int i = 0; i < lines; i++)
        {
            if (lineInfo(i).name().equals(lineName))
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * Requests one line as an input: {@code flags} are GPIO_V2_LINE_FLAG_* bias, edge and active-low flags
     * (INPUT is added), {@code debounceUs} &gt; 0 asks the kernel to debounce it. With edge flags, edges
     * are read from the returned line ({@link GpioLine#awaitEvents}). EBUSY: someone else holds the line.
     */
    public GpioLine requestInput(final int offset, final String consumer, final long flags, final int debounceUs)
        throws ErrnoException
    {
        return request(offset, consumer, flags | Linux.GPIO_V2_LINE_FLAG_INPUT, false, debounceUs);
    }

    /** Requests one line as an output, driven to {@code initial} at once. EBUSY: someone else holds it. */
    public GpioLine requestOutput(final int offset, final String consumer, final long flags, final boolean initial)
        throws ErrnoException
    {
        return request(offset, consumer, flags | Linux.GPIO_V2_LINE_FLAG_OUTPUT, initial, 0);
    }

    private GpioLine request(final int offset, final String consumer, final long flags, final boolean initial,
        final int debounceUs) throws ErrnoException
    {
        if (offset < 0 || offset >= lines)
        {
            throw new ErrnoException("GPIO_V2_GET_LINE_IOCTL(" + path + " line " + offset + ": the chip has lines 0.."
                + (lines - 1) + ")", Linux.EINVAL);
        }
        final ByteOrder order = ByteOrder.nativeOrder();
        view.setMemory(0, Structs.GPIO_V2_LINE_REQUEST_SIZE, (byte)0);
        view.putInt(Structs.GPIO_V2_LINE_REQUEST_OFFSETS, offset, order);
        final byte[] consumerBytes = consumer.getBytes(StandardCharsets.US_ASCII);
        view.putBytes(Structs.GPIO_V2_LINE_REQUEST_CONSUMER, consumerBytes, 0,
            Math.min(consumerBytes.length, Linux.GPIO_MAX_NAME_SIZE - 1));
        final int config = Structs.GPIO_V2_LINE_REQUEST_CONFIG;
        view.putLong(config + Structs.GPIO_V2_LINE_CONFIG_FLAGS, flags, order);
        int attrs = 0;
        if ((flags & Linux.GPIO_V2_LINE_FLAG_OUTPUT) != 0)
        {
            attribute(config, attrs++, Linux.GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES, initial ? 1 : 0);
        }
        if (debounceUs > 0)
        {
            attribute(config, attrs++, Linux.GPIO_V2_LINE_ATTR_ID_DEBOUNCE, debounceUs);
        }
        view.putInt(config + Structs.GPIO_V2_LINE_CONFIG_NUM_ATTRS, attrs, order);
        view.putInt(Structs.GPIO_V2_LINE_REQUEST_NUM_LINES, 1, order);
        ioctl(Linux.GPIO_V2_GET_LINE_IOCTL, "GPIO_V2_GET_LINE_IOCTL", " line " + offset);
        final int lineFd = view.getInt(Structs.GPIO_V2_LINE_REQUEST_FD, order);
        try
        {
            return new GpioLine(lineFd, offset, path + " line " + offset);
        }
        catch (final ErrnoException | RuntimeException e)
        {
            Sys.close(lineFd);
            throw e;
        }
    }

    /** Attribute {@code index} of the config at {@code config}, applying to the request's first line. */
    private void attribute(final int config, final int index, final int id, final long value)
    {
        final int at = config + Structs.GPIO_V2_LINE_CONFIG_ATTRS + index * Structs.GPIO_V2_LINE_CONFIG_ATTRIBUTE_SIZE;
        view.putInt(at + Structs.GPIO_V2_LINE_ATTRIBUTE_ID, id, ByteOrder.nativeOrder());
        if (id == Linux.GPIO_V2_LINE_ATTR_ID_DEBOUNCE)
        {
            view.putInt(at + Structs.GPIO_V2_LINE_ATTRIBUTE_VALUE, (int)value, ByteOrder.nativeOrder());
        }
        else
        {
            view.putLong(at + Structs.GPIO_V2_LINE_ATTRIBUTE_VALUE, value, ByteOrder.nativeOrder());
        }
        view.putLong(at + Structs.GPIO_V2_LINE_CONFIG_ATTRIBUTE_MASK, 1L, ByteOrder.nativeOrder());
    }

    private void ioctl(final long request, final String requestName, final String what) throws ErrnoException
    {
        final long r = Sys.ioctl(fd, request, memory.address());
        if (r < 0)
        {
            throw new ErrnoException(requestName + "(" + path + what + ")", (int)-r);
        }
    }

    private String string(final int offset, final int max)
    {
        int n = 0;
        while (n < max && view.getByte(offset + n) != 0)
        {
            n++;
        }
        final byte[] bytes = new byte[n];
        view.getBytes(offset, bytes);
        return new String(bytes, StandardCharsets.US_ASCII);
    }

    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            Sys.close(fd);
            memory.close();
        }
    }
}

package io.passgate.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPIO v2 binding's layouts and ioctl numbers against the kernel's header (sizes and offsets printed by
 * a C program compiled against {@code <linux/gpio.h>}, identical for x86_64 and arm64), and its errors on
 * things that are not GPIO chips. Real chips are exercised in the VM tests (gpio-sim).
 */
class GpioAbiTest
{
    /** The kernel's _IOC encoding of the generic ABI: dir (2 bits), size (14), type (8), number (8). */
    private static long ioc(final int dir, final int type, final int nr, final int size)
    {
        return ((long)dir << 30) | ((long)size << 16) | ((long)type << 8) | nr;
    }

    private static final int READ = 2;
    private static final int READ_WRITE = 3;

    @Test
    void structLayoutsAreTheHeaders()
    {
        // sizeof() and offsetof() from <linux/gpio.h> (Linux 6.1 uapi), the same on x86_64 and arm64
        assertEquals(68, Structs.GPIOCHIP_INFO_SIZE);
        assertEquals(256, Structs.GPIO_V2_LINE_INFO_SIZE);
        assertEquals(592, Structs.GPIO_V2_LINE_REQUEST_SIZE);
        assertEquals(272, Structs.GPIO_V2_LINE_CONFIG_SIZE);
        assertEquals(16, Structs.GPIO_V2_LINE_ATTRIBUTE_SIZE);
        assertEquals(24, Structs.GPIO_V2_LINE_CONFIG_ATTRIBUTE_SIZE);
        assertEquals(16, Structs.GPIO_V2_LINE_VALUES_SIZE);
        assertEquals(48, Structs.GPIO_V2_LINE_EVENT_SIZE);
        assertEquals(256, Structs.GPIO_V2_LINE_REQUEST_CONSUMER);
        assertEquals(288, Structs.GPIO_V2_LINE_REQUEST_CONFIG);
        assertEquals(560, Structs.GPIO_V2_LINE_REQUEST_NUM_LINES);
        assertEquals(564, Structs.GPIO_V2_LINE_REQUEST_EVENT_BUFFER_SIZE);
        assertEquals(588, Structs.GPIO_V2_LINE_REQUEST_FD);
        assertEquals(72, Structs.GPIO_V2_LINE_INFO_FLAGS);
        assertEquals(80, Structs.GPIO_V2_LINE_INFO_ATTRS);
    }

    @Test
    void ioctlNumbersEncodeTheStructSizes()
    {
        assertEquals(ioc(READ, 0xB4, 0x01, Structs.GPIOCHIP_INFO_SIZE), Linux.GPIO_GET_CHIPINFO_IOCTL);
        assertEquals(ioc(READ_WRITE, 0xB4, 0x05, Structs.GPIO_V2_LINE_INFO_SIZE), Linux.GPIO_V2_GET_LINEINFO_IOCTL);
        assertEquals(ioc(READ_WRITE, 0xB4, 0x07, Structs.GPIO_V2_LINE_REQUEST_SIZE), Linux.GPIO_V2_GET_LINE_IOCTL);
        assertEquals(ioc(READ_WRITE, 0xB4, 0x0E, Structs.GPIO_V2_LINE_VALUES_SIZE), Linux.GPIO_V2_LINE_GET_VALUES_IOCTL);
        assertEquals(ioc(READ_WRITE, 0xB4, 0x0F, Structs.GPIO_V2_LINE_VALUES_SIZE), Linux.GPIO_V2_LINE_SET_VALUES_IOCTL);
        // and the values the C preprocessor gives
        assertEquals(0xC250B407L, Linux.GPIO_V2_GET_LINE_IOCTL);
        assertEquals(0x8044B401L, Linux.GPIO_GET_CHIPINFO_IOCTL);
    }

    @Test
    void aDeviceThatIsNotAGpioChipIsRefusedByName()
    {
        final ErrnoException notGpio = assertThrows(ErrnoException.class, () -> GpioChip.open(Path.of("/dev/null")));
        assertEquals(Linux.ENOTTY, notGpio.errno());
        assertTrue(notGpio.getMessage().startsWith("GPIO_GET_CHIPINFO_IOCTL(/dev/null)"), notGpio.getMessage());
        final ErrnoException missing = assertThrows(ErrnoException.class,
            () -> GpioChip.open(Path.of("/dev/gpiochip-passgate-missing")));
        assertEquals(Linux.ENOENT, missing.errno());
        assertTrue(missing.getMessage().contains("/dev/gpiochip-passgate-missing"), missing.getMessage());
    }

    @Test
    void chipDevicesAreListedInNumberOrder(@TempDir final Path dev) throws Exception
    {
        for (final String name : new String[] {"gpiochip10", "gpiochip2", "gpiochip0", "gpiomem", "gpiochipX", "ttyS0"})
        {
            Files.createFile(dev.resolve(name));
        }
        assertEquals(List.of(dev.resolve("gpiochip0"), dev.resolve("gpiochip2"), dev.resolve("gpiochip10")),
            GpioChip.devices(dev));
        assertEquals(List.of(), GpioChip.devices(dev.resolve("none")));
    }

    @Test
    void eventFdWakesAPollAndDrains() throws Exception
    {
        try (EventFd event = new EventFd(); Poller poller = new Poller(1))
        {
            poller.add(event.fd(), Linux.POLLIN);
            assertEquals(0, poller.poll(0), "nothing signalled");
            event.signal();
            event.signal();
            assertEquals(1, poller.poll(1000));
            assertEquals(2, event.drain());
            assertEquals(0, poller.poll(0), "drained");
            assertEquals(0, event.drain(), "non-blocking when empty");
        }
    }
}

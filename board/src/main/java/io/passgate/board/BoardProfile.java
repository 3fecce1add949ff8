package io.passgate.board;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Raspberry Pi boards passgate knows: their default pins (BCM numbering, on the 40-pin header, the same on
 * every one of them) and their on-board LEDs. The model is read from /proc/device-tree/model.
 *
 * <pre>
 *  header pin 11  BCM 17  button to GND (pull-up, active low)
 *  header pin 13  BCM 27  system LED  (anode via 330 ohm; cathode to GND)
 *  header pin 15  BCM 22  PPTP LED
 *  header pin 16  BCM 23  IPsec LED
 *  header pin 18  BCM 24  L2TP LED
 *  header pin 14, 20, 25  GND
 * </pre>
 *
 * @param id          the board.profile value
 * @param model       how /proc/device-tree/model starts for it
 * @param onboardLeds the /sys/class/leds names of its on-board LEDs (system first)
 */
public record BoardProfile(String id, String model, List<String> onboardLeds)
{
    public static final int BUTTON_PIN = 17;
    public static final int LED_SYSTEM_PIN = 27;
    public static final int LED_PPTP_PIN = 22;
    public static final int LED_IPSEC_PIN = 23;
    public static final int LED_L2TP_PIN = 24;
    /** GPIOs on the 40-pin header a panel may use: 2-27 (0 and 1 are the HAT ID EEPROM's). */
    public static final int FIRST_PIN = 2;
    public static final int LAST_PIN = 27;

    public static final List<BoardProfile> ALL = List.of(
        new BoardProfile("pi3", "Raspberry Pi 3 Model B", List.of("ACT", "PWR")),
        new BoardProfile("pi4", "Raspberry Pi 4 Model B", List.of("ACT", "PWR")),
        new BoardProfile("pi5", "Raspberry Pi 5", List.of("ACT", "PWR")),
        new BoardProfile("zero2w", "Raspberry Pi Zero 2 W", List.of("ACT")),
        new BoardProfile("cm4", "Raspberry Pi Compute Module 4", List.of("ACT", "PWR")));

    public static BoardProfile byId(final String id)
    {
        for (final BoardProfile p : ALL)
        {
            if (p.id.equals(id.toLowerCase(Locale.ROOT)))
            {
                return p;
            }
        }
        return null;
    }

    /** The profile for a device-tree model string ("Raspberry Pi 4 Model B Rev 1.4"), or null. */
    public static BoardProfile forModel(final String model)
    {
        if (model == null)
        {
            return null;
        }
        for (final BoardProfile p : ALL)
        {
            if (model.startsWith(p.model))
            {
                return p;
            }
        }
        return null;
    }

    /** This machine's model (/proc/device-tree/model, NUL-terminated), or null when there is none. */
    public static String detectModel(final Path deviceTreeModel)
    {
        try
        {
            return new String(Files.readAllBytes(deviceTreeModel), StandardCharsets.US_ASCII).replace("\u0000", "").strip();
        }
        catch (final IOException e)
        {
            return null;
        }
    }
}

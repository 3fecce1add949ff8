package io.passgate.board;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Boards passgate knows: which GPIO chip carries their 40-pin header, which lines of it the button and the
 * LEDs use by default, and their on-board LEDs. The model is read from /proc/device-tree/model. Every board
 * here has a Raspberry Pi-compatible 40-pin header, so the wiring is the same header pins on all of them:
 *
 * <pre>
 *  header pin 11  button to GND (pull-up, active low)       Pi: BCM 17
 *  header pin 13  system LED  (anode via 330 ohm; cathode to GND)   BCM 27
 *  header pin 15  PPTP LED                                  BCM 22
 *  header pin 16  IPsec LED                                 BCM 23
 *  header pin 18  L2TP LED                                  BCM 24
 *  header pin 14, 20, 25  GND
 * </pre>
 *
 * On a Raspberry Pi the line offsets of the header chip are the BCM numbers. On the other boards they are the
 * SoC's pin numbers on its pin controller (Allwinner: bank * 32 + pin, PH2 = 7 * 32 + 2 = 226), taken from
 * the documentation named in {@link #source}.
 *
 * @param id           the board.profile value
 * @param model        a regular expression that matches how /proc/device-tree/model starts for it
 * @param onboardLeds  the /sys/class/leds names of its on-board LEDs (system first)
 * @param chipLabels   labels of the GPIO chip that carries the 40-pin header (board.gpio-chip = auto)
 * @param raspberryPi  a Raspberry Pi, where Pi4J runs
 * @param lines        default line offsets: button, system, pptp, ipsec, l2tp (header pins 11, 13, 15, 16, 18)
 * @param source       where the header-to-line mapping is documented
 */
public record BoardProfile(String id, String model, List<String> onboardLeds, List<String> chipLabels,
    boolean raspberryPi, List<Integer> lines, String source)
{
    public static final int BUTTON_PIN = 17;
    public static final int LED_SYSTEM_PIN = 27;
    public static final int LED_PPTP_PIN = 22;
    public static final int LED_IPSEC_PIN = 23;
    public static final int LED_L2TP_PIN = 24;
    /** GPIOs on the 40-pin header a Pi4J panel may use: 2-27 (0 and 1 are the HAT ID EEPROM's). */
    public static final int FIRST_PIN = 2;
    public static final int LAST_PIN = 27;

    /** The Raspberry Pi header chips, by their label: Pi 3 / Zero 2 W, Pi 4 / CM4, Pi 5. */
    public static final List<String> PI_CHIP_LABELS = List.of("pinctrl-bcm2835", "pinctrl-bcm2711", "pinctrl-rp1");

    private static final List<Integer> PI_LINES = List.of(BUTTON_PIN, LED_SYSTEM_PIN, LED_PPTP_PIN, LED_IPSEC_PIN,
        LED_L2TP_PIN);
    private static final String PI_SOURCE = "Raspberry Pi documentation, GPIO and the 40-pin header (BCM numbers)";

    public static final List<BoardProfile> ALL = List.of(
        new BoardProfile("pi3", "Raspberry Pi 3 Model B", List.of("ACT", "PWR"), List.of("pinctrl-bcm2835"), true,
            PI_LINES, PI_SOURCE),
        new BoardProfile("pi4", "Raspberry Pi 4 Model B", List.of("ACT", "PWR"), List.of("pinctrl-bcm2711"), true,
            PI_LINES, PI_SOURCE),
        new BoardProfile("pi5", "Raspberry Pi 5", List.of("ACT", "PWR"), List.of("pinctrl-rp1"), true, PI_LINES,
            PI_SOURCE),
        new BoardProfile("zero2w", "Raspberry Pi Zero 2 W", List.of("ACT"), List.of("pinctrl-bcm2835"), true,
            PI_LINES, PI_SOURCE),
        new BoardProfile("cm4", "Raspberry Pi Compute Module 4", List.of("ACT", "PWR"), List.of("pinctrl-bcm2711"),
            true, PI_LINES, PI_SOURCE),
        // Allwinner H618: pins 11 PH2, 13 PH3, 15 PI5, 16 PI14, 18 PH4 on the main pin controller
        new BoardProfile("opi-zero2w", "Orange ?Pi Zero ?2 ?W", List.of(), List.of("300b000.pinctrl"), false,
            List.of(226, 227, 261, 270, 228),
            "the 40-pin header table of the Orange Pi Zero 2W user manual (pin 11 PH2, 13 PH3, 15 PI5, 16 PI14, 18 PH4),"
                + " as tabulated by Adafruit Blinka and libsimpleio"),
        // Allwinner A64: pins 11 PC7, 13 PH9, 15 PC12, 16 PC13, 18 PC14 on the main pin controller
        new BoardProfile("pine64", "Pine64\\+?$", List.of(), List.of("1c20800.pinctrl"), false,
            List.of(71, 233, 76, 77, 78),
            "the Pi-2 bus pinout of the PINE64 wiki (pin 11 PC7, 13 PH9, 15 PC12, 16 PC13, 18 PC14),"
                + " as tabulated by Adafruit Blinka's pine64 board file"));

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

    /** The ids, for messages. */
    public static String ids()
    {
        return String.join(", ", ALL.stream().map(BoardProfile::id).toList());
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
            if (java.util.regex.Pattern.compile(p.model).matcher(model).lookingAt())
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

package io.passgate.board;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The {@code board.*} settings, validated: errors name the line and key (IllegalArgumentException).
 *
 * <p>A pin is a line of the board's GPIO chip, given by number (its offset on the chip; on a Raspberry Pi
 * the BCM number) or by the name the chip gives it ({@code GPIO17} on a Pi). Which lines exist is checked
 * by the provider that opens the chip.
 */
public final class BoardSettings
{
    static final Set<String> KEYS = Set.of("profile", "button", "button-pin", "button-active", "button-pull",
        "debounce-ms", "long-press-ms", "gpio-leds", "onboard-leds", "led-system-pin", "led-pptp-pin", "led-ipsec-pin",
        "led-l2tp-pin", "gpio-chip", "on-error");

    /** A pin setting: a line number, or a line name; {@code key} is the board.* key it came from. */
    public record Line(String key, String where, int number, String name)
    {
        public boolean named()
        {
            return name != null;
        }

        /** "17" or "GPIO17". */
        public String text()
        {
            return named() ? name : Integer.toString(number);
        }
    }

    final BoardProfile profile;
    final String model;
    final boolean button;
    final Line buttonPin;
    final boolean activeLow;
    final String pull;
    final long debounceMs;
    final long longPressMs;
    final boolean gpioLeds;
    final boolean onboardLeds;
    /** LED role to its line. */
    final Map<String, Line> ledPins = new LinkedHashMap<>();
    /** board.gpio-chip: "auto", a device path, or a chip label. */
    final String gpioChip;
    /** board.on-error = virtual: a missing chip or line, or a busy one, falls back to the virtual board. */
    final boolean fallBackToVirtual;
    /** No profile and no pin set: the lines are Raspberry Pi defaults nobody chose for this board. */
    final boolean linesGuessed;

    private final Map<String, String> settings;
    private final Map<String, String> origins;

    BoardSettings(final Map<String, String> settings, final Map<String, String> origins, final Path deviceTreeModel,
        final boolean needProfile)
    {
        this.settings = settings;
        this.origins = origins;
        for (final String key : settings.keySet())
        {
            if (!KEYS.contains(key))
            {
                throw new IllegalArgumentException(where(key) + ": unknown board setting (" + String.join(", ", KEYS.stream().sorted().toList()) + ")");
            }
        }
        model = BoardProfile.detectModel(deviceTreeModel);
        final String profileSetting = settings.getOrDefault("profile", "auto");
        if (profileSetting.equals("auto"))
        {
            final BoardProfile detected = BoardProfile.forModel(model);
            if (detected == null && needProfile)
            {
                throw new IllegalArgumentException(where("profile") + ": this is not a known Raspberry Pi ("
                    + (model == null ? "no /proc/device-tree/model" : model) + "): set board.profile to pi3, pi4, pi5, zero2w or cm4");
            }
            profile = detected;
        }
        else
        {
            profile = BoardProfile.byId(profileSetting);
            if (profile == null)
            {
                throw new IllegalArgumentException(where("profile") + ": unknown profile '" + profileSetting
                    + "' (auto, " + BoardProfile.ids() + ")");
            }
        }
        final java.util.List<Integer> defaults = profile == null
            ? java.util.List.of(BoardProfile.BUTTON_PIN, BoardProfile.LED_SYSTEM_PIN, BoardProfile.LED_PPTP_PIN,
                BoardProfile.LED_IPSEC_PIN, BoardProfile.LED_L2TP_PIN)
            : profile.lines();
        button = bool("button", true);
        buttonPin = pin("button-pin", defaults.get(0));
        activeLow = choice("button-active", "low", "low", "high").equals("low");
        pull = choice("button-pull", activeLow ? "up" : "down", "up", "down", "off");
        debounceMs = number("debounce-ms", 50, 1, 1000);
        longPressMs = number("long-press-ms", 3000, 500, 30_000);
        gpioLeds = bool("gpio-leds", true);
        onboardLeds = bool("onboard-leds", false);
        if (gpioLeds)
        {
            ledPins.put(PanelLogic.SYSTEM, pin("led-system-pin", defaults.get(1)));
            ledPins.put(PanelLogic.PPTP, pin("led-pptp-pin", defaults.get(2)));
            ledPins.put(PanelLogic.IPSEC, pin("led-ipsec-pin", defaults.get(3)));
            ledPins.put(PanelLogic.L2TP, pin("led-l2tp-pin", defaults.get(4)));
        }
        gpioChip = settings.getOrDefault("gpio-chip", "auto").strip();
        if (gpioChip.isEmpty())
        {
            throw new IllegalArgumentException(where("gpio-chip") + ": must be auto, a device (/dev/gpiochipN) or a chip label");
        }
        fallBackToVirtual = choice("on-error", "fail", "fail", "virtual").equals("virtual");
        linesGuessed = profile == null && settings.keySet().stream().noneMatch(k -> k.endsWith("-pin"));
        // conflicts: one pin, one function (the same line by name and by number is found when the chip is open)
        final Map<String, String> used = new LinkedHashMap<>();
        if (button)
        {
            used.put(buttonPin.text(), "button-pin");
        }
        for (final Map.Entry<String, Line> e : ledPins.entrySet())
        {
            final String key = "led-" + e.getKey() + "-pin";
            final String other = used.putIfAbsent(e.getValue().text(), key);
            if (other != null)
            {
                throw new IllegalArgumentException(where(key) + ": " + e.getValue().text() + " is already board." + other);
            }
        }
    }

    /** The lines in use: the button's (when on), then each LED's. */
    java.util.List<Line> lines()
    {
        final java.util.List<Line> all = new java.util.ArrayList<>();
        if (button)
        {
            all.add(buttonPin);
        }
        all.addAll(ledPins.values());
        return all;
    }

    /**
     * A Raspberry Pi pin for Pi4J: a BCM number 2..27, or its line name GPIOn. IllegalArgumentException
     * naming the key otherwise.
     */
    static int bcm(final Line line)
    {
        int n = line.number();
        if (line.named())
        {
            final java.util.regex.Matcher m = java.util.regex.Pattern.compile("GPIO([0-9]{1,2})").matcher(line.name());
            if (!m.matches())
            {
                throw new IllegalArgumentException(line.where() + ": Pi4J takes BCM numbers or GPIOn names (got '"
                    + line.name() + "')");
            }
            n = Integer.parseInt(m.group(1));
        }
        if (n < BoardProfile.FIRST_PIN || n > BoardProfile.LAST_PIN)
        {
            throw new IllegalArgumentException(line.where() + ": BCM " + n + " is not a usable GPIO of the 40-pin header ("
                + BoardProfile.FIRST_PIN + ".." + BoardProfile.LAST_PIN + ")");
        }
        return n;
    }

    String where(final String key)
    {
        return origins.getOrDefault(key, "default, key 'board." + key + "'");
    }

    private Line pin(final String key, final int defaultPin)
    {
        final String value = settings.get(key);
        if (value == null)
        {
            return new Line(key, where(key), defaultPin, null);
        }
        final String v = value.strip();
        if (v.matches("[0-9]{1,4}"))
        {
            return new Line(key, where(key), Integer.parseInt(v), null);
        }
        if (v.matches("[A-Za-z_][A-Za-z0-9_.\\-]{0,30}"))
        {
            return new Line(key, where(key), -1, v);
        }
        throw new IllegalArgumentException(where(key) + ": not a GPIO line number or line name: '" + value + "'");
    }

    private boolean bool(final String key, final boolean defaultValue)
    {
        final String value = settings.get(key);
        if (value == null)
        {
            return defaultValue;
        }
        return switch (value.strip().toLowerCase(Locale.ROOT))
        {
            case "on", "true", "yes" -> true;
            case "off", "false", "no" -> false;
            default -> throw new IllegalArgumentException(where(key) + ": must be on or off (got '" + value + "')");
        };
    }

    private String choice(final String key, final String defaultValue, final String... allowed)
    {
        final String value = settings.getOrDefault(key, defaultValue).strip().toLowerCase(Locale.ROOT);
        for (final String a : allowed)
        {
            if (a.equals(value))
            {
                return value;
            }
        }
        throw new IllegalArgumentException(where(key) + ": must be one of " + String.join(", ", allowed) + " (got '" + value + "')");
    }

    private long number(final String key, final long defaultValue, final long min, final long max)
    {
        final String value = settings.get(key);
        if (value == null)
        {
            return defaultValue;
        }
        try
        {
            final long n = Long.parseLong(value.strip());
            if (n < min || n > max)
            {
                throw new NumberFormatException();
            }
            return n;
        }
        catch (final NumberFormatException e)
        {
            throw new IllegalArgumentException(where(key) + ": must be " + min + ".." + max + " (got '" + value + "')");
        }
    }
}

package io.passgate.board;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The {@code board.*} settings, validated: errors name the line and key (IllegalArgumentException).
 */
public final class BoardSettings
{
    static final Set<String> KEYS = Set.of("profile", "button", "button-pin", "button-active", "button-pull",
        "debounce-ms", "long-press-ms", "gpio-leds", "onboard-leds", "led-system-pin", "led-pptp-pin", "led-ipsec-pin",
        "led-l2tp-pin");

    final BoardProfile profile;
    final String model;
    final boolean button;
    final int buttonPin;
    final boolean activeLow;
    final String pull;
    final long debounceMs;
    final long longPressMs;
    final boolean gpioLeds;
    final boolean onboardLeds;
    /** LED role to BCM pin. */
    final Map<String, Integer> ledPins = new LinkedHashMap<>();

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
                    + "' (auto, pi3, pi4, pi5, zero2w, cm4)");
            }
        }
        button = bool("button", true);
        buttonPin = pin("button-pin", BoardProfile.BUTTON_PIN);
        activeLow = choice("button-active", "low", "low", "high").equals("low");
        pull = choice("button-pull", activeLow ? "up" : "down", "up", "down", "off");
        debounceMs = number("debounce-ms", 50, 1, 1000);
        longPressMs = number("long-press-ms", 3000, 500, 30_000);
        gpioLeds = bool("gpio-leds", true);
        onboardLeds = bool("onboard-leds", false);
        if (gpioLeds)
        {
            ledPins.put(PanelLogic.SYSTEM, pin("led-system-pin", BoardProfile.LED_SYSTEM_PIN));
            ledPins.put(PanelLogic.PPTP, pin("led-pptp-pin", BoardProfile.LED_PPTP_PIN));
            ledPins.put(PanelLogic.IPSEC, pin("led-ipsec-pin", BoardProfile.LED_IPSEC_PIN));
            ledPins.put(PanelLogic.L2TP, pin("led-l2tp-pin", BoardProfile.LED_L2TP_PIN));
        }
        // conflicts: one pin, one function
        final Map<Integer, String> used = new LinkedHashMap<>();
        if (button)
        {
            used.put(buttonPin, "button-pin");
        }
        for (final Map.Entry<String, Integer> e : ledPins.entrySet())
        {
            final String key = "led-" + e.getKey() + "-pin";
            final String other = used.putIfAbsent(e.getValue(), key);
            if (other != null)
            {
                throw new IllegalArgumentException(where(key) + ": BCM " + e.getValue() + " is already board." + other);
            }
        }
    }

    private String where(final String key)
    {
        return origins.getOrDefault(key, "default, key 'board." + key + "'");
    }

    private int pin(final String key, final int defaultPin)
    {
        final String value = settings.get(key);
        if (value == null)
        {
            return defaultPin;
        }
        final int pin;
        try
        {
            pin = Integer.parseInt(value.strip());
        }
        catch (final NumberFormatException e)
        {
            throw new IllegalArgumentException(where(key) + ": not a BCM GPIO number: '" + value + "'");
        }
        if (pin < BoardProfile.FIRST_PIN || pin > BoardProfile.LAST_PIN)
        {
            throw new IllegalArgumentException(where(key) + ": BCM " + pin + " is not a usable GPIO of the 40-pin header ("
                + BoardProfile.FIRST_PIN + ".." + BoardProfile.LAST_PIN + ")");
        }
        return pin;
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

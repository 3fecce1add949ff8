package io.passgate.status;

import io.passgate.control.StatusSnapshot;

/**
 * Something that shows passgate's state and takes its button: the Pi4J board, the virtual board. The
 * firmware knows panels only through this interface and finds them with {@link java.util.ServiceLoader}
 * ({@link StatusPanelProvider}), so it runs on any Linux router without Pi4J on the class path.
 */
public interface StatusPanel extends AutoCloseable
{
    /** A short description for the log, e.g. "Raspberry Pi 4 Model B (profile pi4, gpiod)". */
    String description();

    /** Starts the panel; its button presses go to {@code actions}. */
    void start(ButtonActions actions) throws Exception;

    /** A new snapshot (control thread, at most 4 times a second). Must not block or throw. */
    void show(StatusSnapshot snapshot);

    /** A press from passgatectl ("short" or "long"): panels without a real button honour it. */
    default boolean press(final String kind)
    {
        return false;
    }

    /** What the panel shows now (for passgatectl and tests): LED name to its pattern. */
    default java.util.Map<String, String> leds()
    {
        return java.util.Map.of();
    }

    @Override
    void close();
}

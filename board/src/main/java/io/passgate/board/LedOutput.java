package io.passgate.board;

/** One LED: a GPIO pin, an on-board LED, or a virtual one. */
public interface LedOutput extends AutoCloseable
{
    /** Sets the LED; may throw: the panel logs a failing LED once and goes on. */
    void set(boolean on) throws Exception;

    /** Where it is, for messages: "BCM 22", "/sys/class/leds/ACT", "virtual". */
    String where();

    @Override
    void close();
}

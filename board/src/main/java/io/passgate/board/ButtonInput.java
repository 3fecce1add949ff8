package io.passgate.board;

/** The push-button's raw level, sampled by the panel's loop. */
public interface ButtonInput extends AutoCloseable
{
    /** True while pressed (after the configured active level is applied). */
    boolean pressed() throws Exception;

    /**
     * Waits until the next sample is due, {@code timeoutMs} at most: a button that can tell when its level
     * changes (a GPIO line's edge events) returns as soon as it does, so a press is seen at once, not at the
     * next tick. The default just sleeps.
     */
    default void await(final long timeoutMs) throws Exception
    {
        Thread.sleep(timeoutMs);
    }

    /**
     * True when {@link #await} returns as soon as the level changes (edge events): then the panel's loop
     * sleeps while the button rests, until an LED's next change, instead of sampling every 10 ms.
     */
    default boolean reportsEdges()
    {
        return false;
    }

    @Override
    void close();
}

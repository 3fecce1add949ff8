package io.passgate.board;

/** The push-button's raw level, sampled by the panel's scheduler. */
public interface ButtonInput extends AutoCloseable
{
    /** True while pressed (after the configured active level is applied). */
    boolean pressed() throws Exception;

    @Override
    void close();
}

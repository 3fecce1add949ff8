package io.passgate.board;

import java.util.Locale;

/**
 * What an LED shows. A level is a function of the time only, so every LED blinks in phase and one scheduler
 * drives them all.
 */
public enum Pattern
{
    /** Switched off. */
    OFF,
    /** Switched on, no tunnel. */
    ON,
    /** At least one live tunnel: 1 Hz. */
    SLOW_BLINK,
    /** A fault (dataplane down, rules not applied): 5 Hz. */
    FAST_BLINK,
    /** The system LED while the dataplane runs: a double pulse every 1.2 s. */
    HEARTBEAT;

    public boolean level(final long nowMs)
    {
        return switch (this)
        {
            case OFF -> false;
            case ON -> true;
            case SLOW_BLINK -> nowMs % 1000 < 500;
            case FAST_BLINK -> nowMs % 200 < 100;
            case HEARTBEAT ->
            {
                final long t = nowMs % 1200;
                yield t < 100 || (t >= 250 && t < 350);
            }
        };
    }

    /** The first time after {@code nowMs} (ms, not negative) at which the level changes; Long.MAX_VALUE never. */
    public long nextChange(final long nowMs)
    {
        return switch (this)
        {
            case OFF, ON -> Long.MAX_VALUE;
            case SLOW_BLINK -> (nowMs / 500 + 1) * 500;
            case FAST_BLINK -> (nowMs / 100 + 1) * 100;
            case HEARTBEAT ->
            {
                final long t = nowMs % 1200;
                final long base = nowMs - t;
                yield base + (t < 100 ? 100 : t < 250 ? 250 : t < 350 ? 350 : 1200);
            }
        };
    }

    public String label()
    {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}

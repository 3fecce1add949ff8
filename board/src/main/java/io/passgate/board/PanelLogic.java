package io.passgate.board;

import io.passgate.control.StatusSnapshot;

/**
 * The board's decisions, apart from any I/O and driven by the caller's clock: the button's debouncing and
 * short/long press, and the pattern each LED shows for a status snapshot.
 *
 * <p>Button: a press counts once the raw level has held for {@code debounceMs} (shorter pulses, bounces,
 * never do). A press that holds {@code longPressMs} fires a long press at that moment. A counted press ends
 * at the first released sample, and a short press fires right there, on the release edge, not a debounce
 * time later: that is what lets a press reach the switch and the LEDs within a few milliseconds. Contact
 * again within {@code debounceMs} of a release is a bounce of the same press, never a new one. So one press
 * gives exactly one action, and the release of a long press none.
 */
public final class PanelLogic
{
    /** What a button sample produced. */
    public enum Press
    {
        NONE,
        SHORT,
        LONG
    }

    public static final String PPTP = "pptp";
    public static final String IPSEC = "ipsec";
    public static final String L2TP = "l2tp";
    public static final String SYSTEM = "system";
    /** The combined passthrough LED (the on-board PWR LED option). */
    public static final String PASSTHROUGH = "passthrough";

    private final long debounceMs;
    private final long longPressMs;
    private boolean stable;
    private boolean candidate;
    private long candidateSince;
    private long pressedAt;
    /** The current (or last) press has fired its action. */
    private boolean acted = true;
    private long releasedAt = Long.MIN_VALUE / 2;

    public PanelLogic(final long debounceMs, final long longPressMs)
    {
        this.debounceMs = debounceMs;
        this.longPressMs = longPressMs;
    }

    /** One sample of the button's raw level (true = pressed) at {@code nowMs}. */
    public Press sample(final boolean pressed, final long nowMs)
    {
        if (stable && !pressed)
        {
            // the release edge of a counted press: acts now
            stable = false;
            candidate = false;
            candidateSince = nowMs;
            releasedAt = nowMs;
            if (!acted)
            {
                acted = true;
                return Press.SHORT;
            }
            return Press.NONE;
        }
        if (!stable && pressed && nowMs - releasedAt < debounceMs)
        {
            // contact again right after a release: a bounce of that press, which has acted already
            stable = true;
            candidate = true;
            candidateSince = nowMs;
            return Press.NONE;
        }
        if (pressed != candidate)
        {
            candidate = pressed;
            candidateSince = nowMs;
        }
        if (candidate && !stable && nowMs - candidateSince >= debounceMs)
        {
            stable = true;
            pressedAt = candidateSince;
            acted = false;
        }
        if (stable && !acted && nowMs - pressedAt >= longPressMs)
        {
            acted = true;
            return Press.LONG;
        }
        return Press.NONE;
    }

    public boolean pressed()
    {
        return stable;
    }

    /** A press is under way or being debounced: the button must be sampled at the loop's tick until it rests. */
    public boolean busy()
    {
        return stable || candidate;
    }

    /**
     * The pattern of an LED for a snapshot. Any fault: fast blink. The system LED: heartbeat while the
     * dataplane runs. A protocol LED: off when its passthrough is off, slow blink with a live tunnel, else on.
     * The passthrough LED (on-board option): off when all passthrough is off, slow blink with any tunnel.
     */
    public static Pattern pattern(final String led, final StatusSnapshot s)
    {
        if (s == null)
        {
            return Pattern.OFF;
        }
        if (s.faulty())
        {
            return Pattern.FAST_BLINK;
        }
        return switch (led)
        {
            case SYSTEM -> s.dataplaneAlive() ? Pattern.HEARTBEAT : Pattern.OFF;
            case PASSTHROUGH ->
            {
                if (!s.switches().master())
                {
                    yield Pattern.OFF;
                }
                yield s.allTunnels() > 0 ? Pattern.SLOW_BLINK : Pattern.ON;
            }
            default ->
            {
                if (!s.switches().effective(led))
                {
                    yield Pattern.OFF;
                }
                yield s.tunnels(led) > 0 ? Pattern.SLOW_BLINK : Pattern.ON;
            }
        };
    }
}

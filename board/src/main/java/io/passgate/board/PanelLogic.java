package io.passgate.board;

import io.passgate.control.StatusSnapshot;

/**
 * The board's decisions, apart from any I/O and driven by the caller's clock: the button's debouncing and
 * short/long press, and the pattern each LED shows for a status snapshot.
 *
 * <p>Button: the raw level must hold for {@code debounceMs} before it counts (bounces never do). A press
 * that holds {@code longPressMs} fires a long press at that moment; its release then fires nothing. A press
 * released sooner fires a short press on release. So one press gives exactly one action.
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
    private boolean longFired;

    public PanelLogic(final long debounceMs, final long longPressMs)
    {
        this.debounceMs = debounceMs;
        this.longPressMs = longPressMs;
    }

    /** One sample of the button's raw level (true = pressed) at {@code nowMs}. */
    public Press sample(final boolean pressed, final long nowMs)
    {
        if (pressed != candidate)
        {
            candidate = pressed;
            candidateSince = nowMs;
        }
        if (candidate != stable && nowMs - candidateSince >= debounceMs)
        {
            stable = candidate;
            if (stable)
            {
                pressedAt = candidateSince;
                longFired = false;
            }
            else if (!longFired)
            {
                return Press.SHORT;
            }
        }
        if (stable && !longFired && nowMs - pressedAt >= longPressMs)
        {
            longFired = true;
            return Press.LONG;
        }
        return Press.NONE;
    }

    public boolean pressed()
    {
        return stable;
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

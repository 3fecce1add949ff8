package io.passgate.board;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

import io.passgate.control.StatusSnapshot;
import io.passgate.status.ButtonActions;
import io.passgate.status.StatusPanel;
import org.tinylog.Logger;

/**
 * A status panel: LEDs and a button driven by one loop thread (no thread per LED). Between ticks the loop
 * waits on the button ({@link ButtonInput#await}), so a button that reports its edges is sampled the moment it
 * changes. It ticks every 10 ms while the button must be sampled (a button without edge events, or a press
 * under way); otherwise it sleeps until an LED's next change, {@link #REST_MS} at most (about 4 wake-ups a
 * second with the heartbeat, not 100). Button actions run on their own thread so a slow switch change never
 * stalls the LEDs. A failing LED is logged once and left; it never stops the gateway.
 */
public class Panel implements StatusPanel
{
    static final long TICK_MS = 10;
    /**
     * The longest sleep while the button rests: a new snapshot sets the LEDs at once on its own thread, and a
     * new blinking pattern's first change waits at most this long for the loop.
     */
    static final long REST_MS = 250;

    /** An LED and the status it shows. */
    public record Led(String role, LedOutput output)
    {
    }

    private final String description;
    private final List<Led> leds;
    private final ButtonInput button;
    private final PanelLogic logic;
    private final Consumer<String> onPatternChange;
    /** The pattern each LED shows: replaced whole when a snapshot arrives, so readers see the newest one. */
    private volatile Pattern[] patterns;
    private final boolean[] levels;
    private final boolean[] failed;
    private final boolean[] written;
    private volatile ButtonActions actions;
    private Thread loop;
    private volatile boolean running;
    private boolean closed;
    private ExecutorService actionThread;
    private volatile CountDownLatch pressDone;
    private volatile boolean buttonFailed;
    private final Runnable onClose;
    /** The loop's rounds (its thread's alone; tests). */
    private long rounds;

    public Panel(final String description, final List<Led> leds, final ButtonInput button, final PanelLogic logic,
        final Consumer<String> onPatternChange, final Runnable onClose)
    {
        this.description = description;
        this.leds = new ArrayList<>(leds);
        this.button = button;
        this.logic = logic;
        this.onPatternChange = onPatternChange;
        this.onClose = onClose;
        this.patterns = new Pattern[leds.size()];
        java.util.Arrays.fill(patterns, Pattern.OFF);
        this.levels = new boolean[leds.size()];
        this.failed = new boolean[leds.size()];
        this.written = new boolean[leds.size()];
    }

    @Override
    public String description()
    {
        return description;
    }

    /** Takes the actions; call {@link #tick} yourself (tests), or {@link #start} for the scheduler. */
    public void attach(final ButtonActions buttonActions)
    {
        this.actions = buttonActions;
    }

    @Override
    public void start(final ButtonActions buttonActions)
    {
        attach(buttonActions);
        final java.util.concurrent.ThreadPoolExecutor actions = new java.util.concurrent.ThreadPoolExecutor(1, 1, 0,
            java.util.concurrent.TimeUnit.MILLISECONDS, new java.util.concurrent.LinkedBlockingQueue<>(),
            r -> daemon(r, "passgate-button"));
        actions.prestartAllCoreThreads();   // the first press does not wait for a thread to start
        actionThread = actions;
        running = true;
        loop = daemon(this::run, "passgate-panel");
        loop.start();
    }

    /** The loop: a tick, then wait for the next one, or for the button to change. */
    private void run()
    {
        while (running)
        {
            rounds++;
            final long now = System.currentTimeMillis();
            try
            {
                tick(now);
            }
            catch (final RuntimeException e)
            {
                Logger.warn("status panel: {}", e.toString());
            }
            final long wait = Math.max(1, nextRound(now) - System.currentTimeMillis());
            try
            {
                if (button != null && !buttonFailed)
                {
                    button.await(wait);
                }
                else
                {
                    Thread.sleep(wait);
                }
            }
            catch (final InterruptedException e)
            {
                return;
            }
            catch (final Exception e)
            {
                buttonFailed(e);
            }
        }
    }

    /** When the loop's next round is due after one at {@code nowMs}. */
    long nextRound(final long nowMs)
    {
        if (button != null && !buttonFailed && (!button.reportsEdges() || logic.busy()))
        {
            return nowMs + TICK_MS;
        }
        long next = nowMs + REST_MS;
        for (final Pattern p : patterns)
        {
            next = Math.min(next, p.nextChange(nowMs));
        }
        return next;
    }

    /** The loop's rounds so far (tests). */
    long rounds()
    {
        return rounds;
    }

    private void buttonFailed(final Exception e)
    {
        if (!buttonFailed)
        {
            buttonFailed = true;
            Logger.error("button read failed ({}); the button is ignored from now on", e.toString());
        }
    }

    private static Thread daemon(final Runnable r, final String name)
    {
        final Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /**
     * Takes a new snapshot: the LEDs' patterns follow at once (what {@link #leds()} reports, so a status read
     * after a switch change shows the new patterns), and when one changed (a switch change) the LEDs are set
     * at once on the caller's thread instead of at the next tick; the loop's ticks drive the blinking.
     */
    @Override
    public synchronized void show(final StatusSnapshot s)
    {
        final Pattern[] before = patterns;
        final Pattern[] after = new Pattern[leds.size()];
        boolean changed = false;
        for (int i = 0; i < after.length; i++)
        {
            after[i] = PanelLogic.pattern(leds.get(i).role(), s);
            changed |= after[i] != before[i];
        }
        patterns = after;
        if (changed && running)
        {
            updateLeds(System.currentTimeMillis());
        }
        for (int i = 0; i < after.length; i++)
        {
            // after the write: the LED shows the change before it is logged
            if (after[i] != before[i] && onPatternChange != null)
            {
                onPatternChange.accept(leds.get(i).role() + " " + after[i].label());
            }
        }
    }

    /** One loop step: the button, then every LED. */
    public void tick(final long nowMs)
    {
        if (button != null)
        {
            boolean raw = false;
            try
            {
                raw = !buttonFailed && button.pressed();
            }
            catch (final Exception e)
            {
                buttonFailed(e);
            }
            final PanelLogic.Press press = logic.sample(raw, nowMs);
            if (press != PanelLogic.Press.NONE)
            {
                dispatch(press);
            }
        }
        updateLeds(nowMs);
    }

    /** Sets every LED to its pattern's level at {@code nowMs} (the loop's thread, or a switch change's). */
    private synchronized void updateLeds(final long nowMs)
    {
        if (closed)
        {
            return;
        }
        final Pattern[] current = patterns;
        for (int i = 0; i < leds.size(); i++)
        {
            final Led led = leds.get(i);
            final Pattern p = current[i];
            final boolean level = p.level(nowMs);
            if ((!written[i] || level != levels[i]) && !failed[i])
            {
                try
                {
                    led.output().set(level);
                    levels[i] = level;
                    written[i] = true;
                }
                catch (final Exception e)
                {
                    failed[i] = true;
                    Logger.error("LED {} ({}) write failed: {}; it is left as it is, the gateway goes on", led.role(),
                        led.output().where(), e.toString());
                }
            }
        }
    }

    private void dispatch(final PanelLogic.Press press)
    {
        final ButtonActions a = actions;
        if (a == null)
        {
            return;
        }
        final Runnable action = () ->
        {
            if (press == PanelLogic.Press.SHORT)
            {
                a.shortPress();
            }
            else
            {
                a.longPress();
            }
            final CountDownLatch done = pressDone;
            if (done != null)
            {
                done.countDown();
            }
        };
        if (actionThread != null)
        {
            actionThread.execute(action);
        }
        else
        {
            action.run();
        }
    }

    /** Arms the wait before a press is injected, so its completion is not missed. */
    protected CountDownLatch armAction()
    {
        final CountDownLatch latch = new CountDownLatch(1);
        pressDone = latch;
        return latch;
    }

    @Override
    public Map<String, String> leds()
    {
        final Map<String, String> m = new LinkedHashMap<>();
        final Pattern[] current = patterns;
        for (int i = 0; i < leds.size(); i++)
        {
            m.put(leds.get(i).role(), current[i].label());
        }
        return m;
    }

    /** The level last written to each LED (tests). */
    public boolean level(final String role)
    {
        for (int i = 0; i < leds.size(); i++)
        {
            if (leds.get(i).role().equals(role))
            {
                return levels[i];
            }
        }
        throw new IllegalArgumentException("no LED " + role);
    }

    @Override
    public void close()
    {
        running = false;
        if (loop != null)
        {
            loop.interrupt();
            try
            {
                loop.join(2000);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
        }
        if (actionThread != null)
        {
            actionThread.shutdownNow();
        }
        synchronized (this)
        {
            closed = true;
        }
        for (int i = 0; i < leds.size(); i++)
        {
            try
            {
                if (!failed[i])
                {
                    leds.get(i).output().set(false);
                }
            }
            catch (final Exception ignore)
            {
                // switching off on the way out
            }
            leds.get(i).output().close();
        }
        if (button != null)
        {
            button.close();
        }
        if (onClose != null)
        {
            onClose.run();
        }
    }
}

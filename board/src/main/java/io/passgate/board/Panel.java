package io.passgate.board;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import io.passgate.control.StatusSnapshot;
import io.passgate.status.ButtonActions;
import io.passgate.status.StatusPanel;
import org.tinylog.Logger;

/**
 * A status panel: LEDs and a button driven by one scheduler thread ({@link #tick} every 10 ms: no thread per
 * LED). Button actions run on their own thread so a slow switch change never stalls the LEDs. A failing LED
 * is logged once and left; it never stops the gateway.
 */
public class Panel implements StatusPanel
{
    static final long TICK_MS = 10;

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
    private ScheduledExecutorService scheduler;
    private ExecutorService actionThread;
    private volatile CountDownLatch pressDone;
    private boolean buttonFailed;
    private final Runnable onClose;

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
        actionThread = Executors.newSingleThreadExecutor(r -> daemon(r, "passgate-button"));
        scheduler = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "passgate-panel"));
        scheduler.scheduleAtFixedRate(() ->
        {
            try
            {
                tick(System.currentTimeMillis());
            }
            catch (final RuntimeException e)
            {
                Logger.warn("status panel: {}", e.toString());
            }
        }, 0, TICK_MS, TimeUnit.MILLISECONDS);
    }

    private static Thread daemon(final Runnable r, final String name)
    {
        final Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /**
     * Takes a new snapshot: the LEDs' patterns follow at once (what {@link #leds()} reports, so a status read
     * after a switch change shows the new patterns); the scheduler's next tick drives the levels.
     */
    @Override
    public synchronized void show(final StatusSnapshot s)
    {
        final Pattern[] before = patterns;
        final Pattern[] after = new Pattern[leds.size()];
        for (int i = 0; i < after.length; i++)
        {
            after[i] = PanelLogic.pattern(leds.get(i).role(), s);
        }
        patterns = after;
        for (int i = 0; i < after.length; i++)
        {
            if (after[i] != before[i] && onPatternChange != null)
            {
                onPatternChange.accept(leds.get(i).role() + " " + after[i].label());
            }
        }
    }

    /** One scheduler step: the button, then every LED. */
    public void tick(final long nowMs)
    {
        if (button != null)
        {
            boolean raw = false;
            try
            {
                raw = button.pressed();
            }
            catch (final Exception e)
            {
                if (!buttonFailed)
                {
                    buttonFailed = true;
                    Logger.error("button read failed ({}); the button is ignored from now on", e.toString());
                }
            }
            final PanelLogic.Press press = logic.sample(raw, nowMs);
            if (press != PanelLogic.Press.NONE)
            {
                dispatch(press);
            }
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
        if (scheduler != null)
        {
            scheduler.shutdownNow();
            try
            {
                scheduler.awaitTermination(1, TimeUnit.SECONDS);
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

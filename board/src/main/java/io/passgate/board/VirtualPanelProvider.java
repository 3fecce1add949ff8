package io.passgate.board;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.passgate.status.StatusPanel;
import io.passgate.status.StatusPanelProvider;
import org.tinylog.Logger;

/**
 * The virtual board for hosts without GPIO (the lab demo): its LEDs are printed when their pattern changes,
 * and its button is pressed with {@code passgatectl button short|long}, through the same debouncing and
 * press logic as the real one.
 */
public final class VirtualPanelProvider implements StatusPanelProvider
{
    @Override
    public String id()
    {
        return "virtual";
    }

    @Override
    public boolean availableHere()
    {
        return true;
    }

    @Override
    public StatusPanel create(final Map<String, String> settings, final Map<String, String> origins)
    {
        final BoardSettings s = new BoardSettings(settings, origins, Pi4jPanelProvider.MODEL, false);
        return new VirtualPanel(s.debounceMs, s.longPressMs);
    }

    /** A button pressed for a while from now; a press wakes the panel's loop like a GPIO edge. */
    static final class VirtualButton implements ButtonInput
    {
        private volatile long releaseAt;
        private boolean edge;

        void press(final long durationMs)
        {
            releaseAt = System.currentTimeMillis() + durationMs;
            synchronized (this)
            {
                edge = true;
                notifyAll();
            }
        }

        @Override
        public boolean pressed()
        {
            return System.currentTimeMillis() < releaseAt;
        }

        /** Sleeps until a press or the timeout (the release is the loop's to see: it samples while pressed). */
        @Override
        public synchronized void await(final long timeoutMs) throws InterruptedException
        {
            final long end = System.currentTimeMillis() + timeoutMs;
            long left = timeoutMs;
            while (!edge && left > 0)
            {
                wait(left);
                left = end - System.currentTimeMillis();
            }
            edge = false;
        }

        @Override
        public boolean reportsEdges()
        {
            return true;
        }

        @Override
        public void close()
        {
        }
    }

    /** The virtual board. */
    static final class VirtualPanel extends Panel
    {
        private final VirtualButton button;
        private final long longPressMs;

        VirtualPanel(final long debounceMs, final long longPressMs)
        {
            this(new VirtualButton(), debounceMs, longPressMs);
        }

        private VirtualPanel(final VirtualButton button, final long debounceMs, final long longPressMs)
        {
            super("virtual board (LEDs printed, button by passgatectl)", virtualLeds(), button, new PanelLogic(debounceMs,
                longPressMs), change -> Logger.info("LED {}", change), null);
            this.button = button;
            this.longPressMs = longPressMs;
        }

        private static List<Led> virtualLeds()
        {
            final List<Led> leds = new ArrayList<>();
            for (final String role : new String[] {PanelLogic.SYSTEM, PanelLogic.PPTP, PanelLogic.IPSEC, PanelLogic.L2TP})
            {
                leds.add(new Led(role, new LedOutput()
                {
                    @Override
                    public void set(final boolean on)
                    {
                        // shown by its pattern, printed on change
                    }

                    @Override
                    public String where()
                    {
                        return "virtual";
                    }

                    @Override
                    public void close()
                    {
                    }
                }));
            }
            return leds;
        }

        /** Presses the button (short: 200 ms, long: past the long-press time) and waits for its action. */
        @Override
        public boolean press(final String kind)
        {
            final long duration = kind.equals("long") ? longPressMs + 300 : 200;
            final CountDownLatch done = armAction();
            button.press(duration);
            try
            {
                return done.await(duration + 3000, TimeUnit.MILLISECONDS);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }
}

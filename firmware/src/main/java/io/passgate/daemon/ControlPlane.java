package io.passgate.daemon;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.passgate.alg.Helpers;
import io.passgate.control.StatusSnapshot;
import io.passgate.control.SwitchStore;
import io.passgate.control.Switches;
import io.passgate.control.TunnelTable;
import io.passgate.counters.Counter;
import io.passgate.counters.CountersFile;
import io.passgate.dataplane.DataplaneAgent;
import io.passgate.nat.NatEngine;
import io.passgate.status.ButtonActions;
import io.passgate.status.StatusPanel;
import io.passgate.wire.Ipv4Header;
import org.tinylog.Logger;

/**
 * What the control API, the metrics endpoint and the push-button act on: the switches (persisted, applied
 * to every dataplane shard through its command queue: no lock on the packet path), the tunnel table, the
 * status snapshot.
 */
public final class ControlPlane implements ButtonActions
{
    private final SwitchStore store;
    private volatile Switches defaults;
    private final List<DataplaneAgent> agents;
    private final List<NatEngine> engines;
    private final List<TunnelTable> tables = new ArrayList<>();
    private final String wanAddress;
    private volatile Switches switches;
    private volatile StatusSnapshot snapshot;
    private volatile StatusPanel panel;
    /**
     * Orders snapshot writes: the periodic publication and a switch change both replace the snapshot under
     * it, each reading {@link #switches} inside it, so a publication assembled from the old switches can never
     * overwrite the one a switch change made (read your own write). Never held while waiting for shards.
     */
    private final Object snapshotLock = new Object();

    public ControlPlane(final SwitchStore store, final Switches defaults, final Switches initial,
        final List<DataplaneAgent> agents, final List<NatEngine> engines, final int wanAddress)
    {
        this.store = store;
        this.defaults = defaults;
        this.switches = initial;
        this.agents = agents;
        this.engines = engines;
        this.wanAddress = Ipv4Header.format(wanAddress);
        for (int i = 0; i < engines.size(); i++)
        {
            tables.add(new TunnelTable());
        }
        this.snapshot = StatusSnapshot.starting(initial);
    }

    public Switches switches()
    {
        return switches;
    }

    /** The switches a long press restores (from a reloaded configuration). */
    void defaults(final Switches newDefaults)
    {
        this.defaults = newDefaults;
    }

    public void panel(final StatusPanel panel)
    {
        this.panel = panel;
    }

    public StatusPanel panel()
    {
        return panel;
    }

    /** Changes one switch ("all" is the master), saves it and applies it to every shard (within 1 s). */
    public synchronized Switches set(final String protocol, final boolean on) throws IOException
    {
        final Switches next = switches.with(protocol, on);
        return apply(next, protocol + " " + Switches.onOff(on));
    }

    /**
     * Applies the switches to every shard, shows them (API, metrics, LEDs), then saves them. Saving last keeps
     * the file's fsync (tens of milliseconds on an SD card) out of what a button press waits for; if the save
     * fails the change is in force but not remembered, which the IOException reports.
     */
    private Switches apply(final Switches next, final String why) throws IOException
    {
        final Switches previous = switches;
        switches = next;
        applyToShards(next);
        // the snapshot (API, metrics, LEDs) shows the change before the command answers, not at the next
        // periodic publication
        synchronized (snapshotLock)
        {
            show(snapshot.withSwitches(switches));
        }
        if (!next.equals(previous))
        {
            Logger.info("passthrough {}: {}", why, next);
        }
        try
        {
            store.save(next);
        }
        catch (final IOException e)
        {
            throw new IOException("switches changed but not saved (they are lost on restart): " + e.getMessage(), e);
        }
        return next;
    }

    /** Applies switches to every shard's engine on its own thread, and waits until they all have. */
    void applyToShards(final Switches s)
    {
        if (engines.isEmpty())
        {
            return;
        }
        final CountDownLatch done = new CountDownLatch(engines.size());
        for (int i = 0; i < engines.size(); i++)
        {
            final NatEngine engine = engines.get(i);
            final boolean queued = agents.get(i).submit(() ->
            {
                final int torn = engine.applyPassthrough(s::effective);
                if (torn > 0)
                {
                    Logger.info("{} passthrough session(s) torn down", torn);
                }
                done.countDown();
            });
            if (!queued)
            {
                Logger.warn("shard {} command queue full: switches not applied there", i);
                done.countDown();
            }
        }
        try
        {
            if (!done.await(2, TimeUnit.SECONDS))
            {
                Logger.warn("a dataplane shard did not apply the switches within 2 s");
            }
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** Applies the loaded switches before the dataplane threads start (no queue needed yet). */
    void applyBeforeStart()
    {
        final Switches s = switches;
        for (final NatEngine engine : engines)
        {
            engine.applyPassthrough(s::effective);
        }
    }

    @Override
    public void shortPress()
    {
        try
        {
            set("all", !switches.master());
        }
        catch (final IOException e)
        {
            Logger.error("button: {}", e.getMessage());
        }
    }

    @Override
    public void longPress()
    {
        try
        {
            synchronized (this)
            {
                apply(defaults, "restored to the configuration's defaults (long press)");
            }
        }
        catch (final IOException e)
        {
            Logger.error("button: {}", e.getMessage());
        }
    }

    /**
     * The live tunnels of every shard, copied on each shard's own thread, and, of the offloaded TCP and UDP
     * flows, each shard's {@code maxFlows} busiest (0: none); {@code offloaded}, when given, gets [0] the
     * offloaded flows there are in all.
     */
    public synchronized List<Map<String, Object>> tunnels(final int maxFlows, final int[] offloaded)
    {
        final List<Map<String, Object>> rows = new ArrayList<>();
        if (engines.isEmpty())
        {
            return rows;
        }
        final CountDownLatch done = new CountDownLatch(engines.size());
        for (int i = 0; i < engines.size(); i++)
        {
            final NatEngine engine = engines.get(i);
            final TunnelTable table = tables.get(i);
            if (!agents.get(i).submit(() ->
            {
                table.collect(engine, engine.now());
                done.countDown();
            }))
            {
                done.countDown();
            }
        }
        try
        {
            done.await(2, TimeUnit.SECONDS);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        int total = 0;
        for (final TunnelTable t : tables)
        {
            rows.addAll(t.rows(wanAddress, maxFlows));
            total += t.offloadedFlows();
        }
        if (offloaded != null)
        {
            offloaded[0] = total;
        }
        return rows;
    }

    public StatusSnapshot snapshot()
    {
        return snapshot;
    }

    /** Assembles a snapshot from the published counters and the switches; hands it to the panel. */
    void publish(final CountersFile counters, final boolean alive, final boolean rulesApplied, final String fault,
        final long capacity, final Map<String, String> info)
    {
        final Map<String, Long> tunnels = new LinkedHashMap<>();
        for (final String group : Helpers.PASSTHROUGHS.tunnelGroups())
        {
            tunnels.put(group, Math.max(0, counters.total(Helpers.PASSTHROUGHS.tunnelCounter(group))));
        }
        final long sessions = counters.total(Counter.NAT_FLOWS_LIVE);
        synchronized (snapshotLock)
        {
            show(new StatusSnapshot(System.currentTimeMillis(), alive, rulesApplied, fault, switches, tunnels, sessions,
                capacity, info));
        }
    }

    /** Replaces the snapshot and hands it to the panel (under {@link #snapshotLock}). */
    private void show(final StatusSnapshot s)
    {
        snapshot = s;
        final StatusPanel p = panel;
        if (p != null)
        {
            try
            {
                p.show(s);
            }
            catch (final RuntimeException e)
            {
                Logger.warn("status panel: {}", e.toString());
            }
        }
    }

    /** Counters summed over shards (label to value). */
    public static Map<String, Long> counters(final CountersFile file)
    {
        return new LinkedHashMap<>(file.totals());
    }
}

package io.passgate.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.ServiceLoader;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;
import java.util.concurrent.TimeUnit;

import io.passgate.alg.Helpers;
import io.passgate.nat.Helper;
import io.passgate.config.PassgateContext;
import io.passgate.control.SwitchStore;
import io.passgate.control.Switches;
import io.passgate.status.PanelUnavailableException;
import io.passgate.status.StatusPanel;
import io.passgate.status.StatusPanelProvider;
import io.passgate.counters.Counter;
import io.passgate.counters.CounterSet;
import io.passgate.counters.CountersFile;
import io.passgate.dataplane.Dataplane;
import io.passgate.sys.Errno;
import io.passgate.dataplane.ForwardHandler;
import io.passgate.nat.NatConfig;
import io.passgate.nat.NatEngine;
import io.passgate.nat.NatHandler;
import io.passgate.nat.EngineImage;
import io.passgate.nat.StateStore;
import io.passgate.nat.RawSocketSink;
import io.passgate.nat.SharedEndpoints;
import io.passgate.sys.Interfaces;
import io.passgate.nfq.QueueConfig;
import io.passgate.nft.AliveHeartbeat;
import io.passgate.nft.Firewall;
import io.passgate.nft.LiveFlowSet;
import io.passgate.nft.Offloader;
import io.passgate.nft.QueueBackend;
import io.passgate.nft.RulesetSpec;
import io.passgate.wire.Ipv4Header;
import org.agrona.concurrent.SystemEpochClock;
import org.tinylog.Logger;

/**
 * The daemon's life: bind the queues, apply the rules, run the dataplane, and on stop remove what it
 * installed (leaving the fail-mode fallback unless on-stop = remove) and leave nothing running.
 */
public final class Daemon implements AutoCloseable
{
    private final PassgateContext ctx;
    private final Firewall firewall;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final CountDownLatch closedLatch = new CountDownLatch(1);
    private RulesetSpec spec;
    private CountersFile countersFile;
    private Dataplane dataplane;
    private AliveHeartbeat heartbeat;
    /** The kernel's set of live flows, written from its own thread; null without live queues. */
    private LiveFlowSet liveSet;
    private Offloader offloader;
    private Thread controlThread;
    private final List<RawSocketSink> sinks = new ArrayList<>();
    private final List<StateStore> stateStores = new ArrayList<>();
    private final List<NatEngine> engines = new ArrayList<>();
    private final CounterSet controlCounters = new CounterSet();
    private final Supplier<PassgateContext> reloader;
    private final SystemdNotifier notifier;
    private volatile PassgateContext current;
    private ControlPlane control;
    private ControlServer controlServer;
    private MetricsServer metrics;
    private io.passgate.web.WebServer web;
    private StatusPanel panel;
    private volatile boolean rulesApplied;
    private volatile String heartbeatFault;
    private volatile boolean running;
    private boolean closed;
    /** The newest dataplane fault the control thread has logged (faults are logged here, never per packet). */
    private long faultLoggedAtMs;
    private long faultsLogged;
    private RouterPorts routerPorts;
    /** The router's own listening ports the engines keep out of their mappings (control thread). */
    private Set<Integer> listening = Set.of();

    public Daemon(final PassgateContext ctx, final Firewall firewall)
    {
        this(ctx, firewall, null);
    }

    /** {@code reloader} re-reads the configuration for a reload request (null: reload only re-validates ctx). */
    public Daemon(final PassgateContext ctx, final Firewall firewall, final Supplier<PassgateContext> reloader)
    {
        this(ctx, firewall, reloader, SystemdNotifier.disabled());
    }

    /** {@code notifier} tells systemd when passgate is ready, alive (watchdog) and stopping. */
    public Daemon(final PassgateContext ctx, final Firewall firewall, final Supplier<PassgateContext> reloader,
        final SystemdNotifier notifier)
    {
        this.ctx = ctx;
        this.current = ctx;
        this.firewall = firewall;
        this.reloader = reloader;
        this.notifier = notifier;
    }

    public ControlPlane control()
    {
        return control;
    }

    static Switches defaultSwitches(final PassgateContext c)
    {
        return new Switches(true, c.passthrough());
    }

    public RulesetSpec spec()
    {
        return spec;
    }

    public Dataplane dataplane()
    {
        return dataplane;
    }

    /** Resolves the queue backend and renders the rule specification, without touching the system. */
    public static RulesetSpec specFor(final PassgateContext ctx, final Firewall firewall) throws IOException
    {
        return specFor(ctx, firewall, ctx.offload());
    }

    /** As {@link #specFor(PassgateContext, Firewall)}, with offload as found available at start. */
    public static RulesetSpec specFor(final PassgateContext ctx, final Firewall firewall, final boolean offload)
        throws IOException
    {
        final QueueBackend backend = switch (ctx.rulesBackend())
        {
            case "nft" -> QueueBackend.NFT;
            case "iptables" -> QueueBackend.IPTABLES;
            default -> firewall.detectBackend();
        };
        final boolean live = ctx.natLiveFlows() && ctx.translate();
        final boolean flowtable = offload && ctx.translate() && ctx.offloadFlowtable()
            && firewall.flowtableProblem(ctx.lanInterface(), ctx.wanInterface()) == null;
        return new RulesetSpec(ctx.lanInterface(), ctx.wanInterface(), ctx.wanAddress(), ctx.queueBase(),
            ctx.threads(), ctx.failOpen(), ctx.translate(), backend, ctx.hairpinMark(), ctx.aliveTimeoutMs(),
            live ? ctx.liveMark() : 0, ctx.natNewRatePerClient(), ctx.natWanRatePerSource(),
            (int)Math.min(1L << 24, 2L * ctx.natMaxFlows() * ctx.threads()),
            offload && ctx.translate() ? (int)Math.min(1L << 24, 2L * ctx.natMaxFlows() * ctx.threads()) : 0,
            flowtable);
    }

    public void start() throws IOException
    {
        final long startMs = System.currentTimeMillis();
        Logger.info("passgate starting: LAN {} ({}), WAN {} ({}), mode {}, fail-{}, {} thread(s)",
            ctx.lanInterface(), Ipv4Header.format(ctx.lanAddress()), ctx.wanInterface(),
            Ipv4Header.format(ctx.wanAddress()), ctx.translate() ? "nat" : "forward", ctx.failOpen() ? "open" : "closed",
            ctx.threads());
        offloader = openOffload();
        spec = specFor(ctx, firewall, offloader != null);
        if (offloader != null)
        {
            // the offload rules need more of nf_tables than the rest (maps with per-element counters, raw payload
            // writes): where the kernel refuses them, say so and stay in user space
            final String problem = firewall.check(spec);
            if (problem != null)
            {
                Logger.warn("offload unavailable: the kernel refused its rules ({}); flows stay in passgate",
                    problem.lines().findFirst().orElse(""));
                offloader.close();
                offloader = null;
                spec = specFor(ctx, firewall, false);
            }
        }
        if (offloader != null && ctx.offloadFlowtable())
        {
            if (spec.flowtableOffload())
            {
                Logger.info("offload: the kernel's flowtable '{}' on {} and {} carries offloaded TCP and UDP flows "
                    + "past netfilter's hooks", RulesetSpec.FLOWTABLE, ctx.lanInterface(), ctx.wanInterface());
            }
            else
            {
                Logger.info("offload: no flowtable in this kernel ({}): offloaded TCP and UDP flows take conntrack's "
                    + "path", firewall.flowtableProblem(ctx.lanInterface(), ctx.wanInterface()));
            }
        }
        Files.createDirectories(ctx.runtimeDir());
        Files.writeString(ctx.runtimeDir().resolve("passgate.pid"), ProcessHandle.current().pid() + "\n");
        // one row per dataplane shard, and a last row for what the control thread counts
        countersFile = CountersFile.create(ctx.runtimeDir().resolve("counters"), ctx.threads() + 1,
            ProcessHandle.current().pid(), startMs);

        prepareKernel();

        final List<QueueConfig> queues = new ArrayList<>();
        for (int i = 0; i < ctx.threads(); i++)
        {
            queues.add(new QueueConfig(ctx.queueBase() + i, ctx.queueBatch(), ctx.queueMaxLength(),
                ctx.queueReceiveBuffer(), ctx.gso(), false));
        }
        final List<QueueConfig> liveQueues = new ArrayList<>();
        if (spec.liveQueues())
        {
            liveSet = new LiveFlowSet(ctx.wanAddress(), controlCounters);
            for (int i = 0; i < ctx.threads(); i++)
            {
                liveQueues.add(new QueueConfig(spec.liveQueue(i), ctx.queueBatch(), ctx.queueMaxLength(),
                    ctx.queueReceiveBuffer(), ctx.gso(), false));
            }
        }
        final Dataplane.HandlerFactory handlers = ctx.translate() ? natHandlers(startMs)
            : (shard, counters) -> new ForwardHandler(counters);
        dataplane = new Dataplane(queues, liveQueues, handlers, countersFile, SystemEpochClock.INSTANCE,
            ctx.idlePollMs());
        Logger.info("bound queue(s) {}-{}{}", spec.queueBase(), spec.lastQueue(), spec.liveQueues()
            ? ", live queue(s) " + spec.liveQueue(0) + "-" + spec.lastQueueUsed() : "");

        // passthrough switches: remembered across restarts, else the configuration's defaults
        final SwitchStore store = new SwitchStore(ctx.stateDir());
        final SwitchStore.Loaded loaded = store.load(defaultSwitches(ctx));
        if (loaded.problem() != null)
        {
            Logger.warn(loaded.problem());
        }
        control = new ControlPlane(store, defaultSwitches(ctx), loaded.switches(), dataplane.agents(), engines,
            ctx.wanAddress());
        control.applyBeforeStart();
        Logger.info("passthrough: {}", loaded.switches());
        if (ctx.translate())
        {
            routerPorts = RouterPorts.kernel(ctx.wanAddress());
            updateRouterPorts(false);
        }

        dataplane.start();
        if (spec.failOpen() && spec.translate())
        {
            heartbeat = new AliveHeartbeat(ctx.aliveTimeoutMs());
        }
        firewall.apply(spec);
        rulesApplied = true;
        if (liveSet != null)
        {
            liveSet.start();   // the sets exist now
        }
        takeOver();
        if (offloader != null)
        {
            // the earlier run's entries, now that our rules own the traffic (fail-open: the first heartbeat has turned
            // the notrack rules on). Removed before, a packet in between met no entry, was tracked, and the fallback's
            // masquerade made an entry of its own (replaced at the offer now, see Offloader). Until now those flows
            // went on with their old entries, through conntrack: chain offload_flow takes only flows in set
            // offload_ports, empty at start, into the flowtable.
            removeStale();
            offloader.start();
        }
        running = true;
        controlServer = new ControlServer(ctx.runtimeDir().resolve("control.sock"), ctx.controlGroup(), this::handle);
        if (ctx.metricsAddress() != null)
        {
            metrics = new MetricsServer(ctx.metricsAddress(), ctx.metricsPort(), countersFile, control::snapshot);
            Logger.info("metrics on http://{}:{}/metrics", ctx.metricsAddress(), metrics.port());
        }
        startPanel();
        startWeb();
        controlThread = new Thread(this::controlLoop, "passgate-control");
        controlThread.setDaemon(true);
        controlThread.start();
        Logger.info("passgate running (pid {})", ProcessHandle.current().pid());
        // only now: the rules are in and the dataplane runs
        notifier.ready("running: LAN " + ctx.lanInterface() + ", WAN " + ctx.wanInterface() + " ("
            + Ipv4Header.format(ctx.wanAddress()) + "), fail-" + (ctx.failOpen() ? "open" : "closed"));
    }

    /**
     * Waits (up to 5 s) until every dataplane thread has run, then gives the first fail-open heartbeat here, so
     * that when passgate says it runs, it owns the traffic (until then the kernel's masquerade carries it).
     */
    private void takeOver() throws IOException
    {
        final long deadline = System.currentTimeMillis() + 5000;
        while (!dataplane.allAlive(System.currentTimeMillis(), 1000))
        {
            if (System.currentTimeMillis() > deadline)
            {
                throw new IOException("the dataplane threads did not start within 5 s");
            }
            try
            {
                Thread.sleep(5);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while starting");
            }
        }
        if (heartbeat != null && !heartbeat.beat())
        {
            heartbeatFault = "heartbeat refused (rules missing?)";
            Logger.warn("the first heartbeat was refused by the kernel (errno {})", heartbeat.lastError());
        }
    }

    private void removeStale()
    {
        final int stale = offloader.removeStale();
        if (stale != 0)
        {
            Logger.warn("offload: removing an earlier run's entries: errno {}", stale);
        }
    }

    /**
     * Offload, when configured: ctnetlink opened (an earlier run's entries are removed once the rules are in:
     * their sessions go on in passgate), conntrack accounting on (offloaded flows' counters). Where the kernel lacks what it needs,
     * says so and returns null: every flow stays in passgate.
     */
    private Offloader openOffload()
    {
        if (!ctx.offload() || !ctx.translate())
        {
            return null;
        }
        if (ctx.threads() > Offloader.MAX_SHARDS || ctx.natMaxFlows() > Offloader.MAX_FLOWS)
        {
            Logger.warn("offload unavailable: more than {} threads or {} flows per thread; flows stay in passgate",
                Offloader.MAX_SHARDS, Offloader.MAX_FLOWS);
            return null;
        }
        try
        {
            final Offloader o = Offloader.open(ctx.wanAddress(), controlCounters, ctx.natMaxFlows());
            if (!Sysctl.write("net.netfilter.nf_conntrack_acct", "1"))
            {
                Logger.warn("offload: conntrack accounting could not be turned on: offloaded flows' traffic will "
                    + "not be counted");
            }
            Logger.info("offload: settled TCP and UDP flows go to the kernel's conntrack, bound ESP SAs and PPTP "
                + "calls' GRE to its stateless maps, after {} packets", ctx.offloadAfterPackets());
            return o;
        }
        catch (final IOException e)
        {
            Logger.warn("offload unavailable: {}; flows stay in passgate", e.getMessage());
            return null;
        }
    }

    private Dataplane.HandlerFactory natHandlers(final long startMs) throws IOException
    {
        final int lanIfIndex = Interfaces.indexOf(ctx.lanInterface());
        final int mss = ctx.natMssClamp() < 0 ? Sysctl.interfaceMtu(ctx.wanInterface()) - 40 : ctx.natMssClamp();
        final long seed = new SecureRandom().nextLong();
        final SharedEndpoints shared = new SharedEndpoints(ctx.natMaxFlows() * ctx.threads());
        return (shard, counters) ->
        {
            final NatConfig config = new NatConfig(ctx.wanAddress(), ctx.lanAddress(), lanIfIndex, ctx.natMaxFlows(),
                ctx.natPortMin(), ctx.natPortMax(), ctx.natPortParity(), ctx.natFiltering(),
                ctx.natUdpTimeoutS() * 1000L, ctx.natTcpEstablishedTimeoutS() * 1000L,
                ctx.natTcpTransitoryTimeoutS() * 1000L, ctx.natIcmpTimeoutS() * 1000L, mss,
                ctx.natUnsolicitedSynIcmp(), ctx.hairpinMark(), shard, ctx.threads(), seed + shard);
            final RawSocketSink sink = new RawSocketSink(counters);
            sinks.add(sink);
            final NatEngine engine = new NatEngine(config, counters, sink, ctx.natIcmpRate(), startMs, shared);
            if (liveSet != null)
            {
                engine.liveFlows(liveSet.ring());
            }
            if (offloader != null)
            {
                engine.offload(offloader.channel(shard), ctx.offloadAfterPackets());
            }
            engines.add(engine);
            // every shard runs the helpers: their ports' traffic goes to the first queue (see RulesetRenderer),
            // but a session another shard holds is handed to it with its helper's work
            for (final Helper helper : Helpers.create(ctx, seed ^ (0x5050L + shard)))
            {
                engine.register(helper);
            }
            final NatHandler handler = new NatHandler(engine, counters, ctx.queueBase());
            if (ctx.stateKeep())
            {
                handler.stateStore(openState(engine, shard));
            }
            return handler;
        };
    }

    /**
     * Opens the shard's state file and takes up the sessions a good image in it holds (a restart), before the
     * dataplane runs; a bad file is reported and replaced. Never fails the start: without a usable file
     * passgate runs without one.
     */
    private StateStore openState(final NatEngine engine, final int shard)
    {
        final Path file = ctx.runtimeDir().resolve("state-" + shard);
        try
        {
            final long t0 = System.nanoTime();
            final StateStore store = StateStore.open(file, engine, new EngineImage(engine), shard, StateStore.bootId(),
                ctx.stateIntervalMs(), System.currentTimeMillis());
            final StateStore.Found found = store.found();
            if (found.problem() != null)
            {
                Logger.warn(found.problem());
            }
            if (found.sessions() > 0)
            {
                Logger.info("shard {}: {} sessions taken up from {} (image of {} ms before, read in {} ms)", shard,
                    found.sessions(), file, System.currentTimeMillis() - found.savedAtMs(),
                    (System.nanoTime() - t0) / 1_000_000);
            }
            stateStores.add(store);
            return store;
        }
        catch (final IOException | RuntimeException e)
        {
            Logger.warn("state file {} unusable ({}): running without one, a restart will not keep sessions", file,
                e.toString());
            return null;
        }
    }

    /**
     * Finds the status panel (ServiceLoader) the board setting asks for. {@code auto}: Pi4J on a recognised
     * Raspberry Pi, else passgate's own GPIO binding where a GPIO chip exists, else the virtual board; a board
     * that turns out unusable here (missing chip or line, a line held by another process) is logged and the
     * next one tried. A named board: such a problem fails the start, naming the key, unless
     * {@code board.on-error = virtual}. A bad board setting always fails the start.
     */
    private void startPanel() throws IOException
    {
        final String board = ctx.board();
        if (board.equals("none"))
        {
            return;
        }
        final Map<String, StatusPanelProvider> installed = new LinkedHashMap<>();
        for (final StatusPanelProvider provider : ServiceLoader.load(StatusPanelProvider.class))
        {
            installed.putIfAbsent(provider.id(), provider);
        }
        final List<StatusPanelProvider> candidates = new ArrayList<>();
        final boolean auto = board.equals("auto");
        if (auto)
        {
            for (final String id : List.of("pi4j", "gpio", "virtual"))
            {
                final StatusPanelProvider p = installed.get(id);
                if (p != null && p.availableHere())
                {
                    candidates.add(p);
                }
            }
            if (candidates.isEmpty())
            {
                Logger.info("no status panel (found {})", installed.keySet());
                return;
            }
        }
        else
        {
            final StatusPanelProvider p = installed.get(board);
            if (p == null)
            {
                throw new IOException("board = " + board + " but no such status panel is installed (found: "
                    + installed.keySet() + ")");
            }
            candidates.add(p);
            if (!board.equals("virtual") && "virtual".equals(ctx.boardSettings().get("on-error"))
                && installed.containsKey("virtual"))
            {
                candidates.add(installed.get("virtual"));
            }
        }
        for (int i = 0; i < candidates.size() && panel == null; i++)
        {
            final StatusPanelProvider chosen = candidates.get(i);
            final boolean last = i == candidates.size() - 1;
            StatusPanel created = null;
            try
            {
                created = chosen.create(ctx.boardSettings(), ctx.boardOrigins());
                created.start(control);
                panel = created;
            }
            catch (final IllegalArgumentException e)
            {
                closeQuietly(created);
                throw new IOException("board settings: " + e.getMessage(), e);
            }
            catch (final PanelUnavailableException e)
            {
                closeQuietly(created);
                if (last)
                {
                    throw new IOException("board = " + board + ": " + e.getMessage(), e);
                }
                Logger.warn("status panel {} not usable here: {}; trying the {} board", chosen.id(), e.getMessage(),
                    candidates.get(i + 1).id());
            }
            catch (final Exception e)
            {
                closeQuietly(created);
                Logger.error("status panel {} failed to start ({}); the gateway runs without it", chosen.id(), e.toString());
                return;
            }
        }
        control.panel(panel);
        Logger.info("status panel: {}", panel.description());
    }

    /**
     * The status page on web.listen, reading and switching through the control API's own handler. A page that
     * cannot listen (the port taken, the address gone) is logged and the gateway runs without it.
     */
    private void startWeb()
    {
        if (ctx.webAddress() == null)
        {
            return;
        }
        try
        {
            web = new io.passgate.web.WebServer(ctx.webAddress(), ctx.webPort(), this::handle, ctx.webPassword(),
                Helpers.PASSTHROUGHS.tunnelGroups());
            Logger.info("status page on http://{}:{}/ ({})", ctx.webAddress(), web.port(),
                ctx.webPassword() == null ? "read-only: no web.password-hash" : "switches behind the admin password");
        }
        catch (final IOException | RuntimeException e)
        {
            Logger.error("status page: cannot listen on {}:{} ({}); the gateway runs without it", ctx.webAddress(),
                ctx.webPort(), e.getMessage());
        }
    }

    private static void closeQuietly(final StatusPanel p)
    {
        if (p != null)
        {
            try
            {
                p.close();
            }
            catch (final RuntimeException ignore)
            {
                // it failed to start; nothing more to do
            }
        }
    }

    /** One control API request. */
    private Map<String, Object> handle(final Map<String, Object> request)
    {
        final Object cmd = request.get("cmd");
        final Map<String, Object> response = new LinkedHashMap<>();
        response.put("ok", true);
        try
        {
            switch (cmd == null ? "" : cmd.toString())
            {
                case "status" ->
                {
                    response.put("status", control.snapshot().toJson());
                    final io.passgate.web.WebServer page = web;
                    if (page != null)
                    {
                        response.put("web-url", "http://" + ctx.webAddress() + ":" + page.port() + "/");
                    }
                    if (panel != null)
                    {
                        response.put("panel", panel.description());
                        response.put("leds", new LinkedHashMap<>(panel.leds()));
                    }
                }
                case "switch" ->
                {
                    final Object protocol = request.get("protocol");
                    final Object on = request.get("on");
                    if (protocol != null)
                    {
                        if (!(on instanceof Boolean value))
                        {
                            return ControlServer.error("switch needs \"on\": true or false");
                        }
                        control.set(protocol.toString(), value);
                    }
                    response.put("switches", control.switches().toJson());
                }
                case "tunnels" ->
                {
                    // "flows": false leaves the offloaded TCP and UDP flows out; "max-flows": N gives the N
                    // busiest of each shard and "offloaded-flows", how many there are in all (the status page)
                    final Object max = request.get("max-flows");
                    if (max != null && !(max instanceof Number n && n.longValue() >= 0))
                    {
                        return ControlServer.error("tunnels: \"max-flows\" must be a number >= 0");
                    }
                    final int[] offloaded = new int[1];
                    final int maxFlows = Boolean.FALSE.equals(request.get("flows")) ? 0
                        : max == null ? Integer.MAX_VALUE : (int)Math.min(Integer.MAX_VALUE, ((Number)max).longValue());
                    response.put("tunnels", control.tunnels(maxFlows, offloaded));
                    if (max != null)
                    {
                        response.put("offloaded-flows", offloaded[0]);
                    }
                }
                case "counters" -> response.put("counters", ControlPlane.counters(countersFile));
                case "reload" -> response.put("reload", reload());
                case "button" ->
                {
                    final String press = String.valueOf(request.get("press"));
                    if (!press.equals("short") && !press.equals("long"))
                    {
                        return ControlServer.error("button needs \"press\": \"short\" or \"long\"");
                    }
                    if (panel == null || !panel.press(press))
                    {
                        if (press.equals("short"))
                        {
                            control.shortPress();
                        }
                        else
                        {
                            control.longPress();
                        }
                    }
                    response.put("switches", control.switches().toJson());
                }
                default -> throw new IllegalArgumentException("unknown command '" + cmd
                    + "' (status, switch, tunnels, counters, reload, button)");
            }
        }
        catch (final IOException e)
        {
            return ControlServer.error(e.getMessage());
        }
        return response;
    }

    /**
     * Re-reads and re-validates the configuration: applies what can change while running (the switch
     * defaults a long press restores) and lists the settings that differ and need a restart.
     */
    private Map<String, Object> reload()
    {
        final Map<String, Object> result = new LinkedHashMap<>();
        final PassgateContext next;
        try
        {
            next = reloader == null ? current : reloader.get();
        }
        catch (final RuntimeException e)
        {
            throw new IllegalArgumentException("configuration refused: " + e.getMessage());
        }
        final List<String> restart = new ArrayList<>();
        for (final Map.Entry<String, String> e : next.effective().entrySet())
        {
            final String key = e.getKey();
            if (!Objects.equals(e.getValue(), current.effective().get(key)) && !key.startsWith("passthrough."))
            {
                restart.add(key);
            }
        }
        control.defaults(defaultSwitches(next));
        current = next;
        result.put("applied", List.of("passthrough.* (the defaults a long press restores)"));
        result.put("restart-required", restart);
        Logger.info("configuration reloaded{}", restart.isEmpty() ? "" : "; needs a restart for " + restart);
        return result;
    }

    private void prepareKernel()
    {
        if (!"1".equals(Sysctl.read("net.ipv4.ip_forward")))
        {
            Logger.warn("net.ipv4.ip_forward is 0: the kernel will not forward between LAN and WAN");
        }
        if (ctx.translate())
        {
            // hairpinned packets leave by the interface they came in on: the kernel must not send redirects
            Sysctl.write("net.ipv4.conf.all.send_redirects", "0");
            Sysctl.write("net.ipv4.conf." + ctx.lanInterface() + ".send_redirects", "0");
        }
    }

    /**
     * Reads the kernel's per-queue drop counters (/proc/net/netfilter/nfnetlink_queue: queue_num portid total
     * copy_mode copy_range queue_dropped user_dropped id_sequence 1) into the control row of the counters.
     */
    private void readQueueDrops()
    {
        long queueDropped = 0;
        long userDropped = 0;
        long liveDropped = 0;
        try
        {
            for (final String line : Files.readAllLines(Path.of("/proc/net/netfilter/nfnetlink_queue")))
            {
                final String[] f = line.trim().split("\\s+");
                if (f.length >= 7)
                {
                    final int queue = Integer.parseInt(f[0]);
                    if (queue >= spec.queueBase() && queue <= spec.lastQueue())
                    {
                        queueDropped += Long.parseLong(f[5]);
                        userDropped += Long.parseLong(f[6]);
                    }
                    else if (spec.liveQueues() && queue > spec.lastQueue() && queue <= spec.lastQueueUsed())
                    {
                        liveDropped += Long.parseLong(f[5]) + Long.parseLong(f[6]);
                    }
                }
            }
        }
        catch (final IOException | NumberFormatException e)
        {
            return;
        }
        controlCounters.set(Counter.QUEUE_DROPPED, queueDropped);
        controlCounters.set(Counter.QUEUE_USER_DROPPED, userDropped);
        controlCounters.set(Counter.LIVE_QUEUE_DROPPED, liveDropped);
        countersFile.publish(ctx.threads(), controlCounters);
    }

    /**
     * Publishes the faults the dataplane threads recorded (the runner's own count into the control row) and
     * logs a new one once per second at most: the first ten with their stack trace, then one line each with
     * how many happened meanwhile.
     */
    private void reportFaults()
    {
        controlCounters.set(Counter.DATAPLANE_ERRORS, dataplane.errors());
        final Dataplane.Fault fault = dataplane.lastFault();
        if (fault == null || fault.atMs() <= faultLoggedAtMs)
        {
            return;
        }
        final long total = countersFile.total(Counter.DATAPLANE_ERRORS) + countersFile.total(Counter.DROP_HANDLER_FAULT);
        final long since = total - faultsLogged;
        faultLoggedAtMs = fault.atMs();
        faultsLogged = total;
        if (total <= 10)
        {
            Logger.error(fault.error(), "dataplane fault in {} (contained; {} so far)", fault.where(), total);
        }
        else
        {
            Logger.error("dataplane fault in {}: {} ({} since the last report, {} in all)", fault.where(), fault.error(),
                since, total);
        }
    }

    /**
     * Reads the router's own listening ports and keeps them out of every shard's mappings: directly before the
     * dataplane runs, through each shard's command queue after.
     */
    private void updateRouterPorts(final boolean running)
    {
        final Set<Integer> now = routerPorts.read();
        if (now.equals(listening))
        {
            return;
        }
        final Set<Integer> added = new TreeSet<>(now);
        added.removeAll(listening);
        final Set<Integer> removed = new TreeSet<>(listening);
        removed.removeAll(now);
        listening = now;
        for (int i = 0; i < engines.size(); i++)
        {
            final NatEngine engine = engines.get(i);
            final Runnable apply = () ->
            {
                added.forEach(k -> engine.routerPort(RouterPorts.protocolOf(k), RouterPorts.portOf(k), true));
                removed.forEach(k -> engine.routerPort(RouterPorts.protocolOf(k), RouterPorts.portOf(k), false));
            };
            if (!running)
            {
                apply.run();
            }
            else if (!dataplane.agents().get(i).submit(apply))
            {
                listening = Set.of();   // retried at the next reading
            }
        }
        Logger.info("the router listens on {}: never used for mappings", describe(now));
    }

    private static String describe(final Set<Integer> ports)
    {
        final List<String> names = new ArrayList<>();
        for (final int k : ports)
        {
            names.add(io.passgate.nat.Protocols.name(RouterPorts.protocolOf(k)) + "/" + RouterPorts.portOf(k));
        }
        return names.isEmpty() ? "no port" : String.join(" ", names);
    }

    /** Faults and failed sends for the status: counts, and the last fault with its age. */
    private Map<String, String> faultInfo(final long now)
    {
        final Map<String, String> info = new LinkedHashMap<>();
        final long faults = countersFile.total(Counter.DATAPLANE_ERRORS) + countersFile.total(Counter.DROP_HANDLER_FAULT);
        info.put("dataplane-errors", Long.toString(faults));
        final Dataplane.Fault fault = dataplane.lastFault();
        if (fault != null)
        {
            info.put("last-error", fault.describe() + " (" + Math.max(0, (now - fault.atMs()) / 1000) + " s ago)");
        }
        info.put("send-errors", Long.toString(countersFile.total(Counter.SEND_ERRORS)));
        int errno = 0;
        for (final RawSocketSink sink : sinks)
        {
            errno = sink.lastErrno() != 0 ? sink.lastErrno() : errno;
        }
        if (errno != 0)
        {
            info.put("last-send-error", Errno.name(errno));
        }
        return info;
    }

    private void publishStatus(final boolean alive)
    {
        final String fault = !alive ? "dataplane stalled" : !rulesApplied ? "rules not applied" : heartbeatFault;
        final Map<String, String> info = new LinkedHashMap<>();
        info.put("version", Main.VERSION);
        info.put("pid", Long.toString(ProcessHandle.current().pid()));
        info.put("mode", ctx.translate() ? "nat" : "forward");
        info.put("fail-mode", ctx.failOpen() ? "open" : "closed");
        info.put("wan-address", Ipv4Header.format(ctx.wanAddress()));
        info.put("lan-interface", ctx.lanInterface());
        info.put("wan-interface", ctx.wanInterface());
        info.put("threads", Integer.toString(ctx.threads()));
        info.put("queue-backend", spec.backend().name().toLowerCase());
        info.putAll(faultInfo(System.currentTimeMillis()));
        control.publish(countersFile, alive, rulesApplied, fault, (long)ctx.natMaxFlows() * ctx.threads(), info);
    }

    /** The control thread: the fail-open heartbeat, given only while every dataplane thread makes progress. */
    private void controlLoop()
    {
        final long period = Math.min(250, Math.max(100, ctx.aliveTimeoutMs() / 4));
        boolean wasAlive = false;
        long nextStats = 0;
        while (running)
        {
            final long now = System.currentTimeMillis();
            if (now >= nextStats)
            {
                nextStats = now + 1000;
                reportFaults();
                readQueueDrops();
                if (routerPorts != null)
                {
                    updateRouterPorts(true);
                }
            }
            final boolean alive = dataplane.allAlive(now, Math.max(1000, ctx.aliveTimeoutMs() / 2));
            if (alive)
            {
                notifier.watchdog(now);
            }
            if (heartbeat != null && alive)
            {
                if (heartbeat.beat())
                {
                    heartbeatFault = null;
                }
                else
                {
                    if (heartbeatFault == null)
                    {
                        Logger.warn("heartbeat refused by the kernel (errno {}): is table inet passgate intact?",
                            heartbeat.lastError());
                    }
                    heartbeatFault = "heartbeat refused (rules missing?)";
                }
            }
            publishStatus(alive);
            if (alive != wasAlive)
            {
                final String state = alive ? "dataplane alive: passgate owns the traffic"
                    : "dataplane stalled: heartbeat withheld";
                Logger.info(state);
                notifier.status(state);
                wasAlive = alive;
            }
            try
            {
                if (stopped.await(period, TimeUnit.MILLISECONDS))
                {
                    return;
                }
            }
            catch (final InterruptedException e)
            {
                return;
            }
        }
    }

    public void awaitStop() throws InterruptedException
    {
        stopped.await();
    }

    /** Waits until {@link #close()} has finished its cleanup. */
    public void awaitClosed() throws InterruptedException
    {
        closedLatch.await();
    }

    public boolean isRunning()
    {
        return running;
    }

    @Override
    public synchronized void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        running = false;
        stopped.countDown();
        Logger.info("passgate stopping");
        notifier.stopping();
        if (controlThread != null)
        {
            try
            {
                controlThread.join(2000);
            }
            catch (final InterruptedException ignore)
            {
                Thread.currentThread().interrupt();
            }
        }
        if (panel != null)
        {
            panel.close();
        }
        if (controlServer != null)
        {
            controlServer.close();
        }
        if (metrics != null)
        {
            metrics.close();
        }
        if (web != null)
        {
            web.close();
        }
        if (heartbeat != null)
        {
            try
            {
                heartbeat.release();
            }
            catch (final IOException e)
            {
                Logger.warn("could not empty the heartbeat set: {}", e.getMessage());
            }
            heartbeat.close();
        }
        if (liveSet != null)
        {
            liveSet.close();
        }
        if (routerPorts != null)
        {
            routerPorts.close();
        }
        if (offloader != null)
        {
            offloader.close();
        }
        if (spec != null)
        {
            try
            {
                firewall.remove(spec, !ctx.removeOnStop());
                Logger.info(ctx.removeOnStop() || !spec.translate() ? "rules removed"
                    : "queue rules removed; fail-" + (spec.failOpen() ? "open" : "closed") + " fallback left in table inet passgate");
            }
            catch (final IOException e)
            {
                Logger.error("removing rules: {}", e.getMessage());
            }
            if (spec.offload() && (!spec.failOpen() || ctx.removeOnStop()))
            {
                // fail-closed: nothing passes while passgate is down, offloaded flows neither (fail-open keeps
                // them: the kernel carries them with passgate's mappings until the next start takes them back)
                final int error = Offloader.flushAll();
                Logger.info(error == 0 ? "offloaded flows removed from conntrack" : "removing offloaded flows: errno " + error);
            }
        }
        if (dataplane != null)
        {
            dataplane.close();
        }
        for (final StateStore store : stateStores)
        {
            // the dataplane threads have stopped: the last image, for the next start
            try
            {
                store.save(System.currentTimeMillis());
            }
            catch (final RuntimeException e)
            {
                Logger.warn("writing {}: {}", store.path(), e.toString());
            }
            store.close();
        }
        for (final RawSocketSink sink : sinks)
        {
            sink.close();
        }
        if (countersFile != null)
        {
            countersFile.close();
        }
        try
        {
            Files.deleteIfExists(ctx.runtimeDir().resolve("passgate.pid"));
        }
        catch (final IOException ignore)
        {
            // best effort
        }
        Logger.info("passgate stopped");
        notifier.close();
        closedLatch.countDown();
    }
}

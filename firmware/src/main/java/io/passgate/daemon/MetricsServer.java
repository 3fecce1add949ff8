package io.passgate.daemon;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.Supplier;

import com.sun.net.httpserver.HttpServer;
import io.passgate.control.StatusSnapshot;
import io.passgate.control.Switches;
import io.passgate.counters.Counter;
import io.passgate.counters.CountersFile;

/**
 * Prometheus text exposition on {@code metrics.listen} (off by default; never the WAN address or a wildcard,
 * the configuration refuses those): GET /metrics.
 */
public final class MetricsServer implements AutoCloseable
{
    private final HttpServer server;

    public MetricsServer(final String address, final int port, final CountersFile counters,
        final Supplier<StatusSnapshot> snapshot) throws IOException
    {
        server = HttpServer.create(new InetSocketAddress(address, port), 8);
        server.createContext("/metrics", exchange ->
        {
            final byte[] body = render(counters, snapshot.get()).getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody())
            {
                out.write(body);
            }
        });
        server.setExecutor(null);
        server.start();
    }

    static String render(final CountersFile counters, final StatusSnapshot s)
    {
        final StringBuilder b = new StringBuilder(8192);
        final Map<String, Long> totals = counters.totals();
        help(b, "passgate_packets_total", "counter", "Packets through the dataplane by direction and protocol.");
        for (final String dir : new String[] {"out", "in"})
        {
            for (final String proto : new String[] {"tcp", "udp", "icmp", "gre", "esp", "other"})
            {
                b.append("passgate_packets_total{direction=\"").append(dir).append("\",protocol=\"").append(proto)
                    .append("\"} ").append(totals.getOrDefault(dir + "-" + proto + "-packets", 0L)).append('\n');
            }
        }
        help(b, "passgate_bytes_total", "counter", "IP bytes through the dataplane by direction.");
        b.append("passgate_bytes_total{direction=\"out\"} ").append(totals.getOrDefault("out-bytes", 0L)).append('\n');
        b.append("passgate_bytes_total{direction=\"in\"} ").append(totals.getOrDefault("in-bytes", 0L)).append('\n');
        help(b, "passgate_drops_total", "counter", "Packets dropped, by reason.");
        for (final Map.Entry<String, Long> e : totals.entrySet())
        {
            if (e.getKey().startsWith("drop-"))
            {
                b.append("passgate_drops_total{reason=\"").append(e.getKey().substring(5)).append("\"} ")
                    .append(e.getValue()).append('\n');
            }
        }
        help(b, "passgate_errors_total", "counter",
            "passgate's own faults: dataplane exceptions (contained; the packet dropped) and failed sends of RSTs/ICMP.");
        b.append("passgate_errors_total{kind=\"dataplane\"} ").append(totals.getOrDefault(Counter.DATAPLANE_ERRORS.label(), 0L)
            + totals.getOrDefault(Counter.DROP_HANDLER_FAULT.label(), 0L)).append('\n');
        b.append("passgate_errors_total{kind=\"send\"} ").append(totals.getOrDefault(Counter.SEND_ERRORS.label(), 0L))
            .append('\n');
        help(b, "passgate_sessions", "gauge", "Live NAT sessions.");
        b.append("passgate_sessions ").append(s.sessions()).append('\n');
        help(b, "passgate_session_capacity", "gauge", "NAT session capacity.");
        b.append("passgate_session_capacity ").append(s.capacity()).append('\n');
        help(b, "passgate_table_occupancy_ratio", "gauge", "Live sessions over capacity.");
        b.append("passgate_table_occupancy_ratio ")
            .append(s.capacity() == 0 ? 0.0 : (double)s.sessions() / s.capacity()).append('\n');
        help(b, "passgate_tunnels", "gauge", "Live VPN passthrough tunnels by protocol.");
        for (final String p : new String[] {"pptp", "ipsec", "l2tp"})
        {
            b.append("passgate_tunnels{protocol=\"").append(p).append("\"} ").append(s.tunnels(p)).append('\n');
        }
        help(b, "passgate_passthrough_enabled", "gauge", "1 when the protocol's passthrough is on.");
        for (final String p : Switches.PROTOCOLS)
        {
            b.append("passgate_passthrough_enabled{protocol=\"").append(p).append("\"} ")
                .append(s.switches().effective(p) ? 1 : 0).append('\n');
        }
        b.append("passgate_passthrough_enabled{protocol=\"all\"} ").append(s.switches().master() ? 1 : 0).append('\n');
        help(b, "passgate_dataplane_alive", "gauge", "1 while every dataplane thread makes progress.");
        b.append("passgate_dataplane_alive ").append(s.dataplaneAlive() ? 1 : 0).append('\n');
        help(b, "passgate_counter", "untyped", "Every passgate counter by name (see passgatectl counters).");
        for (int i = 0; i < Counter.count(); i++)
        {
            final String label = Counter.byIndex(i).label();
            b.append("passgate_counter{name=\"").append(label).append("\"} ").append(totals.getOrDefault(label, 0L))
                .append('\n');
        }
        return b.toString();
    }

    private static void help(final StringBuilder b, final String name, final String type, final String text)
    {
        b.append("# HELP ").append(name).append(' ').append(text).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    public int port()
    {
        return server.getAddress().getPort();
    }

    @Override
    public void close()
    {
        server.stop(0);
    }
}

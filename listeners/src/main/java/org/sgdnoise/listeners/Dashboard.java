package org.sgdnoise.listeners;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.output.RecordKind;
import org.sgdnoise.output.RecordSink;
import org.sgdnoise.output.ScalarSeries;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A live view of training in the browser: a record sink that keeps what the listeners write in memory and serves
 * it, read-only, on a local HTTP port, with a page of charts that updates while {@code fit()} runs.
 *
 * <pre>{@code
 * try (Dashboard dashboard = Dashboard.start(8090)) {       // http://127.0.0.1:8090/
 *     net.addListeners(new DiffusionListener.Builder().sink(dashboard).build(),
 *                      new TrajectoryListener.Builder().sink(dashboard).build());
 *     net.fit(train, epochs);
 * }
 * }</pre>
 *
 * <p>The page draws, one series per worker: the loss at every iteration (and at each probe), the update norm and
 * learning rate, tr(D), λ_max and the sketch's λ₁ with its upper bound, the rank with its cap k − 1, the
 * participation ratio and effective rank, the isotropy ratio and noise scale, the temperature, the last probe's
 * eigenvalue histogram, the layers' shares of tr(D), and the loop verdicts (p-value against iteration and a table).
 * It polls {@code /api/records?since=N} and {@code /api/scalars} every {@value #POLL_MILLIS} ms. The charts are
 * drawn with uPlot (MIT, vendored in the jar, about 50 KB): small, fast for 10⁵ points, with log axes. Nothing is
 * loaded from the network.
 *
 * <p>Endpoints, all GET or HEAD (other methods: 405): {@code /} the page; {@code /api/records} every record kept, a
 * JSON array in arrival order of {@code {"seq": n, "kind": "probe"|"loop"|"other", "record": {...}}} ({@code ?since=n}:
 * only those with a larger {@code seq}); {@code /api/scalars} the iteration scalars as columns {@code {"iteration":
 * [...], "epoch": [...], "worker": [...], "loss": [...], "learning_rate": [...], "update_norm": [...], "offered":
 * n}}; {@code /assets/<name>} the page's scripts and styles, from a fixed list of files inside the jar. Any other
 * path is 404, including {@code /assets/../...} in any encoding.
 *
 * <p>Memory: the newest {@link #MAX_RECORDS} records of each kind (probe records, loop-verdict records, any other)
 * and {@link DiffusionListener#SCALAR_CAPACITY} scalar points per worker ({@link ScalarSeries}, evenly thinned when
 * full); a probe record takes a few KB, so a full dashboard holds some tens of MB.
 *
 * <p>It never slows or breaks {@code fit()}: {@link #write} and {@link #writeScalars} only append to memory under a
 * short lock; requests are served on the server's own {@value #THREADS} daemon threads, each exchange interrupted
 * after {@value #EXCHANGE_DEADLINE_MILLIS} ms, so a client that never reads its answer holds a thread for at most
 * that long. By default the server binds 127.0.0.1 only and answers only requests addressed to a loopback name
 * (against DNS rebinding). The listeners never close a dashboard they write to: it outlives them and serves the
 * finished run until {@link #close()}. Its threads are daemons: it does not keep the JVM alive. Thread-safe.
 */
public final class Dashboard implements RecordSink, AutoCloseable {

    /** Records kept of each kind (probe records, loop-verdict records, other records); older ones are dropped. */
    public static final int MAX_RECORDS = 10_000;
    /** How often the page asks for new records and scalars, in milliseconds. */
    public static final int POLL_MILLIS = 1000;
    /** Threads that serve requests. */
    public static final int THREADS = 4;
    /** Longest time one request may take before it is cut off, in milliseconds. */
    public static final long EXCHANGE_DEADLINE_MILLIS = 10_000;

    /** Record kind of a DiffusionListener probe in the API ({@link RecordKind#PROBE}). */
    public static final String KIND_PROBE = RecordKind.PROBE.label();
    /** Record kind of a TrajectoryListener analysis in the API ({@link RecordKind#LOOP}). */
    public static final String KIND_LOOP = RecordKind.LOOP.label();
    /** Record kind of any other record in the API ({@link RecordKind#OTHER}). */
    public static final String KIND_OTHER = RecordKind.OTHER.label();

    private static final Logger log = LoggerFactory.getLogger(Dashboard.class);
    static final String RESOURCES = "/org/sgdnoise/dashboard/";
    static final String PAGE = "index.html";
    /** The files served under /assets/, with their content types: nothing else is ever read. */
    private static final Map<String, String> ASSETS = Map.of(
            "dashboard.js", "text/javascript; charset=utf-8",
            "dashboard.css", "text/css; charset=utf-8",
            "uPlot.iife.min.js", "text/javascript; charset=utf-8",
            "uPlot.min.css", "text/css; charset=utf-8");

    /** The page's own Content-Security-Policy (its meta element); the server's header adds frame-ancestors. */
    static final String PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; "
            + "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

    private static final String LIVE_CSP = PAGE_CSP + "; frame-ancestors 'none'";
    static final String STATIC_CSP = "default-src 'none'; script-src 'unsafe-inline'; "
            + "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

    private final int maxRecords;
    private final Map<String, Deque<Entry>> records = new LinkedHashMap<>(); // guarded by itself
    private long seq; // guarded by records
    private final ScalarSeries scalars = new ScalarSeries(DiffusionListener.SCALAR_CAPACITY);
    private final HttpServer server;
    private final DeadlineExecutor executor;
    private final InetSocketAddress address;
    private final Map<String, byte[]> files;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** One record as kept: its sequence number, kind, the record, and its JSON once a client asked for it. */
    static final class Entry {
        final long seq;
        final String kind;
        final ProbeRecord record;
        private volatile String json; // written by the HTTP threads, never by training

        Entry(long seq, String kind, ProbeRecord record) {
            this.seq = seq;
            this.kind = kind;
            this.record = record;
        }

        long seq() {
            return seq;
        }

        ProbeRecord record() {
            return record;
        }

        /** The API's JSON of this entry, made once (two threads may both make it: the same text). */
        String json() {
            String j = json;
            if (j == null) {
                j = "{\"seq\":" + seq + ",\"kind\":\"" + kind + "\",\"record\":" + record.toJson() + "}";
                json = j;
            }
            return j;
        }
    }

    private Dashboard(InetSocketAddress bind, int maxRecords, long deadlineMillis) {
        this.maxRecords = maxRecords;
        for (String kind : List.of(KIND_PROBE, KIND_LOOP, KIND_OTHER)) {
            records.put(kind, new ArrayDeque<>());
        }
        this.files = loadFiles();
        try {
            this.server = HttpServer.create(bind, 0);
        } catch (BindException e) {
            String why = String.valueOf(e.getMessage());
            throw new UncheckedIOException(
                    why.contains("in use")
                            ? "sgdnoise dashboard: port " + bind.getPort() + " is in use on " + host(bind)
                                    + " (choose another port, or 0 for a free one)"
                            : "sgdnoise dashboard: cannot listen on " + host(bind) + ":" + bind.getPort() + ": "
                                    + why + " (ports below 1024 need privileges; choose another port, or 0 for a "
                                    + "free one)",
                    e);
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "sgdnoise dashboard: cannot listen on " + host(bind) + ":" + bind.getPort() + ": " + e, e);
        }
        this.executor = new DeadlineExecutor(THREADS, deadlineMillis, "sgdnoise-dashboard");
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        startAsDaemon(server);
        this.address = server.getAddress();
        log.info("sgdnoise dashboard: {}", url());
    }

    /**
     * Starts a dashboard on 127.0.0.1 (loopback only: other machines cannot connect).
     *
     * @param port the TCP port, 0 for any free one ({@link #url()} says which)
     * @throws IllegalArgumentException for a port outside [0, 65535]
     * @throws UncheckedIOException when the port is in use or cannot be bound (the message says which)
     */
    public static Dashboard start(int port) {
        checkPort(port);
        return start(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    }

    /**
     * Starts a dashboard on an explicit address. A non-loopback address makes the records readable by every
     * machine that can reach it: the page has no authentication.
     *
     * @param address where to listen (port 0: any free one)
     * @throws IllegalArgumentException for a null or unresolved address
     * @throws UncheckedIOException when the address cannot be bound (the message says why)
     */
    public static Dashboard start(InetSocketAddress address) {
        return start(address, MAX_RECORDS, EXCHANGE_DEADLINE_MILLIS);
    }

    /** With the record bound and exchange deadline given (tests). */
    static Dashboard start(InetSocketAddress address, int maxRecords, long deadlineMillis) {
        if (address == null) {
            throw new IllegalArgumentException("address must not be null, got null");
        }
        if (address.isUnresolved()) {
            throw new IllegalArgumentException("address must be resolved, got unresolved " + address);
        }
        if (maxRecords < 1) {
            throw new IllegalArgumentException("maxRecords must be >= 1, got " + maxRecords);
        }
        return new Dashboard(address, maxRecords, deadlineMillis);
    }

    private static void checkPort(int port) {
        if (port < 0 || port > 0xFFFF) {
            throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        }
    }

    private static String host(InetSocketAddress a) {
        return a.getAddress() == null ? a.getHostString() : a.getAddress().getHostAddress();
    }

    /**
     * HttpServer's dispatcher thread inherits the daemon flag of the thread that starts it: started from a daemon
     * thread, the dashboard does not keep the JVM alive.
     */
    private static void startAsDaemon(HttpServer server) {
        Thread starter = new Thread(server::start, "sgdnoise-dashboard-start");
        starter.setDaemon(true);
        starter.start();
        try {
            starter.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            server.stop(0);
            throw new IllegalStateException("interrupted while starting the dashboard", e);
        }
    }

    /** The address the server listens on (the actual port when started with port 0). */
    public InetSocketAddress address() {
        return address;
    }

    /**
     * The page's address, for example {@code http://127.0.0.1:8090/} (an IPv6 address in brackets; for the
     * wildcard address, 127.0.0.1).
     */
    public String url() {
        InetAddress a = address.getAddress();
        String h = a == null || a.isAnyLocalAddress() ? "127.0.0.1" : a.getHostAddress();
        if (h.indexOf(':') >= 0) {
            h = "[" + h.replaceAll("%.*$", "") + "]";
        }
        return "http://" + h + ":" + address.getPort() + "/";
    }

    /** Keeps one record (a probe or loop verdict); the oldest of its kind goes beyond {@link #MAX_RECORDS}. */
    @Override
    public void write(ProbeRecord record) {
        if (record == null) {
            return;
        }
        String kind = kind(record);
        synchronized (records) {
            Deque<Entry> q = records.get(kind);
            q.addLast(new Entry(++seq, kind, record));
            if (q.size() > maxRecords) {
                q.removeFirst();
            }
        }
    }

    /** Keeps one iteration's scalars (thinned when a worker's series is full, see {@link ScalarSeries}). */
    @Override
    public void writeScalars(IterationScalars s) {
        if (s != null) {
            scalars.add(s);
        }
    }

    /** False: the listeners publishing to a dashboard do not stop it; its owner does ({@link #close}). */
    @Override
    public boolean closedByListeners() {
        return false;
    }

    /** The kind of a record as the API names it: {@link #KIND_PROBE}, {@link #KIND_LOOP} or {@link #KIND_OTHER}. */
    static String kind(ProbeRecord r) {
        return RecordKind.of(r).label();
    }

    /** Every record kept, in arrival order. */
    public List<ProbeRecord> records() {
        return since(0).stream().map(Entry::record).toList();
    }

    /** The iteration scalars kept. */
    public ScalarSeries scalars() {
        return scalars;
    }

    private List<Entry> since(long after) {
        List<Entry> out = new ArrayList<>();
        synchronized (records) {
            for (Deque<Entry> q : records.values()) {
                for (var it = q.descendingIterator(); it.hasNext(); ) {
                    Entry e = it.next();
                    if (e.seq() <= after) {
                        break;
                    }
                    out.add(e);
                }
            }
        }
        out.sort(Comparator.comparingLong(Entry::seq));
        return out;
    }

    /**
     * Writes the page with this dashboard's records and scalars embedded: one self-contained HTML file (see
     * {@link DashboardPage}).
     */
    public void writeStatic(Path out) throws IOException {
        renderStatic(records(), scalars.snapshot(), out);
    }

    /**
     * Writes the dashboard's page as one self-contained HTML file with these records and scalars embedded: the
     * same charts as the live page, drawn from the file's data, loading nothing. {@link DashboardPage} adds a
     * title, tables, spectra, a phase portrait and images.
     *
     * @param records probe and loop-verdict records, in the order they were written
     * @param scalars iteration scalars (may be empty: the loss chart then draws the probes' loss)
     * @param out the HTML file, replaced; its folders are created
     */
    public static void renderStatic(List<ProbeRecord> records, List<IterationScalars> scalars, Path out)
            throws IOException {
        DashboardPage.builder().records(records).scalars(scalars).build().write(out);
    }

    /** The page and the whitelisted assets, read from the jar once. */
    static Map<String, byte[]> loadFiles() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (String name : concat(PAGE, ASSETS.keySet())) {
            try (InputStream in = Dashboard.class.getResourceAsStream(RESOURCES + name)) {
                if (in == null) {
                    throw new IllegalStateException("the dashboard resource " + RESOURCES + name
                            + " is missing from the classpath (a broken sgdnoise-listeners jar?)");
                }
                m.put(name, in.readAllBytes());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the dashboard resource " + name, e);
            }
        }
        return m;
    }

    private static List<String> concat(String first, Set<String> rest) {
        List<String> l = new ArrayList<>();
        l.add(first);
        l.addAll(rest);
        return l;
    }

    // ---- HTTP ----

    private void handle(HttpExchange ex) {
        try {
            serve(ex);
        } catch (IOException e) {
            log.debug("sgdnoise dashboard: a client went away: {}", e.toString());
        } catch (RuntimeException e) {
            log.debug("sgdnoise dashboard: request {} failed", ex.getRequestURI(), e);
            try {
                send(ex, 500, "text/plain; charset=utf-8", bytes("internal error\n"), false);
            } catch (IOException | RuntimeException ignored) {
                // the response may already be under way; the connection is closed below
            }
        } finally {
            ex.close();
        }
    }

    private void serve(HttpExchange ex) throws IOException {
        String method = ex.getRequestMethod();
        boolean head = "HEAD".equals(method);
        if (!head && !"GET".equals(method)) {
            ex.getResponseHeaders().set("Allow", "GET, HEAD");
            send(
                    ex,
                    405,
                    "text/plain; charset=utf-8",
                    bytes("405 method not allowed: the dashboard is read-only\n"),
                    head);
            return;
        }
        if (!hostAllowed(ex.getRequestHeaders().getFirst("Host"))) {
            send(ex, 403, "text/plain; charset=utf-8", bytes("403 forbidden: not a loopback host name\n"), head);
            return;
        }
        String path = ex.getRequestURI().getRawPath();
        String query = ex.getRequestURI().getRawQuery();
        if ("/".equals(path)) {
            ex.getResponseHeaders().set("Content-Security-Policy", LIVE_CSP);
            send(ex, 200, "text/html; charset=utf-8", files.get(PAGE), head);
        } else if ("/api/records".equals(path)) {
            long after;
            try {
                after = sinceParameter(query);
            } catch (IllegalArgumentException e) {
                send(ex, 400, "text/plain; charset=utf-8", bytes("400 " + e.getMessage() + "\n"), head);
                return;
            }
            StringBuilder sb = new StringBuilder(4096);
            recordsJson(sb, since(after));
            send(ex, 200, "application/json", bytes(sb.toString()), head);
        } else if ("/api/scalars".equals(path)) {
            StringBuilder sb = new StringBuilder(4096);
            scalarsJson(sb, scalars.snapshot(), scalars.offered());
            send(ex, 200, "application/json", bytes(sb.toString()), head);
        } else if (path != null && path.startsWith("/assets/") && ASSETS.containsKey(path.substring(8))) {
            // An exact name from the fixed list: "..", "%2e%2e", "/" or anything else is simply not in it.
            String name = path.substring(8);
            send(ex, 200, ASSETS.get(name), files.get(name), head);
        } else {
            send(ex, 404, "text/plain; charset=utf-8", bytes("404 not found\n"), head);
        }
    }

    /** With a loopback bind, only requests that name a loopback host: a page elsewhere cannot rebind its name here. */
    private boolean hostAllowed(String hostHeader) {
        InetAddress bound = address.getAddress();
        if (bound == null || !bound.isLoopbackAddress()) {
            return true;
        }
        if (hostHeader == null) {
            return false;
        }
        String h = hostHeader.trim().toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            h = end < 0 ? h : h.substring(0, end + 1);
        } else if (h.indexOf(':') >= 0) {
            h = h.substring(0, h.indexOf(':'));
        }
        return h.equals("127.0.0.1") || h.equals("localhost") || h.equals("[::1]");
    }

    static long sinceParameter(String rawQuery) {
        if (rawQuery == null || rawQuery.isEmpty()) {
            return 0;
        }
        long after = 0;
        for (String part : rawQuery.split("&")) {
            if (part.startsWith("since=")) {
                String v = part.substring(6);
                try {
                    after = Long.parseLong(v);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("since must be an integer sequence number, got " + v);
                }
            }
        }
        return after;
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body, boolean head) throws IOException {
        var h = ex.getResponseHeaders();
        h.set("Content-Type", type);
        h.set("X-Content-Type-Options", "nosniff");
        h.set("Cache-Control", "no-store");
        h.set("Referrer-Policy", "no-referrer");
        if (head) {
            h.set("Content-Length", Integer.toString(body.length));
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(body);
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    // ---- JSON ----

    static void recordsJson(StringBuilder sb, List<Entry> entries) {
        sb.append('[');
        boolean first = true;
        for (Entry e : entries) {
            sb.append(first ? "" : ",\n").append(e.json());
            first = false;
        }
        sb.append(']');
    }

    static void scalarsJson(StringBuilder sb, List<IterationScalars> points, long offered) {
        sb.append("{\"iteration\":[");
        for (int i = 0; i < points.size(); i++) {
            sb.append(i == 0 ? "" : ",").append(points.get(i).iteration());
        }
        sb.append("],\"epoch\":[");
        for (int i = 0; i < points.size(); i++) {
            sb.append(i == 0 ? "" : ",").append(points.get(i).epoch());
        }
        sb.append("],\"worker\":[");
        for (int i = 0; i < points.size(); i++) {
            sb.append(i == 0 ? "" : ",").append(points.get(i).worker());
        }
        sb.append("],\"loss\":[");
        for (int i = 0; i < points.size(); i++) {
            number(sb.append(i == 0 ? "" : ","), points.get(i).loss());
        }
        sb.append("],\"learning_rate\":[");
        for (int i = 0; i < points.size(); i++) {
            number(sb.append(i == 0 ? "" : ","), points.get(i).learningRate());
        }
        sb.append("],\"update_norm\":[");
        for (int i = 0; i < points.size(); i++) {
            number(sb.append(i == 0 ? "" : ","), points.get(i).updateNorm());
        }
        sb.append("],\"offered\":").append(offered).append('}');
    }

    static void number(StringBuilder sb, double x) {
        sb.append(Double.isFinite(x) ? Double.toString(x) : "null");
    }

    static void string(StringBuilder sb, String s) {
        // A one-field record writes a JSON string with the project's own escaping.
        String json = ProbeRecord.builder().put("s", s == null ? "" : s).build().toJson();
        sb.append(json, 5, json.length() - 1);
    }

    /**
     * Stops the server and its threads. The records stay readable through {@link #records()} and
     * {@link #writeStatic}, and records written later (a listener's final analysis at its close) are still kept.
     * Idempotent.
     */
    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return;
        }
        server.stop(0);
        executor.shutdown();
        log.debug("sgdnoise dashboard: {} stopped", url());
    }

    @Override
    public String toString() {
        return "Dashboard[" + url() + "]";
    }
}

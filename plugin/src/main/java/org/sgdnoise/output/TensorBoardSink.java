package org.sgdnoise.output;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.sgdnoise.output.internal.EventSummary;
import org.sgdnoise.output.internal.LogHistogram;
import org.sgdnoise.output.internal.TfRecordFile;

/**
 * Writes records as TensorBoard event files, for a live view with {@code tensorboard --logdir <logdir>}. No
 * TensorFlow or protobuf library is needed: the few messages are encoded by hand.
 *
 * <p><b>Layout.</b> One run folder per ParallelWrapper worker, {@code <logdir>/worker-<w>/} (the record's
 * {@code worker}, 0 when absent), created with its first record; in it this sink writes one file
 * {@code events.out.tfevents.<unix seconds>.<host>.<pid>.<n>} (TensorBoard's naming; {@code n} counts the files
 * this process opened), starting with the event {@code file_version = "brain.Event:2"}. Several sinks may share a
 * log directory (one per listener, say): each writes its own files, and TensorBoard merges the files of a run
 * folder (its default data server follows them all live; the older Python loader, {@code --load_fast=false}, needs
 * {@code --reload_multifile=true} for that).
 *
 * <p><b>Tags.</b> The step of every value is the record's {@code iteration}.
 *
 * <ul>
 *   <li>{@link #writeScalars}: {@code loss}, {@code learning_rate} and {@code update_norm} at every iteration.
 *   <li>A loop-verdict record of the TrajectoryListener (it has a string field {@code verdict}): each numeric field
 *       as {@code trajectory/<key>} ({@code trajectory/p_value}, {@code trajectory/max_rate}, ...), and the verdict
 *       as the scalar {@code trajectory/verdict}: LOOP 1, NO_LOOP 0, NOT_STATIONARY −1, INSUFFICIENT_DATA −2.
 *   <li>Any other record, such as the DiffusionListener's probes: each numeric field as {@code diffusion/<key>}
 *       ({@code diffusion/trace}, {@code diffusion/lambda_max}, {@code diffusion/rank}, ...), and the top eigenvalues
 *       of D (the {@code double[]} field {@code eigenvalues}) as the histogram {@code diffusion/eigenvalues}, in
 *       log-spaced buckets: ten per decade with edges 10<sup>j/10</sup>, the same at every step, values ≤ 0 in one
 *       bucket up to 0 (see {@link LogHistogram}).
 * </ul>
 *
 * Not written: the keys in {@link #BOOKKEEPING_KEYS}; NaN and infinite values, and values beyond a float's range
 * (a scalar is a 32-bit float in the event file); strings other than the verdict; booleans; arrays other than the
 * eigenvalues (the per-layer arrays are in the JSON Lines records, with their layer names).
 *
 * <p><b>Writes.</b> One event per record or per iteration's scalars. A record goes to the operating system at once
 * (in one write, with any scalars pending); the iteration scalars are kept in memory and written together at most
 * {@link #FLUSH_MILLIS} apart, since a write per iteration cost more than the rest of the scalars' path (about 15 µs
 * on a 1.5 ms iteration). A killed process loses at most the last second of scalars and the event being written;
 * a write that failed half-way loses the events it held and is cut off before the next one. Thread-safe (training threads of several workers may write at once). Files are opened at a worker's
 * first record, so a bad log directory shows up as a failed write inside training (counted and warned about by the
 * listener), not as a failed build. This sink cannot resume from a checkpoint: a resumed run adds new files, and
 * TensorBoard shows the steps between the checkpoint and the restart from both runs.
 */
public final class TensorBoardSink implements RecordSink {

    /**
     * Numeric record keys not written as scalars: the step and run folder ({@code iteration}, {@code epoch},
     * {@code worker}); seeds ({@code seed}, {@code basis_seed}, {@code detector_seed}); settings constant through a
     * run ({@code num_params}, {@code batch_size}, {@code dataset_size}, {@code samples_requested}, {@code top_r},
     * {@code sketch_ell}, {@code sketch_half_life}, {@code overhead_budget}, {@code significance},
     * {@code dimensions}, {@code every}); identifiers ({@code plane_u}, {@code plane_v}, {@code segment}); and counts
     * ({@code failures}, {@code sink_failures}, {@code skipped_non_finite}, {@code window_steps},
     * {@code hessian_examples}, {@code hessian_products}).
     */
    public static final Set<String> BOOKKEEPING_KEYS = Set.of(
            "iteration",
            "epoch",
            "worker",
            "seed",
            "basis_seed",
            "detector_seed",
            "num_params",
            "batch_size",
            "dataset_size",
            "samples_requested",
            "top_r",
            "sketch_ell",
            "sketch_half_life",
            "overhead_budget",
            "significance",
            "dimensions",
            "every",
            "plane_u",
            "plane_v",
            "segment",
            "failures",
            "sink_failures",
            "skipped_non_finite",
            "window_steps",
            "hessian_examples",
            "hessian_products");

    /** Tag prefix of the DiffusionListener's probe records. */
    public static final String DIFFUSION_PREFIX = "diffusion/";

    /** Tag prefix of the TrajectoryListener's loop-verdict records. */
    public static final String TRAJECTORY_PREFIX = "trajectory/";

    private static final String ITERATION = "iteration";
    private static final String WORKER = "worker";
    private static final String VERDICT = RecordKind.VERDICT_KEY;
    private static final String EIGENVALUES = "eigenvalues";
    private static final Map<String, Integer> VERDICT_CODES =
            Map.of("LOOP", 1, "NO_LOOP", 0, "NOT_STATIONARY", -1, "INSUFFICIENT_DATA", -2);

    /** The iteration scalars are written at most this far apart (a killed run loses at most that much of them). */
    public static final long FLUSH_MILLIS = 1_000;

    /** ... or when this many bytes of them are pending. */
    static final int FLUSH_BYTES = 1 << 16;

    private static final AtomicInteger FILES_OPENED = new AtomicInteger();

    private final Path logdir;
    private final Clock clock;
    private final Map<Integer, TfRecordFile> files = new HashMap<>(); // by worker; guarded by this
    private final Map<Integer, Long> flushedAt = new HashMap<>(); // clock millis of each file's last write; ditto
    private boolean closed; // guarded by this

    /**
     * Creates a sink writing under {@code logdir} (created with the first record).
     *
     * @param logdir the log directory TensorBoard is pointed at, or a folder in it (one experiment)
     */
    public TensorBoardSink(Path logdir) {
        this(logdir, Clock.systemUTC());
    }

    /** As {@link #TensorBoardSink(Path)}, with the clock for wall times and file names (tests fix it). */
    TensorBoardSink(Path logdir, Clock clock) {
        if (logdir == null) {
            throw new IllegalArgumentException("logdir must not be null");
        }
        if (clock == null) {
            throw new IllegalArgumentException("clock must not be null");
        }
        this.logdir = logdir;
        this.clock = clock;
    }

    /** The log directory. */
    public Path logdir() {
        return logdir;
    }

    /** The run folder of one worker: {@code <logdir>/worker-<worker>}. */
    public Path runFolder(int worker) {
        if (worker < 0) {
            throw new IllegalArgumentException("worker must be >= 0, got " + worker);
        }
        return logdir.resolve("worker-" + worker);
    }

    /**
     * Writes the record's numeric fields as scalars (and D's eigenvalues as a histogram) at step {@code iteration}.
     *
     * @throws IllegalArgumentException if the record has no whole-number {@code iteration} &gt;= 0, or a
     *     {@code worker} that is not a whole number &gt;= 0
     * @throws IOException if the sink is closed or the event file cannot be created or written
     */
    @Override
    public void write(ProbeRecord record) throws IOException {
        Map<String, Object> f = record.fields();
        long step = wholeNumber(ITERATION, f.get(ITERATION), Long.MAX_VALUE);
        int worker = f.get(WORKER) == null ? 0 : (int) wholeNumber(WORKER, f.get(WORKER), Integer.MAX_VALUE);
        Object verdict = f.get(VERDICT);
        String prefix = RecordKind.of(record) == RecordKind.LOOP ? TRAJECTORY_PREFIX : DIFFUSION_PREFIX;
        EventSummary summary = new EventSummary();
        for (Map.Entry<String, Object> e : f.entrySet()) {
            if (e.getValue() instanceof Number n && !BOOKKEEPING_KEYS.contains(e.getKey())) {
                scalar(summary, prefix + e.getKey(), n.doubleValue());
            }
        }
        if (verdict instanceof String v && VERDICT_CODES.containsKey(v)) {
            summary.scalar(TRAJECTORY_PREFIX + VERDICT, VERDICT_CODES.get(v));
        }
        if (f.get(EIGENVALUES) instanceof double[] eigenvalues) {
            LogHistogram h = LogHistogram.of(eigenvalues);
            if (h != null) {
                summary.histogram(prefix + EIGENVALUES, h);
            }
        }
        append(worker, step, summary, true);
    }

    /**
     * Writes {@code loss}, {@code learning_rate} and {@code update_norm} at step {@code iteration}, leaving out NaN
     * values.
     *
     * @throws IOException if the sink is closed or the event file cannot be created or written
     */
    @Override
    public void writeScalars(IterationScalars scalars) throws IOException {
        if (scalars.iteration() < 0 || scalars.worker() < 0) {
            throw new IllegalArgumentException("iteration and worker must be >= 0, got " + scalars);
        }
        EventSummary summary = new EventSummary();
        scalar(summary, IterationScalars.KEYS[3], scalars.loss());
        scalar(summary, IterationScalars.KEYS[4], scalars.learningRate());
        scalar(summary, IterationScalars.KEYS[5], scalars.updateNorm());
        append(scalars.worker(), scalars.iteration(), summary, false);
    }

    /** The code of a loop verdict's name in {@code trajectory/verdict}, or null for an unknown name. */
    static Integer verdictCode(String verdict) {
        return VERDICT_CODES.get(verdict);
    }

    private static void scalar(EventSummary summary, String tag, double value) {
        float f = (float) value;
        if (Float.isFinite(f)) {
            summary.scalar(tag, f);
        }
    }

    private static long wholeNumber(String key, Object value, long max) {
        if (!(value instanceof Number n)) {
            throw new IllegalArgumentException(
                    "a TensorBoard record needs a number " + key + ", got " + (value == null ? "none" : value));
        }
        double d = n.doubleValue();
        if (!(d >= 0 && d <= max && d == Math.rint(d))) {
            throw new IllegalArgumentException(key + " must be a whole number >= 0, got " + value);
        }
        return n.longValue();
    }

    /**
     * Adds one event to the worker's file: written at once ({@code now}), or with the scalars kept in memory until
     * {@link #FLUSH_MILLIS} have passed since the file's last write or {@link #FLUSH_BYTES} are pending.
     */
    private synchronized void append(int worker, long step, EventSummary summary, boolean now) throws IOException {
        if (closed) {
            throw new IOException(this + " is closed");
        }
        if (summary.size() == 0) {
            return;
        }
        TfRecordFile file = files.get(worker);
        if (file == null) {
            file = open(worker);
            files.put(worker, file);
        }
        long millis = clock.millis();
        file.append(summary.toEvent(millis / 1000.0, step));
        Long written = flushedAt.get(worker);
        if (now
                || file.pendingBytes() >= FLUSH_BYTES
                || written == null
                || millis - written >= FLUSH_MILLIS
                || millis < written) {
            flushedAt.put(worker, millis);
            file.flush();
        }
    }

    private TfRecordFile open(int worker) throws IOException {
        Path dir = runFolder(worker);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IOException(
                    "cannot create the TensorBoard run folder " + dir + " (" + e + "): " + logdir
                            + " must be a writable directory or creatable",
                    e);
        }
        long millis = clock.millis();
        TfRecordFile file = null;
        while (file == null) {
            Path path = dir.resolve(String.format(
                    Locale.ROOT,
                    "events.out.tfevents.%010d.%s.%d.%d",
                    millis / 1000,
                    Host.NAME,
                    ProcessHandle.current().pid(),
                    FILES_OPENED.incrementAndGet()));
            try {
                file = TfRecordFile.create(path);
            } catch (FileAlreadyExistsException e) {
                // another process with this pid (a container) wrote here in this second: take the next number
            } catch (IOException e) {
                throw new IOException("cannot create the TensorBoard event file " + path + " (" + e + ")", e);
            }
        }
        try {
            file.write(EventSummary.fileVersionEvent(millis / 1000.0));
        } catch (IOException | RuntimeException e) {
            try {
                file.close();
                Files.deleteIfExists(file.path());
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return file;
    }

    /** Writes the pending scalars and closes the event files; further writes fail. */
    @Override
    public synchronized void close() throws IOException {
        closed = true;
        List<IOException> failed = new ArrayList<>();
        for (TfRecordFile file : files.values()) {
            try {
                file.close();
            } catch (IOException e) {
                failed.add(e);
            }
        }
        files.clear();
        flushedAt.clear();
        if (!failed.isEmpty()) {
            IOException e = new IOException("closing " + this + " failed", failed.get(0));
            failed.subList(1, failed.size()).forEach(e::addSuppressed);
            throw e;
        }
    }

    @Override
    public String toString() {
        return "TensorBoardSink[" + logdir + "]";
    }

    /** The host name in event file names, looked up once (letters, digits, '.', '-' and '_' kept). */
    private static final class Host {
        static final String NAME = lookUp();

        private static String lookUp() {
            String name;
            try {
                name = InetAddress.getLocalHost().getHostName();
            } catch (IOException | RuntimeException e) {
                name = System.getenv("HOSTNAME");
            }
            if (name == null || name.isBlank()) {
                name = "localhost";
            }
            return name.replaceAll("[^A-Za-z0-9._-]", "_");
        }
    }
}

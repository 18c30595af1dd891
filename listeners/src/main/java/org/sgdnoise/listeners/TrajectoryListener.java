package org.sgdnoise.listeners;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.output.RecordSink;
import org.sgdnoise.trajectory.LoopAnalysis;
import org.sgdnoise.trajectory.LoopStatistics;
import org.sgdnoise.trajectory.LoopVerdict;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records the SGD weight trajectory and tests it for closed loops (broken detailed balance).
 *
 * <p>At {@code iterationDone} every {@code every} iterations it records θ_{t+1} (the trained parameters of
 * {@link ParameterLayout}) projected onto m orthonormal directions, with the distance |θ_{t+1} − θ_0|,
 * the step |θ_{t+1} − θ_t| and the minibatch loss, into a ring buffer and optionally a CSV file. Every
 * {@code analysisInterval} records it runs {@link LoopStatistics} on the latest window of the current
 * segment and logs one INFO line (iteration, epoch and loss first, then the verdict: LOOP, NO_LOOP,
 * NOT_STATIONARY or INSUFFICIENT_DATA), and hands a record with the numbers behind it to its sinks.
 *
 * <p>Directions: a seeded random orthonormal basis fixed at the first record (default); the top
 * eigenvectors of a {@link DiffusionListener}'s sketch of D, taken when it first has them and re-taken
 * every {@code basisRefresh} records; or PCA of a trailing window of θ (a decayed, globally centred
 * Frequent Directions sketch of the parameters, 2m rows), taken once a window has passed and re-taken
 * every window. A basis change starts a new <em>segment</em>: analyses never mix
 * coordinates of two bases, and the file's {@code segment} column says which rows belong together.
 *
 * <p>Stationarity gate (Yaida 2018): with u_t = θ_t − θ_{t+1} (the update applied, regularisation
 * included), plain SGD at steady state has {@code 2⟨θ_t·u_t⟩/⟨|u_t|²⟩ ≈ 1}. The ratio over the window is
 * recorded as {@code stationarity_ratio}. When the updater is plain Sgd (no momentum) the gate is added to
 * the detector's checks: a ratio further than {@code gateTolerance} (default 0.5) from 1 gives
 * NOT_STATIONARY (a drifting trajectory encloses area without circulating). The window sum telescopes
 * (ratio − 1 = (|θ_first|² − |θ_last|²)/Σ|u|²), so the gate sees radial drift; the diffusion exponent and
 * the correlation-time check remain for the rest. For other updaters the ratio is informational.
 *
 * <p>Memory: the basis (m·d values), θ_0 and θ_t (2·d), one gathered copy of θ (d), and the ring buffer
 * ({@code capacity·(m + 8)} doubles), all per worker: under ParallelWrapper, which calls one listener from
 * every worker's thread at once, each worker keeps its own trajectory, file ({@code -worker<n>} added to the
 * name for n > 0) and analyses, and its records carry {@code worker}. Reads parameters only; training is
 * bit-identical with and without it. Use one listener per model.
 */
public final class TrajectoryListener extends BaseTrainingListener implements AutoCloseable {

    /** Where the projection directions come from. */
    public enum Basis {
        /** A seeded random orthonormal basis, fixed. */
        RANDOM,
        /** The top eigenvectors of a DiffusionListener's sketch of D. */
        DIFFUSION,
        /**
         * PCA of the trailing trajectory: a globally centred Frequent Directions sketch of θ_t with a half-life
         * of half the window (2m rows); its top m directions, re-taken every window.
         */
        PCA
    }

    private static final Logger log = LoggerFactory.getLogger(TrajectoryListener.class);
    private static final int EXTRA = 7; // iteration, epoch, segment, loss, distance, step, θ·u ; then |u|², y

    private final int every;
    private final int m;
    private final Basis basisKind;
    private final DiffusionListener diffusion;
    private final int basisRefresh;
    private final int capacity;
    private final int analysisInterval;
    private final LoopStatistics detector;
    private final long seed;
    private final Path file;
    private final List<RecordSink> sinks;
    private final Failures failures;
    private final double gateTolerance;

    /** Per-worker state by worker index (0 outside ParallelWrapper); guarded by itself. */
    private final java.util.Map<Integer, Worker> workers = new java.util.TreeMap<>();

    private TrajectoryListener(Builder b) {
        this.every = b.every;
        this.m = b.dimensions;
        this.basisKind = b.basis;
        this.diffusion = b.diffusion;
        this.basisRefresh = b.basisRefresh;
        this.capacity = b.capacity;
        this.analysisInterval = b.analysisInterval;
        this.detector = b.detector;
        this.seed = b.seed;
        this.file = b.file;
        this.sinks = List.copyOf(b.sinks);
        this.failures = new Failures(log, "the trajectory listener",
                "If this persists, check the file path and the model.", b.failFast, b.disableAfter);
        this.gateTolerance = b.gateTolerance;
    }

    /** Records kept so far by worker 0 (including those overwritten in the ring). */
    public long recordedSteps() {
        Worker w = first();
        return w == null ? 0 : w.recorded;
    }

    /** Worker 0's most recent analysis, or null. */
    public LoopAnalysis lastAnalysis() {
        Worker w = first();
        return w == null ? null : w.lastAnalysis;
    }

    /** Failures so far (recording, analysis or sinks), over all workers. */
    public int failureCount() {
        return failures.total();
    }

    /** True once the listener has switched itself off after {@code disableAfter} failures in a row. */
    public boolean disabled() {
        return failures.disabled();
    }

    /** Worker 0's current segment number (a new basis starts a new segment). */
    public int segment() {
        Worker w = first();
        return w == null ? 0 : w.segment;
    }

    /** The rows of worker 0's ring buffer of the current segment, oldest first: columns as in the CSV file. */
    public double[][] window() {
        Worker w = first();
        return w == null ? new double[0][] : w.window();
    }

    /**
     * Adds this listener to {@code model}, checking first that it can observe it.
     *
     * @throws IllegalArgumentException for anything but a MultiLayerNetwork or ComputationGraph, with the reason
     */
    public TrajectoryListener attachTo(Object model) {
        Models.attach(model, this);
        return this;
    }

    /** The state of the worker training on the calling thread (ParallelWrapper's thread N is worker N). */
    Worker worker() {
        int index = Workers.current();
        synchronized (workers) {
            return workers.computeIfAbsent(index, Worker::new);
        }
    }

    private Worker first() {
        synchronized (workers) {
            return workers.isEmpty() ? null : workers.values().iterator().next();
        }
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        if (iteration % every != 0 || failures.disabled()) {
            return;
        }
        String unsupported = Models.unsupportedReason(model);
        if (unsupported != null) {
            failures.fatal(unsupported); // thrown with fail-fast, else said once and switched off
            return;
        }
        try {
            Worker w = worker();
            if (w.record(model, iteration, epoch) && w.recorded % analysisInterval == 0) {
                w.analyze(model, iteration, epoch);
            }
            failures.success();
        } catch (VirtualMachineError e) {
            if (!(e instanceof OutOfMemoryError)) {
                throw e;
            }
            fail(iteration, e);
        } catch (Throwable t) {
            fail(iteration, t);
        }
    }

    private void fail(int iteration, Throwable t) {
        if (t instanceof Failures.FailFast thrown) {
            throw thrown; // already counted where it happened (a verdict sink)
        }
        failures.fail(iteration, t);
    }

    /**
     * One worker's trajectory: its basis, θ_0, ring buffer, segments and file. Used by that worker's thread
     * only. Worker 0 writes {@code file}; worker n > 0 writes the same name with {@code -worker<n>} before the
     * extension.
     */
    final class Worker {
        final int index;
        final Path file;
        ParameterLayout layout;
        INDArray basis;
        INDArray theta0;
        INDArray thetaPrev;
        INDArray theta;
        double[][] ring;
        long recorded;
        int segment;
        long segmentStart;
        long recordsSinceBasis;
        org.sgdnoise.output.LineFile writer;
        long resumeAt = -1; // bytes of the file to keep when it is opened; -1: replace it
        boolean fileFailed;
        LoopAnalysis lastAnalysis;
        org.sgdnoise.sketch.DiffusionSketch pca;
        long pcaSeen;

        Worker(int index) {
            this.index = index;
            this.file = TrajectoryListener.this.file == null ? null : workerFile(TrajectoryListener.this.file, index);
            this.ring = new double[capacity][];
        }

        /** The rows of the ring buffer of the current segment, oldest first. */
        double[][] window() {
            long n = Math.min(Math.min(recorded, capacity), recorded - segmentStart);
            double[][] out = new double[(int) n][];
            for (int i = 0; i < n; i++) {
                out[i] = ring[(int) ((recorded - n + i) % capacity)].clone();
            }
            return out;
        }

        /** Records one step; false while there is no basis yet (PCA's first window). */
        boolean record(Model model, int iteration, int epoch) throws IOException {
            try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
                if (layout == null) {
                    layout = ParameterLayout.of(model);
                    if (m > layout.numParams()) {
                        throw new IllegalArgumentException("dimensions (" + m + ") must be <= the trained parameters d = "
                                + layout.numParams());
                    }
                    theta = Nd4j.create(DataType.DOUBLE, 1, layout.numParams());
                }
                layout.gather(model.params(), theta);
                if (theta0 == null) {
                    theta0 = theta.dup();
                    thetaPrev = theta.dup();
                }
                if (basisKind == Basis.PCA) {
                    if (pca == null) {
                        pca = new org.sgdnoise.sketch.DiffusionSketch(layout.numParams(), 2 * m, basisRefresh / 2.0,
                                org.sgdnoise.sketch.DiffusionSketch.Centring.GLOBAL, DataType.DOUBLE);
                    }
                    // One row, centred on itself (zero); the correction row against the running mean carries it.
                    pca.addProbe(Nd4j.zeros(DataType.DOUBLE, 1, layout.numParams()), theta);
                    pcaSeen++;
                }
                if (needsNewBasis()) {
                    newBasis();
                }
                if (basis == null) {
                    thetaPrev.assign(theta);
                    return false; // the PCA basis needs a window of steps first
                }
                double dist = theta.distance2(theta0);
                INDArray u = thetaPrev.sub(theta);
                double step = u.norm2Number().doubleValue();
                double thetaDotU = thetaPrev.mul(u).sumNumber().doubleValue();
                double uSq = step * step;
                thetaPrev.assign(theta);
                double[] y = basis.mmul(theta.transpose()).toDoubleVector();
                double[] row = new double[EXTRA + 1 + m];
                row[0] = iteration;
                row[1] = epoch;
                row[2] = segment;
                row[3] = model.score();
                row[4] = dist;
                row[5] = step;
                row[6] = thetaDotU;
                row[7] = uSq;
                System.arraycopy(y, 0, row, EXTRA + 1, Math.min(m, y.length));
                ring[(int) (recorded % capacity)] = row;
                recorded++;
                recordsSinceBasis++;
                writeRow(row);
                return true;
            }
        }

        boolean needsNewBasis() {
            if (basisKind == Basis.PCA) {
                return basis == null ? pcaSeen >= basisRefresh : recordsSinceBasis >= basisRefresh;
            }
            if (basis == null) {
                return basisKind == Basis.RANDOM || (diffusion != null && diffusion.topEigenvectors(index) != null);
            }
            return basisKind == Basis.DIFFUSION && basisRefresh > 0 && recordsSinceBasis >= basisRefresh
                    && diffusion.topEigenvectors(index) != null;
        }

        void newBasis() {
            long d = layout.numParams();
            if (basisKind == Basis.DIFFUSION || basisKind == Basis.PCA) {
                INDArray v = basisKind == Basis.PCA ? pca.estimate(m, true).vectors() : diffusion.topEigenvectors(index);
                if (v == null) {
                    return; // no direction yet: keep the current basis (or none)
                }
                startSegment();
                INDArray b = Nd4j.zeros(DataType.DOUBLE, m, d);
                int rows = (int) Math.min(m, v.rows());
                b.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, rows), org.nd4j.linalg.indexing.NDArrayIndex.all())
                        .assign(v.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, rows),
                                org.nd4j.linalg.indexing.NDArrayIndex.all()).castTo(DataType.DOUBLE));
                basis = b;
                return;
            }
            startSegment();
            // Own generator: ND4J's global one belongs to training.
            SplittableRandom r = new SplittableRandom(seed);
            double[][] rowsOf = new double[m][(int) d];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < d; j++) {
                    double u1 = 1 - r.nextDouble();
                    double u2 = r.nextDouble();
                    rowsOf[i][j] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
                }
            }
            INDArray b = Nd4j.createFromArray(rowsOf);
            for (int i = 0; i < m; i++) { // Gram–Schmidt
                INDArray bi = b.getRow(i);
                for (int k = 0; k < i; k++) {
                    INDArray bk = b.getRow(k);
                    bi.subi(bk.mul(bi.mul(bk).sumNumber().doubleValue()));
                }
                bi.divi(bi.norm2Number().doubleValue());
            }
            basis = b;
        }

        void startSegment() {
            if (basis != null) {
                segment++;
            }
            segmentStart = recorded;
            recordsSinceBasis = 0;
        }

        void writeRow(double[] row) throws IOException {
            if (file == null || fileFailed) {
                return;
            }
            try {
                if (writer == null) {
                    // A resumed worker keeps the rows written up to its checkpoint and appends after them.
                    writer = org.sgdnoise.output.LineFile.open(file, resumeAt);
                    if (writer.position() == 0) {
                        StringBuilder h = new StringBuilder("iteration,epoch,segment,loss,distance,step,theta_dot_update,update_sq");
                        for (int i = 0; i < m; i++) {
                            h.append(",y").append(i);
                        }
                        writer.writeLine(h.toString());
                    }
                }
                StringBuilder sb = new StringBuilder(16 * row.length);
                sb.append((long) row[0]).append(',').append((long) row[1]).append(',').append((long) row[2]);
                for (int i = 3; i < row.length; i++) {
                    sb.append(',').append(row[i]);
                }
                writer.writeLine(sb.toString());
            } catch (IOException e) {
                fileFailed = true;
                throw new IOException("cannot write the trajectory file " + file + ": " + e.getMessage(), e);
            }
        }

        void analyze(Model model, int iteration, int epoch) {
            double[][] w = window();
            double[][] y = new double[w.length][];
            double dotSum = 0;
            double sqSum = 0;
            for (int i = 0; i < w.length; i++) {
                y[i] = java.util.Arrays.copyOfRange(w[i], EXTRA + 1, EXTRA + 1 + m);
                if (i > 0) {
                    dotSum += w[i][6];
                    sqSum += w[i][7];
                }
            }
            LoopAnalysis a = detector.analyze(y, every);
            double ratio = sqSum > 0 ? 2 * dotSum / sqSum : Double.NaN;
            org.sgdnoise.diffusion.UpdaterSettings u = org.sgdnoise.diffusion.UpdaterSettings.of(model, iteration, epoch);
            // For plain SGD the gate, a property of the whole weight vector, is added to the detector's checks.
            boolean gated = "Sgd".equals(u.updater()) && Double.isFinite(a.maxRate());
            if (gated) {
                a = new LoopAnalysis(a.steps(), a.dimensions(), a.areaRate(), a.maxRate(), a.plane(), a.period(), a.pValue(),
                        a.surrogates(), a.blocks(), a.lagAntisymmetry(), a.lags(), a.diffusionExponent(), a.correlationTime(),
                        detector.gatedVerdict(a, ratio, gateTolerance));
            }
            lastAnalysis = a;
            ProbeRecord.Builder r = ProbeRecord.builder()
                    .put("iteration", iteration)
                    .put("epoch", epoch)
                    .put("worker", index)
                    .put("loss", model.score())
                    .put("verdict", a.verdict().name())
                    .put("p_value", a.pValue())
                    .put("max_rate", a.maxRate())
                    .put("period", a.period())
                    .put("plane_u", a.plane() == null ? null : a.plane()[0])
                    .put("plane_v", a.plane() == null ? null : a.plane()[1])
                    .put("diffusion_exponent", a.diffusionExponent())
                    .put("correlation_time", a.correlationTime())
                    .put("stationarity_ratio", ratio)
                    .put("stationarity_gate_applied", gated)
                    .put("window_steps", a.steps())
                    .put("segment", segment)
                    .put("basis", basisKind.name().toLowerCase(Locale.ROOT))
                    .put("dimensions", m)
                    .put("every", every)
                    .put("significance", detector.significance())
                    .put("distance", w.length == 0 ? null : w[w.length - 1][4])
                    .put("failures", failures.total());
            ProbeRecord rec = r.build();
            log.info(String.format(Locale.ROOT,
                    "iteration %d epoch %d%s loss %.4g | trajectory: %s (p=%s) rate=%s period=%s plane=(%s) exponent=%s "
                            + "gate=%s tau=%s | %d steps, segment %d",
                    iteration, epoch, index > 0 ? " worker " + index : "", model.score(), a.verdict(), fmt(a.pValue()), fmt(a.maxRate()), fmt(a.period()),
                    planeLabel(a), fmt(a.diffusionExponent()), fmt(ratio), fmt(a.correlationTime()), a.steps(), segment));
            for (RecordSink sink : sinks) {
                try {
                    sink.write(rec);
                } catch (IOException | RuntimeException e) {
                    fail(iteration, e);
                }
            }
        }

    }

    /** What a checkpoint keeps: the configuration, failures, each worker's trajectory state and sink positions. */
    record State(String config, Failures.State failures, java.util.TreeMap<Integer, WorkerState> workers,
            long[] sinkPositions) implements java.io.Serializable {}

    /** One worker's part of {@link State}: vectors in double, as the listener holds them. */
    record WorkerState(double[][] basis, double[] theta0, double[] thetaPrev, double[][] ring, long recorded,
            int segment, long segmentStart, long recordsSinceBasis, long filePosition, boolean fileFailed,
            org.sgdnoise.sketch.DiffusionSketch pca, long pcaSeen) implements java.io.Serializable {}

    /** Ring rows, ring row length and the PCA sketch's ℓ (0 without PCA): what ListenerCheckpoints caps. */
    int[] stateSizes() {
        return new int[] {capacity, EXTRA + 1 + m, basisKind == Basis.PCA ? 2 * m : 0};
    }

    private String signature() {
        return "every=" + every + " dimensions=" + m + " basis=" + basisKind + " refresh=" + basisRefresh + " capacity="
                + capacity + " analysisInterval=" + analysisInterval + " detector=" + detector + " seed=" + seed
                + " gateTolerance=" + gateTolerance + " file=" + (file != null);
    }

    /** The state to save beside a checkpoint. Call between iterations. */
    State state() throws IOException {
        java.util.TreeMap<Integer, WorkerState> ws = new java.util.TreeMap<>();
        synchronized (workers) {
            for (Worker w : workers.values()) {
                double[][] ring = new double[capacity][];
                for (int i = 0; i < capacity; i++) {
                    ring[i] = w.ring[i] == null ? null : w.ring[i].clone();
                }
                long filePosition = w.writer != null ? w.writer.position() : w.resumeAt;
                ws.put(w.index, new WorkerState(
                        w.basis == null ? null : w.basis.toDoubleMatrix(),
                        w.theta0 == null ? null : w.theta0.toDoubleVector(),
                        w.thetaPrev == null ? null : w.thetaPrev.toDoubleVector(),
                        ring, w.recorded, w.segment, w.segmentStart, w.recordsSinceBasis, filePosition, w.fileFailed,
                        w.pca, w.pcaSeen));
            }
        }
        return new State(signature(), failures.state(), ws, ListenerCheckpoints.positions(sinks));
    }

    /** Throws when {@code s} was saved by a listener configured differently (nothing is changed). */
    void checkRestorable(State s) {
        ListenerCheckpoints.checkSame("TrajectoryListener", s.config(), signature(), s.sinkPositions().length, sinks.size());
    }

    /**
     * Continues from a saved state; the trajectory files and file sinks are cut back to what was written
     * before the checkpoint.
     *
     * @throws IllegalArgumentException when the state was saved by a listener configured differently
     */
    void restore(State s) throws IOException {
        checkRestorable(s);
        synchronized (workers) {
            workers.clear();
            for (java.util.Map.Entry<Integer, WorkerState> e : s.workers().entrySet()) {
                WorkerState ws = e.getValue();
                Worker w = new Worker(e.getKey());
                w.basis = ws.basis() == null ? null : Nd4j.createFromArray(ws.basis());
                w.theta0 = ws.theta0() == null ? null : Nd4j.createFromArray(ws.theta0()).reshape(1, ws.theta0().length);
                w.thetaPrev = ws.thetaPrev() == null ? null : Nd4j.createFromArray(ws.thetaPrev()).reshape(1, ws.thetaPrev().length);
                w.ring = ws.ring();
                w.recorded = ws.recorded();
                w.segment = ws.segment();
                w.segmentStart = ws.segmentStart();
                w.recordsSinceBasis = ws.recordsSinceBasis();
                w.resumeAt = ws.filePosition();
                w.fileFailed = ws.fileFailed();
                w.pca = ws.pca();
                w.pcaSeen = ws.pcaSeen();
                workers.put(e.getKey(), w);
            }
        }
        failures.restore(s.failures());
        ListenerCheckpoints.resume(sinks, s.sinkPositions());
    }

    /** {@code path} for worker 0; {@code name-worker<n>.ext} beside it for worker n. */
    static Path workerFile(Path path, int index) {
        if (index == 0) {
            return path;
        }
        String name = path.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String tagged = dot > 0 ? name.substring(0, dot) + "-worker" + index + name.substring(dot) : name + "-worker" + index;
        return path.resolveSibling(tagged);
    }

    private static String planeLabel(LoopAnalysis a) {
        if (a.plane() == null) {
            return "n/a";
        }
        return "y" + argMax(a.plane()[0]) + ",y" + argMax(a.plane()[1]);
    }

    private static int argMax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (Math.abs(v[i]) > Math.abs(v[best])) {
                best = i;
            }
        }
        return best;
    }

    private static String fmt(double x) {
        return Double.isFinite(x) ? String.format(Locale.ROOT, "%.3g", x) : "n/a";
    }

    /** Flushes and closes the file and the sinks. */
    @Override
    public void close() {
        List<Worker> all;
        synchronized (workers) {
            all = List.copyOf(workers.values());
        }
        for (Worker w : all) {
            try {
                if (w.writer != null) {
                    w.writer.close();
                }
            } catch (IOException e) {
                log.warn("sgdnoise: closing {} failed: {}", w.file, e.toString());
            }
        }
        for (RecordSink s : sinks) {
            try {
                s.close();
            } catch (IOException | RuntimeException e) {
                log.warn("sgdnoise: closing {} failed: {}", s, e.toString());
            }
        }
    }

    /** Builds a {@link TrajectoryListener}; every option is validated when set. */
    public static final class Builder {
        private int every = 1;
        private int dimensions = 16;
        private Basis basis = Basis.RANDOM;
        private DiffusionListener diffusion;
        private int basisRefresh;
        private int capacity = 10_000;
        private int analysisInterval = 2_000;
        private LoopStatistics detector = LoopStatistics.defaults();
        private long seed = 12345L;
        private Path file;
        private final List<RecordSink> sinks = new ArrayList<>();
        private boolean failFast;
        private int disableAfter = Failures.DEFAULT_DISABLE_AFTER;
        private double gateTolerance = 0.5;

        /** Record every s iterations (default 1). */
        public Builder every(int s) {
            if (s < 1) {
                throw new IllegalArgumentException("every must be >= 1, got " + s);
            }
            this.every = s;
            return this;
        }

        /** Number of projection directions m (default 16, at least 2). */
        public Builder dimensions(int m) {
            if (m < 2) {
                throw new IllegalArgumentException("dimensions must be >= 2, got " + m);
            }
            this.dimensions = m;
            return this;
        }

        /** Project onto a DiffusionListener's top eigenvectors, re-taken every {@code refresh} records (0: never). */
        public Builder diffusionBasis(DiffusionListener source, int refresh) {
            if (source == null) {
                throw new IllegalArgumentException("diffusionBasis: the DiffusionListener must not be null, got null");
            }
            if (refresh < 0) {
                throw new IllegalArgumentException("diffusionBasis refresh must be >= 0 records (0: never), got " + refresh);
            }
            this.basis = Basis.DIFFUSION;
            this.diffusion = source;
            this.basisRefresh = refresh;
            return this;
        }

        /**
         * Project onto the top m principal directions of the trailing {@code window} steps of θ, re-taken every
         * window (each re-take starts a segment). Costs a sketch of 2m rows of d values.
         */
        public Builder pcaBasis(int window) {
            if (window < 2) {
                throw new IllegalArgumentException("pcaBasis window must be >= 2 records, got " + window);
            }
            this.basis = Basis.PCA;
            this.basisRefresh = window;
            return this;
        }

        /** Ring buffer rows (default 10,000); the analysis window is at most this long. */
        public Builder capacity(int rows) {
            if (rows < 2) {
                throw new IllegalArgumentException("capacity must be >= 2, got " + rows);
            }
            this.capacity = rows;
            return this;
        }

        /** Analyse every n records (default 2,000). */
        public Builder analysisInterval(int records) {
            if (records < 1) {
                throw new IllegalArgumentException("analysisInterval must be >= 1, got " + records);
            }
            this.analysisInterval = records;
            return this;
        }

        /** The loop detector (default {@link LoopStatistics#defaults()}). */
        public Builder detector(LoopStatistics detector) {
            if (detector == null) {
                throw new IllegalArgumentException("detector must not be null, got null");
            }
            this.detector = detector;
            return this;
        }

        /** Seed of the random basis (default 12345). */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Stream every recorded step to a CSV file (replaced), flushed per line. */
        public Builder file(Path path) {
            if (path == null) {
                throw new IllegalArgumentException("file must not be null, got null");
            }
            this.file = path;
            return this;
        }

        /** Adds a sink for the analysis records. */
        public Builder addSink(RecordSink sink) {
            if (sink == null) {
                throw new IllegalArgumentException("addSink: the sink must not be null, got null");
            }
            sinks.add(sink);
            return this;
        }

        /** |ratio − 1| beyond which plain SGD's window is NOT_STATIONARY (default 0.5); infinite disables. */
        public Builder gateTolerance(double tolerance) {
            if (!(tolerance > 0)) {
                throw new IllegalArgumentException("gateTolerance must be > 0, got " + tolerance);
            }
            this.gateTolerance = tolerance;
            return this;
        }

        /** Adds a JSON Lines sink (replaced) for the analysis records. */
        public Builder jsonlVerdicts(Path path) {
            if (path == null) {
                throw new IllegalArgumentException("jsonlVerdicts: the path must not be null, got null");
            }
            return addSink(new org.sgdnoise.output.JsonlSink(path, false));
        }

        /** Throw the first failure into fit() (default false). */
        public Builder failFast(boolean failFast) {
            this.failFast = failFast;
            return this;
        }

        /**
         * After this many failures in a row the listener switches itself off for the rest of training, with
         * one WARN line (default 10; 0: never). A recorded step resets the count.
         */
        public Builder disableAfter(int failuresInARow) {
            this.disableAfter = Failures.checkDisableAfter(failuresInARow);
            return this;
        }

        /** The listener. */
        public TrajectoryListener build() {
            if (basis == Basis.DIFFUSION && diffusion.config().sketchSize() == 0) {
                throw new IllegalArgumentException("the DiffusionListener's sketchSize must be >= 2 for a trajectory "
                        + "basis (its sketch gives the eigenvectors), got 0");
            }
            if (basis == Basis.DIFFUSION && diffusion.config().topR() < 2) {
                throw new IllegalArgumentException("the DiffusionListener's topR must be >= 2 for a trajectory basis, got "
                        + diffusion.config().topR());
            }
            if (basis == Basis.DIFFUSION && dimensions > 0 && diffusion != null && diffusion.config().topR() < dimensions) {
                dimensions = diffusion.config().topR();
            }
            return new TrajectoryListener(this);
        }
    }
}

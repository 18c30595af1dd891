package org.sgdnoise.listeners;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeMap;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.sgdnoise.curvature.CirculationPrediction;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.output.RecordSink;
import org.sgdnoise.trajectory.LoopAnalysis;
import org.sgdnoise.trajectory.LoopPrediction;
import org.sgdnoise.trajectory.LoopStatistics;
import org.sgdnoise.trajectory.TrajectoryFields;
import org.sgdnoise.trajectory.TrajectoryRecorder;
import org.sgdnoise.trajectory.TrajectoryRecorder.Basis;
import org.sgdnoise.trajectory.TrajectoryRow;
import org.sgdnoise.trajectory.internal.TrajectoryFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records the SGD weight trajectory and tests it for closed loops (broken detailed balance).
 *
 * <p>At {@code iterationDone} every {@code recordEvery} iterations a {@link TrajectoryRecorder} records θ_{t+1}
 * projected onto m orthonormal directions (a {@link TrajectoryRow}: the projection, |θ_{t+1} − θ_0|, the step and
 * the minibatch loss) into a ring buffer and optionally a CSV file. Every {@code analyzeEvery} iterations it runs
 * {@link LoopStatistics} on the latest window of the current segment, logs one INFO line (iteration, epoch and
 * loss first, then the verdict: LOOP, NO_LOOP, NOT_STATIONARY or INSUFFICIENT_DATA) and hands a record
 * ({@link TrajectoryFields}) to its sinks. With the default {@code analyzeEvery} a short run gets answers too:
 * early analyses after {@value #EARLY_ANALYSIS_FIRST}, 200, 400, … iterations until {@code analyzeEvery}, and a
 * final analysis at {@link #close()} of what was recorded since the last one.
 *
 * <p>Directions: a seeded random orthonormal basis (default); the top eigenvectors of a
 * {@link DiffusionListener}'s sketch of D, re-taken every {@code basisRefresh} records; the top Hessian
 * eigenvectors over given examples, likewise; directions of the user's (a {@code curvature} basis file); or PCA of
 * a trailing window of θ. A basis change starts a new <em>segment</em>: analyses never mix coordinates of two bases.
 * For plain Sgd the stationarity gate (Yaida 2018) is part of the verdict; see
 * {@link TrajectoryRecorder#analyze}. With a fixed or Hessian basis, the linearised model's prediction
 * ({@link Builder#prediction}) is put beside every analysis, in the same units ({@link LoopPrediction}).
 *
 * <p>This class only schedules: when to record and analyse, which worker, the failure policy, the file and the
 * sinks. Memory is the recorder's, per worker: under ParallelWrapper each worker keeps its own trajectory, file
 * ({@code -worker<n>} added to the name for n above 0) and analyses, and its records carry {@code worker}. Reads
 * parameters only; training is bit-identical with and without it.
 */
public final class TrajectoryListener extends BaseTrainingListener implements SameDiffHook.Observer, AutoCloseable {

    /** Default iterations between recorded steps. */
    public static final int DEFAULT_RECORD_EVERY = 1;
    /** Default share of training time the listener may take ({@link Builder#overheadBudget(double)}). */
    public static final double DEFAULT_OVERHEAD_BUDGET = OverheadBudget.DEFAULT_FRACTION;
    /** Default number of projection directions m. */
    public static final int DEFAULT_DIMENSIONS = 16;
    /** Default ring-buffer rows (the longest analysis window). */
    public static final int DEFAULT_CAPACITY = 10_000;
    /** Default iterations between analyses. */
    public static final int DEFAULT_ANALYZE_EVERY = 2_000;
    /** Iterations before the first early analysis; they double until {@code analyzeEvery}. */
    public static final int EARLY_ANALYSIS_FIRST = 100;
    /** Default seed of the random basis. */
    public static final long DEFAULT_SEED = 12345L;
    /** Default tolerance of the stationarity gate. */
    public static final double DEFAULT_GATE_TOLERANCE = 0.5;

    private static final Logger log = LoggerFactory.getLogger(TrajectoryListener.class);

    /**
     * The validated configuration of a listener.
     *
     * @param recordEvery iterations between recorded steps (at least 1)
     * @param analyzeEvery iterations between analyses, a multiple of {@code recordEvery}
     * @param dimensions m, the projection directions (at least 2)
     * @param basis where the directions come from
     * @param basisRefresh records between re-takes of a DIFFUSION basis (0: never), or the PCA window
     * @param capacity ring-buffer rows (at least 2)
     * @param detector the loop detector
     * @param seed seed of the random basis, written into every record
     * @param gateTolerance |ratio − 1| beyond which plain SGD's window is NOT_STATIONARY
     * @param failFast throw the first failure into fit()
     * @param disableAfter failures in a row after which the listener switches itself off (0: never)
     * @param overheadBudget the share of training time the listener may take, in [0, 1) (0: record exactly every
     *     {@code recordEvery} iterations)
     * @param earlyAnalyses also analyse after {@value #EARLY_ANALYSIS_FIRST}, 200, 400, … iterations, below
     *     {@code analyzeEvery}
     */
    public record Config(
            int recordEvery,
            int analyzeEvery,
            int dimensions,
            Basis basis,
            int basisRefresh,
            int capacity,
            LoopStatistics detector,
            long seed,
            double gateTolerance,
            boolean failFast,
            int disableAfter,
            double overheadBudget,
            boolean earlyAnalyses)
            implements Serializable {

        /** Validates every component. */
        public Config {
            Options.atLeast("recordEvery", recordEvery, 1);
            Options.atLeast("analyzeEvery", analyzeEvery, 1);
            if (analyzeEvery % recordEvery != 0) {
                throw new IllegalArgumentException("analyzeEvery must be a multiple of recordEvery (" + recordEvery
                        + " iterations), got " + analyzeEvery);
            }
            Options.atLeast("dimensions", dimensions, 2);
            Options.atLeast("capacity", capacity, 2);
            if (basis == null || detector == null) {
                throw new IllegalArgumentException(
                        "basis and detector must not be null, got " + basis + ", " + detector);
            }
            if (!(gateTolerance > 0)) {
                throw new IllegalArgumentException("gateTolerance must be > 0, got " + gateTolerance);
            }
            Failures.checkDisableAfter(disableAfter);
            OverheadBudget.checkFraction(overheadBudget);
        }
    }

    private final Config config;
    private final DiffusionListener diffusion;
    private final INDArray fixedBasis;
    private final DataSet hessianExamples;
    private final CirculationPrediction prediction;
    private final Path file;
    private final List<RecordSink> sinks;
    private final Failures failures;
    private final Registrations registrations = new Registrations(log, this);
    private final PerWorker<Worker> workers = new PerWorker<>(i -> new Worker(i, -1, false));

    private TrajectoryListener(Builder b, Config config) {
        this.config = config;
        this.diffusion = b.diffusion;
        this.fixedBasis = b.fixedBasis;
        this.hessianExamples = b.hessianExamples;
        this.prediction = b.prediction;
        this.file = b.file;
        this.sinks = List.copyOf(b.sinks);
        this.failures = new Failures(
                log,
                "the trajectory listener",
                "If this persists, check the file path and the model.",
                b.failFast,
                b.disableAfter);
    }

    /** The configuration. */
    public Config config() {
        return config;
    }

    /** Records kept so far by worker 0 (including those overwritten in the ring). */
    public long recordedSteps() {
        Worker w = workers.existing(0);
        return w == null ? 0 : w.recorder.recorded();
    }

    /**
     * Worker 0's own time over the training time and its own so far ({@link Builder#overheadBudget(double)}), NaN
     * before its first call.
     */
    public double overheadShare() {
        Worker w = workers.existing(0);
        return w == null ? Double.NaN : w.budget.share();
    }

    /**
     * As {@link #overheadShare()}, leaving out worker 0's first record, which builds its state and which the budget pays
     * back by deferring later ones: the share the budget holds in a long run. NaN before its first call.
     */
    public double steadyOverheadShare() {
        Worker w = workers.existing(0);
        return w == null ? Double.NaN : w.budget.steadyShare();
    }

    /** Worker 0's recording interval in force: {@code recordEvery}, or stretched by the overhead budget. */
    public int recordEveryInForce() {
        Worker w = workers.existing(0);
        return w == null ? config.recordEvery() : w.budget.intervalInForce();
    }

    /** Worker 0's most recent analysis, or null. */
    public LoopAnalysis lastAnalysis() {
        Worker w = workers.existing(0);
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
        Worker w = workers.existing(0);
        return w == null ? 0 : w.recorder.segment();
    }

    /** The rows of worker 0's ring buffer of the current segment, oldest first. */
    public List<TrajectoryRow> window() {
        Worker w = workers.existing(0);
        return w == null ? List.of() : w.recorder.window();
    }

    /**
     * Adds this listener to {@code model}, checking first that it can observe it; attached already, it is not
     * added again (one WARN line says so).
     *
     * <p>On a SameDiff graph it records at SameDiff's {@code iterationDone} the graph's floating-point variables in
     * the order of their names ({@link ParameterLayout#of(SameDiff)}), the layout of a {@link
     * DiffusionListener} on the same graph. SameDiff's {@code fit} does not compute the loss, so the rows' and
     * records' loss is NaN (null in a record). A Hessian basis needs a DL4J model.
     *
     * @throws IllegalArgumentException for anything but a MultiLayerNetwork, ComputationGraph or SameDiff graph, and
     *     for a SameDiff graph with a Hessian basis, with the reason
     */
    public TrajectoryListener attachTo(Object model) {
        if (model instanceof SameDiff sd) {
            if (config.basis() == Basis.HESSIAN) {
                throw new IllegalArgumentException("TrajectoryListener cannot observe this model: the Hessian basis "
                        + "needs a MultiLayerNetwork or ComputationGraph, not a SameDiff graph");
            }
            try {
                ParameterLayout.of(sd);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "TrajectoryListener cannot observe this graph: " + e.getMessage(), e);
            }
        }
        Models.attach(model, this);
        return this;
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        if (failures.disabled()) {
            return;
        }
        String unsupported = Models.unsupportedReason(model);
        if (unsupported != null) {
            failures.fatal(unsupported); // thrown with fail-fast, else said once and switched off
            return;
        }
        observe(model, iteration, epoch);
    }

    /** Nothing: SameDiff's θ_{t+1} is recorded at {@link #iterationDone(SameDiff, int, int, MultiDataSet)}. */
    @Override
    public void iterationStart(SameDiff graph, int iteration, int epoch, MultiDataSet batch) {}

    /** SameDiff's iterationDone: the variables hold θ_{t+1}; as {@link #iterationDone(Model, int, int)}. */
    @Override
    public void iterationDone(SameDiff graph, int iteration, int epoch, MultiDataSet batch) {
        if (!failures.disabled()) {
            observe(graph, iteration, epoch);
        }
    }

    /** Records θ_{t+1} of a DL4J model or SameDiff graph when due, and analyses when due. */
    private void observe(Object model, int iteration, int epoch) {
        Worker w = workers.get(workers.currentIndex());
        w.budget.tick(iteration); // every iteration: the training time the budget is measured against
        int every = w.budget.intervalInForce();
        if (iteration % config.recordEvery() != 0
                || !w.budget.due(iteration)
                || registrations.repeated(model, iteration)) {
            return;
        }
        long begin = System.nanoTime();
        failures.observe(iteration, () -> {
            if (w.record(model, iteration, epoch)) {
                // A row recorded at a stretched interval counts as the rows of the configured interval it stands for.
                w.credited += every / config.recordEvery();
                if (w.credited >= w.nextAnalysis) {
                    w.analyze(iteration, epoch, false);
                }
            }
            return true;
        });
        w.budget.acted(iteration, begin, System.nanoTime());
    }

    /**
     * The credited row count of the next analysis after {@code credited}: the next multiple of
     * {@code analyzeEvery / recordEvery}, or with early analyses an earlier {@value #EARLY_ANALYSIS_FIRST}·2^j
     * iterations below {@code analyzeEvery}.
     */
    long nextAnalysisAfter(long credited) {
        long perAnalysis = config.analyzeEvery() / config.recordEvery();
        long next = (credited / perAnalysis + 1) * perAnalysis;
        if (config.earlyAnalyses()) {
            for (long it = EARLY_ANALYSIS_FIRST; it < config.analyzeEvery(); it *= 2) {
                long rows = (it + config.recordEvery() - 1) / config.recordEvery();
                if (rows > credited) {
                    return Math.min(rows, next);
                }
            }
        }
        return next;
    }

    /** One worker's recorder, file and last analysis; used by that worker's thread only. */
    final class Worker {
        final int index;
        final TrajectoryRecorder recorder = new TrajectoryRecorder(new TrajectoryRecorder.Settings(
                config.dimensions(), config.basis(), config.basisRefresh(), config.capacity(), config.seed()));
        final OverheadBudget budget = new OverheadBudget(
                config.overheadBudget(), config.recordEvery(), System::nanoTime, log, "TrajectoryListener records");
        TrajectoryFile file;
        LoopAnalysis lastAnalysis;
        long credited; // rows recorded, each counted as (its interval / recordEvery)
        long nextAnalysis = nextAnalysisAfter(0); // the value of credited at which the next analysis falls
        long analyzedThrough; // credited at the last analysis
        Object model; // the model (DL4J) or graph (SameDiff) of the last recorded row, for the final analysis
        int lastIteration;
        int lastEpoch;

        Worker(int index, long resumeAt, boolean fileFailed) {
            this.index = index;
            Path path = TrajectoryListener.this.file;
            this.file = path == null
                    ? null
                    : new TrajectoryFile(
                            TrajectoryFile.forWorker(path, index), config.dimensions(), resumeAt, fileFailed);
        }

        /** Records one step; false while there is no basis yet. */
        boolean record(Object model, int iteration, int epoch) throws IOException {
            TrajectoryRow row = model instanceof SameDiff graph
                    ? recorder.record(graph, iteration, epoch, Double.NaN, () -> externalBasis(null))
                    : recorder.record((Model) model, iteration, epoch, loss(model), () -> externalBasis((Model) model));
            if (row != null && file != null) {
                file.write(row);
            }
            if (row != null) {
                this.model = model;
                lastIteration = iteration;
                lastEpoch = epoch;
            }
            return row != null;
        }

        /** The directions of a DIFFUSION, FIXED or HESSIAN basis, asked for when one is due. */
        private INDArray externalBasis(Model model) {
            return switch (config.basis()) {
                case DIFFUSION -> diffusion.topEigenvectors(index);
                case FIXED -> fixedBasis;
                case HESSIAN -> HessianBasis.top(model, hessianExamples, config.dimensions(), config.seed(), log);
                default -> null;
            };
        }

        /** Analyses the current window; {@code last}: the final analysis at close(), of the last recorded row. */
        void analyze(int iteration, int epoch, boolean last) {
            nextAnalysis = nextAnalysisAfter(credited);
            analyzedThrough = credited;
            // For plain SGD the gate, a property of the whole weight vector, is added to the detector's checks.
            boolean plainSgd =
                    "Sgd".equals(Models.updater(model, iteration, epoch).updater());
            TrajectoryRecorder.Analysis an =
                    recorder.analyze(config.detector(), config.recordEvery(), plainSgd, config.gateTolerance());
            if (prediction != null) {
                an = an.withPrediction(LoopPrediction.compare(prediction, an.loop(), an.every()));
            }
            lastAnalysis = an.loop();
            double loss = loss(model);
            ProbeRecord record = TrajectoryFields.toRecord(
                    an,
                    new TrajectoryFields.Context(
                            iteration,
                            epoch,
                            index,
                            loss,
                            config.basis(),
                            config.dimensions(),
                            config.detector(),
                            config.seed(),
                            failures.total(),
                            budget.share(),
                            budget.budget(),
                            last));
            log.info(an.logLine(iteration, epoch, index, loss) + (last ? " | final analysis at close()" : ""));
            for (RecordSink sink : sinks) {
                try {
                    sink.write(record);
                } catch (IOException | RuntimeException e) {
                    failures.fail(iteration, e);
                }
            }
        }
    }

    /** The minibatch loss DL4J computed at θ_t; NaN for a SameDiff graph, whose fit does not compute it. */
    private static double loss(Object model) {
        return model instanceof Model m ? m.score() : Double.NaN;
    }

    /** What a checkpoint keeps: the configuration, failures, each worker's trajectory state and sink positions. */
    record State(
            Config config,
            boolean file,
            Failures.State failures,
            TreeMap<Integer, WorkerState> workers,
            long[] sinkPositions)
            implements Serializable {}

    /** One worker's part of {@link State}: the recorder's state and the file's position. */
    record WorkerState(TrajectoryRecorder.State recorder, long filePosition, boolean fileFailed)
            implements Serializable {}

    /** Ring rows, the coordinates per row and the PCA sketch's ℓ (0 without PCA): what ListenerCheckpoints caps. */
    int[] stateSizes() {
        return new int[] {
            config.capacity(), config.dimensions(), config.basis() == Basis.PCA ? 2 * config.dimensions() : 0
        };
    }

    /** The state to save beside a checkpoint. Call between iterations. */
    State state() throws IOException {
        TreeMap<Integer, WorkerState> ws = new TreeMap<>();
        for (Worker w : workers.all()) {
            long position = w.file == null ? -1 : w.file.position();
            ws.put(w.index, new WorkerState(w.recorder.state(), position, w.file != null && w.file.failed()));
        }
        return new State(config, file != null, failures.state(), ws, ListenerCheckpoints.positions(sinks));
    }

    /** Throws when {@code s} was saved by a listener configured differently (nothing is changed). */
    void checkRestorable(State s) {
        ListenerCheckpoints.checkSame(
                "TrajectoryListener",
                List.of(s.config(), s.file()),
                List.of(config, file != null),
                s.sinkPositions().length,
                sinks.size());
    }

    /**
     * Continues from a saved state; the trajectory files and file sinks are cut back to what was written before
     * the checkpoint.
     *
     * @throws IllegalArgumentException when the state was saved by a listener configured differently
     */
    void restore(State s) throws IOException {
        checkRestorable(s);
        closeFiles(); // the files are opened again, cut back to the checkpoint
        workers.restore(s.workers(), (i, saved) -> {
            Worker w = new Worker(i, saved.filePosition(), saved.fileFailed());
            w.recorder.restore(saved.recorder());
            w.credited = saved.recorder().recorded();
            w.nextAnalysis = nextAnalysisAfter(w.credited);
            w.analyzedThrough = w.credited;
            return w;
        });
        failures.restore(s.failures());
        ListenerCheckpoints.resume(sinks, s.sinkPositions());
    }

    /**
     * Analyses what each worker recorded since its last analysis (the final analysis, {@code final} true in its
     * record; none when nothing new was recorded), then flushes and closes the files and the sinks. Call it after
     * fit(), from the thread that trained.
     */
    @Override
    public void close() {
        for (Worker w : workers.all()) {
            if (!failures.disabled() && w.model != null && w.credited > w.analyzedThrough) {
                failures.observe(w.lastIteration, () -> {
                    w.analyze(w.lastIteration, w.lastEpoch, true);
                    return true;
                });
            }
        }
        closeFiles();
        Sinks.closeAll(log, sinks);
    }

    private void closeFiles() {
        for (Worker w : workers.all()) {
            try {
                if (w.file != null) {
                    w.file.close();
                }
            } catch (IOException e) {
                log.warn("sgdnoise: closing {} failed: {}", w.file, e.toString());
            }
        }
    }

    @Override
    public String toString() {
        return "TrajectoryListener" + config + ", file=" + file + ", sinks=" + sinks
                + (prediction == null ? "" : ", prediction=" + prediction);
    }

    /** Builds a {@link TrajectoryListener}; every option is validated when set, and together at build(). */
    public static final class Builder extends TrajectoryOptions<Builder> {

        @Override
        Builder self() {
            return this;
        }

        /**
         * The listener.
         *
         * @throws IllegalArgumentException when the options do not fit together (a diffusion basis without a
         *     sketch, m above its topR, analyzeEvery not a multiple of recordEvery, a prediction without a fixed or
         *     Hessian basis of its dimension)
         */
        public TrajectoryListener build() {
            return new TrajectoryListener(this, config());
        }
    }
}

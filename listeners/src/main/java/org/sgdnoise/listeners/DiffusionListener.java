package org.sgdnoise.listeners;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.sgdnoise.diffusion.DiffusionStatistics;
import org.sgdnoise.diffusion.DiffusionStats;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.diffusion.Temperature;
import org.sgdnoise.diffusion.UpdaterSettings;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.gradients.GradientFactors;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.output.CsvSink;
import org.sgdnoise.output.JsonlSink;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.output.RecordSink;
import org.sgdnoise.sketch.DiffusionSketch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Measures the gradient noise of SGD while a model trains: every {@code probeInterval} iterations it
 * computes k per-example gradients at the current parameters θ_t and the current minibatch, derives the
 * statistics of the noise covariance D ({@link DiffusionStats}: trace, rank, eigenvalues, effective
 * ranks, isotropy, temperature), logs one INFO line that starts with the iteration, epoch and loss, and
 * hands one {@link ProbeRecord} to each sink.
 *
 * <pre>{@code
 * net.addListeners(new DiffusionListener.Builder()
 *         .probeInterval(100).samples(64)
 *         .jsonl(Path.of("out/metrics.jsonl"))
 *         .build());
 * }</pre>
 *
 * <p>It samples at {@code onGradientCalculation}, after the minibatch gradient and before the update, on
 * a private probe network: training with the listener is bit-identical to training without it. A failure
 * inside the listener (a probe or a sink) is logged once at WARN with what to do, counted in the records
 * ({@code failures}, {@code sink_failures}), and later ones go to DEBUG; it never reaches {@code fit()}
 * unless {@link Builder#failFast(boolean)} is set.
 *
 * <p>Each probe also feeds a Frequent Directions sketch of D (ℓ = {@value #DEFAULT_SKETCH_SIZE} by default,
 * half-life {@value #DEFAULT_SKETCH_HALF_LIFE} probes): its top eigenvalues with certified intervals,
 * the overlap of its top-r subspace with the previous probe's (against a split-half noise floor), and
 * whether Δ is below the r-th eigengap; and the per-layer split of tr(D).
 *
 * <p>Memory: the per-example gradients of one probe (on the batched path {@code k·(n_in + n_out)} values
 * per dense layer and explicit rows for the other layers; on the exact path the k×d rows,
 * {@code k·d·bytes}, at most the memory budget), freed after the probe; the sketch takes the rows one
 * column block at a time ({@code k·c} values, c the width of the sketch's 16 MiB storage blocks); one probe
 * network (the model's parameters, and the activations of the k examples); O(k²) per layer for the
 * statistics; with the sketch, {@code 2ℓ·d} values for its buffer and {@code 2r·d} for the current and
 * previous top-r eigenvectors. All of this is per worker: under ParallelWrapper, which calls one listener
 * from every worker's thread at once, each worker keeps its own probe network, sketch and eigenvectors,
 * and its records carry {@code worker}; outside it there is one, worker 0. Use one listener per model.
 * Call {@link #close()} after training to close the sinks.
 */
public final class DiffusionListener extends BaseTrainingListener implements AutoCloseable {

    /** Default probe interval in iterations. */
    public static final int DEFAULT_PROBE_INTERVAL = 100;
    /** Default number of per-example gradients per probe. */
    public static final int DEFAULT_SAMPLES = 64;
    /** Default number of top eigenvalues recorded. */
    public static final int DEFAULT_TOP_R = 10;
    /** Default seed. */
    public static final long DEFAULT_SEED = 12345L;
    /** Default sketch size ℓ. */
    public static final int DEFAULT_SKETCH_SIZE = 64;
    /** Default sketch half-life, in probes. */
    public static final double DEFAULT_SKETCH_HALF_LIFE = 20;
    /** Layers named in the log line, by share of tr(D). */
    static final int LOG_LAYERS = 3;

    private static final Logger log = LoggerFactory.getLogger(DiffusionListener.class);

    private final Config config;
    /** Per-worker state by worker index (0 outside ParallelWrapper); guarded by itself. */
    private final Map<Integer, Worker> workers = new java.util.TreeMap<>();
    private final Map<RecordSink, Boolean> sinkWarned = new IdentityHashMap<>(); // guarded by itself
    private final java.util.concurrent.atomic.AtomicInteger probes = new java.util.concurrent.atomic.AtomicInteger();
    private final Failures failures;
    private final java.util.concurrent.atomic.AtomicInteger sinkFailures = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger skippedNonFinite = new java.util.concurrent.atomic.AtomicInteger();
    // Said once each, whichever worker meets it first.
    private final java.util.concurrent.atomic.AtomicBoolean nonFiniteWarned = new java.util.concurrent.atomic.AtomicBoolean();
    private final java.util.concurrent.atomic.AtomicBoolean smallBatchWarned = new java.util.concurrent.atomic.AtomicBoolean();
    private final java.util.concurrent.atomic.AtomicBoolean updaterWarned = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * What one worker's probes build up: its probe network (in the engine), its sketch and eigenvectors.
     * One per training thread of ParallelWrapper, used by that thread only.
     */
    static final class Worker {
        final int index;
        final PerExampleGradients engine;
        DiffusionSketch sketch;
        INDArray previousVectors;
        INDArray currentVectors;
        int probes;

        Worker(int index, PerExampleGradients engine) {
            this.index = index;
            this.engine = engine;
        }
    }

    /**
     * The validated configuration of a listener.
     *
     * @param probeInterval iterations between probes (probes at iterations 0, n, 2n, ...); 0 disables
     * @param samples k, the number of per-example gradients per probe
     * @param mode EVAL (dropout off, the paper's protocol) or TRAIN
     * @param selection which examples: FIRST or RANDOM of the current minibatch, or REFERENCE
     * @param topR number of top eigenvalues written to each record
     * @param seed seed for RANDOM selection, written into each record
     * @param memoryBudgetBytes cap on the k×d block
     * @param sampling how the training loop draws minibatches
     * @param datasetSize N, or -1 if unknown
     * @param failFast throw the first failure into fit() instead of logging it
     * @param sketchSize ℓ of the streaming sketch of D; 0 turns the sketch off
     * @param sketchHalfLife probes after which a probe's weight in the sketch halves (infinite: never)
     * @param sketchCentring per-probe (default) or global centring of the sketched gradients
     * @param disableAfter failed probes in a row after which the listener switches itself off (0: never)
     */
    public record Config(
            int probeInterval,
            int samples,
            ProbeMode mode,
            ExampleSelection selection,
            int topR,
            long seed,
            long memoryBudgetBytes,
            SamplingScheme sampling,
            long datasetSize,
            boolean failFast,
            int sketchSize,
            double sketchHalfLife,
            DiffusionSketch.Centring sketchCentring,
            int disableAfter) implements java.io.Serializable {}

    private final ProbeBatch reference;
    private final List<RecordSink> sinks;

    private DiffusionListener(Builder b) {
        this.config = new Config(
                b.probeInterval,
                b.samples,
                b.mode,
                b.reference != null ? ExampleSelection.REFERENCE : b.selection,
                b.topR,
                b.seed,
                b.memoryBudgetBytes,
                b.sampling,
                b.datasetSize,
                b.failFast,
                b.sketchSize,
                b.sketchHalfLife,
                b.sketchCentring,
                b.disableAfter);
        this.failures = new Failures(log, "the gradient-noise probe",
                "If this persists, check the model type and the memory budget.", b.failFast, b.disableAfter);
        this.reference = b.reference;
        this.sinks = List.copyOf(b.sinks);
    }

    /**
     * The state of the worker training on the calling thread: ParallelWrapper's training thread N is worker N,
     * any other thread worker 0.
     */
    Worker worker() {
        int index = Workers.current();
        synchronized (workers) {
            return workers.computeIfAbsent(index,
                    i -> new Worker(i, new PerExampleGradients(config.mode(), config.memoryBudgetBytes())));
        }
    }

    /** Worker 0's state (the model's own thread), or null before its first probe. */
    private Worker first() {
        synchronized (workers) {
            return workers.isEmpty() ? null : workers.values().iterator().next();
        }
    }

    /** The configuration. */
    public Config config() {
        return config;
    }

    /**
     * The top eigenvectors of the sketched D after the latest probe, as the rows of an r×d matrix over
     * the trained parameters of {@link #parameterLayout()}, or null before the first probe or without a
     * sketch. The array is the listener's: copy it to keep it.
     */
    public INDArray topEigenvectors() {
        Worker w = first();
        return w == null ? null : w.currentVectors;
    }

    /** The top eigenvectors of worker {@code index}'s sketch (see {@link #topEigenvectors()}), or null. */
    INDArray topEigenvectors(int index) {
        synchronized (workers) {
            Worker w = workers.get(index);
            return w == null ? null : w.currentVectors;
        }
    }

    /** The parameter layout the eigenvectors and records refer to, or null before the first probe. */
    public org.sgdnoise.gradients.ParameterLayout parameterLayout() {
        Worker w = first();
        return w == null ? null : w.engine.layout();
    }

    /** Probes completed so far (records produced), over all workers. */
    public int probeCount() {
        return probes.get();
    }

    /** Probes that failed so far. */
    public int failureCount() {
        return failures.total();
    }

    /** True once the listener has switched itself off after {@code disableAfter} failed probes in a row. */
    public boolean disabled() {
        return failures.disabled();
    }

    /** Sink writes that failed so far. */
    public int sinkFailureCount() {
        return sinkFailures.get();
    }

    @Override
    public void onGradientCalculation(Model model) {
        if (config.probeInterval() <= 0) {
            return;
        }
        if (failures.disabled()) {
            return;
        }
        String unsupported = Models.unsupportedReason(model);
        if (unsupported != null) {
            failures.fatal(unsupported); // thrown with fail-fast, else said once and switched off
            return;
        }
        int iteration = -1;
        try {
            iteration = iterationCount(model);
            if (iteration % config.probeInterval() != 0) {
                return;
            }
            double loss = model.score();
            if (!Double.isFinite(loss)) {
                skipNonFinite(iteration, "the loss is " + loss);
                return;
            }
            ProbeRecord record;
            try {
                record = probe(worker(), model, iteration, epochCount(model));
            } catch (ArithmeticException e) {
                if (!String.valueOf(e.getMessage()).startsWith("non-finite")) {
                    throw e;
                }
                skipNonFinite(iteration, e.getMessage()); // NaN or infinite per-example gradients
                return;
            }
            if (record != null) {
                emit(record);
            }
            failures.success();
        } catch (VirtualMachineError e) {
            if (!(e instanceof OutOfMemoryError)) {
                throw e; // the JVM itself is failing: nothing sensible to observe
            }
            fail(iteration, e);
        } catch (Throwable t) { // an observer must not break training, whatever it hits
            fail(iteration, t);
        }
    }

    /** A diverging model is not a failure of the listener: the probe is skipped, counted and said once. */
    private void skipNonFinite(int iteration, String what) {
        skippedNonFinite.incrementAndGet();
        if (nonFiniteWarned.compareAndSet(false, true)) {
            log.warn("sgdnoise: probe skipped at iteration {}: {} (NaN or infinite; is training diverging?). Later "
                    + "skips are counted in the records' 'skipped_non_finite'; training goes on.", iteration, what);
        }
    }

    /** Probes skipped because the loss or the per-example gradients were NaN or infinite. */
    public int skippedNonFiniteCount() {
        return skippedNonFinite.get();
    }

    /**
     * Adds this listener to {@code model}, checking first that it can observe it.
     *
     * @throws IllegalArgumentException for anything but a MultiLayerNetwork or ComputationGraph (a SameDiff
     *     model, a single layer), with the reason
     */
    public DiffusionListener attachTo(Object model) {
        Models.attach(model, this);
        return this;
    }

    private void fail(int iteration, Throwable e) {
        if (e instanceof SinkFailure sf) {
            throw sf.wrapped; // fail-fast on a sink, already counted
        }
        failures.fail(iteration, e);
    }

    /** Carries a fail-fast sink failure past the probe-failure handling. */
    private static final class SinkFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final IllegalStateException wrapped;

        SinkFailure(IllegalStateException wrapped) {
            super(wrapped.getMessage(), null, false, false);
            this.wrapped = wrapped;
        }
    }

    private ProbeRecord probe(Worker w, Model model, int iteration, int epoch) {
        long t0 = System.nanoTime();
        ProbeBatch current = ProbeBatch.current(model);
        int batchSize = current.size();
        ProbeBatch source = reference != null ? reference : current;
        long mixedSeed = config.seed() * 0x9E3779B97F4A7C15L + iteration;
        int[] idx = PerExampleGradients.select(config.selection(), source.size(), config.samples(), mixedSeed);
        if (idx.length < 2) {
            if (smallBatchWarned.compareAndSet(false, true)) {
                log.info("sgdnoise: skipping probes on batches of one example: a covariance needs at least 2 "
                        + "per-example gradients (iteration {}).", iteration);
            }
            return null;
        }
        // The statistics come from k×k Gram matrices: no k×d block on the batched path.
        try (GradientFactors factors = w.engine.factors(model, source, idx)) {
            return probe(w, model, iteration, epoch, t0, batchSize, factors);
        }
    }

    private ProbeRecord probe(Worker w, Model model, int iteration, int epoch, long t0, int batchSize, GradientFactors factors) {
        int r = config.topR();
        DiffusionStats s = DiffusionStatistics.ofGram(factors.gram(), factors.d(), r);
        List<DiffusionStatistics.LayerNoise> layers =
                DiffusionStatistics.perLayerOfGrams(factors.layerGrams(), w.engine.layout().layerRanges());
        DiffusionSketch.Estimate est = null;
        double overlap = Double.NaN;
        if (config.sketchSize() > 0) {
            if (w.sketch == null || w.sketch.sketch().dimension() != factors.d()) {
                w.sketch = new DiffusionSketch(factors.d(), config.sketchSize(), config.sketchHalfLife(),
                        config.sketchCentring(), factors.dataType());
                w.currentVectors = null;
            }
            // The centred rows go into the sketch one column block at a time, never as a k×d block.
            INDArray mean = config.sketchCentring() == DiffusionSketch.Centring.GLOBAL ? factors.meanRow() : null;
            w.sketch.addProbe(factors.k(), factors::writeCentred, mean);
            est = w.sketch.estimate(r, true);
            w.previousVectors = w.currentVectors;
            w.currentVectors = est.vectors();
            if (w.previousVectors != null && w.currentVectors != null) {
                overlap = DiffusionSketch.overlap(w.currentVectors, w.previousVectors);
            }
        }
        UpdaterSettings u = UpdaterSettings.of(model, iteration, epoch);
        double temperature = Double.NaN;
        SamplingScheme scheme = config.sampling();
        long datasetSize = config.datasetSize();
        if (scheme == SamplingScheme.UNKNOWN) {
            // An sgdnoise sampler that served this batch on this thread tells the scheme and N itself.
            org.sgdnoise.sampling.MinibatchSampler sampler = org.sgdnoise.sampling.MinibatchSampler.lastOnThisThread();
            if (sampler != null && sampler.lastBatchSize() == batchSize) {
                scheme = sampler.scheme();
                datasetSize = sampler.datasetSize();
            }
        }
        if (u.sgdLike()) {
            temperature = Temperature.of(u.learningRate(), batchSize, datasetSize, scheme);
        } else if (updaterWarned.compareAndSet(false, true)) {
            log.info("sgdnoise: updater {} is not SGD: temperature eta/(2b) is not defined for it and is recorded as null.",
                    u.updater());
        }
        double tempMomentum = Temperature.withMomentum(temperature, u.momentum());
        double probeMs = (System.nanoTime() - t0) / 1e6;
        probes.incrementAndGet();
        w.probes++;
        ProbeRecord.Builder rec = ProbeRecord.builder()
                .put("iteration", iteration)
                .put("epoch", epoch)
                .put("worker", w.index)
                .put("loss", model.score())
                .put("num_params", s.d())
                .put("num_samples", s.k())
                .put("samples_requested", config.samples())
                .put("samples_reduced_by_budget", factors.reducedByBudget())
                .put("batch_size", batchSize)
                .put("dataset_size", datasetSize > 0 ? datasetSize : null)
                .put("sampling", scheme.id())
                .put("updater", u.updater())
                .put("learning_rate", u.learningRate())
                .put("momentum", u.momentum())
                .put("temperature", temperature)
                .put("temperature_momentum", tempMomentum)
                .put("noise_magnitude", temperature * s.traceUnbiased() / s.d())
                .put("trace", s.trace())
                .put("trace_unbiased", s.traceUnbiased())
                .put("grad_norm_sq", s.gradNormSq())
                .put("grad_norm_sq_unbiased", s.gradNormSqUnbiased())
                .put("noise_scale", s.noiseScale())
                .put("noise_scale_unbiased", s.noiseScaleUnbiased())
                .put("eigenvalues", s.topEigenvalues(r))
                .put("lambda_max", s.lambdaMax())
                .put("rank", s.rank())
                .put("rank_capped", s.rankCapped())
                .put("rank_threshold", s.rankThreshold())
                .put("rank_fraction", s.rankFraction())
                .put("eig_mean", s.eigMean())
                .put("eig_std", s.eigStd())
                .put("participation_ratio", s.participationRatio())
                .put("stable_rank", s.stableRank())
                .put("effective_rank", s.effectiveRank())
                .put("isotropy_ratio", s.isotropyRatio())
                .put("top_r", Math.min(r, s.k()))
                .put("top_r_fraction", s.topFraction(r))
                .put("mode", config.mode().name().toLowerCase(Locale.ROOT))
                .put("selection", config.selection().name().toLowerCase(Locale.ROOT))
                .put("seed", config.seed())
                .put("probe_ms", probeMs)
                .put("gradient_path", w.engine.batched() ? "batched" : "exact")
                .put("failures", failures.total())
                .put("sink_failures", sinkFailures.get())
                .put("skipped_non_finite", skippedNonFinite.get())
                .put("overlap_noise_floor", s.splitHalfOverlap())
                .put("layer_names", layers.stream().map(DiffusionStatistics.LayerNoise::layer).toArray(String[]::new))
                .put("layer_num_params", layers.stream().mapToDouble(DiffusionStatistics.LayerNoise::numParams).toArray())
                .put("layer_trace", layers.stream().mapToDouble(DiffusionStatistics.LayerNoise::trace).toArray())
                .put("layer_trace_share", layers.stream().mapToDouble(DiffusionStatistics.LayerNoise::share).toArray())
                .put("layer_lambda_max", layers.stream().mapToDouble(DiffusionStatistics.LayerNoise::lambdaMax).toArray());
        if (est != null) {
            rec.put("sketch_ell", config.sketchSize())
                    .put("sketch_half_life", Double.isInfinite(config.sketchHalfLife()) ? null : config.sketchHalfLife())
                    .put("sketch_centring", config.sketchCentring().name().toLowerCase(Locale.ROOT))
                    .put("sketch_gradients", est.gradients())
                    .put("sketch_delta", est.delta())
                    .put("sketch_eigenvalues", java.util.Arrays.copyOf(est.eigenvalues(), Math.min(r, est.eigenvalues().length)))
                    .put("sketch_eigenvalues_upper", java.util.Arrays.copyOf(est.upper(), Math.min(r, est.eigenvalues().length)))
                    .put("subspace_overlap", overlap)
                    .put("subspace_trustworthy", est.trustworthy(Math.min(r, est.eigenvalues().length)));
        }
        return rec.build();
    }

    private void emit(ProbeRecord rec) {
        if (log.isInfoEnabled()) {
            log.info(logLine(rec));
        }
        for (RecordSink sink : sinks) {
            try {
                sink.write(rec);
            } catch (Exception | LinkageError e) {
                sinkFailures.incrementAndGet();
                if (config.failFast()) {
                    throw new SinkFailure(new IllegalStateException("sgdnoise: sink " + sink + " failed (fail-fast is on)", e));
                }
                boolean first;
                synchronized (sinkWarned) {
                    first = sinkWarned.put(sink, Boolean.TRUE) == null;
                }
                if (first) {
                    log.warn("sgdnoise: cannot write to {}: {}. Its records are lost until this is fixed (check the "
                                    + "path and permissions); training goes on and later failures are logged at DEBUG.",
                            sink, e.toString());
                } else {
                    log.debug("sgdnoise: sink {} failed", sink, e);
                }
            }
        }
    }

    /** The INFO line for a record: iteration, epoch and loss first, then the key anisotropy figures. */
    static String logLine(ProbeRecord r) {
        StringBuilder sb = new StringBuilder(baseLine(r));
        if (r.get("sketch_eigenvalues") instanceof double[] ev && ev.length > 0) {
            double[] up = (double[]) r.get("sketch_eigenvalues_upper");
            sb.append(String.format(Locale.ROOT, " | sketch: lambda_1 in [%s, %s] n=%.0f overlap=%s (floor %s)%s",
                    fmt(ev[0]), fmt(up[0]), ((Number) r.get("sketch_gradients")).doubleValue(),
                    fmt(r.get("subspace_overlap")), fmt(r.get("overlap_noise_floor")),
                    Boolean.TRUE.equals(r.get("subspace_trustworthy")) ? " trusted" : " not separated"));
        }
        if (r.get("layer_names") instanceof String[] names && names.length > 0) {
            double[] share = (double[]) r.get("layer_trace_share");
            Integer[] order = new Integer[names.length];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            java.util.Arrays.sort(order, (a, b) -> Double.compare(share[b], share[a]));
            sb.append(" | tr(D) by layer:");
            for (int i = 0; i < Math.min(LOG_LAYERS, order.length); i++) {
                sb.append(String.format(Locale.ROOT, " %s %.0f%%", names[order[i]], 100 * share[order[i]]));
            }
        }
        return sb.toString();
    }

    private static String baseLine(ProbeRecord r) {
        int k = ((Number) r.get("num_samples")).intValue();
        boolean capped = Boolean.TRUE.equals(r.get("rank_capped"));
        return String.format(Locale.ROOT,
                "iteration %d epoch %d%s loss %s | D: tr=%s |g|^2=%s B_simple=%s rank%s%d/%d%s PR=%s iso=%s "
                        + "lambda_max=%s T=%s | k=%d probe %.0f ms (%s)",
                ((Number) r.get("iteration")).intValue(),
                ((Number) r.get("epoch")).intValue(),
                r.get("worker") instanceof Integer w && w > 0 ? " worker " + w : "",
                fmt(r.get("loss")),
                fmt(r.get("trace")),
                fmt(r.get("grad_norm_sq")),
                fmt(r.get("noise_scale")),
                capped ? ">=" : "=",
                ((Number) r.get("rank")).intValue(),
                ((Number) r.get("num_params")).longValue(),
                capped ? " (capped by k)" : "",
                fmt(r.get("participation_ratio")),
                fmt(r.get("isotropy_ratio")),
                fmt(r.get("lambda_max")),
                r.get("temperature") == null ? "unknown" : fmt(r.get("temperature")),
                k,
                ((Number) r.get("probe_ms")).doubleValue(),
                r.get("gradient_path"));
    }

    private static String fmt(Object v) {
        if (v == null) {
            return "n/a";
        }
        double x = ((Number) v).doubleValue();
        return String.format(Locale.ROOT, "%.4g", x);
    }

    private static int iterationCount(Model model) {
        if (model == null) {
            throw new IllegalArgumentException("model is null");
        }
        if (model instanceof MultiLayerNetwork net) {
            return net.getLayerWiseConfigurations().getIterationCount();
        }
        if (model instanceof ComputationGraph cg) {
            return cg.getConfiguration().getIterationCount();
        }
        throw new IllegalArgumentException("DiffusionListener supports MultiLayerNetwork and ComputationGraph, got "
                + model.getClass().getName());
    }

    private static int epochCount(Model model) {
        if (model instanceof MultiLayerNetwork net) {
            return net.getLayerWiseConfigurations().getEpochCount();
        }
        return ((ComputationGraph) model).getConfiguration().getEpochCount();
    }

    /** What a checkpoint keeps: counters, warnings given, each worker's sketch and eigenvectors, sink positions. */
    record State(Config config, int probes, int sinkFailures, int skippedNonFinite, boolean nonFiniteWarned,
            boolean smallBatchWarned, boolean updaterWarned,
            Failures.State failures, java.util.TreeMap<Integer, WorkerState> workers, long[] sinkPositions)
            implements java.io.Serializable {}

    /** One worker's part of {@link State}; the eigenvectors in double (exact for float models too). */
    record WorkerState(int probes, DiffusionSketch sketch, double[][] vectors) implements java.io.Serializable {}

    /** The state to save beside a checkpoint. Call between iterations (from a callback or after fit). */
    State state() throws IOException {
        java.util.TreeMap<Integer, WorkerState> ws = new java.util.TreeMap<>();
        synchronized (workers) {
            for (Worker w : workers.values()) {
                ws.put(w.index, new WorkerState(w.probes, w.sketch,
                        w.currentVectors == null ? null : w.currentVectors.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).toDoubleMatrix()));
            }
        }
        long[] positions = ListenerCheckpoints.positions(sinks);
        return new State(config, probes.get(), sinkFailures.get(), skippedNonFinite.get(), nonFiniteWarned.get(),
                smallBatchWarned.get(), updaterWarned.get(), failures.state(), ws, positions);
    }

    /** Throws when {@code s} was saved by a listener configured differently (nothing is changed). */
    void checkRestorable(State s) {
        ListenerCheckpoints.checkSame("DiffusionListener", s.config(), config, s.sinkPositions().length, sinks.size());
    }

    /**
     * Continues from a saved state: counters, sketches and eigenvectors as they were, and each file sink cut
     * back to the records written before the checkpoint. Call before training resumes.
     *
     * @throws IllegalArgumentException when the state was saved by a listener configured differently
     */
    void restore(State s) throws IOException {
        checkRestorable(s);
        synchronized (workers) {
            workers.clear();
            for (Map.Entry<Integer, WorkerState> e : s.workers().entrySet()) {
                Worker w = new Worker(e.getKey(), new PerExampleGradients(config.mode(), config.memoryBudgetBytes()));
                WorkerState ws = e.getValue();
                w.probes = ws.probes();
                w.sketch = ws.sketch();
                if (ws.vectors() != null) {
                    w.currentVectors = org.nd4j.linalg.factory.Nd4j.createFromArray(ws.vectors()).castTo(w.sketch.sketch().dataType());
                }
                workers.put(e.getKey(), w);
            }
        }
        probes.set(s.probes());
        sinkFailures.set(s.sinkFailures());
        skippedNonFinite.set(s.skippedNonFinite());
        nonFiniteWarned.set(s.nonFiniteWarned());
        smallBatchWarned.set(s.smallBatchWarned());
        updaterWarned.set(s.updaterWarned());
        failures.restore(s.failures());
        ListenerCheckpoints.resume(sinks, s.sinkPositions());
    }

    /** Closes every sink; failures are logged, not thrown. */
    @Override
    public void close() {
        for (RecordSink sink : sinks) {
            try {
                sink.close();
            } catch (IOException | RuntimeException e) {
                log.warn("sgdnoise: closing {} failed: {}", sink, e.toString());
            }
        }
    }

    @Override
    public String toString() {
        return "DiffusionListener" + config + ", sinks=" + sinks;
    }

    /** Builds a {@link DiffusionListener}; every option is validated when set. */
    public static final class Builder {
        private int probeInterval = DEFAULT_PROBE_INTERVAL;
        private int samples = DEFAULT_SAMPLES;
        private ProbeMode mode = ProbeMode.EVAL;
        private ExampleSelection selection = ExampleSelection.FIRST;
        private int topR = DEFAULT_TOP_R;
        private long seed = DEFAULT_SEED;
        private long memoryBudgetBytes = PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES;
        private SamplingScheme sampling = SamplingScheme.UNKNOWN;
        private long datasetSize = -1;
        private boolean failFast;
        private int disableAfter = Failures.DEFAULT_DISABLE_AFTER;
        private int sketchSize = DEFAULT_SKETCH_SIZE;
        private double sketchHalfLife = DEFAULT_SKETCH_HALF_LIFE;
        private DiffusionSketch.Centring sketchCentring = DiffusionSketch.Centring.PER_PROBE;
        private ProbeBatch reference;
        private final List<RecordSink> sinks = new ArrayList<>();

        /** Iterations between probes (default {@value #DEFAULT_PROBE_INTERVAL}); 0 disables the listener. */
        public Builder probeInterval(int iterations) {
            if (iterations < 0) {
                throw new IllegalArgumentException("probeInterval must be >= 0, got " + iterations);
            }
            this.probeInterval = iterations;
            return this;
        }

        /** Per-example gradients per probe, k (default {@value #DEFAULT_SAMPLES}); at least 2. */
        public Builder samples(int k) {
            if (k < 2) {
                throw new IllegalArgumentException("samples must be >= 2 (a covariance needs two gradients), got " + k);
            }
            this.samples = k;
            return this;
        }

        /** EVAL (default: dropout off, the paper's protocol) or TRAIN (dropout on, RNG restored). */
        public Builder mode(ProbeMode mode) {
            if (mode == null) {
                throw new IllegalArgumentException("mode must be EVAL or TRAIN, got null");
            }
            this.mode = mode;
            return this;
        }

        /** FIRST (default) or RANDOM examples of the current minibatch; use {@link #referenceSet} for REFERENCE. */
        public Builder selection(ExampleSelection selection) {
            if (selection == null || selection == ExampleSelection.REFERENCE) {
                throw new IllegalArgumentException("selection must be FIRST or RANDOM (set a reference set with "
                        + "referenceSet(...)), got " + selection);
            }
            this.selection = selection;
            return this;
        }

        /** A fixed set of examples probed at every probe instead of the minibatch (the first k of it). */
        public Builder referenceSet(DataSet reference) {
            if (reference == null || reference.getFeatures() == null || reference.getLabels() == null) {
                throw new IllegalArgumentException("referenceSet must have features and labels, got "
                        + (reference == null ? "null" : reference.getFeatures() == null ? "no features" : "no labels"));
            }
            this.reference = ProbeBatch.of(reference);
            return this;
        }

        /** A fixed multi-input/output set probed at every probe, for ComputationGraphs. */
        public Builder referenceSet(MultiDataSet reference) {
            if (reference == null || reference.getFeatures() == null || reference.getLabels() == null) {
                throw new IllegalArgumentException("referenceSet must have features and labels, got "
                        + (reference == null ? "null" : reference.getFeatures() == null ? "no features" : "no labels"));
            }
            this.reference = ProbeBatch.of(reference);
            return this;
        }

        /** Top eigenvalues written per record (default {@value #DEFAULT_TOP_R}); at least 1. */
        public Builder topR(int r) {
            if (r < 1) {
                throw new IllegalArgumentException("topR must be >= 1, got " + r);
            }
            this.topR = r;
            return this;
        }

        /** Seed for RANDOM selection (default {@value #DEFAULT_SEED}); written into every record. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Cap on the k×d block in bytes (default 512 MiB); over it k is reduced with one warning. */
        public Builder memoryBudgetBytes(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("memoryBudgetBytes must be > 0, got " + bytes);
            }
            this.memoryBudgetBytes = bytes;
            return this;
        }

        /**
         * How the training data is drawn, for the temperature: WITH_REPLACEMENT needs no N;
         * WITHOUT_REPLACEMENT needs the data set size N (≥ 1). Default UNKNOWN (temperature null).
         */
        public Builder sampling(SamplingScheme scheme, long datasetSize) {
            if (scheme == null) {
                throw new IllegalArgumentException("sampling scheme must be WITH_REPLACEMENT, WITHOUT_REPLACEMENT or UNKNOWN, got null");
            }
            if (scheme == SamplingScheme.WITHOUT_REPLACEMENT && datasetSize < 1) {
                throw new IllegalArgumentException("datasetSize must be >= 1 for sampling without replacement, got " + datasetSize);
            }
            this.sampling = scheme;
            this.datasetSize = datasetSize > 0 ? datasetSize : -1;
            return this;
        }

        /** Throw the first failure into fit() (default false: log, count and go on). */
        public Builder failFast(boolean failFast) {
            this.failFast = failFast;
            return this;
        }

        /**
         * After this many failed probes in a row the listener switches itself off for the rest of training,
         * with one WARN line (default 10; 0: never). A successful probe resets the count.
         */
        public Builder disableAfter(int failuresInARow) {
            this.disableAfter = Failures.checkDisableAfter(failuresInARow);
            return this;
        }

        /**
         * ℓ of the streaming Frequent Directions sketch of D (default {@value #DEFAULT_SKETCH_SIZE}; memory
         * 2ℓ·d values); 0 turns it off.
         */
        public Builder sketchSize(int ell) {
            if (ell != 0 && ell < 2) {
                throw new IllegalArgumentException("sketchSize must be 0 (off) or >= 2, got " + ell);
            }
            this.sketchSize = ell;
            return this;
        }

        /**
         * Probes after which a probe's weight in the sketch halves (default {@value #DEFAULT_SKETCH_HALF_LIFE});
         * {@code Double.POSITIVE_INFINITY} never forgets (and does not follow a drifting D).
         */
        public Builder sketchHalfLife(double probes) {
            if (!(probes > 0)) {
                throw new IllegalArgumentException("sketchHalfLife must be > 0 probes (or infinite), got " + probes);
            }
            this.sketchHalfLife = probes;
            return this;
        }

        /** PER_PROBE (default: D at each probe's time) or GLOBAL centring of the sketched gradients. */
        public Builder sketchCentring(DiffusionSketch.Centring centring) {
            if (centring == null) {
                throw new IllegalArgumentException("sketchCentring must be PER_PROBE or GLOBAL, got null");
            }
            this.sketchCentring = centring;
            return this;
        }

        /** Adds a sink. */
        public Builder addSink(RecordSink sink) {
            if (sink == null) {
                throw new IllegalArgumentException("addSink: the sink must not be null, got null");
            }
            sinks.add(sink);
            return this;
        }

        /** Adds a JSON Lines sink writing to {@code path} (replaced). */
        public Builder jsonl(Path path) {
            if (path == null) {
                throw new IllegalArgumentException("jsonl: the path must not be null, got null");
            }
            return addSink(new JsonlSink(path, false));
        }

        /** Adds a CSV sink writing to {@code path} (replaced). */
        public Builder csv(Path path) {
            if (path == null) {
                throw new IllegalArgumentException("csv: the path must not be null, got null");
            }
            return addSink(new CsvSink(path));
        }

        /** The listener. */
        public DiffusionListener build() {
            return new DiffusionListener(this);
        }
    }
}

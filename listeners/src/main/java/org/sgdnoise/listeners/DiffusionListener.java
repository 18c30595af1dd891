package org.sgdnoise.listeners;

import java.io.IOException;
import java.io.Serializable;
import java.util.Locale;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.diffusion.UpdaterSettings;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.SameDiffGradients;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.output.RecordSink;
import org.sgdnoise.output.ScalarSeries;
import org.sgdnoise.probe.NoiseProbe;
import org.sgdnoise.probe.ProbeFields;
import org.sgdnoise.probe.ProbeResult;
import org.sgdnoise.probe.ProbeStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Measures the gradient noise of SGD while a model trains: every {@code probeEvery} iterations a
 * {@link NoiseProbe} computes k per-example gradients at the current parameters θ_t and the current minibatch
 * and the statistics of the noise covariance D; the listener logs one INFO line that starts with the
 * iteration, epoch and loss, and hands one record ({@link ProbeFields}) to each sink.
 *
 * <pre>{@code
 * new DiffusionListener.Builder()
 *         .probeEvery(100).gradientsPerProbe(64)
 *         .jsonlSink(Path.of("out/metrics.jsonl"))
 *         .build()
 *         .attachTo(net);
 * }</pre>
 *
 * <p>It samples at {@code onGradientCalculation}, after the minibatch gradient and before the update, on a
 * private probe network: training with the listener is bit-identical to training without it. A failure inside
 * the listener (a probe or a sink) is logged once at WARN with what to do, counted in the records
 * ({@code failures}, {@code sink_failures}), and later ones go to DEBUG; it never reaches {@code fit()} unless
 * {@link Builder#failFast(boolean)} is set. Registered twice on a model, it runs once per iteration and says so.
 *
 * <p>With {@link Builder#curvatureEvery(int, org.nd4j.linalg.dataset.api.DataSet, int)}, every n-th probe also
 * computes the top Hessian eigenvalues over fixed examples and the commutator of H and D from the same per-example
 * gradients (record keys {@code hessian_*}); its cost is part of the probe's time and of the overhead budget.
 *
 * <p>This class only schedules: when to probe, which worker's probe, the failure policy and the sinks. Memory
 * is the probe's ({@link NoiseProbe}), per worker: under ParallelWrapper, which calls one listener from every
 * worker's thread at once, each worker keeps its own probe network, sketch and eigenvectors, and its records
 * carry {@code worker}; outside it there is one, worker 0. Call {@link #close()} after training.
 */
public final class DiffusionListener extends BaseTrainingListener implements SameDiffHook.Observer, AutoCloseable {

    /** Default probe interval in iterations. */
    public static final int DEFAULT_PROBE_EVERY = 100;
    /** Default share of training time the listener may take ({@link Builder#overheadBudget(double)}). */
    public static final double DEFAULT_OVERHEAD_BUDGET = OverheadBudget.DEFAULT_FRACTION;

    private static final Logger log = LoggerFactory.getLogger(DiffusionListener.class);

    /**
     * The validated configuration of a listener.
     *
     * @param probeEvery iterations between probes (probes at iterations 0, n, 2n, ...); 0 disables
     * @param probe what each probe measures
     * @param failFast throw the first failure into fit() instead of logging it
     * @param disableAfter failed probes in a row after which the listener switches itself off (0: never)
     * @param overheadBudget the share of training time the listener may take, in [0, 1) (0: probe exactly every
     *     {@code probeEvery} iterations)
     */
    public record Config(
            int probeEvery, NoiseProbe.Config probe, boolean failFast, int disableAfter, double overheadBudget)
            implements Serializable {

        /** Validates every component. */
        public Config {
            checkProbeEvery(probeEvery);
            if (probe == null) {
                throw new IllegalArgumentException("probe must not be null, got null");
            }
            Failures.checkDisableAfter(disableAfter);
            OverheadBudget.checkFraction(overheadBudget);
        }

        static int checkProbeEvery(int iterations) {
            if (iterations < 0) {
                throw new IllegalArgumentException("probeEvery must be >= 0 iterations (0: off), got " + iterations);
            }
            return iterations;
        }
    }

    private final Config config;
    private final ProbeBatch reference;
    private final ProbeBatch curvatureExamples;
    private final Sinks sinks;
    private final Failures failures;
    private final Registrations registrations = new Registrations(log, this);
    private final PerWorker<Worker> workers;

    private final AtomicInteger probes = new AtomicInteger();
    private final AtomicInteger skippedNonFinite = new AtomicInteger();
    private final AtomicReference<ProbeRecord> latest = new AtomicReference<>();
    private final ScalarSeries scalars = new ScalarSeries(SCALAR_CAPACITY);
    private final AtomicBoolean normWarned = new AtomicBoolean();
    // Said once each, whichever worker meets it first.
    private final AtomicBoolean nonFiniteWarned = new AtomicBoolean();
    private final AtomicBoolean smallBatchWarned = new AtomicBoolean();
    private final AtomicBoolean updaterWarned = new AtomicBoolean();

    private DiffusionListener(Builder b) {
        this.config = new Config(b.probeEvery, b.probeConfig(), b.failFast, b.disableAfter, b.overheadBudget);
        this.failures = new Failures(
                log,
                "the gradient-noise probe",
                "If this persists, check the model type and the memory budget.",
                b.failFast,
                b.disableAfter);
        this.reference = b.reference;
        this.curvatureExamples = b.curvatureExamples;
        this.sinks = new Sinks(log, b.sinks, b.failFast);
        this.workers = new PerWorker<>(i -> new Worker(new NoiseProbe(config.probe(), curvatureExamples)));
    }

    /** One worker's probe, overhead budget and the cost of its last record's output. */
    private final class Worker {
        final NoiseProbe probe;
        final OverheadBudget budget = new OverheadBudget(
                config.overheadBudget(),
                Math.max(1, config.probeEvery()),
                System::nanoTime,
                log,
                "DiffusionListener probes");
        double lastSinksMs = Double.NaN;
        /** Iterations between update norms (a power of two; NaN in between), and a norm's typical cost in ns. */
        int normEvery = 1;

        double normCost = Double.NaN;
        int norms;

        /** A SameDiff graph's private copy (built at the first probe), the loss at θ_t and Σ update² of the step. */
        SameDiffGradients graphCopy;

        SameDiff copied;
        double graphLoss = Double.NaN;
        double updateSq;
        boolean measuring; // this SameDiff step's loss and update norm are computed

        Worker(NoiseProbe probe) {
            this.probe = probe;
        }
    }

    /** The configuration. */
    public Config config() {
        return config;
    }

    /**
     * The top eigenvectors of worker 0's sketched D after its latest probe (see
     * {@link NoiseProbe#topEigenvectors()}), or null before the first probe or without a sketch.
     */
    public INDArray topEigenvectors() {
        return topEigenvectors(0);
    }

    /** The top eigenvectors of worker {@code index}'s sketch, or null. */
    INDArray topEigenvectors(int index) {
        Worker w = workers.existing(index);
        return w == null ? null : w.probe.topEigenvectors();
    }

    /** The parameter layout the eigenvectors and records refer to, or null before the first probe. */
    public ParameterLayout parameterLayout() {
        Worker w = workers.existing(0);
        return w == null ? null : w.probe.layout();
    }

    /**
     * The loss, learning rate and update norm of every iteration so far, thinned to at most
     * {@link #SCALAR_CAPACITY} points per worker ({@link ScalarSeries}); empty unless a sink takes scalars. Safe
     * from any thread.
     */
    public ScalarSeries scalars() {
        return scalars;
    }

    /** Update norms computed before their cost may thin them (the first ones run cold). */
    static final int NORM_WARMUP = 100;

    /** The share of the overhead budget the update norm may take before it is thinned ({@link #normInterval}). */
    static final double NORM_SHARE = 0.25;

    /**
     * The iterations between update norms: the current interval, doubled until a norm of {@code costNs} every that
     * many iterations of {@code perIterationNs} takes at most {@link #NORM_SHARE} of the budget. Only grows; the
     * current interval when the budget is off or the iteration time is not known yet.
     */
    static int normInterval(int current, double costNs, double budget, double perIterationNs) {
        if (!(budget > 0) || !(perIterationNs > 0) || !(costNs > 0)) {
            return current;
        }
        int every = current;
        while (costNs > NORM_SHARE * budget * perIterationNs * every && every <= Integer.MAX_VALUE / 2) {
            every *= 2;
        }
        return every;
    }

    /** Points per worker the in-memory {@link #scalars()} keep. */
    public static final int SCALAR_CAPACITY = 4096;

    /**
     * After each iteration, when a sink takes them (its class overrides {@link RecordSink#writeScalars}: the
     * TensorBoard sink, the dashboard, the Micrometer gauges; not the JSON Lines and CSV files): its loss, learning
     * rate and update norm go to the in-memory series and to every sink. Cost: the norm of the update DL4J has just applied, one BLAS dot product
     * over d numbers (float accumulation: relative error about √d·2⁻²⁴), next to the iteration's O(d·b), plus the
     * sinks' own time: measured 9–19 µs per iteration on the 784-64-10 MLP (d = 50,890; the dot product 9–12 µs of
     * it), about 1% of its 1.5 ms iteration. No memory beyond the bounded series. That time is charged to the overhead
     * budget, so probes thin out to leave room for it. Never throws into {@code fit()} (fail-fast aside).
     */
    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        if (!sinks.wantScalars()
                || config.probeEvery() <= 0
                || failures.disabled()
                || Models.unsupportedReason(model) != null) {
            return;
        }
        long begin = System.nanoTime();
        int index = workers.currentIndex();
        Worker worker = workers.get(index);
        try {
            // At iterationDone DL4J's gradient view holds the update just applied, θ_t − θ_{t+1} (dl4j.md). Read
            // the view itself: model.gradient().gradient() reshapes it into a new array at every call (7 µs). BLAS's
            // dot product: 4 µs for 50,890 floats, where norm2Number() takes 65 µs.
            INDArray u = model.getGradientsViewArray();
            double norm = Double.NaN;
            if (u != null && iteration % worker.normEvery == 0) {
                long t = System.nanoTime();
                norm = Math.sqrt(Math.max(0, Nd4j.getBlasWrapper().dot(u, u)));
                thin(worker, System.nanoTime() - t, "the update norm", "the loss and learning rate stay");
            }
            publish(new IterationScalars(
                    iteration,
                    epoch,
                    index,
                    model.score(),
                    UpdaterSettings.of(model, iteration, epoch).learningRate(),
                    norm));
        } catch (Failures.FailFast e) {
            throw e;
        } catch (RuntimeException e) {
            log.debug("sgdnoise: iteration scalars failed at iteration {}", iteration, e);
        } finally {
            worker.budget.charged(System.nanoTime() - begin);
        }
    }

    /**
     * Counts one computation of the thinned scalars and doubles their interval ({@link #normInterval}) when their cost
     * is over a quarter of the budget; the first {@link #NORM_WARMUP} run cold and are not judged.
     */
    private void thin(Worker worker, long spent, String what, String rest) {
        worker.normCost = Double.isNaN(worker.normCost) ? spent : worker.normCost + 0.3 * (spent - worker.normCost);
        int every = ++worker.norms < NORM_WARMUP
                ? worker.normEvery
                : normInterval(
                        worker.normEvery, worker.normCost, config.overheadBudget(), worker.budget.perIteration());
        if (every != worker.normEvery) {
            worker.normEvery = every;
            if (normWarned.compareAndSet(false, true)) {
                log.info(String.format(
                        Locale.ROOT,
                        "sgdnoise: %s takes %.3g µs against %.3g ms of training per iteration, over a quarter of the "
                                + "overhead budget: computed every %d iterations (NaN between); %s at every iteration.",
                        what,
                        worker.normCost / 1e3,
                        worker.budget.perIteration() / 1e6,
                        every,
                        rest));
            }
        }
    }

    /**
     * SameDiff's iterationStart, with θ_t in the variables: a probe when one is due, on the worker's private copy of
     * the graph ({@link SameDiffGradients}: one example at a time; synced to θ_t first), and, for sinks that take
     * scalars, the loss at θ_t by one forward pass on the copy (SameDiff's fit does not compute it), thinned like the
     * update norm. Never throws into {@code fit()} (fail-fast aside).
     */
    @Override
    public void iterationStart(SameDiff graph, int iteration, int epoch, MultiDataSet batch) {
        if (config.probeEvery() <= 0 || failures.disabled()) {
            return;
        }
        int index = workers.currentIndex();
        Worker worker = workers.get(index);
        worker.budget.tick(iteration);
        worker.graphLoss = Double.NaN;
        worker.updateSq = 0;
        boolean scalarsDue = sinks.wantScalars() && iteration % worker.normEvery == 0;
        worker.measuring = scalarsDue;
        boolean probeDue = iteration % config.probeEvery() == 0 && worker.budget.due(iteration);
        if (!scalarsDue && !probeDue) {
            return;
        }
        long begin = System.nanoTime();
        failures.observe(iteration, () -> {
            if (worker.copied != graph) {
                worker.graphCopy = SameDiffGradients.of(graph);
                worker.copied = graph;
            }
            worker.graphCopy.sync(graph);
            ProbeBatch current = ProbeBatch.of(batch);
            worker.graphLoss = worker.graphCopy.loss(current);
            if (!probeDue) {
                return true;
            }
            ProbeResult result = worker.probe.probe(
                    worker.graphCopy,
                    UpdaterSettings.of(graph, iteration, epoch),
                    current,
                    reference,
                    iteration,
                    epoch,
                    worker.graphLoss);
            if (result.status() == ProbeStatus.OK) {
                emit(result, index, worker);
            } else {
                skipped(result);
            }
            return result.status() != ProbeStatus.NON_FINITE;
        });
        if (probeDue) {
            worker.budget.acted(iteration, begin, System.nanoTime());
        } else {
            long spent = System.nanoTime() - begin;
            worker.budget.charged(spent);
            thin(worker, spent, "the loss (a forward pass on a copy of the graph)", "the learning rate stays");
        }
    }

    /** SameDiff's preUpdate: adds the variable's update to the step's Σ update² when the scalars want its norm. */
    @Override
    public void preUpdate(SameDiff graph, int iteration, String variable, INDArray update) {
        if (sinks.wantScalars() && !failures.disabled() && config.probeEvery() > 0) {
            Worker worker = workers.get(workers.currentIndex());
            if (worker.measuring) {
                long t = System.nanoTime();
                worker.updateSq += Nd4j.getBlasWrapper().dot(update, update);
                worker.budget.charged(System.nanoTime() - t);
            }
        }
    }

    /**
     * SameDiff's iterationDone: the iteration's scalars (as {@link #iterationDone(Model, int, int)}) when a sink
     * takes them; the loss and update norm are NaN at iterations the thinning skips.
     */
    @Override
    public void iterationDone(SameDiff graph, int iteration, int epoch, MultiDataSet batch) {
        if (!sinks.wantScalars() || config.probeEvery() <= 0 || failures.disabled()) {
            return;
        }
        int index = workers.currentIndex();
        Worker worker = workers.get(index);
        long begin = System.nanoTime();
        try {
            publish(new IterationScalars(
                    iteration,
                    epoch,
                    index,
                    worker.graphLoss,
                    UpdaterSettings.of(graph, iteration, epoch).learningRate(),
                    worker.measuring ? Math.sqrt(Math.max(0, worker.updateSq)) : Double.NaN));
        } catch (Failures.FailFast e) {
            throw e;
        } catch (RuntimeException e) {
            log.debug("sgdnoise: iteration scalars failed at iteration {}", iteration, e);
        } finally {
            worker.budget.charged(System.nanoTime() - begin);
        }
    }

    /** One iteration's scalars to the in-memory series and every sink. */
    private void publish(IterationScalars s) {
        scalars.add(s);
        sinks.writeScalars(s);
    }

    /** The most recent record of any worker, or null before the first probe. Safe from any thread. */
    public ProbeRecord latestRecord() {
        return latest.get();
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
     * As {@link #overheadShare()}, leaving out worker 0's first probe, which builds its state and which the budget pays
     * back by deferring later ones: the share the budget holds in a long run. NaN before its first call.
     */
    public double steadyOverheadShare() {
        Worker w = workers.existing(0);
        return w == null ? Double.NaN : w.budget.steadyShare();
    }

    /** Worker 0's probe interval in force: {@code probeEvery}, or stretched by the overhead budget. */
    public int probeEveryInForce() {
        Worker w = workers.existing(0);
        return w == null ? config.probeEvery() : w.budget.intervalInForce();
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
        return sinks.failures();
    }

    /** Probes skipped because the loss or the per-example gradients were NaN or infinite. */
    public int skippedNonFiniteCount() {
        return skippedNonFinite.get();
    }

    /**
     * Adds this listener to {@code model}, checking first that it can observe it; attached already, it is not
     * added again (one WARN line says so).
     *
     * <p>A SameDiff graph ({@code SameDiff}, trained by its {@code fit}) is observed through SameDiff's own
     * listener API: probes at {@code iterationStart}, with θ_t and the minibatch, on a private copy of the graph
     * (its per-example gradients one example at a time, {@link SameDiffGradients}); the records are those of the
     * same network built in DL4J. Its parameters are the graph's floating-point variables in the order of their
     * names ({@link ParameterLayout#of(SameDiff)}). The curvature step needs a DL4J model.
     *
     * @throws IllegalArgumentException for anything but a MultiLayerNetwork, ComputationGraph or SameDiff graph (a
     *     single layer, a custom Model), and for a SameDiff graph with the curvature step, with the reason
     */
    public DiffusionListener attachTo(Object model) {
        if (model instanceof SameDiff sd) {
            if (config.probe().curvature() != null) {
                throw new IllegalArgumentException("DiffusionListener cannot observe this model: the curvature step "
                        + "(curvatureEvery) needs a MultiLayerNetwork or ComputationGraph, not a SameDiff graph");
            }
            try {
                SameDiffGradients.check(sd);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "DiffusionListener cannot observe this graph: " + e.getMessage()
                                + " (set the graph's TrainingConfig before attachTo)",
                        e);
            }
        }
        Models.attach(model, this);
        return this;
    }

    @Override
    public void onGradientCalculation(Model model) {
        if (config.probeEvery() <= 0 || failures.disabled()) {
            return;
        }
        String unsupported = Models.unsupportedReason(model);
        if (unsupported != null) {
            failures.fatal(unsupported); // thrown with fail-fast, else said once and switched off
            return;
        }
        int iteration = Models.iteration(model);
        int index = workers.currentIndex();
        Worker worker = workers.get(index);
        worker.budget.tick(iteration); // every iteration: the training time the budget is measured against
        if (iteration % config.probeEvery() != 0
                || !worker.budget.due(iteration)
                || registrations.repeated(model, iteration)) {
            return;
        }
        long begin = System.nanoTime();
        failures.observe(iteration, () -> {
            ProbeResult result = worker.probe.probe(
                    model, ProbeBatch.current(model), reference, iteration, Models.epoch(model), model.score());
            if (result.status() == ProbeStatus.OK) {
                emit(result, index, worker);
            } else {
                skipped(result);
            }
            // A diverging model is not a success either: it leaves a run of failures as it is.
            return result.status() != ProbeStatus.NON_FINITE;
        });
        worker.budget.acted(iteration, begin, System.nanoTime());
    }

    private void emit(ProbeResult result, int index, Worker worker) {
        probes.incrementAndGet();
        if (!result.updater().sgdLike() && updaterWarned.compareAndSet(false, true)) {
            log.info(
                    "sgdnoise: updater {} is not SGD: temperature eta/(2b) is not defined for it and is recorded "
                            + "as null.",
                    result.updater().updater());
        }
        ProbeRecord record = ProbeFields.toRecord(
                result,
                new ProbeFields.Counts(index, failures.total(), sinks.failures(), skippedNonFinite.get()),
                new ProbeFields.Schedule(
                        worker.budget.intervalInForce(),
                        worker.budget.share(),
                        worker.budget.budget(),
                        worker.lastSinksMs));
        latest.set(record);
        long t = System.nanoTime();
        if (log.isInfoEnabled()) {
            log.info(result.logLine(index));
        }
        sinks.write(record);
        worker.lastSinksMs = (System.nanoTime() - t) / 1e6;
    }

    /** A diverging model or a batch of one is not a failure of the listener: said once, counted or not. */
    private void skipped(ProbeResult result) {
        if (result.status() == ProbeStatus.NON_FINITE) {
            skippedNonFinite.incrementAndGet();
            if (nonFiniteWarned.compareAndSet(false, true)) {
                log.warn(
                        "sgdnoise: probe skipped at iteration {}: {} (NaN or infinite; is training diverging?). "
                                + "Later skips are counted in the records' 'skipped_non_finite'; training goes on.",
                        result.iteration(),
                        result.reason());
            }
        } else if (smallBatchWarned.compareAndSet(false, true)) {
            log.info(
                    "sgdnoise: skipping probes on batches of one example: a covariance needs at least 2 "
                            + "per-example gradients (iteration {}).",
                    result.iteration());
        }
    }

    /** What a checkpoint keeps: counters, warnings given, each worker's probe state, sink positions. */
    record State(
            Config config,
            int probes,
            int sinkFailures,
            int skippedNonFinite,
            boolean nonFiniteWarned,
            boolean smallBatchWarned,
            boolean updaterWarned,
            Failures.State failures,
            TreeMap<Integer, NoiseProbe.State> workers,
            long[] sinkPositions)
            implements Serializable {}

    /** The state to save beside a checkpoint. Call between iterations (from a callback or after fit). */
    State state() throws IOException {
        TreeMap<Integer, NoiseProbe.State> ws = workers.snapshot(w -> w.probe.state());
        return new State(
                config,
                probes.get(),
                sinks.failures(),
                skippedNonFinite.get(),
                nonFiniteWarned.get(),
                smallBatchWarned.get(),
                updaterWarned.get(),
                failures.state(),
                ws,
                ListenerCheckpoints.positions(sinks.list()));
    }

    /** Throws when {@code s} was saved by a listener configured differently (nothing is changed). */
    void checkRestorable(State s) {
        ListenerCheckpoints.checkSame(
                "DiffusionListener",
                s.config(),
                config,
                s.sinkPositions().length,
                sinks.list().size());
    }

    /**
     * Continues from a saved state: counters, sketches and eigenvectors as they were, and each file sink cut
     * back to the records written before the checkpoint. Call before training resumes.
     *
     * @throws IllegalArgumentException when the state was saved by a listener configured differently
     */
    void restore(State s) throws IOException {
        checkRestorable(s);
        workers.restore(s.workers(), (i, saved) -> {
            NoiseProbe p = new NoiseProbe(config.probe(), curvatureExamples);
            p.restore(saved);
            return new Worker(p);
        });
        probes.set(s.probes());
        sinks.restoreFailures(s.sinkFailures());
        skippedNonFinite.set(s.skippedNonFinite());
        nonFiniteWarned.set(s.nonFiniteWarned());
        smallBatchWarned.set(s.smallBatchWarned());
        updaterWarned.set(s.updaterWarned());
        failures.restore(s.failures());
        ListenerCheckpoints.resume(sinks.list(), s.sinkPositions());
    }

    /** Closes every sink; failures are logged, not thrown. */
    @Override
    public void close() {
        sinks.close();
    }

    @Override
    public String toString() {
        return "DiffusionListener" + config + ", sinks=" + sinks;
    }

    /** Builds a {@link DiffusionListener}; every option is validated when set. */
    public static final class Builder extends ProbeOptions<Builder> {

        @Override
        Builder self() {
            return this;
        }

        private int probeEvery = DEFAULT_PROBE_EVERY;
        /** Iterations between probes (default {@value #DEFAULT_PROBE_EVERY}); 0 switches the listener off. */
        public Builder probeEvery(int iterations) {
            this.probeEvery = Config.checkProbeEvery(iterations);
            return this;
        }

        /** The listener. */
        public DiffusionListener build() {
            return new DiffusionListener(this);
        }
    }
}

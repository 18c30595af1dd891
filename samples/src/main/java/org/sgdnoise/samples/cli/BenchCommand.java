package org.sgdnoise.samples.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.autodiff.listeners.BaseListener;
import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.listeners.Dashboard;
import org.sgdnoise.listeners.DiffusionListener;
import org.sgdnoise.models.SmallLeNet;
import org.sgdnoise.samples.QuickStart;
import org.sgdnoise.samples.bench.BenchReport;
import org.sgdnoise.samples.bench.GradientTiming;
import org.sgdnoise.samples.bench.Interleaved;
import org.sgdnoise.samples.bench.SeparateRuns;
import org.sgdnoise.samples.bench.TorchPeer;
import org.sgdnoise.samples.bench.UserModels;
import org.sgdnoise.sampling.WithoutReplacementSampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench}: the end-to-end figures of docs/BENCHMARKS.md, measured in one process so their ratios
 * share the machine's state.
 *
 * <p>Default mode: quick-start training time with probe-interval 0 against the default, both interleaved in one
 * process and as alternating pairs of runs; the final parameter hashes of the two must agree (the listener does
 * not disturb training).
 *
 * <p>{@code --matrix}: the user-model matrix ({@link UserModels}: mlp, lenet, resnet, lstm, embedding; choose
 * with {@code --models}). Per model: training with both listeners at defaults (a DiffusionListener and a
 * TrajectoryListener, each {@code new X.Builder().build().attachTo(net)}) over without, as {@code --pairs}
 * interleaved pairs of {@code --pair-iterations} in this process ({@link Interleaved}) and, with
 * {@code --separate-runs N}, as N pairs of alternating child JVMs ({@link SeparateRuns}); then per-example
 * gradients of k examples against DL4J's batched gradient of the same k ({@link GradientTiming}).
 * {@code --torch} adds the PyTorch {@code vmap} peer of the MLP and LeNet ({@link TorchPeer}) where python3 has
 * torch. Everything goes to {@code bench.json} ({@link BenchReport}); markdown rows go to standard output.
 *
 * <p>The engine's microbenchmarks are JMH benchmarks in {@code org.sgdnoise.samples.jmh}.
 */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = "Measures the listeners' overhead on training (quick start, or the user-model matrix with "
                + "--matrix); prints markdown rows.")
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--data", description = "Fashion-/MNIST IDX folder (default: the system copy, else built-in)")
    Path data;

    @Option(
            names = {"--gradients-per-probe", "--samples"},
            defaultValue = "64",
            description = "k per-example gradients per probe of the quick-start listener runs (default: "
                    + "${DEFAULT-VALUE})")
    int samples;

    @Option(
            names = "--batch-size",
            defaultValue = "128",
            description = "quick-start training batch size (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(
            names = "--quickstart-reps",
            defaultValue = "5",
            description = "quick-start pairs; 0 skips (default: ${DEFAULT-VALUE})")
    int quickstartReps;

    @Option(
            names = "--interleaved-iterations",
            defaultValue = "300",
            description = "iterations of the quick start's in-process interleaved overhead measurement; 0 skips "
                    + "(default: ${DEFAULT-VALUE})")
    int interleavedIterations;

    @Option(
            names = "--max-iterations",
            defaultValue = "0",
            description = "quick-start iteration limit; 0 = one full epoch")
    long maxIterations;

    @Option(
            names = {"--probe-every", "--probe-interval"},
            defaultValue = "" + QuickStart.DEFAULT_PROBE_INTERVAL,
            description = "probe interval for the quick start's 'with listener' runs (default: ${DEFAULT-VALUE})")
    int probeInterval;

    @Option(names = "--matrix", description = "run the user-model matrix instead of the quick-start measurements")
    boolean matrix;

    @Option(
            names = "--models",
            split = ",",
            defaultValue = "mlp,lenet,resnet,lstm,embedding",
            description = "matrix models, comma-separated (default: ${DEFAULT-VALUE}); also samediff, the mlp "
                    + "written as a SameDiff graph")
    List<String> models;

    @Option(
            names = "--pairs",
            defaultValue = "5",
            description = "matrix: interleaved pairs per model (default: ${DEFAULT-VALUE})")
    int pairs;

    @Option(
            names = "--pair-iterations",
            defaultValue = "0",
            description = "matrix: training iterations per pair; 0 takes each model's own, about 10 s of its "
                    + "training at one thread (default: ${DEFAULT-VALUE})")
    int pairIterations;

    @Option(
            names = "--budget-check",
            description = "matrix: also train the mlp with a DiffusionListener probing every iteration, at the "
                    + "default overhead budget for 2,000 and 20,000 iterations and at budget 0 for 100, against no "
                    + "listener")
    boolean budgetCheck;

    @Option(
            names = "--no-op-control",
            description = "matrix: attach a listener that does nothing instead of the sgdnoise listeners, to measure "
                    + "the floor of the interleaved comparison on this machine (DL4J's own cost of a listener and "
                    + "the noise)")
    boolean noOpControl;

    @Option(
            names = "--live-sinks",
            description = "matrix: the listeners also publish to a dashboard (127.0.0.1, a free port) and write "
                    + "TensorBoard event files under --out")
    boolean liveSinks;

    @Option(
            names = "--gradient-k",
            defaultValue = "64",
            description = "matrix: examples of the per-example gradient timing (default: ${DEFAULT-VALUE})")
    int gradientK;

    @Option(
            names = "--gradient-reps",
            defaultValue = "10",
            description = "matrix: timed repetitions of the per-example gradient timing, after 3 untimed; 0 skips "
                    + "(default: ${DEFAULT-VALUE})")
    int gradientReps;

    @Option(
            names = "--separate-runs",
            defaultValue = "0",
            description = "matrix: pairs of alternating child JVMs per model, with and without listeners; 0 skips "
                    + "(default: ${DEFAULT-VALUE})")
    int separateRuns;

    @Option(
            names = "--separate-iterations",
            defaultValue = "200",
            description = "matrix: training iterations of each child JVM of --separate-runs (default: "
                    + "${DEFAULT-VALUE}, two probes at the default interval)")
    int separateIterations;

    @Option(
            names = "--torch",
            description = "also run the PyTorch vmap peer (MLP and LeNet) with python3, where torch is installed")
    boolean torch;

    @Option(
            names = "--seed",
            defaultValue = "42",
            description = "matrix: seed of the networks and batches (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(
            names = "--out",
            defaultValue = "sgdnoise-out/bench",
            description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    /** Untimed calls before the per-example gradient timing. */
    static final int GRADIENT_WARMUP = 3;

    @Override
    public Integer call() throws Exception {
        if (samples < 2 || batchSize < samples) {
            throw new UserInputException("need samples >= 2 and batch-size >= samples; got samples " + samples
                    + ", batch-size " + batchSize);
        }
        if (matrix) {
            for (String m : models) {
                if (!UserModels.ALL.contains(m)) {
                    throw new UserInputException("--models takes " + String.join(", ", UserModels.ALL) + "; got " + m);
                }
            }
            if (pairs < 1
                    || pairIterations < 0
                    || gradientK < 2
                    || gradientReps < 0
                    || separateRuns < 0
                    || separateIterations < 1) {
                throw new UserInputException("need pairs >= 1, pair-iterations >= 0, gradient-k >= 2, gradient-reps "
                        + ">= 0, separate-runs >= 0 and separate-iterations >= 1; got " + pairs + ", " + pairIterations
                        + ", " + gradientK + ", " + gradientReps + ", " + separateRuns + ", " + separateIterations);
            }
        }
        Files.createDirectories(out);
        Interleaved.Result qsInterleaved = null;
        BenchReport.Quickstart qs = null;
        BenchReport.Matrix mx = null;
        if (matrix) {
            mx = matrix();
        } else {
            if (interleavedIterations > 0) {
                qsInterleaved = interleaved();
            }
            if (quickstartReps > 0) {
                qs = quickstart();
            }
        }
        TorchPeer.Result peer = torch ? torchPeer() : null;
        BenchReport report = new BenchReport(
                System.getenv("OMP_NUM_THREADS"),
                Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"),
                seed,
                qsInterleaved,
                qs,
                mx,
                peer);
        new ObjectMapper()
                .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .enable(SerializationFeature.INDENT_OUTPUT)
                .writeValue(out.resolve("bench.json").toFile(), report);
        System.out.println("wrote " + out.resolve("bench.json"));
        return 0;
    }

    private BenchReport.Matrix matrix() throws Exception {
        FashionMnist.Data images = models.stream().anyMatch(UserModels::usesImages) ? UserModels.images(data) : null;
        List<BenchReport.ModelResult> results = new ArrayList<>();
        for (String m : models) {
            int perPair = pairIterations > 0 ? pairIterations : UserModels.pairIterations(m);
            System.out.printf(Locale.ROOT, "[bench] %s: %d interleaved pairs of %d iterations%n", m, pairs, perPair);
            List<DataSet> batches =
                    UserModels.batches(m, images == null ? null : images.train(), pairs * perPair, seed);
            List<AutoCloseable> attached = new ArrayList<>();
            Dashboard dashboard = liveSinks ? Dashboard.start(0) : null;
            Path tensorboard = out.resolve("tensorboard-" + m);
            Interleaved.Result inter = Interleaved.run(
                    m,
                    () -> UserModels.build(m, seed),
                    net -> {
                        List<AutoCloseable> ls = noOpControl
                                ? noOp(net)
                                : liveSinks
                                        ? SeparateRuns.attachWithLiveSinks(net, dashboard, tensorboard)
                                        : SeparateRuns.attachDefaults(net);
                        attached.addAll(ls);
                        return ls;
                    },
                    batches,
                    perPair,
                    System.out);
            if (dashboard != null) {
                System.out.printf(
                        Locale.ROOT,
                        "[bench] %s: the dashboard holds %d records and %d iteration scalars%n",
                        m,
                        dashboard.records().size(),
                        dashboard.scalars().snapshot().size());
                dashboard.close();
            }
            BenchReport.Listeners listeners = BenchReport.Listeners.of(attached);
            GradientTiming.Result grads = null;
            if (gradientReps > 0) {
                System.out.printf(
                        Locale.ROOT,
                        "[bench] %s: per-example gradients, k = %d, %d reps%n",
                        m,
                        gradientK,
                        gradientReps);
                DataSet examples = UserModels.examples(m, images == null ? null : images.train(), gradientK, seed + 1);
                grads = GradientTiming.run(() -> UserModels.build(m, seed), examples, GRADIENT_WARMUP, gradientReps);
                if (grads.error() != null) {
                    System.out.println("[bench] " + m + ": per-example gradients failed: " + grads.error());
                }
            }
            SeparateRuns.Result sep = null;
            if (separateRuns > 0) {
                sep = SeparateRuns.run(
                        m, separateRuns, separateIterations, seed, data, out.resolve("separate"), System.out);
            }
            long numParams = UserModels.numParams(UserModels.build(m, seed));
            results.add(new BenchReport.ModelResult(m, numParams, UserModels.BATCH_SIZE, inter, listeners, grads, sep));
        }
        printMatrix(results);
        List<BenchReport.BudgetCheck> checks = budgetCheck ? budgetChecks(images) : null;
        return new BenchReport.Matrix(
                List.copyOf(models),
                images == null ? null : images.source(),
                pairs,
                pairIterations,
                noOpControl
                        ? "control: a listener that does nothing"
                        : liveSinks
                                ? "DiffusionListener and TrajectoryListener at their defaults, each also publishing to "
                                        + "one Dashboard and writing TensorBoard event files"
                                : "DiffusionListener and TrajectoryListener, new X.Builder().build().attachTo(net) "
                                        + "(defaults)",
                results,
                checks);
    }

    /** Adds a listener that does nothing: the control of the interleaved comparison. */
    private static List<AutoCloseable> noOp(Object net) {
        TrainingListener nothing = new BaseTrainingListener() {};
        if (net instanceof SameDiff sd) {
            sd.addListeners(new BaseListener() {
                @Override
                public boolean isActive(Operation operation) {
                    return operation == Operation.TRAINING;
                }
            });
        } else if (net instanceof MultiLayerNetwork m) {
            m.addListeners(nothing);
        } else {
            ((ComputationGraph) net).addListeners(nothing);
        }
        return List.of();
    }

    /**
     * The overhead budget on a deliberately fast model: the mlp with a DiffusionListener probing every iteration,
     * at the default budget over 2,000 and 20,000 iterations and at budget 0 over 100 (where it must probe every
     * iteration), each interleaved with the same network trained without it.
     */
    private List<BenchReport.BudgetCheck> budgetChecks(FashionMnist.Data images) throws Exception {
        List<BenchReport.BudgetCheck> checks = new ArrayList<>();
        double fraction = DiffusionListener.DEFAULT_OVERHEAD_BUDGET;
        // The fast models: the mlp, and the same mlp as a SameDiff graph where --models names it.
        List<String> fast = models.stream()
                .filter(m -> m.equals("mlp") || m.equals("samediff"))
                .toList();
        for (String model : fast.isEmpty() ? List.of("mlp") : fast) {
            budgetChecks(images, model, fraction, checks);
        }
        for (BenchReport.BudgetCheck c : checks) {
            System.out.printf(
                    Locale.ROOT,
                    "| %s, probeEvery(1), budget %s | %d iterations | %d probes | interval in force %d | its share of "
                            + "training time %.4f | measured overhead %+.2f%% | params identical %s |%n",
                    c.model(),
                    c.budget(),
                    c.iterations(),
                    c.probes(),
                    c.probeEveryInForce(),
                    c.share(),
                    100 * c.measuredOverhead(),
                    c.interleaved().paramsIdentical());
        }
        return checks;
    }

    private void budgetChecks(
            FashionMnist.Data images, String model, double fraction, List<BenchReport.BudgetCheck> checks)
            throws Exception {
        for (double[] run : new double[][] {{fraction, 2000}, {fraction, 20_000}, {0, 100}}) {
            double budget = run[0];
            int iterations = (int) run[1];
            System.out.printf(
                    Locale.ROOT,
                    "[bench] budget check: %s, probeEvery(1), budget %s, %d iterations%n",
                    model,
                    budget,
                    iterations);
            List<DataSet> batches = UserModels.batches(model, images.train(), iterations, seed);
            List<DiffusionListener> probe = new ArrayList<>();
            Interleaved.Result inter = Interleaved.run(
                    model + " budget " + budget,
                    () -> UserModels.build(model, seed),
                    net -> {
                        DiffusionListener l = new DiffusionListener.Builder()
                                .probeEvery(1)
                                .overheadBudget(budget)
                                .build()
                                .attachTo(net);
                        probe.add(l);
                        return List.of(l);
                    },
                    batches,
                    iterations / 5,
                    System.out);
            DiffusionListener l = probe.get(0);
            checks.add(new BenchReport.BudgetCheck(
                    model,
                    budget,
                    iterations,
                    l.probeCount(),
                    l.probeEveryInForce(),
                    l.overheadShare(),
                    inter.ratio() - 1,
                    inter));
        }
    }

    private void printMatrix(List<BenchReport.ModelResult> results) {
        String omp = System.getenv("OMP_NUM_THREADS");
        System.out.println();
        System.out.println(
                "| model | parameters | OMP | iterations | without (s) | with both listeners (s) | total ratio "
                        + "| median pair ratio (pairs) | CPU-time ratio (median pair) | params identical "
                        + "| per-example k (ms, path) | DL4J batched (ms) "
                        + "| per-example / batched | separate runs: median ratio (pairs) |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|");
        for (BenchReport.ModelResult r : results) {
            Interleaved.Result i = r.interleaved();
            GradientTiming.Result g = r.gradients();
            SeparateRuns.Result s = r.separateRuns();
            System.out.println(String.format(
                    Locale.ROOT,
                    "| %s | %,d | %s | %d | %.2f | %.2f | %.3f | %.3f (%d) | %.3f (%.3f) | %s | %s | %s | %s | %s |",
                    r.model(),
                    r.numParams(),
                    omp == null ? "unset" : omp,
                    i.iterations(),
                    i.trainSecondsWithout(),
                    i.trainSecondsWith(),
                    i.ratio(),
                    i.medianPairRatio(),
                    i.pairRatios().length,
                    i.cpuRatio(),
                    i.medianCpuPairRatio(),
                    i.paramsIdentical(),
                    g == null
                            ? "–"
                            : String.format(Locale.ROOT, "k=%d: %.2f (%s)", g.k(), g.perExampleMedianMs(), g.path()),
                    g == null ? "–" : String.format(Locale.ROOT, "%.2f", g.dl4jBatchedMedianMs()),
                    g == null ? "–" : String.format(Locale.ROOT, "%.1f", g.ratio()),
                    s == null
                            ? "–"
                            : String.format(
                                    Locale.ROOT,
                                    "%.3f (%d)%s",
                                    s.medianRatio(),
                                    s.pairs(),
                                    s.paramsIdentical() ? "" : ", params differ")));
        }
    }

    private TorchPeer.Result torchPeer() throws Exception {
        System.out.println("[bench] torch peer: vmap_peer.py, k = " + gradientK);
        TorchPeer.Result r = TorchPeer.run(gradientK, Math.max(gradientReps, 5), out);
        if (!r.available()) {
            System.out.println("[bench] " + r.reason());
            return r;
        }
        for (var e : (Iterable<Map.Entry<String, JsonNode>>)
                () -> r.result().get("models").fields()) {
            JsonNode m = e.getValue();
            System.out.println(String.format(
                    Locale.ROOT,
                    "| torch %s (vmap, %s threads) | %,d | per-example k=%d %.2f ms | batched %.2f ms | ratio %.1f |",
                    e.getKey(),
                    r.result().get("threads").asText(),
                    m.get("num_params").asLong(),
                    r.result().get("k").asInt(),
                    m.get("per_example_median_ms").asDouble(),
                    m.get("batched_median_ms").asDouble(),
                    m.get("ratio").asDouble()));
        }
        return r;
    }

    private BenchReport.Quickstart quickstart() throws Exception {
        List<Double> off = new ArrayList<>();
        List<Double> on = new ArrayList<>();
        List<Boolean> same = new ArrayList<>();
        for (int r = 0; r < quickstartReps; r++) {
            // Interleave, alternating which goes first, so drift on a shared machine hits both alike.
            boolean offFirst = r % 2 == 0;
            Map<String, Object> a = run(offFirst ? 0 : probeInterval, r);
            Map<String, Object> b = run(offFirst ? probeInterval : 0, r);
            Map<String, Object> sOff = offFirst ? a : b;
            Map<String, Object> sOn = offFirst ? b : a;
            off.add((Double) sOff.get("train_seconds"));
            on.add((Double) sOn.get("train_seconds"));
            same.add(sOff.get("final_params_sha256").equals(sOn.get("final_params_sha256")));
        }
        double mOff = Interleaved.median(off.stream().mapToDouble(x -> x).toArray());
        double mOn = Interleaved.median(on.stream().mapToDouble(x -> x).toArray());
        System.out.println(String.format(
                Locale.ROOT,
                "| quick start, probe-interval 0 | %.2f s | probe-interval %d | %.2f s | overhead %+.1f%% "
                        + "| params identical %s |",
                mOff,
                probeInterval,
                mOn,
                100 * (mOn / mOff - 1),
                same));
        return new BenchReport.Quickstart(
                quickstartReps,
                probeInterval,
                maxIterations > 0 ? maxIterations : null,
                off,
                on,
                mOff,
                mOn,
                mOn / mOff - 1,
                same);
    }

    /**
     * The quick start's training with and without the listener, in one process ({@link Interleaved}): the
     * small LeNet on the quick start's batches, pairs of {@code probeInterval} iterations (one probe each).
     */
    private Interleaved.Result interleaved() throws Exception {
        FashionMnist.Data d = UserModels.images(data);
        List<DataSet> batches = new ArrayList<>();
        var it = new WithoutReplacementSampler(d.train(), batchSize, 42);
        while (batches.size() < interleavedIterations) {
            if (!it.hasNext()) {
                it.reset(); // the next epoch, a new permutation
            }
            batches.add(it.next());
        }
        Interleaved.Result r = Interleaved.run(
                "quick start",
                () -> SmallLeNet.build(42, 0.05, 0.9),
                net -> List.of(new DiffusionListener.Builder()
                        .probeEvery(probeInterval)
                        .gradientsPerProbe(samples)
                        .seed(42)
                        .sampling(SamplingScheme.WITHOUT_REPLACEMENT, d.train().numExamples())
                        .jsonlSink(out.resolve("interleaved-metrics.jsonl"))
                        .build()
                        .attachTo(net)),
                batches,
                probeInterval,
                System.out);
        System.out.println(String.format(
                Locale.ROOT,
                "| quick start, interleaved in one process (%d iterations, blocks of %d) | without %.2f s "
                        + "| with listener (interval %d) %.2f s | ratio %.3f | median of %d windows %.3f "
                        + "| params identical %s |",
                r.iterations(),
                r.blockIterations(),
                r.trainSecondsWithout(),
                probeInterval,
                r.trainSecondsWith(),
                r.ratio(),
                r.pairRatios().length,
                r.medianPairRatio(),
                r.paramsIdentical()));
        return r;
    }

    private Map<String, Object> run(int interval, int rep) throws Exception {
        QuickStart.Options o = new QuickStart.Options(
                data,
                1,
                batchSize,
                0.05,
                0.9,
                42,
                interval,
                samples,
                maxIterations,
                0,
                out.resolve("run-" + rep + "-interval-" + interval));
        return QuickStart.run(o).summary();
    }
}

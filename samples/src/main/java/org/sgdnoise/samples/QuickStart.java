package org.sgdnoise.samples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.ViewIterator;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.listeners.DiffusionListener;
import org.sgdnoise.listeners.TrajectoryListener;
import org.sgdnoise.models.SmallLeNet;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.output.JsonlSink;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.output.RecordSink;
import org.sgdnoise.samples.data.BuiltinData;
import org.sgdnoise.samples.data.MaxBatches;
import org.sgdnoise.samples.report.Report;
import org.sgdnoise.sampling.WithoutReplacementSampler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The quick start: trains the paper's small LeNet on Fashion-MNIST (or the built-in sample) with a
 * {@link DiffusionListener} attached, and writes {@code metrics.jsonl}, {@code metrics.csv},
 * {@code summary.json} and the trained {@code model.zip} (for {@code spectrum}) into the output folder.
 */
public final class QuickStart {

    private static final Logger log = LoggerFactory.getLogger(QuickStart.class);

    /** Default probe interval of the quick start, chosen from docs/BENCHMARKS.md for < 10% overhead. */
    public static final int DEFAULT_PROBE_INTERVAL = DiffusionListener.DEFAULT_PROBE_EVERY;
    /** Default overhead budget of each listener, the listeners' own. */
    public static final double OVERHEAD_BUDGET = DiffusionListener.DEFAULT_OVERHEAD_BUDGET;

    /**
     * Quick-start options.
     *
     * @param data an IDX folder, or null for the system Fashion-MNIST or else the built-in sample
     * @param probeInterval 0 runs without listeners; {@link #AUTO}: {@link #autoProbeInterval} of the planned iterations
     * @param tensorboard a TensorBoard log directory (event files, one run folder per worker), or null
     * @param dashboard the dashboard's port on 127.0.0.1 (0: a free one), or null for none
     * @param overheadBudget each listener's share of training time (0: off); NaN: the default with the automatic
     *     interval, off for a short run whose interval was scaled down and for an interval given explicitly
     * @param maxIterations ≤ 0 for no limit
     * @param trainLimit ≤ 0 for all training examples
     */
    public record Options(
            Path data,
            int epochs,
            int batchSize,
            double learningRate,
            double momentum,
            long seed,
            int probeInterval,
            int samples,
            long maxIterations,
            int trainLimit,
            Path out,
            String model,
            boolean trajectory,
            double l2,
            boolean report,
            double overheadBudget,
            Path tensorboard,
            Integer dashboard) {

        /** Options without the trajectory listener and the report, on the small LeNet. */
        public Options(
                Path data,
                int epochs,
                int batchSize,
                double learningRate,
                double momentum,
                long seed,
                int probeInterval,
                int samples,
                long maxIterations,
                int trainLimit,
                Path out) {
            this(
                    data,
                    epochs,
                    batchSize,
                    learningRate,
                    momentum,
                    seed,
                    probeInterval,
                    samples,
                    maxIterations,
                    trainLimit,
                    out,
                    "lenet",
                    false,
                    0,
                    false,
                    OVERHEAD_BUDGET,
                    null,
                    null);
        }

        /** These options with another overhead budget for each listener (0: the configured intervals exactly). */
        public Options withOverheadBudget(double fraction) {
            return new Options(
                    data,
                    epochs,
                    batchSize,
                    learningRate,
                    momentum,
                    seed,
                    probeInterval,
                    samples,
                    maxIterations,
                    trainLimit,
                    out,
                    model,
                    trajectory,
                    l2,
                    report,
                    fraction,
                    tensorboard,
                    dashboard);
        }

        /**
         * These options with live outputs: TensorBoard event files under {@code tensorboardDir} and the dashboard on
         * 127.0.0.1:{@code dashboardPort} (0: a free port); null leaves either off.
         */
        public Options withMonitoring(Path tensorboardDir, Integer dashboardPort) {
            return new Options(
                    data,
                    epochs,
                    batchSize,
                    learningRate,
                    momentum,
                    seed,
                    probeInterval,
                    samples,
                    maxIterations,
                    trainLimit,
                    out,
                    model,
                    trajectory,
                    l2,
                    report,
                    overheadBudget,
                    tensorboardDir,
                    dashboardPort);
        }

        /** Validates every option, naming it, its bound and the value. */
        public Options {
            UserInputException.require(epochs >= 1, "epochs must be >= 1, got " + epochs);
            UserInputException.require(batchSize >= 2, "batch-size must be >= 2, got " + batchSize);
            UserInputException.require(
                    learningRate > 0 && Double.isFinite(learningRate), "lr must be > 0, got " + learningRate);
            UserInputException.require(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got " + momentum);
            UserInputException.require(
                    probeInterval >= 0 || probeInterval == AUTO, "probe-interval must be >= 0, got " + probeInterval);
            UserInputException.require(samples >= 2, "samples must be >= 2, got " + samples);
            UserInputException.require(out != null, "out must be given");
            UserInputException.require(
                    "lenet".equals(model) || "mlp".equals(model), "model must be lenet or mlp, got " + model);
            UserInputException.require(l2 >= 0 && Double.isFinite(l2), "l2 must be >= 0, got " + l2);
            UserInputException.require(l2 == 0 || "mlp".equals(model), "l2 is supported with --model mlp only");
            UserInputException.require(
                    Double.isNaN(overheadBudget) || overheadBudget >= 0 && overheadBudget < 1,
                    "overhead-budget must be in [0, 1), got " + overheadBudget);
            UserInputException.require(
                    dashboard == null || dashboard >= 0 && dashboard <= 65_535,
                    "dashboard port must be in 0..65535, got " + dashboard);
        }
    }

    /** Training examples D is computed over for the report's spectra (the first ones). */
    static final int SPECTRUM_EXAMPLES = 1_000;

    /** Writes {@code spectrum-NNN.json} (sketch, ℓ = 64) at 20% and 40% of the planned iterations. */
    static final class SpectrumSnapshots extends BaseTrainingListener {
        private final long planned;
        private final DataSet data;
        private final Path out;

        SpectrumSnapshots(long planned, DataSet data, Path out) {
            this.planned = planned;
            this.data = data;
            this.out = out;
        }

        @Override
        public void iterationDone(Model model, int iteration, int epoch) {
            for (int pct : new int[] {20, 40}) {
                if (iteration + 1 == Math.max(1, Math.round(planned * pct / 100.0))) {
                    try {
                        write(model, data, pct, out);
                    } catch (IOException | RuntimeException e) {
                        log.warn(
                                "report: the spectrum at {}% of training failed: {}; the report goes without it",
                                pct, e.toString());
                    }
                }
            }
        }

        static void write(Model model, DataSet data, int pct, Path out) throws IOException {
            Spectrum.compute(
                    model,
                    data,
                    false,
                    64,
                    250,
                    "quick-start model at " + pct + "% of training",
                    data.numExamples() + " training examples",
                    out.resolve(String.format(Locale.ROOT, "spectrum-%03d.json", pct)));
        }
    }

    /** What a run produced. */
    public record Result(Map<String, Object> summary, Path out) {}

    private QuickStart() {}

    /** {@link Options#probeInterval()} when none was given: {@link #autoProbeInterval}. */
    public static final int AUTO = -1;

    /** The {@code --data} value that selects the built-in sample even where Fashion-MNIST is installed. */
    public static final String BUILTIN = "builtin";

    /** Runs with fewer planned iterations than this many times the default interval scale the interval down. */
    public static final int MIN_PROBES = 10;

    /**
     * The probe interval when none is given: the default, or less for a short run, so that it has at least
     * {@link #MIN_PROBES} probes (iterations 0, n, 2n, …).
     */
    public static int autoProbeInterval(long plannedIterations) {
        long n = (plannedIterations - 1) / (MIN_PROBES - 1);
        return (int) Math.max(1, Math.min(DEFAULT_PROBE_INTERVAL, n));
    }

    /**
     * Resolves the data: the given folder ({@value #BUILTIN}: the built-in sample), else the system Fashion-MNIST,
     * else the built-in sample.
     */
    static FashionMnist.Data loadData(Path data, int trainLimit) {
        int limit = trainLimit > 0 ? trainLimit : Integer.MAX_VALUE;
        boolean builtinAsked = data != null && data.toString().equals(BUILTIN);
        if (data != null && !builtinAsked) {
            return FashionMnist.load(data, limit, Integer.MAX_VALUE);
        }
        if (!builtinAsked && FashionMnist.isPresent(FashionMnist.SYSTEM_DIR)) {
            log.info("data: Fashion-MNIST from {}", FashionMnist.SYSTEM_DIR);
            return FashionMnist.load(FashionMnist.SYSTEM_DIR, limit, Integer.MAX_VALUE);
        }
        if (builtinAsked) {
            log.info("data: the built-in sample of 2,000 training and 500 test images shipped in the jar (--data "
                    + BUILTIN + ")");
        } else {
            log.info(
                    "data: Fashion-MNIST is not installed at {} (apt-get install dataset-fashion-mnist); using the "
                            + "built-in sample of 2,000 training and 500 test images shipped in the jar",
                    FashionMnist.SYSTEM_DIR);
        }
        FashionMnist.Data builtin = BuiltinData.load();
        if (limit >= builtin.train().numExamples()) {
            return builtin;
        }
        // --train-limit applies to the built-in sample too (it used to be ignored there).
        return new FashionMnist.Data((DataSet) builtin.train().getRange(0, limit), builtin.test(), builtin.source());
    }

    /** Runs the quick start. */
    public static Result run(Options o) throws IOException {
        long t0 = System.nanoTime();
        FashionMnist.Data data = loadData(o.data(), o.trainLimit());
        Files.createDirectories(o.out());
        int n = data.train().numExamples();
        UserInputException.require(
                o.batchSize() <= n,
                "batch-size must be <= the number of training examples " + n + ", got " + o.batchSize());
        MultiLayerNetwork net = "mlp".equals(o.model())
                ? SmallLeNet.mlp(o.seed(), o.learningRate(), o.momentum(), o.l2())
                : SmallLeNet.build(o.seed(), o.learningRate(), o.momentum());
        long perEpoch = (n + o.batchSize() - 1) / o.batchSize();
        long planned = perEpoch * o.epochs();
        if (o.maxIterations() > 0) {
            planned = Math.min(planned, o.maxIterations());
        }
        ParameterLayout layout = ParameterLayout.of(net);
        log.info(
                "model: small LeNet, {} trainable parameters ({} in the flat vector); {} training and {} test "
                        + "examples; {} epoch(s) of {} iterations at batch {}, lr {}, momentum {}, seed {}",
                layout.numParams(),
                net.numParams(),
                n,
                data.test().numExamples(),
                o.epochs(),
                perEpoch,
                o.batchSize(),
                o.learningRate(),
                o.momentum(),
                o.seed());

        int probeEvery = o.probeInterval() == AUTO ? autoProbeInterval(planned) : o.probeInterval();
        double budget = Double.isNaN(o.overheadBudget()) ? OVERHEAD_BUDGET : o.overheadBudget();
        if (o.probeInterval() == AUTO && probeEvery < DEFAULT_PROBE_INTERVAL) {
            if (Double.isNaN(o.overheadBudget())) {
                budget = 0; // a short run: every planned probe, or the charts would be empty
            }
            log.info(
                    "listener: a short run of {} iterations, so probes every {} instead of {} for at least {} probes{} "
                            + "(--probe-interval sets it)",
                    planned,
                    probeEvery,
                    DEFAULT_PROBE_INTERVAL,
                    MIN_PROBES,
                    Double.isNaN(o.overheadBudget()) ? ", with the overhead budget off" : "");
        }
        if (o.probeInterval() != AUTO && probeEvery > 0 && Double.isNaN(o.overheadBudget())) {
            budget = 0; // an interval asked for is kept
            log.info(
                    "listener: probes every {} iterations as asked, with the overhead budget off (--overhead-budget {} "
                            + "lets them thin out to keep the listeners' share of training time under it)",
                    probeEvery,
                    OVERHEAD_BUDGET);
        }
        Monitors monitors = Monitors.open(o.tensorboard(), o.dashboard());
        DiffusionListener diffusion = null;
        if (probeEvery > 0) {
            DiffusionListener.Builder db = new DiffusionListener.Builder()
                    .probeEvery(probeEvery)
                    .overheadBudget(budget)
                    .gradientsPerProbe(o.samples())
                    .seed(o.seed())
                    .jsonlSink(o.out().resolve("metrics.jsonl"))
                    .csvSink(o.out().resolve("metrics.csv"))
                    .sink(scalarsFile(o.out().resolve(SCALARS_FILE)));
            monitors.addTo(db::sink);
            diffusion = db.build();
            net.addListeners(diffusion);
            log.info(
                    "listener: DiffusionListener every {} iterations, k = {} per-example gradients (--probe-every 0 "
                            + "turns it off)",
                    probeEvery,
                    o.samples());
        } else {
            log.info("listener: none (--probe-every 0)");
        }
        TrajectoryListener trajectory = null;
        if (o.trajectory()) {
            TrajectoryListener.Builder tb = new TrajectoryListener.Builder()
                    .overheadBudget(budget)
                    .seed(o.seed())
                    .trajectoryFile(o.out().resolve("trajectory.csv"))
                    .jsonlSink(o.out().resolve("loops.jsonl"));
            monitors.addTo(tb::sink);
            trajectory = tb.build();
            net.addListeners(trajectory);
            log.info("listener: TrajectoryListener every iteration (less often if that takes over 1% of training "
                    + "time), 16 random directions, loop analysis every 2,000 iterations; trajectory.csv and "
                    + "loops.jsonl");
        }
        net.addListeners(new ProgressListener(planned));
        DataSet spectrumData = null;
        if (o.report()) {
            // D over a fixed subset of the training data at 20% and 40% of training (and at the end, below),
            // for the report's histogram and overlay; on a private probe network, like every probe.
            spectrumData = (DataSet) data.train().getRange(0, Math.min(n, SPECTRUM_EXAMPLES));
            net.addListeners(new SpectrumSnapshots(planned, spectrumData, o.out()));
        }

        // The library's sampler: the listener reads N, b and the scheme from it (MinibatchSampler.lastOnThisThread).
        MaxBatches train =
                new MaxBatches(new WithoutReplacementSampler(data.train(), o.batchSize(), o.seed()), o.maxIterations());
        long tTrain = System.nanoTime();
        net.fit(train, o.epochs());
        double trainSeconds = (System.nanoTime() - tTrain) / 1e9;
        if (diffusion != null) {
            diffusion.close();
        }
        if (trajectory != null) {
            trajectory.close();
        }

        ModelSerializer.writeModel(net, o.out().resolve("model.zip").toFile(), false);
        if (spectrumData != null) {
            SpectrumSnapshots.write(net, spectrumData, 100, o.out());
        }
        Evaluation eval = net.evaluate(new ViewIterator(data.test(), 500));
        double testLoss = net.score(data.test(), false);
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("data", data.source());
        config.put("epochs", o.epochs());
        config.put("batch_size", o.batchSize());
        config.put("lr", o.learningRate());
        config.put("momentum", o.momentum());
        config.put("seed", o.seed());
        config.put("probe_interval", probeEvery);
        config.put("samples", o.samples());
        config.put("max_iterations", o.maxIterations() > 0 ? o.maxIterations() : null);
        config.put("train_limit", o.trainLimit() > 0 ? o.trainLimit() : null);
        config.put("model", o.model());
        config.put("trajectory", o.trajectory());
        config.put("overhead_budget", budget);
        config.put("l2", o.l2());
        config.put("report", o.report());

        Map<String, Object> s = new LinkedHashMap<>();
        s.put("model", "mlp".equals(o.model()) ? "mlp-784-64-10" : "small-lenet");
        s.put("num_params", layout.numParams());
        s.put("num_params_total", net.numParams());
        s.put("train_examples", n);
        s.put("test_examples", data.test().numExamples());
        s.put("iterations", net.getIterationCount());
        s.put("epochs_completed", net.getEpochCount());
        s.put("test_accuracy", eval.accuracy());
        s.put("test_loss", testLoss);
        s.put("final_loss", net.score());
        s.put("probes", diffusion == null ? 0 : diffusion.probeCount());
        s.put("probe_failures", diffusion == null ? 0 : diffusion.failureCount());
        s.put("train_seconds", trainSeconds);
        s.put("wall_time_s", (System.nanoTime() - t0) / 1e9);
        s.put("omp_num_threads", System.getenv("OMP_NUM_THREADS"));
        s.put("final_params_sha256", sha256(net.params()));
        if (trajectory != null && trajectory.lastAnalysis() != null) {
            s.put("last_loop_verdict", trajectory.lastAnalysis().verdict().name());
            s.put(
                    "last_loop_p_value",
                    Double.isFinite(trajectory.lastAnalysis().pValue())
                            ? trajectory.lastAnalysis().pValue()
                            : null);
        }
        s.put("config", config);
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        om.writeValue(o.out().resolve("summary.json").toFile(), s);
        if (o.report()) {
            Report.run(o.out(), o.out().resolve("report"));
        }
        log.info(String.format(
                Locale.ROOT,
                "done: test accuracy %.4f, test loss %.4f, %d iterations in %.1f s; wrote %s",
                eval.accuracy(),
                testLoss,
                net.getIterationCount(),
                trainSeconds,
                o.out().toAbsolutePath()));
        monitors.close();
        return new Result(s, o.out());
    }

    /** The file of iteration scalars the quick start writes beside metrics.jsonl (the report's loss curve). */
    public static final String SCALARS_FILE = "scalars.jsonl";

    /**
     * The sink that writes {@link #SCALARS_FILE}: every iteration's scalars as one JSON line each (probe records go to
     * metrics.jsonl, not here).
     */
    static RecordSink scalarsFile(Path out) {
        JsonlSink lines = new JsonlSink(out, false);
        return new RecordSink() {
            @Override
            public void write(ProbeRecord record) {}

            @Override
            public void writeScalars(IterationScalars s) throws IOException {
                lines.write(s.toRecord());
            }

            @Override
            public void close() throws IOException {
                lines.close();
            }

            @Override
            public String toString() {
                return "scalars " + out;
            }
        };
    }

    /** SHA-256 of a parameter vector as little-endian float32, hex. */
    public static String sha256(INDArray params) {
        float[] v = params.castTo(DataType.FLOAT).toFloatVector();
        ByteBuffer buf = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            buf.putFloat(f);
        }
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(buf.array()));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

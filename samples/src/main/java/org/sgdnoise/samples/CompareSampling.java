package org.sgdnoise.samples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.ViewIterator;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.diffusion.DiffusionStatistics;
import org.sgdnoise.diffusion.DiffusionStats;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.diffusion.Temperature;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.models.SmallLeNet;
import org.sgdnoise.samples.chart.Plot;
import org.sgdnoise.sampling.MinibatchSampler;
import org.sgdnoise.sampling.NoiseCheck;
import org.sgdnoise.sampling.WithReplacementSampler;
import org.sgdnoise.sampling.WithoutReplacementSampler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code compare-sampling} command's work: the same model, learning rate and epochs, trained with
 * minibatches drawn with and without replacement, for several batch sizes and seeds; per run the final
 * train loss and accuracy, test accuracy, generalisation gap, temperature and D statistics at the end.
 * Runs are appended to {@code runs.jsonl} as they finish, and a rerun with the same folder skips them.
 */
public final class CompareSampling {

    private static final Logger log = LoggerFactory.getLogger(CompareSampling.class);

    /** Per-example gradients behind the end-of-run D statistics. */
    static final int PROBE_SAMPLES = 128;

    /** Width and height in pixels of {@code test_accuracy.png} and {@code gap.png}. */
    static final int CHART_WIDTH = 720;

    /** See {@link #CHART_WIDTH}. */
    static final int CHART_HEIGHT = 480;

    /**
     * Options.
     *
     * @param trainLimit ≤ 0 for all training examples
     * @param testLimit ≤ 0 for all test examples
     */
    public record Options(
            Path data,
            String model,
            int[] batchSizes,
            int seeds,
            int epochs,
            double learningRate,
            double momentum,
            int trainLimit,
            int testLimit,
            Path out) {
        public Options {
            if (!"lenet".equals(model) && !"mlp".equals(model)) {
                throw new UserInputException("model must be lenet or mlp, got " + model);
            }
            if (batchSizes == null || batchSizes.length == 0) {
                throw new UserInputException("batch-sizes must list at least one size");
            }
            for (int b : batchSizes) {
                if (b < 2) {
                    throw new UserInputException("batch sizes must be >= 2, got " + b);
                }
            }
            if (seeds < 1 || epochs < 1 || !(learningRate > 0) || momentum < 0 || momentum >= 1) {
                throw new UserInputException("need seeds >= 1, epochs >= 1, lr > 0 and momentum in [0, 1)");
            }
        }
    }

    private CompareSampling() {}

    /** Runs (or resumes) the comparison and writes runs.jsonl, summary.csv, summary.md and the plots. */
    public static Map<String, Object> run(Options o) throws IOException {
        FashionMnist.Data data = QuickStart.loadData(o.data(), o.trainLimit());
        DataSet train = data.train();
        DataSet test = o.testLimit() > 0 && data.test().numExamples() > o.testLimit()
                ? (DataSet) data.test().getRange(0, o.testLimit())
                : data.test();
        int n = train.numExamples();
        Files.createDirectories(o.out());
        Path runsFile = o.out().resolve("runs.jsonl");
        Map<String, JsonNode> done = readRuns(runsFile);
        List<int[]> plan = new ArrayList<>();
        for (int b : o.batchSizes()) {
            if (b > n) {
                log.info("compare-sampling: skipping b = {}: larger than N = {}", b, n);
                continue;
            }
            for (int seed = 0; seed < o.seeds(); seed++) {
                for (int scheme = 0; scheme < 2; scheme++) {
                    plan.add(new int[] {b, scheme, seed});
                }
            }
        }
        long t0 = System.nanoTime();
        int ran = 0;
        int skipped = 0;
        for (int i = 0; i < plan.size(); i++) {
            int b = plan.get(i)[0];
            SamplingScheme scheme =
                    plan.get(i)[1] == 0 ? SamplingScheme.WITH_REPLACEMENT : SamplingScheme.WITHOUT_REPLACEMENT;
            int seed = plan.get(i)[2];
            String key = key(b, scheme, seed);
            if (done.containsKey(key)) {
                skipped++;
                continue;
            }
            Map<String, Object> r = oneRun(o, train, test, b, scheme, seed);
            String line = new ObjectMapper().writeValueAsString(r) + "\n";
            Files.writeString(
                    runsFile, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            done.put(key, new ObjectMapper().readTree(line));
            ran++;
            double elapsed = (System.nanoTime() - t0) / 1e9;
            int left = plan.size() - i - 1;
            log.info(String.format(
                    Locale.ROOT,
                    "compare-sampling: run %d/%d done (b=%d, %s, seed %d): "
                            + "test accuracy %.4f, gap %.4f; %.0f s elapsed, "
                            + "about %.0f s left",
                    i + 1,
                    plan.size(),
                    b,
                    scheme.id(),
                    seed,
                    (Double) r.get("test_accuracy"),
                    (Double) r.get("gap"),
                    elapsed,
                    ran == 0 ? 0 : elapsed / ran * left));
        }
        if (skipped > 0) {
            log.info("compare-sampling: {} finished runs found in {} were not repeated", skipped, runsFile);
        }
        Map<String, Object> summary = summarise(o, done, n);
        noiseCheck(o, train);
        return summary;
    }

    /** Examples and batch size of the noise check (b/N = 1/4, where the schemes differ by 1.34). */
    static final int NOISE_N = 256;

    static final int NOISE_B = 64;
    static final int NOISE_BATCHES = 2000;

    /**
     * The theory check at fixed weights (the model at initialisation, seed 0): measured against predicted
     * trace of the minibatch-gradient covariance for both schemes, appended to summary.md and written to
     * noise_check.json.
     */
    private static void noiseCheck(Options o, DataSet train) throws IOException {
        int n = Math.min(NOISE_N, train.numExamples());
        int b = Math.max(1, Math.min(NOISE_B, n / 4));
        DataSet subset = n < train.numExamples() ? (DataSet) train.getRange(0, n) : train;
        MultiLayerNetwork net = "mlp".equals(o.model())
                ? SmallLeNet.mlp(0, o.learningRate(), o.momentum())
                : SmallLeNet.build(0, o.learningRate(), o.momentum());
        List<NoiseCheck.Result> results = NoiseCheck.run(net, subset, b, NOISE_BATCHES, 0);
        new ObjectMapper()
                .writerWithDefaultPrettyPrinter()
                .writeValue(o.out().resolve("noise_check.json").toFile(), results);
        StringBuilder md = new StringBuilder(String.format(
                Locale.ROOT,
                "%n## Noise check at fixed weights%n%n"
                        + "The model at initialisation (seed 0), N = %d examples, b = %d, %d "
                        + "batches per scheme: the mean of |g_B − ḡ|² against tr(D)/b (with replacement) and "
                        + "tr(D)/b·(N − b)/(N − 1) (without), with a 99%% interval for the ratio.%n%n"
                        + "| scheme | predicted | measured | measured / predicted (99%% interval) |%n"
                        + "|---|---|---|---|%n",
                n,
                b,
                NOISE_BATCHES));
        for (var r : results) {
            md.append(String.format(
                    Locale.ROOT,
                    "| %s | %.5g | %.5g | %.4f [%.4f, %.4f] |%n",
                    r.scheme().id(),
                    r.predicted(),
                    r.measured(),
                    r.ratio(),
                    r.ratioLow(),
                    r.ratioHigh()));
        }
        md.append(String.format(
                Locale.ROOT,
                "%nMeasured with / without: %.4f (theory (N − 1)/(N − b) = %.4f).%n",
                results.get(0).measured() / results.get(1).measured(),
                (double) (n - 1) / (n - b)));
        Files.writeString(
                o.out().resolve("summary.md"), md.toString(), StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        log.info(
                "compare-sampling: noise check: measured/predicted {} (with), {} (without)",
                String.format(Locale.ROOT, "%.3f", results.get(0).ratio()),
                String.format(Locale.ROOT, "%.3f", results.get(1).ratio()));
    }

    static String key(int b, SamplingScheme s, int seed) {
        return b + "/" + s.id() + "/" + seed;
    }

    private static Map<String, JsonNode> readRuns(Path file) throws IOException {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        if (!Files.exists(file)) {
            return out;
        }
        ObjectMapper om = new ObjectMapper();
        List<String> good = new ArrayList<>();
        boolean bad = false;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            try {
                JsonNode r = om.readTree(line);
                out.put(r.get("key").asText(), r);
                good.add(line);
            } catch (IOException | RuntimeException e) {
                bad = true;
                log.warn(
                        "compare-sampling: dropping an unreadable line of {} (a torn record of a killed run); "
                                + "that run is repeated",
                        file);
            }
        }
        if (bad) { // rewrite without the torn line, so appended records start on a line of their own
            Files.writeString(file, good.isEmpty() ? "" : String.join("\n", good) + "\n", StandardCharsets.UTF_8);
        }
        return out;
    }

    private static Map<String, Object> oneRun(
            Options o, DataSet train, DataSet test, int b, SamplingScheme scheme, int seed) {
        long t0 = System.nanoTime();
        MultiLayerNetwork net = "mlp".equals(o.model())
                ? SmallLeNet.mlp(seed, o.learningRate(), o.momentum())
                : SmallLeNet.build(seed, o.learningRate(), o.momentum());
        MinibatchSampler sampler = scheme == SamplingScheme.WITH_REPLACEMENT
                ? new WithReplacementSampler(train, b, seed)
                : new WithoutReplacementSampler(train, b, seed);
        net.fit(sampler, o.epochs());
        Evaluation trainEval = net.evaluate(new ViewIterator(train, 500));
        Evaluation testEval = net.evaluate(new ViewIterator(test, 500));
        double trainLoss = net.score(train, false);
        PerExampleGradients engine =
                new PerExampleGradients(ProbeMode.EVAL, PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES);
        int[] idx = PerExampleGradients.select(ExampleSelection.RANDOM, train.numExamples(), PROBE_SAMPLES, seed);
        INDArray block = engine.compute(net, ProbeBatch.of(train), idx).rows();
        DiffusionStats d = DiffusionStatistics.compute(block);
        block.close();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("key", key(b, scheme, seed));
        r.put("batch_size", b);
        r.put("sampling", scheme.id());
        r.put("seed", seed);
        r.put("epochs", o.epochs());
        r.put("iterations", net.getIterationCount());
        r.put("train_loss", trainLoss);
        r.put("train_accuracy", trainEval.accuracy());
        r.put("test_accuracy", testEval.accuracy());
        r.put("gap", trainEval.accuracy() - testEval.accuracy());
        r.put("temperature", Temperature.of(o.learningRate(), b, train.numExamples(), scheme));
        r.put(
                "temperature_momentum",
                Temperature.withMomentum(
                        Temperature.of(o.learningRate(), b, train.numExamples(), scheme), o.momentum()));
        r.put("trace", d.trace());
        r.put("rank", d.rank());
        r.put("rank_capped", d.rankCapped());
        r.put("participation_ratio", Double.isFinite(d.participationRatio()) ? d.participationRatio() : null);
        r.put("probe_samples", d.k());
        r.put("seconds", (System.nanoTime() - t0) / 1e9);
        return r;
    }

    private static double[] meanSd(List<Double> v) {
        double m = v.stream().mapToDouble(x -> x).average().orElse(Double.NaN);
        double s = v.size() < 2
                ? Double.NaN
                : Math.sqrt(v.stream().mapToDouble(x -> (x - m) * (x - m)).sum() / (v.size() - 1));
        return new double[] {m, s};
    }

    private static Map<String, Object> summarise(Options o, Map<String, JsonNode> runs, int n) throws IOException {
        Map<String, Map<Integer, List<JsonNode>>> by = new HashMap<>();
        for (JsonNode r : runs.values()) {
            by.computeIfAbsent(r.get("sampling").asText(), k -> new TreeMap<>())
                    .computeIfAbsent(r.get("batch_size").asInt(), k -> new ArrayList<>())
                    .add(r);
        }
        String[] metrics = {"test_accuracy", "gap", "train_loss", "trace", "rank", "participation_ratio", "temperature"
        };
        StringBuilder csv = new StringBuilder("sampling,batch_size,runs");
        for (String m : metrics) {
            csv.append(',').append(m).append("_mean,").append(m).append("_sd");
        }
        csv.append('\n');
        Map<String, double[][]> acc = new HashMap<>();
        Map<String, double[][]> gap = new HashMap<>();
        for (var e : by.entrySet()) {
            List<Integer> sizes = new ArrayList<>(e.getValue().keySet());
            double[][] a = new double[3][sizes.size()];
            double[][] g = new double[3][sizes.size()];
            for (int i = 0; i < sizes.size(); i++) {
                List<JsonNode> rs = e.getValue().get(sizes.get(i));
                csv.append(e.getKey())
                        .append(',')
                        .append(sizes.get(i))
                        .append(',')
                        .append(rs.size());
                for (String m : metrics) {
                    double[] ms = meanSd(rs.stream()
                            .filter(r -> r.hasNonNull(m))
                            .map(r -> r.get(m).asDouble())
                            .toList());
                    csv.append(',')
                            .append(ms[0])
                            .append(',')
                            .append(Double.isFinite(ms[1]) ? String.valueOf(ms[1]) : "");
                    if (m.equals("test_accuracy")) {
                        a[0][i] = sizes.get(i);
                        a[1][i] = ms[0];
                        a[2][i] = ms[1];
                    } else if (m.equals("gap")) {
                        g[0][i] = sizes.get(i);
                        g[1][i] = ms[0];
                        g[2][i] = ms[1];
                    }
                }
                csv.append('\n');
            }
            acc.put(e.getKey(), a);
            gap.put(e.getKey(), g);
        }
        Files.writeString(o.out().resolve("summary.csv"), csv.toString());
        Plot accPlot = new Plot("Test accuracy (mean ± sd over seeds)", "batch size", "test accuracy").log2X();
        Plot gapPlot = new Plot("Generalisation gap: train − test accuracy", "batch size", "gap").log2X();
        for (String s : new String[] {"with_replacement", "without_replacement"}) {
            if (acc.containsKey(s)) {
                Color c = s.startsWith("with_") ? new Color(200, 60, 40) : new Color(40, 90, 200);
                accPlot.errorBars(s.replace('_', ' '), acc.get(s)[0], acc.get(s)[1], acc.get(s)[2], c);
                gapPlot.errorBars(s.replace('_', ' '), gap.get(s)[0], gap.get(s)[1], gap.get(s)[2], c);
            }
        }
        accPlot.write(o.out().resolve("test_accuracy.png"), CHART_WIDTH, CHART_HEIGHT);
        gapPlot.write(o.out().resolve("gap.png"), CHART_WIDTH, CHART_HEIGHT);

        StringBuilder md = new StringBuilder("# Sampling with versus without replacement\n\n");
        md.append(String.format(
                Locale.ROOT,
                "Model %s, N = %d, %d epoch(s), lr %s, momentum %s, %d seed(s) per cell.%n%n",
                o.model(),
                n,
                o.epochs(),
                o.learningRate(),
                o.momentum(),
                o.seeds()));
        md.append("| b | test accuracy with | test accuracy without | higher | difference vs spread "
                + "| gap with | gap without |\n");
        md.append("|---|---|---|---|---|---|---|\n");
        Map<Integer, List<JsonNode>> with = by.getOrDefault("with_replacement", Map.of());
        Map<Integer, List<JsonNode>> without = by.getOrDefault("without_replacement", Map.of());
        for (Integer b : new TreeSet<>(with.keySet())) {
            if (!without.containsKey(b)) {
                continue;
            }
            double[] aw = meanSd(with.get(b).stream()
                    .map(r -> r.get("test_accuracy").asDouble())
                    .toList());
            double[] ao = meanSd(without.get(b).stream()
                    .map(r -> r.get("test_accuracy").asDouble())
                    .toList());
            double[] gw = meanSd(
                    with.get(b).stream().map(r -> r.get("gap").asDouble()).toList());
            double[] go = meanSd(
                    without.get(b).stream().map(r -> r.get("gap").asDouble()).toList());
            double diff = aw[0] - ao[0];
            double spread = Math.sqrt(sq(aw[1]) + sq(ao[1]));
            String verdict = !Double.isFinite(spread)
                    ? "no spread (1 seed)"
                    : Math.abs(diff) > spread
                            ? "exceeds the seed spread (" + fmt(spread) + ")"
                            : "within the seed spread (" + fmt(spread) + ")";
            md.append(String.format(
                    Locale.ROOT,
                    "| %d | %s ± %s | %s ± %s | %s | %s | %s | %s |%n",
                    b,
                    fmt(aw[0]),
                    fmt(aw[1]),
                    fmt(ao[0]),
                    fmt(ao[1]),
                    diff > 0 ? "with" : diff < 0 ? "without" : "tie",
                    verdict,
                    fmt(gw[0]),
                    fmt(go[0])));
        }
        md.append("\nThe paper predicts that sampling with replacement (the hotter of the two, β⁻¹ = η/2b against "
                + "η/2b·(1 − b/N)) generalises better, most at large b. "
                + "A difference within the seed-to-seed spread "
                + "does not decide it.\n");
        Files.writeString(o.out().resolve("summary.md"), md.toString());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("runs", runs.size());
        out.put("out", o.out().toString());
        return out;
    }

    private static double sq(double x) {
        return x * x;
    }

    private static String fmt(double x) {
        return Double.isFinite(x) ? String.format(Locale.ROOT, "%.4f", x) : "n/a";
    }
}

package org.sgdnoise.samples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.models.SmallLeNet;
import org.sgdnoise.samples.CompareSampling.Arm;
import org.sgdnoise.samples.chart.Plot;
import org.sgdnoise.sampling.PairedComparison;
import org.sgdnoise.sampling.ReshuffledSgd;
import org.sgdnoise.sampling.SamplerNoise;
import org.sgdnoise.sampling.SamplerNoise.Gradients;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The report of {@code compare-sampling}: per-cell means, paired differences with 95% intervals (paired t and sign
 * test) and the power, the stationary variances against the paper's linearised prediction, the minibatch noise
 * through both samplers at the reference point (variance, within-epoch lag covariance, epoch sum), the TRAIN/EVAL
 * gap on a BatchNorm network, and a verdict by a stated rule. Writes summary.md, summary.json, summary.csv and the
 * plots.
 */
final class CompareSamplingReport {

    private static final Logger log = LoggerFactory.getLogger(CompareSamplingReport.class);

    /** The fewest epochs per noise measurement. */
    static final int MIN_EPOCHS = 10;

    /** Examples and batch sizes of the TRAIN/EVAL gap on the BatchNorm LeNet. */
    static final int GAP_N = 512;

    static final int[] GAP_BATCHES = {32, 64, 128};

    /** Training steps (b = 64) before the gap is measured. */
    static final int GAP_WARMUP = 60;

    /** Epochs per gap measurement. */
    static final int GAP_EPOCHS = 10;

    /** The metrics compared between arms, lower-is-better first. */
    static final String[] METRICS = {"test_loss", "test_accuracy", "gap_loss", "gap_accuracy", "train_loss"};

    static final int WIDTH = 760;
    static final int HEIGHT = 480;

    private CompareSamplingReport() {}

    static void write(
            CompareSampling.Options o,
            int n,
            CompareSampling.Directions dirs,
            List<JsonNode> runs,
            MultiLayerNetwork reference,
            DataSet train)
            throws IOException {
        TreeSet<Integer> sizes = new TreeSet<>();
        for (JsonNode r : runs) {
            sizes.add(r.get("batch_size").asInt());
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("protocol", o.protocol(null));
        StringBuilder md = new StringBuilder("# Sampling with versus without replacement\n\n");
        double seconds =
                runs.stream().mapToDouble(r -> r.get("seconds").asDouble()).sum();
        md.append(String.format(
                Locale.ROOT,
                "Model %s on N = %d training examples, %d steps per run (the second half measured, %d evaluations), "
                        + "η = %s, L2 %s, %d runs (%.0f s of training on this machine). Seeds 1 … %d are paired: the "
                        + "arms of one seed start from the same initial weights, and the two arms without "
                        + "replacement draw the same batches. The matched arm runs at η·(N − 1)/(N − b), the "
                        + "temperature of the arm with replacement.%n%n",
                o.model(),
                n,
                o.steps(),
                o.evaluations(),
                o.learningRate(),
                o.l2(),
                runs.size(),
                seconds,
                maxSeed(runs)));
        directions(md, dirs, o);
        StringBuilder csv = new StringBuilder("batch_size,arm,runs");
        for (String m : METRICS) {
            csv.append(',').append(m).append("_mean,").append(m).append("_sd");
        }
        csv.append('\n');
        md.append(
                "## Means over seeds\n\n| b | arm | runs | test loss | test accuracy | gap (accuracy) | train loss |\n"
                        + "|---|---|---|---|---|---|---|\n");
        for (int b : sizes) {
            for (Arm arm : Arm.values()) {
                List<JsonNode> cell = cell(runs, b, arm);
                if (cell.isEmpty()) {
                    continue;
                }
                csv.append(b).append(',').append(arm.id()).append(',').append(cell.size());
                md.append(String.format(Locale.ROOT, "| %d | %s | %d |", b, arm.id(), cell.size()));
                for (String m : METRICS) {
                    double[] v = values(cell, m);
                    csv.append(',').append(mean(v)).append(',').append(sd(v));
                    if (!m.equals("gap_loss")) {
                        md.append(String.format(Locale.ROOT, " %.4f ± %.4f |", mean(v), sd(v)));
                    }
                }
                csv.append('\n');
                md.append('\n');
            }
        }
        Files.writeString(o.out().resolve("summary.csv"), csv.toString(), StandardCharsets.UTF_8);
        List<Map<String, Object>> pairs = new ArrayList<>();
        md.append(
                "\n## Paired differences\n\nEach row is the mean over seeds of (first arm − second arm), with its 95% "
                        + "Student-t interval, the paired t test's p, the sign test (pairs with first > second : first < "
                        + "second, exact two-sided p), and the smallest true difference the t test detects with 80% power "
                        + "at these seeds.\n\n| b | metric | comparison | mean difference | 95% interval | t p | signs | sign p "
                        + "| detectable |\n|---|---|---|---|---|---|---|---|---|\n");
        Arm[][] comparisons = {{Arm.WITH, Arm.WITHOUT}, {Arm.WITH, Arm.MATCHED}, {Arm.WITHOUT, Arm.MATCHED}};
        for (int b : sizes) {
            for (String m : new String[] {"test_loss", "test_accuracy", "gap_accuracy"}) {
                for (Arm[] c : comparisons) {
                    PairedComparison p = paired(runs, b, c[0], c[1], m, false);
                    if (p.n() == 0) {
                        continue;
                    }
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("batch_size", b);
                    row.put("metric", m);
                    row.put("first", c[0].id());
                    row.put("second", c[1].id());
                    row.put("comparison", p);
                    pairs.add(row);
                    md.append(String.format(
                            Locale.ROOT,
                            "| %d | %s | %s − %s | %+.5f | [%+.5f, %+.5f] | %.3g | %d : %d | %.3g | %.5f |%n",
                            b,
                            m,
                            c[0].id(),
                            c[1].id(),
                            p.mean(),
                            p.low(),
                            p.high(),
                            p.tP(),
                            p.positive(),
                            p.negative(),
                            p.signP(),
                            p.detectable()));
                }
            }
        }
        json.put("paired", pairs);
        List<Map<String, Object>> variances = variances(md, runs, sizes, dirs, o, n);
        json.put("stationary_variance", variances);
        List<Map<String, Object>> noise = noise(md, o, reference, train, sizes);
        json.put("noise", noise);
        json.put("train_eval_gap", cachedGap(md, o, train));
        String verdict = verdict(runs, sizes, variances);
        md.append("\n## Verdict\n\n").append(verdict).append('\n');
        json.put("verdict", verdict);
        Files.writeString(o.out().resolve("summary.md"), md.toString(), StandardCharsets.UTF_8);
        new ObjectMapper()
                .writerWithDefaultPrettyPrinter()
                .writeValue(o.out().resolve("summary.json").toFile(), json);
        plots(o, runs, sizes);
    }

    private static int maxSeed(List<JsonNode> runs) {
        return runs.stream().mapToInt(r -> r.get("seed").asInt()).max().orElse(0);
    }

    private static void directions(StringBuilder md, CompareSampling.Directions dirs, CompareSampling.Options o) {
        md.append("## Directions at the reference point\n\nThe reference point ends a run with replacement at the "
                + "smallest b from seed 0. The stiff and flat directions are the top and bottom eigenvectors of "
                + "the Hessian (L2 included) within the span of D's top "
                + dirs.basis().length
                + " eigenvectors; the random direction is a seeded Gaussian one.\n\n"
                + "| direction | curvature uᵀHu | noise uᵀDu | relaxation 1/(η uᵀHu), steps |\n|---|---|---|---|\n");
        for (int q = 0; q < CompareSampling.DIRECTIONS.length; q++) {
            md.append(String.format(
                    Locale.ROOT,
                    "| %s | %.4g | %.4g | %.0f |%n",
                    CompareSampling.DIRECTIONS[q],
                    dirs.curvature()[q],
                    dirs.noise()[q],
                    1 / (o.learningRate() * dirs.curvature()[q])));
        }
        md.append(String.format(Locale.ROOT, "%ntr D = %.4g at the reference point.%n%n", dirs.traceD()));
    }

    private static List<JsonNode> cell(List<JsonNode> runs, int b, Arm arm) {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode r : runs) {
            if (r.get("batch_size").asInt() == b && r.get("arm").asText().equals(arm.id())) {
                out.add(r);
            }
        }
        out.sort((x, y) -> Integer.compare(x.get("seed").asInt(), y.get("seed").asInt()));
        return out;
    }

    private static double[] values(List<JsonNode> cell, String metric) {
        return cell.stream().mapToDouble(r -> r.get(metric).asDouble()).toArray();
    }

    /** The paired comparison of two arms at b on a metric (or on the log of a variance, direction index q). */
    private static PairedComparison paired(
            List<JsonNode> runs, int b, Arm first, Arm second, String metric, boolean log) {
        Map<Integer, JsonNode> a = new LinkedHashMap<>();
        for (JsonNode r : cell(runs, b, first)) {
            a.put(r.get("seed").asInt(), r);
        }
        List<Double> x = new ArrayList<>();
        List<Double> y = new ArrayList<>();
        for (JsonNode r : cell(runs, b, second)) {
            JsonNode p = a.get(r.get("seed").asInt());
            if (p != null) {
                x.add(value(p, metric, log));
                y.add(value(r, metric, log));
            }
        }
        return PairedComparison.of(
                x.stream().mapToDouble(v -> v).toArray(),
                y.stream().mapToDouble(v -> v).toArray());
    }

    private static double value(JsonNode r, String metric, boolean log) {
        if (metric.startsWith("variance:")) {
            double v =
                    r.get("variance").get(Integer.parseInt(metric.substring(9))).asDouble();
            return log ? Math.log(v) : v;
        }
        return r.get(metric).asDouble();
    }

    /** The linearised stationary variances of an arm in the span, with the given noise model. */
    private static double[] predicted(
            CompareSampling.Directions dirs,
            CompareSampling.Options o,
            int n,
            int b,
            Arm arm,
            ReshuffledSgd.Noise noise) {
        return CompareSampling.predictedVariance(
                dirs, arm.learningRate(o.learningRate(), b, n), b, n, arm.scheme(), noise);
    }

    private static List<Map<String, Object>> variances(
            StringBuilder md,
            List<JsonNode> runs,
            TreeSet<Integer> sizes,
            CompareSampling.Directions dirs,
            CompareSampling.Options o,
            int n) {
        List<Map<String, Object>> out = new ArrayList<>();
        md.append(
                "\n## Stationary variance of the weights\n\nThe variance of u·θ_t over the measured half of each "
                        + "run, its mean over seeds, and two predictions from the stationary covariance of linearised SGD in "
                        + "the span (ReshuffledSgd): the paper's, whose noise is D/b with replacement and (N − b)/(N − 1)·D/b "
                        + "without with batches independent, and the reshuffled one, in which two batches of one epoch "
                        + "covary by −D/(N − 1) as the sampler makes them. The ratio columns: the geometric mean over seeds "
                        + "of the paired ratio with replacement / this arm with its 95% interval, and the two predictions' "
                        + "ratios (the paper's is (N − 1)/(N − b) at the same η and 1 at the matched temperature).\n\n"
                        + "| b | direction | arm | measured | paper | measured / paper | reshuffled | measured / reshuffled "
                        + "| with / this arm (95%) | paper's | reshuffled's |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (int b : sizes) {
            for (int q = 0; q < CompareSampling.DIRECTIONS.length; q++) {
                for (Arm arm : Arm.values()) {
                    List<JsonNode> cell = cell(runs, b, arm);
                    if (cell.isEmpty()) {
                        continue;
                    }
                    int qq = q;
                    double measured = mean(cell.stream()
                            .mapToDouble(r -> r.get("variance").get(qq).asDouble())
                            .toArray());
                    double predicted = predicted(dirs, o, n, b, arm, ReshuffledSgd.Noise.INDEPENDENT)[q];
                    double exact = predicted(dirs, o, n, b, arm, ReshuffledSgd.Noise.EXACT)[q];
                    double paperRatio =
                            predicted(dirs, o, n, b, Arm.WITH, ReshuffledSgd.Noise.INDEPENDENT)[q] / predicted;
                    double exactRatio = predicted(dirs, o, n, b, Arm.WITH, ReshuffledSgd.Noise.EXACT)[q] / exact;
                    PairedComparison p = arm == Arm.WITH ? null : paired(runs, b, Arm.WITH, arm, "variance:" + q, true);
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("batch_size", b);
                    row.put("direction", CompareSampling.DIRECTIONS[q]);
                    row.put("arm", arm.id());
                    row.put("measured", measured);
                    row.put("predicted_paper", Double.isNaN(predicted) ? null : predicted);
                    row.put("predicted_reshuffled", Double.isNaN(exact) ? null : exact);
                    row.put("reshuffled_with_over_arm", Double.isNaN(exactRatio) ? null : exactRatio);
                    row.put("with_over_arm_log", p);
                    row.put("paper_with_over_arm", Double.isNaN(paperRatio) ? null : paperRatio);
                    out.add(row);
                    md.append(String.format(
                            Locale.ROOT,
                            "| %d | %s | %s | %.4g | %s | %s | %s | %s | %s | %s | %s |%n",
                            b,
                            CompareSampling.DIRECTIONS[q],
                            arm.id(),
                            measured,
                            fmt(predicted),
                            fmt(measured / predicted),
                            fmt(exact),
                            fmt(measured / exact),
                            p == null
                                    ? "—"
                                    : String.format(
                                            Locale.ROOT,
                                            "%.3g [%.3g, %.3g]",
                                            Math.exp(p.mean()),
                                            Math.exp(p.low()),
                                            Math.exp(p.high())),
                            arm == Arm.WITH ? "—" : fmt(paperRatio),
                            arm == Arm.WITH ? "—" : fmt(exactRatio)));
                }
            }
        }
        return out;
    }

    private static List<Map<String, Object>> noise(
            StringBuilder md,
            CompareSampling.Options o,
            MultiLayerNetwork reference,
            DataSet train,
            TreeSet<Integer> sizes) {
        List<Map<String, Object>> out = new ArrayList<>();
        int n = train.numExamples();
        md.append("\n## The minibatch noise through the samplers\n\nAt the reference point, DL4J's own minibatch "
                + "gradients (TRAIN mode; this model has no BatchNorm or dropout, so TRAIN is eval-equivalent) drawn "
                + "through WithReplacementSampler and WithoutReplacementSampler, against tr(D)/b (with), "
                + "(N − b)/(N − 1)·tr(D)/b (without), the within-epoch lag covariance 0 (with) and −tr(D)/(N − 1) "
                + "(without), and the epoch-summed noise m·tr(D)/b (with) and 0 (without, b dividing N). "
                + "95% intervals over epochs.\n\n| b | sampler | epochs | noise (95%) | predicted | lag covariance "
                + "(95%) | predicted | epoch sum (95%) | predicted |\n|---|---|---|---|---|---|---|---|---|\n");
        SamplerNoise.FullGradient full = SamplerNoise.FullGradient.of(reference, train);
        Plot lagPlot = new Plot(
                        "Within-epoch lag covariance of the minibatch noise, over tr(D)/(N − 1)", "batch size", "lag")
                .log2X();
        for (SamplingScheme s :
                new SamplingScheme[] {SamplingScheme.WITH_REPLACEMENT, SamplingScheme.WITHOUT_REPLACEMENT}) {
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            List<Double> hs = new ArrayList<>();
            for (int b : sizes) {
                int epochs = Math.max(MIN_EPOCHS, (int) ((long) o.noiseBatches() * b / n));
                SamplerNoise.Result r = SamplerNoise.measure(
                        reference,
                        train,
                        full,
                        CompareSampling.sampler(s, train, b, CompareSampling.REFERENCE_SEED),
                        epochs,
                        Gradients.TRAIN,
                        CompareSampling.REFERENCE_SEED);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("batch_size", b);
                row.put("result", r);
                out.add(row);
                md.append(String.format(
                        Locale.ROOT,
                        "| %d | %s | %d | %s | %.4g | %s | %.4g | %s | %.4g |%n",
                        b,
                        s.id(),
                        epochs,
                        interval(r.noise()),
                        r.noisePredicted(),
                        interval(r.lag()),
                        r.lagPredicted(),
                        interval(r.epochSum()),
                        r.epochSumPredicted()));
                double unit = r.traceD() / (n - 1);
                xs.add((double) b);
                ys.add(r.lag().mean() / unit);
                hs.add((r.lag().high() - r.lag().mean()) / unit);
            }
            lagPlot.errorBars(
                    s.id().replace('_', ' ') + " (95%)",
                    xs.stream().mapToDouble(v -> v).toArray(),
                    ys.stream().mapToDouble(v -> v).toArray(),
                    hs.stream().mapToDouble(v -> v).toArray(),
                    s == SamplingScheme.WITH_REPLACEMENT ? new Color(200, 60, 40) : new Color(40, 90, 200));
        }
        double[] bx = sizes.stream().mapToDouble(v -> v).toArray();
        lagPlot.line("theory without: −1", bx, constant(bx.length, -1));
        lagPlot.line("theory with: 0", bx, constant(bx.length, 0));
        try {
            lagPlot.write(o.out().resolve("lag_covariance.png"), WIDTH, HEIGHT);
        } catch (IOException e) {
            log.warn("compare-sampling: lag_covariance.png not written: {}", e.getMessage());
        }
        return out;
    }

    /** The TRAIN/EVAL gap on the BatchNorm LeNet with dropout at initialisation, without replacement. */
    /**
     * The TRAIN/EVAL gap section, computed once per folder (it depends only on the data and the LeNet's seed) and read
     * back from {@code train_eval_gap.json} and {@code .md} afterwards.
     */
    private static JsonNode cachedGap(StringBuilder md, CompareSampling.Options o, DataSet train) throws IOException {
        ObjectMapper om = new ObjectMapper();
        java.nio.file.Path json = o.out().resolve("train_eval_gap.json");
        java.nio.file.Path text = o.out().resolve("train_eval_gap.md");
        if (!Files.isRegularFile(json) || !Files.isRegularFile(text)) {
            StringBuilder section = new StringBuilder();
            List<Map<String, Object>> rows = gap(section, o, train);
            om.writerWithDefaultPrettyPrinter().writeValue(json.toFile(), rows);
            Files.writeString(text, section.toString(), StandardCharsets.UTF_8);
        }
        md.append(Files.readString(text, StandardCharsets.UTF_8));
        return om.readTree(json.toFile());
    }

    private static List<Map<String, Object>> gap(StringBuilder md, CompareSampling.Options o, DataSet train)
            throws IOException {
        int n = Math.min(GAP_N, train.numExamples());
        DataSet data = n < train.numExamples() ? (DataSet) train.getRange(0, n) : train;
        MultiLayerNetwork lenet = SmallLeNet.paper(CompareSampling.REFERENCE_SEED, 0.01, 0.9, 0, 0.2);
        // Trained a little first, so that BatchNorm's running statistics describe the data.
        CompareSampling.train(
                lenet,
                CompareSampling.sampler(SamplingScheme.WITHOUT_REPLACEMENT, data, 64, CompareSampling.REFERENCE_SEED),
                GAP_WARMUP,
                null);
        md.append(String.format(
                Locale.ROOT,
                "%n## TRAIN/EVAL gap%n%nThe noise theory describes eval-mode gradients. Training takes TRAIN-mode "
                        + "ones: BatchNorm on the batch's statistics and dropout on. On the paper's LeNet (BatchNorm, "
                        + "dropout 0.2) after %d steps at b = 64, N = %d, without replacement, %d epochs per cell: the "
                        + "measured noise over the eval-mode prediction (N − b)/(N − 1)·tr(D)/b, with 95%% "
                        + "intervals; the TRAIN noise splits exactly into the bias |mean g_t − ḡ|² (the TRAIN "
                        + "gradients' mean is not the eval-mode ḡ) and the variance about their own mean.%n%n"
                        + "| b | EVAL noise / predicted | TRAIN noise / predicted | TRAIN bias / predicted | TRAIN "
                        + "variance about its mean / predicted |%n|---|---|---|---|---|%n",
                GAP_WARMUP,
                n,
                GAP_EPOCHS));
        List<Map<String, Object>> out = new ArrayList<>();
        Plot plot = new Plot(
                        "TRAIN/EVAL gap: measured noise over eval-mode theory (LeNet, BatchNorm, dropout)",
                        "batch size",
                        "noise / predicted")
                .log2X();
        double[][][] series = new double[2][3][GAP_BATCHES.length];
        SamplerNoise.FullGradient full = SamplerNoise.FullGradient.of(lenet, data);
        for (int i = 0; i < GAP_BATCHES.length; i++) {
            int b = GAP_BATCHES[i];
            if (b * 2 > n) {
                continue;
            }
            SamplerNoise.Result[] r = new SamplerNoise.Result[2];
            for (Gradients g : Gradients.values()) {
                r[g == Gradients.EVAL ? 0 : 1] = SamplerNoise.measure(
                        lenet,
                        data,
                        full,
                        CompareSampling.sampler(SamplingScheme.WITHOUT_REPLACEMENT, data, b, 1),
                        GAP_EPOCHS,
                        g,
                        1);
            }
            double pred = r[0].noiseWithout();
            for (int k = 0; k < 2; k++) {
                series[k][0][i] = b;
                series[k][1][i] = r[k].noise().mean() / pred;
                series[k][2][i] = (r[k].noise().high() - r[k].noise().mean()) / pred;
            }
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("batch_size", b);
            row.put("eval", r[0]);
            row.put("train", r[1]);
            out.add(row);
            md.append(String.format(
                    Locale.ROOT,
                    "| %d | %.3f [%.3f, %.3f] | %.3f [%.3f, %.3f] | %.3f | %.3f |%n",
                    b,
                    r[0].noise().mean() / pred,
                    r[0].noise().low() / pred,
                    r[0].noise().high() / pred,
                    r[1].noise().mean() / pred,
                    r[1].noise().low() / pred,
                    r[1].noise().high() / pred,
                    r[1].bias() / pred,
                    (r[1].noise().mean() - r[1].bias()) / pred));
        }
        plot.errorBars("EVAL (95%)", series[0][0], series[0][1], series[0][2], new Color(40, 90, 200));
        plot.errorBars("TRAIN (95%)", series[1][0], series[1][1], series[1][2], new Color(200, 60, 40));
        plot.line("theory", series[0][0], constant(GAP_BATCHES.length, 1));
        plot.write(o.out().resolve("train_eval_gap.png"), WIDTH, HEIGHT);
        return out;
    }

    /**
     * The verdict by a stated rule: at each b, the paired difference of test loss (with − without, same η) decides
     * when its 95% interval excludes 0; otherwise "not distinguishable", with the difference detectable at 80%
     * power. The matched arm is judged the same way, and the flat direction's variance ratio against the paper's.
     */
    static String verdict(List<JsonNode> runs, TreeSet<Integer> sizes, List<Map<String, Object>> variances) {
        StringBuilder v = new StringBuilder();
        v.append("Rule: at each b the paired difference of the test loss, averaged over the measured half, decides "
                + "when its 95% interval excludes 0; otherwise the arms are not distinguishable at this power, and "
                + "the smallest difference detectable with 80% power is stated. The paper predicts that with "
                + "replacement (the hotter scheme at the same η and b) generalises better, most at large b, and "
                + "that the matched arm erases the difference.\n\n");
        for (int b : sizes) {
            PairedComparison same = paired(runs, b, Arm.WITH, Arm.WITHOUT, "test_loss", false);
            PairedComparison matched = paired(runs, b, Arm.WITH, Arm.MATCHED, "test_loss", false);
            if (same.n() == 0) {
                continue;
            }
            v.append(String.format(
                    Locale.ROOT,
                    "- b = %d (%d seeds): same η: %s; matched temperature: %s.%n",
                    b,
                    same.n(),
                    judge(same),
                    judge(matched)));
        }
        for (Map<String, Object> row : variances) {
            if (row.get("direction").equals("flat")
                    && row.get("arm").equals(Arm.MATCHED.id())
                    && row.get("with_over_arm_log") instanceof PairedComparison p
                    && p.n() > 0) {
                v.append(String.format(
                        Locale.ROOT,
                        "- Flat direction, b = %s: with replacement / matched variance %.3g [%.3g, %.3g] (paper: %s).%n",
                        row.get("batch_size"),
                        Math.exp(p.mean()),
                        Math.exp(p.low()),
                        Math.exp(p.high()),
                        row.get("paper_with_over_arm") == null ? "n/a" : fmt((Double) row.get("paper_with_over_arm"))));
            }
        }
        return v.toString();
    }

    private static String judge(PairedComparison p) {
        if (p.n() < 2) {
            return "one seed, no interval";
        }
        String diff = String.format(Locale.ROOT, "%+.5f [%+.5f, %+.5f]", p.mean(), p.low(), p.high());
        if (p.high() < 0) {
            return "with replacement has the lower test loss, " + diff;
        }
        if (p.low() > 0) {
            return "without replacement has the lower test loss, " + diff;
        }
        return String.format(
                Locale.ROOT, "not distinguishable at this power, %s (detectable: ±%.5f)", diff, p.detectable());
    }

    private static void plots(CompareSampling.Options o, List<JsonNode> runs, TreeSet<Integer> sizes)
            throws IOException {
        Plot loss =
                new Plot("Test loss over the measured half (mean ± sd over seeds)", "batch size", "test loss").log2X();
        Plot flat = new Plot("Stationary variance along the flat direction (mean ± sd)", "batch size", "variance")
                .log2X()
                .logY();
        Color[] colors = {new Color(200, 60, 40), new Color(40, 90, 200), new Color(40, 150, 70)};
        for (Arm arm : Arm.values()) {
            List<Integer> bs = new ArrayList<>();
            for (int b : sizes) {
                if (!cell(runs, b, arm).isEmpty()) {
                    bs.add(b);
                }
            }
            double[] x = bs.stream().mapToDouble(v -> v).toArray();
            double[][] l = new double[2][x.length];
            double[][] f = new double[2][x.length];
            for (int i = 0; i < x.length; i++) {
                List<JsonNode> cell = cell(runs, bs.get(i), arm);
                double[] tl = values(cell, "test_loss");
                double[] fv = cell.stream()
                        .mapToDouble(r -> r.get("variance").get(1).asDouble())
                        .toArray();
                l[0][i] = mean(tl);
                l[1][i] = sd(tl);
                f[0][i] = mean(fv);
                f[1][i] = sd(fv);
            }
            loss.errorBars(arm.id().replace('_', ' '), x, l[0], l[1], colors[arm.ordinal()]);
            flat.errorBars(arm.id().replace('_', ' '), x, f[0], f[1], colors[arm.ordinal()]);
        }
        loss.write(o.out().resolve("test_loss.png"), WIDTH, HEIGHT);
        flat.write(o.out().resolve("flat_variance.png"), WIDTH, HEIGHT);
    }

    private static double[] constant(int n, double c) {
        double[] v = new double[n];
        java.util.Arrays.fill(v, c);
        return v;
    }

    private static String interval(SamplerNoise.Estimate e) {
        return String.format(Locale.ROOT, "%.4g [%.4g, %.4g]", e.mean(), e.low(), e.high());
    }

    private static double mean(double[] v) {
        return java.util.Arrays.stream(v).average().orElse(Double.NaN);
    }

    private static double sd(double[] v) {
        if (v.length < 2) {
            return Double.NaN;
        }
        double m = mean(v);
        double s = 0;
        for (double x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / (v.length - 1));
    }

    private static String fmt(double x) {
        return Double.isFinite(x) ? String.format(Locale.ROOT, "%.4g", x) : "n/a";
    }
}

package org.sgdnoise.samples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;
import org.sgdnoise.UserInputException;
import org.sgdnoise.curvature.CirculationPrediction;
import org.sgdnoise.curvature.Curvature;
import org.sgdnoise.curvature.HessianVectorProducts;
import org.sgdnoise.curvature.Lanczos;
import org.sgdnoise.curvature.LanczosResult;
import org.sgdnoise.curvature.LinearisedSgd;
import org.sgdnoise.curvature.LinearisedSgdSimulation;
import org.sgdnoise.curvature.NoiseAlignment;
import org.sgdnoise.curvature.PredictionUncertainty;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.listeners.TrajectoryListener;
import org.sgdnoise.output.JsonDocument;
import org.sgdnoise.sampling.WithReplacementSampler;
import org.sgdnoise.trajectory.AreaRateComparison;
import org.sgdnoise.trajectory.LoopAnalysis;
import org.sgdnoise.trajectory.LoopStatistics;
import org.sgdnoise.trajectory.LoopVerdict;
import org.sgdnoise.trajectory.TrajectoryRow;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code loops} command's work (issue 17 item 7): closed loops on a real network, predicted and measured. An
 * MLP without BatchNorm is trained with plain SGD (examples drawn with replacement, L2) until its loss is flat;
 * the top-r Hessian eigenspace, D in it and the linearised prediction are computed there ({@link Curvature},
 * {@link LinearisedSgd}); then {@code steps} more SGD steps at the same η and L2 are recorded in that fixed basis
 * by the {@link TrajectoryListener} and compared with the prediction ({@link AreaRateComparison},
 * {@link LoopStatistics}). The loop test is calibrated on the linear process with the measured H and D (its power)
 * and with D replaced by its diagonal in the Hessian basis (commuting noise: it must say NO_LOOP). Every seed is in
 * the report.
 */
public final class LoopExperiment {

    private static final Logger log = LoggerFactory.getLogger(LoopExperiment.class);

    /** Iterations per warm-up chunk; the loss is flat when two chunks in a row change it by less than 1%. */
    static final int WARMUP_CHUNK = 2_000;

    private LoopExperiment() {}

    /**
     * Options.
     *
     * @param data the IDX folder
     * @param hidden the hidden units
     * @param lr η
     * @param batch b
     * @param l2 the L2 coefficient
     * @param minWarmup the fewest warm-up iterations (L2 equilibrates the weight norm over about 1/(η·l2))
     * @param maxWarmup the most warm-up iterations
     * @param steps the recorded steps
     * @param top r
     * @param hessianExamples the training examples behind H
     * @param gradients the examples behind D
     * @param calibrationRuns simulated runs per calibration
     * @param seed the seed of everything
     * @param out the output folder
     */
    public record Options(
            Path data,
            int hidden,
            double lr,
            int batch,
            double l2,
            int minWarmup,
            int maxWarmup,
            int steps,
            int top,
            int hessianExamples,
            int gradients,
            int calibrationRuns,
            long seed,
            Path out) {
        /** Validates. */
        public Options {
            UserInputException.require(hidden >= 1, "hidden must be >= 1, got " + hidden);
            UserInputException.require(lr > 0, "lr must be > 0, got " + lr);
            UserInputException.require(batch >= 1, "batch must be >= 1, got " + batch);
            UserInputException.require(l2 >= 0, "l2 must be >= 0, got " + l2);
            UserInputException.require(
                    minWarmup >= 0 && maxWarmup >= minWarmup,
                    "need 0 <= min-warmup <= max-warmup, got " + minWarmup + " and " + maxWarmup);
            UserInputException.require(steps >= 1000, "steps must be >= 1000, got " + steps);
            UserInputException.require(top >= 2, "top must be >= 2, got " + top);
            UserInputException.require(hessianExamples >= 2, "hessian-examples must be >= 2");
            UserInputException.require(gradients >= 2, "gradients must be >= 2");
            UserInputException.require(calibrationRuns >= 1, "calibration-runs must be >= 1");
        }
    }

    /** Runs the experiment on {@code o.data()}; writes {@code loops.json} and {@code trajectory.csv} into the output folder. */
    public static Map<String, Object> run(Options o) throws IOException {
        return run(o, FashionMnist.load(o.data(), Integer.MAX_VALUE, 1));
    }

    /** Runs the experiment on the training images of {@code d} ({@code o.data()} is not read). */
    public static Map<String, Object> run(Options o, FashionMnist.Data d) throws IOException {
        long t0 = System.nanoTime();
        Files.createDirectories(o.out());
        DataSet train = d.train();
        MultiLayerNetwork net = mlp(o);
        WithReplacementSampler sampler = new WithReplacementSampler(train, o.batch(), o.seed());
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("model", "MLP 784-" + o.hidden() + "-10, ReLU, softmax, no BatchNorm");
        report.put("data", d.source());
        report.put("train_examples", train.numExamples());
        report.put("lr", o.lr());
        report.put("batch", o.batch());
        report.put("l2", o.l2());
        report.put("min_warmup", o.minWarmup());
        report.put("max_warmup", o.maxWarmup());
        report.put("sampling", "with replacement");
        report.put("seed", o.seed());

        // 1. Until the loss is flat.
        int warmup = warmUp(net, sampler, o, report);

        // 2. The top Hessian eigenspace, D in it, the prediction.
        DataSet hessianSet = subset(train, o.hessianExamples(), o.seed() + 1);
        Curvature.Result c = Curvature.compute(
                net, hessianSet, new Curvature.Options(o.top(), o.gradients(), 30, 150, o.seed() + 2, false));
        if (!(c.consistency() <= Curvature.CONSISTENCY_WARNING)) {
            // A prediction from untrustworthy eigenpairs would be meaningless: stop here, saying why.
            throw new IllegalStateException(String.format(
                    Locale.ROOT,
                    "the Hessian-vector products disagree with their own Lanczos values by %.3g of h_1 after %d "
                            + "warm-up iterations (a ReLU network's finite differences crossing kinks, e.g. units "
                            + "whose weights L2 has shrunk to nearly 0): no prediction is made. A shorter warm-up "
                            + "(--max-warmup) or another --seed may avoid it",
                    c.consistency(),
                    warmup));
        }
        NoiseAlignment.Result a = c.alignment();
        CirculationPrediction p = LinearisedSgd.of(a.hessianInBasis(), a.diffusionInBasis(), o.lr(), o.batch())
                .predict();
        double[][] hr = a.hessianInBasis();
        PredictionUncertainty u = PredictionUncertainty.of(
                a.projections(),
                dr -> LinearisedSgd.of(hr, dr, o.lr(), o.batch()).predict(),
                200,
                o.seed() + 4);
        report.put("warmup_iterations", warmup);
        report.put("hessian_examples", o.hessianExamples());
        report.put("gradients", a.k());
        report.put("hessian_eigenvalues", c.top().values());
        report.put("lanczos_consistency", c.consistency());
        report.put("hessian_trace", c.trace().trace());
        report.put("hessian_trace_stderr", c.trace().standardError());
        report.put("d_in_hessian_basis", a.diffusionInBasis());
        report.put("d_correlations", a.correlations());
        report.put("commutator_norm", a.commutator());
        report.put("overlap_hessian_d", a.overlap());
        report.put("trace_cosine_in_basis", a.traceCosine());
        report.put("predicted_area_rates", p.areaRate());
        report.put("predicted_area_rate_stderr", u.stderr());
        report.put("predicted_max_rate", p.maxRate());
        report.put("predicted_max_rate_stderr", u.maxRateStderr());
        report.put("prediction_bootstrap", Map.of("resamples", u.resamples(), "seed", u.seed()));
        report.put("predicted_covariance", p.covariance());
        report.put("predicted_steps_for_snr4", p.stepsForSnr4());
        report.put("relaxation_steps", p.relaxationSteps());
        log.info(
                "loops: commutator {}, predicted max rate {} ± {} per step, SNR 4 after {} steps; recording {} steps",
                fmt(a.commutator()),
                fmt(p.maxRate()),
                fmt(u.maxRateStderr()),
                fmt(p.stepsForSnr4()),
                o.steps());

        // 3. Record the SGD trajectory in that basis.
        TrajectoryListener t = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .fixedBasis(c.top().vectors())
                .capacity(o.steps())
                .analyzeEvery(o.steps())
                .earlyAnalyses(false)
                .trajectoryFile(o.out().resolve("trajectory.csv"))
                .failFast(true)
                .build();
        net.addListeners(t);
        long rec0 = System.nanoTime();
        for (int i = 0; i < o.steps(); i++) {
            step(net, sampler);
            if ((i + 1) % 10_000 == 0) {
                log.info("loops: recorded {} of {} steps, loss {}", i + 1, o.steps(), fmt(net.score()));
            }
        }
        t.close();
        net.setListeners();
        report.put("recording_seconds", (System.nanoTime() - rec0) / 1e9);
        List<TrajectoryRow> rows = t.window();
        double[][] y = new double[rows.size()][];
        for (int i = 0; i < y.length; i++) {
            y[i] = rows.get(i).y();
        }

        // 4. Measured against predicted.
        AreaRateComparison cmp = AreaRateComparison.of(y, p, 50, u.stderr());
        LoopAnalysis loop = LoopStatistics.defaults().withSeed(o.seed() + 3).analyze(y, 1);
        report.put("recorded_steps", y.length);
        report.put("measured_area_rates", cmp.measured());
        report.put("measured_area_rate_stderr", cmp.stderr());
        report.put("slope_measured_on_predicted", cmp.slope());
        report.put("slope_stderr", cmp.slopeStderr());
        report.put("slope_chi2_per_dof", cmp.chi2PerDof());
        report.put("measured_rate_spectrum", cmp.measuredRates());
        report.put("measured_rate_spectrum_stderr", cmp.measuredRatesStderr());
        report.put("predicted_rate_spectrum", cmp.predictedRates());
        report.put("predicted_rate_spectrum_stderr", u.rateSpectrumStderr());
        AreaRateComparison.Fit spectrum = AreaRateComparison.Fit.throughOrigin(
                cmp.measuredRates(), cmp.measuredRatesStderr(), cmp.predictedRates(), u.rateSpectrumStderr());
        report.put("rate_spectrum_slope", spectrum.slope());
        report.put("rate_spectrum_slope_stderr", spectrum.stderr());
        report.put("rate_spectrum_chi2_per_dof", spectrum.chi2PerDof());
        report.put("measured_covariance", cmp.measuredCovariance());
        report.put("covariance_trace_ratio", cmp.traceRatio());
        report.put("covariance_relative_error", cmp.covarianceRelativeError());
        report.put("verdict", loop.verdict().name());
        report.put("p_value", loop.pValue());
        report.put("measured_max_rate", loop.maxRate());
        report.put("measured_max_rate_stderr", loop.maxRateStderr());
        report.put("correlation_time", loop.correlationTime());
        report.put("subspace_drift", loop.subspaceDrift());
        report.put("fluctuation_drift", loop.fluctuationDrift());
        report.put("diffusion_exponent", loop.diffusionExponent());

        // 5. Does the basis still hold at the end?
        LanczosResult end =
                Lanczos.largest(new HessianVectorProducts().at(net, ProbeBatch.of(hessianSet)), o.top(), o.seed() + 2);
        report.put("hessian_eigenvalues_at_end", end.values());
        report.put("basis_overlap_at_end", overlap(c.top().vectors(), end.vectors()));

        // 6. Calibration on the linear process with the measured H and D, and with commuting noise.
        report.putAll(calibration(a, o, y.length));
        report.put("conclusion", conclusion(report, loop, cmp));
        report.put("seconds", (System.nanoTime() - t0) / 1e9);
        JsonDocument.write(report, o.out().resolve("loops.json"));
        log.info("loops: {}", report.get("conclusion"));
        return report;
    }

    /** The MLP: 784 → hidden (ReLU) → 10 (softmax), plain SGD, L2 on the weights. */
    static MultiLayerNetwork mlp(Options o) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(o.seed())
                .dataType(DataType.FLOAT)
                .weightInit(WeightInit.RELU)
                .updater(new Sgd(o.lr()))
                .l2(o.l2())
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(FashionMnist.SIDE * FashionMnist.SIDE)
                        .nOut(o.hidden())
                        .activation(Activation.RELU)
                        .build())
                .layer(new OutputLayer.Builder(LossFunction.MCXENT)
                        .nOut(FashionMnist.CLASSES)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build());
        net.init();
        return net;
    }

    /**
     * One SGD step on the sampler's next batch, whose arrays (new ones, {@code Nd4j.pullRows}) are then released:
     * left to the garbage collector, 110,000 steps of 128 images held 17 GB of off-heap memory before a collection.
     */
    private static void step(MultiLayerNetwork net, WithReplacementSampler sampler) {
        if (!sampler.hasNext()) {
            sampler.reset();
        }
        DataSet batch = sampler.next();
        net.fit(batch);
        for (INDArray a : new INDArray[] {batch.getFeatures(), batch.getLabels()}) {
            if (a.closeable()) {
                a.close();
            }
        }
    }

    /**
     * Trains in chunks until the mean loss of two chunks in a row moves by less than 1% and minWarmup is reached,
     * or maxWarmup.
     */
    private static int warmUp(MultiLayerNetwork net, WithReplacementSampler sampler, Options o, Map<String, Object> r) {
        List<Double> chunkLoss = new ArrayList<>();
        int done = 0;
        int flat = 0;
        while (done < o.maxWarmup() && (flat < 2 || done < o.minWarmup())) {
            double sum = 0;
            for (int i = 0; i < WARMUP_CHUNK; i++) {
                step(net, sampler);
                sum += net.score();
            }
            done += WARMUP_CHUNK;
            double mean = sum / WARMUP_CHUNK;
            if (!chunkLoss.isEmpty()) {
                double prev = chunkLoss.get(chunkLoss.size() - 1);
                flat = Math.abs(mean - prev) / prev < 0.01 ? flat + 1 : 0;
            }
            chunkLoss.add(mean);
            log.info("loops: warm-up {} iterations, mean loss {}", done, fmt(mean));
        }
        r.put("warmup_chunk_iterations", WARMUP_CHUNK);
        r.put("warmup_chunk_loss", chunkLoss);
        r.put("warmup_flat", flat >= 2);
        return done;
    }

    /** n examples drawn without repeats by a seeded shuffle. */
    static DataSet subset(DataSet data, int n, long seed) {
        int total = data.numExamples();
        int k = Math.min(n, total);
        int[] idx = new int[total];
        for (int i = 0; i < total; i++) {
            idx[i] = i;
        }
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = 0; i < k; i++) {
            int j = i + rng.nextInt(total - i);
            int tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
        }
        int[] chosen = java.util.Arrays.copyOf(idx, k);
        return new DataSet(data.getFeatures().getRows(chosen), data.getLabels().getRows(chosen));
    }

    /** {@code ‖V₀ᵀV₁‖_F² / r}: 1 when the two bases span the same subspace. */
    static double overlap(double[][] v0, double[][] v1) {
        double s = 0;
        for (double[] a : v0) {
            for (double[] b : v1) {
                double dot = 0;
                for (int c = 0; c < a.length; c++) {
                    dot += a[c] * b[c];
                }
                s += dot * dot;
            }
        }
        return s / v0.length;
    }

    /**
     * The loop test on simulated runs of the linear process, as long as the recording: with the measured H_r
     * and D_r (the fraction that says LOOP is the test's power against the predicted effect) and with D_r
     * replaced by its diagonal (H_r is diagonal up to Lanczos' residuals in its own eigenbasis, so the two commute:
     * every run must say NO_LOOP).
     */
    private static Map<String, Object> calibration(NoiseAlignment.Result a, Options o, int steps) {
        double[][] h = diagonalOf(a.hessianInBasis());
        double[][] dCommuting = diagonalOf(a.diffusionInBasis());
        LinearisedSgd measured = LinearisedSgd.of(h, a.diffusionInBasis(), o.lr(), o.batch());
        LinearisedSgd commuting = LinearisedSgd.of(h, dCommuting, o.lr(), o.batch());
        int loops = 0;
        int falseLoops = 0;
        for (int run = 0; run < o.calibrationRuns(); run++) {
            LoopStatistics test = LoopStatistics.defaults().withSeed(o.seed() + 100 + run);
            double[][] ym = LinearisedSgdSimulation.simulate(measured, steps, 2_000, o.seed() + 1000 + run);
            if (test.analyze(ym, 1).verdict() == LoopVerdict.LOOP) {
                loops++;
            }
            double[][] yc = LinearisedSgdSimulation.simulate(commuting, steps, 2_000, o.seed() + 2000 + run);
            if (test.analyze(yc, 1).verdict() == LoopVerdict.LOOP) {
                falseLoops++;
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("calibration_runs", o.calibrationRuns());
        m.put("calibration_power", (double) loops / o.calibrationRuns());
        m.put("calibration_commuting_loop_rate", (double) falseLoops / o.calibrationRuns());
        m.put("calibration_note", "H_r taken diagonal (its Lanczos values); D_r as measured, and its diagonal");
        return m;
    }

    private static double[][] diagonalOf(double[][] a) {
        double[][] d = new double[a.length][a.length];
        for (int i = 0; i < a.length; i++) {
            d[i][i] = a[i][i];
        }
        return d;
    }

    private static String conclusion(Map<String, Object> r, LoopAnalysis loop, AreaRateComparison cmp) {
        double power = (double) r.get("calibration_power");
        if (loop.verdict() == LoopVerdict.LOOP) {
            return String.format(
                    Locale.ROOT,
                    "LOOP (p = %.3g): leading rate measured/predicted %.2f (measured %.3g ± %.2g, predicted %.3g ± "
                            + "%.2g per step); rate spectrum measured/predicted slope %.2f ± %.2f; plane by plane, "
                            + "measured/predicted slope %.3f ± %.3f (95%% interval %.3f to %.3f)",
                    loop.pValue(),
                    cmp.measuredRates()[0] / cmp.predictedRates()[0],
                    cmp.measuredRates()[0],
                    cmp.measuredRatesStderr()[0],
                    cmp.predictedRates()[0],
                    (double) r.get("predicted_max_rate_stderr"),
                    (double) r.get("rate_spectrum_slope"),
                    (double) r.get("rate_spectrum_slope_stderr"),
                    cmp.slope(),
                    cmp.slopeStderr(),
                    cmp.slope() - 1.96 * cmp.slopeStderr(),
                    cmp.slope() + 1.96 * cmp.slopeStderr());
        }
        if (loop.verdict() == LoopVerdict.NO_LOOP && power >= 0.8) {
            return String.format(
                    Locale.ROOT,
                    "NO_LOOP (p = %.3g) with power %.2f against the predicted effect",
                    loop.pValue(),
                    power);
        }
        return String.format(
                Locale.ROOT,
                "inconclusive: %s (p = %.3g), the test's power against the predicted effect %.2f",
                loop.verdict(),
                loop.pValue(),
                power);
    }

    private static String fmt(double x) {
        return String.format(Locale.ROOT, "%.4g", x);
    }
}

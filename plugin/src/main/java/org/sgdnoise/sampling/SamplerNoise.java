package org.sgdnoise.sampling;

import java.util.Arrays;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.diffusion.Temperature;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.gradients.internal.ProbeNetworks;
import org.sgdnoise.gradients.internal.RandomStateGuard;
import org.sgdnoise.internal.stats.StudentT;

/**
 * The noise of the minibatch gradients that training takes, measured at fixed weights through a real iterator
 * (the project's samplers or any DL4J {@link DataSetIterator}), against theory (theory.md §1, §6).
 *
 * <p>For every batch B_t of every epoch the minibatch mean gradient g_t is taken on a private copy of the network,
 * and {@code n_t = g_t − ḡ} with ḡ the full gradient over the N examples of {@code data} (eval mode). Three
 * quantities per epoch, each with a 95% Student-t interval over the epochs (independent under both samplers):
 * <ul>
 *   <li><b>noise</b>: the mean of {@code |n_t|²} over the epoch's batches, against {@code tr(D)/b} with
 *       replacement (a) and {@code tr(D)/b·(N − b)/(N − 1)} without (b), D the 1/N covariance of the eval-mode
 *       per-example gradients (c);
 *   <li><b>lag covariance</b>: the mean of {@code n_t·n_{t+1}} over consecutive batches of the same epoch, against
 *       0 with replacement and {@code −tr(D)/(N − 1)} without (two disjoint batches of one permutation);
 *   <li><b>epoch sum</b>: {@code |Σ_t n_t|²}, against {@code Σ_t tr(D)/b_t} with replacement and {@code tr(D)·(N
 *       Σ_t 1/b_t − m²)/(N − 1)} without (m batches covering the N examples once), which is 0 when b divides N.
 * </ul>
 * Predictions use each batch's own size. {@link Gradients#TRAIN} takes DL4J's own minibatch gradient, as {@code
 * fit()} does (BatchNormalization on batch statistics, dropout on; ND4J's random state seeded for the measurement
 * and restored after it); {@link Gradients#EVAL} takes the mean of the batch's eval-mode per-example gradients, which
 * is what the theory describes. Their difference on one model is the TRAIN/EVAL gap. Regularisation is left out of
 * every gradient: it is the same for every batch and cancels in n_t.
 *
 * <p>Cost: N eval-mode per-example gradients for ḡ and D (in chunks of {@link #CHUNK}), then one forward-backward
 * pass per batch. Memory: a few vectors of d doubles. Not modified: the model; the iterator is reset before each
 * epoch and advanced.
 */
public final class SamplerNoise {

    /** Examples per chunk of per-example gradients for ḡ and D. */
    static final int CHUNK = 256;

    /** Which minibatch gradient is measured. */
    public enum Gradients {
        /** DL4J's minibatch gradient as {@code fit()} computes it. */
        TRAIN,
        /** The mean of the batch's eval-mode per-example gradients (dropout off, BatchNorm on running statistics). */
        EVAL
    }

    /**
     * A mean over epochs with its 95% Student-t interval.
     *
     * @param mean the mean of the per-epoch values
     * @param se its standard error
     * @param low lower end of the interval
     * @param high upper end
     * @param epochs the epochs behind it
     */
    public record Estimate(double mean, double se, double low, double high, int epochs) {

        static Estimate of(double[] perEpoch) {
            int e = perEpoch.length;
            double m = Arrays.stream(perEpoch).average().orElse(Double.NaN);
            double ss = 0;
            for (double x : perEpoch) {
                ss += (x - m) * (x - m);
            }
            double se = e < 2 ? Double.NaN : Math.sqrt(ss / (e - 1) / e);
            double t = e < 2 ? Double.NaN : StudentT.quantile(1 - PairedComparison.LEVEL, e - 1);
            return new Estimate(m, se, m - t * se, m + t * se, e);
        }

        /** True when the interval holds {@code x}. */
        public boolean covers(double x) {
            return low <= x && x <= high;
        }
    }

    /**
     * The measurement.
     *
     * @param scheme the sampler's scheme, null for an iterator that is not a {@link MinibatchSampler}
     * @param gradients which minibatch gradient was measured
     * @param n N, the examples of {@code data}
     * @param batches the batches measured over all epochs
     * @param meanBatchSize their mean size
     * @param traceD tr D over the N examples, eval mode (c)
     * @param noise the mean of |g_t − ḡ|² per epoch
     * @param noiseWith its prediction with replacement, tr(D)/b (a)
     * @param noiseWithout its prediction without replacement, tr(D)/b·(N − b)/(N − 1) (b)
     * @param lag the mean of (g_t − ḡ)·(g_{t+1} − ḡ) over consecutive batches of an epoch
     * @param lagWithout its prediction without replacement, −tr(D)/(N − 1) (0 with replacement)
     * @param epochSum |Σ_t (g_t − ḡ)|² per epoch
     * @param epochSumWith its prediction with replacement
     * @param epochSumWithout its prediction without replacement (NaN when an epoch does not cover N examples)
     * @param bias |mean over all batches of g_t − ḡ|²: a systematic difference of the measured gradients from ḡ
     *     (in TRAIN mode on BatchNorm or dropout models), plus sampling error
     * @param seed the seed of ND4J's random state during the measurement (dropout masks)
     */
    public record Result(
            SamplingScheme scheme,
            Gradients gradients,
            int n,
            int batches,
            double meanBatchSize,
            double traceD,
            Estimate noise,
            double noiseWith,
            double noiseWithout,
            Estimate lag,
            double lagWithout,
            Estimate epochSum,
            double epochSumWith,
            double epochSumWithout,
            double bias,
            long seed) {

        /** The noise prediction for the sampler's own scheme (NaN when unknown). */
        public double noisePredicted() {
            return scheme == null ? Double.NaN : scheme == SamplingScheme.WITH_REPLACEMENT ? noiseWith : noiseWithout;
        }

        /** The lag-covariance prediction for the sampler's own scheme. */
        public double lagPredicted() {
            return scheme == null ? Double.NaN : scheme == SamplingScheme.WITH_REPLACEMENT ? 0 : lagWithout;
        }

        /** The epoch-sum prediction for the sampler's own scheme. */
        public double epochSumPredicted() {
            return scheme == null
                    ? Double.NaN
                    : scheme == SamplingScheme.WITH_REPLACEMENT ? epochSumWith : epochSumWithout;
        }
    }

    private SamplerNoise() {}

    /**
     * Measures the minibatch noise of {@code epochs} epochs of {@code batches} at the model's current weights.
     *
     * @param data the N examples the iterator draws from (for ḡ and D)
     * @param batches the iterator; reset before every epoch
     * @param epochs at least 2, for the intervals
     * @param seed ND4J's random seed during the measurement (dropout masks in TRAIN mode)
     * @throws IllegalArgumentException when an epoch has fewer than 2 batches, or the iterator cannot be reset
     */
    public static Result measure(
            Model model, DataSet data, DataSetIterator batches, int epochs, Gradients gradients, long seed) {
        return measure(model, data, FullGradient.of(model, data), batches, epochs, gradients, seed);
    }

    /**
     * ḡ and tr D of the eval-mode per-example gradients over N examples at fixed weights: computed once, they serve
     * every measurement at those weights.
     *
     * @param mean ḡ, of the d trained parameters
     * @param traceD tr D, the mean of |g_i − ḡ|²
     * @param n N
     */
    public record FullGradient(double[] mean, double traceD, int n) {

        /** Computes them for the model's current weights over {@code data}. Not modified: the model. */
        public static FullGradient of(Model model, DataSet data) {
            double[] mean = new double[(int) ParameterLayout.of(model).numParams()];
            double trace = fullGradient(model, data, mean);
            return new FullGradient(mean, trace, data.numExamples());
        }
    }

    /**
     * As {@link #measure(Model, DataSet, DataSetIterator, int, Gradients, long)}, with ḡ and tr D given (computed
     * by {@link FullGradient#of} at the model's current weights over {@code data}).
     *
     * @throws IllegalArgumentException when {@code full} is not over N examples of d parameters
     */
    public static Result measure(
            Model model,
            DataSet data,
            FullGradient full,
            DataSetIterator batches,
            int epochs,
            Gradients gradients,
            long seed) {
        if (epochs < 2) {
            throw new IllegalArgumentException("epochs must be >= 2 for an interval, got " + epochs);
        }
        if (!batches.resetSupported()) {
            throw new IllegalArgumentException("the iterator must support reset(): each epoch starts with one");
        }
        int n = data.numExamples();
        ParameterLayout layout = ParameterLayout.of(model);
        int d = (int) layout.numParams();
        if (full.n() != n || full.mean().length != d) {
            throw new IllegalArgumentException("the full gradient is over " + full.n() + " examples of "
                    + full.mean().length + " parameters, the data has " + n + " and the model " + d);
        }
        double traceD = full.traceD();
        Model net = gradients == Gradients.TRAIN
                ? ProbeNetworks.trainingCopy(model)
                : ProbeNetworks.build(model, false, null);
        INDArray trainable = Nd4j.create(DataType.DOUBLE, d);
        double[] noise = new double[epochs];
        double[] lag = new double[epochs];
        double[] epochSum = new double[epochs];
        double[] sumAll = new double[d];
        double noiseWith = 0;
        double noiseWithout = 0;
        double epochSumWith = 0;
        double epochSumWithout = 0;
        int total = 0;
        long examples = 0;
        try (RandomStateGuard saved = RandomStateGuard.save()) {
            Nd4j.getRandom().setSeed(seed);
            for (int e = 0; e < epochs; e++) {
                batches.reset();
                double[] sum = new double[d];
                double[] previous = null;
                int m = 0;
                int lags = 0;
                double inverseSizes = 0;
                int covered = 0;
                while (batches.hasNext()) {
                    DataSet batch = batches.next();
                    int b = batch.numExamples();
                    INDArray raw = ProbeNetworks.gradient(net, ProbeBatch.of(batch));
                    layout.gather(raw.castTo(DataType.DOUBLE), trainable);
                    double[] g = trainable.toDoubleVector();
                    double sq = 0;
                    for (int i = 0; i < d; i++) {
                        g[i] = g[i] / b - full.mean()[i]; // DL4J's raw gradient is the sum over the batch
                        sq += g[i] * g[i];
                        sum[i] += g[i];
                        sumAll[i] += g[i];
                    }
                    noise[e] += sq;
                    if (previous != null) {
                        lag[e] += dot(previous, g);
                        lags++;
                    }
                    previous = g;
                    double factor = Temperature.finitePopulationFactor(b, n, SamplingScheme.WITHOUT_REPLACEMENT);
                    noiseWith += traceD / b;
                    noiseWithout += traceD / b * factor;
                    inverseSizes += 1.0 / b;
                    covered += b;
                    examples += b;
                    m++;
                    total++;
                }
                if (m < 2) {
                    throw new IllegalArgumentException("an epoch must hold at least 2 batches, got " + m);
                }
                noise[e] /= m;
                lag[e] /= lags;
                epochSum[e] = dot(sum, sum);
                epochSumWith += traceD * inverseSizes;
                epochSumWithout += covered == n ? epochSumWithout(traceD, n, inverseSizes, m) : Double.NaN;
            }
        }
        double bias = dot(sumAll, sumAll) / ((double) total * total);
        SamplingScheme scheme = batches instanceof MinibatchSampler s ? s.scheme() : null;
        return new Result(
                scheme,
                gradients,
                n,
                total,
                (double) examples / total,
                traceD,
                Estimate.of(noise),
                noiseWith / total,
                noiseWithout / total,
                Estimate.of(lag),
                lagWithout(traceD, n),
                Estimate.of(epochSum),
                epochSumWith / epochs,
                epochSumWithout / epochs,
                bias,
                seed);
    }

    /**
     * The within-epoch covariance {@code E[n_s·n_t]} of two batches' noise without replacement: {@code −tr(D)/(N −
     * 1)} (0 with replacement).
     */
    public static double lagWithout(double traceD, long n) {
        return -traceD / (n - 1);
    }

    /**
     * {@code E|Σ_t n_t|²} over an epoch without replacement whose m batches cover the N examples once: {@code
     * tr(D)·(N·Σ_t 1/b_t − m²)/(N − 1)}, 0 when all batches have the same size (with replacement: {@code tr(D)·Σ_t
     * 1/b_t}).
     *
     * @param inverseSizes {@code Σ_t 1/b_t}
     */
    public static double epochSumWithout(double traceD, long n, double inverseSizes, int m) {
        return traceD * Math.max(0, n * inverseSizes - (double) m * m) / (n - 1);
    }

    /**
     * {@code Σ_t 1/b_t} over an epoch of a {@link MinibatchSampler}: ⌈N/b⌉ batches, the last holding N mod b when b
     * does not divide N without replacement (with replacement every batch holds b).
     */
    public static double inverseSizes(long n, int b, SamplingScheme scheme) {
        long m = (n + b - 1) / b;
        long last = n - (m - 1) * b;
        return scheme == SamplingScheme.WITHOUT_REPLACEMENT ? (m - 1) / (double) b + 1.0 / last : m / (double) b;
    }

    /**
     * Writes ḡ, the mean eval-mode per-example gradient over {@code data}, into {@code mean} and returns tr D, the
     * mean of |g_i − ḡ|², combining chunks by Chan's formula so that a large ḡ costs no digits.
     */
    static double fullGradient(Model model, DataSet data, double[] mean) {
        int n = data.numExamples();
        int d = mean.length;
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, Long.MAX_VALUE);
        ProbeBatch all = ProbeBatch.of(data);
        double m2 = 0;
        int seen = 0;
        for (int from = 0; from < n; from += CHUNK) {
            int[] idx = new int[Math.min(CHUNK, n - from)];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = from + i;
            }
            INDArray rows = engine.compute(model, all, idx).rows().castTo(DataType.DOUBLE);
            INDArray chunkMean = rows.mean(0);
            INDArray centred = rows.subRowVector(chunkMean);
            double chunkM2 = centred.norm2Number().doubleValue();
            chunkM2 *= chunkM2;
            double[] cm = chunkMean.toDoubleVector();
            int k = idx.length;
            double delta2 = 0;
            for (int i = 0; i < d; i++) {
                double delta = cm[i] - mean[i];
                delta2 += delta * delta;
                mean[i] += delta * k / (seen + k);
            }
            m2 += chunkM2 + delta2 * seen * k / (seen + k);
            seen += k;
            rows.close();
            centred.close();
        }
        return m2 / n;
    }

    private static double dot(double[] x, double[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * y[i];
        }
        return s;
    }
}

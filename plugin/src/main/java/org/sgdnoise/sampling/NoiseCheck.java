package org.sgdnoise.sampling;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.diffusion.Temperature;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.internal.linalg.Gram;

/**
 * Checks, at fixed weights, the noise of minibatch mean gradients against theory (theory.md §1, §6):
 * {@code E|g_B − ḡ|² = tr(D)/b} with replacement and {@code tr(D)/b·(N − b)/(N − 1)} without, D in the
 * with-replacement normalisation (A1) over the N examples.
 *
 * <p>Method: the exact per-example gradients of all N examples (N×d in double: use a small N), then R
 * independent batches per scheme (without replacement: the first b of a fresh permutation each time, so
 * the batches are independent), the sample mean of |g_B − ḡ|² with ḡ the exact full gradient (from the N×N
 * Gram matrix of the centred gradients, O(b²) per batch), and a normal confidence interval from its
 * sample standard deviation. Stateless.
 */
public final class NoiseCheck {

    /** z for the two-sided 99% interval. */
    public static final double Z99 = 2.5758;

    private NoiseCheck() {}

    /**
     * One scheme's measurement.
     *
     * @param predicted tr(D)/b, times (N − b)/(N − 1) without replacement
     * @param measured mean of |g_B − ḡ|² over the drawn batches
     * @param ratio measured / predicted
     * @param ratioLow lower end of the 99% interval of the ratio
     * @param ratioHigh upper end of the 99% interval of the ratio
     */
    public record Result(
            SamplingScheme scheme,
            int n,
            int b,
            int batches,
            double trace,
            double predicted,
            double measured,
            double ratio,
            double ratioLow,
            double ratioHigh) {
        /** True when the interval contains 1. */
        public boolean consistent() {
            return ratioLow <= 1 && 1 <= ratioHigh;
        }
    }

    /** Runs the check for both schemes at batch size b with R batches each. Not modified: the model. */
    public static List<Result> run(Model model, DataSet data, int b, int batches, long seed) {
        int n = data.numExamples();
        if (b < 1 || b > n) {
            throw new IllegalArgumentException("b must be in [1, N = " + n + "], got " + b);
        }
        if (batches < 30) {
            throw new IllegalArgumentException("batches must be >= 30 for an interval, got " + batches);
        }
        PerExampleGradients engine =
                new PerExampleGradients(ProbeMode.EVAL, PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES);
        int[] all = new int[n];
        for (int i = 0; i < n; i++) {
            all[i] = i;
        }
        INDArray raw = engine.compute(model, ProbeBatch.of(data), all).rows();
        INDArray g = raw.castTo(DataType.DOUBLE);
        if (g != raw) {
            raw.close();
        }
        if (g.rows() != n) {
            throw new IllegalStateException("the memory budget holds only " + g.rows() + " of " + n + " gradients");
        }
        INDArray mean = g.mean(0);
        INDArray centred = g.subRowVector(mean);
        // |g_B − ḡ|² = (1/b²) Σ_{i,j∈B} K_ij with K the Gram matrix of the centred gradients: N×N, built once,
        // so each batch costs O(b²) instead of O(b·d).
        double[][] k = Gram.of(centred);
        double trace = 0;
        for (int i = 0; i < n; i++) {
            trace += k[i][i];
        }
        trace /= n;
        List<Result> out = new ArrayList<>();
        for (SamplingScheme s :
                new SamplingScheme[] {SamplingScheme.WITH_REPLACEMENT, SamplingScheme.WITHOUT_REPLACEMENT}) {
            SplittableRandom r = new SplittableRandom(seed + s.ordinal());
            double sum = 0;
            double sumSq = 0;
            for (int it = 0; it < batches; it++) {
                int[] idx =
                        s == SamplingScheme.WITH_REPLACEMENT ? withReplacement(r, n, b) : withoutReplacement(r, n, b);
                double v = 0;
                for (int i : idx) {
                    for (int j : idx) {
                        v += k[i][j];
                    }
                }
                v /= (double) b * b;
                sum += v;
                sumSq += v * v;
            }
            double measured = sum / batches;
            double sd = Math.sqrt(Math.max(0, (sumSq - batches * measured * measured) / (batches - 1)));
            double predicted = trace / b * Temperature.finitePopulationFactor(b, n, s);
            double half = Z99 * sd / Math.sqrt(batches) / predicted;
            double ratio = measured / predicted;
            out.add(new Result(s, n, b, batches, trace, predicted, measured, ratio, ratio - half, ratio + half));
        }
        return out;
    }

    private static int[] withReplacement(SplittableRandom r, int n, int b) {
        int[] idx = new int[b];
        for (int i = 0; i < b; i++) {
            idx[i] = r.nextInt(n);
        }
        return idx;
    }

    private static int[] withoutReplacement(SplittableRandom r, int n, int b) {
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) {
            perm[i] = i;
        }
        for (int i = 0; i < b; i++) { // partial Fisher–Yates: the first b of a fresh permutation
            int j = i + r.nextInt(n - i);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return Arrays.copyOf(perm, b);
    }
}

package org.sgdnoise.diffusion;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.gradients.GradientBlock;
import org.sgdnoise.gradients.GradientSource;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * Bootstrap confidence intervals over examples for the statistics of D = (1/N) Σ (g_i − ḡ)(g_i − ḡ)ᵀ over N
 * examples: the trace, the top eigenvalues, the participation ratio (Σλ)²/Σλ², the effective rank exp(H(λ/Σλ)) and
 * the noise scale tr D/|ḡ|². Each resample draws N examples with replacement (multinomial counts w_i, Σw = N) and
 * recomputes D_w = (1/N) Σ w_i (g_i − ḡ_w)(g_i − ḡ_w)ᵀ; the interval is the percentile interval of the replicates.
 *
 * <p><b>How, at d in the tens of thousands.</b> A replicate works in the span of D's top m eigenvectors V (a
 * {@link Scores}: each example's projection s_i = Vᵀ(g_i − ḡ), its full squared norm |g_i − ḡ|² and ḡᵀ(g_i − ḡ)),
 * so it costs an m×m matrix, not d×d. Exact within the span: the replicate's trace uses the full norms (less the
 * mean shift within the span), its top eigenvalues are those of (1/N) Σ w_i s_i s_iᵀ − μ_w μ_wᵀ. Outside it (the
 * eigenvalues beyond m, {@code subspaceTraceFraction} says how much of tr D lies there) the replicate keeps the
 * full sample's eigenvalues, scaled to the replicate's remaining trace, and neglects the mean's shift (of order
 * tr D/N). With m at least the number of nonzero eigenvalues the replicates are exact
 * (SpectrumBootstrapTest compares them with D_w computed in double from the gradients).
 *
 * <p>Memory: N·m doubles for the scores, m² for a replicate. Time: one N×m×m product and one m×m
 * eigendecomposition per resample. The resample generator is a {@link SplittableRandom} seeded with {@code seed}
 * (never ND4J's).
 */
public final class SpectrumBootstrap {

    /** Default resamples. */
    public static final int DEFAULT_RESAMPLES = 200;

    /** Default span m of the replicates (D's top eigenvectors). */
    public static final int DEFAULT_SUBSPACE = 200;

    /** Default number of top eigenvalues given intervals. */
    public static final int DEFAULT_TOP = 10;

    /** The intervals' coverage. */
    public static final double LEVEL = 0.95;

    private SpectrumBootstrap() {}

    /**
     * Each example's terms in the span of D's top m eigenvectors.
     *
     * @param scores N×m, row i = Vᵀ(g_i − ḡ), in double
     * @param sqNorms |g_i − ḡ|², over all d coordinates
     * @param meanDots ḡᵀ(g_i − ḡ)
     * @param meanNormSq |ḡ|²
     */
    public record Scores(INDArray scores, double[] sqNorms, double[] meanDots, double meanNormSq) {
        /** N. */
        public int examples() {
            return sqNorms.length;
        }

        /** m. */
        public int subspace() {
            return (int) scores.columns();
        }
    }

    /** A two-sided interval. */
    public record Interval(double lo, double hi) {
        /** As a JSON pair. */
        public double[] pair() {
            return new double[] {lo, hi};
        }
    }

    /** The statistics of one replicate (or of the sample, with every weight 1). */
    public record Replicate(
            double trace, double[] top, double participationRatio, double effectiveRank, double noiseScale) {}

    /**
     * The intervals.
     *
     * @param resamples B
     * @param seed the resample generator's seed
     * @param subspace m
     * @param subspaceTraceFraction the share of tr D within the span (1 when the replicates are exact)
     * @param trace the interval of tr D
     * @param top the intervals of λ_1, λ_2, ...
     * @param participationRatio of (Σλ)²/Σλ²
     * @param effectiveRank of exp(H(λ/Σλ))
     * @param noiseScale of tr D/|ḡ|²
     */
    public record Result(
            int resamples,
            long seed,
            int subspace,
            double subspaceTraceFraction,
            Interval trace,
            List<Interval> top,
            Interval participationRatio,
            Interval effectiveRank,
            Interval noiseScale) {

        /** The JSON entry {@code bootstrap}. */
        public Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("method", "percentile bootstrap over examples (multinomial resamples of the N examples)");
            m.put("level", LEVEL);
            m.put("resamples", resamples);
            m.put("seed", seed);
            m.put("subspace", subspace);
            m.put("subspace_trace_fraction", subspaceTraceFraction);
            m.put("trace", trace.pair());
            m.put("eigenvalues", top.stream().map(Interval::pair).toArray(double[][]::new));
            m.put("participation_ratio", participationRatio.pair());
            m.put("effective_rank", effectiveRank.pair());
            m.put("noise_scale", noiseScale.pair());
            return m;
        }
    }

    /**
     * The intervals from B resamples.
     *
     * @param s the examples' terms
     * @param eigenvalues the full sample's eigenvalues of D, descending (those past m are kept, scaled, in each
     *     replicate)
     * @param top how many top eigenvalues get intervals (at most m)
     * @param resamples B, at least 20
     * @param seed the resample generator's seed
     */
    public static Result of(Scores s, double[] eigenvalues, int top, int resamples, long seed) {
        if (resamples < 20) {
            throw new IllegalArgumentException("resamples must be >= 20, got " + resamples);
        }
        int r = Math.min(top, s.subspace());
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] trace = new double[resamples];
        double[][] tops = new double[r][resamples];
        double[] pr = new double[resamples];
        double[] er = new double[resamples];
        double[] ns = new double[resamples];
        for (int b = 0; b < resamples; b++) {
            Replicate x = replicate(s, eigenvalues, r, counts(s.examples(), rnd));
            trace[b] = x.trace();
            for (int j = 0; j < r; j++) {
                tops[j][b] = x.top()[j];
            }
            pr[b] = x.participationRatio();
            er[b] = x.effectiveRank();
            ns[b] = x.noiseScale();
        }
        List<Interval> topIntervals = new ArrayList<>();
        for (double[] t : tops) {
            topIntervals.add(percentile(t));
        }
        double inSpan = 0;
        double all = 0;
        for (double v : s.sqNorms()) {
            all += v;
        }
        INDArray sq = s.scores().mul(s.scores());
        inSpan = sq.sumNumber().doubleValue();
        sq.close();
        return new Result(
                resamples,
                seed,
                s.subspace(),
                all > 0 ? inSpan / all : Double.NaN,
                percentile(trace),
                topIntervals,
                percentile(pr),
                percentile(er),
                percentile(ns));
    }

    /** Multinomial counts of n draws with replacement from n examples. */
    public static double[] counts(int n, SplittableRandom rnd) {
        double[] w = new double[n];
        for (int i = 0; i < n; i++) {
            w[rnd.nextInt(n)]++;
        }
        return w;
    }

    /**
     * One replicate's statistics for example weights {@code w} (Σw = N; all ones gives the sample's own).
     *
     * @param eigenvalues the full sample's eigenvalues, descending
     * @param top how many top eigenvalues to return
     */
    public static Replicate replicate(Scores s, double[] eigenvalues, int top, double[] w) {
        int n = s.examples();
        int m = s.subspace();
        double total = 0;
        for (double v : w) {
            total += v;
        }
        INDArray weights = Nd4j.createFromArray(w).reshape(n, 1).divi(total);
        INDArray weighted = s.scores().mulColumnVector(weights);
        INDArray mu = weighted.sum(0).reshape(m, 1); // the mean's shift within the span
        INDArray c = weighted.transpose().mmul(s.scores()); // (1/N) Σ w_i s_i s_iᵀ
        Nd4j.gemm(mu, mu, c, false, true, -1.0, 1.0);
        double shift = mu.mul(mu).sumNumber().doubleValue();
        double[][] cm = c.toDoubleMatrix();
        double[] span = SymmetricEigen.of(cm, m, 1.0, false).values();
        double meanDot = 0;
        double sq = 0;
        for (int i = 0; i < n; i++) {
            sq += w[i] * s.sqNorms()[i];
            meanDot += w[i] * s.meanDots()[i];
        }
        double trace = sq / total - shift;
        double normSq = s.meanNormSq() + 2 * meanDot / total + shift;
        // Past the span: the sample's eigenvalues, scaled to the trace the replicate leaves there.
        double spanSum = 0;
        for (double v : span) {
            spanSum += Math.max(0, v);
        }
        double tailSum = 0;
        for (int j = m; j < eigenvalues.length; j++) {
            tailSum += Math.max(0, eigenvalues[j]);
        }
        double scale = tailSum > 0 ? Math.max(0, trace - spanSum) / tailSum : 0;
        double[] all = new double[m + Math.max(0, eigenvalues.length - m)];
        for (int j = 0; j < m; j++) {
            all[j] = Math.max(0, span[j]);
        }
        for (int j = m; j < eigenvalues.length; j++) {
            all[j] = scale * Math.max(0, eigenvalues[j]);
        }
        double sum = 0;
        double sumSq = 0;
        for (double v : all) {
            sum += v;
            sumSq += v * v;
        }
        double entropy = 0;
        for (double v : all) {
            if (v > 0) {
                double p = v / sum;
                entropy -= p * Math.log(p);
            }
        }
        weights.close();
        weighted.close();
        mu.close();
        c.close();
        return new Replicate(
                trace,
                Arrays.copyOf(span, Math.min(top, m)),
                sumSq > 0 ? sum * sum / sumSq : Double.NaN,
                sum > 0 ? Math.exp(entropy) : Double.NaN,
                normSq > 0 ? trace / normSq : Double.NaN);
    }

    /** The central {@link #LEVEL} percentile interval (linear interpolation between order statistics). */
    static Interval percentile(double[] values) {
        double[] v = Arrays.stream(values).filter(Double::isFinite).sorted().toArray();
        if (v.length == 0) {
            return new Interval(Double.NaN, Double.NaN);
        }
        double a = (1 - LEVEL) / 2;
        return new Interval(quantile(v, a), quantile(v, 1 - a));
    }

    private static double quantile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    /**
     * The terms from the N×N Gram matrix G_ij = g_iᵀg_j (uncentred, in double): the centred Gram matrix's top m
     * eigenvectors u_j and eigenvalues Nλ_j give s_ij = u_ij·√(Nλ_j), the projection on D's j-th eigenvector.
     *
     * @param m the span, at most N − 1
     */
    public static Scores fromGram(double[][] gram, int m) {
        int n = gram.length;
        double[] rowMean = new double[n];
        double grand = 0;
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < n; j++) {
                s += gram[i][j];
            }
            rowMean[i] = s / n;
            grand += rowMean[i] / n;
        }
        double[][] centred = new double[n][n];
        double[] sqNorms = new double[n];
        double[] meanDots = new double[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                centred[i][j] = gram[i][j] - rowMean[i] - rowMean[j] + grand;
            }
            sqNorms[i] = centred[i][i];
            meanDots[i] = rowMean[i] - grand;
        }
        int span = Math.min(m, n - 1);
        SymmetricEigen e = SymmetricEigen.of(centred, n, 1.0, true);
        INDArray scores = Nd4j.create(DataType.DOUBLE, n, span);
        for (int j = 0; j < span; j++) {
            double root = Math.sqrt(Math.max(0, e.values()[j]));
            for (int i = 0; i < n; i++) {
                scores.putScalar(i, j, e.vectors()[i][j] * root);
            }
        }
        return new Scores(scores, sqNorms, meanDots, grand);
    }

    /**
     * The terms from a second pass over the examples: each chunk's per-example gradients (as {@link DatasetSpectrum}
     * computes them), centred by {@code mean} and projected on {@code vectors}.
     *
     * @param mean ḡ, from the first pass
     * @param vectors d×m, D's top eigenvectors as orthonormal columns ({@link DatasetSpectrum#exactTopVectors})
     */
    public static Scores fromGradients(
            Model model, DataSetIterator data, ProbeMode mode, double[] mean, INDArray vectors) {
        return fromGradients(GradientSource.of(model, mode), data, mean, vectors);
    }

    /** As above, over the per-example gradients of {@code source} (a DL4J model or a SameDiff graph). */
    public static Scores fromGradients(GradientSource source, DataSetIterator data, double[] mean, INDArray vectors) {
        int d = mean.length;
        int m = (int) vectors.columns();
        INDArray meanRow = Nd4j.createFromArray(mean).reshape(1, d);
        INDArray v = vectors.castTo(DataType.DOUBLE);
        List<INDArray> parts = new ArrayList<>();
        List<double[]> sq = new ArrayList<>();
        List<double[]> dots = new ArrayList<>();
        int n = 0;
        try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            while (data.hasNext()) {
                DataSet part = data.next();
                if (part == null || part.isEmpty()) {
                    continue;
                }
                ProbeBatch chunk = ProbeBatch.of(part);
                int[] idx = PerExampleGradients.select(ExampleSelection.FIRST, chunk.size(), chunk.size(), 0);
                int done = 0;
                while (done < idx.length) {
                    GradientBlock block = source.compute(chunk, Arrays.copyOfRange(idx, done, idx.length));
                    INDArray x = block.rows().castTo(DataType.DOUBLE).subiRowVector(meanRow);
                    parts.add(x.mmul(v));
                    sq.add(x.mul(x).sum(1).toDoubleVector());
                    dots.add(x.mmul(meanRow.transpose()).toDoubleVector());
                    n += block.k();
                    done += block.k();
                    x.close();
                    block.rows().close();
                }
            }
        }
        INDArray scores = Nd4j.create(DataType.DOUBLE, n, m);
        double[] sqNorms = new double[n];
        double[] meanDots = new double[n];
        int row = 0;
        for (int p = 0; p < parts.size(); p++) {
            int k = (int) parts.get(p).rows();
            scores.get(
                            org.nd4j.linalg.indexing.NDArrayIndex.interval(row, row + k),
                            org.nd4j.linalg.indexing.NDArrayIndex.all())
                    .assign(parts.get(p));
            System.arraycopy(sq.get(p), 0, sqNorms, row, k);
            System.arraycopy(dots.get(p), 0, meanDots, row, k);
            parts.get(p).close();
            row += k;
        }
        double normSq = 0;
        for (double x : mean) {
            normSq += x * x;
        }
        return new Scores(scores, sqNorms, meanDots, normSq);
    }
}

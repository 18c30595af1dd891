package org.sgdnoise.diffusion;

/**
 * Summary statistics of an eigenvalue spectrum of D (exact or sketched), with the paper's rank rule.
 *
 * @param rankThreshold {@code λ_max · d · 1.1920929e-7} (the paper's rule, numpy's matrix_rank); it grows with d,
 *     so compare ranks across models by the scale-free measures below
 * @param rank eigenvalues above the threshold, at most the cap given (k − 1 for k samples)
 * @param eigMean mean of the {@code rank} largest eigenvalues (those above the threshold, within the cap)
 * @param eigStd standard deviation (population form) of those eigenvalues
 * @param participationRatioPlugin {@code (Σλ)²/Σλ²} over the given eigenvalues: the plug-in value, exact for an
 *     exact spectrum and biased low (at most k) for a sample's
 * @param stableRank {@code trace/λ_max}
 * @param effectiveRank {@code exp(H(λ/Σλ))}
 */
public record SpectrumSummary(
        double rankThreshold,
        int rank,
        double eigMean,
        double eigStd,
        double participationRatioPlugin,
        double stableRank,
        double effectiveRank) {

    /** As {@link #of(double[], long, double, long)} without a cap on the rank. */
    public static SpectrumSummary of(double[] eigenvalues, long d, double trace) {
        return of(eigenvalues, d, trace, Long.MAX_VALUE);
    }

    /**
     * Summarises eigenvalues (any order; negatives from rounding count as 0).
     *
     * @param d the dimension, for the rank threshold
     * @param trace tr(D), for the stable rank (pass the exact trace when the eigenvalues are a sketch's)
     * @param maxRank the most directions the data can span (k − 1 for k centred samples, d at most): eigenvalues
     *     past it are rounding, and neither the rank nor the mean and standard deviation count them
     */
    public static SpectrumSummary of(double[] eigenvalues, long d, double trace, long maxRank) {
        double[] v = new double[eigenvalues.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = Math.max(0, eigenvalues[i]);
        }
        java.util.Arrays.sort(v); // ascending
        double max = v.length == 0 ? 0 : v[v.length - 1];
        double sum = 0;
        double sumSq = 0;
        for (double x : v) {
            sum += x;
            sumSq += x * x;
        }
        double threshold = max * d * DiffusionStatistics.FLOAT32_EPS;
        long cap = Math.min(maxRank, d);
        int rank = 0;
        double s1 = 0;
        double s2 = 0;
        for (int i = v.length - 1; i >= 0 && rank < cap && v[i] > threshold && v[i] > 0; i--) {
            rank++;
            s1 += v[i];
            s2 += v[i] * v[i];
        }
        double entropy = 0;
        for (double x : v) {
            if (x > 0) {
                double p = x / sum;
                entropy -= p * Math.log(p);
            }
        }
        double mean = rank == 0 ? Double.NaN : s1 / rank;
        double std = rank == 0 ? Double.NaN : Math.sqrt(Math.max(0, s2 / rank - mean * mean));
        return new SpectrumSummary(
                threshold,
                rank,
                mean,
                std,
                sumSq > 0 ? sum * sum / sumSq : Double.NaN,
                max > 0 ? trace / max : Double.NaN,
                sum > 0 ? Math.exp(entropy) : Double.NaN);
    }
}

package org.sgdnoise.diffusion;

/**
 * Summary statistics of an eigenvalue spectrum of D (exact or sketched), with the paper's rank rule.
 *
 * @param rankThreshold {@code λ_max · d · 1.1920929e-7}
 * @param rank eigenvalues above the threshold
 * @param eigMean mean of the eigenvalues above the threshold
 * @param eigStd standard deviation (population form) of those eigenvalues
 * @param participationRatio {@code (Σλ)²/Σλ²} over the given eigenvalues
 * @param stableRank {@code trace/λ_max}
 * @param effectiveRank {@code exp(H(λ/Σλ))}
 */
public record SpectrumSummary(
        double rankThreshold,
        int rank,
        double eigMean,
        double eigStd,
        double participationRatio,
        double stableRank,
        double effectiveRank) {

    /**
     * Summarises eigenvalues (any order; negatives from rounding count as 0).
     *
     * @param d the dimension, for the rank threshold
     * @param trace tr(D), for the stable rank (pass the exact trace when the eigenvalues are a sketch's)
     */
    public static SpectrumSummary of(double[] eigenvalues, long d, double trace) {
        double max = 0;
        double sum = 0;
        double sumSq = 0;
        for (double l : eigenvalues) {
            double v = Math.max(0, l);
            max = Math.max(max, v);
            sum += v;
            sumSq += v * v;
        }
        double threshold = max * d * DiffusionStatistics.FLOAT32_EPS;
        int rank = 0;
        double s1 = 0;
        double s2 = 0;
        double entropy = 0;
        for (double l : eigenvalues) {
            double v = Math.max(0, l);
            if (v > threshold && v > 0) {
                rank++;
                s1 += v;
                s2 += v * v;
            }
            if (v > 0) {
                double p = v / sum;
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

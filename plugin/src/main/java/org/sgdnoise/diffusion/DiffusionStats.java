package org.sgdnoise.diffusion;

import java.util.Arrays;

/**
 * Statistics of the gradient-noise covariance D from one probe of k per-example gradients.
 *
 * <p>All values are sample statistics of the k gradients, in the with-replacement normalisation of
 * Chaudhari and Soatto (2018), eq. (1) (A1): {@code D_k = (1/k) Σ (g_i − ḡ)(g_i − ḡ)ᵀ}. NaN means
 * undefined (for example a ratio over zero, or too few samples).
 *
 * @param k number of per-example gradients
 * @param d number of parameters
 * @param trace {@code tr(D_k) = (1/k) Σ |g_i − ḡ|²}
 * @param traceUnbiased {@code k/(k−1) · tr(D_k)}, unbiased for the population tr(D)
 * @param gradNormSq {@code |ḡ|²}, the squared norm of the sample mean gradient (biased upwards by tr(D)/k)
 * @param gradNormSqUnbiased {@code |ḡ|² − traceUnbiased/k}, unbiased for {@code |∇f|²}; may be negative
 * @param noiseScale {@code B_simple = tr(D_k)/|ḡ|²} (McCandlish et al. 2018), plug-in; saturates near k when
 *     the true B_simple ≫ k
 * @param noiseScaleUnbiased {@code traceUnbiased/gradNormSqUnbiased}, NaN when the denominator is ≤ 0
 * @param eigenvalues the k eigenvalues of D_k from the k×k Gram matrix, descending, tiny negative rounding
 *     clamped to 0 (D_k has at most k−1 nonzero eigenvalues)
 * @param rankThreshold {@code λ_max · d · 1.1920929e-7}, the paper's rank rule (numpy's matrix_rank); for
 *     d ≥ 8.4·10⁶ it exceeds λ_max and the rank is 0 by this rule
 * @param rank number of eigenvalues above the threshold; a lower bound on rank(D) when {@code rankCapped}
 * @param rankCapped true when {@code rank ≥ k − 1}: the sample size, not D, limits the rank
 * @param eigMean mean of the eigenvalues above the threshold (sample, k samples)
 * @param eigStd standard deviation (population form) of the eigenvalues above the threshold (sample)
 * @param participationRatio {@code (tr D)²/tr(D²)} from the unbiased pair estimator (theory.md §3); NaN for k &lt; 4
 * @param participationRatioPlugin {@code (Σλ)²/Σλ²} over the sample eigenvalues, the plug-in value: at most k − 1,
 *     biased low when the true ratio approaches k
 * @param stableRank {@code tr(D_k)/λ_max}
 * @param effectiveRank {@code exp(H(λ/Σλ))} (Roy and Vetterli 2007) over the sample eigenvalues
 * @param splitHalfOverlap overlap of the top-r sample subspaces of the probe's two halves (a noise floor
 *     for subspace comparisons), NaN if not computed
 * @param isotropyRatio {@code d·λ_max/tr(D_k)}: 1 for isotropic D, d for rank one; from k samples it is at
 *     least {@code d/(k−1)} (the sample spectrum has at most k−1 nonzero eigenvalues), so compare it with
 *     that floor, or use {@code d/participationRatio}, which is consistent at every k
 */
public record DiffusionStats(
        int k,
        long d,
        double trace,
        double traceUnbiased,
        double gradNormSq,
        double gradNormSqUnbiased,
        double noiseScale,
        double noiseScaleUnbiased,
        double[] eigenvalues,
        double rankThreshold,
        int rank,
        boolean rankCapped,
        double eigMean,
        double eigStd,
        double participationRatio,
        double participationRatioPlugin,
        double stableRank,
        double effectiveRank,
        double isotropyRatio,
        double splitHalfOverlap) {

    /** The same statistics with the split-half overlap set. */
    public DiffusionStats withSplitHalfOverlap(double overlap) {
        return new DiffusionStats(
                k,
                d,
                trace,
                traceUnbiased,
                gradNormSq,
                gradNormSqUnbiased,
                noiseScale,
                noiseScaleUnbiased,
                eigenvalues,
                rankThreshold,
                rank,
                rankCapped,
                eigMean,
                eigStd,
                participationRatio,
                participationRatioPlugin,
                stableRank,
                effectiveRank,
                isotropyRatio,
                overlap);
    }

    /** The largest sample eigenvalue. */
    public double lambdaMax() {
        return eigenvalues.length == 0 ? 0 : eigenvalues[0];
    }

    /** {@code rank/d}; a lower bound when {@link #rankCapped()}. */
    public double rankFraction() {
        return d == 0 ? Double.NaN : (double) rank / d;
    }

    /** The top r eigenvalues (fewer if k &lt; r), descending. */
    public double[] topEigenvalues(int r) {
        return Arrays.copyOf(eigenvalues, Math.min(r, eigenvalues.length));
    }

    /** {@code Σ_{i≤r} λ_i / tr(D_k)}: the share of the noise in the top r sample directions. */
    public double topFraction(int r) {
        double s = 0;
        for (int i = 0; i < Math.min(r, eigenvalues.length); i++) {
            s += eigenvalues[i];
        }
        return trace > 0 ? s / trace : Double.NaN;
    }
}

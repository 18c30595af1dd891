package org.sgdnoise.sampling;

import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * The stationary covariance of linearised SGD, {@code x_{t+1} = (I − ηH)x_t − ηn_t}, with the noise of the real
 * samplers, including the within-epoch correlation the paper's SDE leaves out (theory.md §1, §6).
 *
 * <p>With replacement the n_t are independent with covariance D/b, and the result is the discrete Lyapunov solution
 * of {@code LinearisedSgd}. Without replacement (a fresh permutation each epoch, b dividing N, m = N/b batches),
 * two batches of one epoch have covariance {@code −D/(N − 1)} and one batch {@code (N − b)/((N − 1)b)·D}, so an
 * epoch's noise sums to zero; epochs are independent. In the eigenbasis of H (a_i = 1 − ηh_i, D̃ = WᵀDW) the
 * covariance at the start of an epoch is exactly
 * {@code V_ij = η²D̃_ij [c·S_i(m)S_j(m) + (s − c)·G_ij(m)] / (1 − (a_ia_j)^m)}, with {@code S_i(k) = Σ_{t<k} a_i^t},
 * {@code G_ij(k) = Σ_{t<k} (a_ia_j)^t}, s the one-batch factor and c the two-batch one; after k steps of an epoch
 * it is {@code (a_ia_j)^k V_ij + η²D̃_ij [c·S_i(k)S_j(k) + (s − c)·G_ij(k)]}, and the result is the mean over the m
 * phases, what a time average over many epochs measures. Setting c = 0 with the without-replacement s gives the
 * paper's prediction (the temperature factor alone). Cost O(r³ + r²m). Stateless.
 */
public final class ReshuffledSgd {

    private ReshuffledSgd() {}

    /** How the noise of two batches of one epoch is modelled. */
    public enum Noise {
        /** The real samplers: without replacement, batches of one epoch covary by −D/(N − 1). */
        EXACT,
        /** The paper's model: each batch's noise (N − b)/((N − 1)b)·D without replacement, batches independent. */
        INDEPENDENT
    }

    /**
     * The stationary covariance of x, averaged over the phases of an epoch, in the basis of {@code h} and {@code d}.
     *
     * @param h the Hessian, symmetric r×r
     * @param d the per-example gradient covariance D (1/N definition), symmetric r×r
     * @param eta the learning rate
     * @param b the batch size; must divide N without replacement
     * @param n N
     * @param scheme with or without replacement
     * @param noise {@link Noise#EXACT} for the samplers' noise, {@link Noise#INDEPENDENT} for the paper's model
     * @throws IllegalArgumentException when a mode is unstable (|1 − ηh| ≥ 1), or b does not divide N without
     *     replacement
     */
    public static double[][] covariance(
            double[][] h, double[][] d, double eta, int b, int n, SamplingScheme scheme, Noise noise) {
        boolean without = scheme == SamplingScheme.WITHOUT_REPLACEMENT;
        if (without && n % b != 0) {
            throw new IllegalArgumentException("b = " + b + " must divide N = " + n + " without replacement");
        }
        if (!without && scheme != SamplingScheme.WITH_REPLACEMENT) {
            throw new IllegalArgumentException("the scheme must be known, got " + scheme);
        }
        int m = without ? n / b : 1; // with replacement every step is alike: one phase
        double same = without ? (n - b) / ((n - 1.0) * b) : 1.0 / b;
        double cross = without && noise == Noise.EXACT ? -1.0 / (n - 1) : 0;
        int r = h.length;
        SymmetricEigen e = SymmetricEigen.of(h);
        double[][] w = e.vectors();
        double[] a = new double[r];
        for (int i = 0; i < r; i++) {
            a[i] = 1 - eta * e.values()[i];
            if (!(Math.abs(a[i]) < 1)) {
                throw new IllegalArgumentException("mode " + i + " is unstable: 1 − ηh = " + a[i]);
            }
        }
        double[][] dt = rotate(d, w, true);
        double[][] sigma = new double[r][r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                double p = a[i] * a[j];
                double q = eta * eta * dt[i][j];
                double start = q
                        * (cross * geometric(a[i], m) * geometric(a[j], m) + (same - cross) * geometric(p, m))
                        / (1 - Math.pow(p, m));
                double sum = 0;
                for (int k = 0; k < m; k++) {
                    sum += Math.pow(p, k) * start
                            + q * (cross * geometric(a[i], k) * geometric(a[j], k) + (same - cross) * geometric(p, k));
                }
                sigma[i][j] = sum / m;
            }
        }
        return rotate(sigma, w, false);
    }

    /** {@code Σ_{t<k} x^t}. */
    static double geometric(double x, int k) {
        double s = 0;
        double term = 1;
        for (int t = 0; t < k; t++) {
            s += term;
            term *= x;
        }
        return s;
    }

    /** {@code WᵀAW} when {@code toEigen}, else {@code WAWᵀ} (W's columns the eigenvectors). */
    private static double[][] rotate(double[][] a, double[][] w, boolean toEigen) {
        int r = a.length;
        double[][] t = new double[r][r];
        double[][] out = new double[r][r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                double s = 0;
                for (int k = 0; k < r; k++) {
                    s += a[i][k] * (toEigen ? w[k][j] : w[j][k]);
                }
                t[i][j] = s;
            }
        }
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                double s = 0;
                for (int k = 0; k < r; k++) {
                    s += (toEigen ? w[k][i] : w[i][k]) * t[k][j];
                }
                out[i][j] = s;
            }
        }
        return out;
    }
}

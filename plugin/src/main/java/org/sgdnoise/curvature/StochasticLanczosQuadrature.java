package org.sgdnoise.curvature;

import java.util.SplittableRandom;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * The spectral density of a symmetric operator by stochastic Lanczos quadrature (Ubaru, Chen and Saad 2017;
 * Ghorbani, Krishnan and Xiao 2019; PyHessian's {@code density}).
 *
 * <p>The spectral density {@code φ(t) = (1/d) Σᵢ δ(t − λᵢ)} satisfies {@code ∫ f dφ = tr f(A)/d = E[vᵀ f(A) v]}
 * for {@code v = z/√d}, z Rademacher. For each of n seeded probes, m Lanczos steps from v give the
 * tridiagonal T_m with eigenpairs (θ_k, s_k); the m-point Gauss quadrature rule with nodes θ_k and weights
 * {@code τ_k = s_{1,k}²} integrates vᵀ f(A) v exactly for polynomials f of degree ≤ 2m − 1. The estimate is
 * the average of the n rules (a discrete measure of total mass 1); {@link SpectralDensity#density} broadens
 * it with Gaussians. Only the probes' randomness remains: moments are unbiased, with Hutchinson's variance.
 *
 * <p>Cost: n·m operator products, O(n·m²·d) for reorthogonalisation (full, so no ghost eigenvalues), O(n·m³)
 * for the small eigenproblems; memory: m vectors of d doubles at a time.
 */
public final class StochasticLanczosQuadrature {

    /** Default number of probes, {@value}. */
    public static final int DEFAULT_PROBES = 10;

    /** Default number of Lanczos steps per probe, {@value} (PyHessian's default is 100). */
    public static final int DEFAULT_STEPS = 80;

    private StochasticLanczosQuadrature() {}

    /**
     * Estimates the spectral density of a symmetric operator.
     *
     * @param op the operator
     * @param probes the number of Rademacher starts n, ≥ 1
     * @param steps the Lanczos steps per start m, ≥ 1, capped at d; a start stops earlier where its Krylov
     *     space is invariant (the rule is then exact)
     * @param seed the seed of the starts, written into the result
     */
    public static SpectralDensity estimate(SymmetricOperator op, int probes, int steps, long seed) {
        if (op == null) {
            throw new IllegalArgumentException("op must not be null");
        }
        if (probes < 1) {
            throw new IllegalArgumentException("probes must be >= 1, got " + probes);
        }
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        }
        int d = op.dimension();
        int m = Math.min(steps, d);
        SplittableRandom rng = new SplittableRandom(seed);
        double[][] nodes = new double[probes][];
        double[][] weights = new double[probes][];
        long products = 0;
        for (int p = 0; p < probes; p++) {
            double[] v = Vectors.rademacher(rng, d);
            Vectors.scale(1.0 / Math.sqrt(d), v);
            LanczosIteration it = new LanczosIteration(op, v, m, null, LanczosIteration.BREAKDOWN);
            while (it.step()) {
                // runs to m steps or an invariant subspace
            }
            products += it.steps();
            SymmetricEigen eig = it.ritz();
            int k = it.steps();
            nodes[p] = eig.values().clone();
            weights[p] = new double[k];
            for (int j = 0; j < k; j++) {
                double s = eig.vectors()[0][j];
                weights[p][j] = s * s;
            }
        }
        return new SpectralDensity(d, nodes, weights, m, products, seed);
    }
}

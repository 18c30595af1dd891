package org.sgdnoise.curvature;

import java.util.SplittableRandom;

/**
 * Hutchinson's stochastic trace estimator with Rademacher probes: {@code tr(A) ≈ (1/n) Σ zᵢᵀ A zᵢ}, zᵢ with
 * independent ±1 entries (Hutchinson 1990; the estimator PyHessian uses).
 *
 * <p>Each term is unbiased, with variance {@code 2 Σ_{i≠j} A_ij²} (zero for a diagonal A); the standard error
 * reported is the sample standard deviation of the n terms over √n. Cost: n operator products, O(nd) more;
 * memory: three vectors of d doubles. Stateless and thread-safe as far as the operator is.
 */
public final class HutchinsonTrace {

    /** Default number of probes, {@value}. */
    public static final int DEFAULT_PROBES = 50;

    private HutchinsonTrace() {}

    /**
     * Estimates the trace of a symmetric operator.
     *
     * @param op the operator
     * @param probes the number of Rademacher probes n, ≥ 2 (a standard error needs two)
     * @param seed the seed of the probes, written into the result
     */
    public static TraceEstimate estimate(SymmetricOperator op, int probes, long seed) {
        if (op == null) {
            throw new IllegalArgumentException("op must not be null");
        }
        if (probes < 2) {
            throw new IllegalArgumentException("probes must be >= 2, got " + probes);
        }
        SplittableRandom rng = new SplittableRandom(seed);
        double mean = 0;
        double m2 = 0; // Welford's running sum of squared deviations
        for (int i = 0; i < probes; i++) {
            double[] z = Vectors.rademacher(rng, op.dimension());
            double x = Vectors.dot(z, op.apply(z));
            double delta = x - mean;
            mean += delta / (i + 1);
            m2 += delta * (x - mean);
        }
        double stderr = Math.sqrt(m2 / (probes - 1) / probes);
        return new TraceEstimate(mean, stderr, probes, probes, seed);
    }
}

package org.sgdnoise.curvature;

/**
 * The predicted circulation of linearised SGD in one plane, spanned by orthonormal r-vectors (u, v), and
 * the power of the area test there.
 *
 * <p>The estimator after n steps is {@code Â_uv = uᵀÂv = (1/(2n)) Σ_t (p_t Δq_t − q_t Δp_t)} with p = uᵀy,
 * q = vᵀy (theory.md §5), a mean of n correlated terms. Its standard deviation is {@code sdScale/√n}, with
 * sdScale = √S/2 and S the long-run variance of the per-step term from Isserlis' theorem (exact for the
 * stationary Gaussian process, correlations at every lag included; see {@link ModalLyapunov}). The 1/√n
 * law neglects terms of relative order τ_c/n (τ_c the correlation time) and the detector's centring on the
 * sample mean, both O(1/n): use it for n well above the slowest relaxation time.
 *
 * @param i the first coordinate of a coordinate plane (u = e_i), −1 for the leading plane or a plane given by
 *     its vectors
 * @param j the second coordinate of a coordinate plane (v = e_j, i &lt; j), −1 for the leading plane or a
 *     plane given by its vectors
 * @param u the first unit vector of the plane (r components)
 * @param v the second unit vector, orthogonal to u
 * @param areaRate the predicted area rate per step, uᵀ A v (positive: circulation from u towards v)
 * @param sdScale the standard deviation of Â_uv after one step in the 1/√n law (per-step units)
 * @param period the period in steps, 2π/|arg λ|, of the complex eigenvalue λ of the plane's lag-1 linear
 *     map C₁ᵖ(Σᵖ)⁻¹ (the plane's 2×2 blocks of C₁ and Σ, as the detector fits it); NaN when its eigenvalues
 *     are real (no oscillation) or Σᵖ is singular
 */
public record PlanePrediction(int i, int j, double[] u, double[] v, double areaRate, double sdScale, double period) {

    /** The signal-to-noise ratio the project's loop tests are sized for: 4. */
    public static final double TARGET_SNR = 4;

    /** Copies the vectors. */
    public PlanePrediction {
        u = u.clone();
        v = v.clone();
    }

    /**
     * The predicted standard deviation of the measured area rate Â_uv after n steps, sdScale/√n.
     *
     * @param steps n ≥ 1
     */
    public double sd(long steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        }
        return sdScale / Math.sqrt(steps);
    }

    /**
     * The predicted signal-to-noise ratio |A_uv| / sd(Â_uv) after n steps; 0 when the predicted area rate is
     * 0, NaN when both are 0.
     *
     * @param steps n ≥ 1
     */
    public double snr(long steps) {
        return areaRate == 0 && sdScale > 0 ? 0 : Math.abs(areaRate) / sd(steps);
    }

    /**
     * The number of steps after which the predicted signal-to-noise ratio reaches {@code target}:
     * n = (target · sdScale / A_uv)², since it grows as √n. Infinite when the predicted area rate is 0.
     *
     * @param target the ratio, {@code > 0}
     */
    public double stepsForSnr(double target) {
        if (!(target > 0)) {
            throw new IllegalArgumentException("target must be > 0, got " + target);
        }
        if (areaRate == 0) {
            return Double.POSITIVE_INFINITY;
        }
        double k = target * sdScale / areaRate;
        return k * k;
    }

    /** {@link #stepsForSnr} at {@link #TARGET_SNR}. */
    public double stepsForSnr4() {
        return stepsForSnr(TARGET_SNR);
    }

    /** The plane's ratio |A_uv| / sdScale: the signal-to-noise ratio after one step, for ranking planes. */
    public double detectability() {
        return sdScale > 0 ? Math.abs(areaRate) / sdScale : 0;
    }

    /** True for the plane of a pair of coordinates (i, j), false for the leading plane. */
    public boolean isCoordinatePlane() {
        return i >= 0;
    }
}

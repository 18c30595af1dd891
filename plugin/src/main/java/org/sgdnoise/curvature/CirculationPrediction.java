package org.sgdnoise.curvature;

import java.util.Comparator;
import java.util.List;

/**
 * What the linearised (discrete Ornstein–Uhlenbeck) model of SGD predicts in its r-dimensional subspace:
 * the stationary covariance, the lag-1 covariance, the area-enclosing-rate tensor, periods, and the power
 * of the loop test. All rates are per optimiser step; all matrices are in the subspace's coordinates and
 * returned without copying (do not modify them).
 *
 * <p>Sign convention (theory.md §5): with y_t the position, the measured tensor is
 * {@code Â_ij = (1/(2T)) Σ_t (y_{t,i} Δy_{t,j} − y_{t,j} Δy_{t,i})}; its expectation is
 * {@code A = (C₁ᵀ − C₁)/2 = −lag1Antisymmetric} since E[y_{t,i} Δy_{t,j}] = (C₁)_ji − Σ_ij.
 *
 * @param model the inputs
 * @param noiseScale c with Cov ξ = c·D: 1/b with replacement, (N − b)/((N − 1)b) without
 * @param spectralRadius ρ &lt; 1 of the state's transition matrix; the slowest mode relaxes in about
 *     −1/ln ρ steps ({@link #relaxationSteps()})
 * @param modePeriods for each eigenvalue h of H_r (descending), the period in steps of the complex
 *     eigenvalues of its mode's transition, 2π/|arg z|; NaN where they are real, which is always so without
 *     momentum (the mean path of plain SGD never rotates: its circulation comes from the noise alone)
 * @param commutator the relative commutator ‖HD − DH‖_F / (‖H‖_F ‖D‖_F) of the Hessian as given (without
 *     weight decay, which commutes with D) and D; 0 when either is 0. Zero means no predicted circulation.
 * @param covariance Σ = E[x xᵀ], the stationary covariance of the position (r×r)
 * @param stateCovariance the stationary covariance of the state: Σ without momentum (r×r); with momentum
 *     the 2r×2r matrix of (x, v), position first
 * @param lag1Covariance C₁ = E[x_{t+1} x_tᵀ] (r×r; the position block of MΣ_z with momentum)
 * @param lag1Antisymmetric (C₁ − C₁ᵀ)/2, zero for a reversible process
 * @param areaRate A = (C₁ᵀ − C₁)/2, the expected area-enclosing rate per step (antisymmetric r×r)
 * @param maxRate ω ≥ 0, the rate in the most circulating plane (the leading pair ±iω of A)
 * @param leadingPlane the plane of ω, oriented so that uᵀAv = +ω (the plane the detector reports); null
 *     when r = 1
 * @param planes the coordinate planes (i, j), i &lt; j, in row-major order (r(r − 1)/2 of them)
 */
public record CirculationPrediction(
        LinearisedSgd model,
        double noiseScale,
        double spectralRadius,
        double[] modePeriods,
        double commutator,
        double[][] covariance,
        double[][] stateCovariance,
        double[][] lag1Covariance,
        double[][] lag1Antisymmetric,
        double[][] areaRate,
        double maxRate,
        PlanePrediction leadingPlane,
        List<PlanePrediction> planes) {

    /**
     * A circulation rate at or below this fraction of tr Σ per step is rounding, not a loop: commuting H and
     * D give rates near 1e-17·tr Σ.
     */
    public static final double ZERO_RATE_TOLERANCE = 1e-12;

    /** Makes the plane list unmodifiable. */
    public CirculationPrediction {
        planes = List.copyOf(planes);
    }

    /** The dimension r of the subspace. */
    public int dimension() {
        return covariance.length;
    }

    /**
     * Whether the model predicts circulation at all: ω above {@link #ZERO_RATE_TOLERANCE}·tr Σ. False when H
     * and D commute (detailed balance holds in the linearised model).
     */
    public boolean loopPredicted() {
        double trace = 0;
        for (int i = 0; i < covariance.length; i++) {
            trace += covariance[i][i];
        }
        return maxRate > ZERO_RATE_TOLERANCE * trace;
    }

    /** −1/ln ρ: the number of steps over which the slowest mode's autocorrelation falls by e. */
    public double relaxationSteps() {
        return -1 / Math.log(spectralRadius);
    }

    /** The coordinate plane (i, j), i ≠ j in either order (its orientation is then u = e_min, v = e_max). */
    public PlanePrediction plane(int i, int j) {
        int r = dimension();
        if (i == j || i < 0 || j < 0 || i >= r || j >= r) {
            throw new IllegalArgumentException(
                    "plane needs two different coordinates in [0, " + r + "), got (" + i + ", " + j + ")");
        }
        int a = Math.min(i, j);
        int b = Math.max(i, j);
        // Row-major index of (a, b) among the pairs a < b.
        return planes.get(a * (2 * r - a - 1) / 2 + (b - a - 1));
    }

    /**
     * The prediction in any plane spanned by orthonormal r-vectors (u, v), for example the plane the loop
     * detector measured: uᵀAv, the standard deviation of the measured Â_uv after n steps, and the plane's
     * period. Re-solves the model's moments: O(r³ + r²m²).
     *
     * @param u the first unit vector (r components). Not modified.
     * @param v the second unit vector, orthogonal to u. Not modified.
     * @throws IllegalArgumentException when u or v has not r components, or (u, v) is not orthonormal to
     *     {@value #PLANE_TOLERANCE}
     */
    public PlanePrediction plane(double[] u, double[] v) {
        int r = dimension();
        if (u == null || v == null || u.length != r || v.length != r) {
            throw new IllegalArgumentException("plane vectors must have r = " + r + " components, got "
                    + (u == null ? "null" : u.length) + " and " + (v == null ? "null" : v.length));
        }
        double uu = 0;
        double vv = 0;
        double uv = 0;
        for (int i = 0; i < r; i++) {
            uu += u[i] * u[i];
            vv += v[i] * v[i];
            uv += u[i] * v[i];
        }
        if (!(Math.abs(uu - 1) <= PLANE_TOLERANCE
                && Math.abs(vv - 1) <= PLANE_TOLERANCE
                && Math.abs(uv) <= PLANE_TOLERANCE)) {
            throw new IllegalArgumentException(
                    "plane vectors must be orthonormal, got |u|² = " + uu + ", |v|² = " + vv + ", u·v = " + uv);
        }
        return Planes.predict(model.solve(), covariance, lag1Covariance, areaRate, -1, -1, u, v);
    }

    /** Largest deviation from orthonormality accepted by {@link #plane(double[], double[])}. */
    public static final double PLANE_TOLERANCE = 1e-6;

    /**
     * The plane where the area test has the most power: the largest |A_uv| / sdScale among the coordinate
     * planes and the leading plane. Null when r = 1.
     */
    public PlanePrediction mostDetectablePlane() {
        PlanePrediction best = leadingPlane;
        for (PlanePrediction p : planes) {
            if (best == null || p.detectability() > best.detectability()) {
                best = p;
            }
        }
        return best;
    }

    /**
     * The steps after which the area test in {@link #mostDetectablePlane()} reaches signal-to-noise 4
     * (infinite when no loop is predicted or r = 1).
     */
    public double stepsForSnr4() {
        PlanePrediction best = mostDetectablePlane();
        return best == null || !loopPredicted() ? Double.POSITIVE_INFINITY : best.stepsForSnr4();
    }

    /** The coordinate planes sorted by detectability, most detectable first. */
    public List<PlanePrediction> planesByDetectability() {
        return planes.stream()
                .sorted(Comparator.comparingDouble(PlanePrediction::detectability)
                        .reversed())
                .toList();
    }

    /** Shows the model, ω, the commutator and the steps for SNR 4 (not the matrices). */
    @Override
    public String toString() {
        return "CirculationPrediction[" + model + ", maxRate=" + maxRate + ", commutator=" + commutator
                + ", loopPredicted=" + loopPredicted() + ", stepsForSnr4=" + stepsForSnr4() + ", spectralRadius="
                + spectralRadius + "]";
    }
}

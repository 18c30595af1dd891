package org.sgdnoise.internal.linalg;

/**
 * The period of a plane's lag-1 linear fit: with the plane's 2×2 covariance C₀ (symmetric) and lag-1 covariance C₁
 * (entry (a, b) = E[a·y_{t+1} b·y_t]), the fit M = C₁C₀⁻¹ turns by arg λ per step for its complex eigenvalue λ, so
 * the period is 2π/|arg λ| steps. The one implementation behind the loop detector's measured period and the
 * linearised model's predicted one. Stateless.
 */
public final class LagOneFit {

    private LagOneFit() {}

    /**
     * The period in steps; NaN when M has real eigenvalues (no oscillation) or C₀ is singular (determinant at most
     * 1e-14 of the product of its diagonal).
     */
    public static double period(
            double c0pp, double c0pq, double c0qq, double c1pp, double c1pq, double c1qp, double c1qq) {
        double det = c0pp * c0qq - c0pq * c0pq;
        if (!(det > 1e-14 * (c0pp * c0qq))) {
            return Double.NaN;
        }
        double i00 = c0qq / det;
        double i01 = -c0pq / det;
        double i11 = c0pp / det;
        double m00 = c1pp * i00 + c1pq * i01;
        double m01 = c1pp * i01 + c1pq * i11;
        double m10 = c1qp * i00 + c1qq * i01;
        double m11 = c1qp * i01 + c1qq * i11;
        double tr = m00 + m11;
        double disc = tr * tr / 4 - (m00 * m11 - m01 * m10);
        if (disc >= 0) {
            return Double.NaN;
        }
        return 2 * Math.PI / Math.abs(Math.atan2(Math.sqrt(-disc), tr / 2));
    }
}

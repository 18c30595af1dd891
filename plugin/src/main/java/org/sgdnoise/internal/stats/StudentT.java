package org.sgdnoise.internal.stats;

/** Student's t distribution: two-sided tail probabilities and quantiles, exact for integer degrees of freedom. */
public final class StudentT {

    private StudentT() {}

    /**
     * P(|T| ≥ t) for Student's t with ν degrees of freedom, exact for integer ν ≥ 1 (Abramowitz &amp; Stegun
     * 26.7.3–4): with θ = atan(t/√ν), P(|T| &lt; t) = (2/π)(θ + sin θ Σ_k a_k cos^k θ) for odd ν and
     * sin θ Σ_k b_k cos^k θ for even ν. Cost O(ν).
     */
    public static double twoSided(double t, int nu) {
        if (nu < 1) {
            throw new IllegalArgumentException("nu must be >= 1, got " + nu);
        }
        double theta = Math.atan(Math.abs(t) / Math.sqrt(nu));
        double sin = Math.sin(theta);
        double cos = Math.cos(theta);
        double c2 = cos * cos;
        double inside;
        if (nu % 2 == 1) {
            double sum = 0;
            if (nu > 1) {
                double term = cos;
                sum = term;
                for (int k = 3; k <= nu - 2; k += 2) {
                    term *= c2 * (k - 1) / k;
                    sum += term;
                }
            }
            inside = 2 / Math.PI * (theta + sin * sum);
        } else {
            double term = 1;
            double sum = 1;
            for (int k = 2; k <= nu - 2; k += 2) {
                term *= c2 * (k - 1) / k;
                sum += term;
            }
            inside = sin * sum;
        }
        return Math.min(1, Math.max(0, 1 - inside));
    }

    /**
     * The t with {@code P(|T| ≥ t) = alpha}: the half-width factor of a two-sided 1 − alpha interval (2.365 for
     * alpha 0.05 at ν = 7). By bisection on {@link #twoSided}, to 1e-12 relative.
     */
    public static double quantile(double alpha, int nu) {
        if (!(alpha > 0 && alpha < 1)) {
            throw new IllegalArgumentException("alpha must be in (0, 1), got " + alpha);
        }
        double lo = 0;
        double hi = 1;
        while (twoSided(hi, nu) > alpha) {
            hi *= 2;
        }
        for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
            double mid = 0.5 * (lo + hi);
            if (twoSided(mid, nu) > alpha) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return 0.5 * (lo + hi);
    }
}

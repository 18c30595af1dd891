package org.sgdnoise.curvature;

import org.sgdnoise.internal.linalg.LagOneFit;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/** Plane-wise predictions from the solved moments, and the commutator. Stateless; no argument is modified. */
final class Planes {

    private Planes() {}

    /**
     * The prediction in the plane (u, v): uᵀAv, sd of Â_uv from the long-run variance, and the period of the
     * plane's lag-1 linear fit.
     */
    static PlanePrediction predict(
            ModalLyapunov solved,
            double[][] sigma,
            double[][] lag1,
            double[][] area,
            int i,
            int j,
            double[] u,
            double[] v) {
        double rate = Dense.bilinear(u, area, v);
        double s = solved.longRunVariance(u, v);
        // S is a variance; a negative value can only be rounding of a zero one.
        double sdScale = 0.5 * Math.sqrt(Math.max(s, 0));
        return new PlanePrediction(i, j, u, v, rate, sdScale, period(sigma, lag1, u, v));
    }

    /**
     * 2π/|arg λ| for the complex eigenvalue λ of the 2×2 lag-1 fit K = C₁ᵖ(Σᵖ)⁻¹ in the plane (the detector's
     * own fit, LoopStatistics), in steps; NaN for real eigenvalues or a singular Σᵖ.
     */
    static double period(double[][] sigma, double[][] lag1, double[] u, double[] v) {
        double s00 = Dense.bilinear(u, sigma, u);
        double s01 = Dense.bilinear(u, sigma, v);
        double s11 = Dense.bilinear(v, sigma, v);
        // C₁ᵖ[a][b] = p_aᵀ C₁ p_b = E[p_a·y_{t+1} p_b·y_t].
        double c00 = Dense.bilinear(u, lag1, u);
        double c01 = Dense.bilinear(u, lag1, v);
        double c10 = Dense.bilinear(v, lag1, u);
        double c11 = Dense.bilinear(v, lag1, v);
        return LagOneFit.period(s00, s01, s11, c00, c01, c10, c11);
    }

    /**
     * The plane of the leading pair ±iω of the antisymmetric A: u the top eigenvector of AᵀA, v = −Au/ω, so
     * uᵀAv = +ω (LoopStatistics' orientation). When A u = 0 (no circulation) v is the next eigenvector.
     */
    static double[][] leadingPlane(double[][] area) {
        int r = area.length;
        SymmetricEigen eig = SymmetricEigen.of(Dense.times(Dense.transpose(area), area));
        double[] u = eig.vector(0);
        double[] v = new double[r];
        double norm = 0;
        for (int i = 0; i < r; i++) {
            for (int k = 0; k < r; k++) {
                v[i] -= area[i][k] * u[k];
            }
            norm += v[i] * v[i];
        }
        norm = Math.sqrt(norm);
        if (!(norm > 0)) {
            return new double[][] {u, eig.vector(1)};
        }
        // Gram–Schmidt once against rounding, then normalise.
        double dot = 0;
        for (int i = 0; i < r; i++) {
            dot += u[i] * v[i];
        }
        norm = 0;
        for (int i = 0; i < r; i++) {
            v[i] -= dot * u[i];
            norm += v[i] * v[i];
        }
        norm = Math.sqrt(norm);
        for (int i = 0; i < r; i++) {
            v[i] /= norm;
        }
        return new double[][] {u, v};
    }

    /** ‖HD − DH‖_F / (‖H‖_F ‖D‖_F), 0 when H or D is 0. */
    static double relativeCommutator(double[][] h, double[][] d) {
        double[][] hd = Dense.times(h, d);
        double[][] dh = Dense.times(d, h);
        double s = 0;
        for (int i = 0; i < h.length; i++) {
            for (int j = 0; j < h.length; j++) {
                double c = hd[i][j] - dh[i][j];
                s += c * c;
            }
        }
        double denominator = Dense.frobenius(h) * Dense.frobenius(d);
        return denominator > 0 ? Math.sqrt(s) / denominator : 0;
    }
}

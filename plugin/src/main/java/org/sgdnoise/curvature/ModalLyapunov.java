package org.sgdnoise.curvature;

import java.util.Arrays;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * Stationary second moments of the linearised SGD process in the eigenbasis of H' = H + λI ("modal"
 * coordinates), solved exactly, and the long-run variance of the area estimator in any plane.
 *
 * <p>With U the eigenvectors of H' (eigenvalues h'_k), the transition matrix of the state is block-diagonal:
 * one m×m block M_k per mode (m = 1: the position, M_k = 1 − ηh'_k; m = 2: position and velocity, M_k =
 * [[1 − ηh'_k, μ], [−ηh'_k, μ]]). The noise enters every component of a mode as −ηξ̃_k, so block (k, l) of
 * the state noise covariance is η²C̃_kl·𝟙 (𝟙 the all-ones m×m matrix, C̃ = UᵀCU). The discrete Lyapunov
 * equation Σ = MΣMᵀ + Q therefore splits into r² independent m²×m² linear systems
 * {@code Σ_kl = M_k Σ_kl M_lᵀ + η²C̃_kl 𝟙}, nonsingular because every product of two eigenvalues of M has
 * modulus below 1 (stability). For m = 1: Σ̃_kl = η²C̃_kl/(1 − (1 − ηh'_k)(1 − ηh'_l)).
 *
 * <p>Cost: one eigendecomposition O(r³), r² solves of size m², memory O(r²m²); a plane's long-run variance
 * O(r²m²). Immutable, thread-safe.
 */
final class ModalLyapunov {

    private final int r;
    private final int m;
    private final double[][] basis;
    private final double[][][] transition;
    /** Σ_z in modal blocks: {@code sigma[k][l][a][b]}, a, b ∈ {0 = position, 1 = velocity}. */
    private final double[][][][] sigma;
    /** The Stein responses W_kl: X_kl = Ẽ_kl·W_kl solves X = MᵀXM + Ê for Ê = P̃ᵀẼP̃. */
    private final double[][][][] stein;
    /** Σ̃ and C̃₁, the position blocks of Σ_z and MΣ_z in modal coordinates (r×r). */
    private final double[][] modalSigma;

    private final double[][] modalLag1;

    /**
     * Solves the model. Not modified: the arrays.
     *
     * @param hessian H' = H + λI, symmetric r×r
     * @param noise C, the covariance of the minibatch-gradient noise ξ, symmetric r×r
     * @param eta the learning rate η
     * @param mu the momentum μ (0: plain SGD, state = position only)
     */
    ModalLyapunov(double[][] hessian, double[][] noise, double eta, double mu) {
        r = hessian.length;
        m = mu == 0 ? 1 : 2;
        SymmetricEigen eig = SymmetricEigen.of(hessian);
        basis = eig.vectors();
        double[] h = eig.values();
        double[][] cTilde = Dense.congruenceT(basis, noise);
        transition = new double[r][][];
        for (int k = 0; k < r; k++) {
            double a = 1 - eta * h[k];
            transition[k] = m == 1 ? new double[][] {{a}} : new double[][] {{a, mu}, {-eta * h[k], mu}};
        }
        sigma = new double[r][r][][];
        stein = new double[r][r][][];
        double[] ones = new double[m * m];
        Arrays.fill(ones, eta * eta);
        double[] positionUnit = new double[m * m];
        positionUnit[0] = 1;
        for (int k = 0; k < r; k++) {
            for (int l = 0; l < r; l++) {
                double[][] mk = transition[k];
                double[][] ml = transition[l];
                double[][] lyap = new double[m * m][m * m];
                double[][] st = new double[m * m][m * m];
                for (int a = 0; a < m; a++) {
                    for (int b = 0; b < m; b++) {
                        for (int c = 0; c < m; c++) {
                            for (int d = 0; d < m; d++) {
                                // (MΣMᵀ)_kl[a][b] = Σ M_k[a][c] Σ_kl[c][d] M_l[b][d];
                                // (MᵀXM)_kl[a][b] = Σ M_k[c][a] X_kl[c][d] M_l[d][b].
                                lyap[a * m + b][c * m + d] = (a * m + b == c * m + d ? 1 : 0) - mk[a][c] * ml[b][d];
                                st[a * m + b][c * m + d] = (a * m + b == c * m + d ? 1 : 0) - mk[c][a] * ml[d][b];
                            }
                        }
                    }
                }
                double[] s = Dense.solve(lyap, ones);
                for (int i = 0; i < s.length; i++) {
                    s[i] *= cTilde[k][l];
                }
                sigma[k][l] = reshape(s);
                stein[k][l] = reshape(Dense.solve(st, positionUnit));
            }
        }
        modalSigma = block(0, 0);
        modalLag1 = lag1Block();
    }

    /**
     * The spectral radius of the transition matrix for the curvatures h'_k: max |1 − ηh'| without momentum,
     * else the largest root modulus of z² − (1 + μ − ηh')z + μ.
     */
    static double spectralRadius(double[] curvatures, double eta, double mu) {
        double rho = 0;
        for (double h : curvatures) {
            double t = 1 + mu - eta * h;
            double disc = t * t / 4 - mu;
            double mod = disc < 0
                    ? Math.sqrt(mu)
                    : Math.max(Math.abs(t / 2 + Math.sqrt(disc)), Math.abs(t / 2 - Math.sqrt(disc)));
            rho = Math.max(rho, mod);
        }
        return rho;
    }

    /**
     * The period 2π/|arg z|, in steps, of each mode's transition eigenvalues z, in the order of the
     * curvatures; NaN where z is real. Heavy ball: z² − (1 + μ − ηh')z + μ = 0, complex (underdamped) when
     * (1 + μ − ηh')² &lt; 4μ. Plain SGD's z = 1 − ηh' is always real: its mean path never rotates.
     */
    static double[] modePeriods(double[] curvatures, double eta, double mu) {
        double[] out = new double[curvatures.length];
        for (int k = 0; k < out.length; k++) {
            double t = 1 + mu - eta * curvatures[k];
            double disc = t * t / 4 - mu;
            out[k] = disc < 0 ? 2 * Math.PI / Math.abs(Math.atan2(Math.sqrt(-disc), t / 2)) : Double.NaN;
        }
        return out;
    }

    /** The stationary covariance of the position, Σ = E[x xᵀ], in the original coordinates. */
    double[][] positionCovariance() {
        return Dense.congruence(basis, modalSigma);
    }

    /**
     * The stationary covariance of the whole state in the original coordinates: Σ (r×r) without momentum,
     * [[E x xᵀ, E x vᵀ], [E v xᵀ, E v vᵀ]] (2r×2r) with it.
     */
    double[][] stateCovariance() {
        double[][] out = new double[m * r][m * r];
        for (int a = 0; a < m; a++) {
            for (int b = 0; b < m; b++) {
                double[][] part = Dense.congruence(basis, block(a, b));
                for (int i = 0; i < r; i++) {
                    System.arraycopy(part[i], 0, out[a * r + i], b * r, r);
                }
            }
        }
        return out;
    }

    /** The lag-1 covariance of the position, C₁ = E[x_{t+1} x_tᵀ], in the original coordinates. */
    double[][] lag1Covariance() {
        return Dense.congruence(basis, modalLag1);
    }

    /**
     * The long-run variance S = Σ_τ Cov(s_t, s_{t+τ}) of s_t = x_tᵀ(u vᵀ − v uᵀ)x_{t+1}, the per-step term
     * of twice the area estimator in the plane (u, v): Var(Â_uv) after n steps ≈ S/(4n).
     *
     * <p>By Isserlis' theorem, with C(τ) = E[x_{t+τ} x_tᵀ] and E = u vᵀ − v uᵀ, γ(τ) = Cov(s_t, s_{t+τ}) =
     * −tr(E C(τ)ᵀ E C(τ)) + tr(E C(τ−1)ᵀ E C(τ+1)). With C(τ) = P M^τ Σ_z Pᵀ (P selects the position),
     * Ê = PᵀEP, K = Σ_z Ê Σ_z and X = Σ_{τ≥0} (Mᵀ)^τ Ê M^τ (the Stein equation X = MᵀXM + Ê), the sums over
     * τ ≥ 1 close: Σ γ(τ) = −tr((X − Ê)K) + tr(X M² K). Hence S = γ(0) + 2Σ_{τ≥1} γ(τ) =
     * tr(EΣEΣ) + tr(E C₁ E C₁) − 2tr(XK) + 2tr(X M² K), exact for the stationary Gaussian process.
     */
    double longRunVariance(double[] u, double[] v) {
        double[] ut = Dense.transposeTimes(basis, u);
        double[] vt = Dense.transposeTimes(basis, v);
        double s = traceEyEy(ut, vt, modalSigma) + traceEyEy(ut, vt, modalLag1);
        // K = Σ_z Ê Σ_z = α βᵀ − β αᵀ with α = Σ_z P̃ᵀũ, β = Σ_z P̃ᵀṽ (rank 2).
        double[][] alpha = stateTimesPosition(ut);
        double[][] beta = stateTimesPosition(vt);
        double[][] m2alpha = transitionSquared(alpha);
        double[][] m2beta = transitionSquared(beta);
        double trXK = steinForm(ut, vt, beta, alpha) - steinForm(ut, vt, alpha, beta);
        double trXM2K = steinForm(ut, vt, beta, m2alpha) - steinForm(ut, vt, alpha, m2beta);
        return s - 2 * trXK + 2 * trXM2K;
    }

    /** tr(Ê Y Ê Y) for Ê = a bᵀ − b aᵀ: (bᵀYa)² + (aᵀYb)² − 2(aᵀYa)(bᵀYb). */
    private static double traceEyEy(double[] a, double[] b, double[][] y) {
        double bya = Dense.bilinear(b, y, a);
        double ayb = Dense.bilinear(a, y, b);
        return bya * bya + ayb * ayb - 2 * Dense.bilinear(a, y, a) * Dense.bilinear(b, y, b);
    }

    /** yᵀ X z with X_kl = Ẽ_kl W_kl, Ẽ_kl = ũ_k ṽ_l − ṽ_k ũ_l; y, z in modal blocks [k][a]. */
    private double steinForm(double[] ut, double[] vt, double[][] y, double[][] z) {
        double sum = 0;
        for (int k = 0; k < r; k++) {
            for (int l = 0; l < r; l++) {
                double e = ut[k] * vt[l] - vt[k] * ut[l];
                if (e == 0) {
                    continue;
                }
                double[][] w = stein[k][l];
                double q = 0;
                for (int a = 0; a < m; a++) {
                    for (int b = 0; b < m; b++) {
                        q += y[k][a] * w[a][b] * z[l][b];
                    }
                }
                sum += e * q;
            }
        }
        return sum;
    }

    /** Σ_z P̃ᵀw: the state covariance times a position-only vector, in modal blocks [k][a]. */
    private double[][] stateTimesPosition(double[] w) {
        double[][] out = new double[r][m];
        for (int k = 0; k < r; k++) {
            for (int a = 0; a < m; a++) {
                double s = 0;
                for (int l = 0; l < r; l++) {
                    s += sigma[k][l][a][0] * w[l];
                }
                out[k][a] = s;
            }
        }
        return out;
    }

    /** M² y for y in modal blocks (M is block-diagonal). */
    private double[][] transitionSquared(double[][] y) {
        double[][] out = new double[r][];
        for (int k = 0; k < r; k++) {
            out[k] = apply(transition[k], apply(transition[k], y[k]));
        }
        return out;
    }

    private static double[] apply(double[][] a, double[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x.length; j++) {
                out[i] += a[i][j] * x[j];
            }
        }
        return out;
    }

    /** The (a, b) component block of Σ_z in modal coordinates, r×r. */
    private double[][] block(int a, int b) {
        double[][] out = new double[r][r];
        for (int k = 0; k < r; k++) {
            for (int l = 0; l < r; l++) {
                out[k][l] = sigma[k][l][a][b];
            }
        }
        return out;
    }

    /** C̃₁_kl = (M_k Σ_kl)[position][position] = Σ_c M_k[0][c] Σ_kl[c][0]. */
    private double[][] lag1Block() {
        double[][] out = new double[r][r];
        for (int k = 0; k < r; k++) {
            for (int l = 0; l < r; l++) {
                double s = 0;
                for (int c = 0; c < m; c++) {
                    s += transition[k][0][c] * sigma[k][l][c][0];
                }
                out[k][l] = s;
            }
        }
        return out;
    }

    private double[][] reshape(double[] flat) {
        double[][] out = new double[m][m];
        for (int a = 0; a < m; a++) {
            System.arraycopy(flat, a * m, out[a], 0, m);
        }
        return out;
    }
}

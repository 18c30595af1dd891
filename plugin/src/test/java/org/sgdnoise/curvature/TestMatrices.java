package org.sgdnoise.curvature;

import java.util.SplittableRandom;

/** Seeded test matrices and small matrix helpers for the curvature tests. */
final class TestMatrices {

    private TestMatrices() {}

    static double[][] randomRotation(int r, SplittableRandom rng) {
        double[][] q = new double[r][r];
        for (int j = 0; j < r; j++) {
            double[] col = new double[r];
            for (int i = 0; i < r; i++) {
                col[i] = rng.nextGaussian();
            }
            for (int k = 0; k < j; k++) {
                double dot = 0;
                for (int i = 0; i < r; i++) {
                    dot += q[i][k] * col[i];
                }
                for (int i = 0; i < r; i++) {
                    col[i] -= dot * q[i][k];
                }
            }
            double norm = 0;
            for (double v : col) {
                norm += v * v;
            }
            for (int i = 0; i < r; i++) {
                q[i][j] = col[i] / Math.sqrt(norm);
            }
        }
        return q;
    }

    /** Q diag(λ) Qᵀ, exactly symmetric. */
    static double[][] withSpectrum(double[][] q, double[] lambda) {
        int r = lambda.length;
        double[][] out = new double[r][r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int k = 0; k < r; k++) {
                    s += q[i][k] * lambda[k] * q[j][k];
                }
                out[i][j] = s;
                out[j][i] = s;
            }
        }
        return out;
    }

    /** B Bᵀ/r + 0.1 I for a Gaussian r×r B: positive definite and generically not commuting with anything. */
    static double[][] randomCovariance(int r, SplittableRandom rng) {
        double[][] b = new double[r][r];
        for (double[] row : b) {
            for (int j = 0; j < r; j++) {
                row[j] = rng.nextGaussian();
            }
        }
        double[][] out = Dense.times(b, Dense.transpose(b));
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                out[i][j] = out[i][j] / r + (i == j ? 0.1 : 0);
            }
        }
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < i; j++) {
                out[j][i] = out[i][j];
            }
        }
        return out;
    }

    static double[] uniform(int r, double lo, double hi, SplittableRandom rng) {
        double[] out = new double[r];
        for (int i = 0; i < r; i++) {
            out[i] = lo + (hi - lo) * rng.nextDouble();
        }
        return out;
    }

    /** ‖Σ − MΣMᵀ − Q‖_F / ‖Σ‖_F. */
    static double residual(double[][] sigma, double[][] m, double[][] q) {
        double[][] msm = Dense.times(Dense.times(m, sigma), Dense.transpose(m));
        double s = 0;
        for (int i = 0; i < sigma.length; i++) {
            for (int j = 0; j < sigma.length; j++) {
                double e = sigma[i][j] - msm[i][j] - q[i][j];
                s += e * e;
            }
        }
        return Math.sqrt(s) / Dense.frobenius(sigma);
    }

    static double[][] scaled(double[][] a, double f) {
        double[][] out = new double[a.length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a.length; j++) {
                out[i][j] = f * a[i][j];
            }
        }
        return out;
    }

    static double maxDiff(double[][] a, double[][] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a.length; j++) {
                max = Math.max(max, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return max;
    }

    static double maxAbs(double[][] a) {
        return maxDiff(a, new double[a.length][a.length]);
    }

    static double trace(double[][] a) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i][i];
        }
        return s;
    }

    /** The top-left r×r block. */
    static double[][] position(double[][] a, int r) {
        double[][] out = new double[r][r];
        for (int i = 0; i < r; i++) {
            System.arraycopy(a[i], 0, out[i], 0, r);
        }
        return out;
    }

    static double[][] meanOf(double[][][] blocks) {
        int r = blocks[0].length;
        double[][] out = new double[r][r];
        for (double[][] b : blocks) {
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < r; j++) {
                    out[i][j] += b[i][j] / blocks.length;
                }
            }
        }
        return out;
    }
}

package org.sgdnoise.trajectory;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Euler–Maruyama simulations of the analytic cases of theory.md §5, for testing the loop detector
 * against known area rates. Each returns a steps×m trajectory starting at the origin. Stateless.
 */
public final class ToySystems {

    /** Z = √(2π)·∫exp(−(x²−1)²/4) dx, the double well's normaliser (theory.md §5). */
    public static final double DOUBLE_WELL_Z = 7.62347;

    private ToySystems() {}

    /** Standard normal draws from a SplittableRandom (Box–Muller, both outputs used). */
    static final class Gaussian {
        private final SplittableRandom r;
        private double spare = Double.NaN;

        Gaussian(long seed) {
            r = new SplittableRandom(seed);
        }

        double next() {
            if (!Double.isNaN(spare)) {
                double s = spare;
                spare = Double.NaN;
                return s;
            }
            double u = 1 - r.nextDouble();
            double v = r.nextDouble();
            double radius = Math.sqrt(-2 * Math.log(u));
            spare = radius * Math.sin(2 * Math.PI * v);
            return radius * Math.cos(2 * Math.PI * v);
        }
    }

    /**
     * The rotating Ornstein–Uhlenbeck process {@code dx = −F x dt + √2 dW}, F = [[1, α], [−α, 1]]: D = I,
     * Σ = I and area rate A₁₂ = +α.
     */
    public static double[][] rotatingOu(double alpha, double dt, int steps, long seed) {
        Gaussian g = new Gaussian(seed);
        double[][] y = new double[steps][2];
        double s = Math.sqrt(2 * dt);
        for (int t = 1; t < steps; t++) {
            double x1 = y[t - 1][0];
            double x2 = y[t - 1][1];
            y[t][0] = x1 + (-x1 - alpha * x2) * dt + s * g.next();
            y[t][1] = x2 + (alpha * x1 - x2) * dt + s * g.next();
        }
        return y;
    }

    /**
     * An anisotropic but reversible OU process: F = diag(f), D = diag(diffusion) commute, so detailed
     * balance holds and the area rate is 0 however non-isotropic the noise is.
     */
    public static double[][] reversibleOu(double[] f, double[] diffusion, double dt, int steps, long seed) {
        int m = f.length;
        Gaussian g = new Gaussian(seed);
        double[][] y = new double[steps][m];
        for (int t = 1; t < steps; t++) {
            for (int i = 0; i < m; i++) {
                y[t][i] = y[t - 1][i] - f[i] * y[t - 1][i] * dt + Math.sqrt(2 * diffusion[i] * dt) * g.next();
            }
        }
        return y;
    }

    /** Brownian motion in m dimensions with unit diffusion. */
    public static double[][] brownian(int m, double dt, int steps, long seed) {
        Gaussian g = new Gaussian(seed);
        double[][] y = new double[steps][m];
        double s = Math.sqrt(2 * dt);
        for (int t = 1; t < steps; t++) {
            for (int i = 0; i < m; i++) {
                y[t][i] = y[t - 1][i] + s * g.next();
            }
        }
        return y;
    }

    /**
     * The paper's example: Φ(x) = (x₁² − 1)²/4 + x₂²/2, {@code dx = (−∇Φ + j) dt + √2 dW} with
     * j = λ·e^{Φ}·e^{−(x₁²+x₂²)²/4}·(−x₂, x₁). Its stationary density is e^{−Φ} for every λ and its mean
     * area rate about the origin is λπ/Z.
     */
    public static double[][] doubleWell(double lambda, double dt, int steps, long seed) {
        Gaussian g = new Gaussian(seed);
        double[][] y = new double[steps][2];
        double s = Math.sqrt(2 * dt);
        y[0][0] = 1;
        for (int t = 1; t < steps; t++) {
            double x1 = y[t - 1][0];
            double x2 = y[t - 1][1];
            double phi = (x1 * x1 - 1) * (x1 * x1 - 1) / 4 + x2 * x2 / 2;
            double r2 = x1 * x1 + x2 * x2;
            double w = lambda * Math.exp(phi - r2 * r2 / 4);
            y[t][0] = x1 + (-x1 * (x1 * x1 - 1) - w * x2) * dt + s * g.next();
            y[t][1] = x2 + (-x2 + w * x1) * dt + s * g.next();
        }
        return y;
    }

    /** λπ/Z, the double well's analytic area rate. */
    public static double doubleWellAreaRate(double lambda) {
        return lambda * Math.PI / DOUBLE_WELL_Z;
    }

    /**
     * Embeds a trajectory into m dimensions: its coordinates followed by independent OU noise coordinates
     * (F = 1, D = noise), all mixed by a seeded random orthogonal map Q. Returns {y·Qᵀ, Q} where Q's first
     * columns are the images of the original axes.
     */
    public static double[][][] embed(double[][] y, int m, double noise, double dt, long seed) {
        int n = y.length;
        int k = y[0].length;
        double[] f = new double[m - k];
        double[] d = new double[m - k];
        Arrays.fill(f, 1);
        Arrays.fill(d, noise);
        double[][] extra = reversibleOu(f, d, dt, n, seed + 1);
        double[][] q = randomOrthogonal(m, seed);
        double[][] out = new double[n][m];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int j = 0; j < m; j++) {
                    double x = j < k ? y[t][j] : extra[t][j - k];
                    s += q[i][j] * x;
                }
                out[t][i] = s;
            }
        }
        return new double[][][] {out, q};
    }

    /** A seeded random orthogonal m×m matrix (Gram–Schmidt on Gaussian columns). */
    public static double[][] randomOrthogonal(int m, long seed) {
        Gaussian g = new Gaussian(seed);
        double[][] q = new double[m][m];
        for (int c = 0; c < m; c++) {
            double[] v = new double[m];
            for (int i = 0; i < m; i++) {
                v[i] = g.next();
            }
            for (int p = 0; p < c; p++) {
                double dot = 0;
                for (int i = 0; i < m; i++) {
                    dot += v[i] * q[i][p];
                }
                for (int i = 0; i < m; i++) {
                    v[i] -= dot * q[i][p];
                }
            }
            double norm = 0;
            for (double x : v) {
                norm += x * x;
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < m; i++) {
                q[i][c] = v[i] / norm;
            }
        }
        return q;
    }
}

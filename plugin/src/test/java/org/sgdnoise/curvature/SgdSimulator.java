package org.sgdnoise.curvature;

import java.util.SplittableRandom;

/**
 * Simulates the linearised SGD process of a {@link LinearisedSgd} directly (its own update rule, seeded
 * Gaussian noise with covariance c·D by Cholesky) and measures Σ, C₁ and the area rates of theory.md §5 by
 * batch means over contiguous blocks. Positions are not centred: the process mean is 0.
 */
final class SgdSimulator {

    /**
     * Per-block estimates.
     *
     * @param sigma [block][i][j], the block mean of x_{t,i} x_{t,j}
     * @param lag1 [block][i][j], the block mean of x_{t+1,i} x_{t,j}
     * @param area [block][i][j], (1/(2n)) Σ_t (x_{t,i} Δx_{t,j} − x_{t,j} Δx_{t,i}) over the block's n steps
     * @param trajectory the positions of every step (blocks·n + 1 rows), or null when not kept
     */
    record Blocks(double[][][] sigma, double[][][] lag1, double[][][] area, double[][] trajectory) {

        int count() {
            return sigma.length;
        }

        /** Per-block values of u^T Â v. */
        double[] planeArea(double[] u, double[] v) {
            double[] out = new double[area.length];
            for (int b = 0; b < area.length; b++) {
                out[b] = Dense.bilinear(u, area[b], v);
            }
            return out;
        }
    }

    private SgdSimulator() {}

    static Blocks run(LinearisedSgd model, int blocks, int blockSteps, int burnIn, long seed, boolean keep) {
        int r = model.dimension();
        double eta = model.learningRate();
        double mu = model.momentum();
        double[][] hessian = model.hessian();
        double[][] diffusion = model.diffusion();
        double[][] h = new double[r][r];
        double[][] noise = new double[r][r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                h[i][j] = hessian[i][j] + (i == j ? model.weightDecay() : 0);
                noise[i][j] = model.noiseScale() * diffusion[i][j];
            }
        }
        double[][] chol = cholesky(noise);
        SplittableRandom rng = new SplittableRandom(seed);
        double[] x = new double[r];
        double[] vel = new double[r];
        double[] z = new double[r];
        double[] next = new double[r];
        for (int t = 0; t < burnIn; t++) {
            step(h, chol, eta, mu, x, vel, z, next, rng);
        }
        double[][][] sigma = new double[blocks][r][r];
        double[][][] lag1 = new double[blocks][r][r];
        double[][][] area = new double[blocks][r][r];
        double[][] trajectory = keep ? new double[blocks * blockSteps + 1][] : null;
        int row = 0;
        if (keep) {
            trajectory[row++] = x.clone();
        }
        for (int b = 0; b < blocks; b++) {
            for (int t = 0; t < blockSteps; t++) {
                double[] prev = x.clone();
                step(h, chol, eta, mu, x, vel, z, next, rng);
                for (int i = 0; i < r; i++) {
                    for (int j = 0; j < r; j++) {
                        sigma[b][i][j] += prev[i] * prev[j];
                        lag1[b][i][j] += x[i] * prev[j];
                        area[b][i][j] += 0.5 * (prev[i] * (x[j] - prev[j]) - prev[j] * (x[i] - prev[i]));
                    }
                }
                if (keep) {
                    trajectory[row++] = x.clone();
                }
            }
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < r; j++) {
                    sigma[b][i][j] /= blockSteps;
                    lag1[b][i][j] /= blockSteps;
                    area[b][i][j] /= blockSteps;
                }
            }
        }
        return new Blocks(sigma, lag1, area, trajectory);
    }

    /** One heavy-ball step (plain SGD when μ = 0): v ← μv − η(Hx + ξ), x ← x + v. Modified: x, v. */
    private static void step(
            double[][] h,
            double[][] chol,
            double eta,
            double mu,
            double[] x,
            double[] v,
            double[] z,
            double[] next,
            SplittableRandom rng) {
        int r = x.length;
        for (int i = 0; i < r; i++) {
            z[i] = rng.nextGaussian();
        }
        for (int i = 0; i < r; i++) {
            double g = 0;
            for (int j = 0; j < r; j++) {
                g += h[i][j] * x[j];
            }
            for (int j = 0; j <= i; j++) {
                g += chol[i][j] * z[j];
            }
            next[i] = mu * v[i] - eta * g;
        }
        for (int i = 0; i < r; i++) {
            v[i] = next[i];
            x[i] += next[i];
        }
    }

    /** Lower-triangular L with L Lᵀ = A (A positive definite). */
    static double[][] cholesky(double[][] a) {
        int n = a.length;
        double[][] l = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = a[i][j];
                for (int k = 0; k < j; k++) {
                    s -= l[i][k] * l[j][k];
                }
                l[i][j] = i == j ? Math.sqrt(s) : s / l[j][j];
            }
        }
        return l;
    }

    static double mean(double[] x) {
        double s = 0;
        for (double v : x) {
            s += v;
        }
        return s / x.length;
    }

    /** The sample standard deviation of the block values. */
    static double sd(double[] x) {
        double m = mean(x);
        double s = 0;
        for (double v : x) {
            s += (v - m) * (v - m);
        }
        return Math.sqrt(s / (x.length - 1));
    }

    /** The batch-means standard error of the overall mean. */
    static double stderr(double[] x) {
        return sd(x) / Math.sqrt(x.length);
    }

    /** Entry (i, j) of every block. */
    static double[] entry(double[][][] perBlock, int i, int j) {
        double[] out = new double[perBlock.length];
        for (int b = 0; b < perBlock.length; b++) {
            out[b] = perBlock[b][i][j];
        }
        return out;
    }
}

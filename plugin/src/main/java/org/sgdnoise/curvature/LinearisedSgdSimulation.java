package org.sgdnoise.curvature;

import java.util.SplittableRandom;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * Simulates the process {@link LinearisedSgd} models: plain SGD {@code x_{t+1} = (I − ηH')x_t − ηξ_t}, or heavy
 * ball {@code v_{t+1} = μv_t − η(H'x_t + ξ_t)}, {@code x_{t+1} = x_t + v_{t+1}}, with Gaussian ξ of covariance
 * c·D_r ({@link LinearisedSgd#noiseScale()}). For calibrating the loop test on the measured H and D: its power
 * against the predicted circulation, and its false-alarm rate when D is replaced by a matrix commuting with H.
 * Cost O(steps·r²); memory the trajectory, steps·r doubles.
 */
public final class LinearisedSgdSimulation {

    private LinearisedSgdSimulation() {}

    /**
     * {@code steps} positions after {@code burnIn} discarded ones, from x_0 = 0, with a seeded generator.
     *
     * @return steps×r positions
     * @throws IllegalArgumentException for steps &lt; 1 or burnIn &lt; 0
     */
    public static double[][] simulate(LinearisedSgd model, int steps, int burnIn, long seed) {
        if (steps < 1 || burnIn < 0) {
            throw new IllegalArgumentException("need steps >= 1 and burnIn >= 0, got " + steps + ", " + burnIn);
        }
        double[][] h = model.hessian();
        int r = h.length;
        for (int i = 0; i < r; i++) {
            h[i][i] += model.weightDecay();
        }
        double[][] root = squareRoot(model.diffusion(), model.noiseScale());
        double eta = model.learningRate();
        double mu = model.momentum();
        SplittableRandom rng = new SplittableRandom(seed);
        double[] x = new double[r];
        double[] v = new double[r];
        double[] z = new double[r];
        double[] g = new double[r];
        double[][] out = new double[steps][];
        for (int t = -burnIn; t < steps; t++) {
            for (int i = 0; i < r; i++) {
                z[i] = gaussian(rng);
            }
            for (int i = 0; i < r; i++) {
                double s = 0;
                for (int j = 0; j < r; j++) {
                    s += h[i][j] * x[j] + root[i][j] * z[j];
                }
                g[i] = s;
            }
            for (int i = 0; i < r; i++) {
                v[i] = mu * v[i] - eta * g[i];
                x[i] += v[i];
            }
            if (t >= 0) {
                out[t] = x.clone();
            }
        }
        return out;
    }

    /** A square root R of the PSD matrix s·D (R Rᵀ = s·D), from its eigendecomposition. */
    private static double[][] squareRoot(double[][] d, double s) {
        SymmetricEigen e = SymmetricEigen.of(d);
        int r = d.length;
        double[][] root = new double[r][r];
        for (int j = 0; j < r; j++) {
            double w = Math.sqrt(Math.max(0, e.values()[j]) * s);
            for (int i = 0; i < r; i++) {
                root[i][j] = e.vectors()[i][j] * w;
            }
        }
        return root;
    }

    private static double gaussian(SplittableRandom rng) {
        double u1 = 1 - rng.nextDouble();
        double u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2); // Box–Muller
    }
}

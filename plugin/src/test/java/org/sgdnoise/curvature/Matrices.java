package org.sgdnoise.curvature;

import java.util.SplittableRandom;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/** Dense symmetric test matrices with a known spectrum, in double. */
final class Matrices {

    private Matrices() {}

    /** {@code Q diag(values) Qᵀ} with Q a seeded random orthogonal matrix (eigenvectors of a random matrix). */
    static double[][] withSpectrum(double[] values, long seed) {
        int d = values.length;
        SplittableRandom rng = new SplittableRandom(seed);
        double[][] g = new double[d][d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j <= i; j++) {
                g[i][j] = g[j][i] = rng.nextGaussian();
            }
        }
        double[][] q = SymmetricEigen.of(g).vectors();
        double[][] a = new double[d][d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                double s = 0;
                for (int k = 0; k < d; k++) {
                    s += q[i][k] * values[k] * q[j][k];
                }
                a[i][j] = s;
            }
        }
        for (int i = 0; i < d; i++) { // exact symmetry
            for (int j = 0; j < i; j++) {
                a[j][i] = a[i][j];
            }
        }
        return a;
    }

    static double[][] diagonal(double[] values) {
        double[][] a = new double[values.length][values.length];
        for (int i = 0; i < values.length; i++) {
            a[i][i] = values[i];
        }
        return a;
    }

    static double[][] multiply(double[][] a, double[][] b) {
        int n = a.length;
        double[][] c = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < n; k++) {
                for (int j = 0; j < n; j++) {
                    c[i][j] += a[i][k] * b[k][j];
                }
            }
        }
        return c;
    }

    static double trace(double[][] a) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i][i];
        }
        return s;
    }

    /** {@code Σ_{i≠j} a_ij²}: half the variance of one Rademacher quadratic form {@code zᵀAz}. */
    static double offDiagonalSquares(double[][] a) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a.length; j++) {
                if (i != j) {
                    s += a[i][j] * a[i][j];
                }
            }
        }
        return s;
    }

    static double[] multiply(double[][] a, double[] v) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < v.length; j++) {
                out[i] += a[i][j] * v[j];
            }
        }
        return out;
    }
}

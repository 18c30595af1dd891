package org.sgdnoise.curvature;

import java.util.SplittableRandom;

/** Small dense vector kernels and random probes for the spectral methods. Package-private, stateless. */
final class Vectors {

    private Vectors() {}

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    static double norm(double[] a) {
        return Math.sqrt(dot(a, a));
    }

    /** {@code y ← y + alpha·x}. Modified: {@code y}. */
    static void axpy(double alpha, double[] x, double[] y) {
        for (int i = 0; i < y.length; i++) {
            y[i] += alpha * x[i];
        }
    }

    /** {@code x ← alpha·x}. Modified: {@code x}. */
    static void scale(double alpha, double[] x) {
        for (int i = 0; i < x.length; i++) {
            x[i] *= alpha;
        }
    }

    /** A vector of independent ±1 entries, each with probability 1/2. */
    static double[] rademacher(SplittableRandom rng, int d) {
        double[] z = new double[d];
        for (int i = 0; i < d; i++) {
            z[i] = rng.nextBoolean() ? 1.0 : -1.0;
        }
        return z;
    }

    /** A unit vector, uniformly distributed on the sphere (normalised standard Gaussian). */
    static double[] unitGaussian(SplittableRandom rng, int d) {
        double[] z = new double[d];
        for (int i = 0; i < d; i++) {
            z[i] = rng.nextGaussian();
        }
        scale(1.0 / norm(z), z);
        return z;
    }

    static void requireLength(double[] v, int d, String name) {
        if (v == null || v.length != d) {
            throw new IllegalArgumentException(
                    name + " must have length " + d + ", got " + (v == null ? "null" : String.valueOf(v.length)));
        }
    }

    static void requireFinite(double[] v, String name) {
        for (int i = 0; i < v.length; i++) {
            if (!Double.isFinite(v[i])) {
                throw new IllegalArgumentException(name + " must be finite, got " + v[i] + " at index " + i);
            }
        }
    }
}

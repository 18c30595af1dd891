package org.sgdnoise.curvature;

import java.util.function.UnaryOperator;

/**
 * A real symmetric linear operator {@code v → Av} on {@code R^d}, given only through its products: a Hessian
 * ({@link HessianOperator}) or an explicit matrix.
 *
 * <p>{@link #apply} must not modify its argument and must return a new array (or one the caller may keep).
 */
public interface SymmetricOperator {

    /** The dimension d: the length of every vector the operator takes and returns. */
    int dimension();

    /**
     * The product {@code Av}. Not modified: {@code v}.
     *
     * @param v a vector of length {@link #dimension()}
     * @return {@code Av}, a new array of length {@link #dimension()}
     */
    double[] apply(double[] v);

    /**
     * An operator from a function; the function must be linear and symmetric, which is not checked.
     *
     * @param dimension d, &gt; 0
     * @param product {@code v → Av}
     */
    static SymmetricOperator of(int dimension, UnaryOperator<double[]> product) {
        if (dimension <= 0) {
            throw new IllegalArgumentException("dimension must be > 0, got " + dimension);
        }
        if (product == null) {
            throw new IllegalArgumentException("product must not be null");
        }
        return new SymmetricOperator() {
            @Override
            public int dimension() {
                return dimension;
            }

            @Override
            public double[] apply(double[] v) {
                Vectors.requireLength(v, dimension, "v");
                return product.apply(v);
            }
        };
    }

    /**
     * The operator of an explicit symmetric matrix (copied), product cost O(d²).
     *
     * @throws IllegalArgumentException when {@code a} is not square or not symmetric to 1e-12 relative
     */
    static SymmetricOperator ofMatrix(double[][] a) {
        if (a == null || a.length == 0) {
            throw new IllegalArgumentException("a must be a non-empty square matrix");
        }
        int d = a.length;
        double[][] m = new double[d][];
        double scale = 0;
        for (int i = 0; i < d; i++) {
            if (a[i] == null || a[i].length != d) {
                throw new IllegalArgumentException("a must be square: row " + i + " has "
                        + (a[i] == null ? 0 : a[i].length) + " entries, not " + d);
            }
            m[i] = a[i].clone();
            for (double x : m[i]) {
                scale = Math.max(scale, Math.abs(x));
            }
        }
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < i; j++) {
                if (Math.abs(m[i][j] - m[j][i]) > 1e-12 * scale) {
                    throw new IllegalArgumentException("a must be symmetric: a[" + i + "][" + j + "] = " + m[i][j]
                            + " but a[" + j + "][" + i + "] = " + m[j][i]);
                }
            }
        }
        return of(d, v -> {
            double[] out = new double[d];
            for (int i = 0; i < d; i++) {
                out[i] = Vectors.dot(m[i], v);
            }
            return out;
        });
    }
}

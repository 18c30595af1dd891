package org.sgdnoise.curvature;

/**
 * Small dense double-precision operations on {@code double[][]} (row-major, r ≤ a few hundred) for the
 * linearised predictor. Stateless; no argument is modified.
 */
final class Dense {

    private Dense() {}

    /** U Y Uᵀ. */
    static double[][] congruence(double[][] u, double[][] y) {
        return times(times(u, y), transpose(u));
    }

    /** Uᵀ Y U. */
    static double[][] congruenceT(double[][] u, double[][] y) {
        return times(times(transpose(u), y), u);
    }

    /** A B. */
    static double[][] times(double[][] a, double[][] b) {
        int n = a.length;
        int k = b.length;
        int p = b[0].length;
        double[][] out = new double[n][p];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < k; j++) {
                double aij = a[i][j];
                for (int l = 0; l < p; l++) {
                    out[i][l] += aij * b[j][l];
                }
            }
        }
        return out;
    }

    /** Aᵀ. */
    static double[][] transpose(double[][] a) {
        double[][] out = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                out[j][i] = a[i][j];
            }
        }
        return out;
    }

    /** Uᵀ x. */
    static double[] transposeTimes(double[][] u, double[] x) {
        double[] out = new double[u[0].length];
        for (int i = 0; i < u.length; i++) {
            for (int j = 0; j < out.length; j++) {
                out[j] += u[i][j] * x[i];
            }
        }
        return out;
    }

    /** aᵀ Y b. */
    static double bilinear(double[] a, double[][] y, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double row = 0;
            for (int j = 0; j < b.length; j++) {
                row += y[i][j] * b[j];
            }
            s += a[i] * row;
        }
        return s;
    }

    /** ‖A‖_F. */
    static double frobenius(double[][] a) {
        double s = 0;
        for (double[] row : a) {
            for (double v : row) {
                s += v * v;
            }
        }
        return Math.sqrt(s);
    }

    /** The n-th unit vector of length r. */
    static double[] unit(int r, int n) {
        double[] e = new double[r];
        e[n] = 1;
        return e;
    }

    /**
     * Solves A x = b by Gaussian elimination with partial pivoting (A small and nonsingular).
     *
     * @throws IllegalStateException when A is singular
     */
    static double[] solve(double[][] a, double[] b) {
        int n = b.length;
        double[][] m = new double[n][];
        for (int i = 0; i < n; i++) {
            m[i] = java.util.Arrays.copyOf(a[i], n + 1);
            m[i][n] = b[i];
        }
        for (int c = 0; c < n; c++) {
            int p = c;
            for (int i = c + 1; i < n; i++) {
                if (Math.abs(m[i][c]) > Math.abs(m[p][c])) {
                    p = i;
                }
            }
            if (m[p][c] == 0) {
                throw new IllegalStateException("singular " + n + "×" + n + " system");
            }
            double[] t = m[c];
            m[c] = m[p];
            m[p] = t;
            for (int i = c + 1; i < n; i++) {
                double f = m[i][c] / m[c][c];
                for (int j = c; j <= n; j++) {
                    m[i][j] -= f * m[c][j];
                }
            }
        }
        double[] x = new double[n];
        for (int i = n - 1; i >= 0; i--) {
            double s = m[i][n];
            for (int j = i + 1; j < n; j++) {
                s -= m[i][j] * x[j];
            }
            x[i] = s / m[i][i];
        }
        return x;
    }
}

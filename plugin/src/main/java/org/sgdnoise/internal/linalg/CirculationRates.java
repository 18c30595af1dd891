package org.sgdnoise.internal.linalg;

/** The circulation rates of an antisymmetric area-rate tensor A, measured or predicted. Stateless. */
public final class CirculationRates {

    private CirculationRates() {}

    /**
     * The rates ω₁ ≥ ω₂ ≥ … ≥ 0 of an antisymmetric m×m A, one per invariant plane (⌊m/2⌋ of them): A's eigenvalues
     * are ±iω_k, so AᵀA has each ω_k² twice; ω_k = √ of the mean of the pair. They do not depend on the orthonormal
     * basis A is written in, so they compare a measured and a predicted A even where near-equal Hessian eigenvalues
     * leave the basis vectors, and with them the single coordinate planes, ill-determined.
     */
    public static double[] spectrum(double[][] a) {
        int m = a.length;
        double[] eig = SymmetricEigen.eigenvalues(gram(a), 1.0);
        double[] rates = new double[m / 2];
        for (int k = 0; k < rates.length; k++) {
            rates[k] = Math.sqrt(Math.max(0, (eig[2 * k] + eig[2 * k + 1]) / 2));
        }
        return rates;
    }

    /** AᵀA. */
    public static double[][] gram(double[][] a) {
        int m = a.length;
        double[][] s = new double[m][m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                double v = 0;
                for (int k = 0; k < m; k++) {
                    v += a[k][i] * a[k][j];
                }
                s[i][j] = v;
            }
        }
        return s;
    }
}

package org.sgdnoise.sketch;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * Eigendecomposition of a small symmetric matrix in double precision, eigenvalues descending.
 *
 * @param values eigenvalues, descending
 * @param vectors eigenvectors as columns: {@code vectors[i][j]} is component i of eigenvector j
 */
record SymmetricEigen(double[] values, double[][] vectors) {

    /** Decomposes the leading n×n block of {@code a} (symmetrised). Not modified: {@code a}. */
    static SymmetricEigen of(double[][] a, int n) {
        return ejml(a, n);
    }

    static SymmetricEigen ejml(double[][] a, int n) {
        DMatrixRMaj m = new DMatrixRMaj(n, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                m.set(i, j, 0.5 * (a[i][j] + a[j][i]));
            }
        }
        EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, true, true);
        if (!eig.decompose(m)) {
            throw new IllegalStateException("symmetric eigendecomposition did not converge (n = " + n + ")");
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (x, y) -> Double.compare(eig.getEigenvalue(y).real, eig.getEigenvalue(x).real));
        double[] values = new double[n];
        double[][] vectors = new double[n][n];
        for (int j = 0; j < n; j++) {
            values[j] = eig.getEigenvalue(order[j]).real;
            DMatrixRMaj v = eig.getEigenVector(order[j]);
            for (int i = 0; i < n; i++) {
                vectors[i][j] = v == null ? (i == j ? 1 : 0) : v.get(i, 0);
            }
        }
        return new SymmetricEigen(values, vectors);
    }
}

package org.sgdnoise.internal.linalg;

import java.util.Arrays;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The eigendecomposition {@code A = V Λ Vᵀ} of a real symmetric matrix, in double precision, eigenvalues
 * descending: the only place in sgdnoise that calls an eigensolver.
 *
 * <p>Backends: EJML's symmetric QR algorithm up to {@value #LAPACK_ABOVE} rows, LAPACK's {@code dsyev}
 * (through ND4J) beyond, and wherever EJML does not converge. The input is symmetrised first, {@code
 * (A + Aᵀ)/2}: a BLAS Gram matrix can differ from its transpose in the last bit. Cost O(n³); memory two
 * n×n copies in double. Stateless and thread-safe.
 *
 * <p>Eigenvectors are unit length and mutually orthogonal; their signs, and the basis within a repeated
 * eigenvalue's eigenspace, are whatever the backend returns.
 */
public final class SymmetricEigen {

    /**
     * Above this many rows LAPACK is used: EJML's QR iteration is slower there, and failed to converge at
     * 4,000 rows.
     */
    public static final int LAPACK_ABOVE = 1_024;

    /** The two implementations behind {@link #of}. */
    public enum Backend {
        /** EJML's symmetric QR algorithm ({@code DecompositionFactory_DDRM.eig}), pure Java. */
        EJML,
        /** LAPACK's {@code dsyev} through ND4J's BLAS wrapper, native. */
        LAPACK
    }

    private final double[] values;
    private final double[][] vectors;
    private final Backend backend;

    private SymmetricEigen(double[] values, double[][] vectors, Backend backend) {
        this.values = values;
        this.vectors = vectors;
        this.backend = backend;
    }

    /**
     * Decomposes a symmetric n×n matrix, with eigenvectors. Not modified: {@code a}.
     *
     * @param a the matrix, n×n (symmetrised before use)
     * @return the eigenvalues, descending, with their eigenvectors
     * @throws IllegalStateException when neither backend converges
     */
    public static SymmetricEigen of(double[][] a) {
        return of(a, a.length, 1.0, true);
    }

    /**
     * Decomposes {@code scale·(A + Aᵀ)/2} for the leading n×n block A of {@code a}, choosing the backend by
     * size ({@link #LAPACK_ABOVE}) and falling back to LAPACK where EJML does not converge. Not modified:
     * {@code a}.
     *
     * @param a a matrix with at least n rows and n columns
     * @param n the size of the leading block to decompose, {@code n >= 0}
     * @param scale a factor applied to every entry (1 for none)
     * @param withVectors also compute the eigenvectors ({@link #vectors()} is null otherwise)
     * @return the eigenvalues, descending, and the eigenvectors if asked
     * @throws IllegalStateException when neither backend converges
     */
    public static SymmetricEigen of(double[][] a, int n, double scale, boolean withVectors) {
        SymmetricEigen e = n > LAPACK_ABOVE ? null : ejml(a, n, scale, withVectors);
        return e != null ? e : lapack(a, n, scale, withVectors);
    }

    /**
     * Decomposes {@code scale·(A + Aᵀ)/2} for the leading n×n block A of {@code a} with the given backend
     * only (for tests and benchmarks). Not modified: {@code a}.
     *
     * @param backend the implementation to use
     * @return the decomposition, or null when EJML does not converge
     * @throws IllegalStateException when LAPACK reports an error
     */
    public static SymmetricEigen of(double[][] a, int n, double scale, boolean withVectors, Backend backend) {
        return backend == Backend.EJML ? ejml(a, n, scale, withVectors) : lapack(a, n, scale, withVectors);
    }

    /**
     * The eigenvalues of {@code scale·(A + Aᵀ)/2} for a square {@code a}, descending. Not modified: {@code a}.
     *
     * @throws IllegalStateException when neither backend converges
     */
    public static double[] eigenvalues(double[][] a, double scale) {
        return of(a, a.length, scale, false).values;
    }

    /**
     * The eigenvalues of a symmetric n×n INDArray, descending, without a second n×n copy above
     * {@link #LAPACK_ABOVE} rows: LAPACK then works in {@code a}'s own buffer (converted to double first
     * when it is not). Only one triangle is read there, so {@code a} must be symmetric to rounding.
     *
     * <p>Modified: {@code a} (its contents are undefined afterwards).
     *
     * @throws IllegalArgumentException when {@code a} is not square
     * @throws IllegalStateException when neither backend converges
     */
    public static double[] eigenvaluesOverwriting(INDArray a) {
        if (a.rank() != 2 || a.rows() != a.columns()) {
            throw new IllegalArgumentException("a must be square, got shape " + Arrays.toString(a.shape()));
        }
        int n = (int) a.rows();
        if (n <= LAPACK_ABOVE) {
            SymmetricEigen e = ejml(a.castTo(DataType.DOUBLE).toDoubleMatrix(), n, 1.0, false);
            if (e != null) {
                return e.values;
            }
        }
        INDArray m = a.dataType() == DataType.DOUBLE ? a : a.castTo(DataType.DOUBLE);
        return reverse(syev(m, false, n));
    }

    /** The eigenvalues, descending (length n). */
    public double[] values() {
        return values;
    }

    /**
     * The eigenvectors as columns, in the order of {@link #values()}: {@code vectors()[i][j]} is component i
     * of eigenvector j. Null when they were not asked for.
     */
    public double[][] vectors() {
        return vectors;
    }

    /** The eigenvector of {@code values()[j]} as a new array. */
    public double[] vector(int j) {
        double[] v = new double[vectors.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = vectors[i][j];
        }
        return v;
    }

    /** The backend that produced this decomposition. */
    public Backend backend() {
        return backend;
    }

    /** Shows the size, the backend and the leading eigenvalue. */
    @Override
    public String toString() {
        return "SymmetricEigen[n=" + values.length + ", backend=" + backend
                + (values.length > 0 ? ", lambda1=" + values[0] : "") + "]";
    }

    /** EJML on the symmetrised block, or null when its QR iteration does not converge. */
    private static SymmetricEigen ejml(double[][] a, int n, double scale, boolean withVectors) {
        DMatrixRMaj m = new DMatrixRMaj(n, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                m.set(i, j, 0.5 * (a[i][j] + a[j][i]) * scale);
            }
        }
        EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, withVectors, true);
        if (!eig.decompose(m)) {
            return null;
        }
        if (!withVectors) {
            double[] out = new double[n];
            for (int i = 0; i < n; i++) {
                out[i] = eig.getEigenvalue(i).real;
            }
            Arrays.sort(out);
            return new SymmetricEigen(reverse(out), null, Backend.EJML);
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        // A stable sort: equal eigenvalues keep EJML's order.
        Arrays.sort(order, (x, y) -> Double.compare(eig.getEigenvalue(y).real, eig.getEigenvalue(x).real));
        double[] values = new double[n];
        double[][] vectors = new double[n][n];
        for (int j = 0; j < n; j++) {
            values[j] = eig.getEigenvalue(order[j]).real;
            DMatrixRMaj v = eig.getEigenVector(order[j]);
            for (int i = 0; i < n; i++) {
                // EJML returns no vector for a 0×0 or degenerate 1×1 input: the unit vector is then exact.
                vectors[i][j] = v == null ? (i == j ? 1 : 0) : v.get(i, 0);
            }
        }
        return new SymmetricEigen(values, vectors, Backend.EJML);
    }

    /** LAPACK's dsyev on a symmetrised copy of the block. */
    private static SymmetricEigen lapack(double[][] a, int n, double scale, boolean withVectors) {
        if (n == 0) {
            return new SymmetricEigen(new double[0], withVectors ? new double[0][0] : null, Backend.LAPACK);
        }
        double[] flat = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                flat[i * n + j] = 0.5 * (a[i][j] + a[j][i]) * scale;
            }
        }
        // Symmetric, so c and f order read the same; f order is LAPACK's own, so no transposed copy is made.
        INDArray m = Nd4j.createFromArray(flat).reshape('f', n, n);
        double[] ascending = syev(m, withVectors, n);
        double[] values = reverse(ascending.clone());
        double[][] vectors = null;
        if (withVectors) {
            // Column j of the overwritten matrix is the eigenvector of ascending[j].
            double[][] columns = m.toDoubleMatrix();
            vectors = new double[n][n];
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < n; i++) {
                    vectors[i][j] = columns[i][n - 1 - j];
                }
            }
        }
        m.close();
        return new SymmetricEigen(values, vectors, Backend.LAPACK);
    }

    /** Runs dsyev on a double n×n matrix in place; returns the eigenvalues ascending. Modified: {@code m}. */
    private static double[] syev(INDArray m, boolean withVectors, int n) {
        INDArray values = Nd4j.create(DataType.DOUBLE, n);
        int info = Nd4j.getBlasWrapper().lapack().syev(withVectors ? 'V' : 'N', 'U', m, values);
        if (info != 0) {
            values.close();
            throw new IllegalStateException("LAPACK dsyev failed with info " + info + " (n = " + n
                    + "): the matrix has non-finite entries or the QR iteration did not converge");
        }
        double[] out = values.toDoubleVector();
        values.close();
        return out;
    }

    /** Reverses in place and returns the array. Modified: {@code x}. */
    private static double[] reverse(double[] x) {
        int n = x.length;
        for (int i = 0; i < n / 2; i++) {
            double t = x[i];
            x[i] = x[n - 1 - i];
            x[n - 1 - i] = t;
        }
        return x;
    }
}

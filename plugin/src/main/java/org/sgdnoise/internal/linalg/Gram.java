package org.sgdnoise.internal.linalg;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The one helper for Gram matrices {@code G = X Xᵀ} of the rows of a k×n matrix (per-example gradients as
 * rows), returned as {@code double[k][k]}: the k×k product in BLAS, the conversion by one bulk copy.
 *
 * <p>Two forms: {@link #of} multiplies in X's own data type; {@link #ofMeanSplit} keeps the digits of the
 * centred rows of a float X (needed when the mean gradient dominates the noise). Fast paths that never form
 * X stay with their owners and are not routed here: the factored dense-layer Gram
 * {@code (a_iᵀa_j + 1)(δ_iᵀδ_j)} in {@code GradientFactors}, and the incremental block-by-block Gram of
 * {@code FrequentDirections}. Stateless and thread-safe (ND4J arrays are not shared between calls).
 */
public final class Gram {

    private Gram() {}

    /**
     * The Gram matrix {@code R Rᵀ} of a matrix's rows, computed in its data type and returned in double.
     * Cost one k×k BLAS product, O(k²n). Not modified: {@code rows}.
     */
    public static double[][] of(INDArray rows) {
        INDArray g = rows.mmul(rows.transpose());
        double[][] out;
        if (!g.isView() && g.data().length() == g.length()) {
            // A fresh symmetric result reads the same in c and f order: convert its buffer directly.
            int k = (int) g.rows();
            out = new double[k][k];
            if (g.dataType() == DataType.FLOAT) {
                float[] flat = g.data().asFloat();
                for (int i = 0; i < k; i++) {
                    for (int j = 0; j < k; j++) {
                        out[i][j] = flat[i * k + j];
                    }
                }
            } else {
                double[] flat = g.data().asDouble();
                for (int i = 0; i < k; i++) {
                    System.arraycopy(flat, i * k, out[i], 0, k);
                }
            }
        } else {
            out = toDoubleMatrix(g);
        }
        g.close();
        return out;
    }

    /**
     * A matrix as {@code double[rows][columns]}, by one bulk copy ({@code INDArray.toDoubleMatrix()} reads
     * element by element: tens of milliseconds at 256×256). Not modified: {@code m}.
     */
    public static double[][] toDoubleMatrix(INDArray m) {
        INDArray c = m.castTo(DataType.DOUBLE);
        boolean copy = c.ordering() != 'c' || c.isView() || c.data().length() != c.length();
        INDArray dense = copy ? c.dup('c') : c;
        double[] flat = dense.data().asDouble();
        int rows = (int) m.rows();
        int cols = (int) m.columns();
        double[][] out = new double[rows][];
        for (int i = 0; i < rows; i++) {
            out[i] = Arrays.copyOfRange(flat, i * cols, (i + 1) * cols);
        }
        if (copy) {
            dense.close();
        }
        if (c != m) {
            c.close();
        }
        return out;
    }

    /**
     * {@code X Xᵀ} of a k×n matrix, in double, accurate to the rounding of X's <em>centred</em> rows. A
     * double X multiplies directly. A float X is split as {@code X̃ + 1mᵀ}, m its column mean rounded to
     * float and {@code X̃ = X − 1mᵀ} (exact for entries within a factor 2 of m, Sterbenz); then
     * {@code XXᵀ = X̃X̃ᵀ + u1ᵀ + 1uᵀ + mᵀm} with {@code u = X̃m}: the k×k product in BLAS (float), the rest in
     * double. A plain float product would carry errors of 1e-7·|x|², which the centring of the Gram
     * matrix (JGJ) leaves in place when the mean gradient is much larger than the noise. Not modified:
     * {@code x}.
     */
    public static double[][] ofMeanSplit(INDArray x) {
        if (x.dataType() == DataType.DOUBLE) {
            return of(x);
        }
        int k = (int) x.rows();
        int n = (int) x.columns();
        INDArray xf = x.castTo(DataType.FLOAT);
        float[] v = (xf.ordering() == 'c' && !xf.isView() && xf.data().length() == xf.length() ? xf : xf.dup('c'))
                .data()
                .asFloat();
        float[] m = new float[n];
        double[] sum = new double[n];
        for (int i = 0; i < k; i++) {
            for (int j = 0, o = i * n; j < n; j++) {
                sum[j] += v[o + j];
            }
        }
        double mm = 0;
        for (int j = 0; j < n; j++) {
            m[j] = (float) (sum[j] / k);
            mm += (double) m[j] * m[j];
        }
        double[] u = new double[k];
        for (int i = 0; i < k; i++) {
            double acc = 0;
            for (int j = 0, o = i * n; j < n; j++) {
                float c = v[o + j] - m[j];
                v[o + j] = c;
                acc += (double) c * m[j];
            }
            u[i] = acc;
        }
        INDArray centred = Nd4j.create(v, new long[] {k, n}, 'c');
        double[][] g = of(centred);
        centred.close();
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                g[i][j] += u[i] + u[j] + mm;
            }
        }
        return g;
    }
}

package org.sgdnoise.diffusion;

import java.util.Arrays;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Computes {@link DiffusionStats} from a block of per-example gradients (theory.md §1 and §3).
 *
 * <p>Method: centre the k×d block on its mean row (in place), form the k×k Gram matrix {@code G Gᵀ} with
 * BLAS, and solve the k×k symmetric eigenproblem in double: the nonzero eigenvalues of
 * {@code GᵀG/k} (d×d) are those of {@code GGᵀ/k}. Cost O(k²d + k³); extra memory O(k² + d). Stateless.
 */
public final class DiffusionStatistics {

    /** Float32 machine epsilon, the paper's rank tolerance factor (numpy matrix_rank). */
    public static final double FLOAT32_EPS = 1.1920929e-7;

    private DiffusionStatistics() {}

    /**
     * Computes the statistics of a k×d block of per-example gradients.
     *
     * <p>Modified: {@code block} is centred in place (each row minus the mean row).
     *
     * @throws IllegalArgumentException when k < 2
     * @throws ArithmeticException when a gradient is NaN or infinite
     */
    public static DiffusionStats compute(INDArray block) {
        int k = (int) block.rows();
        long d = block.columns();
        if (k < 2) {
            throw new IllegalArgumentException("samples must be >= 2 for a covariance, got " + k);
        }
        INDArray mean = centre(block);
        double gradNormSq = mean.castTo(DataType.DOUBLE).norm2Number().doubleValue();
        gradNormSq *= gradNormSq;
        INDArray gram = block.mmul(block.transpose()).castTo(DataType.DOUBLE);
        double[][] k2 = gram.toDoubleMatrix();
        return fromCentredGram(k2, gradNormSq, d);
    }

    /**
     * Subtracts the mean row from every row, in place, and returns the mean (1×d). Modified: {@code block}.
     */
    public static INDArray centre(INDArray block) {
        INDArray mean = block.mean(0).reshape(1, block.columns());
        block.subiRowVector(mean);
        return mean;
    }

    /**
     * Computes the statistics from the Gram matrix of centred gradients {@code K_ij = (g_i − ḡ)ᵀ(g_j − ḡ)}.
     * Not modified: {@code centredGram}.
     *
     * @param gradNormSq {@code |ḡ|²}
     * @param d the number of parameters
     */
    public static DiffusionStats fromCentredGram(double[][] centredGram, double gradNormSq, long d) {
        int k = centredGram.length;
        if (k < 2) {
            throw new IllegalArgumentException("samples must be >= 2 for a covariance, got " + k);
        }
        double trace = 0;
        for (int i = 0; i < k; i++) {
            trace += centredGram[i][i];
        }
        trace /= k;
        if (!Double.isFinite(trace) || !Double.isFinite(gradNormSq)) {
            throw new ArithmeticException("non-finite per-example gradients (trace " + trace + ", |g|^2 " + gradNormSq + ")");
        }
        double[] eig = eigenvaluesDescending(centredGram, 1.0 / k);

        double lambdaMax = eig[0];
        double threshold = lambdaMax * d * FLOAT32_EPS;
        int rank = 0;
        double sum = 0;
        double sumSq = 0;
        for (double l : eig) {
            if (l > threshold && l > 0) {
                rank++;
                sum += l;
                sumSq += l * l;
            }
        }
        // k centred samples span at most k − 1 directions; anything beyond is rounding (e.g. float centring).
        rank = (int) Math.min(rank, Math.min(k - 1L, d));
        double eigMean = rank == 0 ? Double.NaN : sum / rank;
        double eigStd = rank == 0 ? Double.NaN : Math.sqrt(Math.max(0, sumSq / rank - eigMean * eigMean));

        double total = Arrays.stream(eig).sum();
        double entropy = 0;
        for (double l : eig) {
            if (l > 0) {
                double p = l / total;
                entropy -= p * Math.log(p);
            }
        }
        double traceUnbiased = trace * k / (k - 1);
        double gradNormSqUnbiased = gradNormSq - traceUnbiased / k;
        return new DiffusionStats(
                k,
                d,
                trace,
                traceUnbiased,
                gradNormSq,
                gradNormSqUnbiased,
                ratio(trace, gradNormSq),
                gradNormSqUnbiased > 0 ? traceUnbiased / gradNormSqUnbiased : Double.NaN,
                eig,
                threshold,
                rank,
                rank >= k - 1,
                eigMean,
                eigStd,
                pairParticipationRatio(centredGram),
                ratio(trace, lambdaMax),
                total > 0 ? Math.exp(entropy) : Double.NaN,
                ratio(d * lambdaMax, trace));
    }

    /**
     * The participation ratio {@code (tr D)²/tr(D²)} from disjoint pairs {@code z_j = (g_{2j} − g_{2j+1})/√2}
     * (mean 0, covariance D): {@code tr(D²) ≈ mean_{j≠l} (z_jᵀz_l)²}, {@code (tr D)² ≈ mean_{j≠l}
     * |z_j|²|z_l|²}. Both are unbiased for independent samples, so the ratio is consistent at every k,
     * unlike the plug-in ratio. Uses any Gram matrix of the gradients (differences ignore centring).
     *
     * @return NaN for fewer than 2 pairs (k < 4) or when all pairs coincide
     */
    public static double pairParticipationRatio(double[][] gram) {
        int m = gram.length / 2;
        if (m < 2) {
            return Double.NaN;
        }
        double[][] z = new double[m][m];
        for (int j = 0; j < m; j++) {
            for (int l = 0; l < m; l++) {
                int a = 2 * j;
                int b = 2 * l;
                z[j][l] = 0.5 * (gram[a][b] - gram[a][b + 1] - gram[a + 1][b] + gram[a + 1][b + 1]);
            }
        }
        double trD2 = 0;
        double trDsq = 0;
        for (int j = 0; j < m; j++) {
            for (int l = 0; l < m; l++) {
                if (j != l) {
                    trD2 += z[j][l] * z[j][l];
                    trDsq += z[j][j] * z[l][l];
                }
            }
        }
        return trD2 > 0 ? trDsq / trD2 : Double.NaN;
    }

    /**
     * Eigenvalues of {@code scale·A} for a symmetric matrix A, descending, negatives from rounding clamped
     * to 0. Double precision (EJML's symmetric QR algorithm). Not modified: {@code a}.
     */
    public static double[] eigenvaluesDescending(double[][] a, double scale) {
        int n = a.length;
        DMatrixRMaj m = new DMatrixRMaj(n, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                // Symmetrise: the BLAS Gram can differ from its transpose in the last bit.
                m.set(i, j, 0.5 * (a[i][j] + a[j][i]) * scale);
            }
        }
        EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, false, true);
        if (!eig.decompose(m)) {
            throw new IllegalStateException("symmetric eigendecomposition did not converge (k = " + n + ")");
        }
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = Math.max(0, eig.getEigenvalue(i).real);
        }
        Arrays.sort(out);
        for (int i = 0; i < n / 2; i++) {
            double t = out[i];
            out[i] = out[n - 1 - i];
            out[n - 1 - i] = t;
        }
        return out;
    }

    private static double ratio(double a, double b) {
        return b != 0 ? a / b : Double.NaN;
    }
}

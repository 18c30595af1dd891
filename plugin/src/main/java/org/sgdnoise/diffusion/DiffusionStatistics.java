package org.sgdnoise.diffusion;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.sgdnoise.gradients.GradientFactors;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.internal.linalg.Gram;
import org.sgdnoise.internal.linalg.SymmetricEigen;

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
     * @throws IllegalArgumentException when k &lt; 2
     * @throws ArithmeticException when a gradient is NaN or infinite
     */
    public static DiffusionStats compute(INDArray block) {
        return compute(block, DEFAULT_SPLIT_HALF_R);
    }

    /** Default r of {@link DiffusionStats#splitHalfOverlap()}. */
    public static final int DEFAULT_SPLIT_HALF_R = 10;

    /**
     * Computes the statistics, with the split-half subspace overlap for the top r directions.
     * Modified: {@code block} is centred in place.
     */
    public static DiffusionStats compute(INDArray block, int r) {
        if (block.rows() < 2) {
            throw new IllegalArgumentException("samples must be >= 2 for a covariance, got " + block.rows());
        }
        INDArray mean = centre(block);
        double gradNormSq = mean.castTo(DataType.DOUBLE).norm2Number().doubleValue();
        return ofCentred(block, gradNormSq * gradNormSq, r);
    }

    /**
     * Computes the statistics of a block already centred by {@link #centre(INDArray)}.
     * Not modified: {@code centred}.
     *
     * @param gradNormSq {@code |ḡ|²} of the mean that was removed
     * @param r top directions for the split-half overlap
     */
    public static DiffusionStats ofCentred(INDArray centred, double gradNormSq, int r) {
        int k = (int) centred.rows();
        long d = centred.columns();
        if (k < 2) {
            throw new IllegalArgumentException("samples must be >= 2 for a covariance, got " + k);
        }
        double[][] gram = Gram.of(centred);
        DiffusionStats s = fromCentredGram(gram, gradNormSq, d);
        return s.withSplitHalfOverlap(splitHalfOverlap(gram, r));
    }

    /**
     * Computes the statistics from the k×k Gram matrix of the uncentred gradients {@code G_ij = g_iᵀg_j}
     * (for instance from {@link GradientFactors#gram()}, which needs no k×d block): centred as
     * {@code K = JGJ}, {@code |ḡ|² = 1ᵀG1/k²}. Not modified: {@code gram}.
     */
    public static DiffusionStats ofGram(double[][] gram, long d, int r) {
        if (gram.length < 2) {
            throw new IllegalArgumentException("samples must be >= 2 for a covariance, got " + gram.length);
        }
        double[][] centred = centreGram(gram);
        DiffusionStats s = fromCentredGram(centred, meanNormSq(gram), d);
        return s.withSplitHalfOverlap(splitHalfOverlap(centred, r));
    }

    /**
     * The Gram matrix of the centred rows from that of the rows: {@code K = JGJ}, J = I − 11ᵀ/k. Not
     * modified: {@code gram}.
     */
    public static double[][] centreGram(double[][] gram) {
        int k = gram.length;
        double[] rowMean = new double[k];
        double all = 0;
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                rowMean[i] += gram[i][j];
            }
            all += rowMean[i];
            rowMean[i] /= k;
        }
        all /= (double) k * k;
        double[][] out = new double[k][k];
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                out[i][j] = gram[i][j] - rowMean[i] - rowMean[j] + all;
            }
        }
        return out;
    }

    /** {@code |ḡ|² = 1ᵀG1/k²}, the squared norm of the mean row, from the Gram matrix of the rows. */
    public static double meanNormSq(double[][] gram) {
        double all = 0;
        for (double[] row : gram) {
            for (double v : row) {
                all += v;
            }
        }
        return all / ((double) gram.length * gram.length);
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
            throw new ArithmeticException(
                    "non-finite per-example gradients (trace " + trace + ", |g|^2 " + gradNormSq + ")");
        }
        double[] eig = eigenvaluesDescending(centredGram, 1.0 / k);

        double lambdaMax = eig[0];
        // k centred samples span at most k − 1 directions; anything beyond is rounding (e.g. float centring).
        SpectrumSummary summary = SpectrumSummary.of(eig, d, trace, k - 1L);
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
                summary.rankThreshold(),
                summary.rank(),
                summary.rank() >= k - 1,
                summary.eigMean(),
                summary.eigStd(),
                pairParticipationRatio(centredGram),
                summary.participationRatioPlugin(),
                summary.stableRank(),
                summary.effectiveRank(),
                ratio(d * lambdaMax, trace),
                Double.NaN);
    }

    /**
     * The participation ratio {@code (tr D)²/tr(D²)} from disjoint pairs {@code z_j = (g_{2j} − g_{2j+1})/√2}
     * (mean 0, covariance D): {@code tr(D²) ≈ mean_{j≠l} (z_jᵀz_l)²}, {@code (tr D)² ≈ mean_{j≠l}
     * |z_j|²|z_l|²}. Both are unbiased for independent samples, so the ratio is consistent at every k,
     * unlike the plug-in ratio. Uses any Gram matrix of the gradients (differences ignore centring).
     *
     * @return NaN for fewer than 2 pairs (k &lt; 4) or when all pairs coincide
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
     * The overlap {@code ‖V₁V₂ᵀ‖_F²/r} between the top-r sample subspaces of the two halves of a probe
     * (rows 0..h−1 and h..2h−1, h = ⌊k/2⌋, each re-centred on its own mean): how much two independent
     * estimates from h gradients agree. A noise floor for comparing subspaces between probes. Computed
     * from the k×k Gram matrix alone: {@code V₁V₂ᵀ = Λ₁^{-1/2} U₁ᵀ (J K₁₂ J) U₂ Λ₂^{-1/2}}, J the centring
     * matrix. NaN when a half has fewer than r nonzero directions.
     */
    public static double splitHalfOverlap(double[][] gram, int r) {
        int h = gram.length / 2;
        if (r < 1 || h - 1 < r) {
            return Double.NaN;
        }
        double[][] k11 = centredBlock(gram, 0, 0, h);
        double[][] k22 = centredBlock(gram, h, h, h);
        double[][] k12 = centredBlock(gram, 0, h, h);
        double[][][] v = new double[2][][];
        double[][] l = new double[2][];
        for (int half = 0; half < 2; half++) {
            SymmetricEigen eig = SymmetricEigen.of(half == 0 ? k11 : k22);
            v[half] = new double[r][];
            l[half] = new double[r];
            for (int j = 0; j < r; j++) {
                l[half][j] = eig.values()[j];
                if (!(l[half][j] > 0)) {
                    return Double.NaN;
                }
                v[half][j] = eig.vector(j);
            }
        }
        double sum = 0;
        for (int a = 0; a < r; a++) {
            for (int b = 0; b < r; b++) {
                double m = 0;
                for (int i = 0; i < h; i++) {
                    double row = 0;
                    for (int j = 0; j < h; j++) {
                        row += k12[i][j] * v[1][b][j];
                    }
                    m += v[0][a][i] * row;
                }
                m /= Math.sqrt(l[0][a] * l[1][b]);
                sum += m * m;
            }
        }
        return sum / r;
    }

    /** J·K[r0.., c0..]·J for an n×n block, J = I − 11ᵀ/n. */
    private static double[][] centredBlock(double[][] k, int r0, int c0, int n) {
        double[][] b = new double[n][n];
        double[] rowMean = new double[n];
        double[] colMean = new double[n];
        double all = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                b[i][j] = k[r0 + i][c0 + j];
                rowMean[i] += b[i][j] / n;
                colMean[j] += b[i][j] / n;
                all += b[i][j] / ((double) n * n);
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                b[i][j] += all - rowMean[i] - colMean[j];
            }
        }
        return b;
    }

    /**
     * Per-layer noise: tr(D) restricted to each layer's parameters, its share of the total, and the top
     * eigenvalue of the layer's diagonal block of D_k. Not modified: {@code centred} (k×d, centred rows).
     */
    public static List<LayerNoise> perLayer(INDArray centred, List<ParameterLayout.LayerRange> layers) {
        Map<String, double[][]> grams = new LinkedHashMap<>();
        for (ParameterLayout.LayerRange lr : layers) {
            grams.put(
                    lr.layer(),
                    Gram.of(centred.get(
                            NDArrayIndex.all(), NDArrayIndex.interval(lr.start(), lr.start() + lr.length()))));
        }
        return perLayerOfGrams(grams, layers);
    }

    /**
     * {@link #perLayer} from each layer's k×k Gram matrix of the (centred or uncentred) gradients, as
     * {@link GradientFactors#layerGrams()} gives them. Not modified: {@code layerGrams}.
     */
    public static List<LayerNoise> perLayerOfGrams(
            Map<String, double[][]> layerGrams, List<ParameterLayout.LayerRange> layers) {
        List<double[][]> centred = new ArrayList<>();
        double total = 0;
        for (ParameterLayout.LayerRange lr : layers) {
            double[][] g = layerGrams.get(lr.layer());
            if (g == null) {
                throw new IllegalArgumentException("no Gram matrix for layer " + lr.layer());
            }
            double[][] c = centreGram(g);
            centred.add(c);
            for (int i = 0; i < c.length; i++) {
                total += c[i][i];
            }
        }
        List<LayerNoise> out = new ArrayList<>();
        for (int l = 0; l < layers.size(); l++) {
            double[][] c = centred.get(l);
            int k = c.length;
            double t = 0;
            for (int i = 0; i < k; i++) {
                t += c[i][i];
            }
            double top = eigenvaluesDescending(c, 1.0 / k)[0];
            ParameterLayout.LayerRange lr = layers.get(l);
            out.add(new LayerNoise(lr.layer(), lr.length(), t / k, total > 0 ? t / total : Double.NaN, top));
        }
        return out;
    }

    /**
     * One layer's share of the gradient noise.
     *
     * @param layer the layer's name
     * @param numParams its trained parameters
     * @param trace tr(D_k) over its parameters
     * @param share trace / tr(D_k)
     * @param lambdaMax the top eigenvalue of its diagonal block of D_k
     */
    public record LayerNoise(String layer, long numParams, double trace, double share, double lambdaMax) {}

    /**
     * Eigenvalues of {@code scale·A} for a symmetric matrix A, descending, negatives from rounding clamped
     * to 0, by {@link SymmetricEigen} (double precision; EJML up to {@value SymmetricEigen#LAPACK_ABOVE}
     * rows, LAPACK beyond and wherever EJML does not converge). Not modified: {@code a}.
     */
    public static double[] eigenvaluesDescending(double[][] a, double scale) {
        double[] out = SymmetricEigen.eigenvalues(a, scale);
        for (int i = 0; i < out.length; i++) {
            out[i] = Math.max(0, out[i]);
        }
        return out;
    }

    private static double ratio(double a, double b) {
        return b != 0 ? a / b : Double.NaN;
    }
}

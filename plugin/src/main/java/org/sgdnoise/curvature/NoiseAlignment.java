package org.sgdnoise.curvature;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.gradients.GradientFactors;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * How the gradient noise D lines up with the curvature H in the top-r Hessian eigenspace V (d×r, orthonormal):
 * the numbers of issue 17 item 3, computed from k per-example gradients and Hessian-vector products, never a d×d
 * matrix.
 *
 * <ul>
 *   <li>{@code D_r = VᵀDV} from the gradients projected onto V: with {@code p_i = Vᵀg_i} and their mean p̄,
 *       {@code D_r = (1/k) Σ (p_i − p̄)(p_i − p̄)ᵀ} (the plug-in covariance of theory.md §3, "sample (k = …)").
 *   <li>{@code H_r = VᵀHV} from r Hessian-vector products (diagonal up to Lanczos' residuals), symmetrised.
 *   <li>The correlations {@code ρ_ij = D_r,ij / √(D_r,ii D_r,jj)}.
 *   <li>The relative commutator {@code ‖H_r D_r − D_r H_r‖_F / (‖H_r‖_F ‖D_r‖_F)}: 0 when they commute (then
 *       the linearised SGD has no circulation in this subspace, theory.md §5), at most √2.
 *   <li>The subspace overlap of the top-r of H and the top-r' of D, {@code ‖Vᵀ U_D‖_F² / r'} in [0, 1], with U_D
 *       the top eigenvectors of the sample D from the k×k centred Gram matrix (r' = min(r, its rank): the rank
 *       is at most k − 1, so r' is capped by k).
 *   <li>The trace cosine in the subspace, {@code tr(H_r D_r) / (‖H_r‖_F ‖D_r‖_F)}.
 *   <li>Optionally McCandlish et al.'s (2018) {@code B_noise = tr(HΣ) / (GᵀHG)} over the whole space, with
 *       Σ = D: {@code tr(HD) = (1/k) Σ (g_i − ḡ)ᵀH(g_i − ḡ)} (k products) and {@code GᵀHG} estimated without
 *       bias from the sample mean, {@code ḡᵀHḡ − tr(HD)/k} (one product); NaN when that is not positive.
 * </ul>
 *
 * <p>Cost: r Hessian-vector products, plus k + 1 for B_noise; O(k·d·r) for the projections and O(k³) for the
 * Gram eigenproblem. Memory: the r basis vectors and r products (2r·d doubles), one block of the gradients
 * ({@value #BLOCK} columns of k), and one gradient row of d for B_noise.
 */
public final class NoiseAlignment {

    /** Columns of the gradients read at a time for the projection. */
    static final int BLOCK = 4096;

    private NoiseAlignment() {}

    /**
     * The alignment numbers.
     *
     * @param r the basis size
     * @param k the gradients behind D_r (the overlap and B_noise may use fewer: see {@link #compute})
     * @param hessianEigenvalues the Lanczos values the basis came with, descending
     * @param hessianInBasis {@code H_r}, r×r
     * @param diffusionInBasis {@code D_r}, r×r
     * @param correlations {@code ρ}, r×r (NaN where a diagonal entry is 0)
     * @param commutator the relative commutator
     * @param overlap the subspace overlap of the top of H and of D
     * @param overlapRank r', the directions of D in the overlap
     * @param traceCosine {@code tr(H_r D_r) / (‖H_r‖_F ‖D_r‖_F)}
     * @param traceHD {@code tr(HD)} over the whole space, NaN when not asked for
     * @param gHg {@code ḡᵀHḡ}, NaN when not asked for
     * @param bNoise {@code B_noise}, NaN when not asked for or when the bias-corrected {@code GᵀHG} is not positive
     * @param hessianVectorProducts the products this computation spent
     * @param projections the centred projections {@code p_i − p̄} behind D_r, k×r (to resample D_r, for example)
     */
    public record Result(
            int r,
            int k,
            double[] hessianEigenvalues,
            double[][] hessianInBasis,
            double[][] diffusionInBasis,
            double[][] correlations,
            double commutator,
            double overlap,
            int overlapRank,
            double traceCosine,
            double traceHD,
            double gHg,
            double bNoise,
            long hessianVectorProducts,
            double[][] projections) {}

    /**
     * Computes the alignment at the parameters of {@code hessian}, which must be those of {@code gradients}.
     *
     * @param top the top Hessian eigenpairs (from {@link Lanczos#largest}); their vectors are the basis V
     * @param withBNoise also compute B_noise (k + 1 more products)
     * @throws IllegalArgumentException when the dimensions differ or fewer than 2 gradients are given
     */
    public static Result compute(
            HessianOperator hessian, LanczosResult top, GradientFactors gradients, boolean withBNoise) {
        return compute(hessian, top, gradients, withBNoise, new double[0][]);
    }

    /**
     * As {@link #compute(HessianOperator, LanczosResult, GradientFactors, boolean)}, with D_r over more examples
     * than one block of gradients holds: {@code moreProjections} are {@code Vᵀg_i} of further examples (from
     * {@link #project}, any number of blocks), added to those of {@code gradients} for D_r, ρ, the commutator and
     * the trace cosine; the overlap and B_noise use {@code gradients} alone.
     */
    public static Result compute(
            HessianOperator hessian,
            LanczosResult top,
            GradientFactors gradients,
            boolean withBNoise,
            double[][] moreProjections) {
        double[][] v = top.vectors();
        int r = v.length;
        int k = gradients.k();
        long d = hessian.dimension();
        if (gradients.d() != d || r == 0 || v[0].length != d) {
            throw new IllegalArgumentException("the Hessian, its " + r + " eigenvectors and the gradients must have "
                    + "the same dimension, got " + d + ", " + (r == 0 ? 0 : v[0].length) + " and " + gradients.d());
        }
        if (k < 2) {
            throw new IllegalArgumentException("a covariance needs at least 2 gradients, got " + k);
        }
        long before = hessian.products();
        double[][] first = project(gradients, v);
        double[][] all = new double[first.length + moreProjections.length][];
        System.arraycopy(first, 0, all, 0, first.length);
        System.arraycopy(moreProjections, 0, all, first.length, moreProjections.length);
        double[][] pAll = centred(all);
        double[][] dr = scaled(transposeTimes(pAll), 1.0 / all.length);
        double[][] p = centred(first);
        double[][] hr = new double[r][r];
        for (int j = 0; j < r; j++) {
            double[] hv = hessian.apply(v[j]);
            for (int i = 0; i < r; i++) {
                hr[i][j] = Vectors.dot(v[i], hv);
            }
        }
        symmetrise(hr);
        double hNorm = frobenius(hr);
        double dNorm = frobenius(dr);
        double[][] commutator = minus(times(hr, dr), times(dr, hr));
        double[] overlap = overlap(gradients, p);
        double traceHD = Double.NaN;
        double gHg = Double.NaN;
        double bNoise = Double.NaN;
        if (withBNoise) {
            traceHD = traceHD(hessian, gradients);
            double[] mean = gradients.meanRow().castTo(DataType.DOUBLE).toDoubleVector();
            gHg = Vectors.dot(mean, hessian.apply(mean));
            double gHgUnbiased = gHg - traceHD / k;
            bNoise = gHgUnbiased > 0 ? traceHD / gHgUnbiased : Double.NaN;
        }
        return new Result(
                r,
                all.length,
                top.values(),
                hr,
                dr,
                correlations(dr),
                frobenius(commutator) / (hNorm * dNorm),
                overlap[0],
                (int) overlap[1],
                trace(times(hr, dr)) / (hNorm * dNorm),
                traceHD,
                gHg,
                bNoise,
                hessian.products() - before,
                pAll);
    }

    /** {@code P = G V}: k×r, the gradients projected onto the basis, a block of columns at a time. */
    public static double[][] project(GradientFactors gradients, double[][] v) {
        int k = gradients.k();
        int r = v.length;
        long d = gradients.d();
        double[][] p = new double[k][r];
        for (long c0 = 0; c0 < d; c0 += BLOCK) {
            long c1 = Math.min(d, c0 + BLOCK);
            INDArray block = Nd4j.createUninitialized(gradients.dataType(), new long[] {k, c1 - c0}, 'c');
            gradients.write(0, k, c0, c1, block);
            double[][] g = block.castTo(DataType.DOUBLE).toDoubleMatrix();
            block.close();
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < r; j++) {
                    double s = 0;
                    for (int c = 0; c < c1 - c0; c++) {
                        s += g[i][c] * v[j][(int) c0 + c];
                    }
                    p[i][j] += s;
                }
            }
        }
        return p;
    }

    /**
     * The overlap {@code ‖Vᵀ U_D‖_F² / r'} and r': U_D's columns are {@code G_cᵀa_j / √μ_j} for the top
     * eigenpairs (μ_j, a_j) of the centred Gram matrix {@code G_c G_cᵀ}, so {@code Vᵀu_j = P_cᵀa_j / √μ_j}.
     */
    private static double[] overlap(GradientFactors gradients, double[][] pc) {
        int k = pc.length;
        int r = pc[0].length;
        double[][] gram = centredGram(gradients.gram());
        SymmetricEigen eig = SymmetricEigen.of(gram);
        double[] mu = eig.values();
        double floor = Math.max(mu[0], 0) * k * 0x1p-52 * 16; // below it: rounding, not a direction of D
        int rank = 0;
        while (rank < k && mu[rank] > floor) {
            rank++;
        }
        int rd = Math.min(r, rank);
        if (rd == 0) {
            return new double[] {Double.NaN, 0};
        }
        double sum = 0;
        for (int j = 0; j < rd; j++) {
            double[] a = eig.vector(j);
            for (int i = 0; i < r; i++) {
                double s = 0;
                for (int e = 0; e < k; e++) {
                    s += pc[e][i] * a[e];
                }
                sum += s * s / mu[j];
            }
        }
        return new double[] {sum / rd, rd};
    }

    /** {@code tr(HD) = (1/k) Σ (g_i − ḡ)ᵀ H (g_i − ḡ)}, one row at a time. */
    private static double traceHD(HessianOperator hessian, GradientFactors gradients) {
        int k = gradients.k();
        long d = gradients.d();
        INDArray row = Nd4j.createUninitialized(gradients.dataType(), new long[] {1, d}, 'c');
        double sum = 0;
        for (int i = 0; i < k; i++) {
            gradients.writeCentred(i, i + 1, 0, d, row);
            double[] c = row.castTo(DataType.DOUBLE).toDoubleVector();
            sum += Vectors.dot(c, hessian.apply(c));
        }
        row.close();
        return sum / k;
    }

    /** {@code J A J} with {@code J = I − 11ᵀ/k}. */
    static double[][] centredGram(double[][] a) {
        int k = a.length;
        double[] rowMean = new double[k];
        double all = 0;
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                rowMean[i] += a[i][j] / k;
            }
            all += rowMean[i] / k;
        }
        double[][] c = new double[k][k];
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                c[i][j] = a[i][j] - rowMean[i] - rowMean[j] + all;
            }
        }
        return c;
    }

    private static double[][] centred(double[][] p) {
        int k = p.length;
        int r = p[0].length;
        double[][] c = new double[k][r];
        for (int j = 0; j < r; j++) {
            double mean = 0;
            for (double[] row : p) {
                mean += row[j] / k;
            }
            for (int i = 0; i < k; i++) {
                c[i][j] = p[i][j] - mean;
            }
        }
        return c;
    }

    private static double[][] correlations(double[][] a) {
        int r = a.length;
        double[][] rho = new double[r][r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                double s = Math.sqrt(a[i][i] * a[j][j]);
                rho[i][j] = s > 0 ? a[i][j] / s : Double.NaN;
            }
        }
        return rho;
    }

    /** {@code PᵀP} for a k×r P. */
    private static double[][] transposeTimes(double[][] p) {
        int r = p[0].length;
        double[][] c = new double[r][r];
        for (double[] row : p) {
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < r; j++) {
                    c[i][j] += row[i] * row[j];
                }
            }
        }
        return c;
    }

    private static double[][] times(double[][] a, double[][] b) {
        int n = a.length;
        double[][] c = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int l = 0; l < n; l++) {
                for (int j = 0; j < n; j++) {
                    c[i][j] += a[i][l] * b[l][j];
                }
            }
        }
        return c;
    }

    private static double[][] minus(double[][] a, double[][] b) {
        double[][] c = new double[a.length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a.length; j++) {
                c[i][j] = a[i][j] - b[i][j];
            }
        }
        return c;
    }

    private static double[][] scaled(double[][] a, double s) {
        for (double[] row : a) {
            for (int j = 0; j < row.length; j++) {
                row[j] *= s;
            }
        }
        return a;
    }

    private static void symmetrise(double[][] a) {
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < i; j++) {
                double m = 0.5 * (a[i][j] + a[j][i]);
                a[i][j] = m;
                a[j][i] = m;
            }
        }
    }

    private static double frobenius(double[][] a) {
        double s = 0;
        for (double[] row : a) {
            for (double x : row) {
                s += x * x;
            }
        }
        return Math.sqrt(s);
    }

    private static double trace(double[][] a) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i][i];
        }
        return s;
    }
}

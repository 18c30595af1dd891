package org.sgdnoise.curvature;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import java.util.function.IntFunction;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;
import org.sgdnoise.gradients.GradientFactors;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * {@link NoiseAlignment} against dense references: the per-example gradients and the Hessian of softmax
 * regression in closed form, and of a tanh MLP from a hand-written backpropagation (its Hessian by extrapolated
 * differences of that gradient, column by column), with D, D_r, H_r, the commutator, the overlap and B_noise
 * formed from the dense d×d matrices.
 */
class NoiseAlignmentTest {

    private static final int R = 4;

    @Test
    void softmaxRegressionMatchesTheDenseClosedForms() {
        SplittableRandom rng = new SplittableRandom(11);
        int nIn = 5;
        int nOut = 3;
        int n = 40;
        double[] params = Regressions.gaussian(rng, (nIn + 1) * nOut, 0.7);
        double[][] x = Regressions.matrix(rng, n, nIn, 1.0);
        double[][] y = Regressions.oneHot(rng, n, nOut);
        MultiLayerNetwork net = Regressions.network(
                Regressions.oneLayer(Regressions.base(), LossFunction.MCXENT, Activation.SOFTMAX, nIn, nOut), params);
        assertMatchesDense(
                net,
                Regressions.dataSet(x, y),
                e -> Regressions.softmaxExampleGradient(params, x[e], y[e]),
                Regressions.softmaxHessian(params, x, nOut),
                1e-8);
    }

    @Test
    void aTanhMlpMatchesAnIndependentGradientAndItsDifferences() {
        SplittableRandom rng = new SplittableRandom(12);
        TanhMlp mlp = new TanhMlp(4, 5, 3);
        int n = 30;
        double[] params = Regressions.gaussian(rng, mlp.numParams(), 0.6);
        double[][] x = Regressions.matrix(rng, n, 4, 1.0);
        double[][] y = Regressions.oneHot(rng, n, 3);
        MultiLayerNetwork net = Regressions.network(Regressions.tanhMlp(4, 5, 3), params);
        int d = mlp.numParams();
        double[][] h = new double[d][];
        for (int j = 0; j < d; j++) {
            double[] unit = new double[d];
            unit[j] = 1;
            h[j] = mlp.hessianTimes(params, unit, x, y); // column j (H is symmetric)
        }
        assertMatchesDense(
                net,
                Regressions.dataSet(x, y),
                e -> mlp.meanGradient(params, new double[][] {x[e]}, new double[][] {y[e]}),
                h,
                1e-5);
    }

    private static void assertMatchesDense(
            MultiLayerNetwork net, DataSet ds, IntFunction<double[]> exampleGradient, double[][] h, double tol) {
        ProbeBatch batch = ProbeBatch.of(ds);
        int k = ds.numExamples();
        int[] all = new int[k];
        for (int i = 0; i < k; i++) {
            all[i] = i;
        }
        HessianOperator op = new HessianVectorProducts().at(net, batch);
        LanczosResult top = Lanczos.largest(op, R, 5);
        NoiseAlignment.Result a;
        try (GradientFactors g = new PerExampleGradients(ProbeMode.EVAL, 1L << 30).factors(net, batch, all)) {
            a = NoiseAlignment.compute(op, top, g, true);
        }
        int d = h.length;
        // Dense references.
        double[][] rows = new double[k][];
        double[] mean = new double[d];
        for (int e = 0; e < k; e++) {
            rows[e] = exampleGradient.apply(e);
            for (int c = 0; c < d; c++) {
                mean[c] += rows[e][c] / k;
            }
        }
        double[][] dense = new double[d][d];
        for (double[] row : rows) {
            for (int i = 0; i < d; i++) {
                for (int j = 0; j < d; j++) {
                    dense[i][j] += (row[i] - mean[i]) * (row[j] - mean[j]) / k;
                }
            }
        }
        double[][] v = top.vectors();
        double[][] dr = inBasis(v, dense);
        double[][] hr = inBasis(v, h);
        assertClose(a.diffusionInBasis(), dr, tol);
        assertClose(a.hessianInBasis(), hr, tol);
        double[][] comm = Matrices.multiply(hr, dr);
        double[][] other = Matrices.multiply(dr, hr);
        for (int i = 0; i < R; i++) {
            for (int j = 0; j < R; j++) {
                comm[i][j] -= other[i][j];
            }
        }
        double hn = frobenius(hr);
        double dn = frobenius(dr);
        assertThat(a.commutator()).isCloseTo(frobenius(comm) / (hn * dn), within(tol * a.commutator()));
        assertThat(a.commutator()).isGreaterThan(1e-3); // a real network's D and H do not commute
        assertThat(a.traceCosine()).isCloseTo(Matrices.trace(Matrices.multiply(hr, dr)) / (hn * dn), within(tol));
        assertThat(a.correlations()[0][1]).isCloseTo(dr[0][1] / Math.sqrt(dr[0][0] * dr[1][1]), within(tol));
        // Overlap with the top eigenvectors of the dense D.
        SymmetricEigen eig = SymmetricEigen.of(dense);
        int rd = Math.min(R, a.overlapRank());
        assertThat(a.overlapRank()).isEqualTo(R);
        double overlap = 0;
        for (int j = 0; j < rd; j++) {
            double[] u = eig.vector(j);
            for (double[] vi : v) {
                double s = Vectors.dot(vi, u);
                overlap += s * s;
            }
        }
        assertThat(a.overlap()).isCloseTo(overlap / rd, within(tol));
        // B_noise over the whole space.
        double traceHD = Matrices.trace(Matrices.multiply(h, dense));
        double gHg = Vectors.dot(mean, Matrices.multiply(h, mean));
        assertThat(a.traceHD()).isCloseTo(traceHD, within(tol * Math.abs(traceHD)));
        assertThat(a.gHg()).isCloseTo(gHg, within(tol * Math.abs(gHg)));
        double unbiased = gHg - traceHD / k;
        if (unbiased > 0) {
            assertThat(a.bNoise()).isCloseTo(traceHD / unbiased, within(tol * 10 * traceHD / unbiased));
        } else {
            assertThat(a.bNoise()).isNaN();
        }
        assertThat(a.hessianVectorProducts()).isEqualTo(R + k + 1);
        assertThat(a.hessianEigenvalues()).containsExactly(top.values());
    }

    private static double[][] inBasis(double[][] v, double[][] m) {
        int r = v.length;
        double[][] out = new double[r][r];
        for (int j = 0; j < r; j++) {
            double[] mv = Matrices.multiply(m, v[j]);
            for (int i = 0; i < r; i++) {
                out[i][j] = Vectors.dot(v[i], mv);
            }
        }
        return out;
    }

    private static void assertClose(double[][] actual, double[][] expected, double tol) {
        double scale = frobenius(expected);
        for (int i = 0; i < expected.length; i++) {
            for (int j = 0; j < expected.length; j++) {
                assertThat(actual[i][j]).as("(%d, %d)", i, j).isCloseTo(expected[i][j], within(tol * scale));
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
}

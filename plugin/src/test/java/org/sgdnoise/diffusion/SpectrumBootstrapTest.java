package org.sgdnoise.diffusion;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.Random;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.ViewIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.internal.linalg.SymmetricEigen;
import org.sgdnoise.testing.TestNetworks;

/**
 * The bootstrap's replicates against D_w computed from the gradients in double, the two ways of getting the
 * examples' terms against each other, and the intervals' coverage on Gaussian data with a known covariance.
 */
class SpectrumBootstrapTest {

    /** The statistics of D_w = (1/W) Σ w_i (g_i − ḡ_w)(g_i − ḡ_w)ᵀ, from the rows, in plain double loops. */
    private static SpectrumBootstrap.Replicate bruteForce(double[][] g, double[] w) {
        int n = g.length;
        int d = g[0].length;
        double total = Arrays.stream(w).sum();
        double[] mean = new double[d];
        for (int i = 0; i < n; i++) {
            for (int a = 0; a < d; a++) {
                mean[a] += w[i] * g[i][a] / total;
            }
        }
        double[][] c = new double[d][d];
        for (int i = 0; i < n; i++) {
            for (int a = 0; a < d; a++) {
                for (int b = 0; b < d; b++) {
                    c[a][b] += w[i] * (g[i][a] - mean[a]) * (g[i][b] - mean[b]) / total;
                }
            }
        }
        double[] eig = SymmetricEigen.eigenvalues(c, 1.0);
        double trace = 0;
        double sumSq = 0;
        double entropy = 0;
        for (double v : eig) {
            trace += Math.max(0, v);
            sumSq += Math.max(0, v) * Math.max(0, v);
        }
        for (double v : eig) {
            if (v > 0) {
                entropy -= v / trace * Math.log(v / trace);
            }
        }
        double normSq = 0;
        for (double v : mean) {
            normSq += v * v;
        }
        return new SpectrumBootstrap.Replicate(trace, eig, trace * trace / sumSq, Math.exp(entropy), trace / normSq);
    }

    private static double[][] gramOf(double[][] g) {
        int n = g.length;
        double[][] k = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                for (int a = 0; a < g[0].length; a++) {
                    k[i][j] += g[i][a] * g[j][a];
                }
            }
        }
        return k;
    }

    private static double[][] gaussianRows(int n, double[] sd, double[] mu, Random r) {
        double[][] g = new double[n][sd.length];
        for (double[] row : g) {
            for (int a = 0; a < sd.length; a++) {
                row[a] = mu[a] + sd[a] * r.nextGaussian();
            }
        }
        return g;
    }

    /** With the span holding every direction, each replicate equals D_w from the gradients, to rounding. */
    @Test
    void replicatesEqualTheResampledCovarianceComputedFromTheGradients() {
        Random r = new Random(5);
        double[][] g = gaussianRows(40, new double[] {3, 2, 1, 0.5, 0.3, 0.1}, new double[] {1, -1, 0.5, 0, 0, 2}, r);
        double[][] gram = gramOf(g);
        SpectrumBootstrap.Scores scores = SpectrumBootstrap.fromGram(gram, 39);
        double[] sampleEig = bruteForce(g, ones(40)).top();
        SplittableRandom rnd = new SplittableRandom(11);
        for (int rep = 0; rep < 5; rep++) {
            double[] w = rep == 0 ? ones(40) : SpectrumBootstrap.counts(40, rnd);
            SpectrumBootstrap.Replicate got = SpectrumBootstrap.replicate(scores, sampleEig, 4, w);
            SpectrumBootstrap.Replicate want = bruteForce(g, w);
            double scale = want.trace();
            assertThat(got.trace()).as("trace").isCloseTo(want.trace(), within(1e-10 * scale));
            for (int j = 0; j < 4; j++) {
                assertThat(got.top()[j]).as("eigenvalue %d", j).isCloseTo(want.top()[j], within(1e-10 * scale));
            }
            assertThat(got.participationRatio()).isCloseTo(want.participationRatio(), within(1e-9));
            assertThat(got.effectiveRank()).isCloseTo(want.effectiveRank(), within(1e-9));
            assertThat(got.noiseScale()).isCloseTo(want.noiseScale(), within(1e-9 * want.noiseScale()));
        }
    }

    /**
     * On a network, the terms from a second pass of per-example gradients projected on the exact accumulation's top
     * eigenvectors give the same intervals as those from the Gram matrix of the same gradients.
     */
    @Test
    void theSecondPassAndTheGramMatrixGiveTheSameIntervals() {
        MultiLayerNetwork net = TestNetworks.denseSoftmax(3, 4, 5, 3, DataType.DOUBLE, new Sgd(0.1));
        Random r = new Random(2);
        int n = 30;
        INDArray x = Nd4j.create(DataType.DOUBLE, n, 4);
        INDArray y = Nd4j.create(DataType.DOUBLE, n, 3);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < 4; j++) {
                x.putScalar(i, j, r.nextGaussian());
            }
            y.putScalar(i, r.nextInt(3), 1.0);
        }
        DataSet data = new DataSet(x, y);
        DatasetSpectrum spectrum = DatasetSpectrum.compute(
                net, new ViewIterator(data, 8), new DatasetSpectrum.Options(8, true, 0, ProbeMode.EVAL));
        double[] eig = spectrum.exactEigenvalues();
        INDArray v = spectrum.exactTopVectors(29, 3);
        SpectrumBootstrap.Scores pass =
                SpectrumBootstrap.fromGradients(net, new ViewIterator(data, 8), ProbeMode.EVAL, spectrum.mean(), v);
        spectrum.close(); // releases the d×d sum at once
        org.assertj.core.api.Assertions.assertThatThrownBy(spectrum::exactEigenvalues)
                .isInstanceOf(IllegalStateException.class);
        double[][] g = new double[n][];
        for (int i = 0; i < n; i++) {
            DataSet one = data.get(i);
            g[i] = net.calculateGradients(one.getFeatures(), one.getLabels(), null, null)
                    .getFirst()
                    .gradient()
                    .toDoubleVector();
        }
        SpectrumBootstrap.Scores fromGram = SpectrumBootstrap.fromGram(gramOf(g), 29);
        SpectrumBootstrap.Result a = SpectrumBootstrap.of(pass, eig, 3, 50, 7);
        SpectrumBootstrap.Result b = SpectrumBootstrap.of(fromGram, eig, 3, 50, 7);
        assertThat(a.subspaceTraceFraction()).isCloseTo(1.0, within(1e-9));
        double scale = eig[0];
        assertThat(a.trace().lo()).isCloseTo(b.trace().lo(), within(1e-9 * scale));
        assertThat(a.trace().hi()).isCloseTo(b.trace().hi(), within(1e-9 * scale));
        for (int j = 0; j < 3; j++) {
            assertThat(a.top().get(j).lo()).isCloseTo(b.top().get(j).lo(), within(1e-8 * scale));
            assertThat(a.top().get(j).hi()).isCloseTo(b.top().get(j).hi(), within(1e-8 * scale));
        }
        assertThat(a.participationRatio().hi()).isCloseTo(b.participationRatio().hi(), within(1e-7));
        assertThat(a.noiseScale().lo())
                .isCloseTo(b.noiseScale().lo(), within(1e-7 * b.noiseScale().lo()));
        // The sample lies inside its intervals.
        double trace = Arrays.stream(eig).map(e -> Math.max(0, e)).sum();
        assertThat(trace).isBetween(a.trace().lo(), a.trace().hi());
    }

    /**
     * Coverage: over 100 Gaussian data sets of N = 200 with a known covariance, the 95% intervals of the trace and
     * of λ₁ contain the population values in at least 85 and 80 (the percentile bootstrap is mildly liberal at this
     * N; λ₁'s sample value is biased upwards).
     */
    @Test
    void theIntervalsCoverThePopulationValues() {
        double[] sd = {2, 1.2, 0.8, 0.5, 0.3};
        double trueTrace = 0;
        for (double s : sd) {
            trueTrace += s * s;
        }
        Random r = new Random(17);
        int traceCovered = 0;
        int topCovered = 0;
        int datasets = 100;
        for (int t = 0; t < datasets; t++) {
            double[][] g = gaussianRows(200, sd, new double[] {0.5, 0, 0, 0, 0}, r);
            double[] eig = bruteForce(g, ones(200)).top();
            SpectrumBootstrap.Result b = SpectrumBootstrap.of(SpectrumBootstrap.fromGram(gramOf(g), 5), eig, 1, 200, t);
            traceCovered +=
                    trueTrace >= b.trace().lo() && trueTrace <= b.trace().hi() ? 1 : 0;
            topCovered += sd[0] * sd[0] >= b.top().get(0).lo()
                            && sd[0] * sd[0] <= b.top().get(0).hi()
                    ? 1
                    : 0;
        }
        assertThat(traceCovered).as("trace covered").isBetween(85, 100);
        assertThat(topCovered).as("lambda_1 covered").isBetween(80, 100);
    }

    private static double[] ones(int n) {
        double[] w = new double[n];
        Arrays.fill(w, 1);
        return w;
    }
}

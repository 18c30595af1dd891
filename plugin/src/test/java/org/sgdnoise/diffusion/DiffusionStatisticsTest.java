package org.sgdnoise.diffusion;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * D statistics against the definitions (explicit d×d covariance in double) and against populations with
 * a known covariance.
 */
class DiffusionStatisticsTest {

    /** Gram-trick eigenvalues vs the explicit covariance's, relative to λ_max. */
    static final double EIG_TOLERANCE = 1e-9;
    /** Exact identities (trace, |ḡ|², B_simple) computed two ways in double. */
    static final double EXACT_TOLERANCE = 1e-12;

    private static double[][] gaussian(int k, int d, double[] mean, double[] sd, long seed) {
        Random r = new Random(seed);
        double[][] g = new double[k][d];
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < d; j++) {
                g[i][j] = mean[j] + sd[j] * r.nextGaussian();
            }
        }
        return g;
    }

    private static INDArray toNd(double[][] g) {
        return Nd4j.createFromArray(g).castTo(DataType.DOUBLE);
    }

    /** The explicit A1 covariance (1/k) Σ (g_i − ḡ)(g_i − ḡ)ᵀ, d×d, plain loops. */
    private static double[][] explicitCovariance(double[][] g) {
        int k = g.length;
        int d = g[0].length;
        double[] mean = new double[d];
        for (double[] row : g) {
            for (int j = 0; j < d; j++) {
                mean[j] += row[j] / k;
            }
        }
        double[][] c = new double[d][d];
        for (double[] row : g) {
            for (int a = 0; a < d; a++) {
                for (int b = 0; b < d; b++) {
                    c[a][b] += (row[a] - mean[a]) * (row[b] - mean[b]) / k;
                }
            }
        }
        return c;
    }

    private static double[] eigDescending(double[][] c) {
        return SymmetricEigen.eigenvalues(c, 1.0);
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5})
    void gramTrickEigenvaluesEqualExplicitCovariance(long seed) {
        int k = 12;
        int d = 30;
        double[] mean = new double[d];
        double[] sd = new double[d];
        for (int j = 0; j < d; j++) {
            mean[j] = 0.3 * j;
            sd[j] = 1.0 / (1 + j);
        }
        double[][] g = gaussian(k, d, mean, sd, seed);
        DiffusionStats s = DiffusionStatistics.compute(toNd(g));
        double[] expected = eigDescending(explicitCovariance(g));
        for (int i = 0; i < k; i++) {
            assertThat(s.eigenvalues()[i]).isCloseTo(Math.max(0, expected[i]), within(EIG_TOLERANCE * expected[0]));
        }
        // k points span at most k−1 directions: the sample covariance is rank-capped.
        assertThat(s.rank()).isEqualTo(k - 1);
        assertThat(s.rankCapped()).isTrue();
    }

    @Test
    void traceGradNormAndNoiseScaleEqualTheirDefinitions() {
        int k = 9;
        int d = 7;
        double[][] g =
                gaussian(k, d, new double[] {1, -2, 0.5, 0, 0, 3, 1}, new double[] {1, 1, 2, 0.1, 0.5, 1, 3}, 11);
        double[] mean = new double[d];
        for (double[] row : g) {
            for (int j = 0; j < d; j++) {
                mean[j] += row[j] / k;
            }
        }
        double normSq = 0;
        for (double m : mean) {
            normSq += m * m;
        }
        double sumSq = 0;
        for (double[] row : g) {
            for (double v : row) {
                sumSq += v * v;
            }
        }
        double trace = sumSq / k - normSq; // theory.md §3: (1/k) Σ|g_i|² − |ḡ|²
        double explicitTrace = 0;
        double[][] c = explicitCovariance(g);
        for (int j = 0; j < d; j++) {
            explicitTrace += c[j][j];
        }
        DiffusionStats s = DiffusionStatistics.compute(toNd(g));
        assertThat(s.trace()).isCloseTo(trace, within(EXACT_TOLERANCE * trace));
        assertThat(s.trace()).isCloseTo(explicitTrace, within(EXACT_TOLERANCE * trace));
        assertThat(s.gradNormSq()).isCloseTo(normSq, within(EXACT_TOLERANCE * normSq));
        assertThat(s.noiseScale()).isCloseTo(trace / normSq, within(1e-10 * trace / normSq));
        assertThat(s.traceUnbiased()).isCloseTo(trace * k / (k - 1), within(EXACT_TOLERANCE * trace));
        assertThat(Arrays.stream(s.eigenvalues()).sum()).isCloseTo(trace, within(1e-10 * trace));
        assertThat(s.isotropyRatio()).isCloseTo(d * s.lambdaMax() / trace, within(1e-12));
        assertThat(s.stableRank()).isCloseTo(trace / s.lambdaMax(), within(1e-12));
    }

    /**
     * A population N(μ, diag(σ²)) with known tr(D) = Σσ², |∇f|² = |μ|², PR = (Σσ²)²/Σσ⁴.
     * Tolerances: 6 standard errors of each estimator at k = 1000 (from the formulas in the comments), so
     * a correct estimator fails with probability below 1e-8; 20% for the participation ratio (a ratio of
     * two U-statistics over 500 pairs; measured over 20 seeds: sd 5%, largest deviation 14%).
     */
    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23})
    void estimatorsMatchAKnownPopulation(long seed) {
        int k = 1000;
        int d = 40;
        double[] sd = new double[d];
        double[] mean = new double[d];
        double tr = 0;
        double tr2 = 0;
        for (int j = 0; j < d; j++) {
            sd[j] = 1.0 / Math.sqrt(1 + j);
            tr += sd[j] * sd[j];
            tr2 += Math.pow(sd[j], 4);
            mean[j] = j % 2 == 0 ? 0.15 : -0.1;
        }
        double muSq = Arrays.stream(mean).map(m -> m * m).sum();
        DiffusionStats s = DiffusionStatistics.compute(toNd(gaussian(k, d, mean, sd, seed)));
        // sd(traceUnbiased) ≈ sqrt(2 tr(D²)/k)
        assertThat(s.traceUnbiased()).isCloseTo(tr, within(6 * Math.sqrt(2 * tr2 / k)));
        // sd(|ḡ|² unbiased) ≈ sqrt(4 μᵀDμ/k + 2 tr(D²)/k²)
        double muDmu = 0;
        for (int j = 0; j < d; j++) {
            muDmu += mean[j] * mean[j] * sd[j] * sd[j];
        }
        double sdNorm = Math.sqrt(4 * muDmu / k + 2 * tr2 / ((double) k * k));
        assertThat(s.gradNormSqUnbiased()).isCloseTo(muSq, within(6 * sdNorm));
        double b = tr / muSq;
        assertThat(s.noiseScaleUnbiased())
                .isCloseTo(b, within(b * 6 * sdNorm / muSq + 6 * Math.sqrt(2 * tr2 / k) / muSq));
        // The plug-in |ḡ|² carries the bias tr(D)/k.
        assertThat(s.gradNormSq() - s.gradNormSqUnbiased()).isCloseTo(s.traceUnbiased() / k, within(1e-12));
        double pr = tr * tr / tr2;
        assertThat(s.participationRatio()).isCloseTo(pr, within(0.2 * pr));
    }

    @Test
    void pairParticipationRatioIsConsistentWhereThePlugInIsNot() {
        // Isotropic D = I in d = 400 from k = 60 samples: the plug-in effective rank is capped near k,
        // the pair estimator is unbiased for both its numerator and denominator and lands near d.
        int k = 60;
        int d = 400;
        double[] sd = new double[d];
        Arrays.fill(sd, 1.0);
        double sum = 0;
        int reps = 20;
        for (int rep = 0; rep < reps; rep++) {
            DiffusionStats s = DiffusionStatistics.compute(toNd(gaussian(k, d, new double[d], sd, 100 + rep)));
            assertThat(s.effectiveRank()).isLessThan(k);
            sum += s.participationRatio();
        }
        assertThat(sum / reps).isCloseTo(d, within(0.15 * d));
    }

    @Test
    void lowRankPopulationGivesItsRankUncapped() {
        int k = 20;
        int d = 100;
        Random r = new Random(5);
        double[][] g = new double[k][d];
        for (int i = 0; i < k; i++) {
            double a = r.nextGaussian() * 3;
            double b = r.nextGaussian();
            double c = r.nextGaussian() * 0.5;
            g[i][0] = a;
            g[i][10] = b;
            g[i][50] = c + a;
        }
        DiffusionStats s = DiffusionStatistics.compute(toNd(g));
        assertThat(s.rank()).isEqualTo(3);
        assertThat(s.rankCapped()).isFalse();
        assertThat(s.rankFraction()).isEqualTo(3.0 / d);
    }

    @Test
    void knownSpectrumGivesKnownEffectiveRanks() {
        // Four points ±a e1, ±b e2: mean 0, D = diag(a²/2, b²/2).
        double a = 2;
        double b = 1;
        double[][] g = {{a, 0, 0}, {-a, 0, 0}, {0, b, 0}, {0, -b, 0}};
        DiffusionStats s = DiffusionStatistics.compute(toNd(g));
        double l1 = a * a / 2;
        double l2 = b * b / 2;
        assertThat(s.eigenvalues()[0]).isCloseTo(l1, within(1e-12));
        assertThat(s.eigenvalues()[1]).isCloseTo(l2, within(1e-12));
        assertThat(s.trace()).isCloseTo(l1 + l2, within(1e-12));
        double p1 = l1 / (l1 + l2);
        double p2 = l2 / (l1 + l2);
        assertThat(s.effectiveRank()).isCloseTo(Math.exp(-p1 * Math.log(p1) - p2 * Math.log(p2)), within(1e-12));
        assertThat(s.isotropyRatio()).isCloseTo(3 * l1 / (l1 + l2), within(1e-12));
        assertThat(s.eigMean()).isCloseTo((l1 + l2) / 2, within(1e-12));
        assertThat(s.eigStd()).isCloseTo((l1 - l2) / 2, within(1e-12));
        assertThat(s.topFraction(1)).isCloseTo(p1, within(1e-12));
        assertThat(s.participationRatioPlugin()).isCloseTo((l1 + l2) * (l1 + l2) / (l1 * l1 + l2 * l2), within(1e-12));
        assertThat(s.stableRank()).isCloseTo((l1 + l2) / l1, within(1e-12));
        assertThat(s.gradNormSq()).isEqualTo(0);
        assertThat(s.noiseScale()).isNaN();
    }

    @Test
    void splitHalfOverlapIsOneForIdenticalHalvesAndSmallForIndependentNoise() {
        double[][] half = gaussian(20, 60, new double[60], filled(60, 1.0), 30);
        double[][] twice = new double[40][];
        for (int i = 0; i < 20; i++) {
            twice[i] = half[i];
            twice[20 + i] = half[i];
        }
        assertThat(DiffusionStatistics.compute(toNd(twice), 3).splitHalfOverlap())
                .isCloseTo(1.0, within(1e-9));
        // Independent isotropic halves in d = 400: unrelated subspaces, overlap near r/d.
        double[][] iso = gaussian(40, 400, new double[400], filled(400, 1.0), 31);
        assertThat(DiffusionStatistics.compute(toNd(iso), 3).splitHalfOverlap()).isLessThan(0.1);
        // A strong shared direction: both halves find it.
        double[][] spiked = gaussian(40, 400, new double[400], filled(400, 0.1), 32);
        Random r = new Random(33);
        for (double[] row : spiked) {
            row[7] += 10 * r.nextGaussian();
        }
        assertThat(DiffusionStatistics.compute(toNd(spiked), 1).splitHalfOverlap())
                .isGreaterThan(0.95);
        assertThat(DiffusionStatistics.compute(toNd(spiked), 30).splitHalfOverlap())
                .isNaN(); // r > h − 1
    }

    @Test
    void perLayerTracesAndTopEigenvaluesMatchTheirBlocks() {
        double[][] g = gaussian(12, 5, new double[5], new double[] {3, 1, 1, 0.5, 2}, 34);
        INDArray block = toNd(g);
        DiffusionStats all = DiffusionStatistics.compute(block);
        var layers = List.of(new ParameterLayout.LayerRange("a", 0, 3), new ParameterLayout.LayerRange("b", 3, 2));
        var noise = DiffusionStatistics.perLayer(block, layers);
        double[][] c = explicitCovariance(g);
        assertThat(noise.get(0).trace()).isCloseTo(c[0][0] + c[1][1] + c[2][2], within(1e-12));
        assertThat(noise.get(1).trace()).isCloseTo(c[3][3] + c[4][4], within(1e-12));
        assertThat(noise.get(0).share() + noise.get(1).share()).isCloseTo(1.0, within(1e-12));
        assertThat(noise.get(0).trace() + noise.get(1).trace()).isCloseTo(all.trace(), within(1e-12));
        double[][] cb = {{c[3][3], c[3][4]}, {c[4][3], c[4][4]}};
        assertThat(noise.get(1).lambdaMax()).isCloseTo(eigDescending(cb)[0], within(1e-12));
        assertThat(noise.get(1).numParams()).isEqualTo(2);
    }

    @Test
    void statisticsFromTheUncentredGramEqualThoseFromTheCentredRows() {
        // A large common mean, as when the gradient dominates the noise: centring the Gram (JGJ) must still
        // give the centred rows' figures, in double to 1e-9.
        double[] mean = {4, -2, 1, 0, 3, 0.5};
        double[][] g = gaussian(10, 6, mean, new double[] {1, 0.5, 2, 0.1, 1, 0.3}, 35);
        INDArray block = toNd(g);
        double[][] gram = block.mmul(block.transpose()).toDoubleMatrix();
        DiffusionStats fromGram = DiffusionStatistics.ofGram(gram, 6, 2);
        DiffusionStats fromRows = DiffusionStatistics.compute(block.dup(), 2);
        assertThat(fromGram.trace()).isCloseTo(fromRows.trace(), within(1e-9 * fromRows.trace()));
        assertThat(fromGram.gradNormSq()).isCloseTo(fromRows.gradNormSq(), within(1e-9 * fromRows.gradNormSq()));
        assertThat(fromGram.rank()).isEqualTo(fromRows.rank());
        for (int i = 0; i < 5; i++) {
            assertThat(fromGram.eigenvalues()[i])
                    .isCloseTo(fromRows.eigenvalues()[i], within(1e-9 * fromRows.eigenvalues()[0]));
        }
        assertThat(fromGram.participationRatio()).isCloseTo(fromRows.participationRatio(), within(1e-9));
        assertThat(fromGram.splitHalfOverlap()).isCloseTo(fromRows.splitHalfOverlap(), within(1e-9));

        var layers = List.of(new ParameterLayout.LayerRange("a", 0, 4), new ParameterLayout.LayerRange("b", 4, 2));
        Map<String, double[][]> grams = new LinkedHashMap<>();
        grams.put(
                "a",
                block.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 4))
                        .mmul(block.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 4))
                                .transpose())
                        .toDoubleMatrix());
        grams.put(
                "b",
                block.get(NDArrayIndex.all(), NDArrayIndex.interval(4, 6))
                        .mmul(block.get(NDArrayIndex.all(), NDArrayIndex.interval(4, 6))
                                .transpose())
                        .toDoubleMatrix());
        var ofGrams = DiffusionStatistics.perLayerOfGrams(grams, layers);
        INDArray centred = block.dup();
        DiffusionStatistics.centre(centred);
        var ofRows = DiffusionStatistics.perLayer(centred, layers);
        for (int l = 0; l < 2; l++) {
            assertThat(ofGrams.get(l).trace())
                    .isCloseTo(
                            ofRows.get(l).trace(), within(1e-9 * ofRows.get(l).trace()));
            assertThat(ofGrams.get(l).share()).isCloseTo(ofRows.get(l).share(), within(1e-9));
            assertThat(ofGrams.get(l).lambdaMax())
                    .isCloseTo(
                            ofRows.get(l).lambdaMax(),
                            within(1e-9 * ofRows.get(l).lambdaMax()));
        }
    }

    @Test
    void computeCentresTheBlockInPlace() {
        double[][] g = gaussian(5, 4, new double[] {1, 2, 3, 4}, new double[] {1, 1, 1, 1}, 3);
        INDArray block = toNd(g);
        DiffusionStatistics.compute(block);
        assertThat(block.mean(0).norm2Number().doubleValue()).isLessThan(1e-12);
    }

    @Test
    void fewerThanTwoSamplesIsAnError() {
        assertThatThrownBy(() -> DiffusionStatistics.compute(Nd4j.ones(DataType.DOUBLE, 1, 5)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("samples must be >= 2");
    }

    @Test
    void nonFiniteGradientsAreReportedAsSuch() {
        INDArray block = Nd4j.ones(DataType.DOUBLE, 4, 3);
        block.putScalar(1, 2, Double.NaN);
        assertThatThrownBy(() -> DiffusionStatistics.compute(block))
                .isInstanceOf(ArithmeticException.class)
                .hasMessageContaining("non-finite");
    }

    @Test
    void floatBlocksGiveFloatAccurateStatistics() {
        double[][] g = gaussian(16, 50, new double[50], filled(50, 1.0), 8);
        DiffusionStats exact = DiffusionStatistics.compute(toNd(g));
        DiffusionStats single = DiffusionStatistics.compute(toNd(g).castTo(DataType.FLOAT));
        assertThat(single.trace()).isCloseTo(exact.trace(), within(1e-5 * exact.trace()));
        assertThat(single.lambdaMax()).isCloseTo(exact.lambdaMax(), within(1e-5 * exact.lambdaMax()));
    }

    private static double[] filled(int n, double v) {
        double[] a = new double[n];
        Arrays.fill(a, v);
        return a;
    }

    /**
     * Above LAPACK_ABOVE rows the eigenvalues come from LAPACK: the nonzero eigenvalues of the 1,200×1,200
     * Gram matrix X Xᵀ equal those of the 40×40 matrix Xᵀ X, solved by EJML.
     */
    @Test
    void largeMatricesGoThroughLapackAndAgreeWithTheSmallSideOfTheGram() {
        int n = SymmetricEigen.LAPACK_ABOVE + 176;
        int m = 40;
        Random r = new Random(9);
        double[][] x = new double[n][m];
        for (double[] row : x) {
            for (int j = 0; j < m; j++) {
                row[j] = r.nextGaussian();
            }
        }
        double[][] big = new double[n][n];
        double[][] small = new double[m][m];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int k = 0; k < m; k++) {
                    acc += x[i][k] * x[j][k];
                }
                big[i][j] = acc;
            }
            for (int a = 0; a < m; a++) {
                for (int b = 0; b < m; b++) {
                    small[a][b] += x[i][a] * x[i][b];
                }
            }
        }
        double[] fromBig = DiffusionStatistics.eigenvaluesDescending(big, 0.5);
        double[] fromSmall = DiffusionStatistics.eigenvaluesDescending(small, 0.5);
        for (int i = 0; i < m; i++) {
            assertThat(fromBig[i]).as("eigenvalue %d", i).isCloseTo(fromSmall[i], within(1e-9 * fromSmall[0]));
        }
        for (int i = m; i < n; i++) {
            assertThat(fromBig[i]).isLessThan(1e-9 * fromSmall[0]);
        }
    }

    /**
     * The rank cap applies before the mean and standard deviation: of {4, 2, 1, 0.5} with at most 2 directions, the
     * rank is 2 and the mean and standard deviation are those of {4, 2}, not of all four above the threshold.
     */
    @Test
    void theMeanAndSpreadOfTheEigenvaluesCountOnlyThoseWithinTheRankCap() {
        SpectrumSummary capped = SpectrumSummary.of(new double[] {1, 4, 0.5, 2}, 3, 7.5, 2);
        assertThat(capped.rank()).isEqualTo(2);
        assertThat(capped.eigMean()).isEqualTo(3.0);
        assertThat(capped.eigStd()).isEqualTo(1.0);
        assertThat(capped.participationRatioPlugin()).isCloseTo(7.5 * 7.5 / 21.25, within(1e-15));
        SpectrumSummary all = SpectrumSummary.of(new double[] {1, 4, 0.5, 2}, 3, 7.5);
        assertThat(all.rank()).isEqualTo(3); // the cap d = 3 still holds
        assertThat(all.eigMean()).isCloseTo(7.0 / 3, within(1e-15));
    }
}

package org.sgdnoise.trajectory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.sgdnoise.curvature.CirculationPrediction;
import org.sgdnoise.curvature.LinearisedSgd;
import org.sgdnoise.curvature.LinearisedSgdSimulation;
import org.sgdnoise.curvature.PredictionUncertainty;

/**
 * {@link LinearisedSgdSimulation} and {@link AreaRateComparison} on processes whose answers are known: a simulated
 * non-commuting process reproduces its predicted area rates (slope 1) and covariance, a commuting one has rates
 * consistent with zero and the loop detector says NO_LOOP.
 */
class AreaRateComparisonTest {

    private static final double[][] H = {{2.0, 0.0, 0.0}, {0.0, 1.0, 0.0}, {0.0, 0.0, 0.5}};
    private static final double[][] D = {{1.0, 0.6, 0.3}, {0.6, 1.0, -0.4}, {0.3, -0.4, 1.0}};

    @Test
    void aSimulatedNonCommutingProcessHasSlopeOneAndItsPredictedCovariance() {
        LinearisedSgd model = LinearisedSgd.of(H, D, 0.2, 4);
        CirculationPrediction p = model.predict();
        assertThat(p.loopPredicted()).isTrue();
        double[][] y = LinearisedSgdSimulation.simulate(model, 200_000, 2_000, 7);
        AreaRateComparison c = AreaRateComparison.of(y, p, 100);
        assertThat(c.slope()).isCloseTo(1.0, within(4 * c.slopeStderr()));
        assertThat(c.slopeStderr()).isLessThan(0.1);
        assertThat(c.traceRatio()).isCloseTo(1.0, within(0.05));
        assertThat(c.covarianceRelativeError()).isLessThan(0.05);
        for (int i = 0; i < 3; i++) {
            for (int j = i + 1; j < 3; j++) {
                assertThat(c.measured()[i][j]).isCloseTo(p.areaRate()[i][j], within(4 * c.stderr()[i][j]));
            }
        }
    }

    private static final double[][] H4 = {{2.0, 0, 0, 0}, {0, 1.0, 0, 0}, {0, 0, 0.5, 0}, {0, 0, 0, 0.3}};
    private static final double[][] D4 = {
        {1.0, 0.5, 0.3, -0.2}, {0.5, 1.0, -0.3, 0.2}, {0.3, -0.3, 1.0, 0.4}, {-0.2, 0.2, 0.4, 1.0}
    };

    /**
     * The rate spectrum (ω₁, ω₂ of a 4-dimensional process) is the same in any orthonormal basis, and the measured
     * one matches the prediction within 4 of its jackknife standard errors, which in turn match the spread over 8
     * seeded runs within a factor of 2.
     */
    @Test
    void theRateSpectrumIsBasisFreeAndItsJackknifeErrorsAreCalibrated() {
        LinearisedSgd model = LinearisedSgd.of(H4, D4, 0.2, 4);
        CirculationPrediction p = model.predict();
        double[][] q = ToySystems.randomOrthogonal(4, 3);
        double[][] rotated = new double[4][4];
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                for (int k = 0; k < 4; k++) {
                    for (int l = 0; l < 4; l++) {
                        rotated[i][j] += q[k][i] * p.areaRate()[k][l] * q[l][j];
                    }
                }
            }
        }
        double[] w = org.sgdnoise.internal.linalg.CirculationRates.spectrum(p.areaRate());
        double[] wr = org.sgdnoise.internal.linalg.CirculationRates.spectrum(rotated);
        assertThat(w).hasSize(2);
        assertThat(w[0]).isGreaterThan(w[1]).isGreaterThan(0);
        assertThat(w[0]).isCloseTo(p.maxRate(), within(1e-12 * w[0]));
        for (int k = 0; k < 2; k++) {
            assertThat(wr[k]).isCloseTo(w[k], within(1e-12 * w[0]));
        }
        int runs = 8;
        double[] sum = new double[2];
        double[] sq = new double[2];
        double[] seSum = new double[2];
        for (int seed = 0; seed < runs; seed++) {
            double[][] y = LinearisedSgdSimulation.simulate(model, 100_000, 2_000, 40 + seed);
            AreaRateComparison c = AreaRateComparison.of(y, p, 50);
            assertThat(c.predictedRates()).containsExactly(w);
            for (int k = 0; k < 2; k++) {
                assertThat(c.measuredRates()[k]).isCloseTo(w[k], within(4 * c.measuredRatesStderr()[k]));
                sum[k] += c.measuredRates()[k];
                sq[k] += c.measuredRates()[k] * c.measuredRates()[k];
                seSum[k] += c.measuredRatesStderr()[k] / runs;
            }
        }
        for (int k = 0; k < 2; k++) {
            double mean = sum[k] / runs;
            double sd = Math.sqrt((sq[k] - runs * mean * mean) / (runs - 1));
            assertThat(sd / seSum[k]).as("rate %d", k + 1).isBetween(0.5, 2.0);
        }
    }

    @Test
    void aCommutingProcessHasNoRateAndNoLoop() {
        double[][] diagonal = {{1.0, 0, 0}, {0, 0.5, 0}, {0, 0, 2.0}};
        LinearisedSgd model = LinearisedSgd.of(H, diagonal, 0.2, 4);
        CirculationPrediction p = model.predict();
        assertThat(p.loopPredicted()).isFalse();
        double[][] y = LinearisedSgdSimulation.simulate(model, 50_000, 2_000, 8);
        AreaRateComparison c = AreaRateComparison.of(y, p, 50);
        for (int i = 0; i < 3; i++) {
            for (int j = i + 1; j < 3; j++) {
                assertThat(Math.abs(c.measured()[i][j])).isLessThan(4 * c.stderr()[i][j]);
            }
        }
        LoopAnalysis a = LoopStatistics.defaults().analyze(y, 1);
        assertThat(a.verdict()).isEqualTo(LoopVerdict.NO_LOOP);
    }

    @Test
    void thePredictionsOwnErrorsWidenTheSlopesIntervalAndTheBootstrapSeesDsSampling() {
        // D_r estimated from 300 examples of the true D: the prediction from it, its bootstrap errors, and a long
        // run of the true process: with the prediction's errors counted, the slope's interval covers 1.
        LinearisedSgd truth = LinearisedSgd.of(H, D, 0.2, 4);
        java.util.SplittableRandom rng = new java.util.SplittableRandom(3);
        double[][] root = {{1.0, 0, 0}, {0.6, 0.8, 0}, {0.3, -0.725, 0.620}}; // R Rᵀ ≈ D
        double[][] projections = new double[300][3];
        for (double[] row : projections) {
            double[] z = {rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian()};
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    row[i] += root[i][j] * z[j];
                }
            }
        }
        double[] mean = new double[3];
        for (double[] row : projections) {
            for (int i = 0; i < 3; i++) {
                mean[i] += row[i] / 300;
            }
        }
        double[][] dHat = new double[3][3];
        for (double[] row : projections) {
            for (int i = 0; i < 3; i++) {
                row[i] -= mean[i];
            }
        }
        for (double[] row : projections) {
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    dHat[i][j] += row[i] * row[j] / 300;
                }
            }
        }
        CirculationPrediction estimated = LinearisedSgd.of(H, dHat, 0.2, 4).predict();
        PredictionUncertainty u = PredictionUncertainty.of(
                projections, d -> LinearisedSgd.of(H, d, 0.2, 4).predict(), 200, 5);
        assertThat(u.stderr()[0][1]).isPositive();
        assertThat(u.maxRateStderr()).isPositive();
        // The estimate is within a few bootstrap errors of the truth.
        CirculationPrediction p = truth.predict();
        for (int i = 0; i < 3; i++) {
            for (int j = i + 1; j < 3; j++) {
                assertThat(estimated.areaRate()[i][j]).isCloseTo(p.areaRate()[i][j], within(4 * u.stderr()[i][j]));
            }
        }
        double[][] y = LinearisedSgdSimulation.simulate(truth, 200_000, 2_000, 9);
        AreaRateComparison c = AreaRateComparison.of(y, estimated, 100, u.stderr());
        assertThat(c.slope()).isCloseTo(1.0, within(4 * c.slopeStderr()));
        assertThat(c.predictedStderr()[0][1]).isEqualTo(u.stderr()[0][1]);
    }

    @Test
    void badShapesAreRefused() {
        CirculationPrediction p = LinearisedSgd.of(H, D, 0.2, 4).predict();
        assertThatThrownBy(() -> AreaRateComparison.of(new double[10][3], p, 10))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 2 steps per block");
        assertThatThrownBy(() -> LinearisedSgdSimulation.simulate(LinearisedSgd.of(H, D, 0.2, 4), 0, 0, 1))
                .hasMessageContaining("steps >= 1");
    }
}

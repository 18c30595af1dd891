package org.sgdnoise.trajectory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.sgdnoise.curvature.CirculationPrediction;
import org.sgdnoise.curvature.LinearisedSgd;

/** The linearised model's prediction beside the detector's measurement, in the detector's units. */
class LoopPredictionTest {

    /** Half-width of the agreement between measured and predicted rates, in predicted standard deviations. */
    static final double Z = 4;

    /**
     * A non-commuting 2-D plain-SGD model (H eigenvalues 1.16 and 0.14, η = 0.8: relaxation times of 1 and 9
     * steps), predicted to circulate.
     */
    static final LinearisedSgd MODEL = LinearisedSgd.of(
            new double[][] {{1.0, 0.4}, {0.4, 0.3}}, new double[][] {{0.5, -0.3}, {-0.3, 2.0}}, 0.8, 1);

    /** x_{t+1} = x_t − η(Hx_t + ξ_t), ξ ~ N(0, D/b) by Cholesky, from 0 after a burn-in of 1,000 steps. */
    static double[][] simulate(LinearisedSgd model, int steps, long seed) {
        double[][] h = model.hessian();
        double[][] d = model.diffusion();
        double c = model.noiseScale();
        double l00 = Math.sqrt(c * d[0][0]);
        double l10 = c * d[1][0] / l00;
        double l11 = Math.sqrt(c * d[1][1] - l10 * l10);
        double eta = model.learningRate();
        SplittableRandom rng = new SplittableRandom(seed);
        double x0 = 0;
        double x1 = 0;
        double[][] y = new double[steps][];
        for (int t = -1_000; t < steps; t++) {
            double z0 = gaussian(rng);
            double z1 = gaussian(rng);
            double g0 = h[0][0] * x0 + h[0][1] * x1 + l00 * z0;
            double g1 = h[1][0] * x0 + h[1][1] * x1 + l10 * z0 + l11 * z1;
            x0 -= eta * g0;
            x1 -= eta * g1;
            if (t >= 0) {
                y[t] = new double[] {x0, x1};
            }
        }
        return y;
    }

    private static double gaussian(SplittableRandom rng) {
        return Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble());
    }

    private static double[][] every(double[][] y, int k) {
        double[][] out = new double[y.length / k][];
        for (int i = 0; i < out.length; i++) {
            out[i] = y[i * k];
        }
        return out;
    }

    /** The rate the detector measured in its plane (u, v): uᵀÂv, which is +ω by its orientation. */
    private static double measuredInPlane(LoopAnalysis a) {
        double s = 0;
        for (int i = 0; i < a.dimensions(); i++) {
            for (int j = 0; j < a.dimensions(); j++) {
                s += a.plane()[0][i] * a.areaRate()[i][j] * a.plane()[1][j];
            }
        }
        return s;
    }

    /**
     * Every step recorded: the measured rate in the detector's plane agrees with the predicted one within 4
     * predicted standard deviations of the window (300,000 steps), and the prediction's ω is the model's.
     */
    @Test
    void everyStepRecordedMeasuresThePredictedRate() {
        CirculationPrediction p = MODEL.predict();
        LoopAnalysis a = LoopStatistics.defaults().analyze(simulate(MODEL, 300_000, 1), 1);
        LoopPrediction lp = LoopPrediction.compare(p, a, 1);
        assertThat(a.verdict()).isEqualTo(LoopVerdict.LOOP);
        assertThat(lp.maxRate()).isEqualTo(p.maxRate());
        assertThat(measuredInPlane(a)).isCloseTo(lp.rateInPlane(), within(Z * lp.sdInPlane()));
        assertThat(lp.sdInPlane()).isCloseTo(p.plane(a.plane()[0], a.plane()[1]).sd(299_999), within(1e-15));
        assertThat(lp.stepsForSnr4()).isEqualTo(p.stepsForSnr4());
        assertThat(lp.moreStepsForSnr4()).isNaN(); // LOOP: nothing more needed
    }

    /**
     * Every 4th step recorded (the detector divides by dt = 4): the detector measures (C(4)ᵀ − C(4))/8 per step,
     * which the prediction of the process observed every 4 steps gives; the one-step ω would be wrong by far
     * more than the window's standard deviation.
     */
    @Test
    void aRecordingIntervalIsPredictedAtItsOwnLag() {
        CirculationPrediction p = MODEL.predict();
        LoopAnalysis a = LoopStatistics.defaults().analyze(every(simulate(MODEL, 1_200_000, 2), 4), 4);
        LoopPrediction lp = LoopPrediction.compare(p, a, 4);
        assertThat(measuredInPlane(a)).isCloseTo(lp.rateInPlane(), within(Z * lp.sdInPlane()));
        assertThat(Math.abs(lp.maxRate() - p.maxRate())).isGreaterThan(2 * Z * lp.sdInPlane());
        // Steps in iterations: the observations the strided model needs, times 4.
        assertThat(lp.stepsForSnr4())
                .isCloseTo(MODEL.observedEvery(4).predict().stepsForSnr4() * 4, within(1e-9 * lp.stepsForSnr4()));
    }

    /**
     * A window too short for any verdict (300 steps, below the detector's 640; the model needs 334 for SNR 4)
     * says how many more iterations the prediction needs; there is no measured plane to compare in.
     */
    @Test
    void aShortWindowSaysHowManyMoreStepsThePredictionNeeds() {
        CirculationPrediction p = MODEL.predict();
        LoopAnalysis a = LoopStatistics.defaults().analyze(simulate(MODEL, 300, 3), 1);
        assertThat(a.verdict()).isEqualTo(LoopVerdict.INSUFFICIENT_DATA);
        LoopPrediction lp = LoopPrediction.compare(p, a, 1);
        assertThat(p.stepsForSnr4()).isGreaterThan(299);
        assertThat(lp.moreStepsForSnr4()).isEqualTo(p.stepsForSnr4() - 299);
        assertThat(lp.rateInPlane()).isNaN();
        assertThat(lp.sdInPlane()).isNaN();
        // Recorded every 2 iterations, 150 rows span 298 iterations.
        LoopAnalysis a2 = LoopStatistics.defaults().analyze(every(simulate(MODEL, 300, 3), 2), 2);
        LoopPrediction lp2 = LoopPrediction.compare(p, a2, 2);
        assertThat(lp2.moreStepsForSnr4()).isEqualTo(Math.max(0, lp2.stepsForSnr4() - 298));
    }

    @Test
    void momentumAtAnIntervalIsNotModelledAndDimensionsMustAgree() {
        LoopAnalysis a = LoopStatistics.defaults().analyze(simulate(MODEL, 2_000, 4), 2);
        LoopPrediction lp = LoopPrediction.compare(MODEL.withMomentum(0.5).predict(), a, 2);
        assertThat(lp.maxRate()).isNaN();
        assertThat(lp.rateInPlane()).isNaN();
        double[][] h3 = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
        CirculationPrediction p3 = LinearisedSgd.of(h3, h3, 0.1, 1).predict();
        assertThatThrownBy(() -> LoopPrediction.compare(p3, a, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("analysis's 2 coordinates, got 3");
    }
}

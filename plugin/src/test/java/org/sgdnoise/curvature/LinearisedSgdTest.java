package org.sgdnoise.curvature;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.sgdnoise.curvature.TestMatrices.maxAbs;
import static org.sgdnoise.curvature.TestMatrices.maxDiff;
import static org.sgdnoise.curvature.TestMatrices.meanOf;
import static org.sgdnoise.curvature.TestMatrices.position;
import static org.sgdnoise.curvature.TestMatrices.randomCovariance;
import static org.sgdnoise.curvature.TestMatrices.randomRotation;
import static org.sgdnoise.curvature.TestMatrices.residual;
import static org.sgdnoise.curvature.TestMatrices.scaled;
import static org.sgdnoise.curvature.TestMatrices.trace;
import static org.sgdnoise.curvature.TestMatrices.uniform;
import static org.sgdnoise.curvature.TestMatrices.withSpectrum;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sgdnoise.trajectory.LoopAnalysis;
import org.sgdnoise.trajectory.LoopStatistics;
import org.sgdnoise.trajectory.LoopVerdict;

/** The linearised predictor against its equations, closed forms, and direct simulations of the process. */
class LinearisedSgdTest {

    /** Relative Frobenius residual of the Lyapunov equations. */
    static final double LYAPUNOV_RESIDUAL = 1e-12;

    /** Half-width of a Monte-Carlo interval, in batch-means standard errors. */
    static final double Z = 4;

    /** Predicted and batch-means standard deviations of Â after a block must agree to this fraction. */
    static final double SD_RELATIVE = 0.2;

    /**
     * 400 blocks of 1,000 steps: the blocks' sample sd is then within about ±3.5% (one standard error) of the
     * truth, so the 20% band is over 5 standard errors, and a block spans over 50 relaxation times of every
     * process below, so the 1/√n law's O(τ_c/n) neglect stays near 1%.
     */
    static final int BLOCKS = 400;

    static final int BLOCK_STEPS = 1_000;
    static final int BURN_IN = 5_000;

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5})
    void lyapunovEquationsHoldToRounding(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int r = 2 + rng.nextInt(5);
        double[][] h = withSpectrum(randomRotation(r, rng), uniform(r, 0.05, 1.5, rng));
        double[][] d = randomCovariance(r, rng);
        LinearisedSgd plain = new LinearisedSgd(h, d, 1.2, 4, 0.01, 0, LinearisedSgd.WITH_REPLACEMENT);
        double eta = plain.learningRate();
        double c = plain.noiseScale();
        double[][] m = new double[r][r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                m[i][j] = (i == j ? 1 : 0) - eta * (h[i][j] + (i == j ? 0.01 : 0));
            }
        }
        CirculationPrediction p = plain.predict();
        double[][] q = scaled(d, eta * eta * c);
        assertThat(residual(p.covariance(), m, q)).isLessThan(LYAPUNOV_RESIDUAL);
        // C₁ = MΣ.
        assertThat(maxDiff(p.lag1Covariance(), Dense.times(m, p.covariance())))
                .isLessThan(1e-13 * Dense.frobenius(p.covariance()));

        // Heavy ball: the 2r-dimensional state (x, v), T = [[I − ηH', μI], [−ηH', μI]], noise −η(ξ, ξ).
        double mu = 0.3 + 0.6 * rng.nextDouble();
        CirculationPrediction pm = plain.withMomentum(mu).predict();
        double[][] t = new double[2 * r][2 * r];
        double[][] qz = new double[2 * r][2 * r];
        for (int i = 0; i < r; i++) {
            t[i][r + i] = mu;
            t[r + i][r + i] = mu;
            for (int j = 0; j < r; j++) {
                t[i][j] = m[i][j];
                t[r + i][j] = m[i][j] - (i == j ? 1 : 0);
                for (int a = 0; a < 2; a++) {
                    for (int b = 0; b < 2; b++) {
                        qz[a * r + i][b * r + j] = q[i][j];
                    }
                }
            }
        }
        assertThat(pm.stateCovariance()).hasDimensions(2 * r, 2 * r);
        assertThat(residual(pm.stateCovariance(), t, qz)).isLessThan(LYAPUNOV_RESIDUAL);
        double[][] tSigma = Dense.times(t, pm.stateCovariance());
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                assertThat(pm.covariance()[i][j]).isEqualTo(pm.stateCovariance()[i][j], within(1e-15));
                assertThat(pm.lag1Covariance()[i][j]).isCloseTo(tSigma[i][j], within(1e-13));
            }
        }
    }

    @Test
    void oneDimensionalCovarianceIsTheClosedForm() {
        double eta = 0.3;
        double h = 2.5;
        double d = 0.7;
        int b = 8;
        double expected = eta * eta * d / (b * (1 - (1 - eta * h) * (1 - eta * h)));
        CirculationPrediction p = LinearisedSgd.of(new double[][] {{h}}, new double[][] {{d}}, eta, b)
                .predict();
        assertThat(p.covariance()[0][0]).isCloseTo(expected, within(1e-15 * expected));
        assertThat(p.lag1Covariance()[0][0]).isCloseTo((1 - eta * h) * expected, within(1e-15 * expected));
        assertThat(p.planes()).isEmpty();
        assertThat(p.leadingPlane()).isNull();
        assertThat(p.stepsForSnr4()).isInfinite();
        // Without replacement from N = 100: the noise is scaled by (N − b)/(N − 1) (theory.md §1, §6).
        CirculationPrediction w = LinearisedSgd.of(new double[][] {{h}}, new double[][] {{d}}, eta, b)
                .withoutReplacement(100)
                .predict();
        assertThat(w.covariance()[0][0]).isCloseTo(expected * 92 / 99, within(1e-15 * expected));
        assertThat(w.noiseScale()).isEqualTo(92.0 / (99 * 8));
    }

    /** Diagonal H and D with different entries: D is strongly anisotropic, yet A = 0 and the detector agrees. */
    @Test
    void commutingHessianAndNoisePredictNoLoop() {
        double[][] h = {{1.2, 0, 0}, {0, 0.3, 0}, {0, 0, 0.6}};
        double[][] d = {{0.2, 0, 0}, {0, 3.0, 0}, {0, 0, 1.0}};
        for (double mu : new double[] {0, 0.7}) {
            LinearisedSgd model = LinearisedSgd.of(h, d, 0.5, 2).withMomentum(mu);
            CirculationPrediction p = model.predict();
            assertThat(p.commutator()).isZero();
            assertThat(maxAbs(p.areaRate())).isLessThanOrEqualTo(1e-15 * p.covariance()[1][1]);
            assertThat(p.loopPredicted()).isFalse();
            assertThat(p.stepsForSnr4()).isInfinite();
        }
        // The same in a rotated basis: commuting but not diagonal.
        SplittableRandom rng = new SplittableRandom(7);
        double[][] rot = randomRotation(3, rng);
        CirculationPrediction rotated = LinearisedSgd.of(
                        withSpectrum(rot, new double[] {1.2, 0.3, 0.6}),
                        withSpectrum(rot, new double[] {0.2, 3.0, 1.0}),
                        0.5,
                        2)
                .predict();
        assertThat(rotated.commutator()).isLessThan(1e-15);
        assertThat(rotated.maxRate()).isLessThan(1e-15 * rotated.covariance()[0][0]);
        assertThat(rotated.loopPredicted()).isFalse();

        LinearisedSgd model =
                LinearisedSgd.of(new double[][] {{1.2, 0}, {0, 0.3}}, new double[][] {{0.2, 0}, {0, 3}}, 0.5, 2);
        SgdSimulator.Blocks sim = SgdSimulator.run(model, 32, 5_000, BURN_IN, 11, true);
        LoopAnalysis a = LoopStatistics.defaults().analyze(sim.trajectory(), 1.0);
        assertThat(a.verdict()).isEqualTo(LoopVerdict.NO_LOOP);
    }

    @Test
    void twoDimensionalNonCommutingMatchesSimulation() {
        LinearisedSgd model = LinearisedSgd.of(
                new double[][] {{1.0, 0.4}, {0.4, 0.3}}, new double[][] {{0.5, -0.3}, {-0.3, 2.0}}, 0.8, 1);
        CirculationPrediction p = model.predict();
        assertThat(p.commutator()).isGreaterThan(0.1);
        assertThat(p.loopPredicted()).isTrue();
        SgdSimulator.Blocks sim = SgdSimulator.run(model, BLOCKS, BLOCK_STEPS, BURN_IN, 21, true);
        assertMatches(p, sim);
        // The detector on the same trajectory: LOOP, in agreement with the prediction.
        LoopAnalysis a = LoopStatistics.defaults().analyze(sim.trajectory(), 1.0);
        assertThat(a.verdict()).isEqualTo(LoopVerdict.LOOP);
        double sdAll = p.plane(0, 1).sd(BLOCKS * (long) BLOCK_STEPS);
        assertThat(a.areaRate()[0][1]).isCloseTo(p.areaRate()[0][1], within(Z * sdAll));
    }

    @Test
    void fourDimensionalNonCommutingMatchesSimulation() {
        SplittableRandom rng = new SplittableRandom(42);
        double[][] h = withSpectrum(randomRotation(4, rng), new double[] {1.5, 0.9, 0.5, 0.2});
        LinearisedSgd model =
                LinearisedSgd.of(h, randomCovariance(4, rng), 0.6, 2).withWeightDecay(0.05);
        CirculationPrediction p = model.predict();
        assertThat(p.loopPredicted()).isTrue();
        assertMatches(p, SgdSimulator.run(model, BLOCKS, BLOCK_STEPS, BURN_IN, 22, false));
    }

    @Test
    void momentumMatchesItsSimulation() {
        SplittableRandom rng = new SplittableRandom(43);
        double[][] h = withSpectrum(randomRotation(3, rng), new double[] {1.5, 0.6, 0.2});
        LinearisedSgd model =
                LinearisedSgd.of(h, randomCovariance(3, rng), 0.1, 1).withMomentum(0.8);
        CirculationPrediction p = model.predict();
        SgdSimulator.Blocks sim = SgdSimulator.run(model, BLOCKS, BLOCK_STEPS, BURN_IN, 23, false);
        assertMatches(p, sim);
        // Periods of the planes' lag-1 fits, predicted against the same fit of the measured moments. The
        // measured period is biased low (noise adds to the squared imaginary part of the fit's eigenvalue),
        // by 2–6% here over seeds, hence the 10% band.
        double[][] sigma = meanOf(sim.sigma());
        double[][] lag1 = meanOf(sim.lag1());
        int finite = 0;
        for (PlanePrediction plane : concat(p)) {
            double measured = Planes.period(sigma, lag1, plane.u(), plane.v());
            if (Double.isFinite(plane.period())) {
                finite++;
                assertThat(measured).isCloseTo(plane.period(), within(0.1 * plane.period()));
            }
        }
        assertThat(finite).isGreaterThanOrEqualTo(2);
        // Every mode of this heavy ball is underdamped ((1 + μ − ηh)² < 4μ): z = √μ·e^{±iθ}, period 2π/θ.
        for (int k = 0; k < 3; k++) {
            double hk = new double[] {1.5, 0.6, 0.2}[k];
            double theta = Math.acos((1.8 - 0.1 * hk) / (2 * Math.sqrt(0.8)));
            assertThat(p.modePeriods()[k]).isCloseTo(2 * Math.PI / theta, within(1e-9 * 2 * Math.PI / theta));
        }
    }

    /** η·h₁ = 1.2: the discrete Σ is far from the continuous HΣ + ΣH = ηD/b, and the simulation sides with it. */
    @Test
    void discreteSolutionMatchesSimulationWhereTheContinuousOneFails() {
        double[][] rot = randomRotation(2, new SplittableRandom(5));
        double[] curvatures = {1.2, 0.3};
        double[][] h = withSpectrum(rot, curvatures);
        double[][] d = {{1.0, 0.5}, {0.5, 0.4}};
        LinearisedSgd model = LinearisedSgd.of(h, d, 1.0, 1);
        CirculationPrediction p = model.predict();
        SgdSimulator.Blocks sim = SgdSimulator.run(model, BLOCKS, BLOCK_STEPS, BURN_IN, 24, false);
        assertMatches(p, sim);
        // Continuous OU: in H's eigenbasis Σ̃_kl = η c D̃_kl / (h_k + h_l).
        double[][] dt = Dense.congruenceT(rot, d);
        double[][] st = new double[2][2];
        for (int k = 0; k < 2; k++) {
            for (int l = 0; l < 2; l++) {
                st[k][l] = model.learningRate() * model.noiseScale() * dt[k][l] / (curvatures[k] + curvatures[l]);
            }
        }
        double[][] continuous = Dense.congruence(rot, st);
        double worst = 0;
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 2; j++) {
                double[] e = SgdSimulator.entry(sim.sigma(), i, j);
                worst = Math.max(worst, Math.abs(SgdSimulator.mean(e) - continuous[i][j]) / SgdSimulator.stderr(e));
            }
        }
        assertThat(worst).as("continuous Σ off by this many standard errors").isGreaterThan(20);
    }

    /** The closed-form long-run variance against Isserlis' γ(τ) summed lag by lag with explicit powers. */
    @ParameterizedTest
    @ValueSource(doubles = {0, 0.6})
    void longRunVarianceEqualsTheLagByLagSum(double mu) {
        SplittableRandom rng = new SplittableRandom(3);
        double[][] h = withSpectrum(randomRotation(3, rng), new double[] {1.3, 0.7, 0.25});
        LinearisedSgd model =
                LinearisedSgd.of(h, randomCovariance(3, rng), 0.9, 1).withMomentum(mu);
        CirculationPrediction p = model.predict();
        int r = 3;
        int s = mu == 0 ? r : 2 * r;
        double[][] t = new double[s][s];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                double mij = (i == j ? 1 : 0) - 0.9 * h[i][j];
                t[i][j] = mij;
                if (mu != 0) {
                    t[r + i][j] = mij - (i == j ? 1 : 0);
                }
            }
            if (mu != 0) {
                t[i][r + i] = mu;
                t[r + i][r + i] = mu;
            }
        }
        for (PlanePrediction plane : concat(p)) {
            double[][] e = new double[r][r];
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < r; j++) {
                    e[i][j] = plane.u()[i] * plane.v()[j] - plane.v()[i] * plane.u()[j];
                }
            }
            // C(τ) = P T^τ Σ_z Pᵀ; γ(τ) = −tr(E C(τ)ᵀ E C(τ)) + tr(E C(τ−1)ᵀ E C(τ+1)), C(−1) = C(1)ᵀ.
            double[][] power = p.stateCovariance();
            double[][] prev = Dense.transpose(position(Dense.times(t, power), r));
            double sum = 0;
            double[][] cur = position(power, r);
            for (int tau = 0; tau < 4_000; tau++) {
                double[][] nextPower = Dense.times(t, power);
                double[][] next = position(nextPower, r);
                double gamma = -trace(Dense.times(Dense.times(e, Dense.transpose(cur)), Dense.times(e, cur)))
                        + trace(Dense.times(Dense.times(e, Dense.transpose(prev)), Dense.times(e, next)));
                sum += tau == 0 ? gamma : 2 * gamma;
                prev = cur;
                cur = next;
                power = nextPower;
            }
            double expected = 0.5 * Math.sqrt(sum);
            assertThat(plane.sdScale()).isCloseTo(expected, within(1e-9 * expected));
        }
    }

    /** Σ, C₁, every A_ij and the leading plane's area within Z standard errors; sd(Â) within 20%. */
    /**
     * The process observed every k steps has the same stationary covariance and, as its lag-1 covariance, the
     * k-step covariance M^kΣ (M^k by repeated multiplication, independent of the eigenbasis route); k = 1 gives
     * the model's own moments and area rates.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 3, 10})
    void observedEveryKHasTheKStepMoments(int k) {
        SplittableRandom rng = new SplittableRandom(44);
        double[][] h = withSpectrum(randomRotation(3, rng), new double[] {1.5, 0.7, 0.2});
        LinearisedSgd model =
                LinearisedSgd.of(h, randomCovariance(3, rng), 0.6, 2).withWeightDecay(0.05);
        CirculationPrediction p = model.predict();
        CirculationPrediction q = model.observedEvery(k).predict();
        double[][] m = new double[3][3];
        double[][] mk = new double[3][3];
        for (int i = 0; i < 3; i++) {
            mk[i][i] = 1;
            for (int j = 0; j < 3; j++) {
                m[i][j] = (i == j ? 1 : 0) - 0.6 * (h[i][j] + (i == j ? 0.05 : 0));
            }
        }
        for (int s = 0; s < k; s++) {
            mk = Dense.times(m, mk);
        }
        double[][] lagK = Dense.times(mk, p.covariance());
        assertThat(maxDiff(q.covariance(), p.covariance())).isLessThan(1e-10 * maxAbs(p.covariance()));
        assertThat(maxDiff(q.lag1Covariance(), lagK)).isLessThan(1e-10 * maxAbs(p.covariance()));
        if (k == 1) {
            assertThat(maxDiff(q.areaRate(), p.areaRate())).isLessThan(1e-10 * maxAbs(p.covariance()));
            assertThat(q.stepsForSnr4()).isCloseTo(p.stepsForSnr4(), within(1e-8 * p.stepsForSnr4()));
        }
    }

    /** A plane given by its vectors agrees with the coordinate planes and the leading plane, and with uᵀAv. */
    @Test
    void anyPlaneAgreesWithTheCoordinateAndLeadingPlanes() {
        SplittableRandom rng = new SplittableRandom(45);
        double[][] h = withSpectrum(randomRotation(4, rng), new double[] {1.5, 0.9, 0.5, 0.2});
        CirculationPrediction p =
                LinearisedSgd.of(h, randomCovariance(4, rng), 0.6, 2).predict();
        PlanePrediction byIndex = p.plane(1, 3);
        PlanePrediction byVectors = p.plane(Dense.unit(4, 1), Dense.unit(4, 3));
        assertThat(byVectors.areaRate()).isCloseTo(byIndex.areaRate(), within(1e-14));
        assertThat(byVectors.sdScale()).isCloseTo(byIndex.sdScale(), within(1e-12 * byIndex.sdScale()));
        PlanePrediction lead = p.plane(p.leadingPlane().u(), p.leadingPlane().v());
        assertThat(lead.areaRate()).isCloseTo(p.maxRate(), within(1e-14));
        assertThat(lead.sdScale())
                .isCloseTo(
                        p.leadingPlane().sdScale(),
                        within(1e-12 * p.leadingPlane().sdScale()));
        double r = Math.sqrt(0.5);
        double[] u = {r, r, 0, 0};
        double[] v = {0, 0, r, -r};
        assertThat(p.plane(u, v).areaRate()).isCloseTo(Dense.bilinear(u, p.areaRate(), v), within(1e-15));
    }

    static void assertMatches(CirculationPrediction p, SgdSimulator.Blocks sim) {
        int r = p.dimension();
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                assertWithin("sigma", i, j, SgdSimulator.entry(sim.sigma(), i, j), p.covariance()[i][j]);
                assertWithin("lag1", i, j, SgdSimulator.entry(sim.lag1(), i, j), p.lag1Covariance()[i][j]);
            }
        }
        for (PlanePrediction plane : concat(p)) {
            double[] blocks = sim.planeArea(plane.u(), plane.v());
            assertWithin("area", plane.i(), plane.j(), blocks, plane.areaRate());
            double measuredSd = SgdSimulator.sd(blocks);
            double predictedSd = plane.sd(BLOCK_STEPS);
            assertThat(measuredSd)
                    .as("sd of the area after %d steps in plane (%d, %d)", BLOCK_STEPS, plane.i(), plane.j())
                    .isCloseTo(predictedSd, within(SD_RELATIVE * predictedSd));
        }
    }

    private static void assertWithin(String what, int i, int j, double[] blocks, double predicted) {
        double stderr = SgdSimulator.stderr(blocks);
        assertThat(SgdSimulator.mean(blocks))
                .as("%s(%d, %d): predicted %s, stderr %s", what, i, j, predicted, stderr)
                .isCloseTo(predicted, within(Z * stderr));
    }

    static List<PlanePrediction> concat(CirculationPrediction p) {
        List<PlanePrediction> all = new ArrayList<>(p.planes());
        all.add(p.leadingPlane());
        return all;
    }
}

package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ch.qos.logback.classic.Level;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.curvature.CirculationPrediction;
import org.sgdnoise.curvature.HessianVectorProducts;
import org.sgdnoise.curvature.Lanczos;
import org.sgdnoise.curvature.LanczosResult;
import org.sgdnoise.curvature.LinearisedSgd;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.testing.LogCapture;
import org.sgdnoise.testing.TestNetworks;
import org.sgdnoise.trajectory.LoopStatistics;
import org.sgdnoise.trajectory.TrajectoryRow;

/** The TrajectoryListener's fixed (user's) and Hessian bases. */
class TrajectoryBasisTest {

    @TempDir
    Path dir;

    private static final DataSet DATA = TestNetworks.vectors(64, 41, DataType.FLOAT);

    private static MultiLayerNetwork train(TrajectoryListener t, int epochs) {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        if (t != null) {
            net.addListeners(t);
        }
        net.fit(new ListDataSetIterator<>(DATA.asList(), 16), epochs);
        return net;
    }

    /** m orthonormal rows of length d (Gram–Schmidt of seeded Gaussians). */
    static double[][] orthonormal(int m, int d, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[][] v = new double[m][d];
        for (int i = 0; i < m; i++) {
            for (int c = 0; c < d; c++) {
                v[i][c] = r.nextDouble() - 0.5;
            }
            for (int j = 0; j < i; j++) {
                double dot = 0;
                for (int c = 0; c < d; c++) {
                    dot += v[i][c] * v[j][c];
                }
                for (int c = 0; c < d; c++) {
                    v[i][c] -= dot * v[j][c];
                }
            }
            double n = 0;
            for (int c = 0; c < d; c++) {
                n += v[i][c] * v[i][c];
            }
            for (int c = 0; c < d; c++) {
                v[i][c] /= Math.sqrt(n);
            }
        }
        return v;
    }

    private static double[] project(double[][] basis, double[] theta) {
        double[] y = new double[basis.length];
        for (int i = 0; i < basis.length; i++) {
            for (int c = 0; c < theta.length; c++) {
                y[i] += basis[i][c] * theta[c];
            }
        }
        return y;
    }

    @Test
    void aFixedBasisFromAnNpyFileProjectsTheParametersAndLeavesTrainingUntouched() throws Exception {
        int d = (int) TestNetworks.mlp(DataType.FLOAT).numParams();
        double[][] basis = orthonormal(3, d, 7);
        Path npy = dir.resolve("basis.npy");
        Nd4j.writeAsNumpy(Nd4j.createFromArray(basis), npy.toFile());
        TrajectoryListener t = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .fixedBasis(npy)
                .failFast(true)
                .build();
        MultiLayerNetwork with = train(t, 3);
        assertThat(with.params().toFloatVector())
                .isEqualTo(train(null, 3).params().toFloatVector());
        assertThat(t.recordedSteps()).isEqualTo(12);
        assertThat(t.segment()).isZero();
        TrajectoryRow last = t.window().get(t.window().size() - 1);
        double[] theta = with.params().castTo(DataType.DOUBLE).toDoubleVector();
        assertThat(last.y()).containsExactly(project(basis, theta), within(1e-9));
    }

    @Test
    void aFixedBasisIsCheckedWhenGivenAndAgainstTheModel() {
        double[][] skew = orthonormal(3, 20, 1);
        skew[2][0] += 0.01;
        assertThatThrownBy(() -> new TrajectoryListener.Builder().fixedBasis(skew))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("fixedBasis rows must be orthonormal: row 2 · row");
        assertThatThrownBy(() -> new TrajectoryListener.Builder().fixedBasis(dir.resolve("missing.npy")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot read");
        assertThatThrownBy(() -> new TrajectoryListener.Builder()
                        .fixedBasis(orthonormal(3, 20, 1))
                        .dimensions(4)
                        .build())
                .hasMessageContaining("dimensions must be the fixed basis's 3 rows, got 4");
        TrajectoryListener wrongLength = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .fixedBasis(orthonormal(3, 20, 1))
                .failFast(true)
                .build();
        long d = TestNetworks.mlp(DataType.FLOAT).numParams();
        assertThatThrownBy(() -> train(wrongLength, 1))
                .hasStackTraceContaining("the fixed basis has rows of 20 values, the model has d = " + d);
    }

    @Test
    void aHessianBasisIsTheTopEigenvectorsAtTheRecordAndIsRetakenOnSchedule() {
        DataSet examples = TestNetworks.vectors(32, 5, DataType.FLOAT);
        TrajectoryListener t = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .dimensions(3)
                .hessianBasis(examples, 5)
                .failFast(true)
                .build();
        MultiLayerNetwork with;
        try (LogCapture logs = new LogCapture(TrajectoryListener.class)) {
            with = train(t, 3); // 12 iterations: bases at records 0, 5 and 10
            assertThat(logs.events(Level.INFO))
                    .extracting(e -> e.getFormattedMessage())
                    .filteredOn(m -> m.contains("took the top 3 Hessian eigenvectors over 32 examples"))
                    .hasSize(3);
        }
        assertThat(with.params().toFloatVector())
                .isEqualTo(train(null, 3).params().toFloatVector());
        assertThat(t.segment()).isEqualTo(2);
        // The last basis was taken at iteration 10, from θ after it; the window's rows 10 and 11 use it. Rebuild
        // it independently at θ after iteration 10 (a network trained 10 + 1 iterations) with the same seed.
        MultiLayerNetwork at10 = TestNetworks.mlp(DataType.FLOAT);
        var it = new ListDataSetIterator<>(DATA.asList(), 16);
        at10.fit(it, 2); // iterations 0..7
        it.reset();
        for (int i = 0; i < 3; i++) {
            at10.fit(it.next()); // iterations 8, 9, 10
        }
        LanczosResult top = Lanczos.largest(new HessianVectorProducts().at(at10, ProbeBatch.of(examples)), 3, 12345L);
        TrajectoryRow row10 = t.window().get(0);
        assertThat(row10.iteration()).isEqualTo(10);
        double[] theta = at10.params().castTo(DataType.DOUBLE).toDoubleVector();
        assertThat(row10.y()).containsExactly(project(top.vectors(), theta), within(1e-6));
    }

    /** A 2-D linearised model predicted to circulate (it needs a few hundred steps for SNR 4). */
    private static final LinearisedSgd MODEL = LinearisedSgd.of(
            new double[][] {{1.0, 0.4}, {0.4, 0.3}}, new double[][] {{0.5, -0.3}, {-0.3, 2.0}}, 0.8, 1);

    @Test
    void aPredictionIsPutBesideTheMeasuredRatesAndSaysHowManyMoreStepsItNeeds() {
        int d = (int) TestNetworks.mlp(DataType.FLOAT).numParams();
        CirculationPrediction p = MODEL.predict();
        RecordingSink sink = new RecordingSink();
        TrajectoryListener t = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .fixedBasis(orthonormal(2, d, 9))
                .prediction(p)
                .detector(new LoopStatistics(0.01, 4, 99, 2, 1.5, 1)) // a plane from 40 rows, no verdict power
                .sink(sink)
                .failFast(true)
                .build();
        String line;
        try (LogCapture logs = new LogCapture(TrajectoryListener.class)) {
            train(t, 10); // 40 iterations, far below the first early analysis: the final one at close()
            t.close();
            line = logs.events(Level.INFO).get(0).getFormattedMessage();
        }
        assertThat(sink.records).hasSize(1);
        var r = sink.records.get(0);
        assertThat(r.get("verdict")).isNotEqualTo("LOOP");
        assertThat((double) r.get("predicted_max_rate")).isEqualTo(p.maxRate());
        assertThat((double) r.get("predicted_steps_for_snr4")).isEqualTo(p.stepsForSnr4());
        double more = p.stepsForSnr4() - 39; // the window spans 39 iterations
        assertThat((double) r.get("more_steps_for_snr4")).isEqualTo(more);
        // In the measured plane, in the prediction's coordinates (the fixed basis's).
        double[] u = (double[]) r.get("plane_u");
        double[] v = (double[]) r.get("plane_v");
        assertThat((double) r.get("predicted_rate_in_plane"))
                .isEqualTo(p.plane(u, v).areaRate());
        assertThat((double) r.get("predicted_sd_in_plane"))
                .isEqualTo(p.plane(u, v).sd(39));
        assertThat(line).contains("the prediction needs ~" + (long) Math.ceil(more) + " more steps for SNR 4");
        // The keys sit beside the measured ones, after the plane.
        assertThat(r.fields().keySet())
                .containsSubsequence(
                        "max_rate",
                        "period",
                        "plane_u",
                        "plane_v",
                        "predicted_max_rate",
                        "predicted_rate_in_plane",
                        "predicted_sd_in_plane",
                        "predicted_steps_for_snr4",
                        "more_steps_for_snr4",
                        "diffusion_exponent",
                        "correlation_time",
                        "subspace_drift",
                        "subspace_stationary",
                        "stationarity_ratio");
    }

    @Test
    void aPredictionIsCheckedAgainstTheBasisAtBuild() {
        CirculationPrediction p = MODEL.predict();
        assertThatThrownBy(() -> new TrajectoryListener.Builder().prediction(p).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("prediction needs a fixed or Hessian basis")
                .hasMessageContaining("got a random basis");
        assertThatThrownBy(() -> new TrajectoryListener.Builder()
                        .fixedBasis(orthonormal(3, 20, 1))
                        .prediction(p)
                        .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("prediction must have the basis's dimension m = 3, got 2");
        assertThatThrownBy(() -> new TrajectoryListener.Builder()
                        .hessianBasis(DATA, 0)
                        .prediction(p)
                        .build())
                .hasMessageContaining("m = 16, got 2");
        assertThatThrownBy(() -> new TrajectoryListener.Builder()
                        .hessianBasis(DATA, 0)
                        .dimensions(2)
                        .recordEvery(2)
                        .prediction(MODEL.withMomentum(0.5).predict())
                        .build())
                .hasMessageContaining("a prediction with momentum needs recordEvery 1");
        assertThat(new TrajectoryListener.Builder()
                        .hessianBasis(DATA, 0)
                        .dimensions(2)
                        .recordEvery(2)
                        .prediction(p)
                        .build())
                .isNotNull();
    }
}

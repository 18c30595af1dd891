package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Sgd;
import org.sgdnoise.testing.LogCapture;
import org.sgdnoise.testing.TestNetworks;
import org.sgdnoise.trajectory.LoopStatistics;
import org.sgdnoise.trajectory.TrajectoryRow;

class TrajectoryListenerTest {

    @TempDir
    Path dir;

    private static ListDataSetIterator<DataSet> data() {
        return new ListDataSetIterator<>(
                TestNetworks.vectors(64, 41, DataType.FLOAT).asList(), 16);
    }

    private static float[] train(TrajectoryListener t, DiffusionListener d, int epochs) {
        MultiLayerNetwork net = TestNetworks.dropoutMlp(DataType.FLOAT);
        if (d != null) {
            net.addListeners(d);
        }
        if (t != null) {
            net.addListeners(t);
        }
        net.fit(data(), epochs);
        return net.params().toFloatVector();
    }

    @Test
    void trainingIsBitIdenticalWithBothListeners() {
        float[] without = train(null, null, 10);
        DiffusionListener d = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(3)
                .gradientsPerProbe(6)
                .topR(4)
                .failFast(true)
                .build();
        TrajectoryListener t = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .diffusionBasis(d, 12)
                .capacity(30)
                .analyzeEvery(10)
                .detector(new LoopStatistics(0.01, 4, 99, 2, 1.5, 1))
                .failFast(true)
                .build();
        float[] with = train(t, d, 10);
        assertThat(with).isEqualTo(without);
        assertThat(t.recordedSteps()).isEqualTo(40);
        assertThat(t.lastAnalysis()).isNotNull();
        assertThat(t.segment()).isPositive(); // the diffusion basis was re-taken, starting new segments
        float[] withRandom = train(
                new TrajectoryListener.Builder()
                        .overheadBudget(0)
                        .dimensions(5)
                        .failFast(true)
                        .build(),
                null,
                10);
        assertThat(withRandom).isEqualTo(without);
    }

    @Test
    void pcaBasisStartsAfterAWindowAndFollowsTheTrajectory() {
        float[] without = train(null, null, 10);
        TrajectoryListener t = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .dimensions(3)
                .pcaBasis(10)
                .capacity(100)
                .analyzeEvery(1000)
                .failFast(true)
                .build();
        float[] with = train(t, null, 10); // 40 iterations
        assertThat(with).isEqualTo(without);
        // No basis during the first window: the 10th step brings the first basis and is the first recorded.
        assertThat(t.recordedSteps()).isEqualTo(31);
        // Re-taken every 10 recorded steps: segments 0 (steps 10-19), 1 (20-29), 2 (30-39), 3 (40).
        assertThat(t.segment()).isEqualTo(3);
        assertThat(t.window()).hasSize(1);
        assertThat(t.failureCount()).isZero();
    }

    @Test
    void ringBufferIsBoundedAndTheFileKeepsEverything() throws Exception {
        Path file = dir.resolve("traj/trajectory.csv");
        RecordingSink sink = new RecordingSink();
        TrajectoryListener t = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .dimensions(4)
                .capacity(25)
                .analyzeEvery(20)
                .detector(new LoopStatistics(0.01, 4, 99, 2, 1.5, 1))
                .trajectoryFile(file)
                .sink(sink)
                .build();
        try (LogCapture logs = new LogCapture(TrajectoryListener.class)) {
            train(t, null, 20); // 80 iterations
            assertThat(logs.events(Level.INFO)).hasSize(4);
            assertThat(logs.events(Level.INFO).get(0).getFormattedMessage())
                    .startsWith("iteration 19 epoch 4 loss ")
                    .contains("trajectory: ");
        }
        t.close();
        assertThat(t.recordedSteps()).isEqualTo(80);
        List<TrajectoryRow> window = t.window();
        assertThat(window).hasSize(25);
        List<String> lines = Files.readAllLines(file);
        assertThat(lines).hasSize(81);
        assertThat(lines.get(0))
                .isEqualTo("iteration,epoch,segment,loss,distance,step,theta_dot_update,update_sq,y0,y1,y2,y3");
        // The file's last row is the ring's newest row.
        String[] last = lines.get(80).split(",");
        assertThat(Double.parseDouble(last[8])).isEqualTo(window.get(24).y()[0]);
        assertThat(Long.parseLong(last[0])).isEqualTo(79);
        assertThat(sink.records).hasSize(4);
        assertThat((double[]) sink.records.get(3).get("plane_u")).hasSize(4);
        assertThat(sink.records.get(3).get("subspace_stationary")).isInstanceOf(Boolean.class);
        assertThat(sink.records.get(3).get("subspace_drift")).isInstanceOf(Double.class);
        // Projections use an orthonormal basis: |y| ≤ |θ| (distance from the origin of the projection).
        assertThat(Math.abs(window.get(24).y()[0])).isLessThan(1e3);
    }

    @Test
    void plainSgdFarFromTheStationarityRelationIsNotStationary() {
        // From initialisation, with lr 0.5 and no weight decay, the weights move outwards: 2⟨θ·u⟩/⟨|u|²⟩ is far
        // from 1, so no loop verdict may be given.
        MultiLayerNetwork net = TestNetworks.mlp(5, 8, new Sgd(0.5));
        RecordingSink sink = new RecordingSink();
        TrajectoryListener t = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .dimensions(4)
                .capacity(400)
                .analyzeEvery(400)
                .detector(new LoopStatistics(0.01, 8, 99, 10, Double.NaN, 1))
                .sink(sink)
                .build();
        net.addListeners(t);
        net.fit(data(), 100); // 400 iterations
        assertThat(sink.records).hasSize(1);
        var r = sink.records.get(0);
        assertThat(r.get("stationarity_gate_applied")).isEqualTo(true);
        double ratio = ((Number) r.get("stationarity_ratio")).doubleValue();
        assertThat(Math.abs(ratio - 1)).isGreaterThan(0.5);
        assertThat(r.get("verdict")).isEqualTo("NOT_STATIONARY");
    }

    @Test
    void anUnwritableFileDoesNotStopTraining() throws Exception {
        Path blocker = Files.createFile(dir.resolve("plain"));
        TrajectoryListener t = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .dimensions(3)
                .trajectoryFile(blocker.resolve("x.csv"))
                .build();
        float[] with = train(t, null, 2);
        assertThat(with).isEqualTo(train(null, null, 2));
        assertThat(t.failureCount()).isEqualTo(1); // the file is given up after the first failure
        assertThat(t.recordedSteps()).isEqualTo(8);
    }

    @Test
    void aShortRunGetsEarlyAnalysesAndAFinalOneAtClose() {
        // 440 iterations, far below the default analyzeEvery of 2,000: early analyses after 100, 200 and 400
        // iterations, and the final one at close() of the 40 recorded since.
        int[][] expected = {{99, 199, 399, 439}, {199, 399, 439}, {439}};
        for (int variant = 0; variant < 3; variant++) {
            RecordingSink sink = new RecordingSink();
            TrajectoryListener.Builder b = new TrajectoryListener.Builder()
                    .overheadBudget(0)
                    .dimensions(4)
                    .sink(sink);
            if (variant == 1) {
                b.analyzeEvery(200); // set by the user: its own schedule, no early analyses
            } else if (variant == 2) {
                b.earlyAnalyses(false);
            }
            TrajectoryListener t = b.build();
            try (LogCapture logs = new LogCapture(TrajectoryListener.class)) {
                train(t, null, 110);
                t.close();
                assertThat(logs.events(Level.INFO)
                                .get(logs.events(Level.INFO).size() - 1)
                                .getFormattedMessage())
                        .startsWith("iteration 439 epoch 109 ")
                        .endsWith("| final analysis at close()");
            }
            assertThat(sink.records).extracting(r -> r.get("iteration")).containsExactly(box(expected[variant]));
            assertThat(sink.records).extracting(r -> r.get("final")).last().isEqualTo(true);
            assertThat(sink.records.subList(0, sink.records.size() - 1))
                    .extracting(r -> r.get("final"))
                    .doesNotContain(true);
            assertThat(sink.closed).isTrue();
            t.close(); // a second close analyses nothing new
            assertThat(sink.records).hasSize(expected[variant].length);
        }
    }

    private static Object[] box(int[] v) {
        Object[] o = new Object[v.length];
        for (int i = 0; i < v.length; i++) {
            o[i] = v[i];
        }
        return o;
    }
}

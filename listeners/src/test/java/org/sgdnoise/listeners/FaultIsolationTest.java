package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.output.JsonlSink;
import org.sgdnoise.testing.LogCapture;
import org.sgdnoise.testing.TestNetworks;

/**
 * Faults inside the listeners never reach fit() (unless fail-fast): failing sinks of every kind, NaN or
 * infinite losses and gradients, a probe over its memory budget. Training completes with the same
 * parameters as without the listeners.
 */
class FaultIsolationTest {

    @TempDir
    Path dir;

    private static ListDataSetIterator<DataSet> data() {
        return new ListDataSetIterator<>(
                TestNetworks.vectors(96, 7, DataType.FLOAT).asList(), 16);
    }

    private static float[] trainWithout() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        net.fit(data(), 1);
        return net.params().toFloatVector();
    }

    /** A disk that fills up: accepts {@code capacity} bytes, then fails every write with ENOSPC's message. */
    static final class FullDisk extends OutputStream {
        private int left;

        FullDisk(int capacity) {
            left = capacity;
        }

        @Override
        public void write(int b) throws IOException {
            if (left-- <= 0) {
                throw new IOException("No space left on device");
            }
        }
    }

    private static final int FULL_AFTER = 8_000;

    @Test
    void sinksThatFailInEveryWayAreCountedWarnedOnceAndTrainingIsUndisturbed() throws Exception {
        Path plainFile = Files.createFile(dir.resolve("plain-file"));
        JsonlSink closed = new JsonlSink(dir.resolve("closed.jsonl"), false);
        closed.close(); // a writer closed under the listener
        RecordingSink good = new RecordingSink();
        DiffusionListener noise = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .jsonlSink(plainFile.resolve("unwritable.jsonl")) // a path under a file
                .sink(JsonlSink.to(new FullDisk(FULL_AFTER), "full disk")) // fills up after a few records
                .sink(closed)
                .sink(good)
                .build();
        TrajectoryListener loops = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .dimensions(3)
                .trajectoryFile(plainFile.resolve("trajectory.csv"))
                .build();
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        net.setListeners(noise, loops);
        try (LogCapture noiseLog = new LogCapture(DiffusionListener.class);
                LogCapture loopsLog = new LogCapture(TrajectoryListener.class)) {
            net.fit(data(), 1);
            assertThat(noiseLog.events(Level.WARN))
                    .as("one warning per failing sink")
                    .hasSize(3)
                    .anySatisfy(e -> assertThat(e.getFormattedMessage()).contains("unwritable.jsonl"))
                    .anySatisfy(e -> assertThat(e.getFormattedMessage())
                            .contains("full disk")
                            .contains("No space left"))
                    .anySatisfy(e -> assertThat(e.getFormattedMessage())
                            .contains("closed.jsonl")
                            .contains("closed"));
            assertThat(loopsLog.events(Level.WARN)).hasSize(1);
        }
        assertThat(net.params().toFloatVector()).isEqualTo(trainWithout());
        assertThat(good.records).hasSize(6);
        int fits = 0; // records that fit on the disk before it is full
        long used = 0;
        for (var r : good.records) {
            used += r.toJson().getBytes(StandardCharsets.UTF_8).length + 1;
            if (used <= FULL_AFTER) {
                fits++;
            }
        }
        assertThat(fits).as("the disk fills up during training").isBetween(1, 5);
        int fullDiskFailures = 6 - fits;
        assertThat(noise.sinkFailureCount()).isEqualTo(6 + fullDiskFailures + 6);
        assertThat(good.records.get(5).get("sink_failures"))
                .isEqualTo(5 + (fullDiskFailures - 1) + 5); // before its own
        assertThat(noise.failureCount()).isZero(); // sink failures are counted apart from probe failures
        assertThat(loops.failureCount())
                .isEqualTo(1); // the file is given up after its first failure; recording goes on
        assertThat(loops.recordedSteps()).isEqualTo(6);
    }

    @Test
    void failFastThrowsTheFirstSinkFailureWithItsCause() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        net.setListeners(new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .sink(JsonlSink.to(new FullDisk(0), "full disk"))
                .failFast(true)
                .build());
        assertThatThrownBy(() -> net.fit(data(), 1))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("full disk")
                .hasMessageContaining("fail-fast")
                .hasRootCauseMessage("No space left on device");
    }

    @Test
    void failFastThrowsAVerdictSinkFailureOnceCountedOnce() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        TrajectoryListener loops = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .dimensions(3)
                .analyzeEvery(2)
                .sink(JsonlSink.to(new FullDisk(0), "full disk"))
                .failFast(true)
                .build();
        net.setListeners(loops);
        assertThatThrownBy(() -> net.fit(data(), 1))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("fail-fast")
                .hasRootCauseMessage("No space left on device")
                .cause()
                .isInstanceOf(IOException.class); // wrapped once
        assertThat(loops.failureCount()).isEqualTo(1);
    }

    @Test
    void aDivergingRunSkipsItsProbesCountsThemAndTrains() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        net.setLearningRate(Double.POSITIVE_INFINITY); // the first update makes the parameters, then the loss, NaN
        RecordingSink sink = new RecordingSink();
        DiffusionListener noise = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .sink(sink)
                .disableAfter(2)
                .build();
        TrajectoryListener loops = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .dimensions(3)
                .analyzeEvery(3)
                .build();
        net.setListeners(noise, loops);
        try (LogCapture logs = new LogCapture(DiffusionListener.class)) {
            net.fit(
                    new ListDataSetIterator<>(
                            TestNetworks.vectors(160, 7, DataType.FLOAT).asList(), 16),
                    1);
            assertThat(logs.events(Level.WARN))
                    .hasSize(1)
                    .allSatisfy(e -> assertThat(e.getFormattedMessage())
                            .contains("probe skipped")
                            .contains("diverging"));
        }
        assertThat(net.getIterationCount()).isEqualTo(10);
        assertThat(noise.skippedNonFiniteCount()).isPositive();
        assertThat(noise.skippedNonFiniteCount() + sink.records.size()).isEqualTo(10);
        assertThat(noise.failureCount()).isZero();
        assertThat(noise.disabled())
                .as("a diverging model is not the listener failing")
                .isFalse();
        assertThat(loops.failureCount()).isZero();
        assertThat(loops.lastAnalysis()).isNotNull();
    }

    @Test
    void nonFiniteGradientsWithAFiniteLossAreSkippedToo() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        DataSet nan = TestNetworks.vectors(4, 3, DataType.FLOAT);
        nan.getFeatures().putScalar(1, 1, Float.NaN); // the probe's examples, not the training batch
        RecordingSink sink = new RecordingSink();
        DiffusionListener l = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .referenceSet(nan)
                .sink(sink)
                .build();
        net.addListeners(l);
        net.fit(data(), 1);
        assertThat(l.skippedNonFiniteCount()).isEqualTo(6);
        assertThat(l.failureCount()).isZero();
        assertThat(sink.records).isEmpty();
        assertThat(net.params().toFloatVector()).isEqualTo(trainWithout());
    }

    @Test
    void aProbeOverItsMemoryBudgetReducesKAndWarnsOnce() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        // One example's gradient row and its share of the batched pass's temporaries.
        long[] each =
                new PerExampleGradients(ProbeMode.EVAL, 1L << 30).bytesPerExample(net, ProbeBatch.of(data().next()));
        RecordingSink sink = new RecordingSink();
        net.addListeners(new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(12)
                .memoryBudgetBytes(5 * (each[0] + each[1]))
                .sink(sink)
                .build()); // room for 5 float gradients and their pass
        try (LogCapture logs = new LogCapture(PerExampleGradients.class)) {
            net.fit(data(), 1);
            assertThat(logs.events(Level.WARN))
                    .hasSize(1)
                    .allSatisfy(e -> assertThat(e.getFormattedMessage())
                            .contains("memoryBudgetBytes")
                            .contains("k = 5"));
        }
        assertThat(sink.records).hasSize(6).allSatisfy(r -> {
            assertThat(r.get("num_samples")).isEqualTo(5);
            assertThat(r.get("samples_requested")).isEqualTo(12);
            assertThat(r.get("samples_reduced_by_budget")).isEqualTo(true);
        });
        assertThat(net.params().toFloatVector()).isEqualTo(trainWithout());
    }
}

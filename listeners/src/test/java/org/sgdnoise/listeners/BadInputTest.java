package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import java.nio.file.Path;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.testing.LogCapture;
import org.sgdnoise.testing.TestNetworks;

/**
 * Bad input: every builder option rejects a bad value with a message naming the option, the bound and the
 * value (the README's options tables); unsupported models are rejected when attached; odd batches (k
 * larger than the batch, missing labels, masked time series) are handled and said.
 */
class BadInputTest {

    @TempDir
    Path dir;

    /** An option, a bad value, and what the message must say: the option, the bound, the value. */
    private record Bad(String option, ThrowingCallable set, String bound, String value) {}

    private static List<Bad> table() {
        DiffusionListener.Builder d = new DiffusionListener.Builder().overheadBudget(0);
        TrajectoryListener.Builder t = new TrajectoryListener.Builder().overheadBudget(0);
        DiffusionListener topR1 =
                new DiffusionListener.Builder().overheadBudget(0).topR(1).build();
        return List.of(
                new Bad("probeEvery", () -> d.probeEvery(-1), ">= 0", "-1"),
                new Bad("gradientsPerProbe", () -> d.gradientsPerProbe(1), ">= 2", "1"),
                new Bad("mode", () -> d.mode(null), "EVAL or TRAIN", "null"),
                new Bad("selection", () -> d.selection(null), "FIRST or RANDOM", "null"),
                new Bad("selection", () -> d.selection(ExampleSelection.REFERENCE), "FIRST or RANDOM", "REFERENCE"),
                new Bad("referenceSet", () -> d.referenceSet((DataSet) null), "features and labels", "null"),
                new Bad(
                        "referenceSet",
                        () -> d.referenceSet(new DataSet(Nd4j.zeros(2, 5), null)),
                        "features and labels",
                        "no labels"),
                new Bad("referenceSet", () -> d.referenceSet((MultiDataSet) null), "features and labels", "null"),
                new Bad("topR", () -> d.topR(0), ">= 1", "0"),
                new Bad("memoryBudgetBytes", () -> d.memoryBudgetBytes(0), "> 0", "0"),
                new Bad(
                        "sampling",
                        () -> d.sampling(null, 10),
                        "WITH_REPLACEMENT, WITHOUT_REPLACEMENT or UNKNOWN",
                        "null"),
                new Bad("datasetSize", () -> d.sampling(SamplingScheme.WITHOUT_REPLACEMENT, 0), ">= 1", "0"),
                new Bad("disableAfter", () -> d.disableAfter(-1), ">= 0", "-1"),
                new Bad("sketchSize", () -> d.sketchSize(1), ">= 2", "1"),
                new Bad("sketchHalfLife", () -> d.sketchHalfLife(0), "> 0", "0"),
                new Bad("sketchHalfLife", () -> d.sketchHalfLife(Double.NaN), "> 0", "NaN"),
                new Bad("sketchCentring", () -> d.sketchCentring(null), "PER_PROBE or GLOBAL", "null"),
                new Bad("sink", () -> d.sink(null), "not be null", "null"),
                new Bad("jsonlSink", () -> d.jsonlSink(null), "not be null", "null"),
                new Bad("csvSink", () -> d.csvSink(null), "not be null", "null"),
                new Bad("recordEvery", () -> t.recordEvery(0), ">= 1", "0"),
                new Bad("dimensions", () -> t.dimensions(1), ">= 2", "1"),
                new Bad("diffusionBasis", () -> t.diffusionBasis(null, 1), "not be null", "null"),
                new Bad("diffusionBasis refresh", () -> t.diffusionBasis(topR1, -1), ">= 0", "-1"),
                new Bad("pcaBasis window", () -> t.pcaBasis(1), ">= 2", "1"),
                new Bad("capacity", () -> t.capacity(1), ">= 2", "1"),
                new Bad("analyzeEvery", () -> t.analyzeEvery(0), ">= 1", "0"),
                new Bad("detector", () -> t.detector(null), "not be null", "null"),
                new Bad("trajectoryFile", () -> t.trajectoryFile(null), "not be null", "null"),
                new Bad("sink", () -> t.sink(null), "not be null", "null"),
                new Bad("jsonlSink", () -> t.jsonlSink(null), "not be null", "null"),
                new Bad("csvSink", () -> t.csvSink(null), "not be null", "null"),
                new Bad(
                        "analyzeEvery",
                        () -> new TrajectoryListener.Builder()
                                .overheadBudget(0)
                                .recordEvery(3)
                                .analyzeEvery(10)
                                .build(),
                        "a multiple of recordEvery",
                        "10"),
                new Bad(
                        "dimensions",
                        () -> new TrajectoryListener.Builder()
                                .overheadBudget(0)
                                .diffusionBasis(
                                        new DiffusionListener.Builder()
                                                .overheadBudget(0)
                                                .topR(4)
                                                .build(),
                                        0)
                                .dimensions(8)
                                .build(),
                        "<= the DiffusionListener's topR (4)",
                        "8"),
                new Bad("gateTolerance", () -> t.gateTolerance(0), "> 0", "0"),
                new Bad("disableAfter", () -> t.disableAfter(-2), ">= 0", "-2"),
                new Bad(
                        "topR",
                        () -> new TrajectoryListener.Builder()
                                .overheadBudget(0)
                                .diffusionBasis(topR1, 0)
                                .build(),
                        ">= 2",
                        "1"),
                new Bad(
                        "sketchSize",
                        () -> new TrajectoryListener.Builder()
                                .overheadBudget(0)
                                .diffusionBasis(
                                        new DiffusionListener.Builder()
                                                .overheadBudget(0)
                                                .sketchSize(0)
                                                .build(),
                                        0)
                                .build(),
                        ">= 2",
                        "0"),
                new Bad("checkpointDir", () -> new ListenerCheckpoints(null, topR1), "not be null", "null"),
                new Bad(
                        "listeners",
                        () -> new ListenerCheckpoints(Path.of("x")),
                        "DiffusionListener or TrajectoryListener",
                        "none"));
    }

    @Test
    void everyBuilderOptionNamesItselfTheBoundAndTheValue() {
        for (Bad b : table()) {
            assertThatThrownBy(b.set())
                    .as(b.option())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(b.option())
                    .hasMessageContaining(b.bound())
                    .hasMessageContaining("got " + b.value());
        }
    }

    @Test
    void unsupportedModelsAreRejectedWhenAttachedWithTheReason() {
        DiffusionListener d = new DiffusionListener.Builder().overheadBudget(0).build();
        TrajectoryListener t =
                new TrajectoryListener.Builder().overheadBudget(0).build();
        // An empty SameDiff graph: nothing to observe (graphs that can be observed: SameDiffListenersTest).
        assertThatThrownBy(() -> d.attachTo(SameDiff.create()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot observe this graph")
                .hasMessageContaining("TrainingConfig");
        assertThatThrownBy(() -> t.attachTo(SameDiff.create()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no floating-point VARIABLE");
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        Model layer = net.getLayer(0);
        assertThatThrownBy(() -> d.attachTo(layer))
                .hasMessageContaining("is not supported")
                .hasMessageContaining("DenseLayer");
        assertThatThrownBy(() -> d.attachTo(null)).hasMessageContaining("null");
        assertThat(d.attachTo(net)).isSameAs(d);
        assertThat(net.getListeners()).containsExactly(d);
    }

    @Test
    void anUnsupportedModelReachedThroughCallbacksSwitchesTheListenerOffOnceOrFailsFast() {
        Model layer = TestNetworks.mlp(DataType.FLOAT).getLayer(0);
        DiffusionListener d =
                new DiffusionListener.Builder().overheadBudget(0).probeEvery(1).build();
        TrajectoryListener t =
                new TrajectoryListener.Builder().overheadBudget(0).build();
        try (LogCapture dl = new LogCapture(DiffusionListener.class);
                LogCapture tl = new LogCapture(TrajectoryListener.class)) {
            for (int i = 0; i < 3; i++) {
                d.onGradientCalculation(layer);
                t.iterationDone(layer, i, 0);
            }
            assertThat(dl.events(Level.WARN))
                    .hasSize(1)
                    .allSatisfy(e -> assertThat(e.getFormattedMessage()).contains("is not supported"));
            assertThat(tl.events(Level.WARN)).hasSize(1);
        }
        assertThat(d.disabled()).isTrue();
        assertThat(t.disabled()).isTrue();
        DiffusionListener strict = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .failFast(true)
                .build();
        assertThatThrownBy(() -> strict.onGradientCalculation(layer))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is not supported");
    }

    @Test
    void kLargerThanTheBatchUsesTheWholeBatchAndSaysSoInTheRecord() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        RecordingSink sink = new RecordingSink();
        net.addListeners(new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(64)
                .sink(sink)
                .build());
        net.fit(
                new ListDataSetIterator<>(
                        TestNetworks.vectors(40, 7, DataType.FLOAT).asList(), 16),
                1);
        assertThat(sink.records).extracting(r -> r.get("num_samples")).containsExactly(16, 16, 8);
        assertThat(sink.records).allSatisfy(r -> {
            assertThat(r.get("samples_requested")).isEqualTo(64);
            assertThat(r.get("samples_reduced_by_budget")).isEqualTo(false);
        });
    }

    @Test
    void missingLabelsFailTheProbeWithAClearMessageNotTraining() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        net.setInput(TestNetworks.vectors(8, 7, DataType.FLOAT).getFeatures()); // as an unsupervised step would
        net.setLabels(null);
        DiffusionListener d =
                new DiffusionListener.Builder().overheadBudget(0).probeEvery(1).build();
        try (LogCapture logs = new LogCapture(DiffusionListener.class)) {
            d.onGradientCalculation(net);
            assertThat(logs.events(Level.WARN))
                    .hasSize(1)
                    .allSatisfy(e -> assertThat(e.getFormattedMessage()).contains("no labels"));
        }
        assertThat(d.failureCount()).isEqualTo(1);
    }

    @Test
    void maskedTimeSeriesGiveOneGradientPerSequence() {
        MultiLayerNetwork net = TestNetworks.rnn(DataType.DOUBLE);
        RecordingSink sink = new RecordingSink();
        net.addListeners(new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(5)
                .sink(sink)
                .failFast(true)
                .build());
        net.fit(
                new ListDataSetIterator<>(
                        TestNetworks.sequences(20, 7, DataType.DOUBLE).asList(), 10),
                1);
        assertThat(sink.records).hasSize(2).allSatisfy(r -> {
            assertThat(r.get("num_samples")).isEqualTo(5); // sequences, not time steps
            assertThat(r.get("batch_size")).isEqualTo(10);
            // LSTM → RnnOutputLayer with masks has a batched rule (one gradient per sequence all the same)
            assertThat(r.get("gradient_path")).isEqualTo("batched");
        });
    }
}

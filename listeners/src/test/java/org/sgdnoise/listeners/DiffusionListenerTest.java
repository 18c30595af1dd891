package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.schedule.MapSchedule;
import org.nd4j.linalg.schedule.ScheduleType;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.probe.NoiseProbe;
import org.sgdnoise.probe.ProbeFields;
import org.sgdnoise.sampling.MinibatchSampler;
import org.sgdnoise.sampling.WithReplacementSampler;
import org.sgdnoise.sampling.WithoutReplacementSampler;
import org.sgdnoise.testing.LogCapture;
import org.sgdnoise.testing.TestNetworks;

class DiffusionListenerTest {

    /** The keys every record carries (README, "Record schema"). */
    static final List<String> REQUIRED_KEYS = List.of(
            ProbeFields.ITERATION,
            ProbeFields.EPOCH,
            ProbeFields.LOSS,
            ProbeFields.NUM_PARAMS,
            ProbeFields.NUM_SAMPLES,
            ProbeFields.BATCH_SIZE,
            ProbeFields.DATASET_SIZE,
            ProbeFields.SAMPLING,
            ProbeFields.LEARNING_RATE,
            ProbeFields.MOMENTUM,
            ProbeFields.TEMPERATURE,
            ProbeFields.TEMPERATURE_MOMENTUM,
            ProbeFields.NOISE_MAGNITUDE,
            ProbeFields.LAG_COVARIANCE_THEORY,
            ProbeFields.EPOCH_NOISE_THEORY,
            ProbeFields.TRACE,
            ProbeFields.GRAD_NORM_SQ,
            ProbeFields.NOISE_SCALE,
            ProbeFields.EIGENVALUES,
            ProbeFields.RANK,
            ProbeFields.RANK_CAPPED,
            ProbeFields.RANK_FRACTION,
            ProbeFields.EIG_MEAN,
            ProbeFields.EIG_STD,
            ProbeFields.PARTICIPATION_RATIO,
            ProbeFields.STABLE_RANK,
            ProbeFields.EFFECTIVE_RANK,
            ProbeFields.ISOTROPY_RATIO,
            ProbeFields.TOP_R_FRACTION,
            ProbeFields.MODE,
            ProbeFields.SEED,
            ProbeFields.PROBE_MS,
            ProbeFields.FAILURES,
            ProbeFields.SINK_FAILURES,
            ProbeFields.OVERLAP_NOISE_FLOOR,
            ProbeFields.LAYER_NAMES,
            ProbeFields.LAYER_NUM_PARAMS,
            ProbeFields.LAYER_TRACE,
            ProbeFields.LAYER_TRACE_SHARE,
            ProbeFields.LAYER_LAMBDA_MAX,
            ProbeFields.SKETCH_ELL,
            ProbeFields.SKETCH_HALF_LIFE,
            ProbeFields.SKETCH_CENTRING,
            ProbeFields.SKETCH_GRADIENTS,
            ProbeFields.SKETCH_DELTA,
            ProbeFields.SKETCH_EIGENVALUES,
            ProbeFields.SKETCH_EIGENVALUES_UPPER,
            ProbeFields.SUBSPACE_OVERLAP,
            ProbeFields.SUBSPACE_SEPARATED);

    @TempDir
    Path dir;

    private static ListDataSetIterator<DataSet> iterator(int n, int batch) {
        return new ListDataSetIterator<>(
                TestNetworks.vectors(n, 7, DataType.FLOAT).asList(), batch);
    }

    /** One training run with both file sinks: 8 iterations, probes at 0, 2, 4, 6 (k = 8 of batches of 16). */
    private record Run(MultiLayerNetwork net, DiffusionListener listener, List<String> info, List<JsonNode> records) {}

    private Run trainWithFileSinks() throws Exception {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        DiffusionListener l = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(2)
                .gradientsPerProbe(8)
                .sampling(SamplingScheme.WITHOUT_REPLACEMENT, 64)
                .jsonlSink(dir.resolve("out/metrics.jsonl"))
                .csvSink(dir.resolve("out/metrics.csv"))
                .build()
                .attachTo(net);
        try (LogCapture logs = new LogCapture(DiffusionListener.class)) {
            net.fit(iterator(64, 16), 2);
            l.close();
            List<String> info = logs.events(Level.INFO).stream()
                    .map(e -> e.getFormattedMessage())
                    .toList();
            ObjectMapper om = new ObjectMapper();
            List<JsonNode> records = new ArrayList<>();
            for (String line : Files.readAllLines(dir.resolve("out/metrics.jsonl"))) {
                records.add(om.readTree(line));
            }
            return new Run(net, l, info, records);
        }
    }

    @Test
    void logsOneLinePerProbeNextToTheLoss() throws Exception {
        List<String> info = trainWithFileSinks().info();
        assertThat(info).hasSize(4);
        assertThat(info.get(0)).startsWith("iteration 0 epoch 0 loss ");
        assertThat(info.get(3)).startsWith("iteration 6 epoch 1 loss ");
        assertThat(info.get(0))
                .contains("B_noise=")
                .contains("= lambda_max*d*eps32)")
                .contains("stable_rank=")
                .contains("eff_rank=")
                .contains("T=")
                .doesNotContain("B_simple");
        assertThat(info.get(1))
                .contains("sketch (D averaged over the probes, ")
                .contains("sketch bound [")
                .contains("tr(D) by layer: layer")
                .doesNotContain("trusted");
    }

    @Test
    void jsonlRecordsCarryTheDocumentedKeysAndTheTemperature() throws Exception {
        Run run = trainWithFileSinks();
        assertThat(run.records()).hasSize(4);
        JsonNode first = run.records().get(0);
        for (String key : REQUIRED_KEYS) {
            assertThat(first.has(key)).as("key %s", key).isTrue();
        }
        long d = run.net().numParams();
        assertThat(first.get(ProbeFields.NUM_PARAMS).asLong()).isEqualTo(d);
        assertThat(first.get(ProbeFields.NUM_SAMPLES).asInt()).isEqualTo(8);
        assertThat(first.get(ProbeFields.BATCH_SIZE).asInt()).isEqualTo(16);
        assertThat(first.get(ProbeFields.DATASET_SIZE).asInt()).isEqualTo(64);
        assertThat(first.get(ProbeFields.SAMPLING).asText()).isEqualTo("without_replacement");
        assertThat(first.get(ProbeFields.LEARNING_RATE).asDouble()).isEqualTo(0.05);
        assertThat(first.get(ProbeFields.MOMENTUM).asDouble()).isEqualTo(0.9);
        double t = 0.05 / (2 * 16) * (1 - 16.0 / 64);
        assertThat(first.get(ProbeFields.TEMPERATURE).asDouble()).isCloseTo(t, within(1e-12));
        assertThat(first.get(ProbeFields.TEMPERATURE_MOMENTUM).asDouble()).isCloseTo(t / 0.1, within(1e-10));
        // η/(2b)·(N − b)/(N − 1) on tr D (1/N definition): the temperature multiplies D′ = N/(N − 1)·D.
        assertThat(first.get(ProbeFields.NOISE_MAGNITUDE).asDouble())
                .isCloseTo(
                        0.05
                                / (2 * 16)
                                * (64 - 16)
                                / 63.0
                                * first.get(ProbeFields.TRACE_UNBIASED).asDouble()
                                / d,
                        within(1e-14));
        // Without replacement at b = 16 of N = 64: two batches of an epoch covary by −tr D/(N − 1), and an epoch's
        // four equal batches sum to zero noise.
        assertThat(first.get(ProbeFields.LAG_COVARIANCE_THEORY).asDouble())
                .isCloseTo(-first.get(ProbeFields.TRACE_UNBIASED).asDouble() / 63.0, within(1e-15));
        assertThat(first.get(ProbeFields.EPOCH_NOISE_THEORY).asDouble()).isZero();
        assertThat(first.get(ProbeFields.EIGENVALUES).size()).isEqualTo(8);
        assertThat(first.get(ProbeFields.MODE).asText()).isEqualTo("eval");
        assertThat(first.get(ProbeFields.RANK_CAPPED).asBoolean()).isTrue(); // k = 8 < d = 66
        assertThat(run.records().get(3).get(ProbeFields.EPOCH).asInt()).isEqualTo(1);
        assertThat(run.listener().latestRecord().get(ProbeFields.ITERATION)).isEqualTo(6);
    }

    @Test
    void layerSharesAddUpAndTheSketchHoldsTheDecayedProbes() throws Exception {
        Run run = trainWithFileSinks();
        JsonNode first = run.records().get(0);
        JsonNode last = run.records().get(3);
        double shares = 0;
        for (JsonNode x : last.get(ProbeFields.LAYER_TRACE_SHARE)) {
            shares += x.asDouble();
        }
        assertThat(shares).isCloseTo(1.0, within(1e-6));
        assertThat(last.get(ProbeFields.LAYER_NAMES).get(0).asText()).isEqualTo("layer0");
        // 4 probes of 8 gradients, decayed.
        double gamma = Math.pow(0.5, 1 / NoiseProbe.DEFAULT_SKETCH_HALF_LIFE);
        assertThat(last.get(ProbeFields.SKETCH_GRADIENTS).asDouble())
                .isCloseTo(8 * (1 + gamma + gamma * gamma + gamma * gamma * gamma), within(1e-9));
        assertThat(last.get(ProbeFields.SKETCH_EIGENVALUES).size()).isEqualTo(10);
        JsonNode lo = last.get(ProbeFields.SKETCH_EIGENVALUES);
        JsonNode hi = last.get(ProbeFields.SKETCH_EIGENVALUES_UPPER);
        assertThat(hi.get(0).asDouble() - lo.get(0).asDouble())
                .isCloseTo(last.get(ProbeFields.SKETCH_DELTA).asDouble(), within(1e-9));
        assertThat(last.get(ProbeFields.SUBSPACE_OVERLAP).isNumber()).isTrue();
        assertThat(last.get(ProbeFields.SUBSPACE_OVERLAP).asDouble()).isBetween(0.0, 1.0 + 1e-6);
        assertThat(first.get(ProbeFields.SUBSPACE_OVERLAP).isNull()).isTrue();
        assertThat(run.listener().topEigenvectors().shape())
                .containsExactly(10, run.net().numParams());
    }

    @Test
    void csvHasAHeaderAndOneRowPerProbe() throws Exception {
        trainWithFileSinks();
        List<String> csv = Files.readAllLines(dir.resolve("out/metrics.csv"));
        assertThat(csv).hasSize(5);
        assertThat(csv.get(0)).startsWith("iteration,epoch,worker,loss,num_params");
    }

    @Test
    void learningRateScheduleIsReadAtTheCurrentIteration() {
        MultiLayerNetwork net =
                TestNetworks.mlp(1, 4, new Sgd(new MapSchedule(ScheduleType.ITERATION, Map.of(0, 0.1, 3, 0.02))));
        RecordingSink sink = new RecordingSink();
        net.addListeners(new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .sampling(SamplingScheme.WITH_REPLACEMENT, -1)
                .sink(sink)
                .build());
        net.fit(iterator(80, 16), 1);
        assertThat(sink.records).hasSize(5);
        assertThat(sink.records.get(2).get("learning_rate")).isEqualTo(0.1);
        assertThat(sink.records.get(3).get("learning_rate")).isEqualTo(0.02);
        assertThat(sink.records.get(3).get("temperature")).isEqualTo(0.02 / 32);
        assertThat(sink.records.get(3).get("momentum")).isEqualTo(0.0);
        assertThat(sink.records.get(3).get("dataset_size")).isNull();
    }

    @Test
    void samplersSetTheTemperatureThemselves() {
        DataSet data = TestNetworks.vectors(64, 9, DataType.FLOAT);
        for (boolean with : new boolean[] {true, false}) {
            MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
            RecordingSink sink = new RecordingSink();
            net.addListeners(new DiffusionListener.Builder()
                    .overheadBudget(0)
                    .probeEvery(1)
                    .gradientsPerProbe(4)
                    .sink(sink)
                    .build());
            MinibatchSampler s =
                    with ? new WithReplacementSampler(data, 16, 1) : new WithoutReplacementSampler(data, 16, 1);
            net.fit(s, 2);
            assertThat(sink.records).hasSize(8);
            ProbeRecord r = sink.records.get(5);
            assertThat(r.get("sampling")).isEqualTo(with ? "with_replacement" : "without_replacement");
            assertThat(r.get("dataset_size")).isEqualTo(64L);
            double expected = 0.05 / 32 * (with ? 1 : 1 - 16.0 / 64);
            assertThat((Double) r.get("temperature")).isCloseTo(expected, within(1e-15));
        }
    }

    @Test
    void unknownSamplingGivesNullTemperature() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        RecordingSink sink = new RecordingSink();
        net.addListeners(new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .sink(sink)
                .build());
        net.fit(iterator(32, 16), 1);
        ProbeRecord r = sink.records.get(0);
        assertThat(r.get("sampling")).isEqualTo("unknown");
        assertThat(r.get("temperature")).isNull();
        assertThat(r.get("learning_rate")).isEqualTo(0.05);
    }

    @Test
    void anUnwritableSinkDoesNotStopFitAndWarnsOnce() throws Exception {
        Path file = Files.createFile(dir.resolve("not-a-folder"));
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        RecordingSink good = new RecordingSink();
        DiffusionListener l = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .jsonlSink(file.resolve("metrics.jsonl"))
                .sink(good)
                .build();
        net.addListeners(l);
        try (LogCapture logs = new LogCapture(DiffusionListener.class)) {
            net.fit(iterator(64, 16), 1);
            assertThat(logs.events(Level.WARN)).hasSize(1);
            assertThat(logs.events(Level.WARN).get(0).getFormattedMessage())
                    .contains("cannot write to")
                    .contains("metrics.jsonl");
        }
        assertThat(l.sinkFailureCount()).isEqualTo(4);
        assertThat(good.records).hasSize(4);
        assertThat(good.records.get(3).get("sink_failures")).isEqualTo(3);
        assertThat(net.getIterationCount()).isEqualTo(4);
    }

    @Test
    void aFailingProbeIsCountedAndTrainingGoesOn() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        // A reference set with the wrong number of features makes every probe fail.
        DataSet wrong = new DataSet(
                Nd4j.rand(DataType.FLOAT, 4, 9), Nd4j.eye(3).getRows(0, 1, 2, 0).castTo(DataType.FLOAT));
        DiffusionListener l = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .referenceSet(wrong)
                .build();
        net.addListeners(l);
        try (LogCapture logs = new LogCapture(DiffusionListener.class)) {
            net.fit(iterator(64, 16), 1);
            assertThat(logs.events(Level.WARN)).hasSize(1);
            assertThat(logs.events(Level.WARN).get(0).getFormattedMessage()).contains("failFast");
        }
        assertThat(l.failureCount()).isEqualTo(4);
        assertThat(l.probeCount()).isZero();
        assertThat(net.getIterationCount()).isEqualTo(4);
    }

    @Test
    void repeatedFailuresSwitchTheListenerOffWithOneMoreWarning() {
        DataSet wrong = new DataSet(
                Nd4j.rand(DataType.FLOAT, 4, 9), Nd4j.eye(3).getRows(0, 1, 2, 0).castTo(DataType.FLOAT));
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        DiffusionListener l = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .referenceSet(wrong)
                .disableAfter(3)
                .build();
        net.addListeners(l);
        try (LogCapture logs = new LogCapture(DiffusionListener.class)) {
            net.fit(iterator(128, 16), 1); // 8 iterations, every probe fails
            assertThat(logs.events(Level.WARN)).hasSize(2);
            assertThat(logs.events(Level.WARN).get(1).getFormattedMessage())
                    .contains("failed 3 times in a row")
                    .contains("off for the rest of training")
                    .contains("disableAfter(0)");
        }
        assertThat(l.failureCount()).isEqualTo(3); // no probe was tried after the third
        assertThat(l.disabled()).isTrue();
        assertThat(net.getIterationCount()).isEqualTo(8);

        MultiLayerNetwork net2 = TestNetworks.mlp(DataType.FLOAT);
        DiffusionListener never = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .referenceSet(wrong)
                .disableAfter(0)
                .build();
        net2.addListeners(never);
        net2.fit(iterator(128, 16), 1);
        assertThat(never.failureCount()).isEqualTo(8);
        assertThat(never.disabled()).isFalse();

        assertThatThrownBy(
                        () -> new DiffusionListener.Builder().overheadBudget(0).disableAfter(-1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("disableAfter must be >= 0")
                .hasMessageContaining("-1");
    }

    @Test
    void failFastThrowsASinkFailure() throws Exception {
        Path file = Files.createFile(dir.resolve("plain-file"));
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        net.addListeners(new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .jsonlSink(file.resolve("x.jsonl"))
                .failFast(true)
                .build());
        assertThatThrownBy(() -> net.fit(iterator(32, 16), 1))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("sink")
                .hasCauseInstanceOf(IOException.class);
    }

    @Test
    void failFastThrowsTheFirstFailureWithItsCause() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        DataSet wrong = new DataSet(
                Nd4j.rand(DataType.FLOAT, 4, 9), Nd4j.eye(3).getRows(0, 1, 2, 0).castTo(DataType.FLOAT));
        net.addListeners(new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .referenceSet(wrong)
                .failFast(true)
                .build());
        assertThatThrownBy(() -> net.fit(iterator(64, 16), 1))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("fail-fast")
                .hasCauseInstanceOf(RuntimeException.class);
    }

    @Test
    void referenceSetIsProbedAtEveryProbe() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        RecordingSink sink = new RecordingSink();
        net.addListeners(new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(5)
                .referenceSet(TestNetworks.vectors(12, 3, DataType.FLOAT))
                .sink(sink)
                .build());
        net.fit(iterator(32, 16), 1);
        assertThat(sink.records).hasSize(2);
        assertThat(sink.records.get(0).get("selection")).isEqualTo("reference");
        assertThat(sink.records.get(0).get("num_samples")).isEqualTo(5);
        assertThat(sink.records.get(0).get("batch_size")).isEqualTo(16);
    }

    @Test
    void batchesOfOneAreSkippedAndSaidOnce() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        RecordingSink sink = new RecordingSink();
        DiffusionListener l = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .sink(sink)
                .build();
        net.addListeners(l);
        try (LogCapture logs = new LogCapture(DiffusionListener.class)) {
            net.fit(iterator(3, 1), 1);
            assertThat(logs.events(Level.INFO)).hasSize(1);
            assertThat(logs.events(Level.INFO).get(0).getFormattedMessage()).contains("batches of one example");
        }
        assertThat(sink.records).isEmpty();
        assertThat(l.failureCount()).isZero();
    }

    @Test
    void builderRejectsBadOptionsNamingThem() {
        assertThatThrownBy(
                        () -> new DiffusionListener.Builder().overheadBudget(0).gradientsPerProbe(1))
                .hasMessage("gradientsPerProbe must be >= 2 (a covariance needs two gradients), got 1");
        assertThatThrownBy(
                        () -> new DiffusionListener.Builder().overheadBudget(0).probeEvery(-1))
                .hasMessageContaining("probeEvery");
        assertThatThrownBy(
                        () -> new DiffusionListener.Builder().overheadBudget(0).topR(0))
                .hasMessageContaining("topR");
        assertThatThrownBy(
                        () -> new DiffusionListener.Builder().overheadBudget(0).memoryBudgetBytes(0))
                .hasMessageContaining("memoryBudgetBytes");
        assertThatThrownBy(() -> new DiffusionListener.Builder()
                        .overheadBudget(0)
                        .sampling(SamplingScheme.WITHOUT_REPLACEMENT, 0))
                .hasMessageContaining("datasetSize");
    }

    @Test
    void zeroIntervalDisablesProbes() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        RecordingSink sink = new RecordingSink();
        net.addListeners(new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(0)
                .sink(sink)
                .build());
        net.fit(iterator(32, 16), 1);
        assertThat(sink.records).isEmpty();
    }

    @Test
    void closeClosesSinks() {
        RecordingSink sink = new RecordingSink();
        new DiffusionListener.Builder().overheadBudget(0).sink(sink).build().close();
        assertThat(sink.closed).isTrue();
    }
}

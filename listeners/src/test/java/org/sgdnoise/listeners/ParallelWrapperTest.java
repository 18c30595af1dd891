package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.assertj.core.api.Assertions;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.parallelism.ParallelWrapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.probe.NoiseProbe;
import org.sgdnoise.testing.LogCapture;
import org.sgdnoise.testing.TestNetworks;
import org.sgdnoise.trajectory.LoopStatistics;

/**
 * Under DL4J's ParallelWrapper one listener instance is called from every worker's training thread at once,
 * each with its own replica of the model. The listeners keep one state per worker and tag their records.
 */
class ParallelWrapperTest {

    @TempDir
    Path dir;

    @Test
    void listenersKeepPerWorkerStateAndWriteWholeTaggedLines() throws Exception {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        List<DataSet> batches = TestNetworks.vectors(16 * 24, 9, DataType.FLOAT).batchBy(16);
        DiffusionListener noise = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(8)
                .sketchSize(6)
                .jsonlSink(dir.resolve("metrics.jsonl"))
                .csvSink(dir.resolve("metrics.csv"))
                .build();
        TrajectoryListener loops = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .dimensions(4)
                .capacity(8)
                .analyzeEvery(4)
                .detector(new LoopStatistics(0.01, 4, 19, 2, 1.5, 1))
                .diffusionBasis(noise, 4)
                .trajectoryFile(dir.resolve("trajectory.csv"))
                .jsonlSink(dir.resolve("loops.jsonl"))
                .build();
        try (LogCapture noiseLog = new LogCapture(DiffusionListener.class);
                LogCapture loopsLog = new LogCapture(TrajectoryListener.class)) {
            ParallelWrapper pw = new ParallelWrapper.Builder<>(net)
                    .workers(2)
                    .prefetchBuffer(2)
                    .averagingFrequency(2)
                    .build();
            pw.setListeners(noise, loops);
            for (int fit = 0; fit < 2; fit++) { // every fit rebuilds the replicas; the workers keep their state
                pw.fit(new ListDataSetIterator<>(batches, 1));
            }
            noise.close();
            loops.close();
            assertThat(noiseLog.events(Level.WARN)).as("no warnings").isEmpty();
            assertThat(loopsLog.events(Level.WARN)).as("no warnings").isEmpty();
            assertThat(noiseLog.events(Level.INFO))
                    .anySatisfy(e -> assertThat(e.getFormattedMessage()).contains(" worker 1 loss "));
        }
        assertThat(noise.failureCount()).isZero();
        assertThat(loops.failureCount()).isZero();
        assertThat(net.params().isNaN().any()).isFalse();

        ObjectMapper om = new ObjectMapper();
        Map<Integer, List<JsonNode>> byWorker = new HashMap<>();
        List<String> lines = Files.readAllLines(dir.resolve("metrics.jsonl"));
        for (String line : lines) {
            JsonNode r = om.readTree(line); // whole lines only: a torn or interleaved line would not parse
            byWorker.computeIfAbsent(r.get("worker").asInt(), w -> new ArrayList<>())
                    .add(r);
        }
        assertThat(byWorker.keySet()).containsExactlyInAnyOrder(0, 1);
        assertThat(lines).hasSize(noise.probeCount()).hasSize(48); // every minibatch of both fits probed once
        for (List<JsonNode> records : byWorker.values()) {
            // Each worker's sketch grew from its own probes only: its gradient count follows its probe count.
            double gamma = Math.pow(0.5, 1 / NoiseProbe.DEFAULT_SKETCH_HALF_LIFE);
            double expected = 0;
            for (int i = 0; i < records.size(); i++) {
                expected = expected * gamma + 8;
                assertThat(records.get(i).get("sketch_gradients").asDouble())
                        .isCloseTo(expected, Assertions.within(1e-9));
            }
        }
        List<String> csv = Files.readAllLines(dir.resolve("metrics.csv"));
        assertThat(csv).hasSize(49);
        assertThat(csv.subList(1, 49))
                .allSatisfy(l ->
                        assertThat(l.split(",", -1)).hasSameSizeAs(csv.get(0).split(",", -1)));

        // One trajectory file per worker, each a single trajectory; verdicts tagged.
        for (String name : new String[] {"trajectory.csv", "trajectory-worker1.csv"}) {
            List<String> rows = Files.readAllLines(dir.resolve(name));
            assertThat(rows.size()).as(name).isGreaterThan(10);
            assertThat(rows.subList(1, rows.size()))
                    .allSatisfy(l -> assertThat(l.split(",")).hasSize(8 + 4));
        }
        List<String> verdicts = Files.readAllLines(dir.resolve("loops.jsonl"));
        assertThat(verdicts).isNotEmpty();
        Set<Integer> verdictWorkers = new HashSet<>();
        for (String v : verdicts) {
            verdictWorkers.add(om.readTree(v).get("worker").asInt());
        }
        assertThat(verdictWorkers).containsExactlyInAnyOrder(0, 1);
    }
}

package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.testing.LogCapture;
import org.sgdnoise.testing.TestNetworks;

/**
 * The README's "Use it" code, copied as a user would: {@link #theReadmeSnippetsTogetherAttachEachListenerOnce}
 * mirrors the first two Java blocks line for line (checked against the README itself), and a listener attached
 * twice runs once and says so once.
 */
class ReadmeSnippetsTest {

    private static final Path README = Path.of("..", "README.md");
    private static final Path THIS_SOURCE =
            Path.of("src", "test", "java", "org", "sgdnoise", "listeners", "ReadmeSnippetsTest.java");

    @TempDir
    Path dir;

    private static ListDataSetIterator<DataSet> trainIterator() {
        return new ListDataSetIterator<>(
                TestNetworks.vectors(64, 3, DataType.FLOAT).asList(), 16);
    }

    /** The README's Java blocks in order. */
    static List<String> javaBlocks() throws IOException {
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(Files.readString(README));
        List<String> blocks = new ArrayList<>();
        while (m.find()) {
            blocks.add(m.group(1));
        }
        return blocks;
    }

    @Test
    void theTestMirrorsTheReadmesFirstTwoJavaBlocks() throws IOException {
        List<String> blocks = javaBlocks();
        assertThat(blocks).hasSizeGreaterThanOrEqualTo(2);
        String source = Files.readString(THIS_SOURCE).replaceAll("\\s+", " ");
        for (String block : blocks.subList(0, 2)) {
            for (String line : block.split("\n")) {
                String code = line.replaceAll("\\s*//.*$", "").strip();
                if (!code.isEmpty()) {
                    // Paths are the README's, under this test's folder.
                    String expected =
                            code.replace("Path.of(\"out/", "dir.resolve(\"out/").replaceAll("\\s+", " ");
                    assertThat(source).as("README line: %s", line).contains(expected);
                }
            }
        }
    }

    @Test
    void theReadmeSnippetsTogetherAttachEachListenerOnce() throws Exception {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        ListDataSetIterator<DataSet> trainIterator = trainIterator();
        int epochs = 5; // 20 iterations
        List<ProbeRecord> seen = new ArrayList<>();
        try (LogCapture logs = new LogCapture(DiffusionListener.class);
                LogCapture models = new LogCapture(Models.class)) {
            // --- README, "Use it" ---
            DiffusionListener noise = new DiffusionListener.Builder()
                    .probeEvery(100)
                    .gradientsPerProbe(64)
                    .sampling(SamplingScheme.WITHOUT_REPLACEMENT, 60_000)
                    .jsonlSink(dir.resolve("out/metrics.jsonl"))
                    .csvSink(dir.resolve("out/metrics.csv"))
                    .build()
                    .attachTo(net);
            // --- README, "Weight trajectories and closed loops" ---
            TrajectoryListener loops = new TrajectoryListener.Builder()
                    .dimensions(16)
                    .trajectoryFile(dir.resolve("out/trajectory.csv"))
                    .jsonlSink(dir.resolve("out/loops.jsonl"))
                    .build()
                    .attachTo(net);
            // --- back to "Use it" ---
            net.fit(trainIterator, epochs);
            noise.close();
            loops.close();
            assertThat(logs.events(Level.WARN)).isEmpty();
            assertThat(models.events(Level.WARN)).isEmpty();
            assertThat(Registrations.count(net, noise)).isEqualTo(1);
            assertThat(Registrations.count(net, loops)).isEqualTo(1);
            assertThat(noise.probeCount()).isEqualTo(1); // iteration 0 only
            assertThat(Files.readAllLines(dir.resolve("out/metrics.jsonl"))).hasSize(1);
            // At the default overhead budget a network this small is recorded less often than every iteration.
            assertThat(loops.recordedSteps()).isBetween(1L, 20L);
            assertThat(Files.readAllLines(dir.resolve("out/trajectory.csv"))).hasSize((int) loops.recordedSteps() + 1);
            seen.add(noise.latestRecord());
        }
        assertThat(seen.get(0).get("iteration")).isEqualTo(0);
    }

    @Test
    void aListenerAttachedAndAlsoAddedRunsOnceAndSaysSoOnce() {
        MultiLayerNetwork single = TestNetworks.mlp(DataType.FLOAT);
        DiffusionListener alone = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(2)
                .gradientsPerProbe(8)
                .build();
        alone.attachTo(single);
        single.fit(trainIterator(), 2);

        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        List<ProbeRecord> records = new ArrayList<>();
        DiffusionListener noise = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(2)
                .gradientsPerProbe(8)
                .sink(records::add)
                .build();
        TrajectoryListener loops = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .dimensions(3)
                .analyzeEvery(4)
                .build();
        try (LogCapture logs = new LogCapture(DiffusionListener.class);
                LogCapture loopLogs = new LogCapture(TrajectoryListener.class);
                LogCapture models = new LogCapture(Models.class)) {
            noise.attachTo(net);
            loops.attachTo(net);
            net.addListeners(noise, loops); // the mistake: both are now registered twice
            noise.attachTo(net); // and a third attach is refused
            net.fit(trainIterator(), 2); // 8 iterations: probes at 0, 2, 4, 6
            assertThat(Registrations.count(net, noise)).isEqualTo(2);
            assertThat(records).hasSize(4);
            assertThat(noise.probeCount()).isEqualTo(4);
            assertThat(loops.recordedSteps()).isEqualTo(8);
            List<String> warnings = logs.events(Level.WARN).stream()
                    .map(e -> e.getFormattedMessage())
                    .toList();
            assertThat(warnings)
                    .singleElement()
                    .asString()
                    .contains("DiffusionListener is registered 2 times")
                    .contains("runs once");
            assertThat(loopLogs.events(Level.WARN))
                    .singleElement()
                    .satisfies(e -> assertThat(e.getFormattedMessage()).contains("TrajectoryListener is registered 2"));
            assertThat(models.events(Level.WARN))
                    .singleElement()
                    .satisfies(e -> assertThat(e.getFormattedMessage()).contains("already attached"));
        }
        // The duplicate did not touch the sketch: the same numbers as the listener attached once.
        assertThat((double[]) records.get(3).get("sketch_eigenvalues"))
                .containsExactly((double[]) alone.latestRecord().get("sketch_eigenvalues"));
    }

    @Test
    void anIterationObservedAgainWithOneRegistrationIsNotTakenForADuplicate() {
        // DL4J advances its count after the listeners: a fit() retried after an exception repeats the iteration.
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        List<ProbeRecord> records = new ArrayList<>();
        DiffusionListener noise = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(4)
                .sink(records::add)
                .build()
                .attachTo(net);
        DataSet batch = TestNetworks.vectors(8, 3, DataType.FLOAT);
        net.setInput(batch.getFeatures());
        net.setLabels(batch.getLabels());
        net.computeGradientAndScore();
        try (LogCapture logs = new LogCapture(DiffusionListener.class)) {
            noise.onGradientCalculation(net);
            noise.onGradientCalculation(net);
            assertThat(logs.events(Level.WARN)).isEmpty();
        }
        assertThat(records).hasSize(2);
    }

    @Test
    void aRecordIntervalThatDoesNotDivideTheDefaultAnalysisIntervalStillBuilds() {
        TrajectoryListener t = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .recordEvery(3)
                .build();
        assertThat(t.config().analyzeEvery()).isEqualTo(2001);
    }
}

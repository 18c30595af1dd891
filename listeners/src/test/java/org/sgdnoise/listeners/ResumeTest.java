package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.optimize.listeners.Checkpoint;
import org.deeplearning4j.optimize.listeners.CheckpointListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.schedule.ScheduleType;
import org.nd4j.linalg.schedule.StepSchedule;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.probe.ProbeFields;
import org.sgdnoise.testing.LogCapture;
import org.sgdnoise.testing.TestNetworks;
import org.sgdnoise.trajectory.LoopStatistics;

/**
 * A run stopped after a checkpoint and resumed from it produces the same records, files and parameters as
 * the run that was never stopped.
 */
class ResumeTest {

    @TempDir
    Path tmp;

    private static final int BATCHES = 14;

    private static List<DataSet> batches() {
        return TestNetworks.vectors(12 * BATCHES, 17, DataType.FLOAT).batchBy(12);
    }

    /** The model: SGD with a step schedule, so an iteration count off by one would show in the records. */
    private static MultiLayerNetwork model() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        net.setLearningRate(new StepSchedule(ScheduleType.ITERATION, 0.1, 0.5, 4));
        return net;
    }

    /** Both listeners, with a sketch that shrinks, a diffusion basis that is re-taken and loop analyses. */
    private record Run(
            DiffusionListener noise, TrajectoryListener loops, RecordingSink probes, RecordingSink verdicts) {
        TrainingListener[] both() {
            return new TrainingListener[] {noise, loops};
        }
    }

    private static Run listeners(Path out) {
        RecordingSink probes = new RecordingSink();
        RecordingSink verdicts = new RecordingSink();
        DiffusionListener noise = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(2)
                .gradientsPerProbe(7)
                .selection(ExampleSelection.RANDOM)
                .sketchSize(4)
                .topR(3)
                .sink(probes)
                .jsonlSink(out.resolve("metrics.jsonl"))
                .csvSink(out.resolve("metrics.csv"))
                .failFast(true)
                .build();
        TrajectoryListener loops = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .diffusionBasis(noise, 5)
                .capacity(8)
                .analyzeEvery(3)
                .detector(new LoopStatistics(0.01, 4, 19, 2, 1.5, 1))
                .trajectoryFile(out.resolve("trajectory.csv"))
                .sink(verdicts)
                .jsonlSink(out.resolve("loops.jsonl"))
                .failFast(true)
                .build();
        return new Run(noise, loops, probes, verdicts);
    }

    private static void fit(MultiLayerNetwork net, List<DataSet> data, int from, int to) {
        for (int i = from; i < to; i++) {
            net.fit(data.get(i));
        }
    }

    @Test
    void aResumedRunWritesWhatTheUninterruptedRunWrote() throws Exception {
        List<DataSet> data = batches();
        // Uninterrupted, with checkpoints every 4 iterations.
        Path dirA = Files.createDirectories(tmp.resolve("a/checkpoints"));
        Run a = listeners(tmp.resolve("a"));
        MultiLayerNetwork netA = model();
        CheckpointListener cpA = new CheckpointListener.Builder(dirA.toFile())
                .saveEveryNIterations(4)
                .logSaving(false)
                .build();
        ListenerCheckpoints saverA = new ListenerCheckpoints(dirA, true, a.both());
        netA.setListeners(a.noise(), a.loops(), cpA, saverA);
        fit(netA, data, 0, BATCHES);
        a.noise().close();
        a.loops().close();

        // The same run, killed after iteration 9, past its last checkpoint.
        Path dirB = Files.createDirectories(tmp.resolve("b/checkpoints"));
        Run b = listeners(tmp.resolve("b"));
        MultiLayerNetwork netB = model();
        netB.setListeners(
                b.noise(),
                b.loops(),
                new CheckpointListener.Builder(dirB.toFile())
                        .saveEveryNIterations(4)
                        .logSaving(false)
                        .build(),
                new ListenerCheckpoints(dirB, true, b.both()));
        fit(netB, data, 0, 10);
        // (no close: a killed process closes nothing)

        Checkpoint last = CheckpointListener.lastCheckpoint(dirB.toFile());
        int t = last.getIteration();
        assertThat(t).isBetween(1, 8); // a checkpoint, then iterations that the resumed run must take back
        Path state = ListenerCheckpoints.stateFile(dirB, last.getCheckpointNum());
        assertThat(state).exists();
        assertThat(CheckpointListener.availableCheckpoints(dirB.toFile()))
                .allSatisfy(c -> assertThat(ListenerCheckpoints.stateFile(dirB, c.getCheckpointNum()))
                        .exists());

        // Resume: the model from its checkpoint, listeners built as before, their state restored.
        MultiLayerNetwork resumed = CheckpointListener.loadCheckpointMLN(dirB.toFile(), last.getCheckpointNum());
        Run r = listeners(tmp.resolve("b"));
        ListenerCheckpoints.restore(state, resumed, r.both());
        assertThat(resumed.getIterationCount())
                .isEqualTo(t + 1); // DL4J saved t; the uninterrupted run went on with t + 1
        resumed.setListeners(r.noise(), r.loops());
        fit(resumed, data, t + 1, BATCHES);
        r.noise().close();
        r.loops().close();

        assertThat(resumed.params().toFloatVector()).isEqualTo(netA.params().toFloatVector());
        // The records after the checkpoint, in memory and in every file, are the uninterrupted run's.
        assertThat(withoutTimes(r.probes().records)).isEqualTo(withoutTimes(after(a.probes().records, t)));
        assertThat(r.probes().records).isNotEmpty();
        assertThat(r.probes().records.get(0).get("sketch_gradients"))
                .isEqualTo(after(a.probes().records, t).get(0).get("sketch_gradients"));
        assertThat(withoutTimes(r.verdicts().records))
                .isEqualTo(withoutTimes(after(a.verdicts().records, t)))
                .isNotEmpty();
        assertThat(Files.readAllLines(tmp.resolve("b/trajectory.csv")))
                .isEqualTo(Files.readAllLines(tmp.resolve("a/trajectory.csv")));
        assertThat(jsonWithoutTimes(tmp.resolve("b/loops.jsonl")))
                .isEqualTo(jsonWithoutTimes(tmp.resolve("a/loops.jsonl")));
        assertThat(jsonWithoutTimes(tmp.resolve("b/metrics.jsonl")))
                .isEqualTo(jsonWithoutTimes(tmp.resolve("a/metrics.jsonl")));
        assertThat(csvWithoutTimes(tmp.resolve("b/metrics.csv")))
                .isEqualTo(csvWithoutTimes(tmp.resolve("a/metrics.csv")));
    }

    @Test
    void aStateFileIsCheckedAgainstTheListenersItIsRestoredInto() throws Exception {
        Run a = listeners(tmp.resolve("a"));
        MultiLayerNetwork net = model();
        net.setListeners(a.both());
        fit(net, batches(), 0, 3);
        Path file = tmp.resolve("state.sgdnoise");
        ListenerCheckpoints.save(file, net, a.both());
        Run other = listeners(tmp.resolve("c"));
        assertThatThrownBy(() -> ListenerCheckpoints.restore(file, model(), other.loops(), other.noise()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("in that order");
        // A mismatch in the second listener leaves the first untouched: nothing is restored, no file is cut.
        TrajectoryListener otherLoops =
                new TrajectoryListener.Builder().overheadBudget(0).dimensions(3).build();
        MultiLayerNetwork fresh = model();
        assertThatThrownBy(() -> ListenerCheckpoints.restore(file, fresh, other.noise(), otherLoops))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dimensions=3");
        assertThat(other.noise().probeCount()).isZero();
        assertThat(fresh.getIterationCount()).isZero();
        DiffusionListener differentK = new DiffusionListener.Builder()
                .overheadBudget(0)
                .gradientsPerProbe(5)
                .build();
        assertThatThrownBy(() -> ListenerCheckpoints.restore(file, model(), differentK, other.loops()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("gradientsPerProbe=7")
                .hasMessageContaining("gradientsPerProbe=5");
        Path garbage = Files.write(tmp.resolve("garbage.sgdnoise"), new byte[] {1, 2, 3, 4, 5});
        assertThatThrownBy(() -> ListenerCheckpoints.restore(garbage, model(), other.both()))
                .isInstanceOf(IOException.class);
        assertThatThrownBy(() -> new ListenerCheckpoints(
                        tmp,
                        new CheckpointListener.Builder(tmp.toFile())
                                .saveEveryEpoch()
                                .build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("DiffusionListener or TrajectoryListener");
    }

    @Test
    void theSaverMustComeLastOrItSaysSoOnceAndSavesNothing() throws Exception {
        for (int order = 0; order < 2; order++) {
            Path dir = Files.createDirectories(tmp.resolve("cp" + order));
            Run a = listeners(tmp.resolve("x" + order));
            MultiLayerNetwork net = model();
            ListenerCheckpoints saver = new ListenerCheckpoints(dir, a.both());
            CheckpointListener cp = new CheckpointListener.Builder(dir.toFile())
                    .saveEveryNIterations(2)
                    .logSaving(false)
                    .build();
            try (LogCapture logs = new LogCapture(ListenerCheckpoints.class)) {
                if (order == 0) {
                    net.setListeners(a.noise(), a.loops(), saver, cp); // before the CheckpointListener
                } else {
                    net.setListeners(cp, saver, a.noise(), a.loops()); // before the listeners it saves
                }
                fit(net, batches(), 0, 8);
                assertThat(logs.events(Level.WARN))
                        .as("order %d", order)
                        .hasSize(1)
                        .allSatisfy(e -> assertThat(e.getFormattedMessage()).contains("attach it last"));
            }
            try (var files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString()))
                        .noneMatch(n -> n.endsWith(ListenerCheckpoints.SUFFIX));
            }
            assertThat(net.getIterationCount()).isEqualTo(8);
        }
    }

    @Test
    void anEpochCheckpointResumesAtTheNextEpoch() throws Exception {
        List<DataSet> data = batches().subList(0, 3);
        Path dirA = Files.createDirectories(tmp.resolve("ea/checkpoints"));
        Run a = listeners(tmp.resolve("ea"));
        MultiLayerNetwork netA = model();
        netA.setListeners(
                a.noise(),
                a.loops(),
                new CheckpointListener.Builder(dirA.toFile())
                        .saveEveryEpoch()
                        .logSaving(false)
                        .build(),
                new ListenerCheckpoints(dirA, true, a.both()));
        netA.fit(new ListDataSetIterator<>(data, 1), 4);

        Path dirB = Files.createDirectories(tmp.resolve("eb/checkpoints"));
        Run b = listeners(tmp.resolve("eb"));
        MultiLayerNetwork netB = model();
        netB.setListeners(
                b.noise(),
                b.loops(),
                new CheckpointListener.Builder(dirB.toFile())
                        .saveEveryEpoch()
                        .logSaving(false)
                        .build(),
                new ListenerCheckpoints(dirB, true, b.both()));
        netB.fit(new ListDataSetIterator<>(data, 1), 2);
        Checkpoint last = CheckpointListener.lastCheckpoint(dirB.toFile());
        assertThat(last.getEpoch()).isEqualTo(1); // DL4J's count before the end of the second epoch

        MultiLayerNetwork resumed = CheckpointListener.loadCheckpointMLN(dirB.toFile(), last.getCheckpointNum());
        Run r = listeners(tmp.resolve("eb"));
        ListenerCheckpoints.restore(ListenerCheckpoints.stateFile(dirB, last.getCheckpointNum()), resumed, r.both());
        assertThat(resumed.getEpochCount()).isEqualTo(2);
        assertThat(resumed.getIterationCount()).isEqualTo(6);
        resumed.setListeners(r.noise(), r.loops());
        resumed.fit(new ListDataSetIterator<>(data, 1), 2);
        r.noise().close();
        r.loops().close();
        a.noise().close();
        a.loops().close();
        assertThat(resumed.params().toFloatVector()).isEqualTo(netA.params().toFloatVector());
        assertThat(withoutTimes(r.probes().records))
                .isEqualTo(withoutTimes(after(a.probes().records, 5)))
                .isNotEmpty();
        assertThat(r.probes().records.get(0).get("epoch")).isEqualTo(2);
        assertThat(jsonWithoutTimes(tmp.resolve("eb/metrics.jsonl")))
                .isEqualTo(jsonWithoutTimes(tmp.resolve("ea/metrics.jsonl")));
        assertThat(Files.readAllLines(tmp.resolve("eb/trajectory.csv")))
                .isEqualTo(Files.readAllLines(tmp.resolve("ea/trajectory.csv")));
    }

    private static List<ProbeRecord> after(List<ProbeRecord> records, int iteration) {
        List<ProbeRecord> out = new ArrayList<>();
        for (ProbeRecord rec : records) {
            if (((Number) rec.get("iteration")).intValue() > iteration) {
                out.add(rec);
            }
        }
        return out;
    }

    private static List<String> withoutTimes(List<ProbeRecord> records) {
        ObjectMapper om = new ObjectMapper();
        List<String> out = new ArrayList<>();
        for (ProbeRecord rec : records) {
            try {
                ObjectNode n = (ObjectNode) om.readTree(rec.toJson());
                n.remove(ProbeFields.MEASURED_TIMES);
                out.add(n.toString());
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }
        return out;
    }

    private static List<String> jsonWithoutTimes(Path file) throws IOException {
        ObjectMapper om = new ObjectMapper();
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            ObjectNode n = (ObjectNode) om.readTree(line);
            n.remove(ProbeFields.MEASURED_TIMES);
            out.add(n.toString());
        }
        return out;
    }

    private static List<String> csvWithoutTimes(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file);
        List<String> header = List.of(lines.get(0).split(","));
        List<String> out = new ArrayList<>();
        for (String line : lines) {
            String[] cells = line.split(",", -1);
            for (String key : ProbeFields.MEASURED_TIMES) {
                if (header.contains(key)) {
                    cells[header.indexOf(key)] = "";
                }
            }
            out.add(String.join(",", cells));
        }
        return out;
    }
}

package org.sgdnoise.output;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.sgdnoise.output.TensorBoardEventReader.checkHistogram;
import static org.sgdnoise.output.TensorBoardEventReader.events;
import static org.sgdnoise.output.TensorBoardEventReader.files;
import static org.sgdnoise.output.TensorBoardEventReader.runEvents;
import static org.sgdnoise.output.TensorBoardEventReader.scalars;
import static org.sgdnoise.output.TensorBoardEventReader.tags;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.sgdnoise.output.TensorBoardEventReader.Event;
import org.sgdnoise.output.TensorBoardEventReader.Histogram;
import org.sgdnoise.output.TensorBoardEventReader.Value;
import org.sgdnoise.probe.ProbeFields;
import org.sgdnoise.trajectory.LoopVerdict;
import org.sgdnoise.trajectory.TrajectoryFields;

class TensorBoardSinkTest {

    private static final Clock CLOCK = Clock.fixed(Instant.ofEpochSecond(1_700_000_000L, 250_000_000L), ZoneOffset.UTC);

    @TempDir
    Path dir;

    private static double loss(int i) {
        return 2.5 * Math.exp(-i / 20.0) + 0.01 * i;
    }

    /** Eigenvalues spanning ten decades, plus an exact zero and a rounding-sized negative one. */
    private static double[] eigenvalues(long seed) {
        Random r = new Random(seed);
        double[] e = new double[40];
        for (int i = 0; i < e.length - 2; i++) {
            e[i] = Math.pow(10, -8 + 10 * r.nextDouble());
        }
        e[e.length - 2] = 0.0;
        e[e.length - 1] = -3e-18;
        return e;
    }

    private static ProbeRecord probe(int iteration, int worker, double[] eigenvalues) {
        return ProbeRecord.builder()
                .put(ProbeFields.ITERATION, iteration)
                .put(ProbeFields.EPOCH, 0)
                .put(ProbeFields.WORKER, worker)
                .put(ProbeFields.LOSS, loss(iteration))
                .put(ProbeFields.NUM_PARAMS, 13_338)
                .put(ProbeFields.TEMPERATURE, 1e-4 * (1 + iteration))
                .put(ProbeFields.TRACE, 88.5 + iteration)
                .put(ProbeFields.NOISE_SCALE, 59.5)
                .put(ProbeFields.EIGENVALUES, eigenvalues)
                .put(ProbeFields.LAMBDA_MAX, 29.55)
                .put(ProbeFields.RANK, 24)
                .put(ProbeFields.PARTICIPATION_RATIO, 23.54)
                .put(ProbeFields.EFFECTIVE_RANK, 30.1)
                .put(ProbeFields.ISOTROPY_RATIO, 4454.0)
                .put(ProbeFields.MODE, "exact")
                .put(ProbeFields.SEED, 42L)
                .put(ProbeFields.SUBSPACE_SEPARATED, true)
                .put(ProbeFields.LAYER_TRACE, new double[] {1, 2})
                .put(ProbeFields.FAILURES, 0)
                .build();
    }

    @Test
    void sixtyIterationsOfScalarsGiveSixtyLossPointsAtTheirSteps() throws IOException {
        try (TensorBoardSink sink = new TensorBoardSink(dir, CLOCK)) {
            for (int i = 0; i < 60; i++) {
                sink.writeScalars(new IterationScalars(i, 0, 0, loss(i), 0.1, i == 0 ? Double.NaN : 0.5 / (1 + i)));
            }
        }
        List<Path> files = files(dir.resolve("worker-0"));
        assertThat(files).hasSize(1);
        assertThat(files.get(0).getFileName().toString())
                .matches("events\\.out\\.tfevents\\.1700000000\\.[A-Za-z0-9._-]+\\."
                        + ProcessHandle.current().pid() + "\\.\\d+");
        List<Event> events = events(files.get(0));
        assertThat(events).hasSize(61);
        assertThat(events.get(0).fileVersion()).isEqualTo("brain.Event:2");
        assertThat(events.get(0).wallTime()).isEqualTo(1_700_000_000.25);
        assertThat(events.get(0).values()).isEmpty();
        List<double[]> loss = scalars(events, "loss");
        assertThat(loss).hasSize(60);
        for (int i = 0; i < 60; i++) {
            assertThat(loss.get(i)[0]).isEqualTo(i);
            assertThat(loss.get(i)[1]).isEqualTo((float) loss(i));
        }
        assertThat(scalars(events, "learning_rate")).hasSize(60);
        List<double[]> updateNorm = scalars(events, "update_norm");
        assertThat(updateNorm).hasSize(59); // NaN at the first iteration is left out
        assertThat(updateNorm.get(0)).containsExactly(1, (float) (0.5 / 2));
        assertThat(events.subList(1, 61))
                .allSatisfy(e -> assertThat(e.wallTime()).isEqualTo(1_700_000_000.25));
    }

    /** A clock the test moves. */
    private static final class MovingClock extends Clock {
        long millis = 1_700_000_000_000L;

        @Override
        public long millis() {
            return millis;
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(millis);
        }

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            throw new UnsupportedOperationException();
        }
    }

    /**
     * The iteration scalars are written together at most a second apart; a probe record goes out at once with the
     * scalars before it, and close() writes the rest: nothing is lost, and the steps stay in order.
     */
    @Test
    void scalarsAreWrittenAtMostASecondApartAndRecordsAtOnce() throws IOException {
        MovingClock clock = new MovingClock();
        TensorBoardSink sink = new TensorBoardSink(dir, clock);
        sink.writeScalars(new IterationScalars(0, 0, 0, 1.0, 0.1, 0.5)); // a new file: written at once
        Path file = files(dir.resolve("worker-0")).get(0);
        assertThat(events(file)).hasSize(2);
        for (int i = 1; i < 10; i++) {
            clock.millis += 100;
            sink.writeScalars(new IterationScalars(i, 0, 0, 1.0, 0.1, 0.5));
        }
        assertThat(events(file)).as("0.9 s after the last write").hasSize(2);
        clock.millis += 100;
        sink.writeScalars(new IterationScalars(10, 0, 0, 1.0, 0.1, 0.5));
        assertThat(events(file)).as("1 s after it").hasSize(12);
        sink.writeScalars(new IterationScalars(11, 0, 0, 1.0, 0.1, 0.5));
        assertThat(events(file)).hasSize(12);
        sink.write(probe(12, 0, new double[] {3, 2, 1}));
        assertThat(events(file))
                .as("a record takes the pending scalars with it")
                .hasSize(14);
        sink.writeScalars(new IterationScalars(13, 0, 0, 1.0, 0.1, 0.5));
        sink.close();
        List<Event> events = events(file);
        assertThat(events).hasSize(15);
        assertThat(events.subList(1, 15).stream().mapToLong(Event::step))
                .containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L, 12L, 13L);
    }

    @Test
    void probeRecordsGiveOnePointPerStatisticAndAnEigenvalueHistogram() throws IOException {
        int[] steps = {10, 20, 30};
        double[][] eig = new double[3][];
        try (TensorBoardSink sink = new TensorBoardSink(dir, CLOCK)) {
            for (int p = 0; p < 3; p++) {
                eig[p] = eigenvalues(p);
                sink.write(probe(steps[p], 0, eig[p]));
            }
        }
        List<Event> events = runEvents(dir.resolve("worker-0"));
        for (String key : List.of(
                ProbeFields.LOSS,
                ProbeFields.TEMPERATURE,
                ProbeFields.TRACE,
                ProbeFields.NOISE_SCALE,
                ProbeFields.LAMBDA_MAX,
                ProbeFields.RANK,
                ProbeFields.PARTICIPATION_RATIO,
                ProbeFields.EFFECTIVE_RANK,
                ProbeFields.ISOTROPY_RATIO)) {
            List<double[]> points = scalars(events, "diffusion/" + key);
            assertThat(points).as(key).hasSize(3);
            assertThat(points.stream().mapToDouble(pt -> pt[0]).toArray()).containsExactly(10, 20, 30);
        }
        assertThat(scalars(events, "diffusion/trace").get(2)[1]).isEqualTo(118.5f);
        assertThat(tags(events))
                .doesNotContain(
                        "diffusion/iteration",
                        "diffusion/epoch",
                        "diffusion/worker",
                        "diffusion/num_params",
                        "diffusion/seed",
                        "diffusion/failures",
                        "diffusion/mode",
                        "diffusion/subspace_separated",
                        "diffusion/layer_trace")
                .contains("diffusion/eigenvalues");

        List<Histogram> histograms = new ArrayList<>();
        for (Event e : events) {
            for (Value v : e.values()) {
                if (v.tag().equals("diffusion/eigenvalues")) {
                    assertThat(v.simpleValue()).isNull();
                    histograms.add(v.histogram());
                }
            }
        }
        assertThat(histograms).hasSize(3);
        for (int p = 0; p < 3; p++) {
            checkHistogram(histograms.get(p), eig[p]);
        }
    }

    @Test
    void loopVerdictRecordsGoUnderTrajectoryWithTheVerdictAsACode() throws IOException {
        try (TensorBoardSink sink = new TensorBoardSink(dir, CLOCK)) {
            String[] verdicts = {"INSUFFICIENT_DATA", "NO_LOOP", "LOOP"};
            for (int k = 0; k < 3; k++) {
                sink.write(ProbeRecord.builder()
                        .put(TrajectoryFields.ITERATION, 100 * (k + 1))
                        .put(TrajectoryFields.WORKER, 0)
                        .put(TrajectoryFields.LOSS, 0.2)
                        .put(TrajectoryFields.VERDICT, verdicts[k])
                        .put(TrajectoryFields.P_VALUE, 0.5 / (k + 1))
                        .put(TrajectoryFields.MAX_RATE, 1e-3 * k)
                        .put(TrajectoryFields.PLANE_U, 3)
                        .put(TrajectoryFields.SUBSPACE_STATIONARY, true)
                        .put(TrajectoryFields.BASIS, "random")
                        .put(TrajectoryFields.BASIS_SEED, 7L)
                        .put(TrajectoryFields.FINAL, false)
                        .build());
            }
        }
        List<Event> events = runEvents(dir.resolve("worker-0"));
        assertThat(tags(events))
                .containsExactlyInAnyOrder(
                        "trajectory/loss", "trajectory/p_value", "trajectory/max_rate", "trajectory/verdict");
        assertThat(scalars(events, "trajectory/verdict"))
                .extracting(pt -> pt[0], pt -> pt[1])
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple(100.0, -2.0),
                        org.assertj.core.groups.Tuple.tuple(200.0, 0.0),
                        org.assertj.core.groups.Tuple.tuple(300.0, 1.0));
        assertThat(scalars(events, "trajectory/p_value").get(1)[1]).isEqualTo(0.25f);
    }

    @Test
    void everyVerdictHasADistinctCode() {
        Set<Integer> codes = new HashSet<>();
        for (LoopVerdict v : LoopVerdict.values()) {
            assertThat(TensorBoardSink.verdictCode(v.name())).as(v.name()).isNotNull();
            codes.add(TensorBoardSink.verdictCode(v.name()));
        }
        assertThat(codes).hasSize(LoopVerdict.values().length);
    }

    @Test
    void bookkeepingKeysAreRealRecordKeys() throws IllegalAccessException {
        Set<String> schema = new HashSet<>();
        for (Class<?> c : List.of(ProbeFields.class, TrajectoryFields.class)) {
            for (Field f : c.getFields()) {
                if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
                    schema.add((String) f.get(null));
                }
            }
        }
        assertThat(schema).containsAll(TensorBoardSink.BOOKKEEPING_KEYS);
    }

    @Test
    void twoWorkersGetTwoRunFolders() throws IOException {
        try (TensorBoardSink sink = new TensorBoardSink(dir.resolve("exp1"), CLOCK)) {
            sink.write(probe(5, 0, eigenvalues(1)));
            sink.write(probe(5, 1, eigenvalues(2)));
            sink.writeScalars(new IterationScalars(6, 0, 1, 0.3, 0.1, 0.01));
        }
        try (var s = Files.list(dir.resolve("exp1"))) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("worker-0", "worker-1");
        }
        List<Event> w0 = runEvents(dir.resolve("exp1/worker-0"));
        List<Event> w1 = runEvents(dir.resolve("exp1/worker-1"));
        assertThat(w0).hasSize(2);
        assertThat(w1).hasSize(3);
        assertThat(scalars(w0, "loss")).isEmpty();
        assertThat(scalars(w1, "loss")).hasSize(1);
        assertThat(scalars(w1, "diffusion/trace")).hasSize(1);
    }

    @Test
    void nonFiniteValuesAreLeftOut() throws IOException {
        double[] eig = {1.0, Double.NaN, 2.0, Double.POSITIVE_INFINITY};
        try (TensorBoardSink sink = new TensorBoardSink(dir, CLOCK)) {
            sink.write(ProbeRecord.builder()
                    .put("iteration", 3)
                    .put("trace", Double.NaN) // stored as null by the record
                    .put("lambda_max", Double.POSITIVE_INFINITY)
                    .put("noise_scale", 1e300) // beyond a float
                    .put("rank", 4)
                    .put("eigenvalues", eig)
                    .build());
            sink.write(ProbeRecord.builder()
                    .put("iteration", 4)
                    .put("eigenvalues", new double[] {Double.NaN})
                    .build());
            sink.writeScalars(new IterationScalars(5, 0, 0, Double.NaN, Double.NaN, Double.NaN));
        }
        List<Event> events = runEvents(dir.resolve("worker-0"));
        assertThat(events).hasSize(2); // the file version and the first record: nothing else had a finite value
        assertThat(tags(events)).containsExactlyInAnyOrder("diffusion/rank", "diffusion/eigenvalues");
        Histogram h = events.get(1).values().get(1).histogram();
        assertThat(h.num()).isEqualTo(2);
        assertThat(h.max()).isEqualTo(2.0);
        checkHistogram(h, eig);
    }

    @Test
    void concurrentWritersProduceValidFraming() throws Exception {
        int threads = 6;
        int perThread = 300;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        try (TensorBoardSink sink = new TensorBoardSink(dir, CLOCK)) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < perThread; i++) {
                        int step = thread * perThread + i;
                        // two threads share each worker's file
                        sink.writeScalars(new IterationScalars(step, 0, thread % 3, step, 0.1, 0.2));
                        if (i % 50 == 0) {
                            sink.write(probe(step, thread % 3, eigenvalues(step)));
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        Set<Integer> seen = new HashSet<>();
        for (int w = 0; w < 3; w++) {
            List<Event> events = runEvents(dir.resolve("worker-" + w)); // checks both CRCs of every record
            assertThat(events.get(0).fileVersion()).isEqualTo("brain.Event:2");
            for (double[] pt : scalars(events, "loss")) {
                assertThat(pt[1]).isEqualTo((float) pt[0]);
                assertThat((int) pt[0] / perThread % 3).isEqualTo(w);
                seen.add((int) pt[0]);
            }
            assertThat(scalars(events, "diffusion/trace")).hasSize(2 * perThread / 50);
        }
        assertThat(seen).hasSize(threads * perThread);
    }

    @Test
    void writeAfterCloseFailsClearly() throws IOException {
        TensorBoardSink sink = new TensorBoardSink(dir, CLOCK);
        sink.writeScalars(new IterationScalars(0, 0, 0, 1.0, 0.1, Double.NaN));
        sink.close();
        sink.close(); // twice is fine
        assertThatThrownBy(() -> sink.writeScalars(new IterationScalars(1, 0, 0, 1.0, 0.1, Double.NaN)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("TensorBoardSink[" + dir + "] is closed");
        assertThatThrownBy(() -> sink.write(probe(1, 0, eigenvalues(0))))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("is closed");
    }

    @Test
    void unwritableLogDirectoryGivesAClearIOException() throws IOException {
        Path notADirectory = Files.writeString(dir.resolve("runs"), "a file where the log directory should be");
        TensorBoardSink sink = new TensorBoardSink(notADirectory, CLOCK);
        assertThatThrownBy(() -> sink.writeScalars(new IterationScalars(0, 0, 0, 1.0, 0.1, 0.1)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("cannot create the TensorBoard run folder " + notADirectory.resolve("worker-0"))
                .hasMessageContaining("must be a writable directory");
    }

    @Test
    void badRecordsAndArgumentsAreRejected() {
        TensorBoardSink sink = new TensorBoardSink(dir, CLOCK);
        assertThatThrownBy(
                        () -> sink.write(ProbeRecord.builder().put("trace", 1.0).build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a TensorBoard record needs a number iteration, got none");
        assertThatThrownBy(() ->
                        sink.write(ProbeRecord.builder().put("iteration", 2.5).build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("iteration must be a whole number >= 0, got 2.5");
        assertThatThrownBy(() -> sink.write(ProbeRecord.builder()
                        .put("iteration", 2)
                        .put("worker", -1)
                        .build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("worker must be a whole number >= 0, got -1");
        assertThatThrownBy(() -> new TensorBoardSink(null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("logdir must not be null");
        assertThatThrownBy(() -> sink.runFolder(-2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("worker must be >= 0, got -2");
    }

    /**
     * Writes a small log directory for a look with TensorBoard itself: {@code mvn -pl plugin test
     * -Dtest=TensorBoardSinkTest -Dsgdnoise.tensorboard.sample=/tmp/tb-check} (a new folder: files are added).
     * Two sinks share the directory, as a DiffusionListener's and a TrajectoryListener's would.
     */
    @Test
    @EnabledIfSystemProperty(named = "sgdnoise.tensorboard.sample", matches = ".+")
    void writeSampleLogDirectory() throws IOException {
        Path logdir = Path.of(System.getProperty("sgdnoise.tensorboard.sample"));
        try (TensorBoardSink diffusion = new TensorBoardSink(logdir);
                TensorBoardSink loops = new TensorBoardSink(logdir)) {
            for (int i = 0; i < 60; i++) {
                for (int w = 0; w < 2; w++) {
                    diffusion.writeScalars(new IterationScalars(i, 0, w, loss(i) + w, 0.1, 0.5 / (1 + i)));
                    if (i % 20 == 0) {
                        diffusion.write(probe(i, w, eigenvalues(i + w)));
                    }
                }
                if (i == 59) {
                    loops.write(ProbeRecord.builder()
                            .put("iteration", i)
                            .put("worker", 0)
                            .put("verdict", "NO_LOOP")
                            .put("p_value", 0.4)
                            .put("max_rate", 2e-4)
                            .build());
                }
            }
        }
        assertThat(files(logdir.resolve("worker-0"))).hasSizeGreaterThanOrEqualTo(2);
    }
}

package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.probe.ProbeFields;
import org.sgdnoise.testing.LogCapture;
import org.sgdnoise.trajectory.TrajectoryFields;

/** {@link SgdnoiseMetrics} on Micrometer's {@link SimpleMeterRegistry}: names, tags, exact values, laziness. */
class SgdnoiseMetricsTest {

    /** Every gauge a worker has, in the class Javadoc's order. */
    static final List<String> WORKER_GAUGES = List.of(
            "sgdnoise.diffusion.iteration",
            "sgdnoise.diffusion.trace",
            "sgdnoise.diffusion.lambda.max",
            "sgdnoise.diffusion.rank",
            "sgdnoise.diffusion.participation.ratio",
            "sgdnoise.diffusion.effective.rank",
            "sgdnoise.diffusion.isotropy.ratio",
            "sgdnoise.diffusion.noise.scale.unbiased",
            "sgdnoise.diffusion.temperature",
            "sgdnoise.training.loss",
            "sgdnoise.training.learning.rate",
            "sgdnoise.training.update.norm",
            "sgdnoise.trajectory.p.value",
            "sgdnoise.trajectory.max.rate");

    /** A probe record as the DiffusionListener writes one (the keys the gauges read, and a few others). */
    static ProbeRecord probe(int worker, int iteration, double trace, String[] layers, double[] shares) {
        return ProbeRecord.builder()
                .put(ProbeFields.ITERATION, iteration)
                .put(ProbeFields.EPOCH, 0)
                .put(ProbeFields.WORKER, worker)
                .put(ProbeFields.LOSS, 1.25)
                .put(ProbeFields.TEMPERATURE, Double.NaN) // unknown sampling scheme: written as null
                .put(ProbeFields.TRACE, trace)
                .put(ProbeFields.NOISE_SCALE, 90.0) // the plug-in: no gauge
                .put(ProbeFields.NOISE_SCALE_UNBIASED, 3.5)
                .put(ProbeFields.LAMBDA_MAX, trace / 4)
                .put(ProbeFields.RANK, 7)
                .put(ProbeFields.PARTICIPATION_RATIO, 2.75)
                .put(ProbeFields.EFFECTIVE_RANK, 4.125)
                .put(ProbeFields.ISOTROPY_RATIO, 11.5)
                .put(ProbeFields.LAYER_NAMES, layers)
                .put(ProbeFields.LAYER_TRACE_SHARE, shares)
                .build();
    }

    static ProbeRecord probe(int worker, int iteration, double trace) {
        return probe(worker, iteration, trace, new String[] {"0", "1"}, new double[] {0.625, 0.375});
    }

    static ProbeRecord verdict(int worker, double pValue, double maxRate) {
        return ProbeRecord.builder()
                .put(TrajectoryFields.ITERATION, 2000)
                .put(TrajectoryFields.WORKER, worker)
                .put(TrajectoryFields.VERDICT, "LOOP")
                .put(TrajectoryFields.P_VALUE, pValue)
                .put(TrajectoryFields.MAX_RATE, maxRate)
                .build();
    }

    /** The value of the one gauge {@code name} with these tags (key, value, ...). */
    static double gauge(MeterRegistry registry, String name, String... tags) {
        return registry.get(name).tags(tags).gauge().value();
    }

    @Test
    void everyGaugeOfWorkerZeroReadsNaNBeforeAnyRecord() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (LogCapture micrometer = new LogCapture(MeterRegistry.class)) {
            new SgdnoiseMetrics("lenet").bindTo(registry);
            // Micrometer says so (WARN once, then DEBUG) when a gauge is registered twice
            assertThat(micrometer.messages(Level.WARN)).isEmpty();
            assertThat(micrometer.messages(Level.DEBUG)).noneMatch(m -> m.contains("already registered"));
        }

        assertThat(registry.getMeters()).hasSize(WORKER_GAUGES.size()).allMatch(m -> m instanceof Gauge);
        assertThat(registry.getMeters().stream().map(m -> m.getId().getName()))
                .containsExactlyInAnyOrderElementsOf(WORKER_GAUGES);
        for (Meter m : registry.getMeters()) {
            assertThat(m.getId().getTag("model")).isEqualTo("lenet");
            assertThat(m.getId().getTag("worker")).isEqualTo("0");
            assertThat(((Gauge) m).value()).as(m.getId().getName()).isNaN();
        }
    }

    @Test
    void gaugesReadTheLatestProbeRecordExactly() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        SgdnoiseMetrics metrics = new SgdnoiseMetrics("lenet");
        metrics.bindTo(registry);

        metrics.write(probe(0, 100, 0.5));
        metrics.write(probe(0, 200, 0.8125));

        String[] w0 = {"model", "lenet", "worker", "0"};
        assertThat(gauge(registry, "sgdnoise.diffusion.iteration", w0)).isEqualTo(200.0);
        assertThat(gauge(registry, "sgdnoise.diffusion.trace", w0)).isEqualTo(0.8125);
        assertThat(gauge(registry, "sgdnoise.diffusion.lambda.max", w0)).isEqualTo(0.8125 / 4);
        assertThat(gauge(registry, "sgdnoise.diffusion.rank", w0)).isEqualTo(7.0);
        assertThat(gauge(registry, "sgdnoise.diffusion.participation.ratio", w0))
                .isEqualTo(2.75);
        assertThat(gauge(registry, "sgdnoise.diffusion.effective.rank", w0)).isEqualTo(4.125);
        assertThat(gauge(registry, "sgdnoise.diffusion.isotropy.ratio", w0)).isEqualTo(11.5);
        assertThat(gauge(registry, "sgdnoise.diffusion.noise.scale.unbiased", w0))
                .isEqualTo(3.5);
        // null in the record (an undefined temperature) reads NaN
        assertThat(gauge(registry, "sgdnoise.diffusion.temperature", w0)).isNaN();
        // a probe record is not a verdict, and sends no scalars
        assertThat(gauge(registry, "sgdnoise.trajectory.p.value", w0)).isNaN();
        assertThat(gauge(registry, "sgdnoise.training.loss", w0)).isNaN();
    }

    @Test
    void iterationScalarsAreReadAsTheTrainingGauges() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        SgdnoiseMetrics metrics = new SgdnoiseMetrics();
        metrics.bindTo(registry);

        metrics.writeScalars(new IterationScalars(0, 0, 0, 2.5, 0.1, Double.NaN));
        metrics.writeScalars(new IterationScalars(1, 0, 0, 2.25, 0.05, 0.375));

        String[] w0 = {"model", SgdnoiseMetrics.DEFAULT_MODEL, "worker", "0"};
        assertThat(gauge(registry, "sgdnoise.training.loss", w0)).isEqualTo(2.25);
        assertThat(gauge(registry, "sgdnoise.training.learning.rate", w0)).isEqualTo(0.05);
        assertThat(gauge(registry, "sgdnoise.training.update.norm", w0)).isEqualTo(0.375);
        assertThat(gauge(registry, "sgdnoise.diffusion.trace", w0)).isNaN();
    }

    @Test
    void verdictRecordsAreReadAsTheTrajectoryGaugesAndNullAsNaN() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        SgdnoiseMetrics metrics = new SgdnoiseMetrics("m");
        metrics.bindTo(registry);
        metrics.write(probe(0, 100, 0.5));

        metrics.write(verdict(0, 0.001, 0.0625));
        assertThat(gauge(registry, "sgdnoise.trajectory.p.value", "worker", "0"))
                .isEqualTo(0.001);
        assertThat(gauge(registry, "sgdnoise.trajectory.max.rate", "worker", "0"))
                .isEqualTo(0.0625);
        // a verdict leaves the probe's gauges as they were
        assertThat(gauge(registry, "sgdnoise.diffusion.trace", "worker", "0")).isEqualTo(0.5);

        metrics.write(verdict(0, Double.NaN, 0.125));
        assertThat(gauge(registry, "sgdnoise.trajectory.p.value", "worker", "0"))
                .isNaN();
        assertThat(gauge(registry, "sgdnoise.trajectory.max.rate", "worker", "0"))
                .isEqualTo(0.125);
    }

    @Test
    void aWorkerFirstSeenAfterBindingGetsItsOwnGauges() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        SgdnoiseMetrics metrics = new SgdnoiseMetrics("lenet");
        metrics.bindTo(registry);
        metrics.write(probe(0, 100, 0.5));
        assertThat(registry.find("sgdnoise.diffusion.trace").tag("worker", "1").gauge())
                .isNull();

        metrics.write(probe(1, 100, 0.75));
        metrics.writeScalars(new IterationScalars(101, 0, 1, 1.5, 0.1, 0.25));

        assertThat(gauge(registry, "sgdnoise.diffusion.trace", "worker", "1")).isEqualTo(0.75);
        assertThat(gauge(registry, "sgdnoise.training.loss", "worker", "1")).isEqualTo(1.5);
        assertThat(gauge(registry, "sgdnoise.diffusion.trace", "worker", "0")).isEqualTo(0.5);
        assertThat(gauge(registry, "sgdnoise.training.loss", "worker", "0")).isNaN();
        for (String name : WORKER_GAUGES) {
            assertThat(registry.find(name).gauges()).as(name).hasSize(2);
        }
    }

    @Test
    void eachLayerGetsAShareGaugeTaggedWithItsNameWhenFirstSeen() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        SgdnoiseMetrics metrics = new SgdnoiseMetrics("lenet");
        metrics.bindTo(registry);
        assertThat(registry.find("sgdnoise.diffusion.layer.trace.share").gauges())
                .isEmpty();

        metrics.write(probe(0, 100, 0.5, new String[] {"conv", "dense"}, new double[] {0.25, 0.75}));
        assertThat(gauge(registry, "sgdnoise.diffusion.layer.trace.share", "worker", "0", "layer", "conv"))
                .isEqualTo(0.25);
        assertThat(gauge(registry, "sgdnoise.diffusion.layer.trace.share", "worker", "0", "layer", "dense"))
                .isEqualTo(0.75);

        // A layer missing from a later record reads NaN; a new one appears.
        metrics.write(probe(0, 200, 0.5, new String[] {"dense", "out"}, new double[] {0.5, 0.5}));
        assertThat(gauge(registry, "sgdnoise.diffusion.layer.trace.share", "layer", "conv"))
                .isNaN();
        assertThat(gauge(registry, "sgdnoise.diffusion.layer.trace.share", "layer", "dense"))
                .isEqualTo(0.5);
        assertThat(gauge(registry, "sgdnoise.diffusion.layer.trace.share", "layer", "out"))
                .isEqualTo(0.5);
        assertThat(registry.find("sgdnoise.diffusion.layer.trace.share").gauges())
                .hasSize(3);
    }

    @Test
    void aRegistryBoundAfterRecordsGetsEveryWorkerAndLayerSeenSoFar() {
        SgdnoiseMetrics metrics = new SgdnoiseMetrics("lenet");
        SimpleMeterRegistry first = new SimpleMeterRegistry();
        metrics.bindTo(first);
        metrics.write(probe(0, 100, 0.5));
        metrics.write(probe(2, 100, 0.25));

        SimpleMeterRegistry second = new SimpleMeterRegistry();
        metrics.bindTo(second);
        metrics.bindTo(second); // again: nothing more

        for (MeterRegistry r : List.of(first, second)) {
            assertThat(r.getMeters()).hasSize(2 * WORKER_GAUGES.size() + 2 * 2);
            assertThat(gauge(r, "sgdnoise.diffusion.trace", "worker", "2")).isEqualTo(0.25);
            assertThat(gauge(r, "sgdnoise.diffusion.layer.trace.share", "worker", "2", "layer", "1"))
                    .isEqualTo(0.375);
        }
        // a worker seen later appears in both
        metrics.writeScalars(new IterationScalars(5, 0, 3, 0.5, 0.1, 0.1));
        assertThat(gauge(first, "sgdnoise.training.loss", "worker", "3")).isEqualTo(0.5);
        assertThat(gauge(second, "sgdnoise.training.loss", "worker", "3")).isEqualTo(0.5);
    }

    @Test
    void gaugesKeepReadingAfterTheBinderIsUnreachableAndCollected() throws InterruptedException {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        bindAndWriteThenForget(registry);

        // Micrometer gauges hold their state weakly unless told otherwise: without strong references these
        // would read NaN after a collection.
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertThat(gauge(registry, "sgdnoise.diffusion.trace", "worker", "0")).isEqualTo(0.5);
        assertThat(gauge(registry, "sgdnoise.training.loss", "worker", "0")).isEqualTo(2.5);
        assertThat(gauge(registry, "sgdnoise.diffusion.layer.trace.share", "layer", "0"))
                .isEqualTo(0.625);
    }

    private static void bindAndWriteThenForget(MeterRegistry registry) {
        SgdnoiseMetrics metrics = new SgdnoiseMetrics("lenet");
        metrics.bindTo(registry);
        metrics.write(probe(0, 100, 0.5));
        metrics.writeScalars(new IterationScalars(100, 0, 0, 2.5, 0.1, 0.2));
    }

    @Test
    void aGaugeTheRegistryRefusesIsWarnedAboutOnceAndTheOthersStillWork() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        // Taken already by a counter with the same tags: registering a gauge there throws in Micrometer.
        registry.counter("sgdnoise.training.loss", "model", "lenet", "worker", "0");
        registry.counter("sgdnoise.training.loss", "model", "lenet", "worker", "1");
        SgdnoiseMetrics metrics = new SgdnoiseMetrics("lenet");
        try (LogCapture logs = new LogCapture(SgdnoiseMetrics.class)) {
            metrics.bindTo(registry);
            metrics.write(probe(1, 100, 0.5));

            assertThat(logs.messages(Level.WARN))
                    .singleElement()
                    .asString()
                    .contains("refused the gauge sgdnoise.training.loss", "worker=0", "other tag keys");
        }
        assertThat(gauge(registry, "sgdnoise.diffusion.trace", "worker", "1")).isEqualTo(0.5);
        assertThat(registry.find("sgdnoise.training.loss").gauges()).isEmpty();
    }

    @Test
    void recordsOfNeitherKindAreIgnored() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        SgdnoiseMetrics metrics = new SgdnoiseMetrics("lenet");
        metrics.bindTo(registry);
        metrics.write(new IterationScalars(3, 0, 4, 1.0, 0.1, 0.1).toRecord());
        metrics.write(null);
        metrics.writeScalars(null);

        assertThat(registry.getMeters()).hasSize(WORKER_GAUGES.size());
        assertThat(registry.getMeters()).allMatch(m -> Double.isNaN(((Gauge) m).value()));
    }

    @Test
    void workersWritingConcurrentlyWhileRegistriesAreBoundEachGetOneSetOfGauges() throws Exception {
        SgdnoiseMetrics metrics = new SgdnoiseMetrics("lenet");
        List<SimpleMeterRegistry> registries = List.of(new SimpleMeterRegistry(), new SimpleMeterRegistry());
        int workers = 4;
        ExecutorService pool = Executors.newFixedThreadPool(workers + 1);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                int worker = w;
                done.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < 200; i++) {
                        metrics.writeScalars(new IterationScalars(i, 0, worker, i, 0.1, 0.1));
                        if (i % 10 == 0) {
                            metrics.write(probe(worker, i, worker + 0.5));
                        }
                    }
                    return null;
                }));
            }
            done.add(pool.submit(() -> {
                start.await();
                registries.forEach(metrics::bindTo);
                return null;
            }));
            start.countDown();
            for (Future<?> f : done) {
                f.get(30, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        for (SimpleMeterRegistry r : registries) {
            assertThat(r.getMeters()).hasSize(workers * (WORKER_GAUGES.size() + 2));
            for (int w = 0; w < workers; w++) {
                String worker = Integer.toString(w);
                assertThat(gauge(r, "sgdnoise.training.loss", "worker", worker)).isEqualTo(199.0);
                assertThat(gauge(r, "sgdnoise.diffusion.iteration", "worker", worker))
                        .isEqualTo(190.0);
                assertThat(gauge(r, "sgdnoise.diffusion.trace", "worker", worker))
                        .isEqualTo(w + 0.5);
            }
        }
    }

    @Test
    void badArgumentsAreRefusedWithTheValue() {
        assertThatThrownBy(() -> new SgdnoiseMetrics(" "))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("model must be a non-blank name, got \" \"");
        assertThatThrownBy(() -> new SgdnoiseMetrics(null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("model must be a non-blank name, got null");
        assertThatThrownBy(() -> new SgdnoiseMetrics().bindTo(null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("registry must not be null, got null");
        assertThat(new SgdnoiseMetrics("lenet").model()).isEqualTo("lenet");
    }
}

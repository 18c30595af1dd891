package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bytedeco.javacpp.Pointer;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.sgdnoise.testing.TestNetworks;
import org.slf4j.LoggerFactory;

/**
 * The soak (docs/SOAK.md): 20,000 iterations with a probe every 10 (sketch on, JSONL and CSV sinks) and the
 * trajectory listener recording every step (file on, loop analyses every 1,000 records). The Java heap
 * after a full GC, sampled every 1,000 iterations, stays within 5% of its level after the warm-up (4,000
 * iterations: the ring buffer full, the sketch full, two analyses done). The process's resident memory
 * is sampled too (reported, not asserted: the native allocator's arenas make it coarse). Tagged
 * {@code soak}; {@code .ci/run} runs it with the other tests. Writes its samples to
 * {@code target/soak/heap.csv}.
 */
@Tag("soak")
class SoakTest {

    static final int ITERATIONS = 20_000;
    static final int SAMPLE_EVERY = 1_000;
    static final int WARM_UP = 4_000;

    /** Samples the heap after GC, and the resident set, every SAMPLE_EVERY iterations. */
    static final class HeapSampler extends BaseTrainingListener {
        final List<long[]> samples = new ArrayList<>(); // iteration, heap bytes, resident bytes

        @Override
        public void iterationDone(Model model, int iteration, int epoch) {
            if ((iteration + 1) % SAMPLE_EVERY == 0) {
                samples.add(new long[] {iteration + 1, heapAfterGc(), Pointer.physicalBytes()});
            }
        }
    }

    /**
     * The live heap: ND4J frees its buffers through phantom references, and until its deallocator threads have
     * processed them each freed buffer still holds a few small heap objects (a reference, an id string, a map
     * entry): tens of MB after a burst of probes. So collect, let the deallocators run, and collect again
     * until the used heap stops falling (within 0.5% twice in a row, at most 20 rounds).
     */
    static long heapAfterGc() {
        var mem = ManagementFactory.getMemoryMXBean();
        long min = Long.MAX_VALUE;
        int steady = 0;
        for (int round = 0; round < 20 && steady < 2; round++) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            long used = mem.getHeapMemoryUsage().getUsed();
            steady = used > min * 0.995 ? steady + 1 : 0;
            min = Math.min(min, used);
        }
        return min;
    }

    @Test
    void heapStaysFlatOverTwentyThousandIterations() throws Exception {
        Path out = Files.createDirectories(Path.of("target/soak"));
        Logger listenersLog = (Logger) LoggerFactory.getLogger("org.sgdnoise");
        Level old = listenersLog.getLevel();
        listenersLog.setLevel(Level.WARN); // 2,000 probe lines would only fill the CI log
        try {
            MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
            DiffusionListener noise = new DiffusionListener.Builder()
                    .overheadBudget(0)
                    .probeEvery(10)
                    .gradientsPerProbe(16)
                    .sketchSize(16)
                    .jsonlSink(out.resolve("metrics.jsonl"))
                    .csvSink(out.resolve("metrics.csv"))
                    .build();
            TrajectoryListener loops = new TrajectoryListener.Builder()
                    .overheadBudget(0)
                    .dimensions(8)
                    .capacity(2_000)
                    .analyzeEvery(1_000)
                    .trajectoryFile(out.resolve("trajectory.csv"))
                    .jsonlSink(out.resolve("loops.jsonl"))
                    .build();
            HeapSampler sampler = new HeapSampler();
            net.setListeners(noise, loops, sampler);
            int batches = 20;
            long t0 = System.nanoTime();
            net.fit(
                    new ListDataSetIterator<>(
                            TestNetworks.vectors(16 * batches, 5, DataType.FLOAT)
                                    .asList(),
                            16),
                    ITERATIONS / batches);
            double seconds = (System.nanoTime() - t0) / 1e9;
            noise.close();
            loops.close();

            assertThat(net.getIterationCount()).isEqualTo(ITERATIONS);
            assertThat(noise.probeCount()).isEqualTo(ITERATIONS / 10);
            assertThat(noise.failureCount() + noise.sinkFailureCount() + loops.failureCount())
                    .isZero();
            assertThat(Files.readAllLines(out.resolve("metrics.jsonl"))).hasSize(ITERATIONS / 10);
            assertThat(Files.readAllLines(out.resolve("loops.jsonl"))).hasSize(ITERATIONS / 1_000);

            long base = 0;
            long baseOff = 0;
            StringBuilder csv = new StringBuilder(
                    "iteration,heap_after_gc_bytes,resident_bytes,heap_vs_warmup,resident_vs_warmup\n");
            for (long[] s : sampler.samples) {
                if (s[0] == WARM_UP) {
                    base = s[1];
                    baseOff = s[2];
                }
            }
            assertThat(base).isPositive();
            double worst = 0;
            for (long[] s : sampler.samples) {
                double rel = (double) s[1] / base - 1;
                double relOff = baseOff > 0 ? (double) s[2] / baseOff - 1 : Double.NaN;
                csv.append(String.format(Locale.ROOT, "%d,%d,%d,%.4f,%.4f%n", s[0], s[1], s[2], rel, relOff));
                if (s[0] > WARM_UP) {
                    worst = Math.max(worst, Math.abs(rel));
                }
            }
            csv.append(String.format(
                    Locale.ROOT,
                    "# %d iterations in %.1f s; worst heap deviation after warm-up %.2f%%%n",
                    ITERATIONS,
                    seconds,
                    100 * worst));
            Files.writeString(out.resolve("heap.csv"), csv);
            System.out.print(csv);
            assertThat(sampler.samples).hasSize(ITERATIONS / SAMPLE_EVERY);
            assertThat(worst)
                    .as("heap after GC against its level at iteration %d (target/soak/heap.csv)", WARM_UP)
                    .isLessThanOrEqualTo(0.05);
        } finally {
            listenersLog.setLevel(old);
        }
    }
}

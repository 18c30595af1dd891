package org.sgdnoise.samples.cli;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.random.impl.GaussianDistribution;
import org.nd4j.linalg.api.rng.Random;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.UserInputException;
import org.sgdnoise.sketch.FrequentDirections;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench-sketch}: the Frequent Directions sketch on a synthetic stream of float32 gradients at a
 * given d and ℓ: insert cost per gradient (shrinks included, generation excluded), the shrink's achieved
 * GFLOP/s against a plain ND4J sgemm of the same shape measured in the same process, and peak memory
 * (resident set, from /proc/self/status, and Java heap). Run one configuration per JVM so the peaks are
 * its own; for d = 10⁷ give ND4J room with {@code -Dorg.bytedeco.javacpp.maxbytes=20G}.
 */
@Command(
        name = "bench-sketch",
        mixinStandardHelpOptions = true,
        description = "Benchmarks the Frequent Directions sketch at one d and l; prints one markdown row.")
public final class BenchSketchCommand implements Callable<Integer> {

    @Option(names = "--d", required = true, description = "row length d (e.g. 1e6)")
    double dOption;

    @Option(names = "--ell", defaultValue = "64", description = "sketch size l (default: ${DEFAULT-VALUE})")
    int ell;

    @Option(
            names = "--batch",
            defaultValue = "64",
            description = "rows per insert, like one probe's k (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--shrinks", defaultValue = "3", description = "shrinks to measure (default: ${DEFAULT-VALUE})")
    int shrinks;

    @Option(names = "--out", description = "append the JSON line to this file")
    Path out;

    @Override
    public Integer call() throws Exception {
        long d = (long) dOption;
        if (d < 1 || ell < 2 || batch < 1 || shrinks < 1) {
            throw new UserInputException("need d >= 1, ell >= 2, batch >= 1, shrinks >= 1");
        }
        Nd4j.create(DataType.FLOAT, 1, 1); // load ND4J's native code before the baseline
        long baselineRss = currentRssBytes();
        FrequentDirections fd = new FrequentDirections(d, ell, ell, DataType.FLOAT);
        INDArray rows = Nd4j.create(DataType.FLOAT, batch, d);
        long insertNanos = 0;
        long inserted = 0;
        Random rng = Nd4j.getRandom();
        rng.setSeed(7);
        // Warm-up insert (JIT, BLAS threads) not counted.
        Nd4j.getExecutioner().exec(new GaussianDistribution(rows, 0.0, 1.0), rng);
        fd.insert(rows);
        long warmShrinks = fd.shrinks();
        long warmShrinkNanos = fd.shrinkNanos();
        double warmFlops = fd.shrinkFlops();
        while (fd.shrinks() - warmShrinks < shrinks) {
            Nd4j.getExecutioner().exec(new GaussianDistribution(rows, 0.0, 1.0), rng);
            long t = System.nanoTime();
            fd.insert(rows);
            insertNanos += System.nanoTime() - t;
            inserted += batch;
        }
        // Peaks are read before the reference sgemm below allocates its own arrays.
        long rss = peakRssBytes();
        long heap = peakHeapBytes();
        double shrinkSeconds = (fd.shrinkNanos() - warmShrinkNanos) / 1e9;
        double shrinkGflops = (fd.shrinkFlops() - warmFlops) / 1e9 / shrinkSeconds;
        // The reference is the more demanding of two plain sgemms with the shrink's shape: one product over
        // up to 2^20 columns, and one over a single storage block (the shape the shrink actually runs).
        double sgemm = Math.max(
                sgemmGflops(ell - 1, 2 * ell, Math.min(d, 1L << 20)), sgemmGflops(ell - 1, 2 * ell, fd.blockColumns()));
        double perGradientMs = insertNanos / 1e6 / inserted;
        long batchBytes = (long) batch * d * 4;
        String row = String.format(
                Locale.ROOT,
                "| %.0e | %d | %.3f ms | %.2f s | %.1f | %.1f | %.0f%% "
                        + "| %.2f GB | %.2f GB | %.2f GB | %.2f GB | %.0f MB |",
                (double) d,
                ell,
                perGradientMs,
                shrinkSeconds / shrinks,
                shrinkGflops,
                sgemm,
                100 * shrinkGflops / sgemm,
                fd.memoryBytes() / 1e9,
                batchBytes / 1e9,
                baselineRss / 1e9,
                (rss - baselineRss) / 1e9,
                heap / 1e6);
        System.out.println(row);
        if (out != null) {
            String json = String.format(
                    Locale.ROOT,
                    "{\"d\":%d,\"ell\":%d,\"batch\":%d,\"omp_num_threads\":\"%s\",\"insert_ms_per_gradient\":%.5f,"
                            + "\"shrink_seconds\":%.4f,\"shrink_gflops\":%.3f,\"sgemm_gflops\":%.3f,"
                            + "\"sketch_bytes\":%d,"
                            + "\"batch_bytes\":%d,\"baseline_rss_bytes\":%d,\"peak_rss_bytes\":%d,"
                            + "\"peak_heap_bytes\":%d}%n",
                    d,
                    ell,
                    batch,
                    System.getenv("OMP_NUM_THREADS"),
                    perGradientMs,
                    shrinkSeconds / shrinks,
                    shrinkGflops,
                    sgemm,
                    fd.memoryBytes(),
                    batchBytes,
                    baselineRss,
                    rss,
                    heap);
            Files.writeString(out, json, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
        return 0;
    }

    /** GFLOP/s of a plain (m×k)·(k×n) float32 product with ND4J, best of 3. */
    static double sgemmGflops(long m, long k, long n) {
        INDArray a = Nd4j.rand(DataType.FLOAT, m, k);
        INDArray b = Nd4j.rand(DataType.FLOAT, k, n);
        INDArray c = Nd4j.create(DataType.FLOAT, m, n);
        a.mmuli(b, c);
        double best = 0;
        for (int i = 0; i < 3; i++) {
            long t = System.nanoTime();
            a.mmuli(b, c);
            double s = (System.nanoTime() - t) / 1e9;
            best = Math.max(best, 2.0 * m * k * n / 1e9 / s);
        }
        return best;
    }

    static long peakRssBytes() {
        return statusBytes("VmHWM:");
    }

    static long currentRssBytes() {
        return statusBytes("VmRSS:");
    }

    private static long statusBytes(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (Exception e) {
            return -1;
        }
        return -1;
    }

    static long peakHeapBytes() {
        long sum = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) {
                sum += p.getPeakUsage().getUsed();
            }
        }
        return sum;
    }
}

package org.sgdnoise.samples.bench;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.Supplier;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.gradients.internal.RandomStateGuard;

/**
 * Training time with listeners over without, measured in one process: two networks from the same seed train on
 * the same batches in alternating blocks of {@link #BLOCK_ITERATIONS} iterations (which one goes first
 * alternates too), each drawing its dropout masks from its own copy of ND4J's random state, as if it trained
 * alone; the machine's drift hits both alike. The iterations are grouped into <em>pairs</em> of
 * {@code pairIterations} iterations (one probe each when that is the probe interval); the result holds the
 * ratio of total training times, the ratio of each pair, their median, and whether the two final parameter
 * vectors are bit-identical (the listeners must not disturb training).
 *
 * <p>Each block is timed twice: by the wall clock and by the CPU time of the whole process (every thread: the
 * training thread, OpenMP's, the JIT's and the collector's, and any listener worker). Time the machine gives to
 * other processes shows in the first and not in the second; work the listeners cause on any thread of the
 * process shows in both.
 */
public final class Interleaved {

    /** Iterations per block: each network trains this many before the other takes over. */
    public static final int BLOCK_ITERATIONS = 10;

    /** Mean minibatch loss over this many iterations at the start and at the end, reported beside the times. */
    static final int LOSS_WINDOW = 10;

    private Interleaved() {}

    /**
     * One interleaved measurement.
     *
     * @param iterations training iterations of each network
     * @param pairIterations iterations per pair
     * @param blockIterations iterations per alternating block
     * @param trainSecondsWith total training time of the network with listeners, s
     * @param trainSecondsWithout total training time of the network without, s
     * @param ratio {@code trainSecondsWith / trainSecondsWithout}
     * @param pairRatios with over without, per pair
     * @param medianPairRatio their median
     * @param paramsIdentical whether the final parameters are bit-identical
     * @param lossFirst mean minibatch loss of the first {@value #LOSS_WINDOW} iterations (network without)
     * @param lossLast mean minibatch loss of the last {@value #LOSS_WINDOW} iterations (network without)
     * @param cpuSecondsWith the process's CPU time over the blocks of the network with listeners, s
     * @param cpuSecondsWithout the process's CPU time over the blocks of the network without, s
     * @param cpuRatio {@code cpuSecondsWith / cpuSecondsWithout}
     * @param cpuPairRatios the CPU-time ratio of each pair
     * @param medianCpuPairRatio their median
     */
    public record Result(
            int iterations,
            int pairIterations,
            int blockIterations,
            double trainSecondsWith,
            double trainSecondsWithout,
            double ratio,
            double[] pairRatios,
            double medianPairRatio,
            boolean paramsIdentical,
            double lossFirst,
            double lossLast,
            double cpuSecondsWith,
            double cpuSecondsWithout,
            double cpuRatio,
            double[] cpuPairRatios,
            double medianCpuPairRatio) {}

    /**
     * Trains two networks from {@code build} on {@code batches}, the first with the listeners that {@code attach}
     * adds (and returns, to be closed at the end), the second without.
     *
     * @param label the name in progress lines
     * @param build builds an initialised network from a fixed seed; called twice
     * @param attach adds the listeners to the network and returns them
     * @param pairIterations iterations per pair; &gt; 0
     * @param progress where a line per pair goes
     */
    public static Result run(
            String label,
            Supplier<?> build,
            Function<Object, List<AutoCloseable>> attach,
            List<DataSet> batches,
            int pairIterations,
            PrintStream progress)
            throws Exception {
        if (pairIterations <= 0) {
            throw new IllegalArgumentException("pairIterations must be > 0, got " + pairIterations);
        }
        Object with = build.get();
        Object without = build.get();
        List<AutoCloseable> listeners = attach.apply(with);
        RandomStateGuard[] states = {RandomStateGuard.save(), RandomStateGuard.save()};
        int n = batches.size();
        int pairs = Math.max(1, (n + pairIterations - 1) / pairIterations);
        double[] tWith = new double[pairs];
        double[] tWithout = new double[pairs];
        double[] cWith = new double[pairs];
        double[] cWithout = new double[pairs];
        double[] loss = new double[n];
        for (int b0 = 0, j = 0; b0 < n; b0 += BLOCK_ITERATIONS, j++) {
            int b1 = Math.min(n, b0 + BLOCK_ITERATIONS);
            boolean withFirst = j % 2 == 0;
            int pair = Math.min(pairs - 1, b0 / pairIterations);
            for (int pass = 0; pass < 2; pass++) {
                boolean w = (pass == 0) == withFirst;
                Object net = w ? with : without;
                states[w ? 0 : 1].restore();
                long t = System.nanoTime();
                double c = processCpuSeconds();
                for (int i = b0; i < b1; i++) {
                    UserModels.fit(net, batches.get(i));
                    if (!w) {
                        loss[i] = UserModels.score(net); // a field read, outside the other network's timing
                    }
                }
                double sec = (System.nanoTime() - t) / 1e9;
                double cpu = processCpuSeconds() - c;
                states[w ? 0 : 1] = RandomStateGuard.save();
                (w ? tWith : tWithout)[pair] += sec;
                (w ? cWith : cWithout)[pair] += cpu;
            }
            boolean pairDone = b1 == n || Math.min(pairs - 1, b1 / pairIterations) != pair;
            if (pairDone && progress != null) {
                progress.printf(
                        Locale.ROOT,
                        "[bench] %s: interleaved pair %d/%d, ratio %.3f (CPU time %.3f)%n",
                        label,
                        pair + 1,
                        pairs,
                        tWith[pair] / tWithout[pair],
                        cWith[pair] / cWithout[pair]);
            }
        }
        for (AutoCloseable l : listeners) {
            l.close();
        }
        double sumWith = Arrays.stream(tWith).sum();
        double sumWithout = Arrays.stream(tWithout).sum();
        double cpuWith = Arrays.stream(cWith).sum();
        double cpuWithout = Arrays.stream(cWithout).sum();
        double[] ratios = new double[pairs];
        double[] cpuRatios = new double[pairs];
        for (int p = 0; p < pairs; p++) {
            ratios[p] = tWith[p] / tWithout[p];
            cpuRatios[p] = cWith[p] / cWithout[p];
        }
        int w = Math.min(LOSS_WINDOW, n);
        return new Result(
                n,
                pairIterations,
                BLOCK_ITERATIONS,
                sumWith,
                sumWithout,
                sumWith / sumWithout,
                ratios,
                median(ratios),
                Arrays.equals(UserModels.paramBytes(with), UserModels.paramBytes(without)),
                Arrays.stream(loss, 0, w).average().orElse(Double.NaN),
                Arrays.stream(loss, n - w, n).average().orElse(Double.NaN),
                cpuWith,
                cpuWithout,
                cpuWith / cpuWithout,
                cpuRatios,
                median(cpuRatios));
    }

    /** The CPU time of every thread of this process, s; NaN where the JVM cannot say. */
    static double processCpuSeconds() {
        long ns = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime()
                : -1;
        return ns < 0 ? Double.NaN : ns / 1e9;
    }

    /** The median of {@code v} (the mean of the middle two for an even length). Not modified: {@code v}. */
    public static double median(double[] v) {
        if (v.length == 0) {
            return Double.NaN;
        }
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
    }
}

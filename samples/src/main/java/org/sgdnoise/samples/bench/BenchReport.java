package org.sgdnoise.samples.bench;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import org.sgdnoise.listeners.DiffusionListener;
import org.sgdnoise.listeners.TrajectoryListener;

/**
 * The contents of {@code bench.json}, written by Jackson with snake_case names; sections that did not run are
 * left out.
 *
 * @param ompNumThreads the {@code OMP_NUM_THREADS} environment variable, or null when unset
 * @param cpus available processors
 * @param java the Java version
 * @param seed the seed of the networks and batches
 * @param quickstartInterleaved the quick start's interleaved measurement (listener with probe interval and k)
 * @param quickstart the quick start as alternating runs in this process
 * @param matrix the user-model matrix
 * @param torch the PyTorch peer ({@code --torch})
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record BenchReport(
        String ompNumThreads,
        int cpus,
        String java,
        long seed,
        Interleaved.Result quickstartInterleaved,
        Quickstart quickstart,
        Matrix matrix,
        TorchPeer.Result torch) {

    /**
     * The quick start with probe interval 0 against the given one, alternating runs in this process.
     *
     * @param reps pairs of runs
     * @param probeInterval the probe interval of the runs with the listener
     * @param maxIterations the iteration limit, or null for one epoch
     * @param trainSecondsProbeInterval0 times without probes, s
     * @param trainSecondsDefault times with probes, s
     * @param medianProbeInterval0 their median, s
     * @param medianDefault their median, s
     * @param overhead {@code medianDefault / medianProbeInterval0 - 1}
     * @param paramsIdentical per pair, whether the final parameter hashes agree
     */
    public record Quickstart(
            int reps,
            int probeInterval,
            Long maxIterations,
            List<Double> trainSecondsProbeInterval0,
            List<Double> trainSecondsDefault,
            double medianProbeInterval0,
            double medianDefault,
            double overhead,
            List<Boolean> paramsIdentical) {}

    /**
     * The user-model matrix: both listeners at defaults over none, and per-example gradients against DL4J's
     * batched gradient.
     *
     * @param models the models, in order
     * @param dataSource where the image models' Fashion-MNIST came from, or null when none ran
     * @param pairs interleaved pairs per model
     * @param pairIterations iterations per pair
     * @param listeners the listeners of the "with" networks
     * @param results one per model
     */
    public record Matrix(
            List<String> models,
            String dataSource,
            int pairs,
            int pairIterations,
            String listeners,
            List<ModelResult> results,
            List<BudgetCheck> budgetChecks) {}

    /**
     * One model of the matrix.
     *
     * @param model its name ({@link UserModels#NAMES})
     * @param numParams its parameters (BatchNorm running statistics included)
     * @param batchSize its training batch size
     * @param interleaved with and without listeners, interleaved in this process
     * @param gradients per-example gradients against DL4J's batched gradient, or null when skipped
     * @param separateRuns alternating child JVMs, or null when not asked for
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ModelResult(
            String model,
            long numParams,
            int batchSize,
            Interleaved.Result interleaved,
            Listeners listeners,
            GradientTiming.Result gradients,
            SeparateRuns.Result separateRuns) {}

    /**
     * What the listeners at their defaults did in the interleaved run: the DiffusionListener's probes, its interval
     * in force and its share of training time at the end; the TrajectoryListener's recorded steps, interval in
     * force and share.
     *
     * @param probes probes made
     * @param probeEveryInForce the probe interval in force at the end
     * @param probeShare the DiffusionListener's own share of training time at the end
     * @param recordedSteps trajectory steps recorded
     * @param recordEveryInForce the recording interval in force at the end
     * @param recordShare the TrajectoryListener's own share of training time at the end
     * @param probeShareSteady the DiffusionListener's share without its first probe, which builds its state and
     *     which the budget pays back by deferring later probes: the share it holds in a long run
     * @param recordShareSteady the TrajectoryListener's share without its first record
     */
    public record Listeners(
            int probes,
            int probeEveryInForce,
            double probeShare,
            long recordedSteps,
            int recordEveryInForce,
            double recordShare,
            double probeShareSteady,
            double recordShareSteady) {

        /** Reads them from the listeners attached. */
        public static Listeners of(List<AutoCloseable> attached) {
            DiffusionListener d = null;
            TrajectoryListener t = null;
            for (AutoCloseable l : attached) {
                if (l instanceof DiffusionListener x) {
                    d = x;
                } else if (l instanceof TrajectoryListener x) {
                    t = x;
                }
            }
            return new Listeners(
                    d == null ? 0 : d.probeCount(),
                    d == null ? 0 : d.probeEveryInForce(),
                    d == null ? Double.NaN : d.overheadShare(),
                    t == null ? 0 : t.recordedSteps(),
                    t == null ? 0 : t.recordEveryInForce(),
                    t == null ? Double.NaN : t.overheadShare(),
                    d == null ? Double.NaN : d.steadyOverheadShare(),
                    t == null ? Double.NaN : t.steadyOverheadShare());
        }
    }

    /**
     * The overhead budget on a fast model probed every iteration.
     *
     * @param model the model (the mlp, or the same mlp as a SameDiff graph)
     * @param budget the DiffusionListener's budget
     * @param iterations training iterations
     * @param probes probes made
     * @param probeEveryInForce the interval in force at the end
     * @param share its own share of training time at the end
     * @param measuredOverhead training time with it over without, minus 1 (interleaved)
     * @param interleaved the interleaved measurement
     */
    public record BudgetCheck(
            String model,
            double budget,
            int iterations,
            int probes,
            int probeEveryInForce,
            double share,
            double measuredOverhead,
            Interleaved.Result interleaved) {}
}

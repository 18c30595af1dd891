package org.sgdnoise.samples.bench;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

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
            List<ModelResult> results) {}

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
            GradientTiming.Result gradients,
            SeparateRuns.Result separateRuns) {}
}

package org.sgdnoise.samples.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.sgdnoise.samples.CompareSampling;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code compare-sampling}: with versus without replacement, paired and temperature-matched. */
@Command(
        name = "compare-sampling",
        mixinStandardHelpOptions = true,
        description = "Trains the same model from the same initial weights with batches drawn with replacement, "
                + "without replacement, and without replacement at the temperature-matched rate "
                + "η·(N − 1)/(N − b), for each batch size and paired seed, a fixed step budget with L2; reports "
                + "paired differences with 95%% intervals (paired t and sign test), the stationary variance of the "
                + "weights along stiff and flat directions, and the minibatch noise through both samplers "
                + "(variance, within-epoch lag covariance, epoch sum). Writes runs.jsonl (resumable), summary.md, "
                + "summary.json, summary.csv and plots.")
public final class CompareSamplingCommand implements Callable<Integer> {

    @Option(names = "--data", description = "Fashion-/MNIST IDX folder (default: the system copy, else built-in)")
    Path data;

    @Option(
            names = "--model",
            defaultValue = "softmax",
            description = "softmax (softmax regression, convex) or mlp (784-64-10) (default: ${DEFAULT-VALUE})")
    String model;

    @Option(
            names = "--examples",
            defaultValue = "2048",
            description = "N, the first N training examples " + "(default: ${DEFAULT-VALUE})")
    int examples;

    @Option(
            names = "--batch-sizes",
            split = ",",
            defaultValue = "256,512,1024",
            description = "batch sizes (default: ${DEFAULT-VALUE})")
    int[] batchSizes;

    @Option(names = "--seeds", defaultValue = "8", description = "paired seeds 1..S (default: ${DEFAULT-VALUE})")
    int seeds;

    @Option(
            names = "--steps",
            defaultValue = "10000",
            description = "steps per run; the second half is measured " + "(default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--lr", defaultValue = "0.05", description = "learning rate η (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--l2", defaultValue = "0.02", description = "L2 coefficient (default: ${DEFAULT-VALUE})")
    double l2;

    @Option(
            names = "--evaluations",
            defaultValue = "10",
            description = "evaluations over the measured half " + "(default: ${DEFAULT-VALUE})")
    int evaluations;

    @Option(
            names = "--test-limit",
            defaultValue = "10000",
            description = "first test examples; 0 = all " + "(default: ${DEFAULT-VALUE})")
    int testLimit;

    @Option(
            names = "--span",
            defaultValue = "20",
            description =
                    "D's top eigenvectors spanning the stiff and flat " + "directions (default: ${DEFAULT-VALUE})")
    int span;

    @Option(
            names = "--noise-batches",
            defaultValue = "2400",
            description = "batches per noise measurement through "
                    + "each sampler, at least 10 epochs (default: ${DEFAULT-VALUE})")
    int noiseBatches;

    @Option(
            names = "--out",
            defaultValue = "sgdnoise-out/compare-sampling",
            description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws Exception {
        CompareSampling.run(new CompareSampling.Options(
                data,
                model,
                examples,
                batchSizes,
                seeds,
                steps,
                lr,
                l2,
                evaluations,
                testLimit,
                span,
                noiseBatches,
                out));
        System.out.println("wrote " + out.resolve("summary.md"));
        return 0;
    }
}

package org.sgdnoise.samples.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.sgdnoise.samples.CompareSampling;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code compare-sampling}: with versus without replacement, side by side. */
@Command(
        name = "compare-sampling",
        mixinStandardHelpOptions = true,
        description =
                "Trains the same model with minibatches drawn with and without replacement for several batch sizes "
                        + "and seeds; writes runs.jsonl (resumable), summary.csv, summary.md, "
                        + "test_accuracy.png and gap.png.")
public final class CompareSamplingCommand implements Callable<Integer> {

    @Option(names = "--data", description = "Fashion-/MNIST IDX folder (default: the system copy, else built-in)")
    Path data;

    @Option(names = "--model", defaultValue = "lenet", description = "lenet or mlp (default: ${DEFAULT-VALUE})")
    String model;

    @Option(
            names = "--batch-sizes",
            split = ",",
            defaultValue = "32,128,512,2048",
            description = "batch sizes (default: ${DEFAULT-VALUE})")
    int[] batchSizes;

    @Option(names = "--seeds", defaultValue = "3", description = "seeds per cell (default: ${DEFAULT-VALUE})")
    int seeds;

    @Option(names = "--epochs", defaultValue = "2", description = "epochs per run (default: ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--lr", defaultValue = "0.05", description = "learning rate (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--momentum", defaultValue = "0", description = "momentum (default: ${DEFAULT-VALUE}: plain SGD)")
    double momentum;

    @Option(names = "--train-limit", defaultValue = "0", description = "first N training examples; 0 = all")
    int trainLimit;

    @Option(names = "--test-limit", defaultValue = "0", description = "first N test examples; 0 = all")
    int testLimit;

    @Option(
            names = "--out",
            defaultValue = "sgdnoise-out/compare-sampling",
            description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws Exception {
        CompareSampling.run(new CompareSampling.Options(
                data, model, batchSizes, seeds, epochs, lr, momentum, trainLimit, testLimit, out));
        System.out.println("wrote " + out.resolve("summary.md"));
        return 0;
    }
}

package org.sgdnoise.samples.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.sgdnoise.samples.Spectrum;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code spectrum}: D of a trained model over a whole data set (the paper's protocol). */
@Command(
        name = "spectrum",
        mixinStandardHelpOptions = true,
        description = {
            "Computes the gradient-noise covariance D of a trained model over every example of a data set: per-example "
                    + "gradients (EVAL mode) streamed through a Frequent Directions sketch with certified eigenvalue "
                    + "intervals, and with --exact the exact d x d matrix in double (d <= 20,000).",
            "Writes a JSON report to --out."
        })
public final class SpectrumCommand implements Callable<Integer> {

    @Option(
            names = "--model",
            required = true,
            description = "model zip written by ModelSerializer (MultiLayerNetwork or ComputationGraph)")
    Path model;

    @Option(
            names = "--data",
            required = true,
            description = "Fashion-/MNIST IDX folder (training split) or CSV file (features..., integer label last)")
    Path data;

    @Option(names = "--limit", defaultValue = "0", description = "use only the first N examples; 0 = all")
    int limit;

    @Option(
            names = "--indices",
            description = "a file of 0-based example indices to use, one per line (the training split of an IDX "
                    + "folder, the data rows of a CSV file: header and blank lines not counted; # comments)")
    Path indices;

    @Option(
            names = "--sample",
            defaultValue = "0",
            description = "use N examples drawn at random with --seed; their indices are written beside --out "
                    + "(OUT-indices.txt)")
    int sample;

    @Option(
            names = "--seed",
            defaultValue = "1",
            description = "seed of --sample and of the bootstrap (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(
            names = "--bootstrap",
            defaultValue = "200",
            description = "with --exact: bootstrap resamples over the examples for 95 percent intervals of the trace, "
                    + "top eigenvalues, participation ratio, effective rank and noise scale; 0 = none "
                    + "(default: ${DEFAULT-VALUE})")
    int bootstrap;

    @Option(names = "--exact", description = "also compute the exact d x d D in double (d <= 20,000)")
    boolean exact;

    @Option(names = "--sketch-size", defaultValue = "128", description = "sketch size l (default: ${DEFAULT-VALUE})")
    int ell;

    @Option(names = "--chunk", defaultValue = "256", description = "examples per chunk (default: ${DEFAULT-VALUE})")
    int chunk;

    @Option(
            names = "--out",
            defaultValue = "sgdnoise-out/spectrum.json",
            description = "JSON report (default: ${DEFAULT-VALUE})")
    Path out;

    @Mixin
    SameDiffPlaceholders placeholders = new SameDiffPlaceholders();

    @Override
    public Integer call() throws Exception {
        Spectrum.run(new Spectrum.Options(
                model,
                data,
                limit,
                exact,
                ell,
                chunk,
                out,
                indices,
                sample,
                seed,
                bootstrap,
                placeholders.features,
                placeholders.labels));
        return 0;
    }
}

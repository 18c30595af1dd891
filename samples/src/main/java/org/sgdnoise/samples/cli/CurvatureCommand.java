package org.sgdnoise.samples.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.sgdnoise.samples.CurvatureRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code curvature}: the top Hessian eigenspace of a trained model, and D and SGD's predicted loops in it. */
@Command(
        name = "curvature",
        mixinStandardHelpOptions = true,
        description = {
            "Computes the top Hessian eigenpairs of a trained model's mean loss over a data set (Lanczos on "
                    + "Hessian-vector products, in double, on a private copy), its trace (Hutchinson), and the "
                    + "gradient-noise covariance D in that eigenbasis: D_r, the relative commutator of H and D, "
                    + "their subspace overlap and B_noise. With --lr and --batch, also the linearised SGD's "
                    + "predicted circulation: area rates, periods and the steps a loop test needs.",
            "Writes a JSON report to --out and the basis (top x d, double) beside it as .npy."
        })
public final class CurvatureCommand implements Callable<Integer> {

    @Option(
            names = "--model",
            required = true,
            description = "model zip written by ModelSerializer (MultiLayerNetwork or ComputationGraph), or a SameDiff "
                    + "graph saved with SameDiff.save (its TrainingConfig names the placeholders and the loss)")
    Path model;

    @Option(
            names = "--data",
            required = true,
            description = "Fashion-/MNIST IDX folder (training split) or CSV file (features..., integer label last)")
    Path data;

    @Option(
            names = "--indices",
            description = "file of example indices (one per line, 0-based; # comments) to use instead of the first "
                    + "--limit")
    Path indices;

    @Option(
            names = "--sample",
            defaultValue = "0",
            description = "use N examples drawn at random with --seed; their indices are written beside --out")
    int sample;

    @Option(names = "--limit", description = "use the first N examples; 0 = all (default: 1000)")
    Integer limit;

    @Option(names = "--top", defaultValue = "12", description = "Hessian eigenpairs r (default: ${DEFAULT-VALUE})")
    int top;

    @Option(
            names = "--gradients",
            defaultValue = "256",
            description = "examples whose per-example gradients give D (the first of those used; default: "
                    + "${DEFAULT-VALUE})")
    int gradients;

    @Option(
            names = "--trace-probes",
            defaultValue = "30",
            description = "Hutchinson probes for the trace; 0 skips (default: ${DEFAULT-VALUE})")
    int traceProbes;

    @Option(
            names = "--max-steps",
            defaultValue = "100",
            description = "Lanczos steps at most (default: ${DEFAULT-VALUE})")
    int maxSteps;

    @Option(names = "--lr", description = "SGD learning rate: adds the predicted circulation")
    Double lr;

    @Option(names = "--batch", description = "SGD batch size (with --lr)")
    Integer batch;

    @Option(names = "--momentum", defaultValue = "0", description = "heavy-ball momentum (default: ${DEFAULT-VALUE})")
    double momentum;

    @Option(
            names = "--weight-decay",
            defaultValue = "0",
            description = "weight decay added to H as lambda*I in the prediction, beyond the model's own L2 "
                    + "(default: ${DEFAULT-VALUE})")
    double weightDecay;

    @Option(
            names = "--seed",
            defaultValue = "1",
            description = "seed of Lanczos, Hutchinson and --sample (default: " + "${DEFAULT-VALUE})")
    long seed;

    @Option(
            names = "--out",
            defaultValue = "sgdnoise-out/curvature.json",
            description = "JSON report (default: ${DEFAULT-VALUE}); the basis goes beside it as <name>-basis.npy")
    Path out;

    @Mixin
    SameDiffPlaceholders placeholders = new SameDiffPlaceholders();

    @Override
    public Integer call() throws Exception {
        CurvatureRun.run(new CurvatureRun.Options(
                model,
                data,
                indices,
                sample,
                limit,
                top,
                gradients,
                traceProbes,
                maxSteps,
                lr,
                batch,
                momentum,
                weightDecay,
                seed,
                out,
                placeholders.features,
                placeholders.labels));
        return 0;
    }
}

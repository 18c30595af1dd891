package org.sgdnoise.samples.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.samples.LoopExperiment;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code loops}: closed loops on a real network, predicted from H and D and measured (issue 17). */
@Command(
        name = "loops",
        mixinStandardHelpOptions = true,
        description = {
            "Trains an MLP without BatchNorm on Fashion-MNIST with plain SGD (with replacement, L2) until its loss is"
                    + " flat, computes the top Hessian eigenspace, D in it and the linearised prediction of SGD's"
                    + " circulation, records --steps more SGD steps in that basis, and compares: area rates"
                    + " measured against predicted, the stationary covariance, the loop verdict, and the test's"
                    + " calibration on the linear process (power; commuting noise).",
            "Writes loops.json and trajectory.csv to --out."
        })
public final class LoopsCommand implements Callable<Integer> {

    @Option(names = "--data", description = "Fashion-/MNIST IDX folder (default: the system copy)")
    Path data;

    @Option(names = "--hidden", defaultValue = "64", description = "hidden units (default: ${DEFAULT-VALUE})")
    int hidden;

    @Option(names = "--lr", defaultValue = "0.05", description = "SGD learning rate (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--batch", defaultValue = "128", description = "batch size (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--l2", defaultValue = "0.002", description = "L2 coefficient (default: ${DEFAULT-VALUE})")
    double l2;

    @Option(
            names = "--min-warmup",
            defaultValue = "0",
            description = "fewest iterations before recording, flat or not (default: ${DEFAULT-VALUE})")
    int minWarmup;

    @Option(
            names = "--max-warmup",
            defaultValue = "40000",
            description =
                    "most iterations before recording, if the loss is not flat sooner (default: ${DEFAULT-VALUE})")
    int maxWarmup;

    @Option(names = "--steps", defaultValue = "50000", description = "recorded steps (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--top", defaultValue = "12", description = "Hessian eigenpairs r (default: ${DEFAULT-VALUE})")
    int top;

    @Option(
            names = "--hessian-examples",
            defaultValue = "5000",
            description = "training examples behind H (default: ${DEFAULT-VALUE})")
    int hessianExamples;

    @Option(
            names = "--gradients",
            defaultValue = "5000",
            description = "of the Hessian's examples, those whose per-example gradients give D (blocks of 512; "
                    + "default: ${DEFAULT-VALUE})")
    int gradients;

    @Option(
            names = "--calibration-runs",
            defaultValue = "20",
            description = "simulated runs per calibration (default: ${DEFAULT-VALUE})")
    int calibrationRuns;

    @Option(names = "--seed", defaultValue = "1", description = "seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(
            names = "--out",
            defaultValue = "sgdnoise-out/loops",
            description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws Exception {
        Path dir = data != null ? data : FashionMnist.SYSTEM_DIR;
        UserInputException.require(
                FashionMnist.isPresent(dir),
                "no Fashion-MNIST IDX files in " + dir + " (apt-get install dataset-fashion-mnist)");
        LoopExperiment.run(new LoopExperiment.Options(
                dir,
                hidden,
                lr,
                batch,
                l2,
                minWarmup,
                maxWarmup,
                steps,
                top,
                hessianExamples,
                gradients,
                calibrationRuns,
                seed,
                out));
        return 0;
    }
}

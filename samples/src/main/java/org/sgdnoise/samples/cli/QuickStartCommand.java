package org.sgdnoise.samples.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.sgdnoise.samples.QuickStart;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code quickstart}: train the small LeNet with the DiffusionListener attached. */
@Command(
        name = "quickstart",
        mixinStandardHelpOptions = true,
        description = {
            "Trains the paper's small LeNet (13,338 parameters) on Fashion-MNIST "
                    + "(from /usr/share/datasets/fashion-mnist "
                    + "when installed, else a built-in sample of 2,000 images) with the DiffusionListener attached.",
            "Writes metrics.jsonl, metrics.csv and summary.json into --out."
        })
public final class QuickStartCommand implements Callable<Integer> {

    @Option(
            names = "--data",
            description = "Fashion-/MNIST IDX folder, or builtin for the 2,000-image sample in the jar (default: the "
                    + "system copy, else built-in)")
    Path data;

    @Option(names = "--epochs", defaultValue = "1", description = "epochs (default: ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--batch-size", defaultValue = "128", description = "minibatch size b (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--lr", defaultValue = "0.05", description = "learning rate (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--momentum", defaultValue = "0.9", description = "Nesterov momentum (default: ${DEFAULT-VALUE})")
    double momentum;

    @Option(
            names = "--seed",
            defaultValue = "42",
            description = "seed for weights and shuffling (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(
            names = {"--probe-every", "--probe-interval"},
            description = "iterations between probes; 0 = no listeners (default: " + QuickStart.DEFAULT_PROBE_INTERVAL
                    + ", or fewer so that a short run has at least " + QuickStart.MIN_PROBES + " probes)")
    Integer probeInterval;

    @Option(
            names = {"--gradients-per-probe", "--samples"},
            defaultValue = "64",
            description = "per-example gradients per probe, k (default: ${DEFAULT-VALUE})")
    int samples;

    @Option(
            names = "--max-iterations",
            defaultValue = "0",
            description = "stop after this many iterations; 0 = no limit")
    long maxIterations;

    @Option(
            names = "--train-limit",
            defaultValue = "0",
            description = "use only the first N training examples; 0 = all")
    int trainLimit;

    @Option(
            names = "--out",
            defaultValue = "sgdnoise-out/quickstart",
            description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Option(
            names = "--model",
            defaultValue = "lenet",
            description = "lenet (the paper's small LeNet) or mlp (784-64-10, fast)")
    String model;

    @Option(names = "--trajectory", description = "also attach the TrajectoryListener (trajectory.csv, loops.jsonl)")
    boolean trajectory;

    @Option(
            names = "--l2",
            defaultValue = "0",
            description = "L2 regularisation coefficient (mlp only; default: ${DEFAULT-VALUE})")
    double l2;

    @Option(
            names = "--no-report",
            description = "skip the spectra of D at 20%%, 40%% and 100%% of training and the "
                    + "report (report/report.html and PNG charts) written at the end")
    boolean noReport;

    @Option(
            names = "--overhead-budget",
            description = "share of training time each listener may take; over it, it probes or records less "
                    + "often (0: exactly at the configured intervals; default: " + QuickStart.OVERHEAD_BUDGET
                    + ", off when --probe-interval is given or a short run's interval was scaled down)")
    Double overheadBudget;

    @Option(
            names = "--tensorboard",
            description = "also write TensorBoard event files into this folder (one run folder per worker; "
                    + "tensorboard --logdir DIR)")
    Path tensorboard;

    @Option(
            names = "--dashboard",
            paramLabel = "PORT",
            description = "serve the live dashboard on http://127.0.0.1:PORT/ while training (0: a free port; the "
                    + "URL is printed)")
    Integer dashboard;

    @Override
    public Integer call() throws Exception {
        QuickStart.run(new QuickStart.Options(
                data,
                epochs,
                batchSize,
                lr,
                momentum,
                seed,
                probeInterval == null ? QuickStart.AUTO : probeInterval,
                samples,
                maxIterations,
                trainLimit,
                out,
                model,
                trajectory,
                l2,
                !noReport,
                overheadBudget == null ? Double.NaN : overheadBudget,
                tensorboard,
                dashboard));
        return 0;
    }
}

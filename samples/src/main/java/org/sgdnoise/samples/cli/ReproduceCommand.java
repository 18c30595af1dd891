package org.sgdnoise.samples.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.sgdnoise.samples.Reproduce;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code reproduce}: the paper's measurements on Fashion-MNIST, and REPRODUCTION.md generated from them. */
@Command(
        name = "reproduce",
        mixinStandardHelpOptions = true,
        description = {
            "Trains the paper's small LeNet as the paper does (SGD, Nesterov momentum 0.9, batch 128, step schedule, "
                    + "weight decay, dropout after every block), saving it at 20%%, 40%% and 100%% of training; "
                    + "computes D exactly at each; simulates the double-well toy, tests a long fixed-learning-rate run "
                    + "for loops, and writes reproduction.json, the spectra and REPRODUCTION.md from the results.",
            "Resumable: run again with the same --out and a killed run goes on from its last saved snapshot. Seeds "
                    + "run as separate processes (--seed S --out DIR-S, --no-extras for all but one).",
            "--quick: 3 epochs on the built-in sample, D over 500 examples, "
                    + "short toy and loop runs (about two minutes)."
        })
public final class ReproduceCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--quick", description = "a small run on the built-in data (CI)")
    boolean quick;

    @Option(names = "--data", description = "Fashion-MNIST IDX folder (default: the system copy, else built-in)")
    Path data;

    @Option(names = "--epochs", description = "epochs (default: 20; the paper's run has 50; --quick: 3)")
    Integer epochs;

    @Option(names = "--batch-size", defaultValue = "128", description = "batch size (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--lr", defaultValue = "0.1", description = "initial learning rate (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--momentum", defaultValue = "0.9", description = "momentum (default: ${DEFAULT-VALUE})")
    double momentum;

    @Option(
            names = "--weight-decay",
            defaultValue = "5e-4",
            description = "weight decay, the L2 coefficient (default: ${DEFAULT-VALUE})")
    double weightDecay;

    @Option(
            names = "--dropout",
            defaultValue = "0.2",
            description = "dropout after every block: the probability a unit is dropped (default: ${DEFAULT-VALUE})")
    double dropout;

    @Option(
            names = "--train-only",
            description = "only train, saving the snapshots' checkpoints in --out; a later run on that --out goes on "
                    + "from them")
    boolean trainOnly;

    @Option(
            names = "--no-extras",
            description = "only train and compute D (for further seeds): no double-well toy and no loop experiments")
    boolean noExtras;

    @Option(
            names = "--d-examples",
            description = "training examples D is computed over; 0 = all (default: 20000; --quick: 500)")
    Integer dExamples;

    @Option(
            names = "--indices",
            description = "a file of the training examples D is computed over (0-based indices, one per line) "
                    + "instead of the first --d-examples")
    Path indices;

    @Option(
            names = "--sample",
            defaultValue = "0",
            description = "compute D over N training examples drawn at random with --sample-seed instead; the indices "
                    + "go to OUT/d-indices.txt")
    int sample;

    @Option(
            names = "--sample-seed",
            defaultValue = "1",
            description = "seed of --sample, the same for every training seed (default: ${DEFAULT-VALUE})")
    long sampleSeed;

    @Option(
            names = "--loop-iterations",
            description = "iterations of the fixed-learning-rate run (default: 20000; --quick: 700)")
    Integer loopIterations;

    @Option(names = "--loop-batch-size", description = "its batch size (default: 128; --quick: 32)")
    Integer loopBatchSize;

    @Option(
            names = "--toy-steps",
            description = "Euler-Maruyama steps per double well (default: 5000000; --quick: 200000)")
    Integer toySteps;

    @Option(names = "--seed", defaultValue = "42", description = "seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(
            names = "--out",
            defaultValue = "sgdnoise-out/reproduce",
            description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--doc", description = "where REPRODUCTION.md goes (default: OUT/REPRODUCTION.md)")
    Path doc;

    @Option(
            names = "--from-results",
            arity = "1..*",
            description = "write --doc again from runs' reproduction.json files (one per training seed), without "
                    + "running anything")
    java.util.List<Path> fromResults;

    private int checkedDExamples() {
        org.sgdnoise.data.ExampleSubset.checkOptions(indices, sample, dExamples != null, "--d-examples");
        return indices != null || sample > 0 ? 0 : dExamples != null ? dExamples : quick ? 500 : 20_000;
    }

    @Override
    public Integer call() throws Exception {
        if (fromResults != null) {
            Reproduce.writeDoc(
                    fromResults, doc != null ? doc : fromResults.get(0).resolveSibling("REPRODUCTION.md"));
            return 0;
        }
        String line = "java -jar samples/target/sgdnoise-samples.jar "
                + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        Reproduce.run(new Reproduce.Options(
                quick,
                data,
                epochs != null ? epochs : quick ? 3 : 20,
                batchSize,
                lr,
                momentum,
                weightDecay,
                dropout,
                checkedDExamples(),
                indices,
                sample,
                sampleSeed,
                loopIterations != null ? loopIterations : quick ? 700 : 20_000,
                loopBatchSize != null ? loopBatchSize : quick ? 32 : 128,
                toySteps != null ? toySteps : quick ? 200_000 : 5_000_000,
                seed,
                trainOnly,
                !noExtras,
                out,
                doc != null ? doc : out.resolve("REPRODUCTION.md"),
                line.trim()));
        return 0;
    }
}

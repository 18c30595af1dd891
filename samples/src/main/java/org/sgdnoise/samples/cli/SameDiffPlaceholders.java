package org.sgdnoise.samples.cli;

import java.util.List;
import picocli.CommandLine.Option;

/** The options that name a SameDiff graph's placeholders, for the commands that read a saved model. */
final class SameDiffPlaceholders {

    @Option(
            names = "--features",
            split = ",",
            description = "a SameDiff model's feature placeholder, where its file's TrainingConfig names none")
    List<String> features;

    @Option(
            names = "--labels",
            split = ",",
            description = "a SameDiff model's label placeholder, where its file's TrainingConfig names none")
    List<String> labels;
}

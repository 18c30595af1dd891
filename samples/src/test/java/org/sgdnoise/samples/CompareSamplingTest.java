package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sgdnoise.samples.CompareSampling.Arm;

class CompareSamplingTest {

    private static final int N = 256;

    @TempDir
    static Path dir;

    private static Path out;
    private static List<String> runs;

    private static String[] args(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of(
                "compare-sampling",
                "--data",
                "builtin",
                "--examples",
                String.valueOf(N),
                "--batch-sizes",
                "32,128",
                "--seeds",
                "2",
                "--steps",
                "200",
                "--evaluations",
                "2",
                "--test-limit",
                "200",
                "--span",
                "5",
                "--noise-batches",
                "80",
                "--out",
                out.toString()));
        a.addAll(Arrays.asList(more));
        return a.toArray(String[]::new);
    }

    @BeforeAll
    static void runOnce() throws Exception {
        out = dir.resolve("cs");
        assertThat(Main.execute(args(out))).isZero();
        runs = Files.readAllLines(out.resolve("runs.jsonl"));
    }

    @Test
    void everyArmSeedAndBatchSizeRunsWithItsLearningRate() throws Exception {
        assertThat(runs).hasSize(12); // 2 batch sizes × 3 arms × 2 seeds
        ObjectMapper om = new ObjectMapper();
        for (String line : runs) {
            JsonNode r = om.readTree(line);
            int b = r.get("batch_size").asInt();
            Arm arm = Arm.of(r.get("arm").asText());
            double eta = arm == Arm.MATCHED ? 0.05 * (N - 1) / (N - b) : 0.05;
            assertThat(r.get("lr").asDouble()).isCloseTo(eta, within(1e-15));
            // The matched arm's temperature is the with-replacement arm's, up to the 1/N of the (N − b)/(N − 1) factor.
            if (arm == Arm.MATCHED) {
                assertThat(r.get("temperature").asDouble()).isCloseTo(0.05 / (2.0 * b), within(0.05 / (2.0 * b) / N));
            }
            assertThat(r.get("test_accuracy").asDouble()).isBetween(0.0, 1.0);
            assertThat(r.get("measured_from").asInt()).isEqualTo(100);
            for (JsonNode v : r.get("variance")) {
                assertThat(v.asDouble()).isPositive();
            }
        }
    }

    @Test
    void theArmsOfOneSeedStartFromTheSameWeights() {
        CompareSampling.Options o =
                new CompareSampling.Options(null, "softmax", N, new int[] {32}, 2, 200, 0.05, 0.02, 2, 200, 5, 80, out);
        assertThat(CompareSampling.model(o, 3, 0.05).params())
                .isEqualTo(CompareSampling.model(o, 3, 0.1).params())
                .isNotEqualTo(CompareSampling.model(o, 4, 0.05).params());
    }

    @Test
    void theReportHasPairedIntervalsTheNoiseTheGapAndAVerdict() throws Exception {
        String md = Files.readString(out.resolve("summary.md"));
        assertThat(md)
                .contains("## Paired differences")
                .contains("with_replacement − without_matched")
                .contains("## Stationary variance of the weights")
                .contains("## The minibatch noise through the samplers")
                .contains("## TRAIN/EVAL gap")
                .contains("## Verdict");
        JsonNode s = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        JsonNode first = s.get("paired").get(0).get("comparison");
        assertThat(first.get("n").asInt()).isEqualTo(2);
        assertThat(first.get("low").asDouble())
                .isLessThanOrEqualTo(first.get("high").asDouble());
        // The noise through both samplers at the reference point, for each batch size.
        assertThat(s.get("noise")).hasSize(4);
        for (JsonNode row : s.get("noise")) {
            JsonNode r = row.get("result");
            boolean with = r.get("scheme").asText().equals("WITH_REPLACEMENT");
            assertThat(r.get("noise").get("low").asDouble())
                    .isLessThanOrEqualTo(
                            r.get(with ? "noiseWith" : "noiseWithout").asDouble() * 1.1);
            if (!with) {
                assertThat(r.get("epochSum").get("mean").asDouble())
                        .isLessThan(1e-8 * r.get("epochSumWith").asDouble());
            }
        }
        assertThat(s.get("train_eval_gap")).isNotEmpty();
        for (String png :
                new String[] {"test_loss.png", "flat_variance.png", "lag_covariance.png", "train_eval_gap.png"}) {
            assertThat(ImageIO.read(out.resolve(png).toFile())).as(png).isNotNull();
        }
    }

    @Test
    void aRerunRepeatsNothingAndAnotherProtocolIsRefused() throws Exception {
        long before = Files.getLastModifiedTime(out.resolve("runs.jsonl")).toMillis();
        assertThat(Main.execute(args(out))).isZero();
        assertThat(Files.readAllLines(out.resolve("runs.jsonl"))).isEqualTo(runs);
        assertThat(Files.getLastModifiedTime(out.resolve("runs.jsonl")).toMillis())
                .isEqualTo(before);
        assertThat(Main.execute(args(out, "--lr", "0.1"))).isEqualTo(Main.EXIT_USAGE);
    }

    @Test
    void aTornLastRecordIsRunAgain() throws Exception {
        Path torn = dir.resolve("torn");
        Files.createDirectories(torn);
        for (String f : new String[] {
            "experiment.json",
            "reference.zip",
            "directions.bin",
            "directions.json",
            "train_eval_gap.json",
            "train_eval_gap.md",
            "train_eval_gap.png"
        }) {
            Files.copy(out.resolve(f), torn.resolve(f));
        }
        Files.writeString(
                torn.resolve("runs.jsonl"),
                String.join("\n", runs.subList(0, 11)) + "\n" + runs.get(11).substring(0, 20));
        assertThat(Main.execute(args(torn))).isZero();
        List<String> again = Files.readAllLines(torn.resolve("runs.jsonl"));
        assertThat(again).hasSize(12); // 11 kept, the torn line dropped, the run repeated
        assertThat(again.subList(0, 11)).isEqualTo(runs.subList(0, 11));
        ObjectMapper om = new ObjectMapper();
        JsonNode repeated = om.readTree(again.get(11));
        JsonNode original = om.readTree(runs.get(11));
        assertThat(repeated.get("key")).isEqualTo(original.get("key"));
        assertThat(repeated.get("test_loss")).isEqualTo(original.get("test_loss")); // same seed, same run
        assertThat(repeated.get("variance")).isEqualTo(original.get("variance"));
    }
}

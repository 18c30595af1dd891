package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CompareSamplingTest {

    @TempDir
    Path dir;

    private String[] args(Path out) {
        return new String[] {
            "compare-sampling",
            "--model",
            "mlp",
            "--batch-sizes",
            "16,200",
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--train-limit",
            "400",
            "--test-limit",
            "200",
            "--out",
            out.toString()
        };
    }

    @Test
    void runsEndToEndWritesEveryOutputAndSkipsFinishedRunsOnRerun() throws Exception {
        Path out = dir.resolve("cs");
        assertThat(Main.execute(args(out))).isZero();
        List<String> runs = Files.readAllLines(out.resolve("runs.jsonl"));
        assertThat(runs).hasSize(8); // 2 batch sizes × 2 schemes × 2 seeds
        ObjectMapper om = new ObjectMapper();
        for (String line : runs) {
            JsonNode r = om.readTree(line);
            int b = r.get("batch_size").asInt();
            double t = 0.05
                    / (2.0 * b)
                    * ("without_replacement".equals(r.get("sampling").asText()) ? 1 - b / 400.0 : 1);
            assertThat(r.get("temperature").asDouble()).isCloseTo(t, within(1e-15));
            assertThat(r.get("test_accuracy").asDouble()).isBetween(0.0, 1.0);
            assertThat(r.get("trace").asDouble()).isPositive();
        }
        assertThat(out.resolve("summary.csv")).exists();
        assertThat(Files.readString(out.resolve("summary.md")))
                .contains("| 16 |")
                .contains("| 200 |");
        assertThat(ImageIO.read(out.resolve("test_accuracy.png").toFile())).isNotNull();
        assertThat(ImageIO.read(out.resolve("gap.png").toFile())).isNotNull();
        assertThat(Files.readString(out.resolve("summary.md"))).contains("## Noise check at fixed weights");
        assertThat(om.readTree(out.resolve("noise_check.json").toFile()).size()).isEqualTo(2);
        // Rerun: nothing is repeated, the summary is rewritten from the same runs.
        long before = Files.getLastModifiedTime(out.resolve("runs.jsonl")).toMillis();
        assertThat(Main.execute(args(out))).isZero();
        assertThat(Files.readAllLines(out.resolve("runs.jsonl"))).isEqualTo(runs);
        assertThat(Files.getLastModifiedTime(out.resolve("runs.jsonl")).toMillis())
                .isEqualTo(before);
    }

    @Test
    void aTornLastRecordIsRunAgain() throws Exception {
        Path out = dir.resolve("torn");
        assertThat(Main.execute(args(out))).isZero();
        List<String> runs = Files.readAllLines(out.resolve("runs.jsonl"));
        Files.writeString(
                out.resolve("runs.jsonl"),
                String.join("\n", runs.subList(0, 7)) + "\n" + runs.get(7).substring(0, 20));
        assertThat(Main.execute(args(out))).isZero();
        List<String> again = Files.readAllLines(out.resolve("runs.jsonl"));
        assertThat(again).hasSize(8); // 7 kept, the torn line dropped, the run repeated
        assertThat(again.subList(0, 7)).isEqualTo(runs.subList(0, 7));
        ObjectMapper om = new ObjectMapper();
        JsonNode repeated = om.readTree(again.get(7));
        JsonNode original = om.readTree(runs.get(7));
        assertThat(repeated.get("key")).isEqualTo(original.get("key"));
        assertThat(repeated.get("test_accuracy")).isEqualTo(original.get("test_accuracy")); // same seed, same run
    }
}

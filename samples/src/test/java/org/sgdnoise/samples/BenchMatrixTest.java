package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sgdnoise.samples.bench.SeparateRuns;

/** {@code bench --matrix} on tiny settings: the structure of bench.json, and training undisturbed by the listeners. */
class BenchMatrixTest {

    @TempDir
    Path dir;

    @Test
    void matrixWritesOneResultPerModelWithBitIdenticalParameters() throws Exception {
        Path out = dir.resolve("bench");
        CommandRun run = CommandRun.of(
                "bench",
                "--matrix",
                "--models",
                "mlp,lenet",
                "--data",
                ReportTest.builtinCopy(dir.resolve("builtin")).toString(),
                "--pairs",
                "1",
                "--pair-iterations",
                "10",
                "--gradient-k",
                "16",
                "--gradient-reps",
                "1",
                "--out",
                out.toString());
        assertThat(run.code()).as("exit code, stderr %s", run.stderr()).isZero();

        JsonNode report = new ObjectMapper().readTree(out.resolve("bench.json").toFile());
        assertThat(report.has("omp_num_threads")).isTrue();
        assertThat(report.has("quickstart")).isFalse(); // the matrix replaces the quick-start measurements
        JsonNode matrix = report.get("matrix");
        assertThat(matrix.get("data_source").asText()).endsWith("builtin");
        assertThat(matrix.get("pairs").asInt()).isEqualTo(1);
        JsonNode results = matrix.get("results");
        assertThat(List.of(
                        results.get(0).get("model").asText(),
                        results.get(1).get("model").asText()))
                .containsExactly("mlp", "lenet");
        assertThat(results.size()).isEqualTo(2);
        for (JsonNode r : results) {
            assertThat(r.get("batch_size").asInt()).isEqualTo(64);
            JsonNode i = r.get("interleaved");
            assertThat(i.get("iterations").asInt()).isEqualTo(10);
            assertThat(i.get("pair_ratios").size()).isEqualTo(1);
            assertThat(i.get("train_seconds_with").asDouble()).isPositive();
            assertThat(i.get("train_seconds_without").asDouble()).isPositive();
            assertThat(i.get("params_identical").asBoolean())
                    .as("params identical, %s", r.get("model"))
                    .isTrue();
            JsonNode g = r.get("gradients");
            assertThat(g.get("k").asInt()).isEqualTo(16);
            assertThat(g.get("path").asText()).isEqualTo("batched"); // dense and conv/BatchNorm have batched rules
            assertThat(g.get("per_example_median_ms").asDouble()).isPositive();
            assertThat(g.get("dl4j_batched_median_ms").asDouble()).isPositive();
            assertThat(g.get("error").isNull()).as("error %s", g.get("error")).isTrue();
            assertThat(r.has("separate_runs")).isFalse();
        }
    }

    @Test
    void separateRunsTrainTheSameParametersInChildJvms() throws Exception {
        SeparateRuns.Result r =
                SeparateRuns.run("mlp", 1, 5, 42, ReportTest.builtinCopy(dir.resolve("builtin")), dir, null);
        assertThat(r.pairs()).isEqualTo(1);
        assertThat(r.trainSecondsWith()[0]).isPositive();
        assertThat(r.trainSecondsWithout()[0]).isPositive();
        assertThat(r.paramsIdentical()).isTrue();
    }
}

package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sgdnoise.listeners.DiffusionListener;
import org.sgdnoise.models.SmallLeNet;
import org.sgdnoise.testing.LogCapture;

class QuickStartTest {

    /** The documented keys of metrics.jsonl (README, "Record schema"). */
    static final List<String> RECORD_KEYS = List.of(
            "iteration",
            "epoch",
            "loss",
            "num_params",
            "num_samples",
            "batch_size",
            "dataset_size",
            "sampling",
            "learning_rate",
            "momentum",
            "temperature",
            "trace",
            "grad_norm_sq",
            "noise_scale",
            "eigenvalues",
            "rank",
            "rank_capped",
            "rank_fraction",
            "eig_mean",
            "eig_std",
            "participation_ratio",
            "stable_rank",
            "effective_rank",
            "isotropy_ratio",
            "mode",
            "seed",
            "probe_ms",
            "sketch_eigenvalues",
            "sketch_eigenvalues_upper",
            "sketch_delta",
            "sketch_gradients",
            "subspace_overlap",
            "overlap_noise_floor",
            "subspace_separated",
            "layer_names",
            "layer_trace",
            "layer_trace_share",
            "layer_lambda_max");

    /** The documented keys of summary.json. */
    static final List<String> SUMMARY_KEYS = List.of(
            "test_accuracy", "final_loss", "wall_time_s", "config", "final_params_sha256", "num_params", "iterations");

    @TempDir
    Path dir;

    private static QuickStart.Options options(Path data, int interval, Path out) {
        return new QuickStart.Options(data, 1, 32, 0.05, 0.9, 7, interval, 8, 12, 0, out).withOverheadBudget(0);
    }

    /** Without --probe-interval a run has at least 10 probes: every iteration for 16, every 52 for 469. */
    @Test
    void theProbeIntervalScalesToTheRunsLength() {
        assertThat(QuickStart.autoProbeInterval(16)).isEqualTo(1);
        assertThat(QuickStart.autoProbeInterval(469)).isEqualTo(52);
        assertThat(QuickStart.autoProbeInterval(100_000)).isEqualTo(QuickStart.DEFAULT_PROBE_INTERVAL);
        for (long planned : new long[] {1, 2, 9, 10, 16, 99, 469, 901, 1000}) {
            long probes = (planned - 1) / QuickStart.autoProbeInterval(planned) + 1;
            assertThat(probes)
                    .as("planned %s", planned)
                    .isGreaterThanOrEqualTo(Math.min(planned, QuickStart.MIN_PROBES));
        }
    }

    /**
     * {@code quickstart --data builtin} with no other option: the built-in sample even where Fashion-MNIST is
     * installed, and 16 iterations with a probe at each (the interval and the budget scaled down, said in the log).
     */
    @Test
    void theBuiltinDataWithDefaultsGivesEveryChartData() throws Exception {
        Path out = dir.resolve("builtin-run");
        List<String> info;
        try (LogCapture logs = new LogCapture(QuickStart.class)) {
            assertThat(Main.execute("quickstart", "--data", "builtin", "--no-report", "--out", out.toString()))
                    .isZero();
            info = logs.messages(Level.INFO);
        }
        assertThat(Files.readAllLines(out.resolve("metrics.jsonl"))).hasSizeGreaterThanOrEqualTo(QuickStart.MIN_PROBES);
        assertThat(info).anyMatch(m -> m.contains("built-in sample") && m.contains("--data builtin"));
        assertThat(info).anyMatch(m -> m.contains("a short run of 16 iterations"));
    }

    private Path builtinCopy() throws Exception {
        // The built-in sample, as an IDX folder, so the test is the same with or without the system data.
        return ReportTest.builtinCopy(dir.resolve("builtin"));
    }

    @Test
    void writesMetricsAndSummaryFollowingTheSchema() throws Exception {
        Path out = dir.resolve("out");
        List<String> info;
        try (LogCapture logs = new LogCapture(DiffusionListener.class)) {
            QuickStart.run(options(builtinCopy(), 5, out));
            info = logs.messages(Level.INFO);
        }
        // The log summary names the layers holding most of tr(D), and the sketch figures.
        assertThat(info).hasSize(3);
        assertThat(info.get(2)).contains("tr(D) by layer: layer").contains("sketch bound [");
        ObjectMapper om = new ObjectMapper();
        List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertThat(lines).hasSize(3); // iterations 0, 5, 10 of 12
        for (String line : lines) {
            JsonNode r = om.readTree(line);
            for (String k : RECORD_KEYS) {
                assertThat(r.has(k)).as("record key %s", k).isTrue();
            }
            assertThat(r.get("num_params").asInt()).isEqualTo(SmallLeNet.TRAINABLE_PARAMS);
            assertThat(r.get("dataset_size").asInt()).isEqualTo(2000);
            assertThat(r.get("sampling").asText()).isEqualTo("without_replacement");
            assertThat(r.get("temperature").asDouble())
                    .isCloseTo(0.05 / 64 * (1 - 32.0 / 2000), Assertions.within(1e-12));
            assertThat(r.get("trace").asDouble()).isPositive();
            assertThat(r.get("layer_names").size()).isEqualTo(7); // 2 conv, 3 BatchNorm, dense, output
            assertThat(r.get("sketch_eigenvalues_upper").get(0).asDouble())
                    .isGreaterThanOrEqualTo(r.get("sketch_eigenvalues").get(0).asDouble());
        }
        assertThat(Files.readAllLines(out.resolve("metrics.csv"))).hasSize(4);
        JsonNode s = om.readTree(out.resolve("summary.json").toFile());
        for (String k : SUMMARY_KEYS) {
            assertThat(s.has(k)).as("summary key %s", k).isTrue();
        }
        assertThat(s.get("iterations").asInt()).isEqualTo(12);
        assertThat(s.get("final_params_sha256").asText()).matches("[0-9a-f]{64}");
        assertThat(s.get("test_accuracy").asDouble()).isBetween(0.0, 1.0);
        assertThat(s.get("config").get("seed").asLong()).isEqualTo(7);
    }

    /**
     * The quick start trains on the library's WithoutReplacementSampler and passes no sampling scheme to the
     * listener: N and the scheme in every record come from the sampler (MinibatchSampler.lastOnThisThread), here
     * with N = 100 set by --train-limit, across an epoch boundary (100 = 3 × 32 + 4).
     */
    @Test
    void recordsTakeTheSchemeAndDatasetSizeFromTheLibrarySampler() throws Exception {
        Path out = dir.resolve("n100");
        QuickStart.run(
                new QuickStart.Options(builtinCopy(), 2, 32, 0.05, 0.9, 7, 1, 4, 6, 100, out).withOverheadBudget(0));
        ObjectMapper om = new ObjectMapper();
        List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertThat(lines).hasSize(6);
        for (String line : lines) {
            JsonNode r = om.readTree(line);
            assertThat(r.get("sampling").asText()).isEqualTo("without_replacement");
            assertThat(r.get("dataset_size").asInt()).isEqualTo(100);
        }
        JsonNode s = om.readTree(out.resolve("summary.json").toFile());
        assertThat(s.get("iterations").asInt()).isEqualTo(6);
        assertThat(s.get("train_examples").asInt()).isEqualTo(100);
    }

    @Test
    void parametersAreBitIdenticalWithAndWithoutTheListener() throws Exception {
        // The paper's LeNet has BatchNorm and dropout: the strongest end-to-end non-interference check.
        Path data = builtinCopy();
        var off = QuickStart.run(options(data, 0, dir.resolve("off"))).summary();
        var on = QuickStart.run(options(data, 1, dir.resolve("on"))).summary();
        assertThat(on.get("probes")).isEqualTo(12);
        assertThat(on.get("final_params_sha256")).isEqualTo(off.get("final_params_sha256"));
        assertThat(Files.exists(dir.resolve("off/metrics.jsonl"))).isFalse();
    }

    @Test
    void commandLineRunsAndReportsBadInputInOneLine() throws Exception {
        Path out = dir.resolve("cli");
        assertThat(Main.execute(
                        "quickstart",
                        "--data",
                        builtinCopy().toString(),
                        "--max-iterations",
                        "3",
                        "--batch-size",
                        "16",
                        "--probe-interval",
                        "2",
                        "--samples",
                        "4",
                        "--out",
                        out.toString()))
                .isZero();
        assertThat(out.resolve("summary.json")).exists();

        Path bad = Files.createDirectories(dir.resolve("bad"));
        Files.write(bad.resolve("train-images-idx3-ubyte"), new byte[] {1, 2, 3, 4, 5});
        Files.write(bad.resolve("train-labels-idx1-ubyte"), new byte[] {0, 0, 8, 1, 0, 0, 0, 9});
        Files.write(bad.resolve("t10k-images-idx3-ubyte"), new byte[] {0});
        Files.write(bad.resolve("t10k-labels-idx1-ubyte"), new byte[] {0});
        CommandRun missing =
                CommandRun.of("quickstart", "--data", dir.resolve("missing").toString(), "--out", out.toString());
        CommandRun notIdx = CommandRun.of("quickstart", "--data", bad.toString(), "--out", out.toString());
        CommandRun oneSample = CommandRun.of("quickstart", "--samples", "1", "--out", out.toString());
        assertThat(List.of(missing.code(), notIdx.code(), oneSample.code())).containsOnly(Main.EXIT_USAGE);
        assertThat(missing.stderr())
                .singleElement()
                .asString()
                .startsWith("error: data directory")
                .contains("missing");
        assertThat(notIdx.stderr())
                .singleElement()
                .asString()
                .startsWith("error: ")
                .contains("not an IDX file");
        assertThat(oneSample.stderr()).containsExactly("error: samples must be >= 2, got 1");
    }
}

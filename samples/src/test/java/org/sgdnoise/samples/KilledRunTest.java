package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training run killed with SIGKILL in the middle of writing loses at most its last record: every line of
 * its JSONL and CSV files but the last is whole, and the readers take what is whole (a torn last line is
 * skipped).
 */
class KilledRunTest {

    @TempDir
    Path dir;

    @Test
    void aKilledRunLeavesWholeLinesAndTheReadersSkipATornLastOne() throws Exception {
        Path data = ReportTest.builtinCopy(dir.resolve("data"));
        Path out = dir.resolve("out");
        Path jsonl = out.resolve("metrics.jsonl");
        Process p = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp",
                        System.getProperty("java.class.path"),
                        Main.class.getName(),
                        "quickstart",
                        "--overhead-budget",
                        "0",
                        "--model",
                        "mlp",
                        "--trajectory",
                        "--data",
                        data.toString(),
                        "--batch-size",
                        "16",
                        "--probe-interval",
                        "1",
                        "--samples",
                        "8",
                        "--epochs",
                        "1000",
                        "--out",
                        out.toString())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("log.txt").toFile())
                .start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            // The trajectory file is written in batches at most TrajectoryFile.FLUSH_MILLIS apart: wait for some.
            while ((lines(jsonl) < 30 || lines(out.resolve("trajectory.csv")) < 10)
                    && p.isAlive()
                    && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(p.isAlive())
                    .as("still training (log: %s)", dir.resolve("log.txt"))
                    .isTrue();
            assertThat(lines(jsonl)).isGreaterThanOrEqualTo(30);
        } finally {
            p.destroyForcibly(); // SIGKILL: no shutdown hook, no close, no flush
            p.waitFor(30, TimeUnit.SECONDS);
        }

        ObjectMapper om = new ObjectMapper();
        List<String> records = Files.readAllLines(jsonl);
        for (int i = 0; i < records.size() - 1; i++) {
            om.readTree(records.get(i)); // whole
        }
        List<String> csv = Files.readAllLines(out.resolve("metrics.csv"));
        int columns = csv.get(0).split(",", -1).length;
        for (int i = 1; i < csv.size() - 1; i++) {
            assertThat(csv.get(i).split(",", -1)).as("csv line %d", i).hasSize(columns);
        }
        // The trajectory file may end in a torn line; analyze-trajectory reads the whole ones.
        Path trajectory = out.resolve("trajectory.csv");
        List<String> rows = Files.readAllLines(trajectory);
        // A row per iteration, written in batches: the rows of the last batch died with the process, the earlier
        // ones are there.
        assertThat(rows.size()).isGreaterThanOrEqualTo(10);
        List<String> whole = torn(rows) ? rows.subList(0, rows.size() - 1) : rows;
        for (String row : whole.subList(1, whole.size())) {
            assertThat(row.split(",", -1)).hasSize(whole.get(0).split(",", -1).length);
        }
        // Whichever way the kill fell, end the file in a torn line as a kill mid-write leaves it: cut after a
        // few cells, and cut inside the last cell (all its columns, a wrong number).
        String lastRow = whole.get(whole.size() - 1);
        for (String torn : new String[] {lastRow.substring(0, 7), lastRow.substring(0, lastRow.length() - 3)}) {
            Files.writeString(trajectory, String.join("\n", whole) + "\n" + torn, StandardCharsets.UTF_8);
            Path report = dir.resolve("loops.json");
            assertThat(Main.execute("analyze-trajectory", trajectory.toString(), "--out", report.toString()))
                    .isZero();
            assertThat(om.readTree(report.toFile()).get("steps").asInt()).isEqualTo(whole.size() - 1);
        }
    }

    private static boolean torn(List<String> rows) {
        return rows.get(rows.size() - 1).split(",", -1).length != rows.get(0).split(",", -1).length;
    }

    private static long lines(Path p) throws Exception {
        if (!Files.exists(p)) {
            return 0;
        }
        try (var s = Files.lines(p)) {
            return s.count();
        }
    }
}

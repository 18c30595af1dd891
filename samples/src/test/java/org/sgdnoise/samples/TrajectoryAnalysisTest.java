package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sgdnoise.samples.data.BuiltinData;
import org.sgdnoise.trajectory.ToySystems;

class TrajectoryAnalysisTest {

    @TempDir
    Path dir;

    private Path writeCsv(double[][] y, String header) throws Exception {
        StringBuilder sb = new StringBuilder();
        if (header != null) {
            sb.append(header).append('\n');
        }
        for (double[] row : y) {
            for (int i = 0; i < row.length; i++) {
                sb.append(i > 0 ? "," : "").append(row[i]);
            }
            sb.append('\n');
        }
        Path p = dir.resolve("t.csv");
        Files.writeString(p, sb.toString());
        return p;
    }

    @Test
    void anyCsvOfCoordinatesIsAnalysedWithItsTimeStep() throws Exception {
        Path csv = writeCsv(ToySystems.rotatingOu(0.7, 0.01, 200_000, 3), null);
        Path out = dir.resolve("r.json");
        Path png = dir.resolve("p.png");
        assertThat(Main.execute(
                        "analyze-trajectory",
                        csv.toString(),
                        "--dt",
                        "0.01",
                        "--out",
                        out.toString(),
                        "--png",
                        png.toString()))
                .isZero();
        JsonNode r = new ObjectMapper().readTree(out.toFile());
        assertThat(r.get("verdict").asText()).isEqualTo("LOOP");
        assertThat(r.get("max_rate").asDouble()).isCloseTo(0.7, within(0.07));
        assertThat(r.get("area_rate").get(0).get(1).asDouble()).isPositive();
        for (String k : new String[] {"plane", "period", "p_value", "diffusion_exponent"}) {
            assertThat(r.has(k)).as(k).isTrue();
        }
        assertThat(ImageIO.read(png.toFile()).getWidth()).isEqualTo(640);
    }

    @Test
    void listenerFileRoundTripsAndATornLastLineIsSkipped() throws Exception {
        // The listener's layout: bookkeeping columns, then y0..y(m−1); the last segment is analysed.
        double[][] y = ToySystems.brownian(3, 1, 2000, 4);
        StringBuilder sb =
                new StringBuilder("iteration,epoch,segment,loss,distance,step,theta_dot_update,update_sq,y0,y1,y2\n");
        for (int t = 0; t < y.length; t++) {
            int segment = t < 500 ? 0 : 1;
            sb.append(t)
                    .append(",0,")
                    .append(segment)
                    .append(",0.5,1,0.1,0,0,")
                    .append(y[t][0])
                    .append(',')
                    .append(y[t][1])
                    .append(',')
                    .append(y[t][2])
                    .append('\n');
        }
        sb.append("2000,0,1,0.5,1"); // torn
        Path csv = dir.resolve("traj.csv");
        Files.writeString(csv, sb.toString());
        double[][] read = TrajectoryAnalysis.read(csv);
        assertThat(read).hasNumberOfRows(1500);
        assertThat(read[0]).containsExactly(y[500]);
        assertThat(Main.execute(
                        "analyze-trajectory",
                        csv.toString(),
                        "--out",
                        dir.resolve("a.json").toString(),
                        "--png",
                        dir.resolve("a.png").toString()))
                .isZero();
    }

    @Test
    void aTrajectoryWrittenByTheListenerRoundTripsThroughAnalyzeTrajectory() throws Exception {
        Path data = dir.resolve("builtin");
        Files.createDirectories(data);
        for (String f : new String[] {
            "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
        }) {
            try (var in = BuiltinData.open(f)) {
                Files.copy(in, data.resolve(f + ".gz"));
            }
        }
        Path out = dir.resolve("run");
        assertThat(Main.execute(
                        "quickstart",
                        "--overhead-budget",
                        "0",
                        "--model",
                        "mlp",
                        "--momentum",
                        "0",
                        "--data",
                        data.toString(),
                        "--batch-size",
                        "32",
                        "--epochs",
                        "12",
                        "--max-iterations",
                        "700",
                        "--probe-interval",
                        "0",
                        "--trajectory",
                        "--out",
                        out.toString()))
                .isZero();
        Path csv = out.resolve("trajectory.csv");
        assertThat(Files.readAllLines(csv)).hasSize(701);
        assertThat(TrajectoryAnalysis.read(csv)).hasNumberOfRows(700);
        Path report = dir.resolve("rt.json");
        assertThat(Main.execute(
                        "analyze-trajectory",
                        csv.toString(),
                        "--out",
                        report.toString(),
                        "--png",
                        dir.resolve("rt.png").toString()))
                .isZero();
        JsonNode r = new ObjectMapper().readTree(report.toFile());
        assertThat(r.get("steps").asInt()).isEqualTo(700);
        assertThat(r.get("dimensions").asInt()).isEqualTo(16);
        assertThat(r.get("stationarity_ratio").isNumber()).isTrue();
        Path tail = dir.resolve("tail.json");
        assertThat(Main.execute(
                        "analyze-trajectory",
                        csv.toString(),
                        "--last",
                        "300",
                        "--out",
                        tail.toString(),
                        "--png",
                        dir.resolve("tail.png").toString()))
                .isZero();
        assertThat(new ObjectMapper().readTree(tail.toFile()).get("steps").asInt())
                .isEqualTo(300);
    }

    @Test
    void thePlainSgdGateTurnsADriftingLoopIntoNotStationary() throws Exception {
        double[][] y = ToySystems.rotatingOu(0.7, 0.01, 50_000, 8);
        for (double dot : new double[] {0.5, 0.0}) { // ratio 2·dot/sq = 1 (stationary), then 0 (drifting)
            StringBuilder sb =
                    new StringBuilder("iteration,epoch,segment,loss,distance,step,theta_dot_update,update_sq,y0,y1\n");
            for (int t = 0; t < y.length; t++) {
                sb.append(t)
                        .append(",0,0,0.5,1,0.1,")
                        .append(dot)
                        .append(",1,")
                        .append(y[t][0])
                        .append(',')
                        .append(y[t][1])
                        .append('\n');
            }
            Path csv = dir.resolve("g" + dot + ".csv");
            Files.writeString(csv, sb.toString());
            Path out = dir.resolve("g" + dot + ".json");
            assertThat(Main.execute(
                            "analyze-trajectory",
                            csv.toString(),
                            "--plain-sgd",
                            "--dt",
                            "0.01",
                            "--out",
                            out.toString(),
                            "--png",
                            dir.resolve("g.png").toString()))
                    .isZero();
            JsonNode r = new ObjectMapper().readTree(out.toFile());
            assertThat(r.get("stationarity_ratio").asDouble()).isCloseTo(2 * dot, within(1e-9));
            assertThat(r.get("verdict").asText()).isEqualTo(dot == 0.5 ? "LOOP" : "NOT_STATIONARY");
        }
    }

    @Test
    void badFilesGiveExitCodeTwo() throws Exception {
        Path bad = dir.resolve("bad.csv");
        Files.writeString(bad, "a,b\n1,x\n2,3\n");
        assertThat(Main.execute(
                        "analyze-trajectory",
                        bad.toString(),
                        "--out",
                        dir.resolve("o.json").toString()))
                .isEqualTo(2);
        assertThat(Main.execute("analyze-trajectory", dir.resolve("missing.csv").toString()))
                .isEqualTo(2);
        assertThat(Main.execute("analyze-trajectory", bad.toString(), "--dt", "0"))
                .isEqualTo(2);
    }

    @Test
    void toyCommandRuns() {
        assertThat(Main.execute("toy", "--steps", "20000", "--dt", "0.01")).isZero();
    }
}

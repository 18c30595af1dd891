package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sgdnoise.output.TensorBoardEventReader;

/** {@code quickstart --tensorboard DIR} and {@code --dashboard PORT}: live outputs of a real run. */
class QuickStartMonitoringTest {

    @TempDir
    Path dir;

    /**
     * 60 iterations (batch 32 on the built-in sample's 2,000 images: 63 per epoch) with a probe every 20: TensorBoard
     * event files with 60 loss points, 3 points per D statistic and 3 eigenvalue histograms, read back by a reader
     * that shares no code with the writer.
     */
    @Test
    void tensorboardGetsTheLossAtEveryIterationAndThreePointsPerStatistic() throws Exception {
        Path tb = dir.resolve("tb");
        int code = Main.execute(
                "quickstart",
                "--data",
                "builtin",
                "--batch-size",
                "32",
                "--max-iterations",
                "60",
                "--probe-interval",
                "20",
                "--no-report",
                "--tensorboard",
                tb.toString(),
                "--out",
                dir.resolve("out").toString());
        assertThat(code).isZero();
        List<TensorBoardEventReader.Event> events = TensorBoardEventReader.runEvents(tb.resolve("worker-0"));
        assertThat(TensorBoardEventReader.scalars(events, "loss")).hasSize(60);
        for (String tag :
                List.of("diffusion/trace", "diffusion/lambda_max", "diffusion/rank", "diffusion/temperature")) {
            assertThat(TensorBoardEventReader.scalars(events, tag)).as(tag).hasSize(3);
        }
        long histograms = events.stream()
                .flatMap(e -> e.values().stream())
                .filter(v -> v.tag().equals("diffusion/eigenvalues") && v.histogram() != null)
                .count();
        assertThat(histograms).isEqualTo(3);
    }

    /** The dashboard answers while training runs, on 127.0.0.1, and its URL is printed. */
    @Test
    void theDashboardServesTheRecordsWhileTraining() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        int chosen = port;
        String[] seen = new String[1];
        Thread poller = new Thread(() -> {
            HttpClient client = HttpClient.newHttpClient();
            long end = System.nanoTime() + 120_000_000_000L;
            while (System.nanoTime() < end && seen[0] == null) {
                try {
                    HttpResponse<String> r = client.send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + chosen + "/api/records"))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200 && r.body().contains("\"trace\"")) {
                        seen[0] = r.body();
                    }
                } catch (Exception notYet) {
                    // the server is not up yet
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        poller.start();
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        PrintStream out = System.out;
        int code;
        try {
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            code = Main.execute(
                    "quickstart",
                    "--data",
                    "builtin",
                    "--model",
                    "mlp",
                    "--batch-size",
                    "32",
                    "--epochs",
                    "3",
                    "--no-report",
                    "--dashboard",
                    Integer.toString(port),
                    "--out",
                    dir.resolve("out").toString());
        } finally {
            System.setOut(out);
        }
        poller.join();
        assertThat(code).isZero();
        assertThat(printed.toString(StandardCharsets.UTF_8)).contains("dashboard: http://127.0.0.1:" + port + "/");
        assertThat(seen[0])
                .as("a probe record served during training")
                .isNotNull()
                .startsWith("[");
    }

    /** A port in use is bad input: one error line, exit code 2. */
    @Test
    void aPortInUseIsOneErrorLine() throws Exception {
        try (ServerSocket busy = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            CommandRun run = CommandRun.of(
                    "quickstart",
                    "--data",
                    "builtin",
                    "--max-iterations",
                    "2",
                    "--no-report",
                    "--dashboard",
                    Integer.toString(busy.getLocalPort()),
                    "--out",
                    dir.resolve("out").toString());
            assertThat(run.code()).isEqualTo(2);
            assertThat(run.stderr()).hasSize(1);
            assertThat(run.stderr().get(0)).startsWith("error: dashboard:").contains("in use");
        }
    }
}

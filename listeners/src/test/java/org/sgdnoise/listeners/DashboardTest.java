package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.testing.TestNetworks;

/**
 * The dashboard's HTTP API with a plain socket client: records in arrival order with {@code ?since}, the scalars'
 * columns, the bound, the loopback bind, 404/405/400/403 and path traversal, a port in use, and clients that never
 * read their answer.
 */
class DashboardTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** A minimal HTTP/1.1 answer: status, headers (lower-case names), body. */
    record Answer(int status, Map<String, String> headers, String body) {}

    static Answer request(InetSocketAddress a, String method, String target, String host) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(a, 5000);
            s.setSoTimeout(20_000);
            OutputStream out = s.getOutputStream();
            out.write((method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            byte[] all = s.getInputStream().readAllBytes();
            String text = new String(all, StandardCharsets.UTF_8);
            int split = text.indexOf("\r\n\r\n");
            String[] head = text.substring(0, split).split("\r\n");
            Map<String, String> headers = new LinkedHashMap<>();
            for (int i = 1; i < head.length; i++) {
                int c = head[i].indexOf(':');
                headers.put(
                        head[i].substring(0, c).trim().toLowerCase(),
                        head[i].substring(c + 1).trim());
            }
            return new Answer(Integer.parseInt(head[0].split(" ")[1]), headers, text.substring(split + 4));
        }
    }

    static Answer get(Dashboard d, String target) throws IOException {
        return request(d.address(), "GET", target, "127.0.0.1:" + d.address().getPort());
    }

    static ProbeRecord probe(int iteration, int worker) {
        return ProbeRecord.builder()
                .put("iteration", iteration)
                .put("worker", worker)
                .put("loss", 1.0 / (1 + iteration))
                .put("trace", 2.5)
                .put("eigenvalues", new double[] {1, 0.5})
                .put("note", "</script><b>")
                .build();
    }

    static ProbeRecord verdict(int iteration) {
        return ProbeRecord.builder()
                .put("iteration", iteration)
                .put("worker", 0)
                .put("verdict", "NO_LOOP")
                .put("p_value", 0.4)
                .build();
    }

    @Test
    void recordsComeInArrivalOrderWithSequenceNumbersAndSinceGivesOnlyNewerOnes() throws Exception {
        try (Dashboard d = Dashboard.start(0)) {
            assertThat(JSON.readTree(get(d, "/api/records").body())).isEmpty();
            d.write(probe(0, 0));
            d.write(probe(0, 1));
            d.write(verdict(100));
            d.write(probe(10, 0));
            Answer all = get(d, "/api/records");
            assertThat(all.status()).isEqualTo(200);
            assertThat(all.headers().get("content-type")).startsWith("application/json");
            JsonNode a = JSON.readTree(all.body());
            assertThat(a).hasSize(4);
            List<Long> seqs = new ArrayList<>();
            a.forEach(e -> seqs.add(e.get("seq").asLong()));
            assertThat(seqs).containsExactly(1L, 2L, 3L, 4L);
            assertThat(a.get(2).get("kind").asText()).isEqualTo("loop");
            assertThat(a.get(1).get("kind").asText()).isEqualTo("probe");
            assertThat(a.get(1).get("record").get("worker").asInt()).isEqualTo(1);
            assertThat(a.get(0).get("record").get("note").asText()).isEqualTo("</script><b>");

            JsonNode newer = JSON.readTree(get(d, "/api/records?since=2").body());
            assertThat(newer).hasSize(2);
            assertThat(newer.get(0).get("seq").asLong()).isEqualTo(3);
            assertThat(JSON.readTree(get(d, "/api/records?since=4").body())).isEmpty();
            assertThat(get(d, "/api/records?since=abc").status()).isEqualTo(400);
            assertThat(d.records()).hasSize(4);
        }
    }

    @Test
    void scalarsAreColumnsOfEqualLengthWithNullForNonFiniteValues() throws Exception {
        try (Dashboard d = Dashboard.start(0)) {
            for (int i = 0; i < 5; i++) {
                d.writeScalars(new IterationScalars(i, 0, 0, 2.0 - 0.1 * i, 0.05, i == 0 ? Double.NaN : 0.01 * i));
                d.writeScalars(new IterationScalars(i, 0, 1, 2.5 - 0.1 * i, 0.05, 0.02));
            }
            JsonNode s = JSON.readTree(get(d, "/api/scalars").body());
            for (String k : List.of("iteration", "epoch", "worker", "loss", "learning_rate", "update_norm")) {
                assertThat(s.get(k)).as(k).hasSize(10);
            }
            assertThat(s.get("offered").asLong()).isEqualTo(10);
            assertThat(s.get("worker").get(0).asInt()).isZero();
            assertThat(s.get("worker").get(9).asInt()).isEqualTo(1);
            assertThat(s.get("update_norm").get(0).isNull()).isTrue();
            assertThat(s.get("loss").get(1).asDouble()).isEqualTo(1.9);
            assertThat(s.get("learning_rate").get(3).asDouble()).isEqualTo(0.05);
        }
    }

    @Test
    void theNewestRecordsOfEachKindAreKeptBeyondTheBound() throws Exception {
        try (Dashboard d = Dashboard.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 5, 10_000)) {
            d.write(verdict(0));
            for (int i = 0; i < 8; i++) {
                d.write(probe(i, 0));
            }
            JsonNode a = JSON.readTree(get(d, "/api/records").body());
            List<Long> seqs = new ArrayList<>();
            a.forEach(e -> seqs.add(e.get("seq").asLong()));
            // The verdict (seq 1) outlives probes written after it: each kind has its own bound.
            assertThat(seqs).containsExactly(1L, 5L, 6L, 7L, 8L, 9L);
        }
    }

    @Test
    void itBindsLoopbackOnlyAndAnswersOnlyLoopbackHostNames() throws Exception {
        try (Dashboard d = Dashboard.start(0)) {
            assertThat(d.address().getAddress().isLoopbackAddress()).isTrue();
            assertThat(d.url()).isEqualTo("http://127.0.0.1:" + d.address().getPort() + "/");
            InetAddress other = nonLoopbackAddress();
            if (other != null) {
                try (Socket s = new Socket()) {
                    assertThatThrownBy(() -> s.connect(
                                    new InetSocketAddress(other, d.address().getPort()), 2000))
                            .as("connecting through %s", other)
                            .isInstanceOfAny(ConnectException.class, SocketTimeoutException.class);
                }
            }
            int port = d.address().getPort();
            assertThat(request(d.address(), "GET", "/", "localhost:" + port).status())
                    .isEqualTo(200);
            assertThat(request(d.address(), "GET", "/api/records", "attacker.example:" + port)
                            .status())
                    .as("a rebinding page's host name")
                    .isEqualTo(403);
        }
    }

    private static InetAddress nonLoopbackAddress() throws IOException {
        for (NetworkInterface n : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!n.isUp() || n.isLoopback()) {
                continue;
            }
            for (InetAddress a : Collections.list(n.getInetAddresses())) {
                if (a instanceof Inet4Address && !a.isLoopbackAddress()) {
                    return a;
                }
            }
        }
        return null;
    }

    @Test
    void onlyGetAndHeadOnTheFixedPathsAnythingElseIs404Or405() throws Exception {
        try (Dashboard d = Dashboard.start(0)) {
            Answer page = get(d, "/");
            assertThat(page.status()).isEqualTo(200);
            assertThat(page.headers().get("content-type")).startsWith("text/html");
            assertThat(page.headers().get("content-security-policy")).contains("default-src 'none'");
            assertThat(page.body()).contains("assets/dashboard.js").doesNotContain("http://", "https://");
            for (String asset : List.of("dashboard.js", "dashboard.css", "uPlot.iife.min.js", "uPlot.min.css")) {
                Answer a = get(d, "/assets/" + asset);
                assertThat(a.status()).as(asset).isEqualTo(200);
                assertThat(a.body()).as(asset).isNotEmpty();
            }
            assertThat(get(d, "/assets/uPlot.min.css").headers().get("content-type"))
                    .startsWith("text/css");
            for (String bad : List.of(
                    "/nope",
                    "/index.html",
                    "/api/records/",
                    "/api",
                    "/assets/",
                    "/assets/README.md",
                    "/assets/uPlot.LICENSE",
                    "/assets/../api/records",
                    "/assets/%2e%2e/api/records",
                    "/assets/%2E%2E%2Fdashboard.js",
                    "/assets/..%2f..%2fpom.xml",
                    "/assets/../../../../etc/passwd",
                    "/assets//etc/passwd",
                    "/assets/dashboard.js/",
                    "/assets/dashboard.js%00",
                    "/org/sgdnoise/dashboard/index.html")) {
                assertThat(get(d, bad).status()).as(bad).isEqualTo(404);
            }
            for (String method : List.of("POST", "PUT", "DELETE", "PATCH", "OPTIONS")) {
                Answer a = request(
                        d.address(),
                        method,
                        "/api/records",
                        "127.0.0.1:" + d.address().getPort());
                assertThat(a.status()).as(method).isEqualTo(405);
                assertThat(a.headers().get("allow")).isEqualTo("GET, HEAD");
            }
            Answer head =
                    request(d.address(), "HEAD", "/", "127.0.0.1:" + d.address().getPort());
            assertThat(head.status()).isEqualTo(200);
            assertThat(head.body()).isEmpty();
        }
    }

    @Test
    void aPortInUseOrOutOfRangeIsAClearException() {
        try (Dashboard d = Dashboard.start(0)) {
            int port = d.address().getPort();
            assertThatThrownBy(() -> Dashboard.start(port))
                    .isInstanceOf(UncheckedIOException.class)
                    .hasMessageContaining("port " + port + " is in use");
        }
        assertThatThrownBy(() -> Dashboard.start(70_000))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port must be in [0, 65535], got 70000");
        assertThatThrownBy(() -> Dashboard.start(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * Clients that send a request for a large answer and never read it: writes go on at memory speed, another
     * client is answered at once while one is stuck, and even with every thread stuck, within the exchange deadline.
     */
    @Test
    void clientsThatNeverReadStallNeitherWritesNorOtherClients() throws Exception {
        long deadline = 1500;
        try (Dashboard d = Dashboard.start(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), Dashboard.MAX_RECORDS, deadline)) {
            String big = "x".repeat(10_000);
            for (int i = 0; i < 3000; i++) { // 30 MB of JSON: more than the sockets' buffers hold
                d.write(ProbeRecord.builder()
                        .put("iteration", i)
                        .put("trace", 1.0)
                        .put("note", big)
                        .build());
            }
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong slowestWriteNanos = new AtomicLong();
            AtomicLong writes = new AtomicLong();
            Thread writer = new Thread(() -> {
                int i = 0;
                while (!stop.get()) {
                    long t0 = System.nanoTime();
                    d.write(probe(i, 0));
                    d.writeScalars(new IterationScalars(i, 0, 0, 1.0, 0.1, 0.01));
                    slowestWriteNanos.accumulateAndGet(System.nanoTime() - t0, Math::max);
                    writes.incrementAndGet();
                    i++;
                    try {
                        Thread.sleep(1); // a fast training loop; the large records stay within the bound
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            writer.start();
            List<Socket> stuck = new ArrayList<>();
            try {
                stuck.add(neverReads(d));
                Thread.sleep(300);
                long t0 = System.nanoTime();
                assertThat(get(d, "/api/scalars").status()).isEqualTo(200);
                assertThat((System.nanoTime() - t0) / 1e6)
                        .as("ms for an answer beside one stuck client")
                        .isLessThan(deadline);

                for (int i = 0; i < Dashboard.THREADS + 1; i++) {
                    stuck.add(neverReads(d));
                }
                Thread.sleep(300);
                t0 = System.nanoTime();
                assertThat(get(d, "/api/scalars").status()).isEqualTo(200);
                assertThat((System.nanoTime() - t0) / 1e6)
                        .as("ms for an answer with every thread stuck")
                        .isLessThan(deadline * 4 + 2000);
            } finally {
                stop.set(true);
                writer.join();
                for (Socket s : stuck) {
                    s.close();
                }
            }
            assertThat(writes.get()).isGreaterThan(100);
            assertThat(slowestWriteNanos.get() / 1e6)
                    .as("slowest write in ms (memory only, never waits for a client)")
                    .isLessThan(250);
        }
    }

    private static Socket neverReads(Dashboard d) throws IOException {
        Socket s = new Socket();
        s.setReceiveBufferSize(4096);
        s.connect(d.address(), 5000);
        s.getOutputStream()
                .write(("GET /api/records HTTP/1.1\r\nHost: 127.0.0.1:"
                                + d.address().getPort() + "\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        return s;
    }

    /** The listeners write to the dashboard while training, and closing them leaves the dashboard serving. */
    @Test
    void theListenersPublishToItAndDoNotCloseIt() throws Exception {
        try (Dashboard d = Dashboard.start(0)) {
            DiffusionListener listener = new DiffusionListener.Builder()
                    .overheadBudget(0)
                    .probeEvery(4)
                    .gradientsPerProbe(6)
                    .sink(d)
                    .build();
            TrajectoryListener trajectory =
                    new TrajectoryListener.Builder().overheadBudget(0).sink(d).build();
            MultiLayerNetwork net = TestNetworks.dropoutMlp(DataType.FLOAT);
            net.addListeners(listener, trajectory);
            net.fit(
                    new ListDataSetIterator<>(
                            TestNetworks.vectors(64, 41, DataType.FLOAT).asList(), 16),
                    3);
            listener.close();
            trajectory.close(); // both close their sinks but a dashboard
            JsonNode records = JSON.readTree(get(d, "/api/records").body());
            // probes at iterations 0, 4, 8 of 12, then the TrajectoryListener's final analysis at close()
            assertThat(records).hasSize(4);
            assertThat(records.get(3).get("kind").asText()).isEqualTo("loop");
            assertThat(records.get(0).get("kind").asText()).isEqualTo("probe");
            assertThat(records.get(2).get("record").get("iteration").asInt()).isEqualTo(8);
            JsonNode s = JSON.readTree(get(d, "/api/scalars").body());
            assertThat(s.get("iteration")).hasSize(12);
        }
    }

    @Test
    void theStaticPageInlinesEverythingAndEmbedsTheData() throws Exception {
        Path out = dir.resolve("sub/page.html");
        DashboardPage.builder()
                .title("run <1>")
                .records(List.of(probe(0, 0), verdict(100)))
                .scalars(List.of(new IterationScalars(0, 0, 0, 1.5, 0.1, Double.NaN)))
                .table("Final figures", Map.of("test_accuracy", "0.8"))
                .spectrum("end of training", new double[] {3, 2, 1e-3}, 1e-2)
                .phasePortrait("a circle", new double[] {1, 0, -1}, new double[] {0, 1, 0})
                .image("sampling", "Sampling", "a PNG", new byte[] {(byte) 0x89, 'P', 'N', 'G'})
                .build()
                .write(out);
        String html = Files.readString(out);
        assertThat(html)
                .contains("<title>run &lt;1&gt;</title>")
                .contains("window.SGDNOISE_DATA = {")
                .contains("default-src 'none'")
                .doesNotContain("src=\"assets/", "href=\"assets/", "src=\"http", "href=\"http", "connect-src");
        // One script element per inlined script and the data: the record's "</script>" did not end one.
        assertThat(html.split("</script>", -1)).hasSize(4);
        String blob = html.substring(html.indexOf("window.SGDNOISE_DATA = ") + 23, html.indexOf(";</script>"));
        JsonNode data = JSON.readTree(blob);
        assertThat(data.get("records")).hasSize(2);
        assertThat(data.get("records").get(0).get("record").get("note").asText())
                .isEqualTo("</script><b>");
        assertThat(data.get("scalars").get("loss").get(0).asDouble()).isEqualTo(1.5);
        assertThat(data.get("tables").get(0).get("rows").get(0).get(1).asText()).isEqualTo("0.8");
        try (InputStream in = Dashboard.class.getResourceAsStream("/org/sgdnoise/dashboard/index.html")) {
            assertThat(in).as("the page is in the jar's resources").isNotNull();
        }
    }
}

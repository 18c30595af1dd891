package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Color;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sgdnoise.samples.chart.Plot;
import org.sgdnoise.samples.data.BuiltinData;
import org.sgdnoise.samples.report.Report;

/**
 * The report from a quick-start folder: one HTML page, the dashboard's, with the run's records, scalars, spectra,
 * phase portrait, sampling charts, final figures and configuration embedded; it loads nothing, and in headless
 * Chromium it draws every chart.
 */
class ReportTest {

    @TempDir
    static Path dir;

    static Path run;
    static QuickStart.Result withReport;

    static final List<String> SECTIONS = List.of(
            "probes",
            "scalars",
            "loops",
            "spectra",
            "phase_portrait",
            "sampling_loss",
            "sampling_flat_variance",
            "sampling_lag",
            "sampling_train_eval",
            "figures",
            "configuration");

    /** The page's charts for a quick start with the trajectory and three spectra. */
    static final List<String> CHARTS = List.of(
            "loss",
            "update",
            "noise",
            "rank",
            "anisotropy",
            "temperature",
            "spectrum",
            "spectra",
            "layers",
            "verdicts",
            "phase_portrait");

    /** The built-in sample as an IDX folder {@code d} (created), the same with or without the system data. */
    static Path builtinCopy(Path d) throws Exception {
        Files.createDirectories(d);
        for (String f : new String[] {
            "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
        }) {
            try (var in = BuiltinData.open(f)) {
                Files.copy(in, d.resolve(f + ".gz"));
            }
        }
        return d;
    }

    static QuickStart.Options options(Path data, Path out, boolean report) {
        return new QuickStart.Options(
                data, 7, 16, 0.05, 0.9, 11, 20, 8, 800, 0, out, "mlp", true, 0, report, 0, null, null);
    }

    /** The charts of a compare-sampling folder, in the report's order. */
    private static final String[] SAMPLING_PNGS = {
        "test_loss.png", "flat_variance.png", "lag_covariance.png", "train_eval_gap.png"
    };

    /** A quick start with the report (800 iterations, trajectory on), and a compare-sampling folder beside it. */
    @BeforeAll
    static void quickStart() throws Exception {
        Path data = builtinCopy(dir.resolve("data"));
        run = dir.resolve("run");
        withReport = QuickStart.run(options(data, run, true));
        Path cs = Files.createDirectories(run.resolve("compare-sampling"));
        double[] x = {32, 128};
        double[] mean = {0.8, 0.7};
        double[] sd = {0.01, 0.02};
        for (String png : SAMPLING_PNGS) {
            new Plot(png, "batch size", "y")
                    .log2X()
                    .errorBars("with", x, mean, sd, Color.BLUE)
                    .write(cs.resolve(png), 720, 480);
        }
    }

    @Test
    void theQuickStartWritesItsReportAndTrainsAsWithout() throws Exception {
        assertThat(run.resolve("report/report.html")).exists();
        for (String pct : new String[] {"020", "040", "100"}) {
            assertThat(run.resolve("spectrum-" + pct + ".json")).exists();
        }
        QuickStart.Result without = QuickStart.run(options(dir.resolve("data"), dir.resolve("no-report"), false));
        assertThat(without.summary().get("final_params_sha256"))
                .isEqualTo(withReport.summary().get("final_params_sha256"));
        assertThat(dir.resolve("no-report/report")).doesNotExist();
    }

    @Test
    void thePageEmbedsEveryPartOfTheRunAndLoadsNothing() throws Exception {
        Report.Result r = Report.run(run, dir.resolve("out"));
        assertThat(r.sections()).containsExactlyElementsOf(SECTIONS);
        String html = Files.readString(r.html());
        assertThat(html)
                .contains("default-src 'none'") // the browser is told to load nothing else
                .doesNotContain("src=\"http", "href=\"http", "src=\"file", "src=\"assets/", "href=\"assets/");
        int at = html.indexOf("window.SGDNOISE_DATA = ") + "window.SGDNOISE_DATA = ".length();
        JsonNode data = new ObjectMapper().readTree(html.substring(at, html.indexOf(";</script>", at)));

        long probes = Files.readAllLines(run.resolve("metrics.jsonl")).size();
        long loops = Files.readAllLines(run.resolve("loops.jsonl")).size();
        assertThat(probes).isPositive();
        assertThat(loops).isPositive();
        assertThat(data.get("records")).hasSize((int) (probes + loops));
        assertThat(data.get("scalars").get("loss"))
                .hasSize(Files.readAllLines(run.resolve("scalars.jsonl")).size())
                .hasSizeGreaterThan(700); // every iteration of 800, none thinned below the capacity
        assertThat(data.get("spectra")).hasSize(3);
        assertThat(data.get("spectra").get(2).get("label").asText()).startsWith("100% of training");
        assertThat(data.get("portrait").get("u").size())
                .isEqualTo(data.get("portrait").get("v").size())
                .isGreaterThan(100);
        List<String> images = new ArrayList<>();
        for (JsonNode im : data.get("images")) {
            images.add(im.get("id").asText());
            byte[] png =
                    Base64.getDecoder().decode(im.get("src").asText().substring("data:image/png;base64,".length()));
            String file = SAMPLING_PNGS[images.size() - 1];
            assertThat(png)
                    .isEqualTo(
                            Files.readAllBytes(run.resolve("compare-sampling").resolve(file)));
            assertThat(ImageIO.read(new ByteArrayInputStream(png))).isNotNull();
        }
        assertThat(images)
                .containsExactly("sampling_loss", "sampling_flat_variance", "sampling_lag", "sampling_train_eval");
        JsonNode figures = data.get("tables").get(0);
        assertThat(figures.get("title").asText()).isEqualTo("Final figures");
        assertThat(rows(figures))
                .containsEntry(
                        "test_accuracy", String.valueOf(withReport.summary().get("test_accuracy")));
        assertThat(rows(data.get("tables").get(1))).containsEntry("seed", "11").containsEntry("batch_size", "16");
    }

    private static Map<String, String> rows(JsonNode table) {
        Map<String, String> m = new LinkedHashMap<>();
        table.get("rows").forEach(row -> m.put(row.get(0).asText(), row.get(1).asText()));
        return m;
    }

    @Test
    void aTornLastRecordIsSkippedAndAnEmptyFolderIsOneLineExitTwo() throws Exception {
        Path torn = Files.createDirectories(dir.resolve("torn"));
        List<String> lines = Files.readAllLines(run.resolve("metrics.jsonl"));
        Files.writeString(
                torn.resolve("metrics.jsonl"),
                String.join("\n", lines) + "\n" + lines.get(0).substring(0, 40));
        Report.Result r = Report.run(torn, torn.resolve("report"));
        assertThat(r.sections()).contains("probes");
        assertThat(r.skipped()).anySatisfy(s -> assertThat(s).contains("trajectory.csv"));

        for (CommandRun run : List.of(
                CommandRun.of(
                        "report", Files.createDirectories(dir.resolve("empty")).toString()),
                CommandRun.of("report", dir.resolve("missing").toString()))) {
            assertThat(run.code()).isEqualTo(2);
            assertThat(run.stderr()).singleElement().asString().startsWith("error: ");
        }
    }

    /**
     * Opens the page in headless Chromium (Debian package {@code chromium}; {@code .ci/run} installs it and sets
     * SGDNOISE_REQUIRE_BROWSER=1, so there a missing browser fails the test instead of skipping it): the page draws
     * every chart from its embedded data and decodes both images, and the console stays silent (a script error, a
     * blocked load or a log call would show up as a CONSOLE line). DashboardBrowserTest drives the same page live.
     */
    @Test
    void theReportRendersInHeadlessChromiumWithEveryChartAndASilentConsole() throws Exception {
        String browser = findBrowser();
        if (browser == null) {
            assertThat(System.getenv("SGDNOISE_REQUIRE_BROWSER"))
                    .as("chromium is required (SGDNOISE_REQUIRE_BROWSER)")
                    .isNotEqualTo("1");
            Assumptions.abort("no chromium on PATH: apt-get install chromium");
        }
        Report.Result r = Report.run(run, dir.resolve("browser"));
        Path profile = Files.createDirectories(dir.resolve("chromium-profile"));
        Process p = new ProcessBuilder(
                        browser,
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-default-apps",
                        "--disable-sync",
                        "--no-first-run",
                        "--mute-audio",
                        "--user-data-dir=" + profile,
                        "--enable-logging=stderr",
                        "--v=0",
                        "--virtual-time-budget=10000",
                        "--dump-dom",
                        r.html().toUri().toString())
                .redirectError(dir.resolve("chromium.log").toFile())
                .start();
        byte[] dom = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("chromium finished").isTrue();
        assertThat(p.exitValue()).isZero();
        String page = new String(dom, StandardCharsets.UTF_8);
        Matcher body = Pattern.compile("<body ([^>]*)>").matcher(page);
        assertThat(body.find()).isTrue();
        assertThat(body.group(1))
                .contains("data-charts=\"" + CHARTS.size() + "\"")
                .contains("data-charts-drawn=\"" + CHARTS.size() + "\"")
                .contains("data-images=\"" + SAMPLING_PNGS.length + "\"")
                .contains("data-images-rendered=\"" + SAMPLING_PNGS.length + "\"");
        for (String id : CHARTS) {
            assertThat(page).contains("data-chart=\"" + id + "\"");
        }
        assertThat(Files.readAllLines(dir.resolve("chromium.log")))
                .as("console messages")
                .noneMatch(l -> l.contains(":CONSOLE"));

        // A picture of the page for people: target/report.png.
        Path png = Files.createDirectories(Path.of("target")).resolve("report.png");
        Process shot = new ProcessBuilder(
                        browser,
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--no-first-run",
                        "--user-data-dir=" + profile,
                        "--hide-scrollbars",
                        "--window-size=1400,3600",
                        "--virtual-time-budget=10000",
                        "--screenshot=" + png.toAbsolutePath(),
                        r.html().toUri().toString())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("chromium-screenshot.log").toFile())
                .start();
        assertThat(shot.waitFor(120, TimeUnit.SECONDS)).as("chromium finished").isTrue();
        assertThat(png).isNotEmptyFile();
    }

    private static String findBrowser() {
        for (String name : new String[] {"chromium", "chromium-browser", "google-chrome"}) {
            for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
                Path c = Path.of(d, name);
                if (Files.isExecutable(c)) {
                    return c.toString();
                }
            }
        }
        return null;
    }
}

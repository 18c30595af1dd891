package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
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
 * The report from a quick-start folder: every chart as a PNG that decodes and is not blank, and one HTML
 * page that embeds exactly those images, the final figures and the configuration, and loads nothing.
 */
class ReportTest {

    @TempDir
    static Path dir;

    static Path run;
    static QuickStart.Result withReport;

    static final List<String> CHARTS = List.of(
            "loss",
            "noise",
            "rank",
            "anisotropy",
            "temperature",
            "spectrum_histogram",
            "spectra",
            "phase_portrait",
            "sampling_accuracy",
            "sampling_gap");

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
        new Plot("Test accuracy", "batch size", "test accuracy")
                .log2X()
                .errorBars("with", x, mean, sd, Color.BLUE)
                .write(cs.resolve("test_accuracy.png"), 720, 480);
        new Plot("Gap", "batch size", "gap")
                .log2X()
                .errorBars("with", x, mean, sd, Color.BLUE)
                .write(cs.resolve("gap.png"), 720, 480);
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
    void everyChartIsAPngAndThePageEmbedsExactlyThemAndLoadsNothing() throws Exception {
        Report.Result r = Report.run(run, dir.resolve("out"));
        assertThat(r.charts()).extracting(Report.Chart::id).containsExactlyElementsOf(CHARTS);
        for (Report.Chart c : r.charts()) {
            BufferedImage img = ImageIO.read(c.png().toFile());
            assertThat(img).as(c.id()).isNotNull();
            assertThat(img.getWidth()).isGreaterThan(300);
            assertThat(colours(img)).as("%s is not blank", c.id()).isGreaterThan(3);
        }
        String html = Files.readString(r.html());
        Matcher m = Pattern.compile("<figure data-chart=\"([a-z_]+)\"><h3>[^<]*</h3>\\n"
                        + "<img alt=\"[^\"]*\" src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\">")
                .matcher(html);
        List<String> ids = new ArrayList<>();
        while (m.find()) {
            ids.add(m.group(1));
            byte[] png = Base64.getDecoder().decode(m.group(2));
            assertThat(png)
                    .as(m.group(1))
                    .isEqualTo(Files.readAllBytes(dir.resolve("out").resolve(m.group(1) + ".png")));
            assertThat(ImageIO.read(new ByteArrayInputStream(png))).isNotNull();
        }
        assertThat(ids).containsExactlyElementsOf(CHARTS);
        assertThat(html)
                .doesNotContain("http://")
                .doesNotContain("https://")
                .doesNotContain("src=\"file")
                .contains("default-src 'none'"); // self-contained, and the browser is told to load nothing else
        assertThat(html)
                .contains("<th>test_accuracy</th><td>" + withReport.summary().get("test_accuracy") + "</td>")
                .contains("<th>seed</th><td>11</td>")
                .contains("<th>batch_size</th><td>16</td>");
    }

    @Test
    void aTornLastRecordIsSkippedAndAnEmptyFolderIsOneLineExitTwo() throws Exception {
        Path torn = Files.createDirectories(dir.resolve("torn"));
        List<String> lines = Files.readAllLines(run.resolve("metrics.jsonl"));
        Files.writeString(
                torn.resolve("metrics.jsonl"),
                String.join("\n", lines) + "\n" + lines.get(0).substring(0, 40));
        Report.Result r = Report.run(torn, torn.resolve("report"));
        assertThat(r.charts()).extracting(Report.Chart::id).contains("loss");
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
     * SGDNOISE_REQUIRE_BROWSER=1, so there a missing browser fails the test instead of skipping it): every chart
     * decodes in the browser and the console stays silent (a script error, a blocked load or a log call would
     * show up as a CONSOLE line).
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
        assertThat(page)
                .contains("<body data-charts=\"" + CHARTS.size() + "\" data-charts-rendered=\"" + CHARTS.size() + "\"");
        for (String id : CHARTS) {
            assertThat(page).contains("data-chart=\"" + id + "\"");
        }
        assertThat(Files.readAllLines(dir.resolve("chromium.log")))
                .as("console messages")
                .noneMatch(l -> l.contains(":CONSOLE"));
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

    private static int colours(BufferedImage img) {
        Set<Integer> c = new HashSet<>();
        for (int y = 0; y < img.getHeight(); y += 3) {
            for (int x = 0; x < img.getWidth(); x += 3) {
                c.add(img.getRGB(x, y));
            }
        }
        return c.size();
    }
}

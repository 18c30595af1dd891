package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.testing.TestNetworks;
import org.sgdnoise.trajectory.LoopStatistics;

/**
 * The dashboard in headless Chromium (Debian packages {@code chromium} and {@code chromium-driver}; {@code .ci/run}
 * installs both and sets SGDNOISE_REQUIRE_BROWSER=1, so there a missing browser fails the test instead of skipping
 * it): while a small network trains with both listeners writing to a Dashboard, the page's charts grow by new
 * points; every chart is drawn on a canvas with ink on it; the browser console stays silent (no error, no warning);
 * the same page rendered to one static file draws the same charts from its embedded data. Screenshots go to
 * {@code target/dashboard-live.png} and {@code target/dashboard-static.png}.
 */
class DashboardBrowserTest {

    /** Every chart the page draws, by its id. */
    static final List<String> CHARTS =
            List.of("loss", "update", "noise", "rank", "anisotropy", "temperature", "spectrum", "layers", "verdicts");

    private static final Duration PATIENCE = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    static String executable(String... names) {
        for (String name : names) {
            for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
                Path c = Path.of(d, name);
                if (Files.isExecutable(c)) {
                    return c.toString();
                }
            }
        }
        return null;
    }

    /** Chromium and its driver, or a skip with a notice (a failure when SGDNOISE_REQUIRE_BROWSER=1). */
    static ChromeDriver browserOrSkip(Path profile) {
        String chromium = executable("chromium", "chromium-browser", "google-chrome");
        String driver = executable("chromedriver");
        if (chromium == null || driver == null) {
            assertThat(System.getenv("SGDNOISE_REQUIRE_BROWSER"))
                    .as("chromium and chromedriver are required (SGDNOISE_REQUIRE_BROWSER)")
                    .isNotEqualTo("1");
            Assumptions.abort("no chromium or chromedriver on PATH: apt-get install chromium chromium-driver");
        }
        ChromeOptions o = new ChromeOptions();
        o.setBinary(chromium);
        o.addArguments(
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-sync",
                "--no-first-run",
                "--mute-audio",
                "--user-data-dir=" + profile,
                "--window-size=1400,3000");
        o.setCapability("goog:loggingPrefs", Map.of("browser", "ALL"));
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File(driver))
                .usingAnyFreePort()
                .build();
        return new ChromeDriver(service, o);
    }

    @Test
    void theLivePageGrowsWhileTrainingAndTheStaticPageDrawsTheSameCharts() throws Exception {
        Path target = Files.createDirectories(Path.of("target"));
        ChromeDriver browser = browserOrSkip(Files.createDirectories(dir.resolve("profile")));
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> trainingFailure = new AtomicReference<>();
        try (Dashboard dashboard = Dashboard.start(0)) {
            DiffusionListener diffusion = new DiffusionListener.Builder()
                    .overheadBudget(0)
                    .probeEvery(5)
                    .gradientsPerProbe(8)
                    .sampling(SamplingScheme.WITHOUT_REPLACEMENT, 64)
                    .sink(dashboard)
                    .build();
            TrajectoryListener trajectory = new TrajectoryListener.Builder()
                    .overheadBudget(0)
                    .dimensions(4)
                    .capacity(200)
                    .analyzeEvery(20)
                    .detector(new LoopStatistics(0.01, 4, 99, 2, 1.5, 1))
                    .sink(dashboard)
                    .build();
            Thread training = new Thread(
                    () -> {
                        try {
                            MultiLayerNetwork net = TestNetworks.dropoutMlp(DataType.FLOAT);
                            net.addListeners(diffusion, trajectory);
                            List<DataSet> data =
                                    TestNetworks.vectors(64, 41, DataType.FLOAT).asList();
                            while (!stop.get()) {
                                net.fit(new ListDataSetIterator<>(data, 16));
                                Thread.sleep(20); // a slow model: the page sees the charts grow
                            }
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        } catch (Throwable t) {
                            trainingFailure.set(t);
                        }
                    },
                    "training");
            training.setDaemon(true);
            training.start();
            try {
                browser.get(dashboard.url());
                WebDriverWait wait = new WebDriverWait(browser, PATIENCE, Duration.ofMillis(250));
                wait.until(d -> everyChartHasPoints(browser));
                Map<String, Long> before = points(browser);
                wait.until(d -> {
                    Map<String, Long> now = points(browser);
                    return now.get("loss") > before.get("loss") && now.get("noise") > before.get("noise");
                });
                assertThat(number(browser, "return window.sgdnoiseState.polls")).isGreaterThanOrEqualTo(2);
                assertThat(number(browser, "return window.sgdnoiseState.mode === 'live' ? 1 : 0"))
                        .isEqualTo(1);
                assertThat(browser.findElements(org.openqa.selenium.By.cssSelector("#loop-table tbody tr")))
                        .isNotEmpty();
                assertEveryChartIsDrawn(browser);
                screenshot(browser, target.resolve("dashboard-live.png"));
                assertSilentConsole(browser, "live page");
            } finally {
                stop.set(true);
                training.join(60_000);
            }
            assertThat(trainingFailure.get()).as("training").isNull();
            diffusion.close();
            trajectory.close();

            Path file = target.resolve("dashboard-static.html");
            dashboard.writeStatic(file);
            browser.get(file.toUri().toString());
            new WebDriverWait(browser, PATIENCE, Duration.ofMillis(250)).until(d -> everyChartHasPoints(browser));
            assertThat(number(browser, "return window.sgdnoiseState.mode === 'static' ? 1 : 0"))
                    .isEqualTo(1);
            assertThat(number(browser, "return window.sgdnoiseState.polls")).isZero();
            assertThat(number(browser, "return window.sgdnoiseState.probes"))
                    .isEqualTo(dashboard.records().stream()
                            .filter(r -> Dashboard.kind(r).equals(Dashboard.KIND_PROBE))
                            .count());
            assertEveryChartIsDrawn(browser);
            screenshot(browser, target.resolve("dashboard-static.png"));
            assertSilentConsole(browser, "static page");
        } finally {
            browser.quit();
        }
    }

    /** True when every chart of the page has at least one point and the page had no script error. */
    static boolean everyChartHasPoints(ChromeDriver browser) {
        Map<String, Long> p = points(browser);
        return p.size() == CHARTS.size() && p.values().stream().allMatch(n -> n > 0);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Long> points(ChromeDriver browser) {
        Object o = ((JavascriptExecutor) browser)
                .executeScript("var s = window.sgdnoiseState; if (!s) { return {}; }"
                        + " var out = {}; Object.keys(s.charts).forEach(function (k) {"
                        + " out[k] = s.charts[k].points; }); return out;");
        return (Map<String, Long>) o;
    }

    static long number(ChromeDriver browser, String script) {
        return ((Number) ((JavascriptExecutor) browser).executeScript(script)).longValue();
    }

    /** Each chart has one canvas, of a real size, with ink on it; no script error was caught by the page. */
    static void assertEveryChartIsDrawn(ChromeDriver browser) {
        assertThat(points(browser).keySet()).containsExactlyInAnyOrderElementsOf(CHARTS);
        for (String id : CHARTS) {
            long ink = number(
                    browser,
                    "var c = document.querySelector('#chart-" + id + " canvas');"
                            + " if (!c || c.width < 200 || c.height < 100) { return -1; }"
                            + " var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                            + " var n = 0; for (var i = 3; i < d.length; i += 4) { if (d[i] > 0) { n++; } }"
                            + " return n;");
            assertThat(ink).as("pixels drawn on chart %s", id).isGreaterThan(1000);
            assertThat(number(browser, "return document.querySelectorAll('#chart-" + id + " canvas').length"))
                    .as("canvases of chart %s", id)
                    .isEqualTo(1);
            assertThat(number(
                            browser,
                            "return document.querySelector('#chart-" + id + " .u-legend')"
                                    + ".querySelectorAll('.u-series').length"))
                    .as("legend entries of chart %s (x and at least one series)", id)
                    .isGreaterThanOrEqualTo(2);
        }
        assertThat(number(browser, "return window.sgdnoiseState.errors.length"))
                .as("script errors caught by the page")
                .isZero();
    }

    static void assertSilentConsole(ChromeDriver browser, String page) {
        List<LogEntry> entries = browser.manage().logs().get(LogType.BROWSER).getAll();
        assertThat(entries)
                .as("console messages of the %s", page)
                .noneMatch(e -> e.getLevel().intValue() >= Level.WARNING.intValue());
    }

    static void screenshot(ChromeDriver browser, Path png) throws Exception {
        Path shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath();
        Files.copy(shot, png, StandardCopyOption.REPLACE_EXISTING);
    }
}

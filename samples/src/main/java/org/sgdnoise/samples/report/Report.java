package org.sgdnoise.samples.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.sgdnoise.UserInputException;
import org.sgdnoise.probe.ProbeFields;
import org.sgdnoise.samples.TrajectoryAnalysis;
import org.sgdnoise.samples.chart.Plot;
import org.sgdnoise.trajectory.LoopStatistics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renders a run's output folder as PNG charts and one self-contained HTML page. Reads what it finds:
 * {@code metrics.jsonl} (the DiffusionListener's records: loss and anisotropy against iteration),
 * {@code spectrum*.json} (D's eigenvalue histogram on log axes with the rank threshold; the spectra at
 * 20%, 40% and 100% of training overlaid), {@code trajectory.csv} (the phase portrait of the most
 * circulating plane), a {@code compare-sampling} folder's charts, and {@code summary.json} (the final
 * figures, the configuration and the seed). The HTML embeds every image as a data URI and loads nothing.
 */
public final class Report {

    private static final Logger log = LoggerFactory.getLogger(Report.class);
    private static final int W = 720;
    private static final int H = 420;

    /** One chart of the report. */
    public record Chart(String id, String title, String caption, Path png) {}

    /** What was written: the charts (in page order), what was left out and why, and the page. */
    public record Result(List<Chart> charts, List<String> skipped, Path html) {}

    private Report() {}

    /**
     * Writes the charts and {@code report.html} into {@code out} (created).
     *
     * @throws UserInputException when {@code folder} is not a folder or holds nothing to report
     */
    public static Result run(Path folder, Path out) throws IOException {
        if (!Files.isDirectory(folder)) {
            throw new UserInputException("run folder " + folder + " does not exist or is not a folder");
        }
        Files.createDirectories(out);
        List<Chart> charts = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        ObjectMapper om = new ObjectMapper();

        Path metrics = folder.resolve("metrics.jsonl");
        if (Files.isRegularFile(metrics)) {
            metricCharts(readJsonl(metrics, om), out, charts, skipped);
        } else {
            skipped.add("no metrics.jsonl: no loss and anisotropy curves");
        }
        Path last = lastSpectrum(folder);
        if (last != null) {
            histogram(om.readTree(last.toFile()), last.getFileName().toString(), out, charts, skipped);
        } else {
            skipped.add("no spectrum*.json: no eigenvalue histogram");
        }
        overlay(folder, om, out, charts, skipped);
        Path trajectory = folder.resolve("trajectory.csv");
        if (Files.isRegularFile(trajectory)) {
            phasePortrait(trajectory, out, charts, skipped);
        } else {
            skipped.add("no trajectory.csv: no phase portrait (run the quick start with --trajectory)");
        }
        sampling(folder, out, charts, skipped);
        if (charts.isEmpty()) {
            throw new UserInputException(folder + " holds nothing to report (metrics.jsonl, spectrum*.json, "
                    + "trajectory.csv or a compare-sampling summary)");
        }
        JsonNode summary = Files.isRegularFile(folder.resolve("summary.json"))
                ? om.readTree(folder.resolve("summary.json").toFile())
                : null;
        Path html = out.resolve("report.html");
        Files.writeString(html, html(folder, summary, charts, skipped), StandardCharsets.UTF_8);
        log.info("report: {} charts, {} left out; wrote {}", charts.size(), skipped.size(), html.toAbsolutePath());
        return new Result(charts, skipped, html);
    }

    static List<JsonNode> readJsonl(Path file, ObjectMapper om) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            for (String line = in.readLine(), next; line != null; line = next) {
                next = in.readLine();
                if (line.isBlank()) {
                    continue;
                }
                try {
                    out.add(om.readTree(line));
                } catch (IOException e) {
                    if (next == null) {
                        break; // a torn last line (a killed writer)
                    }
                    throw new UserInputException(file + ": a line is not JSON: " + e.getMessage());
                }
            }
        }
        return out;
    }

    private static double[] column(List<JsonNode> rows, String key) {
        double[] v = new double[rows.size()];
        for (int i = 0; i < v.length; i++) {
            JsonNode n = rows.get(i).get(key);
            v[i] = n == null || !n.isNumber() ? Double.NaN : n.asDouble();
        }
        return v;
    }

    private static void metricCharts(List<JsonNode> rows, Path out, List<Chart> charts, List<String> skipped)
            throws IOException {
        if (rows.isEmpty()) {
            skipped.add("metrics.jsonl holds no records");
            return;
        }
        double[] it = column(rows, ProbeFields.ITERATION);
        add(
                charts,
                skipped,
                out,
                "loss",
                "Loss",
                "the minibatch loss at each probe",
                new Plot("Loss against iteration", "iteration", "loss")
                        .line("loss", it, column(rows, ProbeFields.LOSS)));
        add(
                charts,
                skipped,
                out,
                "noise",
                "Noise covariance D: trace and top eigenvalue",
                "tr(D) and λ_max of the k-sample estimate at each probe; the sketch's λ₁ accumulates probes",
                new Plot("tr(D) and lambda_max against iteration", "iteration", "value")
                        .logY()
                        .line("tr(D)", it, column(rows, ProbeFields.TRACE))
                        .line("lambda_max", it, column(rows, ProbeFields.LAMBDA_MAX))
                        .line("sketch lambda_1", it, first(rows, ProbeFields.SKETCH_EIGENVALUES)));
        add(
                charts,
                skipped,
                out,
                "rank",
                "Rank and effective ranks",
                "rank at the paper's threshold (a lower bound when capped by k), participation ratio, "
                        + "entropy effective rank",
                new Plot("Rank of D against iteration", "iteration", "dimensions")
                        .logY()
                        .line("rank", it, column(rows, ProbeFields.RANK))
                        .line("participation ratio", it, column(rows, ProbeFields.PARTICIPATION_RATIO))
                        .line("effective rank", it, column(rows, ProbeFields.EFFECTIVE_RANK)));
        add(
                charts,
                skipped,
                out,
                "anisotropy",
                "Anisotropy",
                "isotropy ratio d·λ_max/tr(D) (1 for isotropic noise) and gradient noise scale B_simple",
                new Plot("Isotropy ratio and noise scale against iteration", "iteration", "ratio")
                        .logY()
                        .line("isotropy ratio", it, column(rows, ProbeFields.ISOTROPY_RATIO))
                        .line("noise scale B_simple", it, column(rows, ProbeFields.NOISE_SCALE)));
        add(
                charts,
                skipped,
                out,
                "temperature",
                "Temperature",
                "β⁻¹ = η/(2b), times (1 − b/N) without replacement; null when the sampling scheme is unknown",
                new Plot("Temperature against iteration", "iteration", "temperature")
                        .line("eta/2b", it, column(rows, ProbeFields.TEMPERATURE))
                        .line("with momentum", it, column(rows, ProbeFields.TEMPERATURE_MOMENTUM)));
    }

    private static double[] first(List<JsonNode> rows, String key) {
        double[] v = new double[rows.size()];
        for (int i = 0; i < v.length; i++) {
            JsonNode n = rows.get(i).get(key);
            v[i] = n != null && n.isArray() && n.size() > 0 ? n.get(0).asDouble() : Double.NaN;
        }
        return v;
    }

    private static void add(
            List<Chart> charts, List<String> skipped, Path out, String id, String title, String caption, Plot plot)
            throws IOException {
        if (!plot.hasData()) {
            skipped.add(title + ": no finite values to draw");
            return;
        }
        Path png = out.resolve(id + ".png");
        plot.write(png, W, H);
        charts.add(new Chart(id, title, caption, png));
    }

    /** The spectrum at the end of training: spectrum-100.json, else spectrum.json, else the latest. */
    private static Path lastSpectrum(Path folder) throws IOException {
        for (String name : new String[] {"spectrum-100.json", "spectrum.json"}) {
            if (Files.isRegularFile(folder.resolve(name))) {
                return folder.resolve(name);
            }
        }
        List<Path> all = spectra(folder);
        return all.isEmpty() ? null : all.get(all.size() - 1);
    }

    private static List<Path> spectra(Path folder) throws IOException {
        try (var files = Files.list(folder)) {
            return files.filter(p -> p.getFileName().toString().matches("spectrum-\\d{3}\\.json"))
                    .sorted()
                    .toList();
        }
    }

    private static double[] eigenvalues(JsonNode spectrum) {
        JsonNode e = spectrum.get("eigenvalues");
        if (e == null || !e.isArray()) {
            return new double[0];
        }
        double[] v = new double[e.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = e.get(i).asDouble();
        }
        return v;
    }

    private static void histogram(JsonNode s, String name, Path out, List<Chart> charts, List<String> skipped)
            throws IOException {
        double[] eig = Arrays.stream(eigenvalues(s))
                .filter(v -> v > 0 && Double.isFinite(v))
                .toArray();
        if (eig.length < 2) {
            skipped.add(name + ": fewer than two positive eigenvalues, no histogram");
            return;
        }
        double lo = Math.log10(Arrays.stream(eig).min().getAsDouble());
        double hi = Math.log10(Arrays.stream(eig).max().getAsDouble());
        double threshold = s.path("rank_threshold").asDouble(Double.NaN);
        if (threshold > 0) {
            lo = Math.min(lo, Math.log10(threshold));
            hi = Math.max(hi, Math.log10(threshold));
        }
        int bins = 40;
        double width = Math.max(hi - lo, 1e-9) / bins;
        double[] edges = new double[bins + 1];
        for (int i = 0; i <= bins; i++) {
            edges[i] = Math.pow(10, lo + i * width);
        }
        double[] counts = new double[bins];
        for (double v : eig) {
            counts[Math.min(bins - 1, (int) ((Math.log10(v) - lo) / width))]++;
        }
        String method = s.path("method").path("name").asText("");
        long n = s.path("num_examples").asLong();
        Plot p = new Plot(
                        String.format(
                                Locale.ROOT,
                                "Eigenvalues of D (%s, %d examples, d = %d)",
                                method,
                                n,
                                s.path("num_params").asLong()),
                        "eigenvalue",
                        "count")
                .logX()
                .logY()
                .bars("", edges, counts);
        if (threshold > 0) {
            p.marker(
                    threshold,
                    String.format(
                            Locale.ROOT,
                            "rank threshold %.2g: rank %s%d",
                            threshold,
                            s.path("rank_capped").asBoolean() ? ">= " : "",
                            s.path("rank").asInt()));
        }
        add(
                charts,
                skipped,
                out,
                "spectrum_histogram",
                "Eigenvalue histogram of D",
                "as the paper's Figure 1: counts of D's eigenvalues in log-spaced bins (" + name + "; "
                        + ("sketch".equals(method) ? "the sketch's top ℓ eigenvalues" : "every eigenvalue") + ")",
                p);
    }

    private static void overlay(Path folder, ObjectMapper om, Path out, List<Chart> charts, List<String> skipped)
            throws IOException {
        List<Path> all = spectra(folder);
        if (all.size() < 2) {
            skipped.add("fewer than two spectrum-NNN.json snapshots: no overlay of spectra during training");
            return;
        }
        Plot p = new Plot("Spectrum of D during training", "eigenvalue index", "eigenvalue")
                .logX()
                .logY();
        for (Path f : all) {
            double[] eig = eigenvalues(om.readTree(f.toFile()));
            double[] idx = new double[eig.length];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = i + 1;
            }
            String pct = f.getFileName().toString().substring(9, 12);
            p.line(Integer.parseInt(pct) + "% of training", idx, eig);
        }
        add(
                charts,
                skipped,
                out,
                "spectra",
                "Spectra at 20%, 40% and 100% of training",
                "D's eigenvalues in decreasing order at each snapshot, overlaid",
                p);
    }

    private static void phasePortrait(Path trajectory, Path out, List<Chart> charts, List<String> skipped) {
        Path png = out.resolve("phase_portrait.png");
        try {
            Map<String, Object> a =
                    TrajectoryAnalysis.run(trajectory, 1, LoopStatistics.defaults(), out.resolve("loops.json"), png);
            if (Files.isRegularFile(png)) {
                charts.add(new Chart(
                        "phase_portrait",
                        "Phase portrait of the most circulating plane",
                        String.format(
                                Locale.ROOT,
                                "the trajectory projected on its most circulating plane: verdict %s, "
                                        + "p = %s, %s steps",
                                a.get("verdict"),
                                a.get("p_value"),
                                a.get("steps")),
                        png));
            } else {
                skipped.add("trajectory.csv: no circulating plane found (verdict " + a.get("verdict")
                        + "), no phase portrait");
            }
        } catch (UserInputException e) {
            skipped.add("trajectory.csv: " + e.getMessage());
        } catch (IOException e) {
            skipped.add("trajectory.csv: cannot be analysed: " + e.getMessage());
        }
    }

    private static void sampling(Path folder, Path out, List<Chart> charts, List<String> skipped) throws IOException {
        Path dir = Files.isRegularFile(folder.resolve("summary.csv")) ? folder : folder.resolve("compare-sampling");
        boolean any = false;
        for (String[] c : new String[][] {
            {"test_accuracy.png", "sampling_accuracy", "Sampling with and without replacement: test accuracy"},
            {"gap.png", "sampling_gap", "Sampling with and without replacement: generalisation gap"}
        }) {
            Path png = dir.resolve(c[0]);
            if (Files.isRegularFile(png)) {
                Path copy = out.resolve(c[1] + ".png");
                Files.copy(png, copy, StandardCopyOption.REPLACE_EXISTING);
                charts.add(new Chart(c[1], c[2], "mean ± sd over seeds, per batch size (compare-sampling)", copy));
                any = true;
            }
        }
        if (!any) {
            skipped.add("no compare-sampling charts: no sampling comparison");
        }
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    private static String html(Path folder, JsonNode summary, List<Chart> charts, List<String> skipped)
            throws IOException {
        StringBuilder h = new StringBuilder(1 << 16);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
                .append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; ")
                .append("style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n")
                .append("<title>sgdnoise report: ")
                .append(esc(
                        folder.getFileName() == null
                                ? folder.toString()
                                : folder.getFileName().toString()))
                .append("</title>\n<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}")
                .append("table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}")
                .append("figure{margin:2em 0}figcaption{color:#555;font-size:90%}img{max-width:100%}"
                        + "</style>\n</head><body>\n")
                .append("<h1>sgdnoise report</h1>\n<p>Run folder: <code>")
                .append(esc(folder.toAbsolutePath().toString()))
                .append("</code></p>\n");
        if (summary != null) {
            h.append("<h2>Final figures</h2>\n<table id=\"figures\">\n");
            for (Iterator<Map.Entry<String, JsonNode>> it = summary.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isObject()) {
                    h.append("<tr><th>")
                            .append(esc(e.getKey()))
                            .append("</th><td>")
                            .append(esc(e.getValue().asText()))
                            .append("</td></tr>\n");
                }
            }
            h.append("</table>\n");
            JsonNode config = summary.get("config");
            if (config != null && config.isObject()) {
                h.append("<h2>Configuration</h2>\n<table id=\"config\">\n");
                for (Iterator<Map.Entry<String, JsonNode>> it = config.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    h.append("<tr><th>")
                            .append(esc(e.getKey()))
                            .append("</th><td>")
                            .append(esc(e.getValue().asText()))
                            .append("</td></tr>\n");
                }
                h.append("</table>\n");
            }
        } else {
            h.append("<p>No summary.json in the folder: no table of final figures or configuration.</p>\n");
        }
        h.append("<h2>Charts</h2>\n");
        for (Chart c : charts) {
            h.append("<figure data-chart=\"")
                    .append(esc(c.id()))
                    .append("\"><h3>")
                    .append(esc(c.title()))
                    .append("</h3>\n")
                    .append("<img alt=\"")
                    .append(esc(c.title()))
                    .append("\" src=\"data:image/png;base64,")
                    .append(Base64.getEncoder().encodeToString(Files.readAllBytes(c.png())))
                    .append("\">\n")
                    .append("<figcaption>")
                    .append(esc(c.caption()))
                    .append("</figcaption></figure>\n");
        }
        if (!skipped.isEmpty()) {
            h.append("<h2>Not in this report</h2>\n<ul>\n");
            for (String s : skipped) {
                h.append("<li>").append(esc(s)).append("</li>\n");
            }
            h.append("</ul>\n");
        }
        // For checks in a browser: how many charts decoded, and any script error.
        h.append("<script>\nwindow.addEventListener('load', function () {\n")
                .append("  var figures = document.querySelectorAll('figure[data-chart]');\n")
                .append("  var ok = 0;\n")
                .append("  figures.forEach(function (f) { var i = f.querySelector('img'); "
                        + "if (i && i.complete && i.naturalWidth > 0) { ok++; } });\n")
                .append("  document.body.setAttribute('data-charts', String(figures.length));\n")
                .append("  document.body.setAttribute('data-charts-rendered', String(ok));\n")
                .append("});\n</script>\n</body></html>\n");
        return h.toString();
    }
}

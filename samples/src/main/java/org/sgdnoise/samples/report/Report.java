package org.sgdnoise.samples.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.sgdnoise.UserInputException;
import org.sgdnoise.listeners.DashboardPage;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.samples.QuickStart;
import org.sgdnoise.samples.TrajectoryAnalysis;
import org.sgdnoise.trajectory.LoopStatistics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renders a run's output folder as one self-contained HTML page: the live dashboard's page
 * ({@link DashboardPage}) with the run's data embedded, so a finished run and a running one look the same. Reads
 * what it finds: {@code metrics.jsonl} (the DiffusionListener's records: noise, rank, anisotropy, temperature, the
 * layers' shares, the loss at each probe), {@code scalars.jsonl} (the loss, learning rate and update norm at every
 * iteration), {@code loops.jsonl} (the TrajectoryListener's verdicts), {@code spectrum*.json} (D's eigenvalue
 * histogram on log axes with the rank threshold; the spectra at 20%, 40% and 100% of training overlaid),
 * {@code trajectory.csv} (the phase portrait of the most circulating plane), a {@code compare-sampling} folder's
 * charts (embedded PNGs), and {@code summary.json} (the final figures, the configuration and the seed). The page
 * embeds everything and loads nothing.
 */
public final class Report {

    private static final Logger log = LoggerFactory.getLogger(Report.class);

    /**
     * What was written: the sections of data the page holds (in page order: {@code probes}, {@code scalars},
     * {@code loops}, {@code spectra}, {@code phase_portrait}, {@code sampling_loss}, {@code sampling_flat_variance}, {@code sampling_lag}, {@code sampling_train_eval},
     * {@code figures}, {@code configuration}), what was left out and why, and the page.
     */
    public record Result(List<String> sections, List<String> skipped, Path html) {}

    private Report() {}

    /**
     * Writes {@code report.html} into {@code out} (created).
     *
     * @throws UserInputException when {@code folder} is not a folder or holds nothing to report
     */
    public static Result run(Path folder, Path out) throws IOException {
        if (!Files.isDirectory(folder)) {
            throw new UserInputException("run folder " + folder + " does not exist or is not a folder");
        }
        Files.createDirectories(out);
        List<String> sections = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        ObjectMapper om = new ObjectMapper();
        DashboardPage.Builder page = DashboardPage.builder()
                .title("sgdnoise report: "
                        + (folder.getFileName() == null
                                ? folder.toString()
                                : folder.getFileName().toString()));

        Path metrics = folder.resolve("metrics.jsonl");
        if (Files.isRegularFile(metrics)) {
            List<ProbeRecord> probes = records(readJsonl(metrics, om));
            if (probes.isEmpty()) {
                skipped.add("metrics.jsonl holds no records");
            } else {
                page.records(probes);
                sections.add("probes");
            }
        } else {
            skipped.add("no metrics.jsonl: no noise, rank, anisotropy or temperature curves");
        }
        Path scalars = folder.resolve(QuickStart.SCALARS_FILE);
        if (Files.isRegularFile(scalars)) {
            page.scalars(scalars(readJsonl(scalars, om)));
            sections.add("scalars");
        } else {
            skipped.add("no " + QuickStart.SCALARS_FILE + ": no loss at every iteration (the loss at probes instead)");
        }
        Path loops = folder.resolve("loops.jsonl");
        if (Files.isRegularFile(loops)) {
            page.records(records(readJsonl(loops, om)));
            sections.add("loops");
        } else {
            skipped.add("no loops.jsonl: no loop verdicts (run the quick start with --trajectory)");
        }
        spectra(folder, om, page, sections, skipped);
        Path trajectory = folder.resolve("trajectory.csv");
        if (Files.isRegularFile(trajectory)) {
            phasePortrait(trajectory, out, page, sections, skipped);
        } else {
            skipped.add("no trajectory.csv: no phase portrait (run the quick start with --trajectory)");
        }
        sampling(folder, page, sections, skipped);
        if (sections.isEmpty()) {
            throw new UserInputException(folder + " holds nothing to report (metrics.jsonl, spectrum*.json, "
                    + "trajectory.csv or a compare-sampling summary)");
        }
        Path summaryFile = folder.resolve("summary.json");
        if (Files.isRegularFile(summaryFile)) {
            JsonNode summary = om.readTree(summaryFile.toFile());
            Map<String, String> figures = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = summary.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isObject()) {
                    figures.put(e.getKey(), e.getValue().asText());
                }
            }
            page.table("Final figures", figures);
            sections.add("figures");
            JsonNode config = summary.get("config");
            if (config != null && config.isObject()) {
                Map<String, String> rows = new LinkedHashMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = config.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    rows.put(e.getKey(), e.getValue().asText());
                }
                page.table("Configuration", rows);
                sections.add("configuration");
            }
        } else {
            skipped.add("no summary.json: no table of final figures or configuration");
        }
        page.table("Run folder", Map.of("path", folder.toAbsolutePath().toString()));
        if (!skipped.isEmpty()) {
            Map<String, String> left = new LinkedHashMap<>();
            for (int i = 0; i < skipped.size(); i++) {
                left.put(Integer.toString(i + 1), skipped.get(i));
            }
            page.table("Not in this report", left);
        }
        Path html = out.resolve("report.html");
        page.build().write(html);
        log.info(
                "report: {} ({} left out); wrote {}",
                String.join(", ", sections),
                skipped.size(),
                html.toAbsolutePath());
        return new Result(sections, skipped, html);
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

    /** JSON objects as records: numbers, strings, booleans, null, and arrays of numbers or of strings. */
    static List<ProbeRecord> records(List<JsonNode> rows) {
        List<ProbeRecord> out = new ArrayList<>(rows.size());
        for (JsonNode row : rows) {
            if (!row.isObject()) {
                continue;
            }
            ProbeRecord.Builder b = ProbeRecord.builder();
            for (Iterator<Map.Entry<String, JsonNode>> it = row.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                b.put(e.getKey(), value(e.getValue()));
            }
            out.add(b.build());
        }
        return out;
    }

    private static Object value(JsonNode n) {
        if (n == null || n.isNull()) {
            return null;
        }
        if (n.isIntegralNumber()) {
            return n.asLong();
        }
        if (n.isNumber()) {
            return n.asDouble();
        }
        if (n.isBoolean()) {
            return n.asBoolean();
        }
        if (n.isArray()) {
            boolean strings = n.size() > 0 && n.get(0).isTextual();
            if (strings) {
                String[] a = new String[n.size()];
                for (int i = 0; i < a.length; i++) {
                    a[i] = n.get(i).asText();
                }
                return a;
            }
            double[] a = new double[n.size()];
            for (int i = 0; i < a.length; i++) {
                a[i] = n.get(i).isNumber() ? n.get(i).asDouble() : Double.NaN;
            }
            return a;
        }
        return n.asText();
    }

    private static List<IterationScalars> scalars(List<JsonNode> rows) {
        List<IterationScalars> out = new ArrayList<>(rows.size());
        for (JsonNode r : rows) {
            out.add(new IterationScalars(
                    r.path("iteration").asInt(),
                    r.path("epoch").asInt(),
                    r.path("worker").asInt(),
                    number(r, "loss"),
                    number(r, "learning_rate"),
                    number(r, "update_norm")));
        }
        return out;
    }

    private static double number(JsonNode r, String key) {
        JsonNode n = r.get(key);
        return n == null || !n.isNumber() ? Double.NaN : n.asDouble();
    }

    /** The spectrum at the end of training: spectrum-100.json, else spectrum.json, else the latest. */
    private static Path lastSpectrum(Path folder) throws IOException {
        for (String name : new String[] {"spectrum-100.json", "spectrum.json"}) {
            if (Files.isRegularFile(folder.resolve(name))) {
                return folder.resolve(name);
            }
        }
        List<Path> all = snapshots(folder);
        return all.isEmpty() ? null : all.get(all.size() - 1);
    }

    private static List<Path> snapshots(Path folder) throws IOException {
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

    /**
     * The spectra: every snapshot {@code spectrum-NNN.json} (overlaid when there are two or more), and last the
     * spectrum at the end of training, whose histogram the page draws.
     */
    private static void spectra(
            Path folder, ObjectMapper om, DashboardPage.Builder page, List<String> sections, List<String> skipped)
            throws IOException {
        Path last = lastSpectrum(folder);
        if (last == null) {
            skipped.add("no spectrum*.json: no eigenvalue histogram over a fixed set of examples (the last probe's "
                    + "top eigenvalues instead)");
            return;
        }
        List<Path> all = new ArrayList<>(snapshots(folder));
        all.remove(last);
        all.add(last);
        if (all.size() < 2) {
            skipped.add("fewer than two spectrum-NNN.json snapshots: no overlay of spectra during training");
        }
        for (Path f : all) {
            JsonNode s = om.readTree(f.toFile());
            String name = f.getFileName().toString();
            String label = name.matches("spectrum-\\d{3}\\.json")
                    ? Integer.parseInt(name.substring(9, 12)) + "% of training"
                    : name;
            page.spectrum(
                    String.format(
                            Locale.ROOT,
                            "%s: %s, %d examples, d = %d, rank %s%d (λ > %.3g = λ_max·d·ε₃₂), participation "
                                    + "ratio %.4g",
                            label,
                            s.path("method").path("name").asText("?"),
                            s.path("num_examples").asLong(),
                            s.path("num_params").asLong(),
                            s.path("rank_capped").asBoolean() ? ">= " : "",
                            s.path("rank").asInt(),
                            s.path("rank_threshold").asDouble(Double.NaN),
                            s.path("participation_ratio_plugin")
                                    .asDouble(s.path("participation_ratio").asDouble(Double.NaN))),
                    eigenvalues(s),
                    s.path("rank_threshold").asDouble(Double.NaN));
        }
        sections.add("spectra");
    }

    private static void phasePortrait(
            Path trajectory, Path out, DashboardPage.Builder page, List<String> sections, List<String> skipped) {
        try {
            Map<String, Object> a =
                    TrajectoryAnalysis.run(trajectory, 1, LoopStatistics.defaults(), out.resolve("loops.json"), null);
            if (a.get(TrajectoryAnalysis.PORTRAIT_U) instanceof double[] u
                    && a.get(TrajectoryAnalysis.PORTRAIT_V) instanceof double[] v) {
                page.phasePortrait(
                        String.format(
                                Locale.ROOT,
                                "trajectory.csv projected on its most circulating plane: verdict %s, p = %s, "
                                        + "%s steps",
                                a.get("verdict"),
                                a.get("p_value"),
                                a.get("steps")),
                        u,
                        v);
                sections.add("phase_portrait");
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

    private static void sampling(Path folder, DashboardPage.Builder page, List<String> sections, List<String> skipped)
            throws IOException {
        Path dir = Files.isRegularFile(folder.resolve("summary.csv")) ? folder : folder.resolve("compare-sampling");
        boolean any = false;
        for (String[] c : new String[][] {
            {
                "test_loss.png",
                "sampling_loss",
                "Sampling with and without replacement: test loss",
                "mean ± sd over "
                        + "seeds per batch size and arm, averaged over the measured half of each run (compare-sampling)"
            },
            {
                "flat_variance.png",
                "sampling_flat_variance",
                "Stationary variance along the flat direction",
                "mean ± sd " + "over seeds per batch size and arm (compare-sampling)"
            },
            {
                "lag_covariance.png",
                "sampling_lag",
                "Within-epoch lag covariance of the minibatch noise",
                "over " + "tr(D)/(N − 1), with 95% intervals over epochs; theory −1 without replacement, 0 with"
            },
            {
                "train_eval_gap.png",
                "sampling_train_eval",
                "TRAIN/EVAL gap of the minibatch noise",
                "measured noise "
                        + "over eval-mode theory on a BatchNorm network with dropout, 95% intervals over epochs"
            }
        }) {
            Path png = dir.resolve(c[0]);
            if (Files.isRegularFile(png)) {
                page.image(c[1], c[2], c[3], Files.readAllBytes(png));
                sections.add(c[1]);
                any = true;
            }
        }
        if (!any) {
            skipped.add("no compare-sampling charts: no sampling comparison");
        }
    }
}

package org.sgdnoise.listeners;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.output.ProbeRecord;

/**
 * The {@link Dashboard}'s page as one self-contained HTML file: the same page, its scripts and styles inlined and
 * the data embedded as {@code <script>window.SGDNOISE_DATA = {...}</script>}, which the page draws instead of
 * polling a server. Besides the records and scalars a static page can carry what a finished run has and a live one
 * does not: tables (final figures, configuration), full spectra of D (the histogram then uses the last one, and two
 * or more are overlaid), the phase portrait of the most circulating plane, and PNG images. Its
 * Content-Security-Policy forbids every load: it opens from disk, offline, anywhere.
 *
 * <pre>{@code
 * DashboardPage.builder().title("run 7").records(records).scalars(scalars)
 *         .table("Final figures", Map.of("test_accuracy", "0.81"))
 *         .build().write(Path.of("report.html"));
 * }</pre>
 *
 * Immutable; {@link #write} may be called from any thread.
 */
public final class DashboardPage {

    private final String title;
    private final List<ProbeRecord> records;
    private final List<IterationScalars> scalars;
    private final Map<String, Map<String, String>> tables;
    private final List<Spectrum> spectra;
    private final Portrait portrait;
    private final List<Image> images;

    private record Spectrum(String label, double[] eigenvalues, double rankThreshold) {}

    private record Portrait(String caption, double[] u, double[] v) {}

    private record Image(String id, String title, String caption, byte[] png) {}

    private DashboardPage(Builder b) {
        this.title = b.title;
        this.records = List.copyOf(b.records);
        this.scalars = List.copyOf(b.scalars);
        Map<String, Map<String, String>> t = new LinkedHashMap<>();
        b.tables.forEach((k, v) -> t.put(k, new LinkedHashMap<>(v)));
        this.tables = t;
        this.spectra = List.copyOf(b.spectra);
        this.portrait = b.portrait;
        this.images = List.copyOf(b.images);
    }

    /** A new builder: title "sgdnoise run", nothing else. */
    public static Builder builder() {
        return new Builder();
    }

    /** The page as HTML text. */
    public String html() {
        Map<String, byte[]> files = Dashboard.loadFiles();
        String blob = data().replace("<", "\\u003c"); // '<' occurs in JSON only in strings: no "</script>" there
        String page = text(files, Dashboard.PAGE)
                .replace(Dashboard.PAGE_CSP, Dashboard.STATIC_CSP)
                .replace("<title>sgdnoise dashboard</title>", "<title>" + escapeHtml(title) + "</title>")
                .replace(
                        "<link rel=\"stylesheet\" href=\"assets/uPlot.min.css\">",
                        "<style>\n" + text(files, "uPlot.min.css") + "\n</style>")
                .replace(
                        "<link rel=\"stylesheet\" href=\"assets/dashboard.css\">",
                        "<style>\n" + text(files, "dashboard.css") + "\n</style>")
                .replace(
                        "<script src=\"assets/uPlot.iife.min.js\"></script>",
                        "<script>\n" + inlineScript(text(files, "uPlot.iife.min.js")) + "\n</script>")
                .replace(
                        "<script src=\"assets/dashboard.js\"></script>",
                        "<script>window.SGDNOISE_DATA = " + blob + ";</script>\n<script>\n"
                                + inlineScript(text(files, "dashboard.js")) + "\n</script>");
        if (page.contains("src=\"assets/") || page.contains("href=\"assets/") || !page.contains(Dashboard.STATIC_CSP)) {
            throw new IllegalStateException("the dashboard page links an asset the static page does not inline");
        }
        return page;
    }

    /**
     * Writes the page to {@code out}, creating its folders.
     *
     * @param out the HTML file, replaced
     */
    public void write(Path out) throws IOException {
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(out, html(), StandardCharsets.UTF_8);
    }

    private String data() {
        StringBuilder d = new StringBuilder(1 << 16).append("{\"title\":");
        Dashboard.string(d, title);
        d.append(",\"tables\":[");
        boolean firstTable = true;
        for (Map.Entry<String, Map<String, String>> t : tables.entrySet()) {
            d.append(firstTable ? "" : ",").append("{\"title\":");
            firstTable = false;
            Dashboard.string(d, t.getKey());
            d.append(",\"rows\":[");
            boolean firstRow = true;
            for (Map.Entry<String, String> row : t.getValue().entrySet()) {
                d.append(firstRow ? "[" : ",[");
                firstRow = false;
                Dashboard.string(d, row.getKey());
                d.append(',');
                Dashboard.string(d, row.getValue());
                d.append(']');
            }
            d.append("]}");
        }
        d.append("],\"records\":");
        List<Dashboard.Entry> entries = new ArrayList<>(records.size());
        long n = 0;
        for (ProbeRecord r : records) {
            entries.add(new Dashboard.Entry(++n, Dashboard.kind(r), r));
        }
        Dashboard.recordsJson(d, entries);
        d.append(",\"scalars\":");
        Dashboard.scalarsJson(d, scalars, scalars.size());
        d.append(",\"spectra\":[");
        for (int i = 0; i < spectra.size(); i++) {
            Spectrum s = spectra.get(i);
            d.append(i == 0 ? "" : ",").append("{\"label\":");
            Dashboard.string(d, s.label());
            d.append(",\"rank_threshold\":");
            Dashboard.number(d, s.rankThreshold());
            d.append(",\"eigenvalues\":");
            array(d, s.eigenvalues());
            d.append('}');
        }
        d.append("],\"portrait\":");
        if (portrait == null) {
            d.append("null");
        } else {
            d.append("{\"caption\":");
            Dashboard.string(d, portrait.caption());
            d.append(",\"u\":");
            array(d, portrait.u());
            d.append(",\"v\":");
            array(d, portrait.v());
            d.append('}');
        }
        d.append(",\"images\":[");
        for (int i = 0; i < images.size(); i++) {
            Image im = images.get(i);
            d.append(i == 0 ? "" : ",").append("{\"id\":");
            Dashboard.string(d, im.id());
            d.append(",\"title\":");
            Dashboard.string(d, im.title());
            d.append(",\"caption\":");
            Dashboard.string(d, im.caption());
            d.append(",\"src\":\"data:image/png;base64,")
                    .append(Base64.getEncoder().encodeToString(im.png()))
                    .append("\"}");
        }
        return d.append("]}").toString();
    }

    private static void array(StringBuilder d, double[] a) {
        d.append('[');
        for (int i = 0; i < a.length; i++) {
            Dashboard.number(d.append(i == 0 ? "" : ","), a[i]);
        }
        d.append(']');
    }

    private static String inlineScript(String js) {
        if (js.toLowerCase(Locale.ROOT).contains("</script")) {
            throw new IllegalStateException("a script to inline contains </script");
        }
        return js;
    }

    private static String text(Map<String, byte[]> files, String name) {
        return new String(files.get(name), StandardCharsets.UTF_8);
    }

    private static String escapeHtml(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    /** Collects what the page shows. */
    public static final class Builder {
        private String title = "sgdnoise run";
        private final List<ProbeRecord> records = new ArrayList<>();
        private final List<IterationScalars> scalars = new ArrayList<>();
        private final Map<String, Map<String, String>> tables = new LinkedHashMap<>();
        private final List<Spectrum> spectra = new ArrayList<>();
        private Portrait portrait;
        private final List<Image> images = new ArrayList<>();

        private Builder() {}

        /** The page's title and heading (default "sgdnoise run"). */
        public Builder title(String title) {
            this.title = Options.notNull("title", title);
            return this;
        }

        /** Adds records (probe and loop-verdict records, in the order they were written). */
        public Builder records(List<ProbeRecord> records) {
            Options.notNull("records", records).forEach(r -> this.records.add(Options.notNull("record", r)));
            return this;
        }

        /** Adds iteration scalars (without any, the loss chart draws the probes' loss). */
        public Builder scalars(List<IterationScalars> scalars) {
            Options.notNull("scalars", scalars).forEach(s -> this.scalars.add(Options.notNull("scalar", s)));
            return this;
        }

        /** Adds a table of name → value rows, shown above the charts in the map's order. */
        public Builder table(String title, Map<String, String> rows) {
            tables.put(Options.notNull("table title", title), new LinkedHashMap<>(Options.notNull("rows", rows)));
            return this;
        }

        /**
         * Adds a spectrum of D (eigenvalues in any order; NaN threshold for none). The last one added replaces the
         * last probe's top eigenvalues in the histogram; two or more are also overlaid against their index.
         */
        public Builder spectrum(String label, double[] eigenvalues, double rankThreshold) {
            spectra.add(new Spectrum(
                    Options.notNull("spectrum label", label),
                    Options.notNull("eigenvalues", eigenvalues).clone(),
                    rankThreshold));
            return this;
        }

        /**
         * Sets the phase portrait: the trajectory's coordinates u, v in its most circulating plane, in step order.
         *
         * @throws IllegalArgumentException when u and v differ in length
         */
        public Builder phasePortrait(String caption, double[] u, double[] v) {
            if (Options.notNull("u", u).length != Options.notNull("v", v).length) {
                throw new IllegalArgumentException(
                        "u and v must have the same length, got " + u.length + " and " + v.length);
            }
            this.portrait = new Portrait(Options.notNull("caption", caption), u.clone(), v.clone());
            return this;
        }

        /** Adds a PNG image (embedded as a data URI) below the charts. */
        public Builder image(String id, String title, String caption, byte[] png) {
            images.add(new Image(
                    Options.notNull("image id", id),
                    Options.notNull("image title", title),
                    Options.notNull("image caption", caption),
                    Options.notNull("png", png).clone()));
            return this;
        }

        /** The page. */
        public DashboardPage build() {
            return new DashboardPage(this);
        }
    }
}

package org.sgdnoise.samples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.CsvData;
import org.sgdnoise.samples.chart.Plot;
import org.sgdnoise.trajectory.LoopAnalysis;
import org.sgdnoise.trajectory.LoopStatistics;

/**
 * The {@code analyze-trajectory} command's work: reads a trajectory CSV (one written by the
 * TrajectoryListener, whose coordinates are the {@code y0..y(m−1)} columns of its last segment, or any
 * CSV whose rows are time steps and whose numeric columns are coordinates), runs the loop detector, and
 * writes a JSON report and a phase portrait of the most circulating plane.
 */
public final class TrajectoryAnalysis {

    /** Width and height in pixels of the phase portrait ({@code --png}). */
    static final int PORTRAIT_SIZE = 640;

    private TrajectoryAnalysis() {}

    /** Reads the coordinates of a trajectory CSV (last segment). */
    static double[][] read(Path csv) {
        return readWithGate(csv, 0).y();
    }

    /**
     * A trajectory's coordinates and, for listener files, its stationarity ratio 2⟨θ·u⟩/⟨|u|²⟩ (NaN when
     * the file has no {@code theta_dot_update} and {@code update_sq} columns).
     */
    record Trajectory(double[][] y, double stationarityRatio) {}

    private static boolean endsWithNewline(Path csv) {
        try (RandomAccessFile f = new RandomAccessFile(csv.toFile(), "r")) {
            if (f.length() == 0) {
                return true;
            }
            f.seek(f.length() - 1);
            return f.read() == '\n';
        } catch (IOException e) {
            throw new UserInputException("cannot read " + csv + ": " + e.getMessage(), e);
        }
    }

    static Trajectory readWithGate(Path csv, int last) {
        if (!Files.isRegularFile(csv)) {
            throw new UserInputException("trajectory file " + csv + " does not exist");
        }
        List<double[]> rows = new ArrayList<>();
        int[] cols = null;
        int segmentCol = -1;
        int dotCol = -1;
        int sqCol = -1;
        int lineNo = 0;
        boolean terminated = endsWithNewline(csv);
        try (BufferedReader in = Files.newBufferedReader(csv, StandardCharsets.UTF_8)) {
            String[] header = null;
            for (String line = in.readLine(), next; line != null; line = next) {
                next = in.readLine();
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                // A TrajectoryListener file ends every line with a newline: a last line without one was torn
                // by a killed writer, even if it has all its columns (the tear may fall inside the last cell).
                if (next == null && !terminated && header != null && indexOf(header, "theta_dot_update") >= 0) {
                    break;
                }
                String[] cells = line.split(",", -1);
                if (lineNo == 1 && !CsvData.isNumber(cells[0].trim())) {
                    header = cells;
                    continue;
                }
                if (cols == null) {
                    cols = columns(header, cells.length);
                    segmentCol = header == null ? -1 : indexOf(header, "segment");
                    dotCol = header == null ? -1 : indexOf(header, "theta_dot_update");
                    sqCol = header == null ? -1 : indexOf(header, "update_sq");
                }
                int width = header != null ? header.length : cells.length;
                if (cells.length != width) {
                    // A torn last line (a killed writer) is skipped; anything else is an error.
                    if (next == null) {
                        break;
                    }
                    throw new UserInputException(
                            csv + ": line " + lineNo + " has " + cells.length + " columns, expected " + width);
                }
                double[] row = new double[cols.length + 3];
                for (int i = 0; i < cols.length; i++) {
                    row[i] = CsvData.parse(csv, lineNo, cols[i], cells[cols[i]]);
                }
                row[cols.length] = segmentCol >= 0 ? CsvData.parse(csv, lineNo, segmentCol, cells[segmentCol]) : 0;
                row[cols.length + 1] = dotCol >= 0 ? CsvData.parse(csv, lineNo, dotCol, cells[dotCol]) : Double.NaN;
                row[cols.length + 2] = sqCol >= 0 ? CsvData.parse(csv, lineNo, sqCol, cells[sqCol]) : Double.NaN;
                rows.add(row);
            }
        } catch (IOException e) {
            throw new UserInputException("cannot read " + csv + ": " + e.getMessage(), e);
        }
        if (rows.isEmpty() || cols.length < 2) {
            throw new UserInputException(csv + " needs at least one row and two coordinate columns");
        }
        // Keep the last segment only: coordinates of different bases must not be mixed.
        double lastSegment = rows.get(rows.size() - 1)[cols.length];
        int dims = cols.length;
        List<double[]> seg = rows.stream().filter(r -> r[dims] == lastSegment).toList();
        if (last > 0 && seg.size() > last) {
            seg = seg.subList(seg.size() - last, seg.size());
        }
        double dot = 0;
        double sq = 0;
        for (double[] r : seg) {
            dot += r[dims + 1];
            sq += r[dims + 2];
        }
        double ratio = sq > 0 ? 2 * dot / sq : Double.NaN;
        return new Trajectory(seg.stream().map(r -> Arrays.copyOf(r, dims)).toArray(double[][]::new), ratio);
    }

    private static int[] columns(String[] header, int width) {
        if (header == null) {
            int[] all = new int[width];
            for (int i = 0; i < width; i++) {
                all[i] = i;
            }
            return all;
        }
        List<Integer> ys = new ArrayList<>();
        for (int i = 0; i < header.length; i++) {
            if (header[i].trim().matches("y[0-9]+")) {
                ys.add(i);
            }
        }
        if (ys.isEmpty()) { // any CSV with a header: every column is a coordinate
            for (int i = 0; i < header.length; i++) {
                ys.add(i);
            }
        }
        return ys.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int indexOf(String[] header, String name) {
        for (int i = 0; i < header.length; i++) {
            if (header[i].trim().equals(name)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Key of the returned report (not written to the JSON file): the trajectory's coordinate u in the most
     * circulating plane, per step ({@code double[]}; absent when there is no plane).
     */
    public static final String PORTRAIT_U = "portrait_u";
    /** Key of the returned report (not written to the JSON file): the coordinate v, as {@link #PORTRAIT_U}. */
    public static final String PORTRAIT_V = "portrait_v";

    /**
     * Analyses a file and writes {@code out} (JSON) and {@code png} (phase portrait, unless null); returns the
     * report, with the portrait's coordinates ({@link #PORTRAIT_U}, {@link #PORTRAIT_V}) added.
     */
    public static Map<String, Object> run(Path csv, double dt, LoopStatistics detector, Path out, Path png)
            throws IOException {
        return run(csv, dt, detector, Double.NaN, 0, out, png);
    }

    /**
     * As {@link #run(Path, double, LoopStatistics, Path, Path)}, with the plain-SGD stationarity gate: when
     * {@code gateTolerance} is finite and the file carries the update columns, a LOOP or NO_LOOP verdict
     * becomes NOT_STATIONARY if |2⟨θ·u⟩/⟨|u|²⟩ − 1| exceeds it.
     */
    public static Map<String, Object> run(
            Path csv, double dt, LoopStatistics detector, double gateTolerance, int last, Path out, Path png)
            throws IOException {
        if (!(dt > 0)) {
            throw new UserInputException("dt must be > 0, got " + dt);
        }
        Trajectory tr = readWithGate(csv, last);
        double[][] y = tr.y();
        LoopAnalysis a = detector.analyze(y, dt);
        boolean gated = Double.isFinite(gateTolerance)
                && Double.isFinite(tr.stationarityRatio())
                && Double.isFinite(a.maxRate());
        // As in the TrajectoryListener: for plain SGD the gate is added to the detector's checks.
        String verdict = gated
                ? detector.gatedVerdict(a, tr.stationarityRatio(), gateTolerance)
                        .name()
                : a.verdict().name();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("file", csv.toString());
        r.put("steps", a.steps());
        r.put("dimensions", a.dimensions());
        r.put("dt", dt);
        r.put("area_rate", a.areaRate());
        r.put("area_rate_stderr", a.areaRateStderr());
        r.put("max_rate", finite(a.maxRate()));
        r.put("max_rate_stderr", finite(a.maxRateStderr()));
        r.put("plane", a.plane());
        r.put("period", finite(a.period()));
        r.put("p_value", finite(a.pValue()));
        r.put("surrogates", a.surrogates());
        r.put("blocks", a.blocks());
        r.put("significance", detector.significance());
        r.put("lag_antisymmetry", a.lagAntisymmetry());
        r.put("lags", a.lags());
        r.put("diffusion_exponent", finite(a.diffusionExponent()));
        r.put("correlation_time", finite(a.correlationTime()));
        r.put("subspace_drift", finite(a.subspaceDrift()));
        r.put("subspace_stationary", a.subspaceStationary());
        r.put("fluctuation_drift", finite(a.fluctuationDrift()));
        r.put("fluctuations_stationary", a.fluctuationsStationary());
        r.put("stationarity_ratio", finite(tr.stationarityRatio()));
        r.put("stationarity_gate_applied", gated);
        r.put("verdict", verdict);
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.toFile(), r);
        if (a.plane() != null) {
            double[] p = new double[y.length];
            double[] q = new double[y.length];
            for (int t = 0; t < y.length; t++) {
                for (int i = 0; i < y[t].length; i++) {
                    p[t] += a.plane()[0][i] * y[t][i];
                    q[t] += a.plane()[1][i] * y[t][i];
                }
            }
            // Returned for a page to draw, not written into the JSON report (they are as long as the trajectory).
            r.put(PORTRAIT_U, p);
            r.put(PORTRAIT_V, q);
            if (png != null) {
                String title = String.format(
                        Locale.ROOT, "%s: rate %.3g, p = %.3g, %d steps", verdict, a.maxRate(), a.pValue(), a.steps());
                new Plot(title, "u", "v").path("", p, q).write(png, PORTRAIT_SIZE, PORTRAIT_SIZE);
            }
        }
        return r;
    }

    private static Object finite(double v) {
        return Double.isFinite(v) ? v : null;
    }
}

package org.sgdnoise.samples.chart;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.DoubleToIntFunction;
import javax.imageio.ImageIO;

/**
 * A small headless chart, drawn with Java2D and written as PNG: the samples' only chart writer.
 *
 * <p>Series: lines, points, bars, means with ±sd error bars, and a path coloured from blue (start) to red
 * (end), the phase portrait of {@code analyze-trajectory}. Axes linear, log₁₀ (ticks at decades) or, for x,
 * log₂ (ticks at powers of two, e.g. batch sizes); dashed vertical markers; a legend of the named series.
 * Non-finite values, and values {@code <= 0} on a log axis, are left out. Java2D rather than a chart
 * library: no dependency, and the same input gives the same PNG bytes. Not thread-safe.
 */
public final class Plot {

    /** Colours for successive series. */
    public static final Color[] PALETTE = {
        new Color(0x1f77b4),
        new Color(0xd62728),
        new Color(0x2ca02c),
        new Color(0xff7f0e),
        new Color(0x9467bd),
        new Color(0x8c564b)
    };

    /** A path is drawn through at most about this many points (evenly strided) to bound the drawing time. */
    public static final int MAX_PATH_POINTS = 20_000;

    private enum Kind {
        LINE,
        POINTS,
        BARS,
        ERROR_BARS,
        PATH
    }

    /** One series; {@code sd} only for error bars (null otherwise). */
    private record Series(String name, double[] x, double[] y, double[] sd, Color color, Kind kind) {}

    private record Marker(double x, String label, Color color) {}

    private final String title;
    private final String xLabel;
    private final String yLabel;
    /** 0 for a linear x axis, else the logarithm's base (2 or 10). */
    private int logBaseX;

    private boolean logY;
    private final List<Series> series = new ArrayList<>();
    private final List<Marker> markers = new ArrayList<>();

    /**
     * Starts an empty chart.
     *
     * @param title drawn above the plot area
     * @param xLabel the x axis label ({@code " (log)"} is appended on a log axis)
     * @param yLabel the y axis label
     */
    public Plot(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    /** Makes the x axis logarithmic with ticks at decades; returns this chart. */
    public Plot logX() {
        logBaseX = 10;
        return this;
    }

    /** Makes the x axis logarithmic with ticks at powers of two (labelled 1, 2, 4, ...); returns this chart. */
    public Plot log2X() {
        logBaseX = 2;
        return this;
    }

    /** Makes the y axis logarithmic with ticks at decades; returns this chart. */
    public Plot logY() {
        logY = true;
        return this;
    }

    /** Adds a line through (x[i], y[i]), broken where a value cannot be drawn. Not modified: x, y. */
    public Plot line(String name, double[] x, double[] y) {
        series.add(new Series(name, x, y, null, nextColor(), Kind.LINE));
        return this;
    }

    /** Adds unconnected points (x[i], y[i]). Not modified: {@code x}, {@code y}. */
    public Plot points(String name, double[] x, double[] y) {
        series.add(new Series(name, x, y, null, nextColor(), Kind.POINTS));
        return this;
    }

    /**
     * Adds bars of height y[i] over [edges[i], edges[i + 1]) ({@code edges} has one more value than
     * {@code y}). Not modified: {@code edges}, {@code y}.
     */
    public Plot bars(String name, double[] edges, double[] y) {
        series.add(new Series(name, edges, y, null, nextColor(), Kind.BARS));
        return this;
    }

    /**
     * Adds means joined by a line, each with a dot and a bar from {@code mean - sd} to {@code mean + sd} (a
     * non-finite sd draws no bar). Not modified: {@code x}, {@code mean}, {@code sd}.
     *
     * @param color the series' colour
     * @throws IllegalArgumentException when the three arrays differ in length
     */
    public Plot errorBars(String name, double[] x, double[] mean, double[] sd, Color color) {
        if (x.length != mean.length || x.length != sd.length) {
            throw new IllegalArgumentException("x, mean and sd must have the same length, got " + x.length + ", "
                    + mean.length + ", " + sd.length);
        }
        series.add(new Series(name, x, mean, sd, color, Kind.ERROR_BARS));
        return this;
    }

    /**
     * Adds a path through (x[t], y[t]) in time order, coloured from blue (start) to red (end); long paths
     * are strided to about {@value #MAX_PATH_POINTS} points. Not modified: {@code x}, {@code y}.
     *
     * @throws IllegalArgumentException when the arrays differ in length
     */
    public Plot path(String name, double[] x, double[] y) {
        if (x.length != y.length) {
            throw new IllegalArgumentException(
                    "x and y must have the same length, got " + x.length + " and " + y.length);
        }
        series.add(new Series(name, x, y, null, Color.BLUE, Kind.PATH));
        return this;
    }

    /** Adds a dashed vertical line at x with a label; returns this chart. */
    public Plot marker(double x, String label) {
        markers.add(new Marker(x, label, Color.DARK_GRAY));
        return this;
    }

    /** True when at least one value can be drawn. */
    public boolean hasData() {
        for (Series s : series) {
            for (int i = 0; i < s.y().length; i++) {
                if (usable(s.x()[i], isLogX()) && usable(s.y()[i], logY)) {
                    return true;
                }
            }
        }
        return false;
    }

    private Color nextColor() {
        return PALETTE[series.size() % PALETTE.length];
    }

    private static boolean usable(double v, boolean log) {
        return Double.isFinite(v) && (!log || v > 0);
    }

    private boolean isLogX() {
        return logBaseX != 0;
    }

    private double tx(double v) {
        return logBaseX == 10 ? Math.log10(v) : logBaseX == 2 ? Math.log(v) / Math.log(2) : v;
    }

    private double ty(double v) {
        return logY ? Math.log10(v) : v;
    }

    /**
     * Draws the chart into a PNG of w×h pixels, replacing the file.
     *
     * @throws IOException when the file cannot be written
     */
    public void write(Path png, int w, int h) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int left = 78;
        int right = 24;
        int top = 40;
        int bottom = 52;
        double minX = Double.POSITIVE_INFINITY, maxX = Double.NEGATIVE_INFINITY;
        double minY = Double.POSITIVE_INFINITY, maxY = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            int n = s.kind() == Kind.BARS ? s.y().length : s.x().length;
            for (int i = 0; i < n; i++) {
                double x = s.x()[i];
                double y = s.y()[i];
                if (!usable(x, isLogX()) || !usable(y, logY)) {
                    continue;
                }
                minX = Math.min(minX, tx(x));
                maxX = Math.max(maxX, tx(s.kind() == Kind.BARS ? s.x()[i + 1] : x));
                minY = Math.min(minY, ty(y));
                maxY = Math.max(maxY, ty(y));
                if (s.kind() == Kind.ERROR_BARS && Double.isFinite(s.sd()[i])) {
                    for (double end : new double[] {y - s.sd()[i], y + s.sd()[i]}) {
                        if (usable(end, logY)) {
                            minY = Math.min(minY, ty(end));
                            maxY = Math.max(maxY, ty(end));
                        }
                    }
                }
            }
        }
        for (Marker m : markers) {
            if (usable(m.x(), isLogX())) {
                minX = Math.min(minX, tx(m.x()));
                maxX = Math.max(maxX, tx(m.x()));
            }
        }
        if (!Double.isFinite(minX)) {
            minX = 0;
            maxX = 1;
            minY = 0;
            maxY = 1;
        }
        boolean bars = series.stream().anyMatch(s -> s.kind() == Kind.BARS);
        if (bars && !logY) {
            minY = Math.min(minY, 0);
        }
        if (!(maxX > minX)) {
            maxX = minX + 1;
        }
        if (!(maxY > minY)) {
            maxY = minY + 1;
        }
        if (series.stream().anyMatch(s -> s.kind() == Kind.ERROR_BARS || s.kind() == Kind.PATH)) {
            // Dots, error bars and a path's turning points would be cut in half at the frame.
            double padX = 0.04 * (maxX - minX);
            minX -= padX;
            maxX += padX;
        }
        double padY = 0.05 * (maxY - minY);
        maxY += padY;
        if (!(bars && !logY && minY == 0)) {
            minY -= padY;
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        int pw = w - left - right;
        int ph = h - top - bottom;
        final double x0 = minX, x1 = maxX, y0 = minY, y1 = maxY;
        DoubleToIntFunction px = v -> left + (int) Math.round((v - x0) / (x1 - x0) * pw);
        DoubleToIntFunction py = v -> top + ph - (int) Math.round((v - y0) / (y1 - y0) * ph);
        g.setColor(new Color(0xeeeeee));
        for (double t : ticks(minX, maxX, isLogX())) {
            g.drawLine(px.applyAsInt(t), top, px.applyAsInt(t), top + ph);
        }
        for (double t : ticks(minY, maxY, logY)) {
            g.drawLine(left, py.applyAsInt(t), left + pw, py.applyAsInt(t));
        }
        g.setColor(Color.GRAY);
        g.drawRect(left, top, pw, ph);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.setColor(Color.BLACK);
        for (double t : ticks(minX, maxX, isLogX())) {
            String label = label(t, logBaseX);
            g.drawString(label, px.applyAsInt(t) - g.getFontMetrics().stringWidth(label) / 2, top + ph + 16);
        }
        for (double t : ticks(minY, maxY, logY)) {
            String label = label(t, logY ? 10 : 0);
            g.drawString(label, left - 6 - g.getFontMetrics().stringWidth(label), py.applyAsInt(t) + 4);
        }
        g.drawString(
                xLabel + (isLogX() ? " (log)" : ""),
                left + pw / 2 - g.getFontMetrics().stringWidth(xLabel) / 2,
                h - 12);
        g.drawString(yLabel + (logY ? " (log)" : ""), 8, top - 8);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
        g.drawString(title, left, 18);
        g.setClip(left, top, pw + 1, ph + 1);
        for (Series s : series) {
            g.setColor(s.color());
            g.setStroke(new BasicStroke(s.kind() == Kind.LINE ? 1.6f : s.kind() == Kind.ERROR_BARS ? 2f : 1f));
            if (s.kind() == Kind.PATH) {
                drawPath(g, s, px, py);
            } else if (s.kind() == Kind.BARS) {
                drawBars(g, s, px, py, top + ph);
            } else {
                drawLineOrPoints(g, s, px, py);
            }
        }
        for (Marker m : markers) {
            if (!usable(m.x(), isLogX())) {
                continue;
            }
            int x = px.applyAsInt(tx(m.x()));
            g.setColor(m.color());
            g.setStroke(new BasicStroke(1.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {5, 4}, 0));
            g.drawLine(x, top, x, top + ph);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            int labelX = Math.min(x + 4, left + pw - g.getFontMetrics().stringWidth(m.label()) - 2);
            g.drawString(m.label(), labelX, top + 14);
        }
        g.setClip(null);
        int ly = top + 16 + (markers.isEmpty() ? 0 : 14);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        for (Series s : series) {
            if (s.name() == null || s.name().isEmpty()) {
                continue;
            }
            int tw = g.getFontMetrics().stringWidth(s.name());
            int lx = left + pw - tw - 30;
            g.setColor(s.color());
            g.fillRect(lx, ly - 8, 18, 8);
            g.setColor(Color.BLACK);
            g.drawString(s.name(), lx + 24, ly);
            ly += 15;
        }
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }

    private void drawBars(Graphics2D g, Series s, DoubleToIntFunction px, DoubleToIntFunction py, int bottomY) {
        for (int i = 0; i < s.y().length; i++) {
            if (!usable(s.y()[i], logY) || !usable(s.x()[i], isLogX())) {
                continue;
            }
            int a = px.applyAsInt(tx(s.x()[i]));
            int b = px.applyAsInt(tx(s.x()[i + 1]));
            int yTop = py.applyAsInt(ty(s.y()[i]));
            int yBase = logY ? bottomY : py.applyAsInt(0);
            g.fillRect(a, Math.min(yTop, yBase), Math.max(1, b - a - 1), Math.abs(yBase - yTop));
        }
    }

    /** Lines, points, or error bars (a line through the means with a bar and a dot at each). */
    private void drawLineOrPoints(Graphics2D g, Series s, DoubleToIntFunction px, DoubleToIntFunction py) {
        int lastX = Integer.MIN_VALUE;
        int lastY = 0;
        for (int i = 0; i < s.x().length; i++) {
            if (!usable(s.x()[i], isLogX()) || !usable(s.y()[i], logY)) {
                lastX = Integer.MIN_VALUE;
                continue;
            }
            int x = px.applyAsInt(tx(s.x()[i]));
            int y = py.applyAsInt(ty(s.y()[i]));
            if (s.kind() == Kind.ERROR_BARS) {
                double sd = Double.isFinite(s.sd()[i]) ? s.sd()[i] : 0;
                double lo = usable(s.y()[i] - sd, logY) ? s.y()[i] - sd : s.y()[i];
                double hi = usable(s.y()[i] + sd, logY) ? s.y()[i] + sd : s.y()[i];
                g.drawLine(x, py.applyAsInt(ty(lo)), x, py.applyAsInt(ty(hi)));
                g.fillOval(x - 3, y - 3, 6, 6);
            }
            if (s.kind() == Kind.POINTS) {
                g.fillOval(x - 2, y - 2, 5, 5);
            } else if (lastX != Integer.MIN_VALUE) {
                g.drawLine(lastX, lastY, x, y);
            }
            lastX = x;
            lastY = y;
        }
    }

    /** The path in time order, each segment coloured by its position from blue (start) to red (end). */
    private void drawPath(Graphics2D g, Series s, DoubleToIntFunction px, DoubleToIntFunction py) {
        int n = s.x().length;
        int stride = Math.max(1, n / MAX_PATH_POINTS);
        int lastX = Integer.MIN_VALUE;
        int lastY = 0;
        for (int i = 0; i < n; i += stride) {
            if (!usable(s.x()[i], isLogX()) || !usable(s.y()[i], logY)) {
                lastX = Integer.MIN_VALUE;
                continue;
            }
            int x = px.applyAsInt(tx(s.x()[i]));
            int y = py.applyAsInt(ty(s.y()[i]));
            float f = n > 1 ? (float) i / (n - 1) : 0f;
            g.setColor(new Color(f, 0.2f, 1 - f, 0.6f));
            if (lastX != Integer.MIN_VALUE) {
                g.drawLine(lastX, lastY, x, y);
            }
            lastX = x;
            lastY = y;
        }
    }

    /** Tick positions in transformed units: integer powers on a log axis, about five round steps otherwise. */
    private static List<Double> ticks(double lo, double hi, boolean log) {
        List<Double> t = new ArrayList<>();
        if (log) {
            int step = Math.max(1, (int) Math.ceil((hi - lo) / 8));
            for (double k = Math.ceil(lo); k <= hi; k += step) {
                t.add(k);
            }
            return t;
        }
        double raw = (hi - lo) / 5;
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = raw / mag < 2 ? 2 * mag : raw / mag < 5 ? 5 * mag : 10 * mag;
        for (double v = Math.ceil(lo / step) * step; v <= hi + 1e-12 * step; v += step) {
            t.add(Math.abs(v) < 1e-12 * step ? 0 : v);
        }
        return t;
    }

    /** A tick label: {@code 1e<k>} at decades, the power of two itself on a log₂ axis, else the value. */
    private static String label(double t, int logBase) {
        if (logBase == 10) {
            return "1e" + (int) Math.round(t);
        }
        if (logBase == 2) {
            int k = (int) Math.round(t);
            return k >= 0 && k < 63 ? String.valueOf(1L << k) : "2^" + k;
        }
        return t == 0 ? "0" : String.format(Locale.ROOT, "%.4g", t);
    }
}

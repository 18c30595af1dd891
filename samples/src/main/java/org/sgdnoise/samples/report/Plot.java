package org.sgdnoise.samples.report;

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
import javax.imageio.ImageIO;

/**
 * A small headless chart, drawn with Java2D and written as PNG: lines, points and bars on linear or
 * log₁₀ axes, vertical markers, a legend. Non-finite values, and values ≤ 0 on a log axis, are left out.
 */
public final class Plot {

    /** Colours for successive series. */
    public static final Color[] PALETTE = {
        new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e), new Color(0x9467bd),
        new Color(0x8c564b)
    };

    private enum Kind { LINE, POINTS, BARS }

    private record Series(String name, double[] x, double[] y, Color color, Kind kind) {}

    private record Marker(double x, String label, Color color) {}

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private boolean logX;
    private boolean logY;
    private final List<Series> series = new ArrayList<>();
    private final List<Marker> markers = new ArrayList<>();

    public Plot(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    public Plot logX() {
        logX = true;
        return this;
    }

    public Plot logY() {
        logY = true;
        return this;
    }

    public Plot line(String name, double[] x, double[] y) {
        series.add(new Series(name, x, y, PALETTE[series.size() % PALETTE.length], Kind.LINE));
        return this;
    }

    public Plot points(String name, double[] x, double[] y) {
        series.add(new Series(name, x, y, PALETTE[series.size() % PALETTE.length], Kind.POINTS));
        return this;
    }

    /** Bars of height y[i] over [edges[i], edges[i + 1]) (edges has one more value than y). */
    public Plot bars(String name, double[] edges, double[] y) {
        series.add(new Series(name, edges, y, PALETTE[series.size() % PALETTE.length], Kind.BARS));
        return this;
    }

    public Plot marker(double x, String label) {
        markers.add(new Marker(x, label, Color.DARK_GRAY));
        return this;
    }

    /** True when at least one value can be drawn. */
    public boolean hasData() {
        for (Series s : series) {
            for (int i = 0; i < s.y().length; i++) {
                if (usable(s.x()[i], logX) && usable(s.y()[i], logY)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static boolean usable(double v, boolean log) {
        return Double.isFinite(v) && (!log || v > 0);
    }

    private double tx(double v) {
        return logX ? Math.log10(v) : v;
    }

    private double ty(double v) {
        return logY ? Math.log10(v) : v;
    }

    /** Draws the chart into a PNG of w×h pixels. */
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
                if (!usable(x, logX) || !usable(y, logY)) {
                    continue;
                }
                minX = Math.min(minX, tx(x));
                maxX = Math.max(maxX, tx(s.kind() == Kind.BARS ? s.x()[i + 1] : x));
                minY = Math.min(minY, ty(y));
                maxY = Math.max(maxY, ty(y));
            }
        }
        for (Marker m : markers) {
            if (usable(m.x(), logX)) {
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
        java.util.function.DoubleToIntFunction px = v -> left + (int) Math.round((v - x0) / (x1 - x0) * pw);
        java.util.function.DoubleToIntFunction py = v -> top + ph - (int) Math.round((v - y0) / (y1 - y0) * ph);
        g.setColor(new Color(0xeeeeee));
        for (double t : ticks(minX, maxX, logX)) {
            g.drawLine(px.applyAsInt(t), top, px.applyAsInt(t), top + ph);
        }
        for (double t : ticks(minY, maxY, logY)) {
            g.drawLine(left, py.applyAsInt(t), left + pw, py.applyAsInt(t));
        }
        g.setColor(Color.GRAY);
        g.drawRect(left, top, pw, ph);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.setColor(Color.BLACK);
        for (double t : ticks(minX, maxX, logX)) {
            String label = label(t, logX);
            g.drawString(label, px.applyAsInt(t) - g.getFontMetrics().stringWidth(label) / 2, top + ph + 16);
        }
        for (double t : ticks(minY, maxY, logY)) {
            String label = label(t, logY);
            g.drawString(label, left - 6 - g.getFontMetrics().stringWidth(label), py.applyAsInt(t) + 4);
        }
        g.drawString(xLabel + (logX ? " (log)" : ""), left + pw / 2 - g.getFontMetrics().stringWidth(xLabel) / 2, h - 12);
        g.drawString(yLabel + (logY ? " (log)" : ""), 8, top - 8);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
        g.drawString(title, left, 18);
        g.setClip(left, top, pw + 1, ph + 1);
        for (Series s : series) {
            g.setColor(s.color());
            g.setStroke(new BasicStroke(s.kind() == Kind.LINE ? 1.6f : 1f));
            if (s.kind() == Kind.BARS) {
                for (int i = 0; i < s.y().length; i++) {
                    if (!usable(s.y()[i], logY) || !usable(s.x()[i], logX)) {
                        continue;
                    }
                    int a = px.applyAsInt(tx(s.x()[i]));
                    int b = px.applyAsInt(tx(s.x()[i + 1]));
                    int yTop = py.applyAsInt(ty(s.y()[i]));
                    int yBase = logY ? top + ph : py.applyAsInt(0);
                    g.fillRect(a, Math.min(yTop, yBase), Math.max(1, b - a - 1), Math.abs(yBase - yTop));
                }
                continue;
            }
            int lastX = Integer.MIN_VALUE;
            int lastY = 0;
            for (int i = 0; i < s.x().length; i++) {
                if (!usable(s.x()[i], logX) || !usable(s.y()[i], logY)) {
                    lastX = Integer.MIN_VALUE;
                    continue;
                }
                int x = px.applyAsInt(tx(s.x()[i]));
                int y = py.applyAsInt(ty(s.y()[i]));
                if (s.kind() == Kind.POINTS) {
                    g.fillOval(x - 2, y - 2, 5, 5);
                } else if (lastX != Integer.MIN_VALUE) {
                    g.drawLine(lastX, lastY, x, y);
                }
                lastX = x;
                lastY = y;
            }
        }
        for (Marker m : markers) {
            if (!usable(m.x(), logX)) {
                continue;
            }
            int x = px.applyAsInt(tx(m.x()));
            g.setColor(m.color());
            g.setStroke(new BasicStroke(1.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {5, 4}, 0));
            g.drawLine(x, top, x, top + ph);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            g.drawString(m.label(), Math.min(x + 4, left + pw - g.getFontMetrics().stringWidth(m.label()) - 2), top + 14);
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

    /** Tick positions in transformed units: decades on a log axis, about five round steps otherwise. */
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

    private static String label(double t, boolean log) {
        if (log) {
            return "1e" + (int) Math.round(t);
        }
        return t == 0 ? "0" : String.format(Locale.ROOT, "%.4g", t);
    }
}

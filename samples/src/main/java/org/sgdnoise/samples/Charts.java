package org.sgdnoise.samples;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/** A minimal headless line chart with error bars and a log₂ x axis, written as PNG. */
final class Charts {

    /** One line: x values, means and standard deviations (same length). */
    record Series(String name, double[] x, double[] mean, double[] sd, Color color) {}

    private Charts() {}

    static void write(String title, String yLabel, List<Series> series, Path png) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int w = 720;
        int h = 480;
        int left = 80;
        int right = 170;
        int top = 50;
        int bottom = 60;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        double minX = Double.POSITIVE_INFINITY, maxX = Double.NEGATIVE_INFINITY;
        double minY = Double.POSITIVE_INFINITY, maxY = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                minX = Math.min(minX, log2(s.x()[i]));
                maxX = Math.max(maxX, log2(s.x()[i]));
                double sd = Double.isFinite(s.sd()[i]) ? s.sd()[i] : 0;
                minY = Math.min(minY, s.mean()[i] - sd);
                maxY = Math.max(maxY, s.mean()[i] + sd);
            }
        }
        if (!(maxX > minX)) {
            maxX = minX + 1;
        }
        double pad = maxY > minY ? 0.05 * (maxY - minY) : 0.5;
        minY -= pad;
        maxY += pad;
        int pw = w - left - right;
        int ph = h - top - bottom;
        g.setColor(Color.GRAY);
        g.drawRect(left, top, pw, ph);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
        g.drawString(title, left, top - 20);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        for (int k = (int) Math.ceil(minX); k <= maxX; k++) {
            int x = left + (int) ((k - minX) / (maxX - minX) * pw);
            g.drawLine(x, top + ph, x, top + ph + 4);
            g.drawString(String.valueOf(1L << k), x - 10, top + ph + 18);
        }
        g.drawString("batch size (log scale)", left + pw / 2 - 50, h - 15);
        for (int k = 0; k <= 4; k++) {
            double v = minY + k * (maxY - minY) / 4;
            int y = top + ph - (int) ((v - minY) / (maxY - minY) * ph);
            g.drawLine(left - 4, y, left, y);
            g.drawString(String.format(Locale.ROOT, "%.3g", v), 8, y + 4);
        }
        g.drawString(yLabel, 8, top - 5);
        int legend = top + 10;
        for (Series s : series) {
            g.setColor(s.color());
            g.setStroke(new BasicStroke(2f));
            int px = -1;
            int py = -1;
            for (int i = 0; i < s.x().length; i++) {
                int x = left + (int) ((log2(s.x()[i]) - minX) / (maxX - minX) * pw);
                int y = top + ph - (int) ((s.mean()[i] - minY) / (maxY - minY) * ph);
                double sd = Double.isFinite(s.sd()[i]) ? s.sd()[i] : 0;
                int y0 = top + ph - (int) ((s.mean()[i] - sd - minY) / (maxY - minY) * ph);
                int y1 = top + ph - (int) ((s.mean()[i] + sd - minY) / (maxY - minY) * ph);
                g.drawLine(x, y0, x, y1);
                g.fillOval(x - 3, y - 3, 6, 6);
                if (px >= 0) {
                    g.drawLine(px, py, x, y);
                }
                px = x;
                py = y;
            }
            g.drawLine(w - right + 15, legend, w - right + 35, legend);
            g.setColor(Color.BLACK);
            g.drawString(s.name(), w - right + 40, legend + 4);
            legend += 18;
        }
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }

    private static double log2(double x) {
        return Math.log(x) / Math.log(2);
    }
}

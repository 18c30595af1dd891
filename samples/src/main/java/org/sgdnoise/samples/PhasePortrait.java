package org.sgdnoise.samples;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/** Draws a trajectory projected onto a plane as a PNG (headless AWT, no other dependency). */
public final class PhasePortrait {

    private PhasePortrait() {}

    /**
     * Writes the path (p_t, q_t) with axes and a title; colour runs from blue (start) to red (end).
     *
     * @param p first plane coordinate per step
     * @param q second plane coordinate per step
     */
    public static void write(double[] p, double[] q, String title, Path png) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int w = 640;
        int h = 640;
        int margin = 60;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        double minP = Double.POSITIVE_INFINITY, maxP = Double.NEGATIVE_INFINITY;
        double minQ = Double.POSITIVE_INFINITY, maxQ = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < p.length; i++) {
            minP = Math.min(minP, p[i]);
            maxP = Math.max(maxP, p[i]);
            minQ = Math.min(minQ, q[i]);
            maxQ = Math.max(maxQ, q[i]);
        }
        double spanP = maxP > minP ? maxP - minP : 1;
        double spanQ = maxQ > minQ ? maxQ - minQ : 1;
        g.setColor(Color.GRAY);
        g.drawRect(margin, margin, w - 2 * margin, h - 2 * margin);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
        g.setColor(Color.BLACK);
        g.drawString(title, margin, margin / 2);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.drawString(String.format(java.util.Locale.ROOT, "u: [%.3g, %.3g]", minP, maxP), margin, h - margin / 2);
        g.drawString(String.format(java.util.Locale.ROOT, "v: [%.3g, %.3g]", minQ, maxQ), w - margin - 140, h - margin / 2);
        g.setStroke(new BasicStroke(1f));
        int n = p.length;
        int stride = Math.max(1, n / 20_000);
        int px = -1;
        int py = -1;
        for (int i = 0; i < n; i += stride) {
            int x = margin + (int) ((p[i] - minP) / spanP * (w - 2 * margin));
            int y = h - margin - (int) ((q[i] - minQ) / spanQ * (h - 2 * margin));
            float f = n > 1 ? (float) i / (n - 1) : 0f;
            g.setColor(new Color(f, 0.2f, 1 - f, 0.6f));
            if (px >= 0) {
                g.drawLine(px, py, x, y);
            }
            px = x;
            py = y;
        }
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }
}

package org.sgdnoise.curvature;

/**
 * A hand-written Dense(tanh or ReLU) → Output(softmax, MCXENT) network in DL4J's flat layout (W₁ [nIn, h]
 * column-major, b₁, W₂ [h, nOut] column-major, b₂): its mean loss gradient by backpropagation, independent of
 * DL4J, and a Hessian-vector reference by Richardson-extrapolated central differences of that gradient. With
 * ReLU the differences hold the activation pattern at θ fixed, so the reference is the Hessian almost everywhere
 * (no kink is crossed).
 */
final class TanhMlp {

    private final int nIn;
    private final int hidden;
    private final int nOut;
    private final boolean relu;

    TanhMlp(int nIn, int hidden, int nOut) {
        this(nIn, hidden, nOut, false);
    }

    TanhMlp(int nIn, int hidden, int nOut, boolean relu) {
        this.nIn = nIn;
        this.hidden = hidden;
        this.nOut = nOut;
        this.relu = relu;
    }

    int numParams() {
        return nIn * hidden + hidden + hidden * nOut + nOut;
    }

    double[] meanGradient(double[] p, double[][] x, double[][] y) {
        return meanGradient(p, x, y, p);
    }

    /** The mean gradient at p with ReLU's activation pattern taken at {@code pattern}. */
    private double[] meanGradient(double[] p, double[][] x, double[][] y, double[] pattern) {
        int b1 = nIn * hidden;
        int w2 = b1 + hidden;
        int b2 = w2 + hidden * nOut;
        double[] g = new double[p.length];
        for (int e = 0; e < x.length; e++) {
            double[] a = new double[hidden];
            boolean[] on = new boolean[hidden];
            for (int k = 0; k < hidden; k++) {
                double z = p[b1 + k];
                for (int i = 0; i < nIn; i++) {
                    z += x[e][i] * p[i + nIn * k];
                }
                if (relu) {
                    double zRef = pattern[b1 + k];
                    for (int i = 0; i < nIn; i++) {
                        zRef += x[e][i] * pattern[i + nIn * k];
                    }
                    on[k] = zRef > 0;
                    a[k] = on[k] ? z : 0;
                } else {
                    a[k] = Math.tanh(z);
                }
            }
            double[] z2 = new double[nOut];
            for (int j = 0; j < nOut; j++) {
                z2[j] = p[b2 + j];
                for (int k = 0; k < hidden; k++) {
                    z2[j] += a[k] * p[w2 + k + hidden * j];
                }
            }
            double[] prob = Regressions.softmax(z2);
            double[] dz2 = new double[nOut];
            for (int j = 0; j < nOut; j++) {
                dz2[j] = (prob[j] - y[e][j]) / x.length;
                g[b2 + j] += dz2[j];
                for (int k = 0; k < hidden; k++) {
                    g[w2 + k + hidden * j] += a[k] * dz2[j];
                }
            }
            for (int k = 0; k < hidden; k++) {
                double da = 0;
                for (int j = 0; j < nOut; j++) {
                    da += p[w2 + k + hidden * j] * dz2[j];
                }
                double dz = relu ? (on[k] ? da : 0) : da * (1 - a[k] * a[k]);
                g[b1 + k] += dz;
                for (int i = 0; i < nIn; i++) {
                    g[i + nIn * k] += x[e][i] * dz;
                }
            }
        }
        return g;
    }

    /** {@code Hv} by Richardson extrapolation of central differences (error O(h⁴), h = 1e-3/‖v‖). */
    double[] hessianTimes(double[] p, double[] v, double[][] x, double[][] y) {
        double h = 1e-3 / Vectors.norm(v);
        double[] coarse = difference(p, v, x, y, h);
        double[] fine = difference(p, v, x, y, h / 2);
        double[] out = new double[p.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (4 * fine[i] - coarse[i]) / 3;
        }
        return out;
    }

    private double[] difference(double[] p, double[] v, double[][] x, double[][] y, double h) {
        double[] plus = p.clone();
        double[] minus = p.clone();
        for (int i = 0; i < p.length; i++) {
            plus[i] += h * v[i];
            minus[i] -= h * v[i];
        }
        double[] gp = meanGradient(plus, x, y, p);
        double[] gm = meanGradient(minus, x, y, p);
        double[] out = new double[p.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (gp[i] - gm[i]) / (2 * h);
        }
        return out;
    }
}

package org.sgdnoise.sketch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.diffusion.DiffusionStatistics;

class DiffusionSketchTest {

    private static INDArray probe(int k, int d, double shift, long seed) {
        Random r = new Random(seed);
        double[][] g = new double[k][d];
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < d; j++) {
                g[i][j] = shift * (j + 1) + r.nextGaussian() / (1 + j);
            }
        }
        return Nd4j.createFromArray(g);
    }

    /** The exact (1/N) Σ (g − c)(g − c)ᵀ, c the global or per-probe mean, as d×d. */
    private static double[][] exactCovariance(INDArray[] probes, boolean global) {
        int d = (int) probes[0].columns();
        INDArray all = Nd4j.vstack(probes);
        INDArray globalMean = all.mean(0);
        double[][] c = new double[d][d];
        for (INDArray p : probes) {
            INDArray centred = p.subRowVector(global ? globalMean : p.mean(0));
            double[][] x = centred.toDoubleMatrix();
            for (double[] row : x) {
                for (int a = 0; a < d; a++) {
                    for (int b = 0; b < d; b++) {
                        c[a][b] += row[a] * row[b] / all.rows();
                    }
                }
            }
        }
        return c;
    }

    private static double[][] sketchedCovariance(DiffusionSketch s) {
        INDArray b = s.sketch().sketchRows();
        return b.transpose().mmul(b).divi(s.gradients()).toDoubleMatrix();
    }

    private static void addAll(DiffusionSketch s, INDArray[] probes) {
        for (INDArray p : probes) {
            INDArray block = p.dup();
            INDArray mean = DiffusionStatistics.centre(block);
            s.addProbe(block, mean);
        }
    }

    @Test
    void globalCentringIsExactWithChansCorrection() {
        int d = 6;
        INDArray[] probes = {probe(5, d, 0.0, 1), probe(7, d, 1.0, 2), probe(4, d, -2.0, 3)};
        DiffusionSketch s =
                new DiffusionSketch(d, 50, Double.POSITIVE_INFINITY, DiffusionSketch.Centring.GLOBAL, DataType.DOUBLE);
        addAll(s, probes);
        assertThat(s.sketch().delta()).isZero();
        double[][] expected = exactCovariance(probes, true);
        double[][] actual = sketchedCovariance(s);
        for (int a = 0; a < d; a++) {
            assertThat(actual[a]).containsExactly(expected[a], within(1e-12));
        }
    }

    @Test
    void perProbeCentringAveragesEachProbesCovariance() {
        int d = 6;
        INDArray[] probes = {probe(5, d, 0.0, 4), probe(7, d, 1.0, 5)};
        DiffusionSketch s = new DiffusionSketch(
                d, 50, Double.POSITIVE_INFINITY, DiffusionSketch.Centring.PER_PROBE, DataType.DOUBLE);
        addAll(s, probes);
        double[][] expected = exactCovariance(probes, false);
        double[][] actual = sketchedCovariance(s);
        for (int a = 0; a < d; a++) {
            assertThat(actual[a]).containsExactly(expected[a], within(1e-12));
        }
        DiffusionSketch.Estimate e = s.estimate(2, false);
        assertThat(e.gradients()).isEqualTo(12);
        assertThat(e.delta()).isZero();
    }

    @Test
    void mergedGlobalSketchesEqualOneSketchOfBoth() {
        int d = 5;
        INDArray[] a = {probe(6, d, 0.5, 6), probe(3, d, -1, 7)};
        INDArray[] b = {probe(8, d, 2.0, 8)};
        DiffusionSketch sa =
                new DiffusionSketch(d, 40, Double.POSITIVE_INFINITY, DiffusionSketch.Centring.GLOBAL, DataType.DOUBLE);
        DiffusionSketch sb =
                new DiffusionSketch(d, 40, Double.POSITIVE_INFINITY, DiffusionSketch.Centring.GLOBAL, DataType.DOUBLE);
        addAll(sa, a);
        addAll(sb, b);
        sa.merge(sb);
        double[][] expected = exactCovariance(new INDArray[] {a[0], a[1], b[0]}, true);
        double[][] actual = sketchedCovariance(sa);
        for (int i = 0; i < d; i++) {
            assertThat(actual[i]).containsExactly(expected[i], within(1e-12));
        }
    }

    /**
     * A population whose top direction turns by 90° over 120 probes (from e0 to e5, σ = 3 against ≤ 1 for
     * every other direction). With a half-life of 5 probes the sketch follows the current top direction;
     * with γ = 1 it averages over the whole rotation and points halfway (overlap ≈ cos²45° = 0.5).
     * Measured with this seed: 0.992 and 0.496.
     */
    @Test
    void decayedSketchTracksARotatingCovarianceWhileNoDecayLags() {
        int d = 20;
        int probes = 120;
        int k = 32;
        DiffusionSketch decayed = new DiffusionSketch(d, 8, 5, DiffusionSketch.Centring.PER_PROBE, DataType.DOUBLE);
        DiffusionSketch forever = new DiffusionSketch(
                d, 8, Double.POSITIVE_INFINITY, DiffusionSketch.Centring.PER_PROBE, DataType.DOUBLE);
        Random r = new Random(9);
        double theta = 0;
        for (int t = 0; t < probes; t++) {
            theta = 0.5 * Math.PI * t / (probes - 1);
            double[][] g = new double[k][d];
            for (int i = 0; i < k; i++) {
                double top = 3 * r.nextGaussian();
                double ortho = 0.2 * r.nextGaussian();
                g[i][0] = Math.cos(theta) * top - Math.sin(theta) * ortho;
                g[i][5] = Math.sin(theta) * top + Math.cos(theta) * ortho;
                for (int j = 1; j < d; j++) {
                    if (j != 5) {
                        g[i][j] += r.nextGaussian() / (1 + j);
                    }
                }
            }
            addAll(decayed, new INDArray[] {Nd4j.createFromArray(g)});
            addAll(forever, new INDArray[] {Nd4j.createFromArray(g)});
        }
        INDArray truth = Nd4j.zeros(DataType.DOUBLE, 1, d);
        truth.putScalar(0, 0, Math.cos(theta));
        truth.putScalar(0, 5, Math.sin(theta));
        double tracked = DiffusionSketch.overlap(decayed.estimate(1, true).vectors(), truth);
        double lagging = DiffusionSketch.overlap(forever.estimate(1, true).vectors(), truth);
        assertThat(tracked).isGreaterThan(0.95);
        assertThat(lagging).isLessThan(0.7);
        // The decayed count settles near k / (1 − γ).
        assertThat(decayed.gradients()).isCloseTo(k / (1 - decayed.gamma()), within(1.0));
    }

    @Test
    void trustworthyNeedsAGapLargerThanDelta() {
        DiffusionSketch.Estimate clear = new DiffusionSketch.Estimate(new double[] {5, 1, 0.5}, 0.1, 10, null);
        assertThat(clear.trustworthy(1)).isTrue();
        assertThat(clear.trustworthy(2)).isTrue();
        DiffusionSketch.Estimate blurred = new DiffusionSketch.Estimate(new double[] {5, 4.95, 0.5}, 0.1, 10, null);
        assertThat(blurred.trustworthy(1)).isFalse();
        assertThat(blurred.trustworthy(2)).isTrue();
        assertThat(blurred.trustworthy(4)).isFalse();
    }

    @Test
    void serializedStateResumesTheSameEstimate() throws Exception {
        int d = 6;
        DiffusionSketch s = new DiffusionSketch(d, 3, 4, DiffusionSketch.Centring.GLOBAL, DataType.FLOAT);
        addAll(s, new INDArray[] {
            probe(5, d, 0.0, 20).castTo(DataType.FLOAT), probe(6, d, 1.0, 21).castTo(DataType.FLOAT)
        });
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bos)) {
            out.writeObject(s);
        }
        DiffusionSketch back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bos.toByteArray()))) {
            back = (DiffusionSketch) in.readObject();
        }
        INDArray next = probe(4, d, -1.0, 22).castTo(DataType.FLOAT);
        addAll(s, new INDArray[] {next});
        addAll(back, new INDArray[] {next});
        assertThat(back.estimate(3, false).eigenvalues())
                .containsExactly(s.estimate(3, false).eigenvalues());
        assertThat(back.gradients()).isEqualTo(s.gradients());
    }

    @Test
    void halfLifeGivesGamma() {
        assertThat(DiffusionSketch.gammaForHalfLife(1)).isEqualTo(0.5);
        assertThat(Math.pow(DiffusionSketch.gammaForHalfLife(20), 20)).isCloseTo(0.5, within(1e-12));
        assertThat(DiffusionSketch.gammaForHalfLife(Double.POSITIVE_INFINITY)).isEqualTo(1.0);
    }
}

package org.sgdnoise.diffusion;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/** Sketches of parts of a data set, merged in any tree, against D computed exactly in double from all the rows. */
class DatasetSketchTest {

    static final int D = 12;

    /** N gradients with a mean far from 0 and a decaying spectrum (so centring matters and shrinks lose something). */
    private static double[][] gradients(int n, long seed) {
        Random r = new Random(seed);
        double[][] g = new double[n][D];
        for (double[] row : g) {
            for (int j = 0; j < D; j++) {
                row[j] = 3.0 + j + r.nextGaussian() * Math.pow(0.6, j);
            }
        }
        return g;
    }

    /** D = (1/N) Σ (g − ḡ)(g − ḡ)ᵀ, two-pass in double. */
    private static double[][] exactD(double[][] g) {
        double[] mean = new double[D];
        for (double[] row : g) {
            for (int j = 0; j < D; j++) {
                mean[j] += row[j] / g.length;
            }
        }
        double[][] c = new double[D][D];
        for (double[] row : g) {
            for (int a = 0; a < D; a++) {
                for (int b = 0; b < D; b++) {
                    c[a][b] += (row[a] - mean[a]) * (row[b] - mean[b]) / g.length;
                }
            }
        }
        return c;
    }

    private static double[] eigenvaluesDescending(double[][] m) {
        return SymmetricEigen.eigenvalues(m, 1.0);
    }

    /** Parts of uneven sizes (1 to 140 rows), each added in blocks of up to 25 rows. */
    private static List<DatasetSketch> parts(double[][] g, int ell) {
        int[] sizes = {140, 1, 37, 90, 2, 30};
        List<DatasetSketch> out = new ArrayList<>();
        int at = 0;
        for (int size : sizes) {
            DatasetSketch s = new DatasetSketch(ell);
            for (int b = at; b < at + size; b += 25) {
                int e = Math.min(at + size, b + 25);
                s.add(Nd4j.createFromArray(Arrays.copyOfRange(g, b, e)));
            }
            out.add(s);
            at += size;
        }
        assertThat(at).isEqualTo(g.length);
        return out;
    }

    private static DatasetSketch roundTrip(DatasetSketch s) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(s);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            return (DatasetSketch) in.readObject();
        }
    }

    /** With ℓ above the rank nothing is lost: the merged sketch's BᵀB/N is D to rounding, whatever the tree. */
    @Test
    void mergedPartsGiveTheExactDWhenNothingIsShrunkAway() throws Exception {
        double[][] g = gradients(300, 1);
        double[][] exact = exactD(g);
        List<DatasetSketch> p = parts(g, 16);
        // A lopsided tree: ((0 + 1) + (2 + (3 + 4))) + 5, each node sent through Java serialization.
        DatasetSketch a = roundTrip(p.get(0));
        a.merge(roundTrip(p.get(1)));
        DatasetSketch b = roundTrip(p.get(3));
        b.merge(p.get(4));
        DatasetSketch c = p.get(2);
        c.merge(roundTrip(b));
        a.merge(c);
        a.merge(p.get(5));
        DatasetSketch merged = roundTrip(a);
        assertThat(merged.examples()).isEqualTo(300);
        INDArray rows = merged.sketch().sketch().sketchRows();
        double[][] btb = rows.transpose().mmul(rows).div(300).toDoubleMatrix();
        double scale = exact[0][0];
        for (int i = 0; i < D; i++) {
            assertThat(btb[i]).containsExactly(exact[i], within(1e-12 * scale * D));
        }
        double trace = 0;
        double normSq = 0;
        for (int j = 0; j < D; j++) {
            trace += exact[j][j];
            double m = 0;
            for (double[] row : g) {
                m += row[j] / g.length;
            }
            normSq += m * m;
        }
        assertThat(merged.trace()).isCloseTo(trace, within(1e-12 * trace));
        assertThat(merged.gradNormSq()).isCloseTo(normSq, within(1e-12 * normSq));
        assertThat(merged.estimate().delta())
                .isLessThan(1e-12 * trace); // shrinks remove only rounding-level directions
    }

    /**
     * With ℓ = 4 below the rank the parts shrink: the merged intervals still hold every exact eigenvalue, and Δ
     * obeys the bound.
     */
    @Test
    void mergedIntervalsHoldTheExactEigenvaluesWhenPartsShrink() {
        double[][] g = gradients(300, 2);
        double[] exact = eigenvaluesDescending(exactD(g));
        List<DatasetSketch> p = parts(g, 4);
        DatasetSketch merged = p.get(0);
        for (int i = 1; i < p.size(); i++) {
            merged.merge(p.get(i));
        }
        var est = merged.estimate();
        assertThat(est.delta())
                .isGreaterThan(0)
                .isLessThanOrEqualTo(merged.sketch().sketch().removedMass() / 4 / 300 * (1 + 1e-12));
        double tol = 1e-12 * exact[0];
        for (int i = 0; i < D; i++) {
            double lo = i < est.eigenvalues().length ? est.eigenvalues()[i] : 0;
            assertThat(exact[i]).as("eigenvalue " + i).isBetween(lo - tol, lo + est.delta() + tol);
        }
    }

    @Test
    void emptySketchesMergeAndMismatchesAreRefused() {
        double[][] g = gradients(10, 3);
        DatasetSketch empty = new DatasetSketch(8);
        DatasetSketch full = new DatasetSketch(8);
        full.add(Nd4j.createFromArray(g));
        double trace = full.trace();
        full.merge(new DatasetSketch(8));
        assertThat(full.examples()).isEqualTo(10);
        empty.merge(full);
        assertThat(empty.examples()).isEqualTo(10);
        assertThat(empty.trace()).isCloseTo(trace, within(1e-12 * trace));
        assertThat(empty.numParams()).isEqualTo(D);
        assertThatThrownBy(() -> full.merge(new DatasetSketch(9)))
                .hasMessage("cannot merge sketches of l = 8 and l = 9");
        DatasetSketch narrow = new DatasetSketch(8);
        narrow.add(Nd4j.zeros(DataType.DOUBLE, 2, 3));
        assertThatThrownBy(() -> full.merge(narrow)).hasMessage("cannot merge sketches of d = 12 and d = 3");
        assertThatThrownBy(() -> full.add(Nd4j.zeros(DataType.DOUBLE, 2, 3)))
                .hasMessage("rows have 3 columns, the sketch has d = 12");
        assertThatThrownBy(() -> new DatasetSketch(1)).hasMessage("ell must be >= 2, got 1");
    }
}

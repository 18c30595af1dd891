package org.sgdnoise.internal.linalg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** The Gram helper against {@code Σ_c x_ic x_jc} summed in double from the same values. */
class GramTest {

    /** Double input: BLAS against the plain sum, relative to the largest entry. */
    static final double DOUBLE_TOLERANCE = 1e-13;

    /** Float input: the product is accumulated in float, relative to the largest entry. */
    static final double FLOAT_TOLERANCE = 1e-5;

    @Test
    void ofMatchesTheDefinitionInDoubleAndFloatAndOnViews() {
        double[][] x = random(7, 30, 1, 0);
        INDArray d = Nd4j.createFromArray(x);
        assertClose(Gram.of(d), exact(x), DOUBLE_TOLERANCE);
        assertClose(Gram.of(d.castTo(DataType.FLOAT)), exact(x), FLOAT_TOLERANCE);
        INDArray view = Nd4j.createFromArray(random(7, 40, 2, 0)).get(NDArrayIndex.all(), NDArrayIndex.interval(5, 35));
        assertClose(Gram.of(view), exact(view.toDoubleMatrix()), DOUBLE_TOLERANCE);
        assertClose(Gram.of(d.dup('f')), exact(x), DOUBLE_TOLERANCE);
    }

    @Test
    void theMeanSplitKeepsTheCentredDigitsOfFloatRowsWithALargeMean() {
        double[][] x = random(9, 50, 3, 1_000);
        INDArray f = Nd4j.createFromArray(x).castTo(DataType.FLOAT);
        double[][] asFloat = f.castTo(DataType.DOUBLE).toDoubleMatrix();
        double[][] oracle = centre(exact(asFloat));
        double noise = oracle[0][0];
        double split = maxAbsDiff(centre(Gram.ofMeanSplit(f)), oracle);
        double plain = maxAbsDiff(centre(Gram.of(f)), oracle);
        assertThat(split).isLessThan(1e-4 * noise);
        assertThat(plain).isGreaterThan(10 * split);
        assertThat(f.castTo(DataType.DOUBLE).toDoubleMatrix())
                .as("input not modified")
                .isDeepEqualTo(asFloat);
    }

    @Test
    void toDoubleMatrixCopiesViewsAndColumnMajorArrays() {
        double[][] x = random(4, 6, 4, 0);
        INDArray m = Nd4j.createFromArray(x);
        assertThat(Gram.toDoubleMatrix(m)).isDeepEqualTo(x);
        assertThat(Gram.toDoubleMatrix(m.dup('f'))).isDeepEqualTo(x);
        assertThat(Gram.toDoubleMatrix(m.get(NDArrayIndex.interval(1, 3), NDArrayIndex.all())))
                .isDeepEqualTo(new double[][] {x[1], x[2]});
    }

    private static double[][] random(int k, int n, long seed, double mean) {
        Random r = new Random(seed);
        double[][] x = new double[k][n];
        for (double[] row : x) {
            for (int j = 0; j < n; j++) {
                row[j] = mean + r.nextGaussian();
            }
        }
        return x;
    }

    private static double[][] exact(double[][] x) {
        double[][] g = new double[x.length][x.length];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x.length; j++) {
                for (int c = 0; c < x[i].length; c++) {
                    g[i][j] += x[i][c] * x[j][c];
                }
            }
        }
        return g;
    }

    /** {@code J G J}: the Gram matrix of the centred rows. */
    private static double[][] centre(double[][] g) {
        int k = g.length;
        double[] row = new double[k];
        double all = 0;
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                row[i] += g[i][j] / k;
            }
            all += row[i] / k;
        }
        double[][] out = new double[k][k];
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                out[i][j] = g[i][j] - row[i] - row[j] + all;
            }
        }
        return out;
    }

    private static void assertClose(double[][] actual, double[][] expected, double relative) {
        double scale = 0;
        for (double[] r : expected) {
            for (double v : r) {
                scale = Math.max(scale, Math.abs(v));
            }
        }
        assertThat(maxAbsDiff(actual, expected)).isCloseTo(0, within(relative * scale));
    }

    private static double maxAbsDiff(double[][] a, double[][] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return m;
    }
}

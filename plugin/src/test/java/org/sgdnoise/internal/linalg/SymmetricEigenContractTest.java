package org.sgdnoise.internal.linalg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.internal.linalg.SymmetricEigen.Backend;

/**
 * One contract for both backends of {@link SymmetricEigen}, checked against the definition on seeded
 * matrices: {@code A v = λ v}, orthonormal eigenvectors, eigenvalues descending, {@code Σλ = tr A}, and the
 * known spectrum where the matrix is built from one.
 */
class SymmetricEigenContractTest {

    /** Residual {@code max_i |(A v − λ v)_i|} allowed, relative to {@code ‖A‖_F}. */
    static final double RESIDUAL_TOLERANCE = 1e-12;

    /** Largest entry of {@code VᵀV − I} allowed (scaled by n for the rounding of n-term dot products). */
    static final double ORTHONORMALITY_TOLERANCE = 1e-14;

    /** {@code |Σλ − tr A|} allowed, relative to {@code ‖A‖_F·√n}. */
    static final double TRACE_TOLERANCE = 1e-13;

    /** Eigenvalues against a known spectrum, relative to {@code ‖A‖_F}. */
    static final double KNOWN_SPECTRUM_TOLERANCE = 1e-12;

    /** A named test matrix and, where it was built from one, its spectrum in descending order. */
    record Case(String name, double[][] a, double[] spectrum) {
        @Override
        public String toString() {
            return name + " " + a.length + "x" + a.length;
        }
    }

    static Stream<Arguments> cases() {
        List<Case> cases = new ArrayList<>();
        cases.add(new Case("1x1", new double[][] {{3.5}}, new double[] {3.5}));
        cases.add(new Case("1x1 zero", new double[][] {{0}}, new double[] {0}));
        double[] diag = {0.3, -1.25, 4, 0, 2.5, 2.5, -7};
        cases.add(new Case("diagonal", diagonal(diag), sortedDescending(diag)));
        cases.add(new Case("random", randomSymmetric(12, 1), null));
        cases.add(new Case("random", randomSymmetric(40, 2), null));
        cases.add(new Case("rank-deficient (rank 3)", gramOfRandomRows(10, 3, 3), null));
        cases.add(new Case("rank-deficient (rank 0)", new double[5][5], new double[5]));
        double[] repeated = {5, 5, 5, 1, 1, -2, 0, 0};
        cases.add(new Case("repeated eigenvalues", withSpectrum(repeated, 4), sortedDescending(repeated)));
        double[] almost = {1 + 1e-13, 1, 1 - 1e-13, 1e-300, 0};
        cases.add(new Case("nearly repeated", withSpectrum(almost, 5), almost));
        cases.add(new Case("above the threshold", randomSymmetric(SymmetricEigen.LAPACK_ABOVE + 6, 6), null));
        List<Arguments> out = new ArrayList<>();
        for (Backend b : Backend.values()) {
            for (Case c : cases) {
                out.add(Arguments.of(b, c));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void satisfiesTheDefinition(Backend backend, Case c) {
        double[][] a = c.a();
        int n = a.length;
        double[][] copy = deepCopy(a);
        SymmetricEigen e = SymmetricEigen.of(a, n, 1.0, true, backend);
        assertThat(e.backend()).isEqualTo(backend);
        assertThat(a).as("input not modified").isDeepEqualTo(copy);
        double[] l = e.values();
        double[][] v = e.vectors();
        assertThat(l).hasSize(n);
        assertThat(v.length).isEqualTo(n);
        double norm = frobenius(a);

        for (int j = 0; j + 1 < n; j++) {
            assertThat(l[j]).as("descending at %d", j).isGreaterThanOrEqualTo(l[j + 1]);
        }
        double residual = 0;
        for (int j = 0; j < n; j++) {
            double[] vj = e.vector(j);
            for (int i = 0; i < n; i++) {
                double av = 0;
                double[] row = a[i];
                for (int k = 0; k < n; k++) {
                    av += row[k] * vj[k];
                }
                residual = Math.max(residual, Math.abs(av - l[j] * vj[i]));
            }
        }
        assertThat(residual).as("max |A v - lambda v|").isLessThanOrEqualTo(RESIDUAL_TOLERANCE * Math.max(norm, 1));
        double[][] vt = transpose(v);
        double worst = 0;
        for (int p = 0; p < n; p++) {
            for (int q = p; q < n; q++) {
                double dot = 0;
                for (int i = 0; i < n; i++) {
                    dot += vt[p][i] * vt[q][i];
                }
                worst = Math.max(worst, Math.abs(dot - (p == q ? 1 : 0)));
            }
        }
        assertThat(worst).as("max |VtV - I|").isLessThanOrEqualTo(ORTHONORMALITY_TOLERANCE * Math.max(n, 10));
        double trace = 0;
        for (int i = 0; i < n; i++) {
            trace += a[i][i];
        }
        double traceTolerance = TRACE_TOLERANCE * Math.max(norm, 1) * Math.sqrt(n);
        assertThat(Arrays.stream(l).sum()).as("trace").isCloseTo(trace, within(traceTolerance));
        if (c.spectrum() != null) {
            for (int j = 0; j < n; j++) {
                assertThat(l[j])
                        .as("lambda_%d", j)
                        .isCloseTo(c.spectrum()[j], within(KNOWN_SPECTRUM_TOLERANCE * Math.max(norm, 1)));
            }
        }
        // Without vectors, and scaled: the same eigenvalues.
        SymmetricEigen valuesOnly = SymmetricEigen.of(a, n, 0.5, false, backend);
        assertThat(valuesOnly.vectors()).isNull();
        for (int j = 0; j < n; j++) {
            assertThat(valuesOnly.values()[j]).isCloseTo(0.5 * l[j], within(RESIDUAL_TOLERANCE * Math.max(norm, 1)));
        }
    }

    @Test
    void theSizeChoosesTheBackend() {
        SymmetricEigen atThreshold = SymmetricEigen.of(randomSymmetric(SymmetricEigen.LAPACK_ABOVE, 7));
        assertThat(atThreshold.backend()).isEqualTo(Backend.EJML);
        double[][] big = randomSymmetric(SymmetricEigen.LAPACK_ABOVE + 1, 8);
        SymmetricEigen e = SymmetricEigen.of(big, big.length, 1.0, false);
        assertThat(e.backend()).isEqualTo(Backend.LAPACK);
        assertThat(SymmetricEigen.eigenvalues(big, 1.0)).containsExactly(e.values());
    }

    @Test
    void decomposesTheLeadingBlockOfALargerArray() {
        double[][] a = randomSymmetric(9, 9);
        double[][] block = new double[6][];
        for (int i = 0; i < 6; i++) {
            block[i] = Arrays.copyOf(a[i], 6);
        }
        for (Backend b : Backend.values()) {
            assertThat(SymmetricEigen.of(a, 6, 1.0, true, b).values())
                    .containsExactly(SymmetricEigen.of(block, 6, 1.0, true, b).values());
        }
        assertThat(SymmetricEigen.of(a, 0, 1.0, true).values()).isEmpty();
    }

    @Test
    void symmetrisesItsInput() {
        double[][] a = {{2, 1}, {3, 2}}; // (A + Aᵀ)/2 = [[2, 2], [2, 2]]: eigenvalues 4 and 0
        for (Backend b : Backend.values()) {
            assertThat(SymmetricEigen.of(a, 2, 1.0, false, b).values())
                    .containsExactly(new double[] {4, 0}, within(1e-15));
        }
    }

    @Test
    void anIndArrayGivesTheSameEigenvaluesOnBothSidesOfTheThreshold() {
        for (int n : new int[] {5, SymmetricEigen.LAPACK_ABOVE + 3}) {
            double[][] a = randomSymmetric(n, n);
            double[] expected = SymmetricEigen.eigenvalues(a, 1.0);
            double[] actual = SymmetricEigen.eigenvaluesOverwriting(
                    Nd4j.createFromArray(a).castTo(DataType.DOUBLE));
            double tol = RESIDUAL_TOLERANCE * frobenius(a);
            for (int j = 0; j < n; j++) {
                assertThat(actual[j]).as("n %d, lambda_%d", n, j).isCloseTo(expected[j], within(tol));
            }
        }
        assertThatThrownBy(() -> SymmetricEigen.eigenvaluesOverwriting(Nd4j.create(DataType.DOUBLE, 2, 3)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[2, 3]");
    }

    @Test
    void lapackReportsNonFiniteInput() {
        double[][] a = {{1, Double.NaN}, {Double.NaN, 1}};
        assertThatThrownBy(() -> SymmetricEigen.of(a, 2, 1.0, false, Backend.LAPACK))
                .isInstanceOf(IllegalStateException.class);
    }

    static double[][] randomSymmetric(int n, long seed) {
        Random r = new Random(seed);
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                a[i][j] = r.nextGaussian();
                a[j][i] = a[i][j];
            }
        }
        return a;
    }

    /** {@code X Xᵀ} for an n×r Gaussian X: rank r. */
    static double[][] gramOfRandomRows(int n, int r, long seed) {
        Random rnd = new Random(seed);
        double[][] x = new double[n][r];
        for (double[] row : x) {
            for (int k = 0; k < r; k++) {
                row[k] = rnd.nextGaussian();
            }
        }
        double[][] g = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                for (int k = 0; k < r; k++) {
                    g[i][j] += x[i][k] * x[j][k];
                }
            }
        }
        return g;
    }

    /** {@code Q diag(spectrum) Qᵀ} with Q a product of two seeded Householder reflections. */
    static double[][] withSpectrum(double[] spectrum, long seed) {
        int n = spectrum.length;
        double[][] q = identity(n);
        Random r = new Random(seed);
        for (int h = 0; h < 2; h++) {
            double[] u = new double[n];
            double uu = 0;
            for (int i = 0; i < n; i++) {
                u[i] = r.nextGaussian();
                uu += u[i] * u[i];
            }
            double[][] next = new double[n][n];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int k = 0; k < n; k++) {
                        s += q[i][k] * ((k == j ? 1 : 0) - 2 * u[k] * u[j] / uu);
                    }
                    next[i][j] = s;
                }
            }
            q = next;
        }
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                for (int k = 0; k < n; k++) {
                    a[i][j] += q[i][k] * spectrum[k] * q[j][k];
                }
            }
        }
        return a;
    }

    static double[][] diagonal(double[] d) {
        double[][] a = new double[d.length][d.length];
        for (int i = 0; i < d.length; i++) {
            a[i][i] = d[i];
        }
        return a;
    }

    static double[][] identity(int n) {
        return diagonal(Stream.generate(() -> 1.0)
                .limit(n)
                .mapToDouble(Double::doubleValue)
                .toArray());
    }

    static double[] sortedDescending(double[] x) {
        double[] out = x.clone();
        Arrays.sort(out);
        for (int i = 0; i < out.length / 2; i++) {
            double t = out[i];
            out[i] = out[out.length - 1 - i];
            out[out.length - 1 - i] = t;
        }
        return out;
    }

    static double[][] transpose(double[][] m) {
        double[][] t = new double[m.length][m.length];
        for (int i = 0; i < m.length; i++) {
            for (int j = 0; j < m.length; j++) {
                t[j][i] = m[i][j];
            }
        }
        return t;
    }

    static double[][] deepCopy(double[][] m) {
        return Arrays.stream(m).map(double[]::clone).toArray(double[][]::new);
    }

    static double frobenius(double[][] m) {
        double s = 0;
        for (double[] row : m) {
            for (double x : row) {
                s += x * x;
            }
        }
        return Math.sqrt(s);
    }
}

package org.sgdnoise.curvature;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LanczosTest {

    /** Relative eigenvalue error allowed against the known spectrum. */
    private static final double VALUE_TOL = 1e-10;

    /** 1 − |⟨u, u_true⟩| allowed for eigenvectors of well-separated eigenvalues. */
    private static final double VECTOR_TOL = 1e-8;

    /** A spectrum with separated ends on both sides of zero and a bulk in between. */
    private static double[] spectrum(int d, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        double[] values = new double[d];
        for (int i = 0; i < d; i++) {
            values[i] = -0.5 + 1.5 * rng.nextDouble();
        }
        values[0] = 20;
        values[1] = 11;
        values[2] = 7;
        values[3] = -6;
        values[4] = -3;
        return values;
    }

    private static double[] sortedDescending(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        for (int i = 0; i < s.length / 2; i++) {
            double t = s[i];
            s[i] = s[s.length - 1 - i];
            s[s.length - 1 - i] = t;
        }
        return s;
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void largestEigenpairsOfADenseMatrixWithKnownSpectrum(long seed) {
        double[] values = spectrum(80, seed);
        double[][] a = Matrices.withSpectrum(values, seed + 100);
        LanczosResult r = Lanczos.largest(SymmetricOperator.ofMatrix(a), 3, seed);

        assertThat(r.converged()).isTrue();
        assertThat(r.end()).isEqualTo(Lanczos.End.LARGEST);
        assertThat(r.hessianVectorProducts()).isEqualTo(r.steps()).isLessThanOrEqualTo(80);
        assertThat(r.seed()).isEqualTo(seed);
        double[] expected = {20, 11, 7};
        for (int i = 0; i < 3; i++) {
            assertThat(r.values()[i]).isCloseTo(expected[i], within(VALUE_TOL * 20));
            // The eigenvector satisfies Au = λu to the reported residual.
            double[] u = r.vectors()[i];
            double[] au = Matrices.multiply(a, u);
            double res = 0;
            for (int j = 0; j < u.length; j++) {
                res += Math.pow(au[j] - r.values()[i] * u[j], 2);
            }
            assertThat(Math.sqrt(res)).isLessThan(1e-6).isCloseTo(r.residuals()[i], within(1e-9));
            assertThat(Vectors.norm(u)).isCloseTo(1.0, within(1e-12));
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {4, 5})
    void smallestEigenvaluesAreTheMostNegativeAscending(long seed) {
        double[] values = spectrum(60, seed);
        LanczosResult r = Lanczos.smallest(SymmetricOperator.ofMatrix(Matrices.withSpectrum(values, seed)), 2, seed);

        assertThat(r.converged()).isTrue();
        assertThat(r.values()[0]).isCloseTo(-6, within(VALUE_TOL * 6));
        assertThat(r.values()[1]).isCloseTo(-3, within(VALUE_TOL * 6));
    }

    @Test
    void diagonalOperatorGivesItsEigenvectorsAsCoordinateVectors() {
        double[] values = spectrum(50, 9);
        LanczosResult r = Lanczos.largest(SymmetricOperator.ofMatrix(Matrices.diagonal(values)), 2, 7);

        assertThat(r.values()[0]).isCloseTo(20, within(VALUE_TOL * 20));
        assertThat(r.values()[1]).isCloseTo(11, within(VALUE_TOL * 20));
        assertThat(1 - Math.abs(r.vectors()[0][0])).isLessThan(VECTOR_TOL);
        assertThat(1 - Math.abs(r.vectors()[1][1])).isLessThan(VECTOR_TOL);
    }

    @Test
    void repeatedEigenvaluesAreFoundWithTheirMultiplicityAfterARestart() {
        // Three distinct eigenvalues: the Krylov space of any start has dimension 3, so the second copy of 5
        // is found only after restarting from a vector orthogonal to it.
        double[] values = new double[30];
        Arrays.fill(values, 1.0);
        values[0] = 5;
        values[1] = 5;
        values[2] = -2;
        LanczosResult r = Lanczos.largest(SymmetricOperator.ofMatrix(Matrices.withSpectrum(values, 3)), 3, 11);

        assertThat(r.values()).containsExactly(new double[] {5, 5, 1}, within(1e-10));
        assertThat(Math.abs(Vectors.dot(r.vectors()[0], r.vectors()[1]))).isLessThan(1e-10);
    }

    @Test
    void theWholeSpaceGivesEveryEigenvalueExactly() {
        double[] values = spectrum(12, 13);
        LanczosResult r = Lanczos.eigenpairs(
                SymmetricOperator.ofMatrix(Matrices.withSpectrum(values, 5)), 12, Lanczos.End.LARGEST, 12, 1e-12, 3);

        assertThat(r.values()).containsExactly(sortedDescending(values), within(1e-12 * 20));
        assertThat(r.converged()).isTrue();
    }

    @Test
    void theSameSeedGivesTheSameResult() {
        SymmetricOperator op = SymmetricOperator.ofMatrix(Matrices.withSpectrum(spectrum(40, 1), 2));
        assertThat(Lanczos.largest(op, 2, 5).values())
                .containsExactly(Lanczos.largest(op, 2, 5).values());
    }

    @Test
    void tooFewStepsReportNotConverged() {
        SymmetricOperator op = SymmetricOperator.ofMatrix(Matrices.withSpectrum(spectrum(80, 1), 2));
        LanczosResult r = Lanczos.eigenpairs(op, 3, Lanczos.End.LARGEST, 4, 1e-12, 1);
        assertThat(r.converged()).isFalse();
        assertThat(r.steps()).isEqualTo(4);
    }

    @Test
    void invalidArgumentsAreRejectedWithTheirValues() {
        SymmetricOperator op = SymmetricOperator.ofMatrix(Matrices.diagonal(new double[] {1, 2, 3}));
        assertThatThrownBy(() -> Lanczos.largest(op, 4, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("r must be in [1, 3], got 4");
        assertThatThrownBy(() -> Lanczos.eigenpairs(op, 2, Lanczos.End.LARGEST, 1, 1e-8, 1))
                .hasMessage("maxSteps must be >= r = 2, got 1");
        assertThatThrownBy(() -> Lanczos.eigenpairs(op, 1, Lanczos.End.LARGEST, 3, 0, 1))
                .hasMessage("tolerance must be in (0, 1), got 0.0");
        assertThatThrownBy(() -> op.apply(new double[2])).hasMessage("v must have length 3, got 2");
        assertThatThrownBy(() -> SymmetricOperator.ofMatrix(new double[][] {{1, 2}, {0, 1}}))
                .hasMessageStartingWith("a must be symmetric");
    }
}

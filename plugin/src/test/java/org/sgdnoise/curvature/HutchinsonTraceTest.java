package org.sgdnoise.curvature;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HutchinsonTraceTest {

    /** Standard errors allowed between the estimate and the exact trace (a 4σ band fails 6e-5 of runs). */
    private static final double SIGMAS = 4;

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4})
    void estimateIsWithinItsStandardErrorOfTheTraceAndTheErrorMatchesTheory(long seed) {
        double[] values = new double[40];
        for (int i = 0; i < values.length; i++) {
            values[i] = Math.sin(i + seed) * 3;
        }
        double[][] a = Matrices.withSpectrum(values, seed);
        int probes = 400;
        TraceEstimate t = HutchinsonTrace.estimate(SymmetricOperator.ofMatrix(a), probes, seed);

        double exact = Matrices.trace(a);
        assertThat(Math.abs(t.trace() - exact)).isLessThan(SIGMAS * t.standardError());
        // Var(zᵀAz) = 2 Σ_{i≠j} a_ij² for Rademacher z: the reported error matches it to sampling accuracy.
        double theory = Math.sqrt(2 * Matrices.offDiagonalSquares(a) / probes);
        assertThat(t.standardError()).isCloseTo(theory, within(0.25 * theory));
        assertThat(t.hessianVectorProducts()).isEqualTo(probes);
        assertThat(t.seed()).isEqualTo(seed);
    }

    @Test
    void diagonalOperatorIsExactWithZeroError() {
        TraceEstimate t = HutchinsonTrace.estimate(
                SymmetricOperator.ofMatrix(Matrices.diagonal(new double[] {1, -2, 3.5, 7})), 3, 9);
        assertThat(t.trace()).isCloseTo(9.5, within(1e-14));
        assertThat(t.standardError()).isZero();
    }

    @Test
    void oneProbeIsRejected() {
        SymmetricOperator op = SymmetricOperator.ofMatrix(Matrices.diagonal(new double[] {1}));
        assertThatThrownBy(() -> HutchinsonTrace.estimate(op, 1, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("probes must be >= 2, got 1");
    }
}

package org.sgdnoise.curvature;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class StochasticLanczosQuadratureTest {

    private static final double SIGMAS = 4;

    private static double[] values(int d) {
        double[] v = new double[d];
        for (int i = 0; i < d; i++) {
            v[i] = -1 + 0.1 * i + (i % 7 == 0 ? 4 : 0);
        }
        return v;
    }

    @Test
    void diagonalOperatorGivesExactMomentsAndADensityOfMassOne() {
        // Rademacher quadratic forms of a diagonal matrix are exact, so every moment up to 2m − 1 is exact.
        double[] values = values(50);
        double[][] a = Matrices.diagonal(values);
        SpectralDensity s = StochasticLanczosQuadrature.estimate(SymmetricOperator.ofMatrix(a), 3, 20, 5);

        double[][] a2 = Matrices.multiply(a, a);
        assertThat(s.moment(0)).isCloseTo(1.0, within(1e-12));
        assertThat(s.moment(1)).isCloseTo(Matrices.trace(a) / 50, within(1e-12));
        assertThat(s.moment(2)).isCloseTo(Matrices.trace(a2) / 50, within(1e-12));
        assertThat(s.hessianVectorProducts()).isEqualTo(60);
        assertThat(s.seed()).isEqualTo(5);
        for (double[] w : s.weights()) {
            assertThat(Arrays.stream(w).sum()).isCloseTo(1.0, within(1e-12));
        }

        double sigma = 0.05;
        int n = 4001;
        double lo = -3;
        double hi = 10; // the nodes lie in [-1, 7.9]
        double[] grid = new double[n];
        for (int i = 0; i < n; i++) {
            grid[i] = lo + (hi - lo) * i / (n - 1);
        }
        double[] phi = s.density(grid, sigma);
        double mass = 0;
        double mean = 0;
        for (int i = 1; i < n; i++) { // trapezoid rule
            double h = grid[i] - grid[i - 1];
            mass += 0.5 * h * (phi[i] + phi[i - 1]);
            mean += 0.5 * h * (phi[i] * grid[i] + phi[i - 1] * grid[i - 1]);
        }
        assertThat(mass).isCloseTo(1.0, within(1e-9));
        assertThat(mean).isCloseTo(Matrices.trace(a) / 50, within(1e-9));
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void momentsOfADenseMatrixMatchTracesWithinTheirStandardError(long seed) {
        int d = 60;
        double[][] a = Matrices.withSpectrum(values(d), seed);
        double[][] a2 = Matrices.multiply(a, a);
        int probes = 40;
        SpectralDensity s = StochasticLanczosQuadrature.estimate(SymmetricOperator.ofMatrix(a), probes, 15, seed);

        // Each probe's moment p is vᵀA^p v with v = z/√d (exact for p ≤ 2m − 1): variance 2 Σ_{i≠j}(A^p)_ij² / d².
        double se1 = Math.sqrt(2 * Matrices.offDiagonalSquares(a) / probes) / d;
        double se2 = Math.sqrt(2 * Matrices.offDiagonalSquares(a2) / probes) / d;
        assertThat(s.moment(1)).isCloseTo(Matrices.trace(a) / d, within(SIGMAS * se1));
        assertThat(s.moment(2)).isCloseTo(Matrices.trace(a2) / d, within(SIGMAS * se2));
        assertThat(s.moment(0)).isCloseTo(1.0, within(1e-12));
        // Nodes lie inside the spectrum (Ritz values interlace).
        for (double[] nodes : s.nodes()) {
            assertThat(nodes[0])
                    .isLessThanOrEqualTo(Arrays.stream(values(d)).max().getAsDouble() + 1e-10);
            assertThat(nodes[nodes.length - 1])
                    .isGreaterThanOrEqualTo(Arrays.stream(values(d)).min().getAsDouble() - 1e-10);
        }
    }

    @Test
    void invalidArgumentsAreRejected() {
        SymmetricOperator op = SymmetricOperator.ofMatrix(Matrices.diagonal(new double[] {1, 2}));
        assertThatThrownBy(() -> StochasticLanczosQuadrature.estimate(op, 0, 5, 1))
                .hasMessage("probes must be >= 1, got 0");
        assertThatThrownBy(() -> StochasticLanczosQuadrature.estimate(op, 1, 0, 1))
                .hasMessage("steps must be >= 1, got 0");
        SpectralDensity s = StochasticLanczosQuadrature.estimate(op, 1, 2, 1);
        assertThatThrownBy(() -> s.density(new double[] {0}, 0)).hasMessage("sigma must be finite and > 0, got 0.0");
    }
}

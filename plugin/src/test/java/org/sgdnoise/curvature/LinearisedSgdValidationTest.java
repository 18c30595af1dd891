package org.sgdnoise.curvature;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** {@link LinearisedSgd} refuses bad input with a message naming the argument, the constraint and the value. */
class LinearisedSgdValidationTest {

    @Test
    void rejectsBadInput() {
        double[][] h = {{1, 0.2}, {0.2, 0.5}};
        double[][] d = {{1, 0}, {0, 1}};
        assertThatThrownBy(() -> LinearisedSgd.of(h, d, 2.5, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("unstable: learningRate*(h + weightDecay) must be in (0, 2.0)")
                .hasMessageContaining("lower the learning rate");
        assertThatThrownBy(() -> LinearisedSgd.of(new double[][] {{1, 0}, {0, 0}}, d, 0.1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("flat or negatively curved");
        assertThatThrownBy(() -> LinearisedSgd.of(new double[][] {{1, 0.2}, {0.3, 0.5}}, d, 0.1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("hessian must be symmetric, got hessian[0][1] = 0.2 but hessian[1][0] = 0.3");
        assertThatThrownBy(() -> LinearisedSgd.of(h, new double[][] {{1, 0}, {0, -0.5}}, 0.1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("diffusion must be positive semi-definite, got eigenvalue -0.5");
        assertThatThrownBy(() -> LinearisedSgd.of(h, d, 0.1, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("batchSize must be >= 1, got 0");
        assertThatThrownBy(() -> LinearisedSgd.of(h, d, 0.1, 1).withMomentum(1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("momentum must be in [0, 1), got 1.0");
        assertThatThrownBy(() -> LinearisedSgd.of(h, d, 0.1, 1).withMomentum(-0.1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("momentum must be in [0, 1), got -0.1");
        assertThatThrownBy(() -> LinearisedSgd.of(h, d, -0.1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("learningRate must be finite and > 0, got -0.1");
        assertThatThrownBy(() -> LinearisedSgd.of(h, d, 0.1, 1).withWeightDecay(-1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("weightDecay must be finite and >= 0, got -1.0");
        assertThatThrownBy(() -> LinearisedSgd.of(h, d, 0.1, 8).withoutReplacement(4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("datasetSize must be 0 (with replacement) or >= max(batchSize, 2) = 8, got 4");
        assertThatThrownBy(() -> LinearisedSgd.of(h, new double[][] {{1}}, 0.1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("diffusion must have the shape of hessian, 2x2, got 1x1");
        assertThatThrownBy(() -> LinearisedSgd.of(new double[][] {{1, 0}}, d, 0.1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("hessian must be square");
        assertThatThrownBy(() -> LinearisedSgd.of(h, d, 0.1, 1).observedEvery(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("k must be >= 1, got 0");
        assertThatThrownBy(
                        () -> LinearisedSgd.of(h, d, 0.1, 1).withMomentum(0.5).observedEvery(2))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("observedEvery needs plain SGD (momentum 0), got momentum 0.5");
        CirculationPrediction p = LinearisedSgd.of(h, d, 0.1, 1).predict();
        assertThatThrownBy(() -> p.plane(new double[] {1, 0}, new double[] {1, 0}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("plane vectors must be orthonormal");
        assertThatThrownBy(() -> p.plane(new double[] {1, 0, 0}, new double[] {0, 1}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("plane vectors must have r = 2 components, got 3 and 2");
        // Momentum widens the stable range to η h < 2(1 + μ).
        assertThat(new LinearisedSgd(h, d, 2.5, 1, 0, 0.5, LinearisedSgd.WITH_REPLACEMENT)
                        .predict()
                        .spectralRadius())
                .isLessThan(1);
    }
}

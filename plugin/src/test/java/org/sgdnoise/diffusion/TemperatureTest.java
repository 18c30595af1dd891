package org.sgdnoise.diffusion;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.schedule.MapSchedule;
import org.nd4j.linalg.schedule.ScheduleType;

class TemperatureTest {

    @Test
    void withReplacementRunsHotterThanWithout() {
        // theory.md §1: the (1 − b/N) factor belongs to sampling WITHOUT replacement.
        assertThat(Temperature.of(0.1, 128, 60000, SamplingScheme.WITH_REPLACEMENT))
                .isEqualTo(0.1 / 256);
        assertThat(Temperature.of(0.1, 128, 60000, SamplingScheme.WITHOUT_REPLACEMENT))
                .isCloseTo(0.1 / 256 * (1 - 128.0 / 60000), within(1e-18));
        // Full batch without replacement: no noise at all.
        assertThat(Temperature.of(0.1, 1000, 1000, SamplingScheme.WITHOUT_REPLACEMENT))
                .isEqualTo(0.0);
    }

    /**
     * The factor on D (1/N definition) is (N − b)/(N − 1) without replacement, so the temperature on D is N/(N − 1)
     * times the paper's β⁻¹ = η/(2b)(1 − b/N), which multiplies D′ = N/(N − 1)·D (theory.md §1).
     */
    @Test
    void theFactorOnDIsNMinusBOverNMinusOne() {
        assertThat(Temperature.finitePopulationFactor(128, 60_000, SamplingScheme.WITHOUT_REPLACEMENT))
                .isEqualTo(59_872.0 / 59_999);
        assertThat(Temperature.finitePopulationFactor(128, 60_000, SamplingScheme.WITH_REPLACEMENT))
                .isEqualTo(1.0);
        assertThat(Temperature.onD(0.1, 128, 60_000, SamplingScheme.WITHOUT_REPLACEMENT))
                .isCloseTo(0.1 / 256 * 59_872 / 59_999, within(1e-18));
        assertThat(Temperature.onD(0.1, 256, 256, SamplingScheme.WITHOUT_REPLACEMENT))
                .isZero(); // the full batch
        double ratio = Temperature.onD(0.1, 16, 64, SamplingScheme.WITHOUT_REPLACEMENT)
                / Temperature.of(0.1, 16, 64, SamplingScheme.WITHOUT_REPLACEMENT);
        assertThat(ratio).isCloseTo(64.0 / 63, within(1e-15));
        assertThat(Temperature.finitePopulationFactor(16, 8, SamplingScheme.WITHOUT_REPLACEMENT))
                .isNaN();
        assertThat(Temperature.finitePopulationFactor(16, 64, SamplingScheme.UNKNOWN))
                .isNaN();
    }

    @Test
    void unknownSchemeOrSizeIsNeverGuessed() {
        assertThat(Temperature.of(0.1, 32, 1000, SamplingScheme.UNKNOWN)).isNaN();
        assertThat(Temperature.of(0.1, 32, -1, SamplingScheme.WITHOUT_REPLACEMENT))
                .isNaN();
        assertThat(Temperature.withMomentum(0.01, Double.NaN)).isNaN();
        assertThat(Temperature.withMomentum(0.01, 0.9)).isCloseTo(0.1, within(1e-15));
    }

    @Test
    void updaterSettingsFollowSchedules() {
        MapSchedule lr = new MapSchedule(ScheduleType.ITERATION, Map.of(0, 0.1, 100, 0.01));
        UpdaterSettings sgd = UpdaterSettings.of(new Sgd(lr), 150, 0);
        assertThat(sgd.learningRate()).isEqualTo(0.01);
        assertThat(sgd.momentum()).isEqualTo(0.0);
        assertThat(sgd.sgdLike()).isTrue();
        MapSchedule mu = new MapSchedule(ScheduleType.ITERATION, Map.of(0, 0.5, 10, 0.9));
        UpdaterSettings nest = UpdaterSettings.of(new Nesterovs(lr, mu), 20, 0);
        assertThat(nest.learningRate()).isEqualTo(0.1);
        assertThat(nest.momentum()).isEqualTo(0.9);
        UpdaterSettings adam = UpdaterSettings.of(new Adam(1e-3), 0, 0);
        assertThat(adam.sgdLike()).isFalse();
        assertThat(adam.momentum()).isNaN();
        assertThat(adam.learningRate()).isEqualTo(1e-3);
    }
}

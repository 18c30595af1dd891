package org.sgdnoise.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.sgdnoise.internal.stats.StudentT;

class PairedComparisonTest {

    @Test
    void studentQuantilesMatchTables() {
        assertThat(StudentT.quantile(0.05, 7)).isCloseTo(2.364624, within(1e-6));
        assertThat(StudentT.quantile(0.05, 30)).isCloseTo(2.042272, within(1e-6));
        assertThat(StudentT.quantile(0.01, 1)).isCloseTo(63.65674, within(1e-4));
        assertThat(StudentT.quantile(0.4, 7)).isCloseTo(0.896030, within(1e-6)); // one-sided 0.8
    }

    /** Eight pairs by hand: differences 1..8 − 3 = −2..5, mean 1.5, sd √6, t = 1.5/(√6/√8). */
    @Test
    void knownPairsGiveTheHandComputedInterval() {
        double[] a = {1, 2, 3, 4, 5, 6, 7, 8};
        double[] b = {3, 3, 3, 3, 3, 3, 3, 3};
        PairedComparison p = PairedComparison.of(a, b);
        double se = Math.sqrt(6.0) / Math.sqrt(8);
        assertThat(p.n()).isEqualTo(8);
        assertThat(p.mean()).isCloseTo(1.5, within(1e-15));
        assertThat(p.sd()).isCloseTo(Math.sqrt(6.0), within(1e-14));
        assertThat(p.low()).isCloseTo(1.5 - 2.364624 * se, within(1e-5));
        assertThat(p.high()).isCloseTo(1.5 + 2.364624 * se, within(1e-5));
        assertThat(p.positive()).isEqualTo(5);
        assertThat(p.negative()).isEqualTo(2); // one tie (3 − 3) left out of the sign test
        assertThat(p.signP()).isCloseTo(2 * (1 + 7 + 21) / 128.0, within(1e-15));
        assertThat(p.tP()).isCloseTo(StudentT.twoSided(1.5 / se, 7), within(1e-15));
        assertThat(p.detectable()).isCloseTo((2.364624 + 0.896030) * se, within(1e-5));
    }

    @Test
    void signTestIsExact() {
        assertThat(PairedComparison.signTest(8, 0)).isCloseTo(2 / 256.0, within(1e-15));
        assertThat(PairedComparison.signTest(7, 1)).isCloseTo(2 * 9 / 256.0, within(1e-15));
        assertThat(PairedComparison.signTest(4, 4)).isEqualTo(1.0);
        assertThat(PairedComparison.signTest(0, 0)).isEqualTo(1.0);
    }

    @Test
    void nonFinitePairsAreDroppedAndCounted() {
        PairedComparison p = PairedComparison.of(new double[] {1, Double.NaN, 3}, new double[] {0, 0, 1});
        assertThat(p.n()).isEqualTo(2);
        assertThat(p.dropped()).isEqualTo(1);
        assertThat(p.mean()).isCloseTo(1.5, within(1e-15));
    }

    /**
     * Calibration over 4,000 simulated experiments of 8 normal pairs: the interval misses a zero mean in about 5%,
     * and a true difference equal to the stated detectable one (at the population sd) is found in about 80%.
     */
    @Test
    void intervalsCoverAndThePowerIsAsStated() {
        SplittableRandom r = new SplittableRandom(1);
        int trials = 4000;
        int n = 8;
        int falseAlarms = 0;
        int detected = 0;
        double shift = (StudentT.quantile(0.05, n - 1) + StudentT.quantile(0.4, n - 1)) / Math.sqrt(n);
        for (int t = 0; t < trials; t++) {
            double[] a = new double[n];
            double[] a2 = new double[n];
            double[] b = new double[n];
            for (int i = 0; i < n; i++) {
                double z = gaussian(r);
                a[i] = z;
                a2[i] = z + shift;
            }
            falseAlarms += PairedComparison.of(a, b).excludesZero() ? 1 : 0;
            detected += PairedComparison.of(a2, b).excludesZero() ? 1 : 0;
        }
        assertThat(falseAlarms / (double) trials).isBetween(0.04, 0.06);
        assertThat(detected / (double) trials).isBetween(0.72, 0.86);
    }

    private static double gaussian(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }
}

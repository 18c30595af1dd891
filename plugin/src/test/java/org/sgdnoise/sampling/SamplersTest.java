package org.sgdnoise.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.diffusion.SamplingScheme;

class SamplersTest {

    /** N examples whose single feature is the example's index, so batches reveal which were drawn. */
    private static DataSet indexed(int n) {
        INDArray x = Nd4j.create(DataType.DOUBLE, n, 1);
        for (int i = 0; i < n; i++) {
            x.putScalar(i, 0, i);
        }
        return new DataSet(x, Nd4j.zeros(DataType.DOUBLE, n, 2));
    }

    private static List<Integer> drawEpoch(MinibatchSampler s) {
        List<Integer> seen = new ArrayList<>();
        while (s.hasNext()) {
            DataSet b = s.next();
            for (double v : b.getFeatures().toDoubleVector()) {
                seen.add((int) v);
            }
        }
        return seen;
    }

    @Test
    void withoutReplacementVisitsEveryIndexOncePerEpochAndKeepsTheRemainder() {
        WithoutReplacementSampler s = new WithoutReplacementSampler(indexed(103), 10, 1);
        assertThat(s.batchesPerEpoch()).isEqualTo(11);
        for (int epoch = 0; epoch < 3; epoch++) {
            List<Integer> seen = drawEpoch(s);
            assertThat(seen).hasSize(103).doesNotHaveDuplicates();
            assertThat(s.lastBatchSize()).isEqualTo(3); // the remainder N mod b
            s.reset();
        }
        assertThat(s.scheme()).isEqualTo(SamplingScheme.WITHOUT_REPLACEMENT);
    }

    @Test
    void withReplacementIsUniformAndRepeatsAtTheExpectedRate() {
        int n = 50;
        int b = 25;
        WithReplacementSampler s = new WithReplacementSampler(indexed(n), b, 2);
        long[] counts = new long[n];
        int batches = 0;
        double repeats = 0;
        for (int epoch = 0; epoch < 400; epoch++) {
            while (s.hasNext()) {
                double[] idx = s.next().getFeatures().toDoubleVector();
                Set<Integer> distinct = new HashSet<>();
                for (double v : idx) {
                    counts[(int) v]++;
                    distinct.add((int) v);
                }
                repeats += idx.length - distinct.size();
                batches++;
            }
            s.reset();
        }
        long total = (long) batches * b;
        double expected = (double) total / n;
        double chi2 = 0;
        for (long c : counts) {
            chi2 += (c - expected) * (c - expected) / expected;
        }
        // 49 degrees of freedom: the 0.999 quantile is 85.4.
        assertThat(chi2).isLessThan(85.4);
        // Expected repeats per batch: b − E[distinct] = b − N(1 − (1 − 1/N)^b).
        double expectedRepeats = b - n * (1 - Math.pow(1 - 1.0 / n, b));
        assertThat(repeats / batches).isCloseTo(expectedRepeats, within(0.05 * expectedRepeats));
    }

    @Test
    void reproducibleFromTheSeedAndNd4jRandomUntouched() {
        long root = Nd4j.getRandom().rootState();
        long node = Nd4j.getRandom().nodeState();
        for (boolean with : new boolean[] {true, false}) {
            MinibatchSampler a = with
                    ? new WithReplacementSampler(indexed(40), 8, 3)
                    : new WithoutReplacementSampler(indexed(40), 8, 3);
            MinibatchSampler b = with
                    ? new WithReplacementSampler(indexed(40), 8, 3)
                    : new WithoutReplacementSampler(indexed(40), 8, 3);
            MinibatchSampler c = with
                    ? new WithReplacementSampler(indexed(40), 8, 4)
                    : new WithoutReplacementSampler(indexed(40), 8, 4);
            List<Integer> ea = drawEpoch(a);
            a.reset();
            ea.addAll(drawEpoch(a));
            List<Integer> eb = drawEpoch(b);
            b.reset();
            eb.addAll(drawEpoch(b));
            assertThat(ea).isEqualTo(eb);
            assertThat(drawEpoch(c)).isNotEqualTo(ea.subList(0, 40));
        }
        assertThat(Nd4j.getRandom().rootState()).isEqualTo(root);
        assertThat(Nd4j.getRandom().nodeState()).isEqualTo(node);
        assertThat(new WithReplacementSampler(indexed(5), 2, 0).asyncSupported())
                .isFalse();
    }

    @Test
    void badArgumentsAreRejected() {
        assertThatThrownBy(() -> new WithReplacementSampler(indexed(5), 0, 1))
                .hasMessageContaining("batchSize must be >= 1");
        assertThatThrownBy(() -> new WithoutReplacementSampler(indexed(5), 6, 1))
                .hasMessageContaining("batchSize must be <= N");
    }
}

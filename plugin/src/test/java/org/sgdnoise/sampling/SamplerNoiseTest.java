package org.sgdnoise.sampling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.ViewIterator;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.sampling.SamplerNoise.Gradients;
import org.sgdnoise.testing.TestNetworks;

class SamplerNoiseTest {

    private static final int N = 240;
    private static final int B = 40; // 6 batches per epoch, b divides N
    private static final int EPOCHS = 150;

    /** tr D and ḡ by the plain definition, from every per-example gradient at once, in double. */
    @Test
    void theFullGradientAndTraceEqualThePlainDefinition() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        DataSet data = TestNetworks.vectors(N + 17, 3, DataType.DOUBLE); // not a multiple of the chunk
        double[] mean = new double[(int) net.numParams()];
        double trace = SamplerNoise.fullGradient(net, data, mean);
        int[] all = new int[N + 17];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        INDArray g = new PerExampleGradients(ProbeMode.EVAL, Long.MAX_VALUE)
                .compute(net, ProbeBatch.of(data), all)
                .rows();
        INDArray m = g.mean(0);
        double expected = g.subRowVector(m).mul(g.subRowVector(m)).sumNumber().doubleValue() / all.length;
        assertThat(trace).isCloseTo(expected, within(1e-12 * expected));
        for (int i = 0; i < mean.length; i++) {
            assertThat(mean[i]).isCloseTo(m.getDouble(i), within(1e-14));
        }
    }

    /**
     * The acceptance test: through both project samplers, DL4J's own minibatch gradients of a network without
     * BatchNorm or dropout (so TRAIN is eval-equivalent) have noise tr(D)/b with replacement (a) and
     * tr(D)/b·(N − b)/(N − 1) without (b), within-epoch lag covariance 0 and −tr(D)/(N − 1), and epoch sums
     * m·tr(D)/b and 0, each within its 95% interval over 150 epochs.
     */
    @Test
    void theNoiseThroughBothSamplersMatchesTheory() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        DataSet data = TestNetworks.vectors(N, 11, DataType.FLOAT);
        INDArray before = net.params().dup();
        SamplerNoise.Result with =
                SamplerNoise.measure(net, data, new WithReplacementSampler(data, B, 5), EPOCHS, Gradients.TRAIN, 1);
        SamplerNoise.Result without =
                SamplerNoise.measure(net, data, new WithoutReplacementSampler(data, B, 5), EPOCHS, Gradients.TRAIN, 1);
        assertThat(net.params()).isEqualTo(before);
        double trace = with.traceD();
        assertThat(with.batches()).isEqualTo(EPOCHS * N / B);
        assertThat(with.noiseWith()).isCloseTo(trace / B, within(1e-12 * trace));
        assertThat(with.noiseWithout()).isCloseTo(trace / B * (N - B) / (N - 1.0), within(1e-12 * trace));
        assertThat(with.lagWithout()).isCloseTo(-trace / (N - 1.0), within(1e-15 * trace));
        assertThat(with.epochSumWith()).isCloseTo(N / B * trace / B, within(1e-12 * trace));
        assertThat(with.epochSumWithout()).isCloseTo(0, within(1e-12 * trace));

        assertThat(with.scheme()).isEqualTo(SamplingScheme.WITH_REPLACEMENT);
        assertThat(with.noise().covers(with.noiseWith())).isTrue();
        assertThat(with.lag().covers(0)).isTrue();
        assertThat(with.epochSum().covers(with.epochSumWith())).isTrue();
        assertThat(without.scheme()).isEqualTo(SamplingScheme.WITHOUT_REPLACEMENT);
        assertThat(without.noise().covers(without.noiseWithout())).isTrue();
        assertThat(without.lag().covers(without.lagWithout())).isTrue();
        // The anticorrelation is resolved, not merely consistent: the interval excludes 0.
        assertThat(without.lag().high()).isNegative();
        // Without replacement an epoch's noise sums to zero, up to float rounding of the gradients.
        assertThat(without.epochSum().mean()).isLessThan(1e-8 * without.epochSumWith());
        assertThat(without.noisePredicted()).isEqualTo(without.noiseWithout());
        assertThat(with.lagPredicted()).isZero();
    }

    /** On a network without BatchNorm or dropout, TRAIN and EVAL measure the same gradients. */
    @Test
    void trainAndEvalAgreeWithoutBatchNormOrDropout() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        DataSet data = TestNetworks.vectors(N, 11, DataType.DOUBLE);
        SamplerNoise.Result train =
                SamplerNoise.measure(net, data, new WithoutReplacementSampler(data, B, 5), 3, Gradients.TRAIN, 1);
        SamplerNoise.Result eval =
                SamplerNoise.measure(net, data, new WithoutReplacementSampler(data, B, 5), 3, Gradients.EVAL, 1);
        assertThat(train.noise().mean())
                .isCloseTo(eval.noise().mean(), within(1e-12 * eval.noise().mean()));
        assertThat(train.lag().mean())
                .isCloseTo(eval.lag().mean(), within(1e-12 * eval.noise().mean()));
    }

    /**
     * The TRAIN/EVAL gap on a BatchNorm network: EVAL-mode minibatch gradients follow theory; TRAIN-mode ones (batch
     * statistics) do not, and the gap is reported as the ratio of the two measured noises with a bias term.
     */
    @Test
    void reportsTheTrainEvalGapOnABatchNormModel() {
        MultiLayerNetwork net = TestNetworks.batchNormCnn(DataType.FLOAT);
        DataSet data = TestNetworks.images(120, 7, DataType.FLOAT);
        int b = 20;
        SamplerNoise.Result eval =
                SamplerNoise.measure(net, data, new WithoutReplacementSampler(data, b, 3), 60, Gradients.EVAL, 1);
        SamplerNoise.Result train =
                SamplerNoise.measure(net, data, new WithoutReplacementSampler(data, b, 3), 60, Gradients.TRAIN, 1);
        assertThat(eval.noise().covers(eval.noiseWithout())).isTrue();
        assertThat(eval.lag().covers(eval.lagWithout())).isTrue();
        // Batch statistics move the minibatch gradient away from the eval-mode full gradient: its mean differs
        // from ḡ (bias), and the measured noise is not eval-mode theory.
        assertThat(train.bias()).isGreaterThan(10 * eval.bias());
        assertThat(train.noise().covers(train.noiseWithout())).isFalse();
    }

    @Test
    void refusesTooFewEpochsOrBatches() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        DataSet data = TestNetworks.vectors(40, 1, DataType.FLOAT);
        assertThatThrownBy(() -> SamplerNoise.measure(
                        net, data, new WithoutReplacementSampler(data, 10, 1), 1, Gradients.TRAIN, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("epochs must be >= 2");
        assertThatThrownBy(() -> SamplerNoise.measure(net, data, new ViewIterator(data, 40), 3, Gradients.TRAIN, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 2 batches");
    }

    /** Any DL4J iterator works; its scheme is unknown, so both predictions are given and none is chosen. */
    @Test
    void acceptsAnyResettableIterator() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        DataSet data = TestNetworks.vectors(N, 11, DataType.FLOAT);
        SamplerNoise.Result r = SamplerNoise.measure(net, data, new ViewIterator(data, B), 3, Gradients.TRAIN, 1);
        assertThat(r.scheme()).isNull();
        assertThat(r.noisePredicted()).isNaN();
        // The same N/B batches in the same order every epoch: the epoch sum is zero as without replacement.
        assertThat(r.epochSum().mean()).isLessThan(1e-8 * r.epochSumWith());
    }

    /**
     * The epoch-sum formula by brute force: the exact mean of |Σ_t n_t|² over every arrangement of N = 7 scalar
     * examples into batches of 3, 3 and 1 (all 7! permutations), against tr(D)·(N Σ 1/b_t − m²)/(N − 1).
     */
    @Test
    void theEpochSumWithoutReplacementIsExactForUnequalBatches() {
        double[] x = {0.3, -1.2, 2.0, 0.7, -0.4, 1.1, -2.5};
        int n = x.length;
        double mean = java.util.Arrays.stream(x).average().orElseThrow();
        double trace =
                java.util.Arrays.stream(x).map(v -> (v - mean) * (v - mean)).sum() / n;
        int[] sizes = {3, 3, 1};
        double[] sum = {0};
        long[] count = {0};
        permute(new int[] {0, 1, 2, 3, 4, 5, 6}, 0, p -> {
            double s = 0;
            int at = 0;
            for (int size : sizes) {
                double g = 0;
                for (int i = 0; i < size; i++) {
                    g += x[p[at++]] - mean;
                }
                s += g / size;
            }
            sum[0] += s * s;
            count[0]++;
        });
        double inverse = 1 / 3.0 + 1 / 3.0 + 1.0;
        assertThat(SamplerNoise.inverseSizes(n, 3, SamplingScheme.WITHOUT_REPLACEMENT))
                .isCloseTo(inverse, within(1e-15));
        assertThat(SamplerNoise.epochSumWithout(trace, n, inverse, 3)).isCloseTo(sum[0] / count[0], within(1e-12));
        assertThat(SamplerNoise.inverseSizes(n, 3, SamplingScheme.WITH_REPLACEMENT))
                .isCloseTo(1.0, within(1e-15));
    }

    private static void permute(int[] a, int k, java.util.function.Consumer<int[]> visit) {
        if (k == a.length) {
            visit.accept(a);
            return;
        }
        for (int i = k; i < a.length; i++) {
            int t = a[k];
            a[k] = a[i];
            a[i] = t;
            permute(a, k + 1, visit);
            a[i] = a[k];
            a[k] = t;
        }
    }
}

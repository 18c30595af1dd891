package org.sgdnoise.curvature;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.testing.TestNetworks;

/** Non-interference with training, chunking, float and BatchNorm models, argument checks. */
class HessianOperatorTest {

    /** Trains 6 iterations; with {@code probe}, runs Hessian products, Lanczos, Hutchinson and SLQ between them. */
    private static MultiLayerNetwork train(boolean probe) {
        Nd4j.getRandom().setSeed(12345);
        MultiLayerNetwork net = TestNetworks.dropoutMlp(DataType.FLOAT);
        HessianVectorProducts hvp = new HessianVectorProducts(new HessianVectorProducts.Config(7, true, false));
        for (int it = 0; it < 6; it++) {
            DataSet ds = TestNetworks.vectors(16, 100 + it, DataType.FLOAT);
            if (probe) {
                HessianOperator h = hvp.at(net, ProbeBatch.of(ds));
                Lanczos.eigenpairs(h, 2, Lanczos.End.LARGEST, 6, 1e-8, it);
                HutchinsonTrace.estimate(h, 2, it);
                StochasticLanczosQuadrature.estimate(h, 1, 3, it);
            }
            net.fit(ds);
        }
        return net;
    }

    @Test
    void trainingIsBitIdenticalWithCurvatureProbesBetweenIterations() {
        MultiLayerNetwork without = train(false);
        MultiLayerNetwork with = train(true);

        assertThat(with.params().toFloatVector())
                .containsExactly(without.params().toFloatVector());
        assertThat(with.getUpdater().getStateViewArray().toFloatVector())
                .containsExactly(without.getUpdater().getStateViewArray().toFloatVector());
        assertThat(with.params().dataType()).isEqualTo(DataType.FLOAT);
    }

    @Test
    void theOperatorKeepsTheParametersItWasTakenAt() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        DataSet ds = TestNetworks.vectors(10, 3, DataType.FLOAT);
        HessianOperator h = new HessianVectorProducts().at(net, ProbeBatch.of(ds));
        double[] v = Regressions.gaussian(new SplittableRandom(1), h.dimension(), 1.0);
        double[] before = h.apply(v);
        double[] theta = h.parameters();
        assertThat(theta).containsExactly(net.params().castTo(DataType.DOUBLE).toDoubleVector());
        net.fit(ds);

        assertThat(h.apply(v)).containsExactly(before);
        assertThat(h.parameters()).containsExactly(theta);
    }

    @Test
    void chunkSizeDoesNotChangeTheProduct() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        ProbeBatch batch = ProbeBatch.of(TestNetworks.vectors(23, 4, DataType.DOUBLE));
        double[] v = Regressions.gaussian(new SplittableRandom(2), (int) net.numParams(), 1.0);
        double[] whole = new HessianVectorProducts().at(net, batch).apply(v);
        double[] chunked = new HessianVectorProducts(new HessianVectorProducts.Config(5, true, false))
                .at(net, batch)
                .apply(v);
        assertThat(Regressions.relativeError(chunked, whole)).isLessThan(1e-9);
    }

    @Test
    void batchNormFloatNetworkGivesASymmetricLinearOperatorOnTrainedParameters() {
        MultiLayerNetwork net = TestNetworks.batchNormCnn(DataType.FLOAT);
        ProbeBatch batch = ProbeBatch.of(TestNetworks.images(8, 5, DataType.FLOAT));
        HessianOperator h = new HessianVectorProducts().at(net, batch);
        assertThat((long) h.dimension())
                .isEqualTo(ParameterLayout.of(net).numParams())
                .isLessThan(net.numParams());

        SplittableRandom rng = new SplittableRandom(3);
        double[] u = Regressions.gaussian(rng, h.dimension(), 1.0);
        double[] w = Regressions.gaussian(rng, h.dimension(), 1.0);
        double[] hu = h.apply(u);
        double[] hw = h.apply(w);
        double uhw = Vectors.dot(u, hw);
        assertThat(Math.abs(uhw - Vectors.dot(w, hu))).isLessThan(1e-7 * Vectors.norm(hu) * Vectors.norm(w));
        double[] sum = u.clone();
        Vectors.axpy(1.0, w, sum);
        double[] hsum = h.apply(sum);
        double[] expected = hu.clone();
        Vectors.axpy(1.0, hw, expected);
        assertThat(Regressions.relativeError(hsum, expected)).isLessThan(1e-7);
    }

    @Test
    void invalidArgumentsAreRejectedWithTheirValues() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        ProbeBatch batch = ProbeBatch.of(TestNetworks.vectors(4, 3, DataType.FLOAT));
        HessianVectorProducts hvp = new HessianVectorProducts();
        assertThatThrownBy(() -> hvp.at(net, batch, new int[0])).hasMessage("examples must not be empty");
        assertThatThrownBy(() -> hvp.at(net, batch, new int[] {4}))
                .hasMessage("example index 4 is outside the batch of 4");
        assertThatThrownBy(() -> new HessianVectorProducts.Config(0, true, false))
                .hasMessage("chunkSize must be >= 1, got 0");
        HessianOperator h = hvp.at(net, batch, new int[] {0, 2});
        assertThat(h.terms().examples()).isEqualTo(2);
        assertThatThrownBy(() -> h.apply(new double[3])).hasMessage("v must have length " + h.dimension() + ", got 3");
        double[] nan = new double[h.dimension()];
        nan[1] = Double.NaN;
        assertThatThrownBy(() -> h.apply(nan)).hasMessage("v must be finite, got NaN at index 1");
        assertThat(h.apply(new double[h.dimension()])).containsOnly(0.0);
    }
}

package org.sgdnoise.curvature;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;
import org.sgdnoise.gradients.ProbeBatch;

/** Regularisation terms: L2 as DL4J's updater applies it, weight decay on request, L1 never. */
class HessianTermsTest {

    private static final int N_IN = 4;
    private static final int N_OUT = 3;
    private static final int W = N_IN * N_OUT;

    private final SplittableRandom rng = new SplittableRandom(21);
    private final double[] params = Regressions.gaussian(rng, (N_IN + 1) * N_OUT, 0.7);
    private final DataSet ds =
            Regressions.dataSet(Regressions.matrix(rng, 25, N_IN, 1.0), Regressions.oneHot(rng, 25, N_OUT));
    private final double[] v = Regressions.gaussian(rng, (N_IN + 1) * N_OUT, 1.0);

    private MultiLayerConfiguration softmax(org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder base) {
        return Regressions.oneLayer(base, LossFunction.MCXENT, Activation.SOFTMAX, N_IN, N_OUT);
    }

    private double[] hv(MultiLayerConfiguration conf, HessianVectorProducts.Config config) {
        return new HessianVectorProducts(config)
                .at(Regressions.network(conf, params), ProbeBatch.of(ds))
                .apply(v);
    }

    /**
     * The derivative along v of the gradient DL4J's own SGD step follows, {@code G(θ) = (θ − θ′)/lr} after one
     * {@code fit} on the whole set with Sgd(1): an independent check of what the updater adds.
     */
    private double[] updaterHessianTimes(MultiLayerConfiguration conf) {
        double h = 1e-4;
        double[] plus = step(conf, h);
        double[] minus = step(conf, -h);
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (plus[i] - minus[i]) / (2 * h);
        }
        return out;
    }

    private double[] step(MultiLayerConfiguration conf, double h) {
        double[] theta = params.clone();
        for (int i = 0; i < theta.length; i++) {
            theta[i] += h * v[i];
        }
        MultiLayerNetwork net = Regressions.network(conf.clone(), theta);
        net.fit(ds);
        double[] after = net.params().toDoubleVector();
        for (int i = 0; i < theta.length; i++) {
            theta[i] -= after[i];
        }
        return theta;
    }

    @Test
    void l2AddsItsCoefficientOnWeightsOnlyAndMatchesTheUpdatersStep() {
        double[] plain = hv(softmax(Regressions.base()), HessianVectorProducts.Config.defaults());
        MultiLayerConfiguration conf = softmax(Regressions.base().l2(0.01));
        HessianOperator op = new HessianVectorProducts().at(Regressions.network(conf, params), ProbeBatch.of(ds));
        double[] withL2 = op.apply(v);

        for (int i = 0; i < v.length; i++) {
            double expected = plain[i] + (i < W ? 0.01 * v[i] : 0);
            assertThat(Math.abs(withL2[i] - expected)).isLessThan(1e-9 * Vectors.norm(plain));
        }
        assertThat(op.terms().l2()).isTrue();
        assertThat(op.terms().weightDecay()).isFalse();
        assertThat(op.terms().regularisedParams()).isEqualTo(W);
        double err = Regressions.relativeError(withL2, updaterHessianTimes(conf));
        assertThat(err).isLessThan(1e-6);
    }

    @Test
    void l2BiasAddsItsOwnCoefficientOnBiases() {
        double[] plain = hv(softmax(Regressions.base()), HessianVectorProducts.Config.defaults());
        double[] both = hv(softmax(Regressions.base().l2(0.01).l2Bias(0.02)), HessianVectorProducts.Config.defaults());
        for (int i = 0; i < v.length; i++) {
            double expected = plain[i] + (i < W ? 0.01 : 0.02) * v[i];
            assertThat(Math.abs(both[i] - expected)).isLessThan(1e-9 * Vectors.norm(plain));
        }
    }

    @Test
    void l2CanBeLeftOut() {
        double[] plain = hv(softmax(Regressions.base()), HessianVectorProducts.Config.defaults());
        double[] without =
                hv(softmax(Regressions.base().l2(0.01)), new HessianVectorProducts.Config(256, false, false));
        assertThat(Regressions.relativeError(without, plain)).isLessThan(1e-12);
    }

    @Test
    void weightDecayIsIncludedOnRequestAsTheHessianPlainSgdFeels() {
        MultiLayerConfiguration conf = softmax(Regressions.base().weightDecay(0.03));
        double[] plain = hv(softmax(Regressions.base()), HessianVectorProducts.Config.defaults());
        assertThat(Regressions.relativeError(hv(conf, HessianVectorProducts.Config.defaults()), plain))
                .isLessThan(1e-12);

        HessianOperator op = new HessianVectorProducts(new HessianVectorProducts.Config(256, true, true))
                .at(Regressions.network(conf, params), ProbeBatch.of(ds));
        double[] withDecay = op.apply(v);
        assertThat(op.terms().weightDecay()).isTrue();
        double err = Regressions.relativeError(withDecay, updaterHessianTimes(conf));
        assertThat(err).isLessThan(1e-6);
    }

    @Test
    void weightDecayWithoutLearningRateIsRejectedWhenIncluded() {
        MultiLayerNetwork net = Regressions.network(softmax(Regressions.base().weightDecay(0.03, false)), params);
        HessianVectorProducts hvp = new HessianVectorProducts(new HessianVectorProducts.Config(256, true, true));
        assertThatThrownBy(() -> hvp.at(net, ProbeBatch.of(ds)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("applyLR = false");
    }

    @Test
    void l1IsReportedButNeverIncluded() {
        double[] plain = hv(softmax(Regressions.base()), HessianVectorProducts.Config.defaults());
        HessianOperator op = new HessianVectorProducts()
                .at(Regressions.network(softmax(Regressions.base().l1(0.05)), params), ProbeBatch.of(ds));
        assertThat(Regressions.relativeError(op.apply(v), plain)).isLessThan(1e-12);
        assertThat(op.terms().l1Present()).isTrue();
        assertThat(op.terms().regularisedParams()).isZero();
    }
}

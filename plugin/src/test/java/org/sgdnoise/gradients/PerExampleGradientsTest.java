package org.sgdnoise.gradients;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;
import org.sgdnoise.gradients.internal.ProbeNetworks;
import org.sgdnoise.testing.TestNetworks;

/**
 * Exact per-example gradients against two independent oracles: DL4J's own raw minibatch gradient (their
 * sum) and central finite differences of each example's inference-mode loss.
 */
class PerExampleGradientsTest {

    /** Relative error allowed between the sum of per-example gradients and DL4J's minibatch gradient. */
    static final double SUM_TOLERANCE = 1e-10;
    /** Finite differences must agree to 5 significant digits (relative to the largest component). */
    static final double FD_TOLERANCE = 1e-5;

    static final double FD_STEP = 1e-5;

    /** Captures DL4J's raw minibatch gradient at onGradientCalculation and probes the same minibatch. */
    static final class Capture extends BaseTrainingListener {
        final PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, 1L << 30);
        INDArray raw;
        INDArray perExampleSum;

        @Override
        public void onGradientCalculation(Model model) {
            ParameterLayout layout = ParameterLayout.of(model);
            raw = Nd4j.create(DataType.DOUBLE, layout.numParams());
            layout.gather(model.gradient().gradient(), raw);
            ProbeBatch batch = ProbeBatch.current(model);
            int[] all = PerExampleGradients.select(ExampleSelection.FIRST, batch.size(), batch.size(), 0);
            GradientBlock block = engine.compute(model, batch, all);
            perExampleSum = block.rows().sum(0);
        }
    }

    private static void assertSumMatches(Capture c) {
        assertThat(c.raw).as("raw gradient captured").isNotNull();
        double rel = c.perExampleSum.sub(c.raw).norm2Number().doubleValue()
                / c.raw.norm2Number().doubleValue();
        assertThat(rel).isLessThanOrEqualTo(SUM_TOLERANCE);
        assertThat(c.raw.norm2Number().doubleValue()).isGreaterThan(0);
    }

    @Test
    void theFeatureMaskOfTheMinibatchReachesTheProbe() {
        // LastTimeStep reads the feature mask to find each sequence's last step: a probe that lost the mask (the
        // network itself keeps none during fit, only its layers) would take every sequence's padded end.
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(3)
                .dataType(DataType.DOUBLE)
                .updater(new Sgd(0.1))
                .list()
                .layer(new LastTimeStep(new LSTM.Builder()
                        .nIn(3)
                        .nOut(4)
                        .activation(Activation.TANH)
                        .build()))
                .layer(new OutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(4)
                        .nOut(2)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build());
        net.init();
        int n = 6;
        int steps = 5;
        Nd4j.getRandom().setSeed(5);
        INDArray x = Nd4j.rand(DataType.DOUBLE, n, 3, steps);
        INDArray mask = Nd4j.zeros(DataType.DOUBLE, n, steps);
        INDArray y = Nd4j.zeros(DataType.DOUBLE, n, 2);
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < 2 + i % 4; t++) {
                mask.putScalar(i, t, 1.0);
            }
            y.putScalar(i, i % 2, 1.0);
        }
        Capture c = new Capture();
        net.addListeners(c);
        net.fit(new DataSet(x, y, mask, null));
        assertSumMatches(c);
    }

    @Test
    void sumEqualsRawMinibatchGradientForMlp() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        Capture c = new Capture();
        net.addListeners(c);
        net.fit(TestNetworks.vectors(16, 1, DataType.DOUBLE));
        assertSumMatches(c);
    }

    @Test
    void sumEqualsRawMinibatchGradientForCnnWithSubsampling() {
        MultiLayerNetwork net = TestNetworks.cnn(DataType.DOUBLE);
        Capture c = new Capture();
        net.addListeners(c);
        net.fit(TestNetworks.images(12, 2, DataType.DOUBLE));
        assertSumMatches(c);
    }

    @Test
    void sumEqualsRawMinibatchGradientForDropoutNetworkInEvalMode() {
        // With dropout on, DL4J's minibatch gradient is random; EVAL-mode per-example gradients sum to the
        // minibatch gradient DL4J computes for the same network with dropout off (its own fit path).
        MultiLayerNetwork dropout = TestNetworks.dropoutMlp(DataType.DOUBLE);
        var conf = dropout.getLayerWiseConfigurations().clone();
        conf.getConfs().forEach(c -> c.getLayer().setIDropout(null));
        MultiLayerNetwork plain = new MultiLayerNetwork(conf);
        plain.init(dropout.params().dup(), false);
        Capture c = new Capture();
        plain.addListeners(c);
        plain.fit(TestNetworks.vectors(16, 18, DataType.DOUBLE));
        assertSumMatches(c);
        // And the engine gives the same per-example gradients on the dropout network itself.
        DataSet ds = TestNetworks.vectors(4, 19, DataType.DOUBLE);
        int[] idx = {0, 1, 2, 3};
        INDArray onDropoutNet = new PerExampleGradients(ProbeMode.EVAL, 1L << 30)
                .compute(dropout, ProbeBatch.of(ds), idx)
                .rows();
        INDArray onPlainNet = new PerExampleGradients(ProbeMode.EVAL, 1L << 30)
                .compute(withParams(plain, dropout.params()), ProbeBatch.of(ds), idx)
                .rows();
        assertThat(onDropoutNet.sub(onPlainNet).amaxNumber().doubleValue()).isEqualTo(0.0);
    }

    private static MultiLayerNetwork withParams(MultiLayerNetwork net, INDArray params) {
        MultiLayerNetwork copy =
                new MultiLayerNetwork(net.getLayerWiseConfigurations().clone());
        copy.init(params.dup(), false);
        return copy;
    }

    @Test
    void sumEqualsRawMinibatchGradientForMaskedSequences() {
        // Feature and label masks must be honoured per example: ignoring them changes every gradient.
        MultiLayerNetwork net = TestNetworks.rnn(DataType.DOUBLE);
        Capture c = new Capture();
        net.addListeners(c);
        net.fit(TestNetworks.sequences(10, 5, DataType.DOUBLE));
        assertSumMatches(c);
    }

    @Test
    void maskedTimeStepsDoNotContribute() {
        // Example 0 has length 2 of 6: changing its masked-out inputs and labels must not change its gradient.
        MultiLayerNetwork net = TestNetworks.rnn(DataType.DOUBLE);
        DataSet ds = TestNetworks.sequences(2, 6, DataType.DOUBLE);
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, 1L << 30);
        INDArray before =
                engine.compute(net, ProbeBatch.of(ds), new int[] {0}).rows().dup();
        DataSet changed = ds.copy();
        for (int t = 2; t < 6; t++) {
            for (int j = 0; j < 3; j++) {
                changed.getFeatures().putScalar(new long[] {0, j, t}, 100.0 + j + t);
            }
        }
        INDArray after =
                engine.compute(net, ProbeBatch.of(changed), new int[] {0}).rows();
        assertThat(after.sub(before).amaxNumber().doubleValue()).isLessThan(1e-14);
        DataSet unmasked = new DataSet(changed.getFeatures(), changed.getLabels());
        INDArray ignored =
                engine.compute(net, ProbeBatch.of(unmasked), new int[] {0}).rows();
        assertThat(ignored.sub(before).amaxNumber().doubleValue()).isGreaterThan(1e-6);
    }

    @Test
    void sumEqualsRawMinibatchGradientForComputationGraph() {
        // Dropout on branch "db" makes the training gradient random; compare on the same graph without it.
        ComputationGraph cg = withoutDropout(TestNetworks.graph(DataType.DOUBLE));
        Capture c = new Capture();
        cg.addListeners(c);
        cg.fit(TestNetworks.graphData(10, 3, DataType.DOUBLE));
        assertSumMatches(c);
    }

    private static ComputationGraph withoutDropout(ComputationGraph cg) {
        var conf = cg.getConfiguration().clone();
        conf.getVertices().values().forEach(v -> {
            if (v instanceof LayerVertex lv) {
                lv.getLayerConf().getLayer().setIDropout(null);
            }
        });
        ComputationGraph out = new ComputationGraph(conf);
        out.init(cg.params().dup(), false);
        return out;
    }

    @Test
    void sumEqualsBatchGradientOfInferenceModeBatchNormNetwork() {
        // With BatchNorm in inference mode examples decouple, so a whole-batch pass of the probe network
        // must equal the sum of single-example passes.
        MultiLayerNetwork net =
                trained(TestNetworks.batchNormCnn(DataType.DOUBLE), TestNetworks.images(16, 4, DataType.DOUBLE));
        DataSet ds = TestNetworks.images(6, 5, DataType.DOUBLE);
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, 1L << 30);
        GradientBlock block = engine.compute(net, ProbeBatch.of(ds), new int[] {0, 1, 2, 3, 4, 5});
        MultiLayerNetwork probe = (MultiLayerNetwork) ProbeNetworks.build(net, false);
        INDArray batchGrad = probe.calculateGradients(ds.getFeatures(), ds.getLabels(), null, null)
                .getFirst()
                .gradient();
        INDArray expected = Nd4j.create(DataType.DOUBLE, engine.layout().numParams());
        engine.layout().gather(batchGrad, expected);
        double rel = block.rows().sum(0).sub(expected).norm2Number().doubleValue()
                / expected.norm2Number().doubleValue();
        assertThat(rel).isLessThanOrEqualTo(SUM_TOLERANCE);
    }

    private static MultiLayerNetwork trained(MultiLayerNetwork net, DataSet ds) {
        for (int i = 0; i < 5; i++) {
            net.fit(ds);
        }
        return net;
    }

    @Test
    void finiteDifferencesAgreeForMlp() {
        MultiLayerNetwork net =
                trained(TestNetworks.mlp(DataType.DOUBLE), TestNetworks.vectors(16, 6, DataType.DOUBLE));
        DataSet ds = TestNetworks.vectors(3, 7, DataType.DOUBLE);
        checkFiniteDifferences(net, ProbeBatch.of(ds), i -> ds.get(i), 60);
    }

    @Test
    void finiteDifferencesAgreeForCnnWithSubsampling() {
        MultiLayerNetwork net = trained(TestNetworks.cnn(DataType.DOUBLE), TestNetworks.images(16, 8, DataType.DOUBLE));
        DataSet ds = TestNetworks.images(3, 9, DataType.DOUBLE);
        checkFiniteDifferences(net, ProbeBatch.of(ds), i -> ds.get(i), 60);
    }

    @Test
    void finiteDifferencesAgreeForDropoutNetworkInEvalMode() {
        MultiLayerNetwork net =
                trained(TestNetworks.dropoutMlp(DataType.DOUBLE), TestNetworks.vectors(16, 10, DataType.DOUBLE));
        DataSet ds = TestNetworks.vectors(3, 11, DataType.DOUBLE);
        checkFiniteDifferences(net, ProbeBatch.of(ds), i -> ds.get(i), 60);
    }

    @Test
    void finiteDifferencesAgreeForBatchNormInEvalMode() {
        MultiLayerNetwork net =
                trained(TestNetworks.batchNormCnn(DataType.DOUBLE), TestNetworks.images(16, 12, DataType.DOUBLE));
        // After training the running statistics differ from their initial values (0 and 1).
        assertThat(net.getLayer(1).getParam("mean").norm2Number().doubleValue()).isGreaterThan(1e-3);
        DataSet ds = TestNetworks.images(3, 13, DataType.DOUBLE);
        checkFiniteDifferences(net, ProbeBatch.of(ds), i -> ds.get(i), 120);
    }

    @Test
    void finiteDifferencesAgreeForComputationGraph() {
        ComputationGraph cg = TestNetworks.graph(DataType.DOUBLE);
        MultiDataSet train = TestNetworks.graphData(16, 14, DataType.DOUBLE);
        for (int i = 0; i < 5; i++) {
            cg.fit(train);
        }
        MultiDataSet ds = TestNetworks.graphData(3, 15, DataType.DOUBLE);
        ProbeBatch pb = ProbeBatch.of(ds);
        checkFiniteDifferences(
                cg,
                pb,
                i -> new MultiDataSet(pb.example(i).features(), pb.example(i).labels()),
                60);
    }

    interface ExampleSource {
        Object get(int i);
    }

    /** Inference-mode loss of one example (dropout off, BatchNorm running statistics). */
    private static double loss(Model model, Object example) {
        if (model instanceof MultiLayerNetwork net) {
            return net.score((DataSet) example, false);
        }
        return ((ComputationGraph) model).score((org.nd4j.linalg.dataset.api.MultiDataSet) example, false);
    }

    private static void checkFiniteDifferences(Model model, ProbeBatch batch, ExampleSource examples, int coords) {
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, 1L << 30);
        int[] idx = new int[batch.size()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        GradientBlock block = engine.compute(model, batch, idx);
        ParameterLayout layout = engine.layout();
        Random r = new Random(99);
        List<Long> checked = new ArrayList<>();
        for (int c = 0; c < Math.min(coords, layout.numParams()); c++) {
            checked.add(coords >= layout.numParams() ? c : (long) r.nextInt((int) layout.numParams()));
        }
        INDArray params = model.params();
        for (int e = 0; e < idx.length; e++) {
            Object ex = examples.get(e);
            INDArray g = block.rows().getRow(e);
            double scale = g.amaxNumber().doubleValue();
            assertThat(scale).isGreaterThan(0);
            for (long c : checked) {
                long flat = layout.flatIndex(c);
                double orig = params.getDouble(flat);
                params.putScalar(flat, orig + FD_STEP);
                double up = loss(model, ex);
                params.putScalar(flat, orig - FD_STEP);
                double down = loss(model, ex);
                params.putScalar(flat, orig);
                double fd = (up - down) / (2 * FD_STEP);
                double analytic = g.getDouble(c);
                assertThat(Math.abs(fd - analytic))
                        .as(
                                "example %d, parameter %d (flat %d): analytic %s, finite difference %s",
                                e, c, flat, analytic, fd)
                        .isLessThanOrEqualTo(FD_TOLERANCE * Math.max(scale * 1e-2, Math.abs(analytic)));
            }
        }
    }

    @Test
    void batchNormRunningStatisticsAreExcludedFromD() {
        MultiLayerNetwork net = TestNetworks.batchNormCnn(DataType.DOUBLE);
        ParameterLayout layout = ParameterLayout.of(net);
        long running = 2 * (3 + 6); // mean and log-std per channel, two BN layers of 3 and 6 channels
        assertThat(layout.totalParams()).isEqualTo(net.numParams());
        assertThat(layout.numParams()).isEqualTo(net.numParams() - running);
    }

    @Test
    void evalModeIsDeterministicAndTrainModeRestoresTheRandomState() {
        MultiLayerNetwork net = TestNetworks.dropoutMlp(DataType.DOUBLE);
        DataSet ds = TestNetworks.vectors(8, 16, DataType.DOUBLE);
        int[] idx = {0, 1, 2, 3};
        PerExampleGradients eval = new PerExampleGradients(ProbeMode.EVAL, 1L << 30);
        INDArray a = eval.compute(net, ProbeBatch.of(ds), idx).rows();
        INDArray b = eval.compute(net, ProbeBatch.of(ds), idx).rows();
        assertThat(a.equals(b)).isTrue();

        PerExampleGradients train = new PerExampleGradients(ProbeMode.TRAIN, 1L << 30);
        long root = Nd4j.getRandom().rootState();
        long node = Nd4j.getRandom().nodeState();
        INDArray t = train.compute(net, ProbeBatch.of(ds), idx).rows();
        assertThat(Nd4j.getRandom().rootState()).isEqualTo(root);
        assertThat(Nd4j.getRandom().nodeState()).isEqualTo(node);
        // Dropout is active in TRAIN mode: the gradients differ from EVAL's.
        assertThat(t.equals(a)).isFalse();
    }

    @Test
    void memoryBudgetReducesK() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        ProbeBatch batch = ProbeBatch.of(TestNetworks.vectors(8, 17, DataType.DOUBLE));
        long[] each = new PerExampleGradients(ProbeMode.EVAL, 1L << 30).bytesPerExample(net, batch);
        assertThat(each[0]).isEqualTo(ParameterLayout.of(net).numParams() * 8);
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, 3 * (each[0] + each[1]));
        GradientBlock block = engine.compute(net, batch, new int[] {0, 1, 2, 3, 4});
        assertThat(block.k()).isEqualTo(3);
        assertThat(block.requested()).isEqualTo(5);
        assertThat(block.reducedByBudget()).isTrue();
    }

    @Test
    void theProbeReadsTheModelsParametersInPlaceAndNeverWritesThem() {
        List<Object[]> cases = List.of(
                new Object[] {
                    TestNetworks.batchNormCnn(DataType.DOUBLE),
                    ProbeBatch.of(TestNetworks.images(6, 8, DataType.DOUBLE))
                },
                new Object[] {
                    TestNetworks.dropoutMlp(DataType.DOUBLE), ProbeBatch.of(TestNetworks.vectors(6, 8, DataType.DOUBLE))
                },
                new Object[] {
                    TestNetworks.rnn(DataType.DOUBLE), ProbeBatch.of(TestNetworks.sequences(6, 8, DataType.DOUBLE))
                },
                new Object[] {
                    TestNetworks.graph(DataType.DOUBLE), ProbeBatch.of(TestNetworks.graphData(6, 8, DataType.DOUBLE))
                });
        int[] idx = {0, 1, 2, 3};
        for (Object[] c : cases) {
            Model model = (Model) c[0];
            ProbeBatch batch = (ProbeBatch) c[1];
            double[] before = model.params().dup().data().asDouble();
            for (ProbeMode mode : ProbeMode.values()) {
                for (boolean batched : new boolean[] {true, false}) {
                    PerExampleGradients engine = new PerExampleGradients(mode, 1L << 30, batched);
                    engine.compute(model, batch, idx);
                    engine.factors(model, batch, idx).close();
                    assertThat(ProbeNetworks.sharesParameters(engine.probe(), model))
                            .isTrue();
                    assertThat(model.params().data().asDouble())
                            .as("%s %s batched=%s", model.getClass().getSimpleName(), mode, batched)
                            .isEqualTo(before);
                }
            }
        }
    }

    @Test
    void theProbeFollowsTheModelsParametersWithoutCopyingAndRebindsANewArray() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        ProbeBatch batch = ProbeBatch.of(TestNetworks.vectors(6, 9, DataType.DOUBLE));
        int[] idx = {0, 1, 2};
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, 1L << 30);
        engine.compute(net, batch, idx);
        Model probe = engine.probe();

        // setParams copies into the model's array: the same probe sees the new values.
        net.setParams(net.params().mul(0.5));
        INDArray afterSet = engine.compute(net, batch, idx).rows();
        assertThat(engine.probe()).isSameAs(probe);
        assertThat(afterSet.equals(new PerExampleGradients(ProbeMode.EVAL, 1L << 30)
                        .compute(net, batch, idx)
                        .rows()))
                .isTrue();

        // A probe on a replaced array is detected and rebuilt on the new one.
        MultiLayerNetwork other = TestNetworks.mlp(DataType.DOUBLE);
        other.setParams(net.params().mul(2));
        assertThat(ProbeNetworks.sharesParameters(probe, other)).isFalse();
        INDArray onOther = engine.compute(other, batch, idx).rows();
        assertThat(ProbeNetworks.sharesParameters(engine.probe(), other)).isTrue();
        assertThat(onOther.equals(afterSet)).isFalse();
    }

    @Test
    void randomSelectionIsSeededAndDistinct() {
        int[] a = PerExampleGradients.select(ExampleSelection.RANDOM, 100, 10, 7);
        int[] b = PerExampleGradients.select(ExampleSelection.RANDOM, 100, 10, 7);
        assertThat(a).isEqualTo(b).doesNotHaveDuplicates();
        assertThat(PerExampleGradients.select(ExampleSelection.FIRST, 4, 10, 7)).containsExactly(0, 1, 2, 3);
    }
}

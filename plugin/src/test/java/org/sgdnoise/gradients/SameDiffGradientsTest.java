package org.sgdnoise.gradients;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.loss.LossReduce;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.sgdnoise.internal.linalg.Gram;
import org.sgdnoise.testing.TestGraphs;
import org.sgdnoise.testing.TestNetworks;

class SameDiffGradientsTest {

    private static final String[] VARS = {"layer0/W", "layer0/b", "layer1/W", "layer1/b"};

    /** Dense(5→7, tanh) → softmax(7→3) with cross-entropy, in SameDiff, as TestNetworks.mlp is in DL4J. */
    static SameDiff mlp(long seed, LossReduce reduce, boolean config) {
        Nd4j.getRandom().setSeed(seed);
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("in", DataType.DOUBLE, -1, 5);
        SDVariable label = sd.placeHolder("label", DataType.DOUBLE, -1, 3);
        SDVariable w0 = sd.var(VARS[0], Nd4j.rand(DataType.DOUBLE, 5, 7).subi(0.5));
        SDVariable b0 = sd.var(VARS[1], Nd4j.rand(DataType.DOUBLE, 7).subi(0.5));
        SDVariable w1 = sd.var(VARS[2], Nd4j.rand(DataType.DOUBLE, 7, 3).subi(0.5));
        SDVariable b1 = sd.var(VARS[3], Nd4j.rand(DataType.DOUBLE, 3).subi(0.5));
        SDVariable h = sd.math.tanh("h", sd.nn.linear("z0", in, w0, b0));
        SDVariable z1 = sd.nn.linear("z1", h, w1, b1);
        sd.loss.softmaxCrossEntropy("loss", label, z1, null, reduce, 0.0);
        if (config) {
            sd.setTrainingConfig(TrainingConfig.builder()
                    .updater(new Sgd(0.1))
                    .dataSetFeatureMapping("in")
                    .dataSetLabelMapping("label")
                    .minimize("loss")
                    .build());
        }
        return sd;
    }

    private static ProbeBatch multi(DataSet d) {
        return ProbeBatch.of(d);
    }

    /**
     * The same network built as a MultiLayerNetwork, with the SameDiff graph's parameters: every per-example
     * gradient equals DL4J's, block by block (DL4J stores W in 'f' order, SameDiff in 'c'), and so do the Gram
     * matrices, which are what D's spectrum is made of.
     */
    @Test
    void equalsTheSameNetworkBuiltAsAMultiLayerNetwork() {
        SameDiff sd = mlp(3, LossReduce.MEAN_BY_NONZERO_WEIGHT_COUNT, true);
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        net.getLayer(0).setParam("W", sd.getVariable(VARS[0]).getArr().dup('f'));
        net.getLayer(0).setParam("b", sd.getVariable(VARS[1]).getArr().reshape(1, 7));
        net.getLayer(1).setParam("W", sd.getVariable(VARS[2]).getArr().dup('f'));
        net.getLayer(1).setParam("b", sd.getVariable(VARS[3]).getArr().reshape(1, 3));
        DataSet data = TestNetworks.vectors(12, 5, DataType.DOUBLE);
        int[] all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
        SameDiffGradients g = SameDiffGradients.of(sd);
        assertThat(g.path()).isEqualTo("batched"); // every variable is an xw_plus_b's weights or bias
        assertThat(g.variables()).containsExactly(VARS);
        assertThat(g.numParams()).isEqualTo(net.numParams());
        INDArray ours = g.compute(multi(data), all).rows();
        INDArray dl4j = new PerExampleGradients(ProbeMode.EVAL, Long.MAX_VALUE)
                .compute(net, ProbeBatch.of(data), all)
                .rows();
        long[][] shapes = {{5, 7}, {7}, {7, 3}, {3}};
        long[] sdOff = g.offsets();
        long[] dlOff = {0, 35, 42, 63, 66}; // 0_W, 0_b, 1_W, 1_b in DL4J's flat vector
        for (int r = 0; r < all.length; r++) {
            for (int v = 0; v < 4; v++) {
                INDArray a = ours.getRow(r).get(org.nd4j.linalg.indexing.NDArrayIndex.interval(sdOff[v], sdOff[v + 1]));
                INDArray b = dl4j.getRow(r).get(org.nd4j.linalg.indexing.NDArrayIndex.interval(dlOff[v], dlOff[v + 1]));
                INDArray as = a.dup().reshape('c', shapes[v]);
                INDArray bs = b.dup().reshape('f', shapes[v]);
                assertThat(as.sub(bs).amaxNumber().doubleValue())
                        .as("example %s, %s", r, VARS[v])
                        .isLessThan(1e-14);
            }
        }
        double[][] ka = Gram.of(ours);
        double[][] kb = Gram.of(dl4j);
        for (int i = 0; i < all.length; i++) {
            for (int j = 0; j < all.length; j++) {
                assertThat(ka[i][j]).isCloseTo(kb[i][j], within(1e-13));
            }
        }
    }

    /**
     * A small CNN (conv 3×3 → tanh → max-pool 2×2 → dense sigmoid → softmax) written in SameDiff with TestNetworks.cnn's
     * parameters: its per-example gradients have the same Gram matrix as DL4J's (the layouts differ, the spectrum of
     * D does not).
     */
    @Test
    void aCnnWrittenInSameDiffHasTheGradientsOfTheSameMultiLayerNetwork() {
        MultiLayerNetwork net = TestNetworks.cnn(DataType.DOUBLE);
        SameDiff sd = TestGraphs.cnn(net, new Sgd(0.1));
        DataSet data = TestNetworks.images(10, 3, DataType.DOUBLE);
        int[] all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        INDArray ours = SameDiffGradients.of(sd, List.of("in"), List.of("label"))
                .compute(ProbeBatch.of(data), all)
                .rows();
        INDArray dl4j = new PerExampleGradients(ProbeMode.EVAL, Long.MAX_VALUE)
                .compute(net, ProbeBatch.of(data), all)
                .rows();
        assertThat(ours.columns()).isEqualTo(net.numParams());
        assertThat(SameDiffGradients.of(sd).path()).startsWith("exact (variables [layer0/W, layer0/b] are not");
        double[][] ka = Gram.of(ours);
        double[][] kb = Gram.of(dl4j);
        for (int i = 0; i < all.length; i++) {
            for (int j = 0; j < all.length; j++) {
                assertThat(ka[i][j]).as("K[%s][%s]", i, j).isCloseTo(kb[i][j], within(1e-12 * kb[0][0]));
            }
        }
    }

    /**
     * Central differences of one example's loss (on two identical rows its mean is the example's loss), on the exact
     * path (one example) and the batched one (example 3 among three).
     */
    @Test
    void equalsFiniteDifferencesOfTheExampleLoss() {
        SameDiff sd = mlp(4, LossReduce.MEAN_BY_NONZERO_WEIGHT_COUNT, true);
        DataSet data = TestNetworks.vectors(6, 2, DataType.DOUBLE);
        SameDiffGradients g = SameDiffGradients.of(sd);
        INDArray exact = g.compute(multi(data), new int[] {3}).rows();
        INDArray rows = g.compute(multi(data), new int[] {3, 0, 5}).rows();
        assertThat(rows.getRow(0).sub(exact.getRow(0)).amaxNumber().doubleValue())
                .isLessThan(1e-15);
        Map<String, INDArray> ph = Map.of(
                "in",
                        Nd4j.concat(
                                0,
                                data.getFeatures().getRow(3, true),
                                data.getFeatures().getRow(3, true)),
                "label",
                        Nd4j.concat(
                                0,
                                data.getLabels().getRow(3, true),
                                data.getLabels().getRow(3, true)));
        double eps = 1e-6;
        long[] off = g.offsets();
        for (int v = 0; v < 4; v++) {
            INDArray flat = sd.getVariable(VARS[v])
                    .getArr()
                    .reshape(sd.getVariable(VARS[v]).getArr().length());
            for (long c = 0; c < flat.length(); c += 3) {
                double x = flat.getDouble(c);
                flat.putScalar(c, x + eps);
                double up = sd.output(ph, "loss").get("loss").getDouble(0);
                flat.putScalar(c, x - eps);
                double down = sd.output(ph, "loss").get("loss").getDouble(0);
                flat.putScalar(c, x);
                assertThat(rows.getDouble(0, off[v] + c))
                        .as("%s[%s]", VARS[v], c)
                        .isCloseTo((up - down) / (2 * eps), within(1e-8));
            }
        }
    }

    /** A loss summed over the batch gives the same per-example gradients as one averaged over it. */
    @Test
    void aSummedLossGivesTheSameGradients() {
        DataSet data = TestNetworks.vectors(5, 9, DataType.DOUBLE);
        int[] idx = {0, 2, 4};
        INDArray mean = SameDiffGradients.of(mlp(6, LossReduce.MEAN_BY_NONZERO_WEIGHT_COUNT, true))
                .compute(multi(data), idx)
                .rows();
        INDArray sum = SameDiffGradients.of(mlp(6, LossReduce.SUM, true))
                .compute(multi(data), idx)
                .rows();
        assertThat(sum.sub(mean).amaxNumber().doubleValue()).isLessThan(1e-14);
    }

    /** Training with fit() ends bit-identical whether or not gradients are taken on the copy between its steps. */
    @Test
    void trainingIsUntouched() {
        DataSet data = TestNetworks.vectors(8, 1, DataType.DOUBLE);
        SameDiff plain = mlp(7, LossReduce.MEAN_BY_NONZERO_WEIGHT_COUNT, true);
        SameDiff observed = mlp(7, LossReduce.MEAN_BY_NONZERO_WEIGHT_COUNT, true);
        SameDiffGradients g = SameDiffGradients.of(observed);
        for (int step = 0; step < 5; step++) {
            g.sync(observed);
            g.compute(multi(data), new int[] {0, 1, 2, 3}).rows();
            observed.fit(data);
            plain.fit(data);
        }
        for (String v : VARS) {
            assertThat(observed.getVariable(v).getArr())
                    .as(v)
                    .isEqualTo(plain.getVariable(v).getArr());
        }
        assertThat(observed.getVariable(VARS[0]).getArr())
                .isNotEqualTo(mlp(7, LossReduce.MEAN_BY_NONZERO_WEIGHT_COUNT, true)
                        .getVariable(VARS[0])
                        .getArr()); // it did train
    }

    /**
     * A graph whose layers are all sd.nn.linear but which couples the examples (the hidden layer centred on the
     * batch's mean) fails the batched path's check against the exact one: it falls back to the exact path and says
     * why; its gradients are the exact path's.
     */
    @Test
    void aGraphThatCouplesTheExamplesFallsBackToTheExactPath() {
        Nd4j.getRandom().setSeed(11);
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("in", DataType.DOUBLE, -1, 5);
        SDVariable label = sd.placeHolder("label", DataType.DOUBLE, -1, 3);
        SDVariable z0 = sd.nn.linear(
                in,
                sd.var("layer0/W", Nd4j.rand(DataType.DOUBLE, 5, 7).subi(0.5)),
                sd.var("layer0/b", Nd4j.rand(DataType.DOUBLE, 7).subi(0.5)));
        SDVariable h = sd.math.tanh(z0.sub(z0.mean(true, 0)).add(z0.mul(0.5)));
        SDVariable z1 = sd.nn.linear(
                h,
                sd.var("layer1/W", Nd4j.rand(DataType.DOUBLE, 7, 3).subi(0.5)),
                sd.var("layer1/b", Nd4j.rand(DataType.DOUBLE, 3).subi(0.5)));
        sd.loss.softmaxCrossEntropy("loss", label, z1, null);
        SameDiffGradients g = SameDiffGradients.of(sd, List.of("in"), List.of("label"));
        assertThat(g.path()).isEqualTo("batched");
        DataSet data = TestNetworks.vectors(6, 4, DataType.DOUBLE);
        INDArray rows = g.compute(multi(data), new int[] {0, 1, 2}).rows();
        assertThat(g.path()).startsWith("exact (its batched gradients differ").contains("couples the examples");
        INDArray one = g.compute(multi(data), new int[] {1}).rows();
        assertThat(rows.getRow(1).sub(one.getRow(0)).amaxNumber().doubleValue()).isZero();
    }

    @Test
    void badGraphsAreOneClearError() {
        SameDiff noConfig = mlp(1, LossReduce.MEAN_BY_NONZERO_WEIGHT_COUNT, false);
        assertThatThrownBy(() -> SameDiffGradients.of(noConfig))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no TrainingConfig mapping")
                .hasMessageContaining("in")
                .hasMessageContaining("label");
        assertThatThrownBy(() -> SameDiffGradients.of(noConfig, List.of("input"), List.of("label")))
                .hasMessageContaining("input is not a placeholder");
        SameDiff noLoss = SameDiff.create();
        SDVariable x = noLoss.placeHolder("x", DataType.DOUBLE, -1, 2);
        noLoss.var("w", Nd4j.ones(DataType.DOUBLE, 2, 1));
        noLoss.mmul("y", x, noLoss.getVariable("w"));
        assertThatThrownBy(() -> SameDiffGradients.of(noLoss, List.of("x"), List.of()))
                .hasMessageContaining("no loss variable");
    }
}

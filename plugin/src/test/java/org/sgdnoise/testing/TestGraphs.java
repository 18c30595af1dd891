package org.sgdnoise.testing;

import java.util.function.Function;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Pooling2DConfig;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.IUpdater;
import org.sgdnoise.gradients.ParameterLayout;

/**
 * SameDiff graphs written by hand with the architecture and parameters of {@link TestNetworks}' DL4J networks, for
 * the tests that hold the SameDiff paths to the DL4J ones. Placeholders {@code in} and {@code label}, loss
 * {@code loss} (softmax cross-entropy, mean over the batch), the TrainingConfig's updater as given.
 */
public final class TestGraphs {

    private TestGraphs() {}

    /**
     * A dense tanh → softmax network ({@link TestNetworks#mlp}, {@link TestNetworks#denseSoftmax}) with {@code net}'s
     * parameters; variables {@code layer0/W}, {@code layer0/b}, {@code layer1/W}, {@code layer1/b}.
     */
    public static SameDiff mlp(MultiLayerNetwork net, IUpdater updater) {
        DataType dt = net.params().dataType();
        long nIn = net.getParam("0_W").rows();
        long nOut = net.getParam("1_W").columns();
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("in", dt, -1, nIn);
        SDVariable label = sd.placeHolder("label", dt, -1, nOut);
        SDVariable w0 = sd.var("layer0/W", net.getParam("0_W").dup('c'));
        SDVariable b0 = sd.var("layer0/b", flat(net.getParam("0_b")));
        SDVariable w1 = sd.var("layer1/W", net.getParam("1_W").dup('c'));
        SDVariable b1 = sd.var("layer1/b", flat(net.getParam("1_b")));
        SDVariable h = sd.math.tanh(sd.nn.linear(in, w0, b0));
        sd.loss.softmaxCrossEntropy("loss", label, sd.nn.linear(h, w1, b1), null);
        return configured(sd, updater);
    }

    /**
     * {@link TestNetworks#cnn}: conv 3×3 (YXIO weights; OIYX fails in ND4J M2.1's conv2d_bp) → tanh → max-pool 2×2 →
     * dense sigmoid → softmax, with {@code net}'s parameters; variables named after DL4J's layers: {@code layer0/*} (conv), {@code layer2/*}, {@code layer3/*}.
     */
    public static SameDiff cnn(MultiLayerNetwork net, IUpdater updater) {
        DataType dt = net.params().dataType();
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("in", dt, -1, 1, TestNetworks.SIDE, TestNetworks.SIDE);
        SDVariable label = sd.placeHolder("label", dt, -1, TestNetworks.N_OUT);
        SDVariable cw =
                sd.var("layer0/W", net.getParam("0_W").permute(2, 3, 1, 0).dup('c'));
        SDVariable cb = sd.var("layer0/b", flat(net.getParam("0_b")));
        SDVariable conv = sd.cnn.conv2d(
                in,
                cw,
                cb,
                Conv2DConfig.builder()
                        .kH(3)
                        .kW(3)
                        .sH(1)
                        .sW(1)
                        .dataFormat("NCHW")
                        .weightsFormat(WeightsFormat.YXIO)
                        .build());
        SDVariable pool = sd.cnn.maxPooling2d(
                sd.math.tanh(conv),
                Pooling2DConfig.builder().kH(2).kW(2).sH(2).sW(2).isNHWC(false).build());
        SDVariable flatPool = pool.reshape(-1, 27);
        SDVariable dw = sd.var("layer2/W", net.getParam("2_W").dup('c'));
        SDVariable db = sd.var("layer2/b", flat(net.getParam("2_b")));
        SDVariable ow = sd.var("layer3/W", net.getParam("3_W").dup('c'));
        SDVariable ob = sd.var("layer3/b", flat(net.getParam("3_b")));
        SDVariable h = sd.nn.sigmoid(sd.nn.linear(flatPool, dw, db));
        sd.loss.softmaxCrossEntropy("loss", label, sd.nn.linear(h, ow, ob), null);
        return configured(sd, updater);
    }

    /**
     * For each column of the graph's layout ({@link ParameterLayout#of(SameDiff)}), the index in {@code net}'s flat
     * parameter vector of the same parameter: the graph is built by {@code build} from a copy of {@code net} whose
     * parameters are their own indices.
     */
    public static int[] dl4jIndexOfColumns(MultiLayerNetwork net, Function<MultiLayerNetwork, SameDiff> build) {
        MultiLayerNetwork labelled = net.clone();
        labelled.setParams(Nd4j.arange(net.numParams())
                .castTo(DataType.DOUBLE)
                .reshape(1, net.numParams())
                .castTo(net.params().dataType()));
        SameDiff sd = build.apply(labelled);
        ParameterLayout layout = ParameterLayout.of(sd);
        INDArray row = Nd4j.create(DataType.DOUBLE, 1, layout.numParams());
        layout.gather(sd, row);
        int[] out = new int[(int) layout.numParams()];
        for (int c = 0; c < out.length; c++) {
            out[c] = (int) Math.round(row.getDouble(c));
        }
        return out;
    }

    private static SameDiff configured(SameDiff sd, IUpdater updater) {
        sd.setTrainingConfig(TrainingConfig.builder()
                .updater(updater)
                .dataSetFeatureMapping("in")
                .dataSetLabelMapping("label")
                .minimize("loss")
                .build());
        return sd;
    }

    private static INDArray flat(INDArray bias) {
        return bias.dup().reshape(bias.length());
    }
}

package org.sgdnoise.gradients;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.function.Function;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.L2NormalizeVertex;
import org.deeplearning4j.nn.conf.graph.L2Vertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.PoolHelperVertex;
import org.deeplearning4j.nn.conf.graph.PreprocessorVertex;
import org.deeplearning4j.nn.conf.graph.ReshapeVertex;
import org.deeplearning4j.nn.conf.graph.ScaleVertex;
import org.deeplearning4j.nn.conf.graph.ShiftVertex;
import org.deeplearning4j.nn.conf.graph.StackVertex;
import org.deeplearning4j.nn.conf.graph.SubsetVertex;
import org.deeplearning4j.nn.conf.graph.UnstackVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.impl.LayerVertex;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;
import org.sgdnoise.gradients.internal.ProbeNetworks;

/**
 * The batched path for ComputationGraphs against the exact path (DL4J's own backward pass, one example at
 * a time), per example, vertex type by vertex type; and the sum of the per-example gradients of a residual
 * network against DL4J's minibatch gradient.
 */
class GraphBatchedGradientsTest {

    private static final long BUDGET = 1L << 30;
    /** Largest relative error per example allowed between the two paths, in double and in float. */
    private static final double DOUBLE_TOLERANCE = 1e-12;

    private static final double FLOAT_TOLERANCE = 1e-5;
    /** Relative error allowed between the summed per-example gradients and DL4J's minibatch gradient. */
    private static final double SUM_TOLERANCE = 1e-10;

    private static final int SIDE = 8;
    private static final int CLASSES = 3;

    /** Runs both paths on six random examples of ten; asserts the batched path was taken and returns both. */
    private static INDArray[] bothPaths(ComputationGraph cg, MultiDataSet data) {
        PerExampleGradients fast = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
        PerExampleGradients exact = new PerExampleGradients(ProbeMode.EVAL, BUDGET, false);
        ProbeBatch batch = ProbeBatch.of(data);
        int[] idx = PerExampleGradients.select(ExampleSelection.RANDOM, batch.size(), 6, 7);
        INDArray a = fast.compute(cg, batch, idx).rows();
        assertThat(fast.batched()).as("batched path taken").isTrue();
        INDArray b = exact.compute(cg, batch, idx).rows();
        assertThat(exact.batched()).isFalse();
        return new INDArray[] {a, b};
    }

    private static double relError(INDArray a, INDArray b) {
        INDArray ad = a.castTo(DataType.DOUBLE);
        INDArray bd = b.castTo(DataType.DOUBLE);
        return ad.sub(bd).norm2Number().doubleValue() / bd.norm2Number().doubleValue();
    }

    private static void assertEqualPaths(String what, ComputationGraph cg, MultiDataSet data) {
        double tol = cg.params().dataType() == DataType.DOUBLE ? DOUBLE_TOLERANCE : FLOAT_TOLERANCE;
        INDArray[] ab = bothPaths(cg, data);
        // Every example, and every layer's columns non-zero: a swapped row or a missing error would show.
        for (int r = 0; r < ab[0].rows(); r++) {
            assertThat(relError(ab[0].getRow(r), ab[1].getRow(r)))
                    .as("%s, example %d", what, r)
                    .isLessThanOrEqualTo(tol);
        }
        ParameterLayout layout = ParameterLayout.of(cg);
        for (ParameterLayout.LayerRange lr : layout.layerRanges()) {
            INDArray cols = ab[1].get(NDArrayIndex.all(), NDArrayIndex.interval(lr.start(), lr.start() + lr.length()));
            assertThat(cols.norm2Number().doubleValue())
                    .as("%s: gradient of %s", what, lr.layer())
                    .isGreaterThan(0);
        }
    }

    private static NeuralNetConfiguration.Builder base(long seed, DataType dt) {
        return new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(dt)
                .weightInit(WeightInit.XAVIER)
                .updater(new Sgd(0.1));
    }

    private static ComputationGraph init(ComputationGraphConfiguration conf) {
        ComputationGraph cg = new ComputationGraph(conf);
        cg.init();
        return cg;
    }

    private static OutputLayer softmax(int nIn) {
        return new OutputLayer.Builder(LossFunction.MCXENT)
                .nIn(nIn)
                .nOut(CLASSES)
                .activation(Activation.SOFTMAX)
                .build();
    }

    private static DenseLayer dense(int nIn, int nOut, Activation fn) {
        return new DenseLayer.Builder().nIn(nIn).nOut(nOut).activation(fn).build();
    }

    /**
     * The residual benchmark model in small: conv stem → conv → BatchNorm → add the stem (skip connection)
     * → ReLU → global average pooling → dense → softmax output, trained with Adam.
     */
    static ComputationGraph residual(DataType dt) {
        ComputationGraphConfiguration conf = base(21, dt)
                .updater(new Adam(1e-3))
                .graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.convolutional(SIDE, SIDE, 3))
                .addLayer(
                        "stem",
                        new ConvolutionLayer.Builder(3, 3)
                                .nOut(4)
                                .convolutionMode(ConvolutionMode.Same)
                                .activation(Activation.RELU)
                                .build(),
                        "in")
                .addLayer(
                        "conv",
                        new ConvolutionLayer.Builder(3, 3)
                                .nOut(4)
                                .convolutionMode(ConvolutionMode.Same)
                                .activation(Activation.IDENTITY)
                                .build(),
                        "stem")
                .addLayer("bn", new BatchNormalization.Builder().build(), "conv")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "bn", "stem")
                .addLayer(
                        "relu",
                        new ActivationLayer.Builder()
                                .activation(Activation.RELU)
                                .build(),
                        "add")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "relu")
                .addLayer(
                        "fc",
                        new DenseLayer.Builder()
                                .nOut(6)
                                .activation(Activation.TANH)
                                .build(),
                        "pool")
                .addLayer(
                        "out",
                        new OutputLayer.Builder(LossFunction.MCXENT)
                                .nOut(CLASSES)
                                .activation(Activation.SOFTMAX)
                                .build(),
                        "fc")
                .setOutputs("out")
                .build();
        return init(conf);
    }

    /** n examples: Gaussian features of the given shapes (rows first) and one-hot labels of the given widths. */
    static MultiDataSet data(int n, long seed, DataType dt, long[][] featureShapes, int... labelWidths) {
        Random r = new Random(seed);
        INDArray[] x = new INDArray[featureShapes.length];
        for (int i = 0; i < x.length; i++) {
            long[] shape = featureShapes[i].clone();
            shape[0] = n;
            x[i] = Nd4j.create(dt, shape);
            for (long j = 0; j < x[i].length(); j++) {
                x[i].putScalar(j, r.nextGaussian());
            }
        }
        INDArray[] y = new INDArray[labelWidths.length];
        for (int i = 0; i < y.length; i++) {
            y[i] = Nd4j.create(dt, n, labelWidths[i]);
            for (int j = 0; j < n; j++) {
                y[i].putScalar(j, r.nextInt(labelWidths[i]), 1.0);
            }
        }
        return new MultiDataSet(x, y);
    }

    private static MultiDataSet images(int n, long seed, DataType dt) {
        return data(n, seed, dt, new long[][] {{n, 3, SIDE, SIDE}}, CLASSES);
    }

    /** Trains a few steps so that BatchNorm's running statistics and Adam's state are not the initial ones. */
    private static ComputationGraph trained(ComputationGraph cg, MultiDataSet data) {
        for (int i = 0; i < 3; i++) {
            cg.fit(data);
        }
        return cg;
    }

    @Test
    void residualGraphWithBatchNormTakesTheBatchedPathAndMatchesTheExactPath() {
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            ComputationGraph cg = trained(residual(dt), images(16, 1, dt));
            assertEqualPaths("residual " + dt, cg, images(10, 2, dt));
        }
    }

    @Test
    void residualGraphPerExampleGradientsSumToDl4jsMinibatchGradient() {
        // With BatchNorm on running statistics the examples decouple: a whole-batch pass of the probe network
        // (DL4J's own backward pass) gives the sum of the per-example gradients.
        ComputationGraph cg = trained(residual(DataType.DOUBLE), images(16, 3, DataType.DOUBLE));
        MultiDataSet ds = images(8, 4, DataType.DOUBLE);
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
        int[] all = PerExampleGradients.select(ExampleSelection.FIRST, 8, 8, 0);
        INDArray sum = engine.compute(cg, ProbeBatch.of(ds), all).rows().sum(0);
        assertThat(engine.batched()).isTrue();
        ComputationGraph probe = (ComputationGraph) ProbeNetworks.build(cg, false);
        probe.setInputs(ds.getFeatures());
        probe.setLabels(ds.getLabels());
        probe.computeGradientAndScore();
        INDArray expected = Nd4j.create(DataType.DOUBLE, engine.layout().numParams());
        engine.layout().gather(probe.gradient().gradient(), expected);
        assertThat(expected.norm2Number().doubleValue()).isGreaterThan(0);
        assertThat(relError(sum, expected)).isLessThanOrEqualTo(SUM_TOLERANCE);
    }

    /** Inputs a (5) and b (4) merged; two outputs, one of them also fed by b's branch alone. */
    static ComputationGraph twoInputsTwoOutputs(DataType dt) {
        ComputationGraphConfiguration conf = base(22, dt)
                .graphBuilder()
                .addInputs("a", "b")
                .addLayer("da", dense(5, 4, Activation.TANH), "a")
                .addLayer("db", dense(4, 3, Activation.SIGMOID), "b")
                .addVertex("merge", new MergeVertex(), "da", "db")
                .addLayer("h", dense(7, 5, Activation.ELU), "merge")
                .addLayer("out1", softmax(5), "h")
                .addVertex("merge2", new MergeVertex(), "h", "db")
                .addLayer(
                        "out2",
                        new OutputLayer.Builder(LossFunction.MSE)
                                .nIn(8)
                                .nOut(2)
                                .activation(Activation.IDENTITY)
                                .build(),
                        "merge2")
                .setOutputs("out1", "out2")
                .build();
        return init(conf);
    }

    @Test
    void twoInputsMergedAndTwoOutputsMatchTheExactPathAndDl4jsMinibatchGradient() {
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            assertEqualPaths(
                    "two in, two out " + dt,
                    twoInputsTwoOutputs(dt),
                    data(10, 5, dt, new long[][] {{0, 5}, {0, 4}}, CLASSES, 2));
        }
        // DL4J's raw training gradient (loss summed over both outputs) is the sum of the per-example ones.
        ComputationGraph cg = twoInputsTwoOutputs(DataType.DOUBLE);
        PerExampleGradientsTest.Capture c = new PerExampleGradientsTest.Capture();
        cg.addListeners(c);
        cg.fit(data(12, 6, DataType.DOUBLE, new long[][] {{0, 5}, {0, 4}}, CLASSES, 2));
        assertThat(c.engine.batched()).isTrue();
        assertThat(relError(c.perExampleSum, c.raw)).isLessThanOrEqualTo(SUM_TOLERANCE);
    }

    /** in (6) → dense x, dense y (6 each) → vertex → dense → softmax, for a two-input element-wise vertex. */
    private static ComputationGraph twoBranches(DataType dt, ElementWiseVertex.Op op) {
        return init(base(23, dt)
                .graphBuilder()
                .addInputs("in")
                .addLayer("x", dense(6, 6, Activation.TANH), "in")
                .addLayer("y", dense(6, 6, Activation.SIGMOID), "in")
                .addVertex("op", new ElementWiseVertex(op), "x", "y")
                .addLayer("h", dense(6, 4, Activation.TANH), "op")
                .addLayer("out", softmax(4), "h")
                .setOutputs("out")
                .build());
    }

    private static MultiDataSet vectors(int n, long seed, DataType dt, int width) {
        return data(n, seed, dt, new long[][] {{0, width}}, CLASSES);
    }

    @Test
    void everyElementWiseOperationMatchesTheExactPath() {
        for (ElementWiseVertex.Op op : ElementWiseVertex.Op.values()) {
            assertEqualPaths("ElementWise " + op, twoBranches(DataType.DOUBLE, op), vectors(10, 7, DataType.DOUBLE, 6));
        }
        assertEqualPaths(
                "ElementWise Product FLOAT",
                twoBranches(DataType.FLOAT, ElementWiseVertex.Op.Product),
                vectors(10, 7, DataType.FLOAT, 6));
    }

    /** One graph per vertex type: dense(6, tanh) h → the vertices built by {@code middle} → dense → softmax. */
    private static ComputationGraph around(DataType dt, int width, Function<GraphBuilder, String> middle) {
        GraphBuilder g = base(24, dt).graphBuilder().addInputs("in").addLayer("h", dense(6, 6, Activation.TANH), "in");
        String last = middle.apply(g);
        return init(g.addLayer("h2", dense(width, 4, Activation.TANH), last)
                .addLayer("out", softmax(4), "h2")
                .setOutputs("out")
                .build());
    }

    @Test
    void subsetL2L2NormalizeScaleShiftAndReshapeVerticesMatchTheExactPath() {
        DataType dt = DataType.DOUBLE;
        MultiDataSet data = vectors(10, 8, dt, 6);
        assertEqualPaths(
                "subset and product",
                around(dt, 3, g -> {
                    g.addVertex("first", new SubsetVertex(0, 2), "h");
                    g.addVertex("last", new SubsetVertex(3, 5), "h");
                    g.addVertex("prod", new ElementWiseVertex(ElementWiseVertex.Op.Product), "first", "last");
                    return "prod";
                }),
                data);
        assertEqualPaths(
                "L2 distance",
                around(dt, 1, g -> {
                    g.addLayer("other", dense(6, 6, Activation.SIGMOID), "in");
                    g.addVertex("l2", new L2Vertex(), "h", "other");
                    return "l2";
                }),
                data);
        assertEqualPaths(
                "L2 normalize",
                around(dt, 6, g -> {
                    g.addVertex("norm", new L2NormalizeVertex(), "h");
                    return "norm";
                }),
                data);
        assertEqualPaths(
                "scale and shift",
                around(dt, 6, g -> {
                    g.addVertex("scale", new ScaleVertex(0.7), "h");
                    g.addVertex("shift", new ShiftVertex(0.3), "scale");
                    return "shift";
                }),
                data);
        assertEqualPaths(
                "reshape",
                around(dt, 6, g -> {
                    g.addVertex("3d", new ReshapeVertex(-1, 2, 3), "h");
                    g.addVertex("2d", new ReshapeVertex(-1, 6), "3d");
                    return "2d";
                }),
                data);
    }

    @Test
    void aLayerVertexWithAPreprocessorMatchesTheExactPath() {
        // setInputTypes puts a CnnToFeedForwardPreProcessor on the dense layer vertex after the convolution.
        ComputationGraph cg = init(base(29, DataType.DOUBLE)
                .graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.convolutional(SIDE, SIDE, 3))
                .addLayer(
                        "conv",
                        new ConvolutionLayer.Builder(3, 3)
                                .stride(2, 2)
                                .nOut(2)
                                .activation(Activation.TANH)
                                .build(),
                        "in")
                .addLayer(
                        "fc",
                        new DenseLayer.Builder()
                                .nOut(5)
                                .activation(Activation.TANH)
                                .build(),
                        "conv")
                .addLayer(
                        "out",
                        new OutputLayer.Builder(LossFunction.MCXENT)
                                .nOut(CLASSES)
                                .activation(Activation.SOFTMAX)
                                .build(),
                        "fc")
                .setOutputs("out")
                .build());
        assertThat(((LayerVertex) cg.getVertex("fc")).getLayerPreProcessor())
                .isInstanceOf(CnnToFeedForwardPreProcessor.class);
        assertEqualPaths("layer vertex preprocessor", cg, images(10, 12, DataType.DOUBLE));
    }

    @Test
    void aPreprocessorVertexAfterAConvolutionMatchesTheExactPath() {
        ComputationGraph cg = init(base(25, DataType.DOUBLE)
                .graphBuilder()
                .addInputs("in")
                .addLayer(
                        "conv",
                        new ConvolutionLayer.Builder(3, 3)
                                .nIn(3)
                                .nOut(2)
                                .activation(Activation.TANH)
                                .build(),
                        "in")
                .addVertex("flat", new PreprocessorVertex(new CnnToFeedForwardPreProcessor(6, 6, 2)), "conv")
                .addLayer("out", softmax(72), "flat")
                .setOutputs("out")
                .build());
        assertEqualPaths("preprocessor vertex", cg, images(10, 9, DataType.DOUBLE));
    }

    @Test
    void aLayerSharedThroughStackAndUnstackMatchesTheExactPath() {
        // The siamese pattern: both inputs through one dense layer (stacked along the rows), then apart again.
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            ComputationGraph cg = init(base(26, dt)
                    .graphBuilder()
                    .addInputs("a", "b")
                    .addVertex("stack", new StackVertex(), "a", "b")
                    .addLayer("shared", dense(5, 4, Activation.TANH), "stack")
                    .addVertex("ua", new UnstackVertex(0, 2), "shared")
                    .addVertex("ub", new UnstackVertex(1, 2), "shared")
                    .addVertex("diff", new ElementWiseVertex(ElementWiseVertex.Op.Subtract), "ua", "ub")
                    .addLayer("out", softmax(4), "diff")
                    .setOutputs("out")
                    .build());
            assertEqualPaths("stack and unstack " + dt, cg, data(10, 10, dt, new long[][] {{0, 5}, {0, 5}}, CLASSES));
        }
    }

    @Test
    void aLayerVertexWhoseRowsAreNotExamplesFallsBackToTheExactPathWithTheSameGradients() {
        // Dense on a sequence: DL4J folds the time steps into the rows (RnnToFeedForwardPreProcessor).
        ComputationGraph cg = init(base(30, DataType.DOUBLE)
                .graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.recurrent(3, 5))
                .addLayer(
                        "fc",
                        new DenseLayer.Builder()
                                .nOut(4)
                                .activation(Activation.TANH)
                                .build(),
                        "in")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "fc")
                .addLayer(
                        "out",
                        new OutputLayer.Builder(LossFunction.MCXENT)
                                .nOut(CLASSES)
                                .activation(Activation.SOFTMAX)
                                .build(),
                        "pool")
                .setOutputs("out")
                .build());
        ProbeBatch batch = ProbeBatch.of(data(6, 13, DataType.DOUBLE, new long[][] {{0, 3, 5}}, CLASSES));
        int[] idx = {0, 1, 2, 3};
        PerExampleGradients e = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
        INDArray a = e.factors(cg, batch, idx).rows();
        assertThat(e.batched()).isFalse();
        INDArray b = new PerExampleGradients(ProbeMode.EVAL, BUDGET, false)
                .compute(cg, batch, idx)
                .rows();
        assertThat(relError(a, b)).isEqualTo(0.0);
    }

    @Test
    void unverifiedVerticesAndUnsupportedLayersTakeTheExactPathAndSayWhich() {
        ComputationGraph poolHelper = init(base(27, DataType.DOUBLE)
                .graphBuilder()
                .addInputs("in")
                .addLayer(
                        "conv",
                        new ConvolutionLayer.Builder(3, 3)
                                .nIn(3)
                                .nOut(2)
                                .activation(Activation.TANH)
                                .build(),
                        "in")
                .addVertex("helper", new PoolHelperVertex(), "conv")
                .addVertex("flat", new PreprocessorVertex(new CnnToFeedForwardPreProcessor(5, 5, 2)), "helper")
                .addLayer("out", softmax(50), "flat")
                .setOutputs("out")
                .build());
        PerExampleGradients e = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
        ProbeBatch batch = ProbeBatch.of(images(4, 11, DataType.DOUBLE));
        INDArray rows = e.compute(poolHelper, batch, new int[] {0, 1, 2}).rows();
        assertThat(e.batched()).isFalse();
        assertThat(GraphBatchedGradients.unsupportedReason((ComputationGraph) ProbeNetworks.build(poolHelper, false)))
                .contains("helper (PoolHelperVertex");
        INDArray exact = new PerExampleGradients(ProbeMode.EVAL, BUDGET, false)
                .compute(poolHelper, batch, new int[] {0, 1, 2})
                .rows();
        assertThat(relError(rows, exact)).isEqualTo(0.0);

        ComputationGraph lstm = init(base(28, DataType.DOUBLE)
                .graphBuilder()
                .addInputs("in")
                .addLayer("lstm", new LSTM.Builder().nIn(3).nOut(4).build(), "in")
                .addLayer(
                        "rnnOut",
                        new RnnOutputLayer.Builder(LossFunction.MCXENT)
                                .nIn(4)
                                .nOut(CLASSES)
                                .activation(Activation.SOFTMAX)
                                .build(),
                        "lstm")
                .setOutputs("rnnOut")
                .build());
        assertThat(GraphBatchedGradients.unsupportedReason((ComputationGraph) ProbeNetworks.build(lstm, false)))
                .doesNotContain("lstm (LSTM") // the LSTM has a rule now; a graph's output must be an OutputLayer
                .contains("rnnOut (RnnOutputLayer");
    }
}

package org.sgdnoise.gradients;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Random;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional;
import org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossFMeasure;
import org.sgdnoise.gradients.internal.ProbeNetworks;
import org.sgdnoise.testing.TestNetworks;

/**
 * The batched path against the exact path (DL4J's own backward pass, one example at a time), layer type
 * by layer type, and the Gram matrix from factors against the Gram matrix of the materialised rows.
 */
class BatchedGradientsTest {

    private static final long BUDGET = 1L << 30;

    /** Runs both paths on the first k examples; asserts the batched path was taken and returns both. */
    private static INDArray[] bothPaths(MultiLayerNetwork net, DataSet data, int k) {
        PerExampleGradients fast = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
        PerExampleGradients exact = new PerExampleGradients(ProbeMode.EVAL, BUDGET, false);
        ProbeBatch batch = ProbeBatch.of(data);
        int[] idx = PerExampleGradients.select(ExampleSelection.RANDOM, batch.size(), k, 7);
        INDArray a = fast.compute(net, batch, idx).rows();
        assertThat(fast.batched()).as("batched path taken").isTrue();
        INDArray b = exact.compute(net, batch, idx).rows();
        assertThat(exact.batched()).isFalse();
        return new INDArray[] {a, b};
    }

    private static double relError(INDArray a, INDArray b) {
        INDArray ad = a.castTo(DataType.DOUBLE);
        INDArray bd = b.castTo(DataType.DOUBLE);
        return ad.sub(bd).norm2Number().doubleValue() / bd.norm2Number().doubleValue();
    }

    private static void assertEqualPaths(MultiLayerNetwork net, DataSet data, double tol) {
        INDArray[] ab = bothPaths(net, data, 6);
        assertThat(ab[1].norm2Number().doubleValue()).isGreaterThan(0);
        // Every example, not just the whole block: a swapped or missing row would show here.
        for (int r = 0; r < ab[0].rows(); r++) {
            assertThat(relError(ab[0].getRow(r), ab[1].getRow(r)))
                    .as("example %d", r)
                    .isLessThanOrEqualTo(tol);
        }
    }

    @Test
    void denseAndOutputLayersMatchTheExactPath() {
        assertEqualPaths(TestNetworks.mlp(DataType.DOUBLE), TestNetworks.vectors(10, 1, DataType.DOUBLE), 1e-12);
        assertEqualPaths(TestNetworks.mlp(DataType.FLOAT), TestNetworks.vectors(10, 1, DataType.FLOAT), 1e-5);
    }

    @Test
    void everyOutputLossAndActivationMatchesTheExactPath() {
        Object[][] cases = {
            {LossFunction.MCXENT, Activation.SOFTMAX},
            {LossFunction.NEGATIVELOGLIKELIHOOD, Activation.SOFTMAX},
            {LossFunction.MSE, Activation.IDENTITY},
            {LossFunction.L1, Activation.TANH},
            {LossFunction.L2, Activation.IDENTITY},
            {LossFunction.XENT, Activation.SIGMOID},
            {LossFunction.HINGE, Activation.IDENTITY},
            {LossFunction.SQUARED_HINGE, Activation.IDENTITY},
            {LossFunction.KL_DIVERGENCE, Activation.SOFTMAX},
            {LossFunction.MEAN_ABSOLUTE_ERROR, Activation.LEAKYRELU},
            {LossFunction.COSINE_PROXIMITY, Activation.IDENTITY},
            {LossFunction.POISSON, Activation.SOFTPLUS},
            {LossFunction.MEAN_SQUARED_LOGARITHMIC_ERROR, Activation.RELU},
        };
        DataSet data = TestNetworks.vectors(10, 2, DataType.DOUBLE);
        // Labels off 0 keep the log-based losses (KL, MSLE, Poisson) finite; the hinge losses take any labels.
        data.getLabels().addi(0.05);
        for (Object[] c : cases) {
            MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                    .seed(3)
                    .dataType(DataType.DOUBLE)
                    .weightInit(WeightInit.XAVIER)
                    .updater(new Sgd(0.1))
                    .list()
                    .layer(new DenseLayer.Builder()
                            .nIn(TestNetworks.N_IN)
                            .nOut(6)
                            .activation(Activation.ELU)
                            .build())
                    .layer(new DenseLayer.Builder()
                            .nIn(6)
                            .nOut(5)
                            .activation(Activation.SIGMOID)
                            .hasBias(false)
                            .build())
                    .layer(new OutputLayer.Builder((LossFunction) c[0])
                            .nIn(5)
                            .nOut(TestNetworks.N_OUT)
                            .activation((Activation) c[1])
                            .build())
                    .build();
            MultiLayerNetwork net = new MultiLayerNetwork(conf);
            net.init();
            INDArray[] ab = bothPaths(net, data, 6);
            assertThat(ab[1].norm2Number().doubleValue()).as("%s", c[0]).isGreaterThan(0);
            assertThat(relError(ab[0], ab[1])).as("%s with %s", c[0], c[1]).isLessThanOrEqualTo(1e-12);
        }
    }

    @Test
    void convolutionsWithPaddingStrideDilationAndSameModeMatchTheExactPath() {
        ConvolutionLayer[] convs = {
            new ConvolutionLayer.Builder(3, 3)
                    .nOut(4)
                    .activation(Activation.TANH)
                    .build(),
            new ConvolutionLayer.Builder(3, 2)
                    .stride(2, 1)
                    .padding(1, 0)
                    .nOut(3)
                    .activation(Activation.RELU)
                    .build(),
            new ConvolutionLayer.Builder(3, 3)
                    .dilation(2, 2)
                    .nOut(2)
                    .activation(Activation.SIGMOID)
                    .hasBias(false)
                    .build(),
            new ConvolutionLayer.Builder(3, 3)
                    .stride(2, 2)
                    .convolutionMode(ConvolutionMode.Same)
                    .nOut(3)
                    .activation(Activation.TANH)
                    .build(),
        };
        for (ConvolutionLayer conv : convs) {
            MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                    .seed(5)
                    .dataType(DataType.DOUBLE)
                    .weightInit(WeightInit.XAVIER)
                    .updater(new Sgd(0.1))
                    .list()
                    .layer(new ConvolutionLayer.Builder(2, 2)
                            .nOut(2)
                            .activation(Activation.TANH)
                            .build())
                    .layer(conv)
                    .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.AVG)
                            .kernelSize(2, 2)
                            .stride(1, 1)
                            .build())
                    .layer(new OutputLayer.Builder(LossFunction.MCXENT)
                            .nOut(TestNetworks.N_OUT)
                            .activation(Activation.SOFTMAX)
                            .build())
                    .setInputType(InputType.convolutional(TestNetworks.SIDE, TestNetworks.SIDE, 2))
                    .build();
            MultiLayerNetwork net = new MultiLayerNetwork(conf);
            net.init();
            DataSet data = images(10, 2);
            assertEqualPaths(net, data, 1e-12);
        }
        assertEqualPaths(TestNetworks.cnn(DataType.DOUBLE), TestNetworks.images(10, 3, DataType.DOUBLE), 1e-12);
        assertEqualPaths(TestNetworks.cnn(DataType.FLOAT), TestNetworks.images(10, 3, DataType.FLOAT), 1e-5);
    }

    private static DataSet images(int n, int channels) {
        Random r = new Random(11);
        INDArray x = Nd4j.create(DataType.DOUBLE, n, channels, TestNetworks.SIDE, TestNetworks.SIDE);
        for (long i = 0; i < x.length(); i++) {
            x.putScalar(i, r.nextGaussian());
        }
        DataSet one = TestNetworks.images(n, 4, DataType.DOUBLE);
        return new DataSet(x, one.getLabels());
    }

    @Test
    void batchNormInInferenceModeAndDropoutInEvalModeMatchTheExactPath() {
        MultiLayerNetwork bn = TestNetworks.batchNormCnn(DataType.DOUBLE);
        // Non-trivial running statistics, as after training.
        for (int i = 0; i < 3; i++) {
            bn.fit(TestNetworks.images(16, 20 + i, DataType.DOUBLE));
        }
        assertEqualPaths(bn, TestNetworks.images(10, 5, DataType.DOUBLE), 1e-12);
        assertEqualPaths(TestNetworks.dropoutMlp(DataType.DOUBLE), TestNetworks.vectors(10, 6, DataType.DOUBLE), 1e-12);
    }

    @Test
    void unsupportedModelsTakeTheExactPathAndSayWhy() {
        PerExampleGradients e = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
        DataSet seq = TestNetworks.sequences(4, 1, DataType.DOUBLE);
        MultiLayerNetwork rnn = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(1)
                .dataType(DataType.DOUBLE)
                .list()
                .layer(new Bidirectional(new SimpleRnn.Builder()
                        .nIn(3)
                        .nOut(4)
                        .activation(Activation.TANH)
                        .build()))
                .layer(new RnnOutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(8)
                        .nOut(TestNetworks.N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build())
                .setInputType(InputType.recurrent(3))
                .build());
        rnn.init();
        e.compute(rnn, ProbeBatch.of(new DataSet(seq.getFeatures(), seq.getLabels())), new int[] {0, 1});
        assertThat(e.batched()).isFalse();
        assertThat(BatchedGradients.unsupportedReason((MultiLayerNetwork) ProbeNetworks.build(rnn, false)))
                .contains("layer0 (BidirectionalLayer")
                .doesNotContain("layer1");

        PerExampleGradients train = new PerExampleGradients(ProbeMode.TRAIN, BUDGET);
        train.compute(
                TestNetworks.mlp(DataType.DOUBLE),
                ProbeBatch.of(TestNetworks.vectors(4, 1, DataType.DOUBLE)),
                new int[] {0, 1});
        assertThat(train.batched()).isFalse();
        // ComputationGraphs that fall back: GraphBatchedGradientsTest.
    }

    @Test
    void lossesThatCoupleExamplesRReLUAndDuplicateNamesTakeTheExactPath() {
        MultiLayerConfiguration fMeasure = new NeuralNetConfiguration.Builder()
                .seed(1)
                .dataType(DataType.DOUBLE)
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(TestNetworks.N_IN)
                        .nOut(4)
                        .activation(Activation.TANH)
                        .build())
                .layer(new OutputLayer.Builder(new LossFMeasure())
                        .nIn(4)
                        .nOut(1)
                        .activation(Activation.SIGMOID)
                        .build())
                .build();
        MultiLayerConfiguration rrelu = new NeuralNetConfiguration.Builder()
                .seed(1)
                .dataType(DataType.DOUBLE)
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(TestNetworks.N_IN)
                        .nOut(4)
                        .activation(Activation.RRELU)
                        .build())
                .layer(new OutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(4)
                        .nOut(TestNetworks.N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
        MultiLayerConfiguration sameNames = new NeuralNetConfiguration.Builder()
                .seed(1)
                .dataType(DataType.DOUBLE)
                .list()
                .layer(new DenseLayer.Builder()
                        .name("d")
                        .nIn(TestNetworks.N_IN)
                        .nOut(4)
                        .activation(Activation.TANH)
                        .build())
                .layer(new DenseLayer.Builder()
                        .name("d")
                        .nIn(4)
                        .nOut(4)
                        .activation(Activation.TANH)
                        .build())
                .layer(new OutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(4)
                        .nOut(TestNetworks.N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
        String[] expected = {"LossFMeasure", "RReLU", "two layers are named d"};
        MultiLayerConfiguration[] confs = {fMeasure, rrelu, sameNames};
        for (int c = 0; c < confs.length; c++) {
            MultiLayerNetwork net = new MultiLayerNetwork(confs[c]);
            net.init();
            assertThat(BatchedGradients.unsupportedReason((MultiLayerNetwork) ProbeNetworks.build(net, false)))
                    .contains(expected[c]);
        }
    }

    @Test
    void aLayerWhoseRowsAreNotExamplesFallsBackToTheExactPathWithTheSameGradients() {
        // Dense on a sequence: DL4J folds the time steps into the rows (RnnToFeedForwardPreProcessor).
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(2)
                .dataType(DataType.DOUBLE)
                .weightInit(WeightInit.XAVIER)
                .updater(new Sgd(0.1))
                .list()
                .layer(new DenseLayer.Builder()
                        .nOut(4)
                        .activation(Activation.TANH)
                        .build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).build())
                .layer(new OutputLayer.Builder(LossFunction.MCXENT)
                        .nOut(TestNetworks.N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build())
                .setInputType(InputType.recurrent(3, 5))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        Random r = new Random(3);
        INDArray x = Nd4j.create(DataType.DOUBLE, 6, 3, 5);
        for (long i = 0; i < x.length(); i++) {
            x.putScalar(i, r.nextGaussian());
        }
        DataSet data =
                new DataSet(x, TestNetworks.vectors(6, 4, DataType.DOUBLE).getLabels());
        PerExampleGradients e = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
        int[] idx = {0, 1, 2, 3};
        INDArray a = e.factors(net, ProbeBatch.of(data), idx).rows();
        assertThat(e.batched()).isFalse();
        INDArray b = new PerExampleGradients(ProbeMode.EVAL, BUDGET, false)
                .compute(net, ProbeBatch.of(data), idx)
                .rows();
        assertThat(relError(a, b)).isEqualTo(0.0);
    }

    @Test
    void closingTheFactorsLeavesTheTrainingBatchIntact() {
        MultiLayerNetwork net = TestNetworks.cnn(DataType.DOUBLE);
        DataSet data = TestNetworks.images(5, 8, DataType.DOUBLE);
        INDArray before = data.getFeatures().dup();
        PerExampleGradients e = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
        ProbeBatch batch = ProbeBatch.of(data);
        int[] all = {0, 1, 2, 3, 4};
        double[][] g1;
        try (GradientFactors f = e.factors(net, batch, all)) {
            g1 = f.gram();
        }
        assertThat(data.getFeatures().equalsWithEps(before, 0)).isTrue();
        net.fit(data); // the model still trains on its batch
        try (GradientFactors f = e.factors(net, batch, all)) {
            assertThat(f.gram()[0][0]).isNotEqualTo(g1[0][0]); // new parameters, new gradients
        }
    }

    /** A 784×512 MLP like the benchmark's, smaller output. */
    static MultiLayerNetwork wideMlp(DataType dt) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(9)
                .dataType(dt)
                .weightInit(WeightInit.RELU)
                .updater(new Sgd(0.1))
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(784)
                        .nOut(512)
                        .activation(Activation.RELU)
                        .build())
                .layer(new OutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(512)
                        .nOut(10)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    static DataSet wideData(int n, DataType dt) {
        Random r = new Random(13);
        INDArray x = Nd4j.create(dt, n, 784);
        INDArray y = Nd4j.create(dt, n, 10);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < 784; j++) {
                x.putScalar(i, j, Math.max(0, r.nextGaussian()));
            }
            y.putScalar(i, r.nextInt(10), 1.0);
        }
        return new DataSet(x, y);
    }

    @Test
    void gramFromFactorsEqualsTheGramOfTheRows() {
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            MultiLayerNetwork net = wideMlp(dt);
            ProbeBatch batch = ProbeBatch.of(wideData(40, dt));
            int[] idx = PerExampleGradients.select(ExampleSelection.FIRST, 40, 40, 0);
            PerExampleGradients e = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
            GradientFactors f = e.factors(net, batch, idx);
            assertThat(f.factored()).isTrue();
            INDArray rows = f.rows();
            PerExampleGradients exact = new PerExampleGradients(ProbeMode.EVAL, BUDGET, false);
            assertThat(relError(rows, exact.compute(net, batch, idx).rows()))
                    .isLessThanOrEqualTo(dt == DataType.DOUBLE ? 1e-12 : 1e-5);
            double[][] oracle = rows.castTo(DataType.DOUBLE)
                    .mmul(rows.castTo(DataType.DOUBLE).transpose())
                    .toDoubleMatrix();
            double[][] g = f.gram();
            double tol = dt == DataType.DOUBLE ? 1e-12 : 1e-5;
            assertThat(maxRelDiff(g, oracle)).as("%s", dt).isLessThanOrEqualTo(tol);
            // Per layer: the blocks of columns.
            var ranges = e.layout().layerRanges();
            List<double[][]> layers = List.copyOf(f.layerGrams().values());
            assertThat(layers).hasSize(ranges.size());
            for (int l = 0; l < ranges.size(); l++) {
                var lr = ranges.get(l);
                INDArray cols = rows.castTo(DataType.DOUBLE)
                        .get(NDArrayIndex.all(), NDArrayIndex.interval(lr.start(), lr.start() + lr.length()));
                assertThat(maxRelDiff(layers.get(l), cols.mmul(cols.transpose()).toDoubleMatrix()))
                        .as("%s layer %s", dt, lr.layer())
                        .isLessThanOrEqualTo(tol);
            }
        }
    }

    /** Largest |a − b| over the largest |b|. */
    private static double maxRelDiff(double[][] a, double[][] b) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < b.length; i++) {
            for (int j = 0; j < b.length; j++) {
                diff = Math.max(diff, Math.abs(a[i][j] - b[i][j]));
                scale = Math.max(scale, Math.abs(b[i][j]));
            }
        }
        return diff / scale;
    }

    @Test
    void factorsOnTheExactPathWrapTheRows() {
        PerExampleGradients e = new PerExampleGradients(ProbeMode.EVAL, BUDGET, false);
        MultiLayerNetwork net = TestNetworks.batchNormCnn(DataType.DOUBLE);
        ProbeBatch batch = ProbeBatch.of(TestNetworks.images(6, 1, DataType.DOUBLE));
        int[] idx = {0, 1, 2, 3};
        GradientFactors f = e.factors(net, batch, idx);
        assertThat(f.factored()).isFalse();
        INDArray rows = e.compute(net, batch, idx).rows();
        assertThat(relError(f.rows(), rows)).isEqualTo(0.0);
        double[][] oracle = rows.mmul(rows.transpose()).toDoubleMatrix();
        assertThat(maxRelDiff(f.gram(), oracle)).isLessThanOrEqualTo(1e-12);
    }
}

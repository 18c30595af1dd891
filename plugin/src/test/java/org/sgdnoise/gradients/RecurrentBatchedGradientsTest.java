package org.sgdnoise.gradients;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.GravesLSTM;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;
import org.sgdnoise.gradients.internal.ProbeNetworks;

/**
 * The batched path for recurrent and embedding layers against the exact path (DL4J's own backward pass,
 * one example at a time, with its masks), example by example, and the sum of the per-example gradients
 * against DL4J's minibatch gradient.
 */
class RecurrentBatchedGradientsTest {

    private static final long BUDGET = 1L << 30;
    private static final double DOUBLE_TOLERANCE = 1e-12;
    private static final double FLOAT_TOLERANCE = 1e-5;

    private static final int N_IN = 3;
    private static final int N_OUT = 3;
    private static final int STEPS = 7;
    private static final int VOCAB = 9;
    /** Lengths of the examples: full, one step, and others in between (the exact path sees each alone). */
    private static final int[] LENGTHS = {STEPS, 1, 3, 5, 2, 6, 4};

    private static double tolerance(DataType dt) {
        return dt == DataType.DOUBLE ? DOUBLE_TOLERANCE : FLOAT_TOLERANCE;
    }

    private static MultiLayerNetwork net(DataType dt, Layer... layers) {
        return net(dt, null, layers);
    }

    private static MultiLayerNetwork net(DataType dt, InputType inputType, Layer... layers) {
        NeuralNetConfiguration.ListBuilder b = new NeuralNetConfiguration.Builder()
                .seed(17)
                .dataType(dt)
                .weightInit(WeightInit.XAVIER)
                .updater(new Sgd(0.1))
                .list();
        for (Layer l : layers) {
            b.layer(l);
        }
        if (inputType != null) {
            b.setInputType(inputType);
        }
        MultiLayerConfiguration conf = b.build();
        MultiLayerNetwork n = new MultiLayerNetwork(conf);
        n.init();
        return n;
    }

    private static MultiLayerNetwork lstmNet(DataType dt, boolean graves) {
        Layer rnn = graves
                ? new GravesLSTM.Builder()
                        .nIn(N_IN)
                        .nOut(5)
                        .activation(Activation.TANH)
                        .build()
                : new LSTM.Builder()
                        .nIn(N_IN)
                        .nOut(5)
                        .activation(Activation.TANH)
                        .build();
        return net(
                dt,
                rnn,
                new RnnOutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(5)
                        .nOut(N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build());
    }

    /** One mask for features and labels: example i has length LENGTHS[i]. */
    private static INDArray mask(DataType dt) {
        INDArray m = Nd4j.create(dt, LENGTHS.length, STEPS);
        for (int i = 0; i < LENGTHS.length; i++) {
            for (int t = 0; t < LENGTHS[i]; t++) {
                m.putScalar(i, t, 1.0);
            }
        }
        return m;
    }

    /** Sequences of N_IN features and per-step one-hot labels, masked by {@link #mask}. */
    private static DataSet sequences(DataType dt, long seed) {
        Random r = new Random(seed);
        int n = LENGTHS.length;
        INDArray x = Nd4j.create(dt, n, N_IN, STEPS);
        INDArray y = Nd4j.create(dt, n, N_OUT, STEPS);
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < STEPS; t++) {
                for (int j = 0; j < N_IN; j++) {
                    x.putScalar(new long[] {i, j, t}, r.nextGaussian());
                }
                y.putScalar(new long[] {i, r.nextInt(N_OUT), t}, 1.0);
            }
        }
        INDArray m = mask(dt);
        return new DataSet(x, y, m, m.dup());
    }

    /** Token sequences over a small vocabulary (tokens repeat within and across examples), 2-D labels. */
    private static DataSet tokens(DataType dt, long seed, int steps, boolean masked) {
        Random r = new Random(seed);
        int n = LENGTHS.length;
        INDArray x = Nd4j.create(dt, n, steps);
        INDArray y = Nd4j.create(dt, n, N_OUT);
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < steps; t++) {
                x.putScalar(i, t, r.nextInt(4) == 0 ? 2 : r.nextInt(VOCAB));
            }
            y.putScalar(i, r.nextInt(N_OUT), 1.0);
        }
        return masked ? new DataSet(x, y, mask(dt), null) : new DataSet(x, y);
    }

    private static double relError(INDArray a, INDArray b) {
        INDArray ad = a.castTo(DataType.DOUBLE);
        INDArray bd = b.castTo(DataType.DOUBLE);
        return ad.sub(bd).norm2Number().doubleValue() / bd.norm2Number().doubleValue();
    }

    /** Both paths on every example; asserts the batched path was taken; returns the largest relative error. */
    private static double assertEqualPaths(MultiLayerNetwork net, DataSet data, double tol) {
        ProbeBatch batch = ProbeBatch.of(data);
        int[] idx = PerExampleGradients.select(ExampleSelection.RANDOM, batch.size(), batch.size(), 3);
        PerExampleGradients fast = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
        INDArray a = fast.compute(net, batch, idx).rows();
        assertThat(fast.batched()).as("batched path taken").isTrue();
        PerExampleGradients exact = new PerExampleGradients(ProbeMode.EVAL, BUDGET, false);
        INDArray b = exact.compute(net, batch, idx).rows();
        assertThat(exact.batched()).isFalse();
        double worst = 0;
        for (int r = 0; r < a.rows(); r++) {
            assertThat(b.getRow(r).norm2Number().doubleValue())
                    .as("example %d has a gradient", idx[r])
                    .isGreaterThan(0);
            double e = relError(a.getRow(r), b.getRow(r));
            assertThat(e).as("example %d", idx[r]).isLessThanOrEqualTo(tol);
            worst = Math.max(worst, e);
        }
        return worst;
    }

    @Test
    void maskedLstmWithVariableLengthsMatchesTheExactPath() {
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            assertEqualPaths(lstmNet(dt, false), sequences(dt, 1), tolerance(dt));
        }
    }

    @Test
    void unmaskedLabelMaskedAndFeatureMaskedLstmMatchTheExactPath() {
        DataSet masked = sequences(DataType.DOUBLE, 2);
        MultiLayerNetwork net = lstmNet(DataType.DOUBLE, false);
        assertEqualPaths(net, new DataSet(masked.getFeatures(), masked.getLabels()), DOUBLE_TOLERANCE);
        assertEqualPaths(
                net,
                new DataSet(masked.getFeatures(), masked.getLabels(), null, masked.getLabelsMaskArray()),
                DOUBLE_TOLERANCE);
        // A feature mask alone: DL4J's loss then counts every step, and the LSTM must mask the errors that
        // reach its masked steps.
        assertEqualPaths(
                net,
                new DataSet(masked.getFeatures(), masked.getLabels(), masked.getFeaturesMaskArray(), null),
                DOUBLE_TOLERANCE);
    }

    @Test
    void maskedGravesLstmWithPeepholesMatchesTheExactPath() {
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            assertEqualPaths(lstmNet(dt, true), sequences(dt, 4), tolerance(dt));
        }
    }

    @Test
    void stackedLstmsMatchTheExactPath() {
        // The lower LSTM needs the error the upper one passes down, masked.
        MultiLayerNetwork net = net(
                DataType.DOUBLE,
                new LSTM.Builder().nIn(N_IN).nOut(4).activation(Activation.TANH).build(),
                new GravesLSTM.Builder()
                        .nIn(4)
                        .nOut(5)
                        .activation(Activation.SOFTSIGN)
                        .build(),
                new RnnOutputLayer.Builder(LossFunction.MSE)
                        .nIn(5)
                        .nOut(N_OUT)
                        .activation(Activation.IDENTITY)
                        .build());
        assertEqualPaths(net, sequences(DataType.DOUBLE, 5), DOUBLE_TOLERANCE);
    }

    private static MultiLayerNetwork embeddingLstmNet(DataType dt, int steps) {
        return net(
                dt,
                new EmbeddingSequenceLayer.Builder()
                        .nIn(VOCAB)
                        .nOut(4)
                        .inputLength(steps)
                        .build(),
                new LastTimeStep(new LSTM.Builder()
                        .nIn(4)
                        .nOut(5)
                        .activation(Activation.TANH)
                        .build()),
                new OutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(5)
                        .nOut(N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build());
    }

    @Test
    void embeddingSequenceLastTimeStepLstmWithMasksMatchesTheExactPath() {
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            assertEqualPaths(embeddingLstmNet(dt, STEPS), tokens(dt, 6, STEPS, true), tolerance(dt));
            assertEqualPaths(embeddingLstmNet(dt, STEPS), tokens(dt, 7, STEPS, false), tolerance(dt));
        }
    }

    /** Masks with leading padding, gaps and single steps: DL4J masks the LSTM's state at every masked step. */
    private static final double[][] IRREGULAR = {
        {1, 1, 1, 1, 1, 1, 1},
        {0, 0, 1, 1, 1, 1, 1},
        {1, 1, 0, 1, 1, 0, 0},
        {0, 1, 0, 1, 0, 1, 0},
        {1, 0, 0, 0, 0, 0, 0},
        {0, 0, 0, 0, 0, 0, 1},
        {1, 1, 1, 0, 1, 1, 1},
    };

    @Test
    void lastTimeStepLstmWithLeadingPaddingAndGapsMatchesTheExactPath() {
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            DataSet data = tokens(dt, 12, STEPS, false);
            data.setFeaturesMaskArray(Nd4j.create(IRREGULAR).castTo(dt));
            assertEqualPaths(embeddingLstmNet(dt, STEPS), data, tolerance(dt));
            MultiLayerNetwork graves = net(
                    dt,
                    new LastTimeStep(new GravesLSTM.Builder()
                            .nIn(N_IN)
                            .nOut(5)
                            .activation(Activation.TANH)
                            .build()),
                    new OutputLayer.Builder(LossFunction.MCXENT)
                            .nIn(5)
                            .nOut(N_OUT)
                            .activation(Activation.SOFTMAX)
                            .build());
            DataSet seq = sequences(dt, 13);
            assertEqualPaths(
                    graves,
                    new DataSet(seq.getFeatures(), data.getLabels(), data.getFeaturesMaskArray(), null),
                    tolerance(dt));
        }
    }

    @Test
    void embeddingDenseOutputMatchesTheExactPath() {
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            MultiLayerNetwork net = net(
                    dt,
                    new EmbeddingLayer.Builder()
                            .nIn(VOCAB)
                            .nOut(4)
                            .activation(Activation.TANH)
                            .build(),
                    new DenseLayer.Builder()
                            .nIn(4)
                            .nOut(6)
                            .activation(Activation.RELU)
                            .build(),
                    new OutputLayer.Builder(LossFunction.MCXENT)
                            .nIn(6)
                            .nOut(N_OUT)
                            .activation(Activation.SOFTMAX)
                            .build());
            assertEqualPaths(net, tokens(dt, 8, 1, false), tolerance(dt));
        }
    }

    @Test
    void gramOfSparseEmbeddingGradientsEqualsTheGramOfTheRows() {
        MultiLayerNetwork net = embeddingLstmNet(DataType.DOUBLE, STEPS);
        ProbeBatch batch = ProbeBatch.of(tokens(DataType.DOUBLE, 9, STEPS, true));
        int[] idx = PerExampleGradients.select(ExampleSelection.FIRST, batch.size(), batch.size(), 0);
        PerExampleGradients e = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
        GradientFactors f = e.factors(net, batch, idx);
        assertThat(e.batched()).isTrue();
        assertThat(f.factored()).isTrue();
        INDArray rows = f.rows();
        double[][] oracle = rows.mmul(rows.transpose()).toDoubleMatrix();
        double[][] g = f.gram();
        for (int i = 0; i < g.length; i++) {
            for (int j = 0; j < g.length; j++) {
                assertThat(g[i][j])
                        .as("G[%d][%d]", i, j)
                        .isCloseTo(oracle[i][j], org.assertj.core.api.Assertions.within(1e-12 * oracle[i][i] + 1e-300));
            }
        }
        INDArray mean = rows.mean(0).reshape(1, f.d());
        assertThat(relError(f.meanRow(), mean)).isLessThanOrEqualTo(1e-14);
    }

    @Test
    void sumOverMaskedSequencesEqualsDl4jsMinibatchGradientOnTheBatchedPath() {
        MultiLayerNetwork net = lstmNet(DataType.DOUBLE, false);
        PerExampleGradientsTest.Capture c = new PerExampleGradientsTest.Capture();
        net.addListeners(c);
        net.fit(sequences(DataType.DOUBLE, 10));
        assertThat(c.engine.batched()).as("batched path taken").isTrue();
        double rel = c.perExampleSum.sub(c.raw).norm2Number().doubleValue()
                / c.raw.norm2Number().doubleValue();
        assertThat(rel).isLessThanOrEqualTo(PerExampleGradientsTest.SUM_TOLERANCE);
    }

    @Test
    void simpleRnnsWithIrregularMasksMatchTheExactPath() {
        // A bare SimpleRnn keeps its mask (unlike LSTM): leading padding and gaps reach its recurrence.
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            DataSet seq = sequences(dt, 14);
            INDArray irregular = Nd4j.create(IRREGULAR).castTo(dt);
            MultiLayerNetwork stacked = net(
                    dt,
                    new SimpleRnn.Builder()
                            .nIn(N_IN)
                            .nOut(4)
                            .activation(Activation.TANH)
                            .build(),
                    new SimpleRnn.Builder()
                            .nIn(4)
                            .nOut(5)
                            .activation(Activation.SOFTSIGN)
                            .build(),
                    new RnnOutputLayer.Builder(LossFunction.MCXENT)
                            .nIn(5)
                            .nOut(N_OUT)
                            .activation(Activation.SOFTMAX)
                            .build());
            assertEqualPaths(stacked, new DataSet(seq.getFeatures(), seq.getLabels(), irregular, null), tolerance(dt));
            assertEqualPaths(
                    stacked,
                    new DataSet(seq.getFeatures(), seq.getLabels(), irregular, irregular.dup()),
                    tolerance(dt));
            MultiLayerNetwork last = net(
                    dt,
                    new LastTimeStep(new SimpleRnn.Builder()
                            .nIn(N_IN)
                            .nOut(5)
                            .activation(Activation.TANH)
                            .build()),
                    new OutputLayer.Builder(LossFunction.MCXENT)
                            .nIn(5)
                            .nOut(N_OUT)
                            .activation(Activation.SOFTMAX)
                            .build());
            assertEqualPaths(
                    last,
                    new DataSet(seq.getFeatures(), tokens(dt, 15, 1, false).getLabels(), irregular, null),
                    tolerance(dt));
        }
    }

    @Test
    void maskedGlobalPoolingOverRecurrentLayersMatchesTheExactPath() {
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            DataSet seq = sequences(dt, 16);
            INDArray irregular = Nd4j.create(IRREGULAR).castTo(dt);
            INDArray labels = tokens(dt, 17, 1, false).getLabels();
            PoolingType[] types = {PoolingType.AVG, PoolingType.MAX, PoolingType.SUM};
            for (PoolingType type : types) {
                MultiLayerNetwork pooled = net(
                        dt,
                        type == PoolingType.MAX
                                ? new SimpleRnn.Builder()
                                        .nIn(N_IN)
                                        .nOut(5)
                                        .activation(Activation.TANH)
                                        .build()
                                : new LSTM.Builder()
                                        .nIn(N_IN)
                                        .nOut(5)
                                        .activation(Activation.TANH)
                                        .build(),
                        new GlobalPoolingLayer.Builder(type).build(),
                        new OutputLayer.Builder(LossFunction.MCXENT)
                                .nIn(5)
                                .nOut(N_OUT)
                                .activation(Activation.SOFTMAX)
                                .build());
                assertEqualPaths(pooled, new DataSet(seq.getFeatures(), labels, irregular, null), tolerance(dt));
            }
        }
    }

    @Test
    void sumOverMaskedTokenSequencesEqualsDl4jsMinibatchGradientInsideFit() {
        // Inside fit() the feature mask lives only on the layers (MultiLayerNetwork.getMask() is null), and
        // LastTimeStep needs it: the probe must read it from there.
        MultiLayerNetwork net = embeddingLstmNet(DataType.DOUBLE, STEPS);
        PerExampleGradientsTest.Capture c = new PerExampleGradientsTest.Capture();
        net.addListeners(c);
        DataSet data = tokens(DataType.DOUBLE, 18, STEPS, false);
        data.setFeaturesMaskArray(Nd4j.create(IRREGULAR));
        net.fit(data);
        assertThat(c.engine.batched()).as("batched path taken").isTrue();
        double rel = c.perExampleSum.sub(c.raw).norm2Number().doubleValue()
                / c.raw.norm2Number().doubleValue();
        assertThat(rel).isLessThanOrEqualTo(PerExampleGradientsTest.SUM_TOLERANCE);
    }

    @Test
    void bidirectionalLstmsInEveryModeMatchTheExactPath() {
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            DataSet seq = sequences(dt, 19);
            DataSet unmasked = new DataSet(seq.getFeatures(), seq.getLabels());
            for (Bidirectional.Mode mode : Bidirectional.Mode.values()) {
                Layer inner = mode == Bidirectional.Mode.MUL
                        ? new GravesLSTM.Builder()
                                .nOut(4)
                                .activation(Activation.TANH)
                                .build()
                        : new LSTM.Builder().nOut(4).activation(Activation.TANH).build();
                // A layer below, so that the error the bidirectional layer passes down is checked too.
                MultiLayerNetwork bi = net(
                        dt,
                        InputType.recurrent(N_IN),
                        new SimpleRnn.Builder()
                                .nOut(3)
                                .activation(Activation.TANH)
                                .build(),
                        new Bidirectional(mode, inner),
                        new LSTM.Builder().nOut(3).activation(Activation.TANH).build(),
                        new RnnOutputLayer.Builder(LossFunction.MCXENT)
                                .nOut(N_OUT)
                                .activation(Activation.SOFTMAX)
                                .build());
                assertEqualPaths(bi, unmasked, tolerance(dt));
            }
        }
        // With masks: no batched rule yet (DL4J hands the halves reversed masks), so the exact path.
        MultiLayerNetwork bi = net(
                DataType.DOUBLE,
                InputType.recurrent(N_IN),
                new Bidirectional(new LSTM.Builder()
                        .nIn(N_IN)
                        .nOut(4)
                        .activation(Activation.TANH)
                        .build()),
                new RnnOutputLayer.Builder(LossFunction.MCXENT)
                        .nOut(N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build());
        PerExampleGradients e = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
        e.compute(bi, ProbeBatch.of(sequences(DataType.DOUBLE, 20)), new int[] {0, 1});
        assertThat(e.batched()).isFalse();
    }

    @Test
    void recurrentLayersWithoutARuleTakeTheExactPathAndSayWhy() {
        MultiLayerNetwork bidirectional = net(
                DataType.DOUBLE,
                InputType.recurrent(N_IN),
                new Bidirectional(new SimpleRnn.Builder()
                        .nIn(N_IN)
                        .nOut(4)
                        .activation(Activation.TANH)
                        .build()),
                new RnnOutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(8)
                        .nOut(N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build());
        PerExampleGradients e = new PerExampleGradients(ProbeMode.EVAL, BUDGET);
        DataSet seq = sequences(DataType.DOUBLE, 11);
        e.compute(bidirectional, ProbeBatch.of(new DataSet(seq.getFeatures(), seq.getLabels())), new int[] {0, 1});
        assertThat(e.batched()).isFalse();
        assertThat(BatchedGradients.unsupportedReason((MultiLayerNetwork) ProbeNetworks.build(bidirectional, false)))
                .contains("layer0 (BidirectionalLayer: Bidirectional around SimpleRnn");
        MultiLayerNetwork layerNorm = net(
                DataType.DOUBLE,
                new SimpleRnn.Builder().nIn(N_IN).nOut(4).hasLayerNorm(true).build(),
                new RnnOutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(4)
                        .nOut(N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build());
        assertThat(BatchedGradients.unsupportedReason((MultiLayerNetwork) ProbeNetworks.build(layerNorm, false)))
                .contains("layer0 (SimpleRnn: layer normalisation");
    }
}

package org.sgdnoise.testing;

import java.util.Random;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** Small seeded networks and data for tests. Smooth activations, so finite differences are exact. */
public final class TestNetworks {

    public static final int N_IN = 5;
    public static final int N_OUT = 3;
    public static final int SIDE = 8;

    private TestNetworks() {}

    private static NeuralNetConfiguration.Builder base(long seed, DataType dt) {
        return new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(dt)
                .weightInit(WeightInit.XAVIER)
                .updater(new Nesterovs(0.05, 0.9));
    }

    /**
     * Dense(nIn→hidden, tanh) → Output(hidden→nOut, softmax, MCXENT) with DL4J's default weight init, the given seed,
     * data type and updater: the one small dense network of the tests.
     */
    public static MultiLayerNetwork denseSoftmax(
            long seed, int nIn, int hidden, int nOut, DataType dt, IUpdater updater) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(dt)
                .updater(updater)
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(nIn)
                        .nOut(hidden)
                        .activation(Activation.TANH)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nIn(hidden)
                        .nOut(nOut)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build());
        net.init();
        return net;
    }

    /**
     * Conv(5×5, 2 channels) → max-pool 4/4 → Output(10, softmax) on 28×28 single-channel images: the one small
     * image CNN of the tests; {@code flatInput} takes rows of 784 instead of [n, 1, 28, 28].
     */
    public static MultiLayerNetwork imageCnn28(
            long seed, Activation activation, boolean flatInput, DataType dt, IUpdater updater) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(dt)
                .updater(updater)
                .list()
                .layer(new ConvolutionLayer.Builder(5, 5)
                        .nOut(2)
                        .activation(activation)
                        .build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                        .kernelSize(4, 4)
                        .stride(4, 4)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nOut(10)
                        .activation(Activation.SOFTMAX)
                        .build())
                .setInputType(flatInput ? InputType.convolutionalFlat(28, 28, 1) : InputType.convolutional(28, 28, 1))
                .build());
        net.init();
        return net;
    }

    /** Dense(5→hidden, tanh) → Output(hidden→3, softmax, MCXENT) in float, with its own seed and updater. */
    public static MultiLayerNetwork mlp(long seed, int hidden, IUpdater updater) {
        MultiLayerConfiguration conf = base(seed, DataType.FLOAT)
                .updater(updater)
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(N_IN)
                        .nOut(hidden)
                        .activation(Activation.TANH)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nIn(hidden)
                        .nOut(N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** Dense(5→7, tanh) → Output(7→3, softmax, MCXENT). */
    public static MultiLayerNetwork mlp(DataType dt) {
        MultiLayerConfiguration conf = base(42, dt)
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(N_IN)
                        .nOut(7)
                        .activation(Activation.TANH)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nIn(7)
                        .nOut(N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** Like {@link #mlp} with dropout (retain 0.6) on the hidden and output layers' inputs. */
    public static MultiLayerNetwork dropoutMlp(DataType dt) {
        MultiLayerConfiguration conf = base(43, dt)
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(N_IN)
                        .nOut(8)
                        .activation(Activation.TANH)
                        .dropOut(0.6)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nIn(8)
                        .nOut(N_OUT)
                        .activation(Activation.SOFTMAX)
                        .dropOut(0.6)
                        .build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** Conv(3×3, 3 channels, tanh) → max-pool 2×2 → Dense(6, sigmoid) → Output(3) on 1×8×8 images. */
    public static MultiLayerNetwork cnn(DataType dt) {
        MultiLayerConfiguration conf = base(44, dt)
                .list()
                .layer(new ConvolutionLayer.Builder(3, 3)
                        .nOut(3)
                        .activation(Activation.TANH)
                        .build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                        .kernelSize(2, 2)
                        .stride(2, 2)
                        .build())
                .layer(new DenseLayer.Builder()
                        .nOut(6)
                        .activation(Activation.SIGMOID)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nOut(N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build())
                .setInputType(InputType.convolutional(SIDE, SIDE, 1))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** Conv → BN → tanh → max-pool → Dense → BN → tanh → Output: BatchNorm on rank-4 and rank-2 inputs. */
    public static MultiLayerNetwork batchNormCnn(DataType dt) {
        MultiLayerConfiguration conf = base(45, dt)
                .list()
                .layer(new ConvolutionLayer.Builder(3, 3)
                        .nOut(3)
                        .activation(Activation.IDENTITY)
                        .build())
                .layer(new BatchNormalization.Builder().build())
                .layer(new ActivationLayer.Builder().activation(Activation.TANH).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                        .kernelSize(2, 2)
                        .stride(2, 2)
                        .build())
                .layer(new DenseLayer.Builder()
                        .nOut(6)
                        .activation(Activation.IDENTITY)
                        .build())
                .layer(new BatchNormalization.Builder().build())
                .layer(new ActivationLayer.Builder().activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nOut(N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build())
                .setInputType(InputType.convolutional(SIDE, SIDE, 1))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** Two inputs, each through a dense layer, merged, then an output layer. */
    public static ComputationGraph graph(DataType dt) {
        ComputationGraphConfiguration conf = base(46, dt)
                .graphBuilder()
                .addInputs("a", "b")
                .addLayer(
                        "da",
                        new DenseLayer.Builder()
                                .nIn(N_IN)
                                .nOut(4)
                                .activation(Activation.TANH)
                                .build(),
                        "a")
                .addLayer(
                        "db",
                        new DenseLayer.Builder()
                                .nIn(2)
                                .nOut(3)
                                .activation(Activation.SIGMOID)
                                .dropOut(0.7)
                                .build(),
                        "b")
                .addVertex("m", new MergeVertex(), "da", "db")
                .addLayer(
                        "out",
                        new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                                .nIn(7)
                                .nOut(N_OUT)
                                .activation(Activation.SOFTMAX)
                                .build(),
                        "m")
                .setOutputs("out")
                .build();
        ComputationGraph cg = new ComputationGraph(conf);
        cg.init();
        return cg;
    }

    /** Like {@link #graph} on one input, with SGD. */
    public static ComputationGraph simpleGraph(DataType dt) {
        ComputationGraphConfiguration conf = base(47, dt)
                .updater(new Sgd(0.1))
                .graphBuilder()
                .addInputs("in")
                .addLayer(
                        "h",
                        new DenseLayer.Builder()
                                .nIn(N_IN)
                                .nOut(6)
                                .activation(Activation.TANH)
                                .dropOut(0.7)
                                .build(),
                        "in")
                .addLayer(
                        "out",
                        new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                                .nIn(6)
                                .nOut(N_OUT)
                                .activation(Activation.SOFTMAX)
                                .build(),
                        "h")
                .setOutputs("out")
                .build();
        ComputationGraph cg = new ComputationGraph(conf);
        cg.init();
        return cg;
    }

    /** LSTM(3→4) → RnnOutputLayer(3 classes per time step). */
    public static MultiLayerNetwork rnn(DataType dt) {
        MultiLayerConfiguration conf = base(48, dt)
                .list()
                .layer(new LSTM.Builder()
                        .nIn(3)
                        .nOut(4)
                        .activation(Activation.TANH)
                        .build())
                .layer(new RnnOutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nIn(4)
                        .nOut(N_OUT)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /**
     * n sequences of 3 features over 6 time steps with one-hot labels per step; example i has length
     * 2 + (i mod 5), the rest masked out in both the feature and the label mask.
     */
    public static DataSet sequences(int n, long seed, DataType dt) {
        int steps = 6;
        Random r = new Random(seed);
        INDArray x = Nd4j.create(dt, n, 3, steps);
        INDArray y = Nd4j.create(dt, n, N_OUT, steps);
        INDArray mask = Nd4j.create(dt, n, steps);
        for (int i = 0; i < n; i++) {
            int len = 2 + (i % 5);
            for (int t = 0; t < steps; t++) {
                for (int j = 0; j < 3; j++) {
                    x.putScalar(new long[] {i, j, t}, r.nextGaussian());
                }
                y.putScalar(new long[] {i, r.nextInt(N_OUT), t}, 1.0);
                mask.putScalar(i, t, t < len ? 1.0 : 0.0);
            }
        }
        return new DataSet(x, y, mask, mask.dup());
    }

    /** n examples of 5 features and one-hot labels over 3 classes. */
    public static DataSet vectors(int n, long seed, DataType dt) {
        INDArray x = Nd4j.create(dt, n, N_IN);
        Random r = new Random(seed);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < N_IN; j++) {
                x.putScalar(i, j, r.nextGaussian());
            }
        }
        return new DataSet(x, oneHot(n, r, dt));
    }

    /** n images 1×8×8 and one-hot labels. */
    public static DataSet images(int n, long seed, DataType dt) {
        Random r = new Random(seed);
        INDArray x = Nd4j.create(dt, n, 1, SIDE, SIDE);
        for (int i = 0; i < n; i++) {
            for (int a = 0; a < SIDE; a++) {
                for (int b = 0; b < SIDE; b++) {
                    x.putScalar(new long[] {i, 0, a, b}, r.nextGaussian());
                }
            }
        }
        return new DataSet(x, oneHot(n, r, dt));
    }

    /** n examples for {@link #graph}: inputs of 5 and 2 features. */
    public static MultiDataSet graphData(int n, long seed, DataType dt) {
        Random r = new Random(seed);
        INDArray a = Nd4j.create(dt, n, N_IN);
        INDArray b = Nd4j.create(dt, n, 2);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < N_IN; j++) {
                a.putScalar(i, j, r.nextGaussian());
            }
            for (int j = 0; j < 2; j++) {
                b.putScalar(i, j, r.nextGaussian());
            }
        }
        return new MultiDataSet(new INDArray[] {a, b}, new INDArray[] {oneHot(n, r, dt)});
    }

    private static INDArray oneHot(int n, Random r, DataType dt) {
        INDArray y = Nd4j.create(dt, n, N_OUT);
        for (int i = 0; i < n; i++) {
            y.putScalar(i, r.nextInt(N_OUT), 1.0);
        }
        return y;
    }
}

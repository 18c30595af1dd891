package org.sgdnoise.samples.jmh;

import java.util.List;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.sgdnoise.samples.bench.UserModels;

/** The networks and seeded synthetic inputs the benchmarks share. */
final class BenchmarkModels {

    /** Pixels of a 28×28 image, the input of both models. */
    static final int INPUTS = 784;
    /** Classes of the output layer. */
    static final int CLASSES = 10;

    private BenchmarkModels() {}

    /** The model names the benchmarks take: the wide MLP and the five user models of {@link UserModels}. */
    static final List<String> NAMES = List.of("mlp", "mlp64", "lenet", "resnet", "lstm", "embedding");

    /**
     * The network named {@code model}: {@code mlp} (784-512-10, dense, the performance targets' MLP), or a user
     * model of the {@code bench} matrix ({@link UserModels}): {@code mlp64} (its 784-64-10 {@code mlp}),
     * {@code lenet} (the small LeNet), {@code resnet}, {@code lstm}, {@code embedding}.
     */
    static Model model(String model, long seed) {
        return switch (model) {
            case "mlp" -> wideMlp(seed);
            case "mlp64" -> (Model) UserModels.build("mlp", seed);
            case "lenet", "resnet", "lstm", "embedding" -> (Model) UserModels.build(model, seed);
            default -> throw new IllegalArgumentException("model must be one of " + NAMES + ", got " + model);
        };
    }

    /**
     * {@code n} seeded examples for {@code model}: uniform 28×28 images ({@link #examples(int, long)}) for the
     * image models, the user models' own masked synthetic sequences for {@code lstm} and {@code embedding}.
     */
    static DataSet examples(String model, int n, long seed) {
        return switch (model) {
            case "lstm", "embedding" -> UserModels.examples(model, null, n, seed);
            default -> examples(n, seed);
        };
    }

    /** The MLP of the performance targets: 784 → 512 (ReLU) → 10 (softmax), 407,050 parameters, float32. */
    static MultiLayerNetwork wideMlp(long seed) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .weightInit(WeightInit.RELU)
                .updater(new Nesterovs(0.01, 0.9))
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(INPUTS)
                        .nOut(512)
                        .activation(Activation.RELU)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nIn(512)
                        .nOut(CLASSES)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** {@code n} examples of uniform pixels in [0, 1) and uniformly drawn one-hot labels, float32. */
    static DataSet examples(int n, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray features = Nd4j.rand(DataType.FLOAT, n, INPUTS);
        INDArray labels = Nd4j.zeros(DataType.FLOAT, n, CLASSES);
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            labels.putScalar(i, random.nextInt(CLASSES), 1.0);
        }
        return new DataSet(features, labels);
    }

    /** The indices 0, 1, ..., n − 1. */
    static int[] first(int n) {
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        return idx;
    }
}

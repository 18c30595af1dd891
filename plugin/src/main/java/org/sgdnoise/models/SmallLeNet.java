package org.sgdnoise.models;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The paper's small LeNet (Chaudhari and Soatto 2018; theory.md §2): conv 5×5 (8) → BN → ReLU → max-pool
 * 3/3 → conv 5×5 (16) → BN → ReLU → max-pool 2/2 → dense 128 → BN → ReLU → dense 10, with dropout
 * before the last layer ({@link #build}) or, as the paper trains it, after every block with weight decay
 * ({@link #paper}). On 28×28 inputs it has 13,338 trainable parameters (plus 304 BatchNorm running
 * statistics), as in the paper.
 */
public final class SmallLeNet {

    /** Trainable parameters on 28×28 inputs (BatchNorm running statistics excluded). */
    public static final int TRAINABLE_PARAMS = 13_338;

    private SmallLeNet() {}

    /** DL4J's dropOut(p) takes the probability of keeping a unit; 0 turns dropout off. */
    private static double retain(double dropRate) {
        return dropRate == 0 ? 0 : 1 - dropRate;
    }

    /** A small MLP 784 → 64 (ReLU) → 10 (softmax), 50,890 parameters, for fast long runs. */
    public static MultiLayerNetwork mlp(long seed, double learningRate, double momentum) {
        return mlp(seed, learningRate, momentum, 0);
    }

    /** The MLP with L2 regularisation (coefficient {@code l2}, 0 for none). */
    public static MultiLayerNetwork mlp(long seed, double learningRate, double momentum, double l2) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .l2(l2)
                .weightInit(WeightInit.RELU)
                .updater(momentum > 0 ? new Nesterovs(learningRate, momentum) : new Sgd(learningRate))
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(784)
                        .nOut(64)
                        .activation(Activation.RELU)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nIn(64)
                        .nOut(10)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /**
     * Softmax regression 784 → 10 with plain SGD and L2 coefficient {@code l2} on the weights (DL4J's {@code l2}: the
     * biases are not regularised), 7,850 parameters: a convex loss with a unique minimum, for sampling experiments.
     */
    public static MultiLayerNetwork softmax(long seed, double learningRate, double l2) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .l2(l2)
                .weightInit(WeightInit.XAVIER)
                .updater(new Sgd(learningRate))
                .list()
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nIn(784)
                        .nOut(10)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** Builds and initialises the network with SGD + Nesterov momentum, dropout (rate 0.2) before the last layer. */
    public static MultiLayerNetwork build(long seed, double learningRate, double momentum) {
        return build(seed, learningRate, momentum, 0, 0, 0.2);
    }

    /**
     * The network as the paper trains it: weight decay (L2 coefficient {@code l2}, the gradient gains l2·θ) and
     * dropout after every block (the two convolution blocks and the dense block) at {@code dropRate}, the
     * probability that a unit is dropped.
     */
    public static MultiLayerNetwork paper(long seed, double learningRate, double momentum, double l2, double dropRate) {
        return build(seed, learningRate, momentum, l2, dropRate, dropRate);
    }

    /**
     * The network, with dropout at {@code blockDrop} after the two convolution blocks and at {@code lastDrop} after
     * the dense block (0: none); drop rates in [0, 1).
     */
    private static MultiLayerNetwork build(
            long seed, double learningRate, double momentum, double l2, double blockDrop, double lastDrop) {
        if (!(l2 >= 0) || !(blockDrop >= 0 && blockDrop < 1) || !(lastDrop >= 0 && lastDrop < 1)) {
            throw new IllegalArgumentException("need l2 >= 0 and drop rates in [0, 1), got l2 " + l2 + ", drop rates "
                    + blockDrop + " and " + lastDrop);
        }
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .l2(l2)
                .weightInit(WeightInit.RELU)
                .updater(new Nesterovs(learningRate, momentum))
                .list()
                .layer(new ConvolutionLayer.Builder(5, 5)
                        .nOut(8)
                        .activation(Activation.IDENTITY)
                        .build())
                .layer(new BatchNormalization.Builder().build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                        .kernelSize(3, 3)
                        .stride(3, 3)
                        .build())
                .layer(new ConvolutionLayer.Builder(5, 5)
                        .nOut(16)
                        .activation(Activation.IDENTITY)
                        .dropOut(retain(blockDrop))
                        .build())
                .layer(new BatchNormalization.Builder().build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                        .kernelSize(2, 2)
                        .stride(2, 2)
                        .build())
                .layer(new DenseLayer.Builder()
                        .nOut(128)
                        .activation(Activation.IDENTITY)
                        .dropOut(retain(blockDrop))
                        .build())
                .layer(new BatchNormalization.Builder().build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nOut(10)
                        .activation(Activation.SOFTMAX)
                        .dropOut(retain(lastDrop))
                        .build())
                .setInputType(InputType.convolutionalFlat(28, 28, 1))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }
}

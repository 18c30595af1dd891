package org.sgdnoise.samples.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.models.SmallLeNet;
import org.sgdnoise.samples.data.BuiltinData;
import org.sgdnoise.sampling.WithoutReplacementSampler;

/**
 * The five user models of the benchmark matrix, each with a seeded builder, a fixed batch size and its
 * training batches:
 * <ul>
 *   <li>{@code mlp}: 784-64-10 (ReLU, softmax/MCXENT, Nesterov momentum), Fashion-MNIST;
 *   <li>{@code lenet}: the paper's small LeNet ({@link SmallLeNet}), Fashion-MNIST;
 *   <li>{@code resnet}: a residual ComputationGraph, conv stem 3×3 (8) → [conv 3×3 (8) → BatchNorm → ReLU]
 *       added to the stem by an {@code ElementWiseVertex} Add → global average pooling → softmax (Adam),
 *       Fashion-MNIST;
 *   <li>{@code lstm}: LSTM (32) → RnnOutputLayer, per-step labels, on seeded synthetic sequences of variable
 *       length with feature and label masks;
 *   <li>{@code embedding}: EmbeddingSequenceLayer (vocabulary 1,000, dimension 32) → LastTimeStep(LSTM 32) →
 *       OutputLayer, on seeded masked token sequences of variable length.
 * </ul>
 * Both sequence models are MultiLayerNetworks. Their labels are functions of the sequence, so the loss goes
 * down: the LSTM's label at step t is whether the running sum of the first feature is positive; the embedding
 * model's label is whether most valid tokens lie in the lower half of the vocabulary. Every batch size is 64,
 * so that a probe at the default k = 64 takes a whole batch.
 */
public final class UserModels {

    /** The model names, in the matrix's order. */
    public static final List<String> NAMES = List.of("mlp", "lenet", "resnet", "lstm", "embedding");

    /**
     * Every model {@code --models} takes: the five and {@code samediff}, the mlp written as a SameDiff graph (the same
     * 784-64-10 ReLU network, loss and Nesterovs updater, from the mlp's initial parameters), trained by SameDiff's
     * {@code fit}.
     */
    public static final List<String> ALL = List.of("mlp", "lenet", "resnet", "lstm", "embedding", "samediff");

    /** The training batch size of every model. */
    public static final int BATCH_SIZE = 64;

    /** Features per time step of the masked LSTM's sequences. */
    static final int LSTM_FEATURES = 4;
    /** Vocabulary of the embedding model. */
    static final int VOCABULARY = 1000;
    /** Longest sequence (both sequence models); the shortest is {@link #MIN_LENGTH}. */
    static final int MAX_LENGTH = 20;
    /** Shortest sequence. */
    static final int MIN_LENGTH = 5;
    /** Probability that a token is drawn from its sequence's favoured half of the vocabulary. */
    private static final double TOKEN_BIAS = 0.75;

    private UserModels() {}

    /**
     * Iterations per interleaved pair of the benchmark: about 10 s of the model's training at one thread, so that a
     * run of 5 pairs is long enough for the listeners' first probe and record to be a fair share of it.
     */
    public static int pairIterations(String name) {
        return switch (check(name)) {
            case "mlp" -> 6000;
            case "samediff" -> 2000;
            case "lenet" -> 50;
            case "resnet" -> 30;
            case "lstm" -> 100;
            case "embedding" -> 80;
            default -> throw new IllegalStateException(name);
        };
    }

    /** Throws unless {@code name} is one of {@link #NAMES}. */
    public static String check(String name) {
        if (!ALL.contains(name)) {
            throw new IllegalArgumentException("model must be one of " + ALL + ", got " + name);
        }
        return name;
    }

    /** True for the models trained on Fashion-MNIST (the others make their own synthetic sequences). */
    public static boolean usesImages(String name) {
        return switch (check(name)) {
            case "mlp", "lenet", "resnet", "samediff" -> true;
            default -> false;
        };
    }

    /**
     * The initialised network named {@code name}, from {@code seed} (reseeds ND4J's random state): a DL4J {@link
     * Model}, or for {@code samediff} a {@link SameDiff} graph.
     */
    public static Object build(String name, long seed) {
        return switch (check(name)) {
            case "mlp" -> SmallLeNet.mlp(seed, 0.05, 0.9);
            case "samediff" -> sameDiffMlp(SmallLeNet.mlp(seed, 0.05, 0.9));
            case "lenet" -> SmallLeNet.build(seed, 0.05, 0.9);
            case "resnet" -> resnet(seed);
            case "lstm" -> lstm(seed);
            default -> embedding(seed);
        };
    }

    /**
     * The mlp as a SameDiff graph with {@code net}'s parameters: placeholders {@code in} [-1, 784] and {@code label}
     * [-1, 10], variables {@code layer0/W}, {@code layer0/b}, {@code layer1/W}, {@code layer1/b}, softmax
     * cross-entropy averaged over the batch, Nesterovs 0.05, 0.9.
     */
    static SameDiff sameDiffMlp(MultiLayerNetwork net) {
        DataType dt = net.params().dataType();
        SameDiff sd = SameDiff.create();
        SDVariable in = sd.placeHolder("in", dt, -1, 784);
        SDVariable label = sd.placeHolder("label", dt, -1, 10);
        SDVariable w0 = sd.var("layer0/W", net.getParam("0_W").dup('c'));
        SDVariable b0 = sd.var("layer0/b", net.getParam("0_b").dup().reshape(64));
        SDVariable w1 = sd.var("layer1/W", net.getParam("1_W").dup('c'));
        SDVariable b1 = sd.var("layer1/b", net.getParam("1_b").dup().reshape(10));
        SDVariable h = sd.nn.relu(sd.nn.linear(in, w0, b0), 0);
        sd.loss.softmaxCrossEntropy("loss", label, sd.nn.linear(h, w1, b1), null);
        sd.setTrainingConfig(TrainingConfig.builder()
                .updater(new Nesterovs(0.05, 0.9))
                .dataSetFeatureMapping("in")
                .dataSetLabelMapping("label")
                .minimize("loss")
                .build());
        return sd;
    }

    /** d, the model's trained parameters. */
    public static long numParams(Object model) {
        return model instanceof SameDiff sd ? ParameterLayout.of(sd).numParams() : ((Model) model).numParams();
    }

    /**
     * The minibatch loss of the last fit: DL4J's score; NaN for a SameDiff graph, whose fit does not compute it (a
     * forward pass between its fits would change its training's cost: it makes SameDiff build its session again).
     */
    public static double score(Object model) {
        return model instanceof SameDiff ? Double.NaN : ((Model) model).score();
    }

    /** The residual ComputationGraph. */
    static ComputationGraph resnet(long seed) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .weightInit(WeightInit.RELU)
                .updater(new Adam(1e-2))
                .convolutionMode(ConvolutionMode.Same)
                .graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.convolutionalFlat(FashionMnist.SIDE, FashionMnist.SIDE, 1))
                .addLayer(
                        "stem",
                        new ConvolutionLayer.Builder(3, 3)
                                .nOut(8)
                                .activation(Activation.RELU)
                                .build(),
                        "in")
                .addLayer(
                        "conv",
                        new ConvolutionLayer.Builder(3, 3)
                                .nOut(8)
                                .activation(Activation.IDENTITY)
                                .build(),
                        "stem")
                .addLayer("bn", new BatchNormalization.Builder().build(), "conv")
                .addLayer(
                        "relu",
                        new ActivationLayer.Builder()
                                .activation(Activation.RELU)
                                .build(),
                        "bn")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "stem", "relu")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "add")
                .addLayer(
                        "out",
                        new OutputLayer.Builder(LossFunction.MCXENT)
                                .nOut(FashionMnist.CLASSES)
                                .activation(Activation.SOFTMAX)
                                .build(),
                        "pool")
                .setOutputs("out")
                .build();
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        return net;
    }

    /** LSTM (32) → RnnOutputLayer (2 classes per step), Adam. */
    static MultiLayerNetwork lstm(long seed) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .weightInit(WeightInit.XAVIER)
                .updater(new Adam(1e-2))
                .list()
                .layer(new LSTM.Builder()
                        .nIn(LSTM_FEATURES)
                        .nOut(32)
                        .activation(Activation.TANH)
                        .build())
                .layer(new RnnOutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(32)
                        .nOut(2)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** EmbeddingSequenceLayer (1,000 × 32) → LastTimeStep(LSTM 32) → OutputLayer (2 classes), Adam. */
    static MultiLayerNetwork embedding(long seed) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .weightInit(WeightInit.XAVIER)
                .updater(new Adam(1e-2))
                .list()
                .layer(new EmbeddingSequenceLayer.Builder()
                        .nIn(VOCABULARY)
                        .nOut(32)
                        .build())
                .layer(new LastTimeStep(new LSTM.Builder()
                        .nIn(32)
                        .nOut(32)
                        .activation(Activation.TANH)
                        .build()))
                .layer(new OutputLayer.Builder(LossFunction.MCXENT)
                        .nIn(32)
                        .nOut(2)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /**
     * {@code count} training batches of {@link #BATCH_SIZE} for {@code name}: Fashion-MNIST drawn without
     * replacement by the library's sampler (a new permutation each epoch), or seeded synthetic sequences.
     *
     * @param images the Fashion-MNIST training set; only read by the image models (may be null for the others)
     */
    public static List<DataSet> batches(String name, DataSet images, int count, long seed) {
        List<DataSet> out = new ArrayList<>(count);
        if (usesImages(name)) {
            var it = new WithoutReplacementSampler(images, BATCH_SIZE, seed);
            while (out.size() < count) {
                if (!it.hasNext()) {
                    it.reset();
                }
                out.add(it.next());
            }
            return out;
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int b = 0; b < count; b++) {
            out.add(name.equals("lstm") ? lstmBatch(BATCH_SIZE, random) : tokenBatch(BATCH_SIZE, random));
        }
        return out;
    }

    /**
     * The first {@code k} examples of the batches {@link #batches} makes from {@code seed}: a whole batch when
     * {@code k} is the batch size, else the first k of as many batches as needed.
     */
    public static DataSet examples(String name, DataSet images, int k, long seed) {
        int nb = (k + BATCH_SIZE - 1) / BATCH_SIZE;
        DataSet all = DataSet.merge(batches(name, images, nb, seed));
        if (k == all.numExamples()) {
            return all;
        }
        return new DataSet(
                first(all.getFeatures(), k),
                first(all.getLabels(), k),
                first(all.getFeaturesMaskArray(), k),
                first(all.getLabelsMaskArray(), k));
    }

    private static INDArray first(INDArray a, int k) {
        return a == null ? null : a.get(NDArrayIndex.interval(0, k)).dup();
    }

    /** The training set of the image models: {@code dir} if given, else the system copy, else the built-in one. */
    public static FashionMnist.Data images(Path dir) {
        return dir != null
                ? FashionMnist.load(dir, Integer.MAX_VALUE, 10)
                : FashionMnist.isPresent(FashionMnist.SYSTEM_DIR)
                        ? FashionMnist.load(FashionMnist.SYSTEM_DIR, Integer.MAX_VALUE, 10)
                        : BuiltinData.load();
    }

    /** Trains {@code model} (a MultiLayerNetwork, ComputationGraph or SameDiff graph) on one batch. */
    public static void fit(Object model, DataSet batch) {
        if (model instanceof SameDiff sd) {
            sd.fit(batch);
        } else if (model instanceof MultiLayerNetwork net) {
            net.fit(batch);
        } else {
            ((ComputationGraph) model).fit(batch);
        }
    }

    /**
     * Sequences of Gaussian features, [n, {@value #LSTM_FEATURES}, {@value #MAX_LENGTH}], lengths uniform in
     * [{@value #MIN_LENGTH}, {@value #MAX_LENGTH}], zero-padded; the label at step t is 1 when the running sum
     * of feature 0 up to t is positive. Feature and label masks mark the valid steps.
     */
    static DataSet lstmBatch(int n, SplittableRandom random) {
        int t = MAX_LENGTH;
        float[] x = new float[n * LSTM_FEATURES * t];
        float[] y = new float[n * 2 * t];
        float[] mask = new float[n * t];
        for (int i = 0; i < n; i++) {
            int len = MIN_LENGTH + random.nextInt(t - MIN_LENGTH + 1);
            double sum = 0;
            for (int s = 0; s < len; s++) {
                for (int f = 0; f < LSTM_FEATURES; f++) {
                    x[(i * LSTM_FEATURES + f) * t + s] = (float) random.nextGaussian();
                }
                sum += x[(i * LSTM_FEATURES) * t + s];
                y[(i * 2 + (sum > 0 ? 1 : 0)) * t + s] = 1;
                mask[i * t + s] = 1;
            }
        }
        return new DataSet(
                Nd4j.create(x, new long[] {n, LSTM_FEATURES, t}, 'c'),
                Nd4j.create(y, new long[] {n, 2, t}, 'c'),
                Nd4j.create(mask, new long[] {n, t}, 'c'),
                Nd4j.create(mask.clone(), new long[] {n, t}, 'c'));
    }

    /**
     * Token sequences, [n, {@value #MAX_LENGTH}] indices in [0, {@value #VOCABULARY}), lengths uniform in
     * [{@value #MIN_LENGTH}, {@value #MAX_LENGTH}], padded with token 0 and masked; each sequence favours one
     * half of the vocabulary (a token from it with probability 0.75), and its one-hot label is 1 when more
     * than half of its valid tokens are in the lower half.
     */
    static DataSet tokenBatch(int n, SplittableRandom random) {
        int t = MAX_LENGTH;
        float[] x = new float[n * t];
        float[] y = new float[n * 2];
        float[] mask = new float[n * t];
        int half = VOCABULARY / 2;
        for (int i = 0; i < n; i++) {
            int len = MIN_LENGTH + random.nextInt(t - MIN_LENGTH + 1);
            boolean lowFavoured = random.nextBoolean();
            int low = 0;
            for (int s = 0; s < len; s++) {
                boolean fromLow = (random.nextDouble() < TOKEN_BIAS) == lowFavoured;
                int token = random.nextInt(half) + (fromLow ? 0 : half);
                low += fromLow ? 1 : 0;
                x[i * t + s] = token;
                mask[i * t + s] = 1;
            }
            y[i * 2 + (2 * low > len ? 1 : 0)] = 1;
        }
        return new DataSet(
                Nd4j.create(x, new long[] {n, t}, 'c'),
                Nd4j.create(y, new long[] {n, 2}, 'c'),
                Nd4j.create(mask, new long[] {n, t}, 'c'),
                null);
    }

    /** The model's parameters, as one float/double buffer's bytes (for bit-identity checks). */
    public static byte[] paramBytes(Object model) {
        if (model instanceof SameDiff sd) {
            ParameterLayout layout = ParameterLayout.of(sd);
            INDArray row = Nd4j.create(sd.getVariable("layer0/W").dataType(), 1, layout.numParams());
            layout.gather(sd, row);
            return row.data().asBytes();
        }
        return ((Model) model).params().dup().data().asBytes();
    }
}

package org.sgdnoise.spark;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.sgdnoise.data.FashionMnist;

/** Models, data and sessions shared by the Spark tests. */
final class SparkTesting {

    static final int FEATURES = 6;
    static final int CLASSES = 4;

    private SparkTesting() {}

    /** A local session without the UI (tests run one session at a time). */
    static SparkSession session(String master) {
        return SparkSession.builder().master(master).appName("sgdnoise-test")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .getOrCreate();
    }

    /** n examples of {@link #FEATURES} features, the label a noisy function of them (so training has something to learn). */
    static double[][] rows(int n, long seed) {
        Random r = new Random(seed);
        double[][] x = new double[n][FEATURES + 1];
        for (double[] row : x) {
            double s = 0;
            for (int j = 0; j < FEATURES; j++) {
                row[j] = r.nextGaussian();
                s += (j + 1) * row[j];
            }
            row[FEATURES] = Math.floorMod((int) Math.floor(s + r.nextGaussian()), CLASSES);
        }
        return x;
    }

    static Path writeCsv(Path file, double[][] data, boolean header) throws Exception {
        StringBuilder sb = new StringBuilder(header ? "f0,f1,f2,f3,f4,f5,label\n" : "");
        for (double[] row : data) {
            for (int j = 0; j < FEATURES; j++) {
                sb.append(row[j]).append(',');
            }
            sb.append((int) row[FEATURES]).append('\n');
        }
        Files.writeString(file, sb.toString());
        return file;
    }

    static DataSet toDataSet(double[][] data, DataType dt) {
        double[][] x = new double[data.length][FEATURES];
        double[][] y = new double[data.length][CLASSES];
        for (int i = 0; i < data.length; i++) {
            System.arraycopy(data[i], 0, x[i], 0, FEATURES);
            y[i][(int) data[i][FEATURES]] = 1;
        }
        return new DataSet(Nd4j.createFromArray(x).castTo(dt), Nd4j.createFromArray(y).castTo(dt));
    }

    /** Dense(6→16, tanh) → Output(16→4, softmax): d = 180, in double, trained for a few steps on {@code data}. */
    static MultiLayerNetwork mlp(double[][] data) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(5)
                .dataType(DataType.DOUBLE)
                .updater(new Sgd(0.1))
                .list()
                .layer(new DenseLayer.Builder().nIn(FEATURES).nOut(16).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(CLASSES).activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        DataSet ds = toDataSet(data, DataType.DOUBLE);
        for (int i = 0; i < 30; i++) {
            net.fit(ds);
        }
        return net;
    }

    /** A small float CNN on 28×28 images (conv 5×5×4, max-pool 2, softmax over 10): d = 5,874, untrained. */
    static MultiLayerNetwork cnn() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(6)
                .dataType(DataType.FLOAT)
                .updater(new Sgd(0.1))
                .list()
                .layer(new ConvolutionLayer.Builder(5, 5).nOut(4).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(FashionMnist.CLASSES).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(28, 28, 1))
                .build());
        net.init();
        return net;
    }

    /** The built-in Fashion-MNIST sample as an IDX folder (the training pair, gzip). */
    static Path builtinIdx(Path dir) throws Exception {
        Files.createDirectories(dir);
        for (String f : new String[] {FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS}) {
            try (var in = FashionMnist.class.getResourceAsStream(FashionMnist.BUILTIN + f + ".gz")) {
                Files.copy(in, dir.resolve(f + ".gz"));
            }
        }
        return dir;
    }
}

package org.sgdnoise.spark;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.ViewIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.sgdnoise.data.CsvData;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.data.Idx;
import org.sgdnoise.data.ModelFiles;
import org.sgdnoise.diffusion.DatasetSpectrum;
import org.sgdnoise.diffusion.SpectrumReport;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.testing.TestNetworks;

/** Models, data and sessions shared by the Spark tests. */
final class SparkTesting {

    static final int FEATURES = 6;
    static final int CLASSES = 4;

    private SparkTesting() {}

    /** A local session without the UI (tests run one session at a time). */
    static SparkSession session(String master) {
        return SparkSession.builder()
                .master(master)
                .appName("sgdnoise-test")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .getOrCreate();
    }

    /**
     * n examples of {@link #FEATURES} features, the label a noisy function of them (so training has something to
     * learn).
     */
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
        return new DataSet(
                Nd4j.createFromArray(x).castTo(dt), Nd4j.createFromArray(y).castTo(dt));
    }

    /** Dense(6→16, tanh) → Output(16→4, softmax): d = 180, in double, trained for a few steps on {@code data}. */
    static MultiLayerNetwork mlp(double[][] data) {
        MultiLayerNetwork net = TestNetworks.denseSoftmax(5, FEATURES, 16, CLASSES, DataType.DOUBLE, new Sgd(0.1));
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
                .layer(new ConvolutionLayer.Builder(5, 5)
                        .nOut(4)
                        .activation(Activation.RELU)
                        .build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                        .kernelSize(2, 2)
                        .stride(2, 2)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nOut(FashionMnist.CLASSES)
                        .activation(Activation.SOFTMAX)
                        .build())
                .setInputType(InputType.convolutionalFlat(28, 28, 1))
                .build());
        net.init();
        return net;
    }

    /**
     * A Fashion-MNIST-shaped IDX folder (all four files, gzip) of seeded synthetic images: 2,000 training and 50
     * test images of 28×28 random pixels, labels 0-9. (The built-in sample lives in the samples jar, which this
     * module does not depend on; the tests compare Spark with the single machine, so any images do.)
     */
    static Path syntheticIdx(Path dir) throws Exception {
        Files.createDirectories(dir);
        Random r = new Random(2024);
        int[][] splits = {{2000}, {50}};
        String[][] names = {
            {FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS}, {FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS}
        };
        for (int s = 0; s < 2; s++) {
            int n = splits[s][0];
            byte[] img = new byte[n * 28 * 28];
            r.nextBytes(img);
            byte[] lab = new byte[n];
            for (int i = 0; i < n; i++) {
                lab[i] = (byte) r.nextInt(FashionMnist.CLASSES);
            }
            writeIdx(new Idx.Array(new int[] {n, 28, 28}, img), dir.resolve(names[s][0] + ".gz"));
            writeIdx(new Idx.Array(new int[] {n}, lab), dir.resolve(names[s][1] + ".gz"));
        }
        return dir;
    }

    private static void writeIdx(Idx.Array a, Path file) throws Exception {
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
            Idx.write(a, out);
        }
    }

    /**
     * The single-machine {@code spectrum} computation (the library's, which the samples' command wraps): D of
     * {@code model} over {@code data} in chunks, sketched and, with {@code exact}, exactly; the report is written
     * to {@code out} and returned.
     */
    static Map<String, Object> singleMachine(
            Model model, DataSet data, boolean exact, int ell, int chunk, String modelName, String dataName, Path out) {
        long t0 = System.nanoTime();
        DatasetSpectrum s = DatasetSpectrum.compute(
                model, new ViewIterator(data, chunk), new DatasetSpectrum.Options(ell, exact, 0, ProbeMode.EVAL));
        double seconds = (System.nanoTime() - t0) / 1e9;
        Map<String, Object> report = SpectrumReport.of(s, modelName, dataName, seconds, Map.of());
        SpectrumReport.write(report, out);
        return report;
    }

    /** The {@code spectrum} command's run on a model zip and a CSV file, chunk 256, as the samples' CLI does it. */
    static Map<String, Object> singleMachine(Path model, Path csv, int ell, Path out) {
        Model m = ModelFiles.load(model);
        DataSet data = CsvData.read(
                csv, ModelFiles.outputClasses(m), Integer.MAX_VALUE, m.params().dataType());
        return singleMachine(m, data, false, ell, 256, model.toString(), csv.toString(), out);
    }
}

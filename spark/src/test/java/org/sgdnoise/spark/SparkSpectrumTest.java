package org.sgdnoise.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.CsvData;
import org.sgdnoise.data.ExampleSubset;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.diffusion.DatasetSketch;

/** The distributed spectrum against the exact D and the single-machine {@code spectrum}, in local[2]. */
class SparkSpectrumTest {

    static SparkSession spark;

    @TempDir
    static Path dir;

    static double[][] data;
    static Path csv;
    static MultiLayerNetwork mlp;

    @BeforeAll
    static void start() throws Exception {
        spark = SparkTesting.session("local[2]");
        data = SparkTesting.rows(1500, 1);
        csv = SparkTesting.writeCsv(dir.resolve("data.csv"), data, true);
        mlp = SparkTesting.mlp(data);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static SparkSpectrum.Result sketch(
            Path file, MultiLayerNetwork net, int classes, long limit, int partitions, int ell, int depth) {
        Examples.Input in = Examples.read(spark, file.toString(), classes, limit, partitions);
        return SparkSpectrum.compute(
                in.rows(),
                ModelBroadcast.of(net, null),
                classes,
                in.count(),
                new SparkSpectrum.Options(ell, 64, depth));
    }

    private static double[] doubles(Object json) {
        return (double[]) json;
    }

    /**
     * The acceptance test. D of a trained MLP (d = 180, double) over 1,500 examples with ℓ = 32, so that every
     * partition's sketch shrinks many times: 0 < Δ < λ_max/20 (measured: about 0.012 against λ_max = 0.566).
     * For several partitionings and merge trees, every exact eigenvalue (the d×d matrix in double, LAPACK) lies
     * in the Spark result's merged certified interval [λ̂_i, λ̂_i + Δ] (λ̂_i = 0 beyond the sketch), the trace
     * and |ḡ|² are exact, and the eigenvalues agree with the single-machine spectrum command's sketch within the
     * larger of the two Δs.
     */
    @Test
    void mergedIntervalsHoldTheExactEigenvaluesAndAgreeWithTheSpectrumCommand() throws Exception {
        int ell = 32;
        Map<String, Object> single = SparkTesting.singleMachine(
                mlp,
                SparkTesting.toDataSet(data, DataType.DOUBLE),
                true,
                ell,
                64,
                "mlp",
                "csv",
                dir.resolve("single.json"));
        double[] exact = doubles(single.get("eigenvalues"));
        double[] singleSketch = doubles(single.get("sketch_eigenvalues"));
        double singleDelta = (double) ((Map<?, ?>) single.get("method")).get("delta");
        double exactTrace = 0;
        for (double v : exact) {
            exactTrace += v;
        }
        double tol = 1e-9 * exact[0];
        int[][] layouts = {{1, 1}, {6, 2}, {7, 3}, {12, 1}};
        for (int[] layout : layouts) {
            SparkSpectrum.Result r = sketch(csv, mlp, SparkTesting.CLASSES, 0, layout[0], ell, layout[1]);
            DatasetSketch s = r.sketch();
            var est = s.estimate();
            String where = layout[0] + " partitions, tree depth " + layout[1];
            assertThat(r.partitions()).as(where).isGreaterThanOrEqualTo(layout[0]);
            assertThat(s.examples()).as(where).isEqualTo(1500);
            assertThat(s.trace()).as(where).isCloseTo(exactTrace, within(1e-9 * exactTrace));
            assertThat(s.trace()).as(where).isCloseTo((double) single.get("trace"), within(1e-10 * exactTrace));
            assertThat(s.gradNormSq()).as(where).isCloseTo((double) single.get("grad_norm_sq"), within(1e-12));
            assertThat(r.gradientPath()).as(where).isEqualTo("batched");
            // A certificate worth having: Δ > 0, yet within the Frequent Directions bound (removed mass)/ℓ.
            double delta = est.delta();
            assertThat(delta)
                    .as(where)
                    .isGreaterThan(0)
                    .isLessThanOrEqualTo(s.sketch().sketch().removedMass() / ell / s.examples() + tol);
            assertThat(delta).as(where).isLessThan(0.05 * exact[0]);
            for (int i = 0; i < exact.length; i++) {
                double lo = i < est.eigenvalues().length ? est.eigenvalues()[i] : 0;
                assertThat(exact[i]).as(where + ", eigenvalue " + i).isBetween(lo - tol, lo + delta + tol);
                double other = i < singleSketch.length ? singleSketch[i] : 0;
                assertThat(Math.abs(lo - other))
                        .as(where + ", against spectrum, eigenvalue " + i)
                        .isLessThanOrEqualTo(Math.max(delta, singleDelta) + tol);
            }
        }
    }

    /**
     * A float CNN on an IDX folder (synthetic Fashion-MNIST-shaped images, 600 examples over 5 partitions): the same N,
     * trace and |ḡ|² as the single-machine spectrum command (to float rounding), and eigenvalues within the bounds.
     */
    @Test
    void anIdxFolderGivesTheSpectrumCommandsResultOnAFloatCnn() throws Exception {
        Path idx = SparkTesting.syntheticIdx(dir.resolve("idx"));
        MultiLayerNetwork cnn = SparkTesting.cnn();
        int ell = 16;
        SparkSpectrum.Result r = sketch(idx, cnn, FashionMnist.CLASSES, 600, 5, ell, 2);
        DataSet train = FashionMnist.load(syntheticAll(), 600, 1).train();
        Map<String, Object> single =
                SparkTesting.singleMachine(cnn, train, false, ell, 64, "cnn", "idx", dir.resolve("cnn.json"));
        DatasetSketch s = r.sketch();
        var est = s.estimate();
        double[] other = doubles(single.get("eigenvalues"));
        double otherDelta = (double) ((Map<?, ?>) single.get("method")).get("delta");
        assertThat(r.partitions()).isEqualTo(5);
        assertThat(s.examples()).isEqualTo(600);
        assertThat(s.numParams()).isEqualTo(cnn.numParams());
        assertThat(s.trace()).isCloseTo((double) single.get("trace"), within(1e-5 * s.trace()));
        assertThat(s.gradNormSq()).isCloseTo((double) single.get("grad_norm_sq"), within(1e-5 * s.gradNormSq()));
        assertThat(est.delta()).isGreaterThan(0);
        assertThat(r.gradientPath()).isEqualTo("batched");
        double tol = 1e-5 * est.eigenvalues()[0];
        for (int i = 0; i < Math.max(other.length, est.eigenvalues().length); i++) {
            double a = i < est.eigenvalues().length ? est.eigenvalues()[i] : 0;
            double b = i < other.length ? other[i] : 0;
            assertThat(Math.abs(a - b))
                    .as("eigenvalue " + i)
                    .isLessThanOrEqualTo(Math.max(est.delta(), otherDelta) + tol);
        }
    }

    private static Path syntheticAll() throws Exception {
        Path all = dir.resolve("idx-all");
        return Files.isDirectory(all) ? all : SparkTesting.syntheticIdx(all);
    }

    private static List<Row> collect(Examples.Input in) {
        return in.rows().collectAsList();
    }

    private static void assertSameExamples(List<Row> rows, DataSet expected) {
        assertThat(rows).hasSize(expected.numExamples());
        INDArray x = expected.getFeatures().castTo(DataType.DOUBLE);
        INDArray y = expected.getLabels();
        for (int i = 0; i < rows.size(); i++) {
            List<Double> f = rows.get(i).getList(0);
            double[] got = f.stream().mapToDouble(Double::doubleValue).toArray();
            assertThat(got).as("example " + i).containsExactly(x.getRow(i).toDoubleVector());
            assertThat(rows.get(i).getInt(1))
                    .as("label " + i)
                    .isEqualTo(y.getRow(i).argMax().getInt(0));
        }
    }

    /** Both formats read as Spark datasets give the single-machine readers' examples, in order, with the limit. */
    @Test
    void theReadersGiveTheSingleMachineReadersExamplesInOrder() throws Exception {
        StringBuilder sb = new StringBuilder("a,b,c,d,e,f,label\n");
        List<String> lines = Files.readAllLines(csv);
        for (int i = 1; i < 400; i++) {
            sb.append(lines.get(i)).append('\n');
            if (i % 97 == 0) {
                sb.append("\n"); // blank lines are skipped
            }
        }
        Path file = Files.writeString(dir.resolve("blank.csv"), sb.toString());
        for (int limit : new int[] {0, 250}) {
            Examples.Input in = Examples.read(spark, file.toString(), SparkTesting.CLASSES, limit, 5);
            DataSet expected =
                    CsvData.read(file, SparkTesting.CLASSES, limit > 0 ? limit : Integer.MAX_VALUE, DataType.DOUBLE);
            assertThat(in.count()).isEqualTo(expected.numExamples());
            assertThat(in.rows().javaRDD().getNumPartitions()).isGreaterThanOrEqualTo(5);
            assertSameExamples(collect(in), expected);
        }
        // A gzip CSV is one Hadoop split: its rows are spread over the partitions asked for (in another order).
        Path gz = dir.resolve("blank.csv.gz");
        try (var out = new GZIPOutputStream(Files.newOutputStream(gz))) {
            out.write(Files.readAllBytes(file));
        }
        Examples.Input packed = Examples.read(spark, gz.toString(), SparkTesting.CLASSES, 0, 5);
        assertThat(packed.rows().javaRDD().getNumPartitions()).isEqualTo(5);
        assertThat(packed.count()).isEqualTo(399);
        assertThat(collect(packed).stream().mapToInt(r -> r.getInt(1)).sum())
                .isEqualTo(collect(Examples.read(spark, file.toString(), SparkTesting.CLASSES, 0, 5)).stream()
                        .mapToInt(r -> r.getInt(1))
                        .sum());
        Path idx = SparkTesting.syntheticIdx(dir.resolve("idx-read"));
        Examples.Input in = Examples.read(spark, idx.toString(), FashionMnist.CLASSES, 300, 7);
        assertThat(in.count()).isEqualTo(300);
        assertThat(in.rows().javaRDD().getNumPartitions()).isEqualTo(7);
        assertSameExamples(
                collect(in), FashionMnist.load(syntheticAll(), 300, 1).train());
    }

    /**
     * A subset is read as exactly its examples: of an IDX folder in index order (each task reads a run of the sorted
     * indices), of a CSV file (header and blank lines not counted) in some order; the subset is chosen once, knowing
     * N (after the limit), and comes back with the input.
     */
    @Test
    void aSubsetReadsExactlyItsExamples() throws Exception {
        Path idx = syntheticAll();
        DataSet train = FashionMnist.load(idx, Integer.MAX_VALUE, 1).train();
        int[] wanted = {1999, 5, 0, 700, 701, 1234, 42};
        List<Integer> sizes = new ArrayList<>();
        Examples.Input in = Examples.read(spark, idx.toString(), FashionMnist.CLASSES, 0, 3, n -> {
            sizes.add(n);
            return new ExampleSubset(wanted, n, null, null);
        });
        assertThat(sizes).containsExactly(2000);
        assertThat(in.count()).isEqualTo(wanted.length);
        assertThat(in.subset().indices()).containsExactly(wanted);
        assertThat(in.rows().javaRDD().getNumPartitions()).isEqualTo(3);
        int[] sorted = wanted.clone();
        Arrays.sort(sorted);
        assertSameExamples(
                collect(in),
                new DataSet(
                        Nd4j.pullRows(train.getFeatures(), 1, sorted), Nd4j.pullRows(train.getLabels(), 1, sorted)));

        StringBuilder sb = new StringBuilder("a,b,c,d,e,f,label\n");
        List<String> lines = Files.readAllLines(csv);
        for (int i = 1; i <= 300; i++) {
            sb.append(lines.get(i)).append('\n');
            if (i % 50 == 0) {
                sb.append(" \n");
            }
        }
        Path file = Files.writeString(dir.resolve("subset.csv"), sb.toString());
        DataSet rows = CsvData.read(file, SparkTesting.CLASSES, Integer.MAX_VALUE, DataType.DOUBLE);
        int[] some = {299, 0, 49, 50, 51, 100, 150, 7};
        Examples.Input sub = Examples.read(
                spark, file.toString(), SparkTesting.CLASSES, 0, 4, n -> new ExampleSubset(some, n, null, null));
        assertThat(sub.count()).isEqualTo(some.length);
        assertThat(sub.subset().datasetSize()).isEqualTo(300);
        assertThat(sub.rows().javaRDD().getNumPartitions()).isEqualTo(4);
        List<String> got = new ArrayList<>();
        for (Row r : collect(sub)) {
            got.add(new ArrayList<>(r.<Double>getList(0)) + " " + r.getInt(1));
        }
        List<String> expected = new ArrayList<>();
        for (int i : some) {
            List<Double> f = new ArrayList<>();
            for (double v : rows.getFeatures().getRow(i).toDoubleVector()) {
                f.add(v);
            }
            expected.add(f + " " + rows.getLabels().getRow(i).argMax().getInt(0));
        }
        assertThat(got).containsExactlyInAnyOrderElementsOf(expected);
        // With a limit, the subset indexes the first examples; no subset (null) keeps them all.
        Examples.Input limited = Examples.read(spark, file.toString(), SparkTesting.CLASSES, 120, 2, n -> {
            assertThat(n).isEqualTo(120);
            return null;
        });
        assertThat(limited.count()).isEqualTo(120);
        assertThat(limited.subset()).isNull();
    }

    private static String singleMachineMessage(Path file, int classes) {
        try {
            CsvData.read(file, classes, Integer.MAX_VALUE, DataType.DOUBLE);
        } catch (UserInputException e) {
            return e.getMessage();
        }
        throw new AssertionError("the single-machine reader accepted " + file);
    }

    /**
     * A bad row anywhere (here far into a later partition) fails the read, before any gradient, with the
     * single-machine message.
     */
    @Test
    void badRowsFailTheReadWithTheSingleMachineReadersMessage() throws Exception {
        List<String> lines = Files.readAllLines(csv);
        String[][] faults = {
            {"1234", "0.5,0.1,abc,0.3,0.2,0.1,1"},
            {"1100", "0.5,0.1,0.3,0.2,0.1,1"},
            {"1400", "0.5,0.1,0.3,0.2,0.1,0.7,9"},
            {"900", "0.5,0.1,0.3,0.2,0.1,0.7,1.5"},
            {"1300", "0.5,0.1,Infinity,0.2,0.1,0.7,1"}
        };
        for (String[] fault : faults) {
            List<String> bad = new ArrayList<>(lines);
            bad.set(Integer.parseInt(fault[0]) - 1, fault[1]);
            Path file = Files.write(dir.resolve("bad-" + fault[0] + ".csv"), bad);
            String expected = singleMachineMessage(file, SparkTesting.CLASSES);
            assertThat(expected).contains("line " + fault[0]);
            assertThatThrownBy(() -> Examples.read(spark, file.toString(), SparkTesting.CLASSES, 0, 6))
                    .as(fault[1])
                    .isInstanceOf(UserInputException.class)
                    .hasMessage(expected);
        }
        Path empty = Files.writeString(dir.resolve("header-only.csv"), "a,b,label\n\n");
        assertThatThrownBy(() -> Examples.read(spark, empty.toString(), 4, 0, 2))
                .hasMessage(singleMachineMessage(empty, 4));
        assertThatThrownBy(() -> Examples.read(spark, dir.resolve("missing.csv").toString(), 4, 0, 2))
                .hasMessageContaining("does not exist");
        Path noIdx = Files.createDirectories(dir.resolve("empty-folder"));
        assertThatThrownBy(() -> Examples.read(spark, noIdx.toString(), 10, 0, 2))
                .hasMessageContaining("has no train-images-idx3-ubyte");
        assertThatThrownBy(() -> Examples.read(spark, csv.toString(), 4, 0, 0))
                .hasMessageContaining("partitions must be >= 1, got 0");
    }

    /**
     * A truncated IDX image file fails in the partition that reaches its end, with the single-machine reader's
     * message.
     */
    @Test
    void aTruncatedIdxFileFailsWithTheSingleMachineReadersMessage() throws Exception {
        Path idx = SparkTesting.syntheticIdx(dir.resolve("idx-truncated"));
        Path images = idx.resolve(FashionMnist.TRAIN_IMAGES + ".gz");
        byte[] raw;
        try (var in = new GZIPInputStream(Files.newInputStream(images))) {
            raw = in.readAllBytes();
        }
        Files.delete(images);
        Files.write(idx.resolve(FashionMnist.TRAIN_IMAGES), Arrays.copyOf(raw, raw.length - 5000));
        assertThatThrownBy(() -> sketch(idx, SparkTesting.cnn(), 10, 0, 4, 8, 2))
                .isInstanceOf(UserInputException.class)
                .hasMessageContaining("truncated IDX file");
    }

    /** Tiny data sets: empty partitions are skipped, one example or none is a clear error. */
    @Test
    void emptyPartitionsAreSkippedAndTooFewExamplesAreAnError() {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            rows.add(RowFactory.create(
                    Arrays.copyOf(data[i], SparkTesting.FEATURES), (int) data[i][SparkTesting.FEATURES]));
        }
        ModelBroadcast model = ModelBroadcast.of(mlp, null);
        SparkSpectrum.Options o = new SparkSpectrum.Options(4, 2, 2);
        Dataset<Row> three = spark.createDataFrame(rows, Examples.SCHEMA).repartition(8);
        SparkSpectrum.Result r = SparkSpectrum.compute(three, model, SparkTesting.CLASSES, 3, o);
        assertThat(r.sketch().examples()).isEqualTo(3);
        assertThat(r.sketchedPartitions()).isBetween(1L, 3L);
        assertThat(r.partitions()).isEqualTo(8);
        Dataset<Row> one = spark.createDataFrame(rows.subList(0, 1), Examples.SCHEMA);
        assertThatThrownBy(() -> SparkSpectrum.compute(one, model, SparkTesting.CLASSES, 1, o))
                .isInstanceOf(UserInputException.class)
                .hasMessage("the data holds 1 example(s); D needs at least 2");
        Dataset<Row> none = spark.createDataFrame(List.of(), Examples.SCHEMA);
        assertThatThrownBy(() -> SparkSpectrum.compute(none, model, SparkTesting.CLASSES, 0, o))
                .isInstanceOf(UserInputException.class)
                .hasMessageContaining("no examples");
        Dataset<Row> wide = spark.createDataFrame(
                List.of(RowFactory.create(new double[9], 1), RowFactory.create(new double[9], 2)), Examples.SCHEMA);
        assertThatThrownBy(() -> SparkSpectrum.compute(wide, model, SparkTesting.CLASSES, 2, o))
                .isInstanceOf(UserInputException.class)
                .hasMessageContaining("the model and the data do not fit");
        Dataset<Row> badLabel =
                spark.createDataFrame(List.of(rows.get(0), RowFactory.create(new double[6], 7)), Examples.SCHEMA);
        assertThatThrownBy(() -> SparkSpectrum.compute(badLabel, model, SparkTesting.CLASSES, 2, o))
                .isInstanceOf(UserInputException.class)
                .hasMessageContaining("label 7 is not a class of the model, [0, 4)");
        assertThatThrownBy(() ->
                        SparkSpectrum.compute(three.withColumnRenamed("label", "y"), model, SparkTesting.CLASSES, 3, o))
                .isInstanceOf(UserInputException.class)
                .hasMessage("the data set needs the columns features (array of numbers) and label (integer class), "
                        + "it has [features, y]");
        assertThatThrownBy(() -> SparkSpectrum.compute(
                        three.withColumn("label", functions.lit(1.5)), model, SparkTesting.CLASSES, 3, o))
                .isInstanceOf(UserInputException.class)
                .hasMessage("the column label must hold integer classes, it is double");
        Dataset<Row> nan = spark.createDataFrame(
                List.of(rows.get(0), RowFactory.create(new double[] {0, 1, Double.NaN, 0, 0, 0}, 1)), Examples.SCHEMA);
        assertThatThrownBy(() -> SparkSpectrum.compute(nan, model, SparkTesting.CLASSES, 2, o))
                .isInstanceOf(UserInputException.class)
                .hasMessage("an example has the feature NaN at index 2; features must be finite numbers");
        // Other numeric types are cast: float features and long labels give the same sketch.
        Dataset<Row> cast = three.select(
                functions.col("features").cast("array<float>").as("features"),
                functions.col("label").cast("long").as("label"));
        assertThat(SparkSpectrum.compute(cast, model, SparkTesting.CLASSES, 3, o)
                        .sketch()
                        .examples())
                .isEqualTo(3);
        assertThatThrownBy(() -> new SparkSpectrum.Options(1, 2, 2)).hasMessage("sketch-size must be >= 2, got 1");
        assertThatThrownBy(() -> new SparkSpectrum.Options(4, 0, 2)).hasMessage("chunk must be >= 1, got 0");
        assertThatThrownBy(() -> new SparkSpectrum.Options(4, 2, 0)).hasMessage("tree-depth must be >= 1, got 0");
    }

    /**
     * What the executors rebuild is the model: bit-identical outputs, for a network and a graph, and a given
     * parameter vector is used.
     */
    @Test
    void theBroadcastRebuildsTheModelBitForBit() throws Exception {
        INDArray x =
                SparkTesting.toDataSet(Arrays.copyOf(data, 20), DataType.DOUBLE).getFeatures();
        ModelBroadcast b = roundTrip(ModelBroadcast.of(mlp, null));
        assertThat(((MultiLayerNetwork) b.restore()).output(x)).isEqualTo(mlp.output(x));
        INDArray half = mlp.params().mul(0.5);
        MultiLayerNetwork scaled = mlp.clone();
        scaled.setParams(half);
        assertThat(((MultiLayerNetwork) roundTrip(ModelBroadcast.of(mlp, half)).restore()).output(x))
                .isEqualTo(scaled.output(x));
        assertThat(mlp.params()).isNotEqualTo(half);
        ComputationGraph cg = new ComputationGraph(new NeuralNetConfiguration.Builder()
                .seed(2)
                .dataType(DataType.FLOAT)
                .graphBuilder()
                .addInputs("in")
                .addLayer(
                        "h",
                        new DenseLayer.Builder()
                                .nIn(6)
                                .nOut(5)
                                .activation(Activation.RELU)
                                .build(),
                        "in")
                .addLayer(
                        "out",
                        new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                                .nIn(5)
                                .nOut(3)
                                .activation(Activation.SOFTMAX)
                                .build(),
                        "h")
                .setOutputs("out")
                .build());
        cg.init();
        INDArray xf = x.castTo(DataType.FLOAT);
        assertThat(((ComputationGraph) roundTrip(ModelBroadcast.of(cg, null)).restore()).outputSingle(xf))
                .isEqualTo(cg.outputSingle(xf));
        assertThatThrownBy(() -> ModelBroadcast.of(mlp, Nd4j.zeros(DataType.DOUBLE, 1, 7)))
                .hasMessage("the parameter vector has 7 values, the model has 180 parameters");
    }

    private static ModelBroadcast roundTrip(ModelBroadcast b) throws Exception {
        var bytes = new ByteArrayOutputStream();
        try (var out = new ObjectOutputStream(bytes)) {
            out.writeObject(b);
        }
        try (var in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            return (ModelBroadcast) in.readObject();
        }
    }
}

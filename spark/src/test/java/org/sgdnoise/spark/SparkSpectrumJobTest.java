package org.sgdnoise.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.sgdnoise.data.CsvData;
import org.sgdnoise.data.ExampleSubset;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.testing.TestNetworks;

/** The job's command line: the spectrum command's JSON from Spark, and one error line for bad input. */
class SparkSpectrumJobTest {

    @TempDir
    static Path dir;

    static double[][] data;
    static Path csv;
    static Path model;
    static MultiLayerNetwork net;

    @BeforeAll
    static void files() throws Exception {
        data = SparkTesting.rows(800, 3);
        csv = SparkTesting.writeCsv(dir.resolve("data.csv"), data, false);
        net = SparkTesting.mlp(data);
        model = dir.resolve("model.zip");
        ModelSerializer.writeModel(net, model.toFile(), false);
    }

    private static JsonNode json(Path p) throws Exception {
        return new ObjectMapper().readTree(p.toFile());
    }

    /**
     * The job writes every field of the spectrum command's JSON, with the same N, trace and |ḡ|², plus what Spark
     * did; with --params it computes D at that parameter vector instead (checked against spectrum on a model
     * holding it), and an --out URI is written through Hadoop's file systems.
     */
    @Test
    void theJobWritesTheSpectrumCommandsJson() throws Exception {
        Path single = dir.resolve("single.json");
        SparkTesting.singleMachine(model, csv, 24, single);
        Path out = dir.resolve("spark.json");
        assertThat(SparkSpectrumJob.execute(
                        "--master",
                        "local[2]",
                        "--model",
                        model.toString(),
                        "--data",
                        csv.toString(),
                        "--sketch-size",
                        "24",
                        "--partitions",
                        "5",
                        "--out",
                        out.toString()))
                .isZero();
        JsonNode a = json(single);
        JsonNode b = json(out);
        List<String> missing = new ArrayList<>();
        a.fieldNames().forEachRemaining(f -> {
            if (!b.has(f)) {
                missing.add(f);
            }
        });
        assertThat(missing).isEmpty();
        assertThat(b.get("num_examples").asLong()).isEqualTo(800);
        assertThat(b.get("num_params").asLong()).isEqualTo(net.numParams());
        assertThat(b.get("trace").asDouble())
                .isCloseTo(
                        a.get("trace").asDouble(), within(1e-10 * a.get("trace").asDouble()));
        assertThat(b.get("grad_norm_sq").asDouble())
                .isCloseTo(a.get("grad_norm_sq").asDouble(), within(1e-12));
        assertThat(b.get("method").get("name").asText()).isEqualTo("sketch");
        assertThat(b.get("method").get("delta").asDouble()).isGreaterThan(0);
        assertThat(b.get("eigenvalue_intervals").get(0).get(1).asDouble()
                        - b.get("eigenvalue_intervals").get(0).get(0).asDouble())
                .isCloseTo(b.get("method").get("delta").asDouble(), within(1e-12));
        assertThat(b.get("gradient_path").asText()).isEqualTo("batched");
        assertThat(b.get("spark").get("master").asText()).isEqualTo("local[2]");
        assertThat(b.get("spark").get("partitions").asInt()).isGreaterThanOrEqualTo(5);
        assertThat(b.get("spark").get("examples_per_s").asDouble()).isPositive();

        INDArray half = net.params().mul(0.5);
        Path npy = dir.resolve("half.npy");
        Files.write(npy, Nd4j.toNpyByteArray(half));
        MultiLayerNetwork halfNet = net.clone();
        halfNet.setParams(half);
        Path halfModel = dir.resolve("half.zip");
        ModelSerializer.writeModel(halfNet, halfModel.toFile(), false);
        Path halfSingle = dir.resolve("half-single.json");
        SparkTesting.singleMachine(halfModel, csv, 128, halfSingle);
        Path halfOut = dir.resolve("half-spark.json");
        assertThat(SparkSpectrumJob.execute(
                        "--master",
                        "local[2]",
                        "--model",
                        model.toString(),
                        "--params",
                        npy.toString(),
                        "--data",
                        csv.toString(),
                        "--out",
                        halfOut.toUri().toString()))
                .isZero(); // a URI: written through Hadoop
        double t = json(halfSingle).get("trace").asDouble();
        assertThat(json(halfOut).get("trace").asDouble())
                .isCloseTo(t, within(1e-10 * t))
                .isNotCloseTo(a.get("trace").asDouble(), within(1e-3 * t));
        assertThat(json(halfOut).get("params").asText()).isEqualTo(npy.toString());
    }

    /** Bad input: exit code 2 and exactly one line, "error: ...", naming the problem. */
    @Test
    void badInputIsOneErrorLineAndExitTwo() throws Exception {
        Path garbage = Files.writeString(dir.resolve("garbage.zip"), "not a model");
        Path shortNpy = dir.resolve("short.npy");
        Files.write(shortNpy, Nd4j.toNpyByteArray(Nd4j.zeros(3)));
        Path ragged = Files.writeString(dir.resolve("ragged.csv"), "1,2,3,4,5,6,1\n1,2,3,4,5,6,7,1\n");
        String[][] cases = {
            {"does not exist", "--model", dir.resolve("missing.zip").toString(), "--data", csv.toString()},
            {"is not a DL4J model", "--model", garbage.toString(), "--data", csv.toString()},
            {
                "data " + dir.resolve("missing.csv") + " does not exist",
                "--model",
                model.toString(),
                "--data",
                dir.resolve("missing.csv").toString()
            },
            {
                "holds 3 values, the model has 180 parameters",
                "--model",
                model.toString(),
                "--params",
                shortNpy.toString(),
                "--data",
                csv.toString()
            },
            {"line 2 has 8 columns, expected 7", "--model", model.toString(), "--data", ragged.toString()},
            {
                "sketch-size must be >= 2, got 1",
                "--model",
                model.toString(),
                "--data",
                csv.toString(),
                "--sketch-size",
                "1"
            },
            {
                "tree-depth must be >= 1, got 0",
                "--model",
                model.toString(),
                "--data",
                csv.toString(),
                "--tree-depth",
                "0"
            },
        };
        assertBadInput(cases);
    }

    /**
     * Runs each case ({message, args...}) with --master local[2] and --out never.json: exit code 2, exactly one
     * {@code error: } line containing the message, no stack trace, and no report (nor a sample's indices) written.
     */
    private static void assertBadInput(String[][] cases) {
        PrintStream old = System.err;
        try {
            for (String[] c : cases) {
                ByteArrayOutputStream err = new ByteArrayOutputStream();
                System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
                String[] args = new String[c.length + 3];
                args[0] = "--master";
                args[1] = "local[2]";
                System.arraycopy(c, 1, args, 2, c.length - 1);
                args[args.length - 2] = "--out";
                args[args.length - 1] = dir.resolve("never.json").toString();
                int code = SparkSpectrumJob.execute(args);
                String text = err.toString(StandardCharsets.UTF_8);
                assertThat(code).as(c[0]).isEqualTo(2);
                assertThat(text.lines().filter(l -> l.startsWith("error: ")).toList())
                        .as(text)
                        .hasSize(1);
                assertThat(text).as(c[0]).contains(c[0]).doesNotContain("\tat ");
            }
        } finally {
            System.setErr(old);
        }
        assertThat(dir.resolve("never.json")).doesNotExist();
        assertThat(dir.resolve("never-indices.txt")).doesNotExist();
    }

    /**
     * --indices and --sample: D over exactly the examples named (a CSV file's data rows, header and blank lines not
     * counted; an IDX folder's training split), against the single-machine computation on those rows picked out of
     * the single-machine reader's; a sample's indices are written beside --out (locally or through Hadoop, for a
     * URI) and examples_used describes the subset.
     */
    @Test
    void indicesAndSampleGiveTheSpectrumOfExactlyThoseExamples() throws Exception {
        // A CSV file with a header and blank lines between its data rows.
        List<String> lines =
                new ArrayList<>(Files.readAllLines(SparkTesting.writeCsv(dir.resolve("plain.csv"), data, true)));
        lines.add(301, "");
        lines.add(102, "   ");
        Path headed = Files.write(dir.resolve("headed.csv"), lines);
        DataSet csvRows = CsvData.read(headed, SparkTesting.CLASSES, Integer.MAX_VALUE, DataType.DOUBLE);
        int n = csvRows.numExamples();
        assertThat(n).isEqualTo(800);
        int[] chosen = distinct(new Random(11), 60, n, 0, 99, 100, 101, 299, 300, n - 1);
        StringBuilder file = new StringBuilder("# chosen by the test\n\n");
        for (int i = 0; i < chosen.length; i++) {
            file.append(i % 7 == 0 ? "  " : "").append(chosen[i]).append(i % 13 == 0 ? "\n\n# more\n" : "\n");
        }
        Path indices = Files.writeString(dir.resolve("csv-indices.txt"), file.toString());
        JsonNode fromFile = subsetRun(
                model,
                headed,
                "--indices",
                indices.toString(),
                dir.resolve("csv-indices.json").toString());
        assertSameSpectrum(fromFile, single(net, pick(csvRows, chosen)), 1e-10);
        assertThat(fromFile.get("num_examples").asInt()).isEqualTo(chosen.length);
        JsonNode used = fromFile.get("examples_used");
        assertThat(used.get("selection").asText()).isEqualTo("indices");
        assertThat(used.get("count").asInt()).isEqualTo(chosen.length);
        assertThat(used.get("of").asInt()).isEqualTo(n);
        assertThat(used.get("indices_file").asText()).isEqualTo(indices.toString());
        assertThat(used.get("seed").isNull()).isTrue();
        assertThat(used.get("checksum").asText()).isEqualTo(new ExampleSubset(chosen, n, null, null).checksum());

        Path csvOut = dir.resolve("csv-sample.json");
        JsonNode sampled = subsetRun(model, headed, "--sample", "100", csvOut.toString(), "--seed", "5");
        ExampleSubset expected = ExampleSubset.sample(100, 5, n);
        Path written = dir.resolve("csv-sample-indices.txt");
        assertThat(Files.readString(written)).isEqualTo(expected.fileText());
        assertSameSpectrum(sampled, single(net, pick(csvRows, expected.indices())), 1e-10);
        assertThat(sampled.get("examples_used").get("selection").asText()).isEqualTo("sample");
        assertThat(sampled.get("examples_used").get("count").asInt()).isEqualTo(100);
        assertThat(sampled.get("examples_used").get("of").asInt()).isEqualTo(n);
        assertThat(sampled.get("examples_used").get("seed").asLong()).isEqualTo(5);
        assertThat(sampled.get("examples_used").get("indices_file").asText()).isEqualTo(written.toString());
        assertThat(sampled.get("examples_used").get("checksum").asText()).isEqualTo(expected.checksum());

        // An IDX folder (2,000 training images) and a dense double network on its 784 pixels.
        Path idx = SparkTesting.syntheticIdx(dir.resolve("idx"));
        MultiLayerNetwork dense =
                TestNetworks.denseSoftmax(7, 784, 8, FashionMnist.CLASSES, DataType.DOUBLE, new Sgd(0.1));
        Path denseModel = dir.resolve("dense.zip");
        ModelSerializer.writeModel(dense, denseModel.toFile(), false);
        DataSet train = FashionMnist.load(idx, Integer.MAX_VALUE, 1).train();
        DataSet idxRows = new DataSet(
                train.getFeatures().castTo(DataType.DOUBLE), train.getLabels().castTo(DataType.DOUBLE));
        int m = idxRows.numExamples();
        assertThat(m).isEqualTo(2000);
        int[] picked = distinct(new Random(12), 90, m, m - 1, 0, 1, 1000);
        StringBuilder text = new StringBuilder();
        for (int i : picked) {
            text.append(i).append('\n');
        }
        Path idxIndices = Files.writeString(dir.resolve("idx-indices.txt"), text.toString());
        JsonNode idxFromFile = subsetRun(
                denseModel,
                idx,
                "--indices",
                idxIndices.toString(),
                dir.resolve("idx-indices.json").toString());
        assertSameSpectrum(idxFromFile, single(dense, pick(idxRows, picked)), 1e-10);
        assertThat(idxFromFile.get("examples_used").get("of").asInt()).isEqualTo(m);
        assertThat(idxFromFile.get("examples_used").get("count").asInt()).isEqualTo(picked.length);

        Path idxOut = dir.resolve("out").resolve("idx-sample.json"); // a URI: both files written through Hadoop
        JsonNode idxSampled =
                subsetRun(denseModel, idx, "--sample", "100", idxOut.toUri().toString(), "--seed", "5");
        ExampleSubset idxExpected = ExampleSubset.sample(100, 5, m);
        Path idxWritten = dir.resolve("out").resolve("idx-sample-indices.txt");
        assertThat(Files.readString(idxWritten)).isEqualTo(idxExpected.fileText());
        assertSameSpectrum(idxSampled, single(dense, pick(idxRows, idxExpected.indices())), 1e-10);
        assertThat(idxSampled.get("examples_used").get("checksum").asText()).isEqualTo(idxExpected.checksum());
        assertThat(idxSampled.get("examples_used").get("indices_file").asText())
                .endsWith("idx-sample-indices.txt")
                .startsWith("file:");
    }

    /** The job on a subset: {@code --<option> <value> [--seed S]}, three partitions, ℓ = 24; returns the report. */
    private static JsonNode subsetRun(Path modelZip, Path data, String option, String value, String out, String... more)
            throws Exception {
        List<String> args = new ArrayList<>(List.of(
                "--master",
                "local[2]",
                "--model",
                modelZip.toString(),
                "--data",
                data.toString(),
                option,
                value,
                "--sketch-size",
                "24",
                "--partitions",
                "3",
                "--out",
                out));
        args.addAll(Arrays.asList(more));
        assertThat(SparkSpectrumJob.execute(args.toArray(String[]::new)))
                .as(args.toString())
                .isZero();
        return json(out.startsWith("file:") ? Path.of(java.net.URI.create(out)) : Path.of(out));
    }

    /** count distinct indices in [0, n), the given ones first, the rest drawn from r; in no particular order. */
    private static int[] distinct(Random r, int count, int n, int... first) {
        Set<Integer> s = new LinkedHashSet<>();
        for (int i : first) {
            s.add(i);
        }
        while (s.size() < count) {
            s.add(r.nextInt(n));
        }
        List<Integer> l = new ArrayList<>(s);
        java.util.Collections.shuffle(l, r);
        return l.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The rows {@code indices} of {@code all}, in that order, copied one by one. */
    private static DataSet pick(DataSet all, int[] indices) {
        double[][] x = new double[indices.length][];
        double[][] y = new double[indices.length][];
        for (int k = 0; k < indices.length; k++) {
            x[k] = all.getFeatures().getRow(indices[k]).toDoubleVector();
            y[k] = all.getLabels().getRow(indices[k]).toDoubleVector();
        }
        return new DataSet(Nd4j.createFromArray(x), Nd4j.createFromArray(y));
    }

    /** The single-machine spectrum (ℓ = 24, chunk 256) of {@code net} over {@code rows}. */
    private static Map<String, Object> single(MultiLayerNetwork net, DataSet rows) throws Exception {
        return SparkTesting.singleMachine(
                net, rows, false, 24, 256, "model", "rows", Files.createTempFile(dir, "single", ".json"));
    }

    private static void assertSameSpectrum(JsonNode spark, Map<String, Object> single, double rel) {
        double t = (double) single.get("trace");
        assertThat(spark.get("num_examples").asLong()).isEqualTo(((Number) single.get("num_examples")).longValue());
        assertThat(spark.get("trace").asDouble()).isCloseTo(t, within(rel * t));
        double g = (double) single.get("grad_norm_sq");
        assertThat(spark.get("grad_norm_sq").asDouble()).isCloseTo(g, within(rel * g + 1e-14));
    }

    /**
     * Bad subsets: an indices file with a repeated, an out-of-range or a non-integer index, a sample larger than the
     * data, and --limit with --indices or --sample, or both of those: exit code 2 and one error line.
     */
    @Test
    void badSubsetsAreOneErrorLineAndExitTwo() throws Exception {
        Path repeated = Files.writeString(dir.resolve("repeated.txt"), "# picked\n3\n5\n\n3\n");
        Path outside = Files.writeString(dir.resolve("outside.txt"), "0\n799\n800\n");
        Path negative = Files.writeString(dir.resolve("negative.txt"), "0\n-1\n");
        Path fraction = Files.writeString(dir.resolve("fraction.txt"), "1\n2.5\n");
        Path good = Files.writeString(dir.resolve("good.txt"), "1\n2\n3\n");
        String m = model.toString();
        String d = csv.toString();
        String[][] cases = {
            {repeated + " line 5: index 3 repeats line 2", "--model", m, "--data", d, "--indices", repeated.toString()},
            {
                outside + " line 3: index 800 is outside [0, 800)",
                "--model",
                m,
                "--data",
                d,
                "--indices",
                outside.toString()
            },
            {"index -1 is outside [0, 800)", "--model", m, "--data", d, "--indices", negative.toString()},
            {fraction + " line 2: not an index: 2.5", "--model", m, "--data", d, "--indices", fraction.toString()},
            {
                "indices file " + dir.resolve("absent.txt") + " does not exist",
                "--model",
                m,
                "--data",
                d,
                "--indices",
                dir.resolve("absent.txt").toString()
            },
            {"sample must be <= the number of examples 800, got 801", "--model", m, "--data", d, "--sample", "801"},
            {
                "--limit cannot be combined with --indices or --sample",
                "--model",
                m,
                "--data",
                d,
                "--limit",
                "100",
                "--indices",
                good.toString()
            },
            {
                "--limit cannot be combined with --indices or --sample",
                "--model",
                m,
                "--data",
                d,
                "--limit",
                "100",
                "--sample",
                "10"
            },
            {
                "--indices and --sample exclude each other",
                "--model",
                m,
                "--data",
                d,
                "--indices",
                good.toString(),
                "--sample",
                "10"
            },
        };
        assertBadInput(cases);
    }
}

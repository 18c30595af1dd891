package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.assertj.core.api.Assertions;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.sgdnoise.internal.linalg.SymmetricEigen;
import org.sgdnoise.testing.TestNetworks;

class SpectrumTest {

    /** Exact eigenvalues must agree to 1e-6 relative to λ_max (the acceptance bound). */
    static final double EIG_TOLERANCE = 1e-6;

    @TempDir
    Path dir;

    private static double[][] rows(int n, long seed) {
        Random r = new Random(seed);
        double[][] x = new double[n][5];
        for (double[] row : x) {
            for (int j = 0; j < 4; j++) {
                row[j] = r.nextGaussian();
            }
            row[4] = r.nextInt(3);
        }
        return x;
    }

    private Path writeCsv(double[][] data) throws Exception {
        StringBuilder sb = new StringBuilder("a,b,c,d,label\n");
        for (double[] row : data) {
            sb.append(row[0])
                    .append(',')
                    .append(row[1])
                    .append(',')
                    .append(row[2])
                    .append(',')
                    .append(row[3])
                    .append(',')
                    .append((int) row[4])
                    .append('\n');
        }
        Path p = dir.resolve("data.csv");
        Files.writeString(p, sb.toString());
        return p;
    }

    private Path trainedModel(double[][] data) throws Exception {
        MultiLayerNetwork net = TestNetworks.denseSoftmax(3, 4, 6, 3, DataType.DOUBLE, new Sgd(0.1));
        DataSet ds = toDataSet(data);
        for (int i = 0; i < 20; i++) {
            net.fit(ds);
        }
        Path p = dir.resolve("model.zip");
        ModelSerializer.writeModel(net, p.toFile(), false);
        return p;
    }

    private static DataSet toDataSet(double[][] data) {
        INDArray x = Nd4j.create(DataType.DOUBLE, data.length, 4);
        INDArray y = Nd4j.create(DataType.DOUBLE, data.length, 3);
        for (int i = 0; i < data.length; i++) {
            for (int j = 0; j < 4; j++) {
                x.putScalar(i, j, data[i][j]);
            }
            y.putScalar(i, (int) data[i][4], 1.0);
        }
        return new DataSet(x, y);
    }

    /** D from DL4J's own single-example gradients, centred and multiplied out in plain double loops. */
    private static double[] independentEigenvalues(Path model, double[][] data) throws Exception {
        MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(model.toFile(), false);
        DataSet all = toDataSet(data);
        int n = data.length;
        int d = (int) net.numParams();
        double[][] g = new double[n][];
        for (int i = 0; i < n; i++) {
            DataSet one = all.get(i);
            g[i] = net.calculateGradients(one.getFeatures(), one.getLabels(), null, null)
                    .getFirst()
                    .gradient()
                    .toDoubleVector();
        }
        double[] mean = new double[d];
        for (double[] row : g) {
            for (int j = 0; j < d; j++) {
                mean[j] += row[j] / n;
            }
        }
        double[][] c = new double[d][d];
        for (double[] row : g) {
            for (int a = 0; a < d; a++) {
                for (int b = 0; b < d; b++) {
                    c[a][b] += (row[a] - mean[a]) * (row[b] - mean[b]) / n;
                }
            }
        }
        return SymmetricEigen.eigenvalues(c, 1.0);
    }

    /**
     * Issue 21: {@code curvature} on the saved SameDiff MLP equals the same network's DL4J zip: the top Hessian
     * eigenvalues (central differences of each framework's own gradient, in double; Lanczos from start vectors in
     * two parameter orders) to 1e-6 of h₁, and the commutator and overlap of H and D, which no parameter order
     * changes, to 1e-5.
     */
    @Test
    void aSavedSameDiffMlpHasTheCurvatureOfTheSameMultiLayerNetwork() throws Exception {
        double[][] data = rows(80, 4);
        Path zip = trainedModel(data);
        Path sd = asSameDiff(zip, true);
        Path csv = writeCsv(data);
        JsonNode[] reports = onBoth(zip, sd, "curvature", "--data", csv.toString(), "--top", "4", "--gradients", "80");
        JsonNode dl4j = reports[0];
        JsonNode same = reports[1];
        assertThat(same.get("model_format").asText()).isEqualTo("samediff");
        assertThat(same.get("gradient_path").asText()).isEqualTo("batched");
        assertThat(same.get("lanczos_converged").asBoolean()).isTrue();
        double h1 = dl4j.get("hessian_eigenvalues").get(0).asDouble();
        for (int i = 0; i < 4; i++) {
            assertThat(same.get("hessian_eigenvalues").get(i).asDouble())
                    .as("h_%d", i + 1)
                    .isCloseTo(dl4j.get("hessian_eigenvalues").get(i).asDouble(), Assertions.within(1e-6 * h1));
        }
        for (String key : new String[] {"commutator_norm", "overlap_hessian_d"}) {
            assertThat(same.get(key).asDouble()).as(key).isCloseTo(dl4j.get(key).asDouble(), Assertions.within(1e-5));
        }
    }

    /** Runs {@code command} with {@code args} on the DL4J zip and on the SameDiff file; their reports, in that order. */
    private JsonNode[] onBoth(Path zip, Path sd, String command, String... args) throws Exception {
        JsonNode[] out = new JsonNode[2];
        Path[] models = {zip, sd};
        for (int i = 0; i < 2; i++) {
            Path report = dir.resolve(command + "-" + i + ".json");
            List<String> line = new ArrayList<>(List.of(command, "--model", models[i].toString()));
            line.addAll(List.of(args));
            line.addAll(List.of("--out", report.toString()));
            assertThat(Main.execute(line.toArray(new String[0])))
                    .as("%s on %s", command, models[i])
                    .isZero();
            out[i] = new ObjectMapper().readTree(report.toFile());
        }
        return out;
    }

    /** The trained MultiLayerNetwork of {@link #trainedModel} rebuilt in SameDiff with its parameters, saved. */
    private Path asSameDiff(Path zip, boolean withConfig) throws Exception {
        MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(zip.toFile(), false);
        org.nd4j.autodiff.samediff.SameDiff sd = org.nd4j.autodiff.samediff.SameDiff.create();
        var in = sd.placeHolder("in", DataType.DOUBLE, -1, 4);
        var label = sd.placeHolder("label", DataType.DOUBLE, -1, 3);
        var w0 = sd.var("dense/W", net.getParam("0_W").dup('c'));
        var b0 = sd.var("dense/b", net.getParam("0_b").dup().reshape(6));
        var w1 = sd.var("out/W", net.getParam("1_W").dup('c'));
        var b1 = sd.var("out/b", net.getParam("1_b").dup().reshape(3));
        var h = sd.math.tanh(sd.nn.linear(in, w0, b0));
        sd.loss.softmaxCrossEntropy("loss", label, sd.nn.linear(h, w1, b1), null);
        if (withConfig) {
            sd.setTrainingConfig(org.nd4j.autodiff.samediff.TrainingConfig.builder()
                    .updater(new Sgd(0.1))
                    .dataSetFeatureMapping("in")
                    .dataSetLabelMapping("label")
                    .minimize("loss")
                    .build());
        }
        Path p = dir.resolve(withConfig ? "model.sd" : "bare.sd");
        sd.save(p.toFile(), false);
        return p;
    }

    /**
     * Issue 21: {@code spectrum --exact} on a saved SameDiff MLP (its TrainingConfig names the placeholders and the
     * loss) equals the same network saved as a MultiLayerNetwork: every eigenvalue to 1e-10 of λ_max, the trace to
     * 1e-12; a file without a mapping needs --features and --labels, and says so.
     */
    @Test
    void aSavedSameDiffMlpHasTheSpectrumOfTheSameMultiLayerNetwork() throws Exception {
        double[][] data = rows(80, 4);
        Path zip = trainedModel(data);
        Path sd = asSameDiff(zip, true);
        Path csv = writeCsv(data);
        JsonNode[] reports = onBoth(zip, sd, "spectrum", "--data", csv.toString(), "--exact");
        JsonNode dl4j = reports[0];
        JsonNode same = reports[1];
        assertThat(same.get("model_format").asText()).isEqualTo("samediff");
        assertThat(same.get("num_params").asInt())
                .isEqualTo(dl4j.get("num_params").asInt());
        assertThat(same.get("trace").asDouble())
                .isCloseTo(
                        dl4j.get("trace").asDouble(),
                        Assertions.within(1e-12 * dl4j.get("trace").asDouble()));
        double scale = dl4j.get("eigenvalues").get(0).asDouble();
        for (int i = 0; i < dl4j.get("eigenvalues").size(); i++) {
            assertThat(same.get("eigenvalues").get(i).asDouble())
                    .as("eigenvalue %d", i)
                    .isCloseTo(dl4j.get("eigenvalues").get(i).asDouble(), Assertions.within(1e-10 * scale));
        }
        Path bare = asSameDiff(zip, false);
        Path c = dir.resolve("bare.json");
        assertThat(Main.execute(
                        "spectrum", "--model", bare.toString(), "--data", csv.toString(), "--out", c.toString()))
                .isEqualTo(Main.EXIT_USAGE);
        assertThat(Main.execute(
                        "spectrum",
                        "--model",
                        bare.toString(),
                        "--data",
                        csv.toString(),
                        "--features",
                        "in",
                        "--labels",
                        "label",
                        "--exact",
                        "--out",
                        c.toString()))
                .isZero();
        assertThat(new ObjectMapper().readTree(c.toFile()).get("trace").asDouble())
                .isCloseTo(
                        dl4j.get("trace").asDouble(),
                        Assertions.within(1e-12 * dl4j.get("trace").asDouble()));
    }

    @Test
    void exactSpectrumMatchesAnIndependentComputationAndTheSketchIntervalsContainIt() throws Exception {
        double[][] data = rows(150, 1);
        Path model = trainedModel(data);
        Path csv = writeCsv(data);
        Path out = dir.resolve("spectrum.json");
        assertThat(Main.execute(
                        "spectrum",
                        "--model",
                        model.toString(),
                        "--data",
                        csv.toString(),
                        "--exact",
                        "--sketch-size",
                        "8",
                        "--chunk",
                        "40",
                        "--out",
                        out.toString()))
                .isZero();
        JsonNode r = new ObjectMapper().readTree(out.toFile());
        double[] expected = independentEigenvalues(model, data);
        assertThat(r.get("num_params").asInt()).isEqualTo(expected.length);
        assertThat(r.get("num_examples").asInt()).isEqualTo(150);
        assertThat(r.get("method").get("name").asText()).isEqualTo("exact");
        JsonNode eig = r.get("eigenvalues");
        double scale = expected[0];
        for (int i = 0; i < expected.length; i++) {
            assertThat(Math.abs(eig.get(i).asDouble() - expected[i]))
                    .as("eigenvalue %d", i)
                    .isLessThanOrEqualTo(EIG_TOLERANCE * scale);
        }
        double trace = Arrays.stream(expected).sum();
        assertThat(r.get("trace").asDouble()).isCloseTo(trace, Assertions.within(1e-9 * trace));
        // The sketch (ℓ = 8 for d = 51: it has shrunk) brackets every exact eigenvalue.
        double delta = r.get("method").get("delta").asDouble();
        assertThat(delta).isPositive();
        JsonNode iv = r.get("eigenvalue_intervals");
        for (int i = 0; i < expected.length; i++) {
            double lo = i < iv.size() ? iv.get(i).get(0).asDouble() : 0;
            double hi = i < iv.size() ? iv.get(i).get(1).asDouble() : delta;
            assertThat(expected[i])
                    .as("eigenvalue %d in [%s, %s]", i, lo, hi)
                    .isBetween(lo - 1e-9 * scale, hi + 1e-9 * scale);
        }
        for (String key : new String[] {
            "rank",
            "rank_fraction",
            "rank_threshold",
            "eig_mean",
            "eig_std",
            "participation_ratio",
            "participation_ratio_plugin",
            "stable_rank",
            "effective_rank",
            "noise_scale"
        }) {
            assertThat(r.has(key)).as(key).isTrue();
        }
    }

    /**
     * {@code spectrum --exact --indices FILE}: D over the chosen examples equals the independent computation over the
     * same rows, picked by plain Java indexing; {@code --sample N --seed S} writes its indices beside the report, is
     * reproducible, and a rerun with {@code --indices} on that file gives the same D.
     */
    @Test
    void aChosenSubsetGivesDOverExactlyThoseExamples() throws Exception {
        double[][] data = rows(150, 1);
        Path model = trainedModel(data);
        Path csv = writeCsv(data);
        int[] chosen = {
            149, 3, 77, 0, 12, 98, 41, 120, 5, 66, 133, 27, 88, 54, 101, 9, 140, 33, 71, 116, 60, 18, 92, 125, 45, 7,
            111, 84, 37, 146, 23, 58, 131, 14, 79, 103, 50
        };
        StringBuilder file = new StringBuilder("# chosen by hand\n\n");
        for (int i : chosen) {
            file.append("  ").append(i).append('\n');
        }
        Path indices = Files.writeString(dir.resolve("chosen.txt"), file.toString());
        Path out = dir.resolve("subset.json");
        assertThat(Main.execute(
                        "spectrum",
                        "--model",
                        model.toString(),
                        "--data",
                        csv.toString(),
                        "--exact",
                        "--indices",
                        indices.toString(),
                        "--out",
                        out.toString()))
                .isZero();
        double[][] picked = new double[chosen.length][];
        for (int i = 0; i < chosen.length; i++) {
            picked[i] = data[chosen[i]];
        }
        double[] expected = independentEigenvalues(model, picked);
        JsonNode r = new ObjectMapper().readTree(out.toFile());
        assertThat(r.get("num_examples").asInt()).isEqualTo(37);
        for (int i = 0; i < expected.length; i++) {
            assertThat(Math.abs(r.get("eigenvalues").get(i).asDouble() - expected[i]))
                    .as("eigenvalue %d", i)
                    .isLessThanOrEqualTo(EIG_TOLERANCE * expected[0]);
        }
        double trace = Arrays.stream(expected).sum();
        assertThat(r.get("trace").asDouble()).isCloseTo(trace, Assertions.within(1e-9 * trace));
        double all = Arrays.stream(independentEigenvalues(model, data)).sum();
        assertThat(Math.abs(trace - all))
                .as("a subset's D is not the whole set's")
                .isGreaterThan(1e-3 * all);
        JsonNode used = r.get("examples_used");
        assertThat(used.get("selection").asText()).isEqualTo("indices");
        assertThat(used.get("count").asInt()).isEqualTo(37);
        assertThat(used.get("of").asInt()).isEqualTo(150);
        assertThat(used.get("indices_file").asText()).isEqualTo(indices.toString());
        assertThat(used.get("seed").isNull()).isTrue();

        // A seeded sample: its indices are written beside the report, and the same D comes back from them.
        Path sampled = dir.resolve("sampled.json");
        assertThat(Main.execute(
                        "spectrum",
                        "--model",
                        model.toString(),
                        "--data",
                        csv.toString(),
                        "--exact",
                        "--sample",
                        "40",
                        "--seed",
                        "7",
                        "--out",
                        sampled.toString()))
                .isZero();
        Path written = dir.resolve("sampled-indices.txt");
        List<Integer> drawn = Files.readAllLines(written).stream()
                .filter(l -> !l.startsWith("#"))
                .map(Integer::parseInt)
                .toList();
        assertThat(drawn).hasSize(40).doesNotHaveDuplicates().allMatch(i -> i >= 0 && i < 150);
        double[][] fromFile = new double[40][];
        for (int i = 0; i < 40; i++) {
            fromFile[i] = data[drawn.get(i)];
        }
        double[] expectedSample = independentEigenvalues(model, fromFile);
        JsonNode s = new ObjectMapper().readTree(sampled.toFile());
        assertThat(s.get("trace").asDouble())
                .isCloseTo(Arrays.stream(expectedSample).sum(), Assertions.within(1e-9 * expectedSample[0] * 40));
        assertThat(s.get("examples_used").get("seed").asLong()).isEqualTo(7);
        assertThat(s.get("examples_used").get("indices_file").asText()).isEqualTo(written.toString());
        Path again = dir.resolve("again.json");
        assertThat(Main.execute(
                        "spectrum",
                        "--model",
                        model.toString(),
                        "--data",
                        csv.toString(),
                        "--exact",
                        "--indices",
                        written.toString(),
                        "--out",
                        again.toString()))
                .isZero();
        assertThat(new ObjectMapper().readTree(again.toFile()).get("eigenvalues"))
                .isEqualTo(s.get("eigenvalues"));
        assertThat(org.sgdnoise.data.ExampleSubset.sample(40, 7, 150).indices())
                .containsExactly(drawn.stream().mapToInt(Integer::intValue).toArray());
    }

    /** Bad subsets are one error line and exit code 2, before anything is computed. */
    @Test
    void badSubsetsAreOneErrorLine() throws Exception {
        double[][] data = rows(30, 3);
        Path model = trainedModel(data);
        Path csv = writeCsv(data);
        Path dup = Files.writeString(dir.resolve("dup.txt"), "1\n2\n1\n");
        Path far = Files.writeString(dir.resolve("far.txt"), "1\n30\n");
        Path frac = Files.writeString(dir.resolve("frac.txt"), "1\n1.5\n");
        List<String> base = List.of(
                "spectrum",
                "--model",
                model.toString(),
                "--data",
                csv.toString(),
                "--out",
                dir.resolve("bad.json").toString());
        String[][] cases = {
            {"--indices", dup.toString()}, {"--indices", far.toString()}, {"--indices", frac.toString()},
            {"--indices", dup.toString(), "--sample", "5"}, {"--limit", "10", "--sample", "5"}, {"--sample", "31"},
            {"--sample", "1"}, {"--indices", dir.resolve("missing.txt").toString()}
        };
        String[] says = {
            "line 3: index 1 repeats line 1",
            "line 2: index 30 is outside [0, 30)",
            "line 2: not an index: 1.5",
            "--indices and --sample exclude each other",
            "--limit cannot be combined with --indices or --sample",
            "sample must be <= the number of examples 30, got 31",
            "sample must be >= 2, got 1",
            "does not exist"
        };
        for (int i = 0; i < cases.length; i++) {
            List<String> args = new java.util.ArrayList<>(base);
            args.addAll(List.of(cases[i]));
            CommandRun c = CommandRun.of(args.toArray(String[]::new));
            assertThat(c.code()).as("%s: %s", args, c.stderr()).isEqualTo(2);
            assertThat(c.stderr())
                    .singleElement()
                    .asString()
                    .startsWith("error: ")
                    .contains(says[i]);
        }
        assertThat(dir.resolve("bad.json")).doesNotExist();
    }

    @Test
    void sketchOnlyRunReportsIntervalsAndACappedRank() throws Exception {
        double[][] data = rows(90, 2);
        Path model = trainedModel(data);
        Path out = dir.resolve("s.json");
        assertThat(Main.execute(
                        "spectrum",
                        "--model",
                        model.toString(),
                        "--data",
                        writeCsv(data).toString(),
                        "--sketch-size",
                        "4",
                        "--out",
                        out.toString()))
                .isZero();
        JsonNode r = new ObjectMapper().readTree(out.toFile());
        assertThat(r.get("method").get("name").asText()).isEqualTo("sketch");
        assertThat(r.get("eigenvalues").size()).isLessThanOrEqualTo(8); // at most ℓ + b rows held
        assertThat(r.get("rank_capped").asBoolean()).isTrue();
    }

    @Test
    void badInputIsOneLineAndExitCodeTwo() throws Exception {
        double[][] data = rows(20, 3);
        Path model = trainedModel(data);
        Path badCsv = dir.resolve("bad.csv");
        Files.writeString(badCsv, "1,2,3,4,7\n");
        Path garbage = dir.resolve("garbage.zip");
        Files.write(garbage, new byte[] {1, 2, 3});
        Path ragged = dir.resolve("ragged.csv");
        Files.writeString(ragged, "1,2,3,4,0\n1,2,0\n");
        CommandRun badLabel = CommandRun.of("spectrum", "--model", model.toString(), "--data", badCsv.toString());
        CommandRun notAModel = CommandRun.of("spectrum", "--model", garbage.toString(), "--data", badCsv.toString());
        CommandRun raggedRows = CommandRun.of("spectrum", "--model", model.toString(), "--data", ragged.toString());
        assertThat(List.of(badLabel.code(), notAModel.code(), raggedRows.code()))
                .containsOnly(2);
        assertThat(badLabel.stderr()).singleElement().asString().contains("label 7 is not a class in [0, 3)");
        assertThat(notAModel.stderr()).singleElement().asString().contains("is not a DL4J model");
        assertThat(raggedRows.stderr()).singleElement().asString().contains("has 3 columns, expected 5");
    }

    /**
     * A user's CNN built with InputType.convolutional takes [n, 1, 28, 28] images, not the flat rows of an IDX
     * folder: the command shapes the rows for it (it used to fail with "the model and the data do not fit").
     */
    @Test
    void aCnnThatTakesImagesRunsOnAnIdxFolder() throws Exception {
        MultiLayerNetwork cnn = TestNetworks.imageCnn28(4, Activation.RELU, false, DataType.FLOAT, new Sgd(0.1));
        Path model = dir.resolve("cnn.zip");
        ModelSerializer.writeModel(cnn, model.toFile(), false);
        Path idx = ReportTest.builtinCopy(dir.resolve("idx"));
        Path out = dir.resolve("cnn.json");
        assertThat(Main.execute(
                        "spectrum",
                        "--model",
                        model.toString(),
                        "--data",
                        idx.toString(),
                        "--limit",
                        "40",
                        "--sketch-size",
                        "8",
                        "--chunk",
                        "16",
                        "--out",
                        out.toString()))
                .isZero();
        JsonNode r = new ObjectMapper().readTree(out.toFile());
        assertThat(r.get("num_examples").asInt()).isEqualTo(40);
        assertThat(r.get("num_params").asLong()).isEqualTo(cnn.numParams());
        assertThat(r.get("trace").asDouble()).isPositive();
    }
}

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
import java.util.List;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The job's command line: the spectrum command's JSON from Spark, and one error line for bad input. */
class SparkSpectrumJobTest {

    @TempDir
    static Path dir;

    static Path csv;
    static Path model;
    static MultiLayerNetwork net;

    @BeforeAll
    static void files() throws Exception {
        double[][] data = SparkTesting.rows(800, 3);
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
    }
}

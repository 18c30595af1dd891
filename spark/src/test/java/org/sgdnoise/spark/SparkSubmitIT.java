package org.sgdnoise.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's spark-submit line, run through Spark's own {@code SparkSubmit} in a fresh JVM on the packaged jar and
 * {@code target/lib}: the JVM's class path holds Spark and what Spark brings, but none of sgdnoise, DL4J, ND4J or
 * their native libraries, which must all arrive through {@code --jars} as on a cluster. Runs in the package phase.
 */
class SparkSubmitIT {

    @TempDir
    Path dir;

    /** Maven-repository folders of what the job ships in lib/ and Spark does not have. */
    static final List<String> SHIPPED = List.of(
            "/org/deeplearning4j/",
            "/org/nd4j/",
            "/org/bytedeco/",
            "/org/ejml/",
            "/info/picocli/",
            "/org/sgdnoise/",
            "/com/google/flatbuffers/",
            "/com/github/oshi/",
            "/net/ericaro/");

    /** Spark's class path: the test class path without the project's modules and without what lib/ ships. */
    static String sparkClassPath() {
        return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> !e.contains("/target/") && SHIPPED.stream().noneMatch(e::contains))
                .collect(Collectors.joining(File.pathSeparator));
    }

    @Test
    void theDocumentedSparkSubmitLineRunsTheJobFromTheJarAndLib() throws Exception {
        Path target = Path.of("target");
        Path jar = target.resolve("sgdnoise-spark.jar");
        assertThat(jar).exists();
        String jars;
        try (Stream<Path> lib = Files.list(target.resolve("lib"))) {
            jars = lib.map(Path::toString).sorted().collect(Collectors.joining(","));
        }
        String sparkPath = sparkClassPath();
        assertThat(sparkPath)
                .contains("spark-core_2.12")
                .doesNotContain("nd4j")
                .doesNotContain("deeplearning4j")
                .doesNotContain("sgdnoise");
        assertThat(jars)
                .contains("sgdnoise-plugin")
                .contains("nd4j-native")
                .doesNotContain("spark-core")
                .doesNotContain("jackson-databind");
        double[][] data = SparkTesting.rows(600, 4);
        Path csv = SparkTesting.writeCsv(dir.resolve("data.csv"), data, true);
        MultiLayerNetwork net = SparkTesting.mlp(data);
        Path model = dir.resolve("model.zip");
        ModelSerializer.writeModel(net, model.toFile(), false);
        Path out = dir.resolve("spark.json");

        List<String> cmd = new ArrayList<>(
                List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx2g"));
        cmd.addAll(Arrays.asList(System.getProperty(
                        "sgdnoise.spark.opens",
                        "--add-opens=java.base/java.lang=ALL-UNNAMED "
                                + "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED "
                                + "--add-opens=java.base/java.nio=ALL-UNNAMED "
                                + "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED "
                                + "--add-opens=java.base/java.util=ALL-UNNAMED")
                .split(" ")));
        cmd.addAll(List.of(
                "-cp",
                sparkPath,
                "org.apache.spark.deploy.SparkSubmit",
                // From here on, the README's line: spark-submit --master local[2] --class ... --jars ... jar args
                "--master",
                "local[2]",
                "--conf",
                "spark.ui.enabled=false",
                "--conf",
                "spark.driver.host=127.0.0.1",
                "--class",
                "org.sgdnoise.spark.SparkSpectrumJob",
                "--jars",
                jars,
                jar.toString(),
                "--model",
                model.toString(),
                "--data",
                csv.toString(),
                "--sketch-size",
                "16",
                "--out",
                out.toString()));
        Path log = dir.resolve("submit.log");
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        boolean finished = p.waitFor(240, TimeUnit.SECONDS);
        if (!finished) {
            p.destroyForcibly();
        }
        String text = Files.readString(log);
        assertThat(finished).as(text).isTrue();
        assertThat(p.exitValue()).as(text).isZero();
        assertThat(text)
                .as("the job's classes must come from --jars, not the JVM's class path")
                .doesNotContain("ClassNotFoundException")
                .doesNotContain("NoClassDefFoundError");

        Path single = dir.resolve("single.json");
        SparkTesting.singleMachine(model, csv, 16, single);
        JsonNode a = new ObjectMapper().readTree(single.toFile());
        JsonNode b = new ObjectMapper().readTree(out.toFile());
        assertThat(b.get("num_examples").asLong()).isEqualTo(600);
        assertThat(b.get("trace").asDouble())
                .isCloseTo(
                        a.get("trace").asDouble(), within(1e-10 * a.get("trace").asDouble()));
        assertThat(b.get("spark").get("master").asText()).isEqualTo("local[2]");
    }
}

package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.sgdnoise.curvature.Curvature;
import org.sgdnoise.data.CsvData;
import org.sgdnoise.testing.TestNetworks;

/** The {@code curvature} command: its report and basis file, against the library run on the same input. */
class CurvatureTest {

    @TempDir
    Path dir;

    private Path csv(int n) throws Exception {
        Random r = new Random(5);
        StringBuilder sb = new StringBuilder("a,b,c,d,label\n");
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < 4; j++) {
                sb.append(r.nextGaussian()).append(',');
            }
            sb.append(r.nextInt(3)).append('\n');
        }
        Path p = dir.resolve("data.csv");
        Files.writeString(p, sb.toString());
        return p;
    }

    private Path model(Path csv) throws Exception {
        MultiLayerNetwork net = TestNetworks.denseSoftmax(3, 4, 6, 3, DataType.DOUBLE, new Sgd(0.1));
        DataSet ds = CsvData.read(csv, 3, Integer.MAX_VALUE, DataType.DOUBLE);
        for (int i = 0; i < 20; i++) {
            net.fit(ds);
        }
        Path p = dir.resolve("model.zip");
        ModelSerializer.writeModel(net, p.toFile(), false);
        return p;
    }

    @Test
    void theReportAndTheBasisFileHoldTheLibrarysNumbers() throws Exception {
        Path data = csv(60);
        Path model = model(data);
        Path out = dir.resolve("out/curv.json");
        CommandRun run = CommandRun.of(
                "curvature",
                "--model",
                model.toString(),
                "--data",
                data.toString(),
                "--top",
                "3",
                "--gradients",
                "40",
                "--trace-probes",
                "10",
                "--lr",
                "0.05",
                "--batch",
                "8",
                "--out",
                out.toString());
        assertThat(run.code()).as(run.stderr().toString()).isZero();
        JsonNode r = new ObjectMapper().readTree(out.toFile());
        long d = r.get("num_params").asLong();
        for (String key : List.of(
                "num_params",
                "hessian_eigenvalues",
                "hessian_trace",
                "hessian_trace_stderr",
                "d_in_hessian_basis",
                "commutator_norm",
                "overlap_hessian_d",
                "b_noise",
                "seed",
                "predicted_area_rates",
                "predicted_periods",
                "steps_for_snr4")) {
            assertThat(r.has(key)).as(key + " in " + r).isTrue();
        }
        assertThat(r.get("examples").asInt()).isEqualTo(60);
        assertThat(r.get("gradients").asInt()).isEqualTo(40);
        assertThat(r.get("hessian_eigenvalues")).hasSize(3);
        assertThat(r.get("d_in_hessian_basis")).hasSize(3);
        assertThat(r.get("d_in_hessian_basis").get(0)).hasSize(3);
        double[] h = new ObjectMapper().treeToValue(r.get("hessian_eigenvalues"), double[].class);
        assertThat(h[0]).isGreaterThanOrEqualTo(h[1]);
        assertThat(h[1]).isGreaterThanOrEqualTo(h[2]);

        // The library on the same model and data gives the same numbers; the basis file holds its vectors.
        MultiLayerNetwork net = MultiLayerNetwork.load(model.toFile(), false);
        DataSet ds = CsvData.read(data, 3, Integer.MAX_VALUE, DataType.DOUBLE);
        Curvature.Result lib = Curvature.compute(net, ds, new Curvature.Options(3, 40, 10, 100, 1, true));
        assertThat(h).containsExactly(lib.top().values(), within(1e-12 * Math.abs(h[0])));
        assertThat(r.get("commutator_norm").asDouble())
                .isCloseTo(lib.alignment().commutator(), within(1e-9));
        assertThat(r.get("hessian_trace").asDouble()).isCloseTo(lib.trace().trace(), within(1e-9 * h[0]));
        INDArray basis =
                Nd4j.createFromNpyFile(dir.resolve("out/curv-basis.npy").toFile());
        assertThat(basis.shape()).containsExactly(3, d);
        assertThat(basis.dataType()).isEqualTo(DataType.DOUBLE);
        assertThat(basis.toDoubleMatrix()[0]).containsExactly(lib.top().vectors()[0], within(1e-12));
    }

    @Test
    void badInputIsOneLineAndExitCodeTwo() throws Exception {
        Path data = csv(30);
        Path model = model(data);
        Path indices = dir.resolve("idx.txt");
        Files.writeString(indices, "0\n1\n99\n");
        Path dup = Files.writeString(dir.resolve("dup.txt"), "0\n1\n0\n");
        List<String> base = List.of("curvature", "--model", model.toString(), "--data", data.toString());
        CommandRun lrAlone = CommandRun.of(concat(base, "--lr", "0.1"));
        CommandRun topZero = CommandRun.of(concat(base, "--top", "0"));
        CommandRun outside = CommandRun.of(concat(base, "--indices", indices.toString()));
        CommandRun tooMany = CommandRun.of(concat(base, "--top", "500"));
        CommandRun repeated = CommandRun.of(concat(base, "--indices", dup.toString()));
        CommandRun limitAndSample = CommandRun.of(concat(base, "--limit", "10", "--sample", "5"));
        for (CommandRun c : List.of(lrAlone, topZero, outside, tooMany, repeated, limitAndSample)) {
            assertThat(c.code()).as(c.stderr().toString()).isEqualTo(2);
            assertThat(c.stderr()).singleElement().asString().startsWith("error: ");
        }
        assertThat(lrAlone.stderr().get(0)).contains("--lr and --batch go together");
        assertThat(topZero.stderr().get(0)).contains("top must be >= 1, got 0");
        assertThat(outside.stderr().get(0)).contains("line 3: index 99 is outside [0, 30)");
        assertThat(tooMany.stderr().get(0)).contains("top must be <= the trained parameters d = 51");
        assertThat(repeated.stderr().get(0)).contains("line 3: index 0 repeats line 1");
        assertThat(limitAndSample.stderr().get(0)).contains("--limit cannot be combined with --indices or --sample");
    }

    private static String[] concat(List<String> base, String... more) {
        String[] all = base.toArray(new String[0]);
        String[] out = java.util.Arrays.copyOf(all, all.length + more.length);
        System.arraycopy(more, 0, out, all.length, more.length);
        return out;
    }
}

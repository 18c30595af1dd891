package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.sgdnoise.models.SmallLeNet;
import org.sgdnoise.samples.report.Report;
import org.sgdnoise.testing.TestNetworks;

/** {@code reproduce}: the quick variant end to end, and its exact D against an independent computation. */
class ReproduceTest {

    @TempDir
    Path dir;

    @Test
    void theQuickRunWritesItsResultsAndTheDocumentFromThem() throws Exception {
        Path out = dir.resolve("out");
        Path doc = dir.resolve("REPRODUCTION.md");
        assertThat(Main.execute("reproduce", "--quick", "--out", out.toString(), "--doc", doc.toString()))
                .isZero();
        JsonNode r =
                new ObjectMapper().readTree(out.resolve("reproduction.json").toFile());
        String md = Files.readString(doc);
        assertThat(r.get("snapshots")).hasSize(3);
        for (JsonNode s : r.get("snapshots")) {
            assertThat(s.get("num_params").asLong()).isEqualTo(SmallLeNet.TRAINABLE_PARAMS);
            assertThat(s.get("num_examples").asInt()).isEqualTo(500);
            assertThat(s.get("rank").asInt()).isPositive();
            JsonNode b = s.get("bootstrap");
            assertThat(b.get("resamples").asInt()).isEqualTo(200);
            assertThat(b.get("trace").get(0).asDouble())
                    .isLessThan(s.get("trace").asDouble());
            assertThat(b.get("trace").get(1).asDouble())
                    .isGreaterThan(s.get("trace").asDouble());
            assertThat(b.get("eigenvalues")).hasSize(10);
            // The table is generated from the results, not typed: each snapshot's figures are in it.
            assertThat(md)
                    .contains(String.format(
                            Locale.ROOT,
                            "| this run, seed 42, %d%% of training (iteration %d), D over 500 | 13,338 "
                                    + "| %s%.2f %% | %.3g ± %.3g |",
                            s.get("percent").asInt(),
                            s.get("iteration").asLong(),
                            s.get("rank_capped").asBoolean() ? "≥ " : "",
                            100 * s.get("rank_fraction").asDouble(),
                            s.get("eig_mean").asDouble(),
                            s.get("eig_std").asDouble()));
        }
        assertThat(r.get("spectra_differences")).hasSize(2);
        assertThat(r.get("toy")).hasSize(3);
        assertThat(r.get("toy").get(2).get("verdict").asText()).isEqualTo("LOOP"); // λ = 1.5 breaks detailed balance
        assertThat(r.get("loops").get("iterations").asInt()).isEqualTo(700);
        JsonNode h = r.get("hessian_loops"); // the short `loops` experiment in the top Hessian eigenspace
        assertThat(h.get("recorded_steps").asInt()).isEqualTo(2000);
        assertThat(h.get("hessian_eigenvalues")).hasSize(6);
        assertThat(h.get("lanczos_consistency").asDouble()).isLessThan(1e-6);
        assertThat(h.get("covariance_trace_ratio").asDouble()).isPositive();
        assertThat(md)
                .contains("## Loops in the top Hessian eigenspace, predicted and measured (short)")
                .contains(Reproduce.PAPER_ROW.substring(0, Reproduce.PAPER_ROW.lastIndexOf(" — |")))
                .contains("1. **\"D is highly low-rank\"")
                .contains("   - **Bulk: not decided (one seed: no yardstick).**")
                .contains("   - **Top: ")
                .contains("![histograms-seed-42.png](reproduction/histograms-seed-42.png)")
                .contains("reproduce --quick")
                .contains("Wall time, seed 42:");
        // The document can be written again from the results alone, identically.
        Path again = dir.resolve("again.md");
        assertThat(Main.execute(
                        "reproduce",
                        "--from-results",
                        out.resolve("reproduction.json").toString(),
                        "--doc",
                        again.toString()))
                .isZero();
        assertThat(Files.readString(again)).isEqualTo(md);
        assertThat(dir.resolve("reproduction/histograms-seed-42.png")).isNotEmptyFile();
        assertThat(dir.resolve("reproduction/trace-vs-loss.png")).isNotEmptyFile();
        // The report draws the run's spectra.
        Report.Result rep = Report.run(out, out.resolve("report"));
        assertThat(rep.sections()).contains("spectra", "phase_portrait");
    }

    /** D over N examples from the N×N Gram matrix equals the d×d computation of the spectrum command (d = 51). */
    @Test
    void theGramSpectrumEqualsTheExactDByDSpectrum() throws Exception {
        MultiLayerNetwork net = TestNetworks.denseSoftmax(5, 4, 6, 3, DataType.DOUBLE, new Sgd(0.1));
        Random rnd = new Random(3);
        int n = 120;
        double[][] x = new double[n][4];
        double[][] y = new double[n][3];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < 4; j++) {
                x[i][j] = rnd.nextGaussian();
            }
            y[i][rnd.nextInt(3)] = 1;
        }
        DataSet data = new DataSet(Nd4j.createFromArray(x), Nd4j.createFromArray(y));
        Map<String, Object> gram = Reproduce.snapshot(net, data, 100, 0, dir);
        Map<String, Object> exact =
                Spectrum.compute(net, data, true, 8, 50, "mlp", "random", dir.resolve("exact.json"));
        double[] a = (double[]) gram.get("eigenvalues");
        double[] b = (double[]) exact.get("eigenvalues");
        assertThat(((Number) gram.get("trace")).doubleValue())
                .isCloseTo((double) exact.get("trace"), within(1e-10 * (double) exact.get("trace")));
        for (int i = 0; i < 40; i++) {
            assertThat(a[i]).as("eigenvalue %d", i).isCloseTo(b[i], within(1e-9 * b[0]));
        }
        assertThat(gram.get("rank")).isEqualTo(exact.get("rank"));
        Map<String, Object> dByD = Reproduce.snapshot(net, data, 100, 0, dir, 0); // reproduce's own d×d branch
        double[] c = (double[]) dByD.get("eigenvalues");
        for (int i = 0; i < 40; i++) {
            assertThat(c[i]).as("d x d eigenvalue %d", i).isCloseTo(a[i], within(1e-9 * a[0]));
        }
        assertThat(dByD.get("rank")).isEqualTo(gram.get("rank"));
        // Bootstrap intervals: from the Gram matrix's eigenvectors here, from a second pass projected on the d×d
        // matrix's there; the same resamples give the same intervals.
        Map<?, ?> bg = (Map<?, ?>) gram.get("bootstrap");
        Map<?, ?> bd = (Map<?, ?>) dByD.get("bootstrap");
        assertThat((double) bd.get("subspace_trace_fraction")).isCloseTo(1.0, within(1e-9));
        for (String key : new String[] {"trace", "participation_ratio", "effective_rank", "noise_scale"}) {
            double[] fromGram = (double[]) bg.get(key);
            double[] fromDxD = (double[]) bd.get(key);
            assertThat(fromDxD[0]).as(key).isCloseTo(fromGram[0], within(1e-7 * Math.abs(fromGram[0])));
            assertThat(fromDxD[1]).as(key).isCloseTo(fromGram[1], within(1e-7 * Math.abs(fromGram[1])));
        }
        double traceG = ((Number) gram.get("trace")).doubleValue();
        assertThat(traceG).isBetween(((double[]) bg.get("trace"))[0], ((double[]) bg.get("trace"))[1]);
        assertThat(((Map<?, ?>) dByD.get("method")).get("name")).isEqualTo("exact");
    }
    /**
     * A run killed after its 20% checkpoint and started again with the same folder goes on from there and ends
     * with the parameters of an unbroken run, bit for bit (the sampler replayed, the dropout masks reseeded); a
     * folder holding another protocol's run is refused.
     */
    @Test
    void aResumedRunEndsWithTheParametersOfAnUnbrokenOne() throws Exception {
        org.sgdnoise.data.FashionMnist.Data data = org.sgdnoise.samples.data.BuiltinData.load();
        DataSet train = (DataSet) data.train().getRange(0, 512);
        Reproduce.Options unbroken = options(dir.resolve("unbroken"), 0.2);
        Reproduce.Options resumed = options(dir.resolve("resumed"), 0.2);
        Files.createDirectories(unbroken.out());
        Files.createDirectories(resumed.out());
        Reproduce.Training a = Reproduce.train(unbroken, train, "builtin", 2);
        Reproduce.Training first = Reproduce.train(resumed, train, "builtin", 0); // "killed" after 20%
        assertThat(first.net().getIterationCount()).isEqualTo(Reproduce.snapshotIteration(2 * 4, 20));
        assertThat(Files.exists(Reproduce.checkpoint(resumed.out(), 40))).isFalse();
        Reproduce.Training b = Reproduce.train(resumed, train, "builtin", 2);
        assertThat(b.net().getIterationCount()).isEqualTo(8);
        assertThat(b.net().getEpochCount()).isEqualTo(2);
        assertThat(b.net().params()).isEqualTo(a.net().params());
        assertThat(b.net().getUpdater().getStateViewArray())
                .isEqualTo(a.net().getUpdater().getStateViewArray());
        // The same folder with another protocol is bad input, said once.
        Reproduce.Options other = options(dir.resolve("resumed"), 0.3);
        assertThatThrownBy(() -> Reproduce.train(other, train, "builtin", 2))
                .isInstanceOf(org.sgdnoise.UserInputException.class)
                .hasMessageContaining("another protocol");
    }

    private static Reproduce.Options options(Path out, double dropRate) {
        return new Reproduce.Options(
                true,
                null,
                2,
                128,
                0.1,
                0.9,
                5e-4,
                dropRate,
                500,
                null,
                0,
                1,
                700,
                32,
                10_000,
                7,
                true,
                false,
                out,
                out.resolve("R.md"),
                "test");
    }
}

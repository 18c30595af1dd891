package org.sgdnoise.probe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.curvature.HessianOperator;
import org.sgdnoise.curvature.HessianVectorProducts;
import org.sgdnoise.curvature.Lanczos;
import org.sgdnoise.curvature.LanczosResult;
import org.sgdnoise.curvature.NoiseAlignment;
import org.sgdnoise.diffusion.DiffusionStatistics;
import org.sgdnoise.diffusion.DiffusionStats;
import org.sgdnoise.gradients.GradientFactors;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.testing.TestNetworks;

/** The engine on its own: statuses instead of exceptions, the statistics of the exact path, the schema. */
class NoiseProbeTest {

    /** The curvature step against the same computation done again: the same operations, the same numbers. */
    private static final double SAME = 1e-12;

    private static final ProbeFields.Schedule SCHEDULE = new ProbeFields.Schedule(1, Double.NaN, 0, Double.NaN);

    private static NoiseProbe.Config config(int k) {
        NoiseProbe.Config d = NoiseProbe.Config.defaults();
        return new NoiseProbe.Config(
                k,
                d.mode(),
                d.selection(),
                3,
                d.seed(),
                d.memoryBudgetBytes(),
                d.sampling(),
                d.datasetSize(),
                4,
                d.sketchHalfLife(),
                d.sketchCentring());
    }

    @Test
    void aProbeGivesTheStatisticsOfItsPerExampleGradients() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        DataSet data = TestNetworks.vectors(12, 5, DataType.DOUBLE);
        ProbeResult r = new NoiseProbe(config(8)).probe(net, ProbeBatch.of(data), null, 0, 0, 1.5);
        assertThat(r.status()).isEqualTo(ProbeStatus.OK);
        assertThat(r.batchSize()).isEqualTo(12);
        // Independently: the k x d block of the exact path, centred, through the block statistics.
        int[] first8 = {0, 1, 2, 3, 4, 5, 6, 7};
        DiffusionStats exact = DiffusionStatistics.compute(new PerExampleGradients(ProbeMode.EVAL, 1L << 30, false)
                .compute(net, ProbeBatch.of(data), first8)
                .rows());
        assertThat(r.stats().trace()).isCloseTo(exact.trace(), within(1e-10));
        assertThat(r.stats().topEigenvalues(3)).containsExactly(exact.topEigenvalues(3), within(1e-10));
        assertThat(r.sketch()).isNotNull();
        assertThat(r.logLine(0)).startsWith("iteration 0 epoch 0 loss 1.500 | D: tr=");
    }

    @Test
    void expectedOutcomesAreStatusesNotExceptions() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        NoiseProbe probe = new NoiseProbe(config(8));
        ProbeResult one = probe.probe(net, ProbeBatch.of(TestNetworks.vectors(1, 5, DataType.DOUBLE)), null, 3, 0, 1);
        assertThat(one.status()).isEqualTo(ProbeStatus.TOO_FEW_EXAMPLES);
        assertThat(one.reason()).contains("at least 2");
        ProbeResult nanLoss =
                probe.probe(net, ProbeBatch.of(TestNetworks.vectors(8, 5, DataType.DOUBLE)), null, 4, 0, Double.NaN);
        assertThat(nanLoss.status()).isEqualTo(ProbeStatus.NON_FINITE);
        DataSet bad = TestNetworks.vectors(8, 5, DataType.DOUBLE);
        bad.getFeatures().putScalar(0, 0, Double.NaN);
        ProbeResult nanGradients = probe.probe(net, ProbeBatch.of(bad), null, 5, 0, 1);
        assertThat(nanGradients.status()).isEqualTo(ProbeStatus.NON_FINITE);
        assertThat(nanGradients.logLine(0)).contains("probe skipped: non-finite per-example gradients");
        assertThat(probe.probes()).isZero();
        assertThatThrownBy(() -> ProbeFields.toRecord(nanGradients, new ProbeFields.Counts(0, 0, 0, 0), SCHEDULE))
                .hasMessageContaining("status OK");
    }

    @Test
    void everyRecordKeyIsAProbeFieldsConstantInTheOrderDeclared() throws IllegalAccessException {
        List<String> declared = new ArrayList<>();
        for (Field f : ProbeFields.class.getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
                declared.add((String) f.get(null));
            }
        }
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        // With the sketch and the curvature step on, every key is written.
        ProbeResult r = new NoiseProbe(
                        config(8).withCurvature(new NoiseProbe.CurvatureConfig(1, 2)),
                        ProbeBatch.of(TestNetworks.vectors(6, 9, DataType.DOUBLE)))
                .probe(net, ProbeBatch.of(TestNetworks.vectors(12, 5, DataType.DOUBLE)), null, 0, 0, 1);
        ProbeRecord record = ProbeFields.toRecord(r, new ProbeFields.Counts(2, 1, 0, 0), SCHEDULE);
        assertThat(new ArrayList<>(record.fields().keySet())).isEqualTo(declared);
        assertThat(record.get(ProbeFields.WORKER)).isEqualTo(2);
        assertThat(Arrays.asList(record.fields().keySet().toArray())).doesNotHaveDuplicates();
    }

    @Test
    void withoutACurvatureStepNoRecordHasHessianKeys() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        ProbeResult r = new NoiseProbe(config(8))
                .probe(net, ProbeBatch.of(TestNetworks.vectors(12, 5, DataType.DOUBLE)), null, 0, 0, 1);
        assertThat(r.hessian()).isNull();
        assertThat(ProbeFields.toRecord(r, new ProbeFields.Counts(0, 0, 0, 0), SCHEDULE)
                        .fields()
                        .keySet())
                .noneMatch(key -> key.startsWith("hessian_"));
        assertThat(r.logLine(0)).doesNotContain("| H:");
    }

    @Test
    void theCurvatureStepEqualsLanczosAndNoiseAlignmentOnTheProbesOwnGradients() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        DataSet batch = TestNetworks.vectors(12, 5, DataType.DOUBLE);
        DataSet examples = TestNetworks.vectors(20, 9, DataType.DOUBLE);
        double[] before = net.params().toDoubleVector();
        ProbeResult r = new NoiseProbe(
                        config(8).withCurvature(new NoiseProbe.CurvatureConfig(1, 3)), ProbeBatch.of(examples))
                .probe(net, ProbeBatch.of(batch), null, 0, 0, 1);
        assertThat(net.params().toDoubleVector()).isEqualTo(before);
        // Independently, at the same parameters: H over the examples, its top 3 by Lanczos with the probe's seed, and
        // the alignment with the same 8 gradients (FIRST selection).
        HessianOperator h = new HessianVectorProducts().at(net, ProbeBatch.of(examples));
        LanczosResult top = Lanczos.largest(h, 3, config(8).seed());
        NoiseAlignment.Result a;
        try (GradientFactors g = new PerExampleGradients(ProbeMode.EVAL, 1L << 30)
                .factors(net, ProbeBatch.of(batch), new int[] {0, 1, 2, 3, 4, 5, 6, 7})) {
            a = NoiseAlignment.compute(h, top, g, false);
        }
        ProbeResult.HessianReading hr = r.hessian();
        assertThat(hr.eigenvalues()).containsExactly(top.values(), within(SAME * Math.abs(top.values()[0])));
        assertThat(hr.converged()).isEqualTo(top.converged());
        assertThat(hr.commutator()).isCloseTo(a.commutator(), within(SAME));
        assertThat(hr.overlap()).isCloseTo(a.overlap(), within(SAME));
        assertThat(hr.traceCosine()).isCloseTo(a.traceCosine(), within(SAME));
        assertThat(hr.examples()).isEqualTo(20);
        assertThat(hr.products()).isEqualTo(top.hessianVectorProducts() + 3);
        assertThat(hr.millis()).isPositive().isLessThanOrEqualTo(r.probeMillis());
        ProbeRecord rec = ProbeFields.toRecord(r, new ProbeFields.Counts(0, 0, 0, 0), SCHEDULE);
        assertThat((double[]) rec.get(ProbeFields.HESSIAN_TOP)).containsExactly(hr.eigenvalues());
        assertThat(rec.get(ProbeFields.HESSIAN_COMMUTATOR)).isEqualTo(hr.commutator());
        assertThat(rec.get(ProbeFields.HESSIAN_PRODUCTS)).isEqualTo(hr.products());
        assertThat(r.logLine(0)).contains(" | H: h_1=").contains("commutator=");
    }

    @Test
    void onlyEveryNthProbeHasACurvatureStepAndTheOthersWriteNulls() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        NoiseProbe probe = new NoiseProbe(
                config(4).withCurvature(new NoiseProbe.CurvatureConfig(3, 1)),
                ProbeBatch.of(TestNetworks.vectors(5, 9, DataType.DOUBLE)));
        ProbeBatch batch = ProbeBatch.of(TestNetworks.vectors(6, 5, DataType.DOUBLE));
        // A skipped probe does not count.
        probe.probe(net, batch, null, 0, 0, Double.NaN);
        List<Boolean> has = new ArrayList<>();
        for (int i = 1; i <= 7; i++) {
            ProbeResult r = probe.probe(net, batch, null, i, 0, 1);
            has.add(r.hessian() != null);
            ProbeRecord rec = ProbeFields.toRecord(r, new ProbeFields.Counts(0, 0, 0, 0), SCHEDULE);
            assertThat(rec.fields()).containsKey(ProbeFields.HESSIAN_TOP);
            assertThat(rec.get(ProbeFields.HESSIAN_TOP) != null).isEqualTo(r.hessian() != null);
        }
        assertThat(has).containsExactly(true, false, false, true, false, false, true);
    }

    @Test
    void aCurvatureStepNeedsItsExamplesAndValidValues() {
        assertThatThrownBy(() -> new NoiseProbe(config(4).withCurvature(new NoiseProbe.CurvatureConfig(1, 1))))
                .hasMessageContaining("needs its examples");
        assertThatThrownBy(() -> new NoiseProbe(config(4), ProbeBatch.of(TestNetworks.vectors(3, 1, DataType.DOUBLE))))
                .hasMessageContaining("no curvature step");
        assertThatThrownBy(() -> new NoiseProbe.CurvatureConfig(0, 1))
                .hasMessage("curvature every must be >= 1 probes, got 0");
        assertThatThrownBy(() -> new NoiseProbe.CurvatureConfig(1, 0))
                .hasMessage("curvature top must be >= 1 eigenvalues, got 0");
    }
}

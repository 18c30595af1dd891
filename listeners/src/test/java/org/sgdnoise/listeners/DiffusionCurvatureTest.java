package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ch.qos.logback.classic.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.curvature.HessianOperator;
import org.sgdnoise.curvature.HessianVectorProducts;
import org.sgdnoise.curvature.Lanczos;
import org.sgdnoise.curvature.LanczosResult;
import org.sgdnoise.curvature.NoiseAlignment;
import org.sgdnoise.gradients.GradientFactors;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.probe.ProbeFields;
import org.sgdnoise.testing.LogCapture;
import org.sgdnoise.testing.TestNetworks;

/**
 * The DiffusionListener's curvature probes ({@code curvatureEvery}): their numbers against the curvature package run
 * independently at the same parameters, their schedule, and training left bit-identical.
 */
class DiffusionCurvatureTest {

    /** Recorded against recomputed: the same operations on the same parameters. */
    private static final double SAME = 1e-12;

    private static final long SEED = 7;
    private static final int TOP = 3;

    @TempDir
    Path dir;

    private static DataSet data() {
        return TestNetworks.vectors(64, 7, DataType.FLOAT);
    }

    private static DataSet hessianExamples() {
        return TestNetworks.vectors(24, 3, DataType.FLOAT);
    }

    /** 8 iterations in batches of 16 (4 per epoch); probes at 0, 2, 4, 6, curvature at the 1st and 3rd: 0 and 4. */
    private record Run(MultiLayerNetwork net, DiffusionListener listener, RecordingSink sink, List<String> info) {}

    private Run trainWithCurvature() {
        MultiLayerNetwork net = TestNetworks.dropoutMlp(DataType.FLOAT);
        RecordingSink sink = new RecordingSink();
        DiffusionListener l = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(2)
                .gradientsPerProbe(8)
                .seed(SEED)
                .curvatureEvery(2, hessianExamples(), TOP)
                .sink(sink)
                .csvSink(dir.resolve("metrics.csv"))
                .failFast(true)
                .build()
                .attachTo(net);
        try (LogCapture logs = new LogCapture(DiffusionListener.class)) {
            net.fit(new ListDataSetIterator<>(data().asList(), 16), 2);
            l.close();
            List<String> info = logs.events(Level.INFO).stream()
                    .map(e -> e.getFormattedMessage())
                    .toList();
            return new Run(net, l, sink, info);
        }
    }

    @Test
    void recordedCurvatureEqualsTheCurvaturePackageAtTheProbesParameters() {
        ProbeRecord atFour = trainWithCurvature().sink().records.get(2);
        assertThat(atFour.get(ProbeFields.ITERATION)).isEqualTo(4);
        // Independently: the same network trained to iteration 4 without the listener (θ_4, before the update of
        // iteration 4), then H over the examples, its top 3 with the probe's seed, and D from the probe's 8
        // gradients (FIRST selection of iteration 4's batch, the first of the second epoch).
        MultiLayerNetwork net = TestNetworks.dropoutMlp(DataType.FLOAT);
        net.fit(new ListDataSetIterator<>(data().asList(), 16), 1);
        DataSet batch = new ListDataSetIterator<>(data().asList(), 16).next();
        HessianOperator h = new HessianVectorProducts().at(net, ProbeBatch.of(hessianExamples()));
        LanczosResult top = Lanczos.largest(h, TOP, SEED);
        NoiseAlignment.Result a;
        try (GradientFactors g = new PerExampleGradients(
                        ProbeMode.EVAL, PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES)
                .factors(net, ProbeBatch.of(batch), new int[] {0, 1, 2, 3, 4, 5, 6, 7})) {
            a = NoiseAlignment.compute(h, top, g, false);
        }
        double[] recorded = (double[]) atFour.get(ProbeFields.HESSIAN_TOP);
        assertThat(recorded).containsExactly(top.values(), within(SAME * Math.abs(top.values()[0])));
        assertThat((double) atFour.get(ProbeFields.HESSIAN_COMMUTATOR)).isCloseTo(a.commutator(), within(SAME));
        assertThat((double) atFour.get(ProbeFields.HESSIAN_OVERLAP_D)).isCloseTo(a.overlap(), within(SAME));
        assertThat((double) atFour.get(ProbeFields.HESSIAN_TRACE_COSINE)).isCloseTo(a.traceCosine(), within(SAME));
        assertThat(atFour.get(ProbeFields.HESSIAN_CONVERGED)).isEqualTo(top.converged());
        assertThat(atFour.get(ProbeFields.HESSIAN_EXAMPLES)).isEqualTo(24);
        assertThat(atFour.get(ProbeFields.HESSIAN_PRODUCTS)).isEqualTo(top.hessianVectorProducts() + TOP);
        assertThat((double) atFour.get(ProbeFields.HESSIAN_MS)).isPositive().isLessThanOrEqualTo((double)
                atFour.get(ProbeFields.PROBE_MS));
    }

    @Test
    void onlyEveryNthProbeCarriesTheCurvatureAndTheOthersHaveNulls() throws Exception {
        Run run = trainWithCurvature();
        List<ProbeRecord> records = run.sink().records;
        assertThat(records).extracting(r -> r.get(ProbeFields.ITERATION)).containsExactly(0, 2, 4, 6);
        assertThat(records)
                .extracting(r -> r.get(ProbeFields.HESSIAN_TOP) != null)
                .containsExactly(true, false, true, false);
        for (ProbeRecord r : records) {
            // The same keys in every record: one CSV header.
            assertThat(r.fields().keySet()).isEqualTo(records.get(0).fields().keySet());
        }
        assertThat(records.get(1).fields())
                .containsEntry(ProbeFields.HESSIAN_COMMUTATOR, null)
                .containsEntry(ProbeFields.HESSIAN_PRODUCTS, null)
                .containsEntry(ProbeFields.HESSIAN_MS, null);
        assertThat((double[]) records.get(0).get(ProbeFields.HESSIAN_TOP)).hasSize(TOP);
        assertThat(run.info()).hasSize(4);
        assertThat(run.info())
                .extracting(line -> line.contains(" | H: h_1="))
                .containsExactly(true, false, true, false);
        List<String> csv = Files.readAllLines(dir.resolve("metrics.csv"));
        assertThat(csv).hasSize(5);
        assertThat(csv.get(0)).contains("hessian_top,hessian_converged,hessian_commutator");
    }

    @Test
    void trainingIsBitIdenticalWithCurvatureProbes() {
        double[] with = trainWithCurvature().net().params().toDoubleVector();
        MultiLayerNetwork net = TestNetworks.dropoutMlp(DataType.FLOAT);
        net.fit(new ListDataSetIterator<>(data().asList(), 16), 2);
        assertThat(with).isEqualTo(net.params().toDoubleVector());
    }

    @Test
    void curvatureEveryIsValidated() {
        DiffusionListener.Builder b = new DiffusionListener.Builder();
        assertThatThrownBy(() -> b.curvatureEvery(0, hessianExamples(), 3))
                .hasMessage("curvatureEvery probes must be >= 1, got 0");
        assertThatThrownBy(() -> b.curvatureEvery(1, hessianExamples(), 0))
                .hasMessage("curvatureEvery top must be >= 1, got 0");
        assertThatThrownBy(() -> b.curvatureEvery(1, (DataSet) null, 3))
                .hasMessage("curvatureEvery examples must have features and labels, got null");
        DataSet none = TestNetworks.vectors(4, 1, DataType.FLOAT);
        DataSet empty = new DataSet(
                none.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 0)),
                none.getLabels().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 0)));
        assertThatThrownBy(() -> b.curvatureEvery(1, empty, 3))
                .hasMessage("curvatureEvery examples must hold at least 1 example, got 0");
        assertThat(b.curvatureEvery(3, hessianExamples(), 2)
                        .build()
                        .config()
                        .probe()
                        .curvature())
                .hasToString("CurvatureConfig[every=3, top=2]");
    }
}

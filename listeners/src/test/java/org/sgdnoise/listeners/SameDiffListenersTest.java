package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.testing.LogCapture;
import org.sgdnoise.testing.TestGraphs;
import org.sgdnoise.testing.TestNetworks;
import org.sgdnoise.trajectory.LoopStatistics;

/**
 * The listeners on SameDiff graphs (issue 21): the records of a graph written in SameDiff equal those of the same
 * network built as a MultiLayerNetwork, trained on the same batches from the same parameters; bad graphs are one
 * clear error at attachTo.
 */
class SameDiffListenersTest {

    private static final DataSet DATA = TestNetworks.vectors(32, 77, DataType.DOUBLE);
    private static final int BATCH = 8;
    private static final int EPOCHS = 3;

    /** Keys that differ by nature: times, the overhead share, and the gradient path (batched in DL4J). */
    private static final Set<String> NOT_COMPARED = Set.of(
            "probe_ms",
            "gradients_ms",
            "statistics_ms",
            "sketch_insert_ms",
            "sketch_estimate_ms",
            "previous_sinks_ms",
            "overhead_share",
            "gradient_path",
            "analysis_ms",
            "loss");

    private static DiffusionListener diffusion(RecordingSink sink) {
        return new DiffusionListener.Builder()
                .probeEvery(1)
                .gradientsPerProbe(BATCH)
                .sketchSize(6)
                .topR(4)
                .overheadBudget(0)
                .failFast(true)
                .sink(sink)
                .build();
    }

    private static TrajectoryListener trajectory(double[][] basis, RecordingSink sink) {
        return new TrajectoryListener.Builder()
                .fixedBasis(basis)
                .dimensions(basis.length)
                .analyzeEvery(4)
                .earlyAnalyses(false)
                .detector(LoopStatistics.defaults())
                .overheadBudget(0)
                .failFast(true)
                .sink(sink)
                .build();
    }

    /**
     * A dense tanh → softmax network in double, trained 3 epochs of 4 batches with Sgd: every DiffusionListener
     * record of the SameDiff graph equals the MultiLayerNetwork's (every field but times, the overhead share and the
     * gradient path; numbers to 1e-9 relative, which is float rounding of a double network over 12 steps); the
     * TrajectoryListener's records too, with one fixed basis given to each in its own parameter order (the loss,
     * which SameDiff's fit does not compute, is null for the graph).
     */
    @Test
    void recordsEqualThoseOfTheSameMultiLayerNetwork() {
        check(
                TestNetworks.denseSoftmax(5, TestNetworks.N_IN, 7, TestNetworks.N_OUT, DataType.DOUBLE, new Sgd(0.1)),
                net -> TestGraphs.mlp(net, new Sgd(0.1)),
                DATA);
    }

    /** The same for the small CNN (conv, max-pool, dense, softmax) on 8×8 images. */
    @Test
    void aCnnsRecordsEqualThoseOfTheSameMultiLayerNetwork() {
        MultiLayerNetwork net = TestNetworks.cnn(DataType.DOUBLE);
        net.setUpdater(null);
        net.getLayerWiseConfigurations().getConfs().forEach(c -> {
            if (c.getLayer() instanceof org.deeplearning4j.nn.conf.layers.BaseLayer bl) {
                bl.setIUpdater(new Sgd(0.1));
            }
        });
        check(net, n -> TestGraphs.cnn(n, new Sgd(0.1)), TestNetworks.images(32, 78, DataType.DOUBLE));
    }

    private static void check(MultiLayerNetwork net, Function<MultiLayerNetwork, SameDiff> build, DataSet data) {
        SameDiff sd = build.apply(net);
        int[] index = TestGraphs.dl4jIndexOfColumns(net, build);
        double[][] basisNet = TrajectoryBasisTest.orthonormal(3, (int) net.numParams(), 9);
        double[][] basisSd = new double[basisNet.length][index.length];
        for (int i = 0; i < basisNet.length; i++) {
            for (int c = 0; c < index.length; c++) {
                basisSd[i][c] = basisNet[i][index[c]];
            }
        }
        RecordingSink netProbes = new RecordingSink();
        RecordingSink sdProbes = new RecordingSink();
        RecordingSink netLoops = new RecordingSink();
        RecordingSink sdLoops = new RecordingSink();
        diffusion(netProbes).attachTo(net);
        trajectory(basisNet, netLoops).attachTo(net);
        diffusion(sdProbes).attachTo(sd);
        trajectory(basisSd, sdLoops).attachTo(sd);
        // One fit(DataSet) per batch: SameDiff M2.1's fit(iterator) does not take the plain SGD steps that
        // calculateGradients gives (docs/SAMEDIFF.md), fit(DataSet) does, as DL4J does either way.
        for (int e = 0; e < EPOCHS; e++) {
            for (DataSet batch : data.batchBy(BATCH)) {
                net.fit(batch);
                sd.fit(batch);
            }
        }

        int steps = EPOCHS * data.numExamples() / BATCH;
        assertThat(netProbes.records).hasSize(steps);
        assertThat(sdProbes.records).hasSize(steps);
        assertThat(netLoops.records).hasSize(steps / 4);
        assertThat(sdLoops.records).hasSize(steps / 4);
        for (int i = 0; i < steps; i++) {
            assertSame(netProbes.records.get(i), sdProbes.records.get(i), "probe " + i);
            assertThat(sdProbes.records.get(i).get("loss")).isInstanceOf(Number.class);
            assertThat(((Number) sdProbes.records.get(i).get("loss")).doubleValue())
                    .isCloseTo(((Number) netProbes.records.get(i).get("loss")).doubleValue(), relative(1e-9));
        }
        for (int i = 0; i < steps / 4; i++) {
            assertSame(netLoops.records.get(i), sdLoops.records.get(i), "analysis " + i);
            assertThat(sdLoops.records.get(i).get("loss")).isNull();
        }
    }

    private static org.assertj.core.data.Offset<Double> relative(double tol) {
        return org.assertj.core.data.Offset.offset(tol);
    }

    private static void assertSame(ProbeRecord a, ProbeRecord b, String what) {
        assertThat(b.fields().keySet()).as(what).isEqualTo(a.fields().keySet());
        for (Map.Entry<String, Object> e : a.fields().entrySet()) {
            if (!NOT_COMPARED.contains(e.getKey())) {
                assertEqual(e.getValue(), b.get(e.getKey()), what + ": " + e.getKey());
            }
        }
    }

    private static void assertEqual(Object a, Object b, String what) {
        if (a instanceof Number x && b instanceof Number y) {
            double u = x.doubleValue();
            double v = y.doubleValue();
            if (Double.isNaN(u) || Double.isInfinite(u)) {
                assertThat(v).as(what).isEqualTo(u);
            } else {
                assertThat(Math.abs(u - v))
                        .as(what + " " + u + " vs " + v)
                        .isLessThanOrEqualTo(1e-9 * Math.max(1e-6, Math.abs(u)) + 1e-15);
            }
        } else if (a instanceof List<?> x && b instanceof List<?> y) {
            assertThat(y).as(what).hasSameSizeAs(x);
            for (int i = 0; i < x.size(); i++) {
                assertEqual(x.get(i), y.get(i), what + "[" + i + "]");
            }
        } else if (a instanceof double[] x && b instanceof double[] y) {
            assertThat(y).as(what).hasSameSizeAs(x);
            for (int i = 0; i < x.length; i++) {
                assertEqual(x[i], y[i], what + "[" + i + "]");
            }
        } else {
            assertThat(b).as(what).isEqualTo(a);
        }
    }

    /**
     * With a sink that takes scalars, a SameDiff graph's iterations give the loss (a forward pass on the copy at
     * θ_t: the probe's loss) and the norm of the update SameDiff applied (Sgd: η·|g|, so |θ_t − θ_{t+1}|).
     */
    @Test
    void iterationScalarsCarryTheLossAndTheUpdateNorm() {
        MultiLayerNetwork net =
                TestNetworks.denseSoftmax(5, TestNetworks.N_IN, 7, TestNetworks.N_OUT, DataType.DOUBLE, new Sgd(0.1));
        SameDiff sd = TestGraphs.mlp(net, new Sgd(0.1));
        List<IterationScalars> scalars = new ArrayList<>();
        RecordingSink probes = new RecordingSink() {
            @Override
            public void writeScalars(IterationScalars s) {
                scalars.add(s);
            }
        };
        diffusion(probes).attachTo(sd);
        List<double[]> thetas = new ArrayList<>();
        org.sgdnoise.gradients.ParameterLayout layout = org.sgdnoise.gradients.ParameterLayout.of(sd);
        for (DataSet batch : DATA.batchBy(BATCH)) {
            thetas.add(theta(sd, layout));
            sd.fit(batch);
        }
        thetas.add(theta(sd, layout));
        assertThat(scalars).hasSize(4);
        for (int t = 0; t < 4; t++) {
            IterationScalars s = scalars.get(t);
            assertThat(s.iteration()).isEqualTo(t);
            assertThat(s.loss()).isCloseTo(((Number) probes.records.get(t).get("loss")).doubleValue(), relative(0));
            assertThat(s.learningRate()).isEqualTo(0.1);
            double sq = 0;
            for (int c = 0; c < thetas.get(t).length; c++) {
                double u = thetas.get(t)[c] - thetas.get(t + 1)[c];
                sq += u * u;
            }
            assertThat(s.updateNorm()).isCloseTo(Math.sqrt(sq), relative(1e-12));
        }
    }

    private static double[] theta(SameDiff sd, org.sgdnoise.gradients.ParameterLayout layout) {
        org.nd4j.linalg.api.ndarray.INDArray row = Nd4j.create(DataType.DOUBLE, 1, layout.numParams());
        layout.gather(sd, row);
        return row.toDoubleVector();
    }

    @TempDir
    Path dir;

    /**
     * The README's SameDiff block, line for line (checked against the README): the records and the trajectory file
     * are written; with SameDiff's array cache off, {@code fit(iterator)} takes plain SGD's steps, those of the same
     * MultiLayerNetwork (to 1e-12); with it on, attachTo says once that ND4J M2.1 does not. (The try block around fit
     * is the test's: it restores the property.)
     */
    @Test
    void theReadmesSameDiffBlockRunsAndTheCacheOffTrainsAsDl4j() throws Exception {
        String block = ReadmeSnippetsTest.javaBlocks().stream()
                .filter(b -> b.contains("attachTo(sd)"))
                .findFirst()
                .orElseThrow();
        String source = Files.readString(
                        Path.of("src", "test", "java", "org", "sgdnoise", "listeners", "SameDiffListenersTest.java"))
                .replaceAll("\\s+", " ");
        for (String line : block.split("\n")) {
            String code = line.replaceAll("\\s*//.*$", "").strip();
            if (!code.isEmpty()) {
                assertThat(source).as("README line: %s", line).contains(code.replaceAll("\\s+", " "));
            }
        }
        MultiLayerNetwork net =
                TestNetworks.denseSoftmax(5, TestNetworks.N_IN, 7, TestNetworks.N_OUT, DataType.DOUBLE, new Sgd(0.05));
        SameDiff sd = TestGraphs.mlp(net, new Sgd(0.05));
        try (LogCapture logs = new LogCapture(Models.class)) {
            new TrajectoryListener.Builder().build().attachTo(TestGraphs.mlp(net, new Sgd(0.05)));
            assertThat(logs.messages(ch.qos.logback.classic.Level.WARN))
                    .anyMatch(m -> m.contains("org.nd4j.autodiff.samediff=false"));
        }
        ListDataSetIterator<DataSet> trainIterator = new ListDataSetIterator<>(DATA.asList(), BATCH);
        // --- README, "SameDiff graphs" ---
        sd.setTrainingConfig(TrainingConfig.builder()
                .updater(new Sgd(0.05))
                .dataSetFeatureMapping("in")
                .dataSetLabelMapping("label")
                .minimize("loss")
                .build());
        System.setProperty("org.nd4j.autodiff.samediff", "false"); // ND4J 1.0.0-M2.1: see below
        DiffusionListener noise = new DiffusionListener.Builder()
                .jsonlSink(dir.resolve("metrics.jsonl"))
                .build()
                .attachTo(sd);
        TrajectoryListener loops = new TrajectoryListener.Builder()
                .trajectoryFile(dir.resolve("trajectory.csv"))
                .build()
                .attachTo(sd);
        try {
            sd.fit(trainIterator, 3);
        } finally {
            System.clearProperty("org.nd4j.autodiff.samediff");
        }
        noise.close();
        loops.close();
        // --- end ---
        assertThat(Files.readAllLines(dir.resolve("metrics.jsonl"))).hasSize(1); // iteration 0; the next is 100
        assertThat(Files.readAllLines(dir.resolve("trajectory.csv"))).hasSizeGreaterThan(1); // header, rows
        net.fit(new ListDataSetIterator<>(DATA.asList(), BATCH), 3);
        int[] index = TestGraphs.dl4jIndexOfColumns(net, n -> TestGraphs.mlp(n, new Sgd(0.05)));
        double[] ours = theta(sd, org.sgdnoise.gradients.ParameterLayout.of(sd));
        double[] theirs = net.params().toDoubleVector();
        for (int c = 0; c < ours.length; c++) {
            assertThat(ours[c]).as("parameter %s", c).isCloseTo(theirs[index[c]], relative(1e-12));
        }
    }

    /** A graph without a loss, or whose placeholders no TrainingConfig maps, is one clear error at attachTo. */
    @Test
    void badGraphsAreOneClearErrorAtAttach() {
        SameDiff noLoss = SameDiff.create();
        SDVariable x = noLoss.placeHolder("x", DataType.DOUBLE, -1, 2);
        noLoss.mmul("y", x, noLoss.var("w", Nd4j.ones(DataType.DOUBLE, 2, 1)));
        noLoss.setTrainingConfig(TrainingConfig.builder()
                .updater(new Sgd(0.1))
                .dataSetFeatureMapping("x")
                .markLabelsUnused()
                .build());
        assertThatThrownBy(() -> new DiffusionListener.Builder().build().attachTo(noLoss))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no loss variable");

        SameDiff twoInputs = SameDiff.create();
        SDVariable a = twoInputs.placeHolder("a", DataType.DOUBLE, -1, 2);
        SDVariable b = twoInputs.placeHolder("b", DataType.DOUBLE, -1, 2);
        SDVariable w = twoInputs.var("w", Nd4j.ones(DataType.DOUBLE, 2, 1));
        twoInputs.loss.meanSquaredError("loss", b.mmul(w), a.mmul(w), null);
        assertThatThrownBy(() -> new DiffusionListener.Builder().build().attachTo(twoInputs))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("placeholders")
                .hasMessageContaining("TrainingConfig");
        assertThat(twoInputs.getListeners()).isEmpty();

        MultiLayerNetwork net =
                TestNetworks.denseSoftmax(5, TestNetworks.N_IN, 7, TestNetworks.N_OUT, DataType.DOUBLE, new Sgd(0.1));
        SameDiff sd = TestGraphs.mlp(net, new Sgd(0.1));
        assertThatThrownBy(() -> new DiffusionListener.Builder()
                        .curvatureEvery(1, TestNetworks.vectors(4, 1, DataType.DOUBLE), 2)
                        .build()
                        .attachTo(sd))
                .hasMessageContaining("curvature");
        assertThatThrownBy(() -> new TrajectoryListener.Builder()
                        .hessianBasis(TestNetworks.vectors(4, 1, DataType.DOUBLE), 0)
                        .build()
                        .attachTo(sd))
                .hasMessageContaining("Hessian basis");
        DiffusionListener once = new DiffusionListener.Builder().build();
        once.attachTo(sd);
        once.attachTo(sd);
        assertThat(sd.getListeners()).hasSize(1);
    }
}

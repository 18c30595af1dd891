package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.Stream;
import org.deeplearning4j.datasets.iterator.AsyncDataSetIterator;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.distribution.NormalDistribution;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.weightnoise.DropConnect;
import org.deeplearning4j.nn.conf.weightnoise.IWeightNoise;
import org.deeplearning4j.nn.conf.weightnoise.WeightNoise;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.probe.ProbeFields;
import org.sgdnoise.sampling.WithReplacementSampler;
import org.sgdnoise.sampling.WithoutReplacementSampler;
import org.sgdnoise.testing.TestGraphs;
import org.sgdnoise.testing.TestNetworks;
import org.sgdnoise.trajectory.LoopStatistics;

/**
 * The non-interference matrix: for each combination below, training with both listeners attached (a probe
 * and a trajectory record at every iteration, loop analyses every 4 records) gives bit-identical parameters
 * to training without them, from the same seed. The rows cover every level of every factor at least once
 * and most pairs of levels: model type, stochastic regulariser, updater, regularisation, gradient
 * normalisation, data type, probe mode and iterator; two rows add curvature probes (issue 17: Lanczos on the
 * Hessian over fixed examples, every second probe).
 */
class NonInterferenceMatrixTest {

    enum Net {
        MLN,
        GRAPH
    }

    enum Noise {
        NONE,
        DROPOUT,
        WEIGHT_NOISE,
        DROP_CONNECT
    }

    enum Reg {
        NONE,
        L2,
        WEIGHT_DECAY
    }

    enum Iter {
        PLAIN,
        ASYNC,
        WITH_REPLACEMENT,
        WITHOUT_REPLACEMENT
    }

    record Case(
            Net net,
            Noise noise,
            String updater,
            Reg reg,
            GradientNormalization norm,
            DataType dt,
            ProbeMode mode,
            Iter iter,
            boolean curvature) {
        /** A row without curvature probes. */
        Case(
                Net net,
                Noise noise,
                String updater,
                Reg reg,
                GradientNormalization norm,
                DataType dt,
                ProbeMode mode,
                Iter iter) {
            this(net, noise, updater, reg, norm, dt, mode, iter, false);
        }

        @Override
        public String toString() {
            return String.join(
                            " ",
                            net.name(),
                            noise.name(),
                            updater,
                            reg.name(),
                            norm.name(),
                            dt.name(),
                            mode.name(),
                            iter.name())
                    + (curvature ? " CURVATURE" : "");
        }
    }

    static Stream<Case> matrix() {
        GradientNormalization none = GradientNormalization.None;
        return Stream.of(
                new Case(Net.MLN, Noise.DROPOUT, "sgd", Reg.NONE, none, DataType.FLOAT, ProbeMode.EVAL, Iter.PLAIN),
                new Case(
                        Net.MLN,
                        Noise.DROPOUT,
                        "nesterovs",
                        Reg.L2,
                        GradientNormalization.ClipL2PerLayer,
                        DataType.DOUBLE,
                        ProbeMode.TRAIN,
                        Iter.ASYNC),
                new Case(
                        Net.MLN,
                        Noise.WEIGHT_NOISE,
                        "adam",
                        Reg.WEIGHT_DECAY,
                        GradientNormalization.RenormalizeL2PerLayer,
                        DataType.FLOAT,
                        ProbeMode.TRAIN,
                        Iter.WITHOUT_REPLACEMENT),
                new Case(
                        Net.MLN,
                        Noise.DROP_CONNECT,
                        "sgd",
                        Reg.L2,
                        GradientNormalization.ClipElementWiseAbsoluteValue,
                        DataType.DOUBLE,
                        ProbeMode.EVAL,
                        Iter.WITH_REPLACEMENT),
                new Case(
                        Net.MLN,
                        Noise.NONE,
                        "adam",
                        Reg.NONE,
                        GradientNormalization.RenormalizeL2PerParamType,
                        DataType.DOUBLE,
                        ProbeMode.EVAL,
                        Iter.ASYNC),
                new Case(
                        Net.MLN,
                        Noise.WEIGHT_NOISE,
                        "nesterovs",
                        Reg.WEIGHT_DECAY,
                        GradientNormalization.ClipL2PerParamType,
                        DataType.FLOAT,
                        ProbeMode.EVAL,
                        Iter.PLAIN),
                new Case(
                        Net.GRAPH,
                        Noise.DROPOUT,
                        "adam",
                        Reg.L2,
                        GradientNormalization.ClipL2PerParamType,
                        DataType.FLOAT,
                        ProbeMode.EVAL,
                        Iter.ASYNC),
                new Case(
                        Net.GRAPH,
                        Noise.WEIGHT_NOISE,
                        "nesterovs",
                        Reg.WEIGHT_DECAY,
                        none,
                        DataType.DOUBLE,
                        ProbeMode.TRAIN,
                        Iter.PLAIN),
                new Case(
                        Net.GRAPH,
                        Noise.DROPOUT,
                        "sgd",
                        Reg.WEIGHT_DECAY,
                        GradientNormalization.RenormalizeL2PerLayer,
                        DataType.DOUBLE,
                        ProbeMode.TRAIN,
                        Iter.WITH_REPLACEMENT),
                new Case(
                        Net.GRAPH,
                        Noise.DROP_CONNECT,
                        "adam",
                        Reg.NONE,
                        GradientNormalization.ClipElementWiseAbsoluteValue,
                        DataType.FLOAT,
                        ProbeMode.TRAIN,
                        Iter.WITHOUT_REPLACEMENT),
                new Case(Net.GRAPH, Noise.NONE, "sgd", Reg.L2, none, DataType.FLOAT, ProbeMode.TRAIN, Iter.PLAIN),
                // Curvature probes (Hessian on a private double copy) every second probe, with dropout.
                new Case(
                        Net.MLN,
                        Noise.DROPOUT,
                        "nesterovs",
                        Reg.L2,
                        GradientNormalization.ClipL2PerLayer,
                        DataType.FLOAT,
                        ProbeMode.TRAIN,
                        Iter.WITH_REPLACEMENT,
                        true),
                new Case(
                        Net.GRAPH,
                        Noise.WEIGHT_NOISE,
                        "sgd",
                        Reg.WEIGHT_DECAY,
                        none,
                        DataType.FLOAT,
                        ProbeMode.EVAL,
                        Iter.ASYNC,
                        true));
    }

    private static IUpdater updater(String name) {
        return switch (name) {
            case "sgd" -> new Sgd(0.1);
            case "nesterovs" -> new Nesterovs(0.05, 0.9);
            case "adam" -> new Adam(0.01);
            default -> throw new IllegalArgumentException(name);
        };
    }

    private static NeuralNetConfiguration.Builder base(Case c) {
        NeuralNetConfiguration.Builder b = new NeuralNetConfiguration.Builder()
                .seed(77)
                .dataType(c.dt())
                .weightInit(WeightInit.XAVIER)
                .updater(updater(c.updater()))
                .gradientNormalization(c.norm())
                .gradientNormalizationThreshold(0.5);
        switch (c.reg()) {
            case L2 -> b.l2(1e-3);
            case WEIGHT_DECAY -> b.weightDecay(1e-3);
            default -> {}
        }
        return b;
    }

    private static DenseLayer.Builder hidden(Case c, int nIn, int nOut) {
        DenseLayer.Builder h = new DenseLayer.Builder().nIn(nIn).nOut(nOut).activation(Activation.TANH);
        IWeightNoise wn = switch (c.noise()) {
            case WEIGHT_NOISE -> new WeightNoise(new NormalDistribution(0, 0.05));
            case DROP_CONNECT -> new DropConnect(0.8);
            default -> null;
        };
        if (wn != null) {
            h.weightNoise(wn);
        }
        if (c.noise() == Noise.DROPOUT) {
            h.dropOut(new Dropout(0.7));
        }
        return h;
    }

    private static Model model(Case c) {
        OutputLayer.Builder out = new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                .nIn(8)
                .nOut(TestNetworks.N_OUT)
                .activation(Activation.SOFTMAX);
        if (c.noise() == Noise.DROPOUT) {
            out.dropOut(new Dropout(0.8));
        }
        if (c.net() == Net.MLN) {
            MultiLayerNetwork net = new MultiLayerNetwork(base(c).list()
                    .layer(hidden(c, TestNetworks.N_IN, 8).build())
                    .layer(out.build())
                    .build());
            net.init();
            return net;
        }
        ComputationGraph cg = new ComputationGraph(base(c).graphBuilder()
                .addInputs("in")
                .addLayer("h", hidden(c, TestNetworks.N_IN, 8).build(), "in")
                .addLayer("out", out.build(), "h")
                .setOutputs("out")
                .build());
        cg.init();
        return cg;
    }

    private static DataSetIterator iterator(Case c, DataSet all) {
        return switch (c.iter()) {
            case PLAIN -> new ListDataSetIterator<>(all.asList(), 12);
            case ASYNC -> new AsyncDataSetIterator(new ListDataSetIterator<>(all.asList(), 12), 2);
            case WITH_REPLACEMENT -> new WithReplacementSampler(all, 12, 5);
            case WITHOUT_REPLACEMENT -> new WithoutReplacementSampler(all, 12, 5);
        };
    }

    /** Trains 3 epochs over 42 examples (the last batch of each epoch holds 6) and returns the parameters. */
    private static double[] train(Case c, List<TrainingListener> listeners) {
        DataSet all = TestNetworks.vectors(42, 31, c.dt());
        Model m = model(c);
        m.setListeners(listeners);
        DataSetIterator it = iterator(c, all);
        if (m instanceof MultiLayerNetwork net) {
            net.fit(it, 3);
        } else {
            ((ComputationGraph) m).fit(it, 3);
        }
        return m.params().castTo(DataType.DOUBLE).toDoubleVector();
    }

    /** A DiffusionListener probing at every iteration (6 random examples, a sketch of 4), failing fast. */
    private static DiffusionListener.Builder everyIteration(RecordingSink probes) {
        return new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(6)
                .selection(ExampleSelection.RANDOM)
                .sketchSize(4)
                .sink(probes)
                .failFast(true);
    }

    /** A TrajectoryListener recording every iteration in 4 directions and analysing every 4, failing fast. */
    private static TrajectoryListener recordingEveryIteration(RecordingSink verdicts) {
        return new TrajectoryListener.Builder()
                .overheadBudget(0)
                .dimensions(4)
                .capacity(8)
                .analyzeEvery(4)
                .detector(new LoopStatistics(0.01, 4, 19, 2, 1.5, 1))
                .sink(verdicts)
                .failFast(true)
                .build();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("matrix")
    void bothListenersLeaveTrainingBitIdentical(Case c) {
        double[] without = train(c, List.of());
        RecordingSink probes = new RecordingSink();
        RecordingSink verdicts = new RecordingSink();
        DiffusionListener.Builder db = everyIteration(probes).mode(c.mode());
        if (c.curvature()) {
            db.curvatureEvery(2, TestNetworks.vectors(10, 3, c.dt()), 2);
        }
        DiffusionListener d = db.build();
        TrajectoryListener t = recordingEveryIteration(verdicts);
        double[] with = train(c, List.of(d, t));
        assertThat(with).as("parameters, %s", c).isEqualTo(without);
        int iterations = 12; // ⌈42/12⌉ = 4 batches per epoch, 3 epochs
        assertThat(probes.records).as("one record per probe").hasSize(iterations);
        assertThat(probes.records)
                .allSatisfy(
                        r -> assertThat(r.get("mode")).isEqualTo(c.mode().name().toLowerCase()));
        assertThat(t.recordedSteps()).isEqualTo(iterations);
        assertThat(verdicts.records).hasSize(iterations / 4);
        assertThat(d.failureCount() + t.failureCount()).isZero();
        assertThat(probes.records)
                .as("curvature at every second probe")
                .filteredOn(r -> r.get(ProbeFields.HESSIAN_TOP) != null)
                .hasSize(c.curvature() ? iterations / 2 : 0);
    }

    /** A SameDiff row: a graph written in SameDiff (TestGraphs), its updater and data type, how fit is called. */
    record GraphCase(String graph, String updater, DataType dt, boolean iterator) {
        @Override
        public String toString() {
            return "SameDiff " + graph + " " + updater + " " + dt + (iterator ? " fit(iterator)" : " fit(DataSet)");
        }
    }

    static Stream<GraphCase> sameDiffRows() {
        return Stream.of(
                new GraphCase("mlp", "sgd", DataType.DOUBLE, true),
                new GraphCase("mlp", "nesterovs", DataType.FLOAT, false),
                new GraphCase("mlp", "adam", DataType.FLOAT, true),
                new GraphCase("cnn", "sgd", DataType.FLOAT, true),
                new GraphCase("cnn", "nesterovs", DataType.DOUBLE, false),
                new GraphCase("cnn", "adam", DataType.DOUBLE, true));
    }

    /** 3 epochs over 42 examples in batches of 12 (the last holds 6); the graph's variables in its layout's order. */
    private static double[] train(GraphCase c, DiffusionListener d, TrajectoryListener t) {
        IUpdater u = updater(c.updater());
        boolean cnn = c.graph().equals("cnn");
        SameDiff sd = cnn ? TestGraphs.cnn(TestNetworks.cnn(c.dt()), u) : TestGraphs.mlp(TestNetworks.mlp(c.dt()), u);
        DataSet all = cnn ? TestNetworks.images(42, 31, c.dt()) : TestNetworks.vectors(42, 31, c.dt());
        if (d != null) {
            d.attachTo(sd);
            t.attachTo(sd);
        }
        if (c.iterator()) {
            sd.fit(new ListDataSetIterator<>(all.asList(), 12), 3);
        } else {
            for (int e = 0; e < 3; e++) {
                for (DataSet b : all.batchBy(12)) {
                    sd.fit(b);
                }
            }
        }
        ParameterLayout layout = ParameterLayout.of(sd);
        INDArray theta = Nd4j.create(DataType.DOUBLE, 1, layout.numParams());
        layout.gather(sd, theta);
        return theta.toDoubleVector();
    }

    /**
     * Issue 21's rows: both listeners on a SameDiff graph (a probe, with its loss and the iteration scalars, and a
     * trajectory record at every iteration, analyses every 4) leave its training bit-identical, for the MLP and the
     * CNN, Sgd, Nesterovs and Adam, float and double, fit over an iterator and one DataSet at a time.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("sameDiffRows")
    void bothListenersLeaveSameDiffTrainingBitIdentical(GraphCase c) {
        double[] without = train(c, null, null);
        List<IterationScalars> scalars = new java.util.ArrayList<>();
        RecordingSink probes = new RecordingSink() {
            @Override
            public void writeScalars(IterationScalars s) {
                scalars.add(s);
            }
        };
        RecordingSink verdicts = new RecordingSink();
        DiffusionListener d = everyIteration(probes).build();
        TrajectoryListener t = recordingEveryIteration(verdicts);
        double[] with = train(c, d, t);
        assertThat(with).as("parameters, %s", c).isEqualTo(without);
        int iterations = 12;
        assertThat(probes.records).as("one record per probe").hasSize(iterations);
        assertThat(scalars).hasSize(iterations);
        assertThat(scalars).allSatisfy(s -> assertThat(s.updateNorm()).isPositive());
        assertThat(t.recordedSteps()).isEqualTo(iterations);
        assertThat(verdicts.records).hasSize(iterations / 4);
        assertThat(d.failureCount() + t.failureCount()).isZero();
    }
}

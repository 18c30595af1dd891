package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.deeplearning4j.datasets.iterator.AsyncDataSetIterator;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.MultiDataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.testing.TestNetworks;

/**
 * Training with the listener attached (probing at every iteration) gives bit-identical parameters to
 * training without it, from the same seed.
 */
class NonInterferenceTest {

    private static DiffusionListener listener(ProbeMode mode, RecordingSink sink) {
        return new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(1)
                .gradientsPerProbe(6)
                .mode(mode)
                .selection(ExampleSelection.RANDOM)
                .sink(sink)
                .failFast(true) // a failing probe must fail this test, not hide
                .build();
    }

    private static float[] train(Supplier<Model> factory, DiffusionListener l, Consumer<Model> fit) {
        Model m = factory.get();
        if (l != null) {
            m.addListeners(l);
        }
        fit.accept(m);
        return m.params().castTo(DataType.FLOAT).toFloatVector();
    }

    private static double[] trainDouble(Supplier<Model> factory, DiffusionListener l, Consumer<Model> fit) {
        Model m = factory.get();
        if (l != null) {
            m.addListeners(l);
        }
        fit.accept(m);
        return m.params().toDoubleVector();
    }

    private static List<DataSet> batches(boolean images, DataType dt) {
        DataSet all = images ? TestNetworks.images(48, 31, dt) : TestNetworks.vectors(48, 31, dt);
        return all.asList();
    }

    private static void fitMln(Model m, List<DataSet> data, boolean async) {
        DataSetIterator it = new ListDataSetIterator<>(data, 16);
        if (async) {
            it = new AsyncDataSetIterator(it, 2);
        }
        ((MultiLayerNetwork) m).fit(it, 3);
    }

    @ParameterizedTest
    @EnumSource(ProbeMode.class)
    void dropoutMlpWithPlainAndAsyncIterators(ProbeMode mode) {
        for (boolean async : new boolean[] {false, true}) {
            List<DataSet> data = batches(false, DataType.FLOAT);
            RecordingSink sink = new RecordingSink();
            float[] without = train(() -> TestNetworks.dropoutMlp(DataType.FLOAT), null, m -> fitMln(m, data, async));
            float[] with = train(
                    () -> TestNetworks.dropoutMlp(DataType.FLOAT), listener(mode, sink), m -> fitMln(m, data, async));
            assertThat(with).as("async=%s", async).isEqualTo(without);
            assertThat(sink.records).hasSize(9);
        }
    }

    @ParameterizedTest
    @EnumSource(ProbeMode.class)
    void batchNormCnnInDouble(ProbeMode mode) {
        List<DataSet> data = batches(true, DataType.DOUBLE);
        RecordingSink sink = new RecordingSink();
        double[] without =
                trainDouble(() -> TestNetworks.batchNormCnn(DataType.DOUBLE), null, m -> fitMln(m, data, false));
        double[] with = trainDouble(
                () -> TestNetworks.batchNormCnn(DataType.DOUBLE), listener(mode, sink), m -> fitMln(m, data, false));
        assertThat(with).isEqualTo(without);
        assertThat(sink.records).hasSize(9);
    }

    @ParameterizedTest
    @EnumSource(ProbeMode.class)
    void computationGraphWithDropoutAndAsyncIterator(ProbeMode mode) {
        List<MultiDataSet> data = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            data.add(TestNetworks.graphData(16, 32 + i, DataType.FLOAT));
        }
        // asyncSupported() is true, so fit() wraps the iterator in DL4J's async prefetcher.
        Consumer<Model> fit = m -> ((ComputationGraph) m).fit(new ResettableMulti(data), 2);
        RecordingSink sink = new RecordingSink();
        float[] without = train(() -> TestNetworks.graph(DataType.FLOAT), null, fit);
        float[] with = train(() -> TestNetworks.graph(DataType.FLOAT), listener(mode, sink), fit);
        assertThat(with).isEqualTo(without);
        assertThat(sink.records).hasSize(6);
    }

    /** A resettable, async-capable MultiDataSetIterator over a list, so fit() wraps it in its async prefetcher. */
    static final class ResettableMulti implements MultiDataSetIterator {
        private final List<MultiDataSet> data;
        private int pos;

        ResettableMulti(List<MultiDataSet> data) {
            this.data = data;
        }

        @Override
        public MultiDataSet next(int num) {
            return next();
        }

        @Override
        public void setPreProcessor(MultiDataSetPreProcessor preProcessor) {}

        @Override
        public MultiDataSetPreProcessor getPreProcessor() {
            return null;
        }

        @Override
        public boolean resetSupported() {
            return true;
        }

        @Override
        public boolean asyncSupported() {
            return true;
        }

        @Override
        public void reset() {
            pos = 0;
        }

        @Override
        public boolean hasNext() {
            return pos < data.size();
        }

        @Override
        public MultiDataSet next() {
            return data.get(pos++);
        }
    }
}

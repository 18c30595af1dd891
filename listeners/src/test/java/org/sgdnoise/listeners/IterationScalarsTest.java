package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.schedule.MapSchedule;
import org.nd4j.linalg.schedule.ScheduleType;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.output.RecordSink;
import org.sgdnoise.testing.TestNetworks;

/** The loss, learning rate and update norm at every iteration, against what an independent listener sees. */
class IterationScalarsTest {

    /** Sees θ before and after each step and DL4J's score, independently of the DiffusionListener. */
    private static final class Witness extends BaseTrainingListener {
        final List<Double> scores = new ArrayList<>();
        final List<Double> updateNorms = new ArrayList<>();
        INDArray before;

        @Override
        public void onGradientCalculation(Model model) {
            before = model.params().dup();
        }

        @Override
        public void iterationDone(Model model, int iteration, int epoch) {
            scores.add(model.score());
            updateNorms.add(model.params().sub(before).norm2Number().doubleValue());
        }
    }

    private static final class ScalarSink implements RecordSink {
        final List<IterationScalars> scalars = new ArrayList<>();

        @Override
        public void write(ProbeRecord record) {}

        @Override
        public void writeScalars(IterationScalars s) {
            scalars.add(s);
        }
    }

    @Test
    void everyIterationsScalarsMatchWhatDl4jDid() {
        MultiLayerNetwork net =
                TestNetworks.mlp(1, 4, new Sgd(new MapSchedule(ScheduleType.ITERATION, Map.of(0, 0.1, 3, 0.02))));
        ScalarSink sink = new ScalarSink();
        DiffusionListener listener = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(4)
                .gradientsPerProbe(4)
                .sink(sink)
                .build();
        Witness witness = new Witness();
        net.addListeners(listener, witness);
        net.fit(
                new ListDataSetIterator<>(
                        TestNetworks.vectors(96, 7, DataType.FLOAT).asList(), 16),
                2);

        assertThat(sink.scalars).hasSize(12);
        for (int i = 0; i < 12; i++) {
            IterationScalars s = sink.scalars.get(i);
            assertThat(s.iteration()).isEqualTo(i);
            assertThat(s.epoch()).isEqualTo(i / 6);
            assertThat(s.worker()).isZero();
            assertThat(s.loss()).isEqualTo(witness.scores.get(i));
            assertThat(s.learningRate()).isEqualTo(i < 3 ? 0.1 : 0.02);
            double expected = witness.updateNorms.get(i);
            assertThat(expected).isPositive();
            assertThat(s.updateNorm()).isCloseTo(expected, within(1e-5 * expected));
        }
        assertThat(listener.scalars().snapshot()).containsExactlyElementsOf(sink.scalars);
        assertThat(listener.scalars().offered()).isEqualTo(12);
    }

    /**
     * The update norm is thinned when it would take over a quarter of the budget: 10 µs against 1.5 ms iterations
     * at a 1% budget needs every 4th iteration (10 ≤ 0.25·0.01·1500·4 = 15), and never with the budget off.
     */
    @Test
    void theUpdateNormThinsToAQuarterOfTheBudget() {
        assertThat(DiffusionListener.normInterval(1, 10_000, 0.01, 1_500_000)).isEqualTo(4);
        assertThat(DiffusionListener.normInterval(1, 1_000, 0.01, 1_500_000)).isEqualTo(1); // 1 µs: cheap enough
        assertThat(DiffusionListener.normInterval(8, 1_000, 0.01, 1_500_000)).isEqualTo(8); // only grows
        assertThat(DiffusionListener.normInterval(1, 10_000, 0, 1_500_000)).isEqualTo(1);
        assertThat(DiffusionListener.normInterval(1, 10_000, 0.01, Double.NaN)).isEqualTo(1);
    }

    /** With only file sinks (which ignore scalars) nothing is computed at all: the series stays empty. */
    @Test
    void withoutASinkThatTakesScalarsNoneAreComputed() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        RecordingSink records = new RecordingSink();
        DiffusionListener listener = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(2)
                .gradientsPerProbe(4)
                .sink(records)
                .build();
        net.addListeners(listener);
        net.fit(
                new ListDataSetIterator<>(
                        TestNetworks.vectors(64, 9, DataType.FLOAT).asList(), 16),
                1);
        assertThat(records.records).hasSize(2);
        assertThat(listener.scalars().offered()).isZero();
    }

    @Test
    void aSinkFailingOnScalarsNeitherStopsTrainingNorTheProbeRecords() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.FLOAT);
        List<ProbeRecord> records = new ArrayList<>();
        RecordSink failing = new RecordSink() {
            @Override
            public void write(ProbeRecord record) {
                records.add(record);
            }

            @Override
            public void writeScalars(IterationScalars s) {
                throw new IllegalStateException("boom");
            }
        };
        DiffusionListener listener = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(2)
                .gradientsPerProbe(4)
                .sink(failing)
                .build();
        net.addListeners(listener);
        DataSet data = TestNetworks.vectors(64, 9, DataType.FLOAT);
        net.fit(new ListDataSetIterator<>(data.asList(), 16), 1);
        assertThat(records).hasSize(2);
        assertThat(listener.sinkFailureCount()).isEqualTo(4);
        assertThat(listener.scalars().snapshot()).hasSize(4);
    }
}

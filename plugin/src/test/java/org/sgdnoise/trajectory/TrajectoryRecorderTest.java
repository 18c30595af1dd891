package org.sgdnoise.trajectory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.testing.TestNetworks;

/** A recorded row against the same numbers computed directly in double, and one spacing per segment. */
class TrajectoryRecorderTest {

    private static double[] params(MultiLayerNetwork net) {
        return net.params().castTo(DataType.DOUBLE).toDoubleVector();
    }

    private static void step(MultiLayerNetwork net, long seed) {
        Nd4j.getRandom().setSeed(seed);
        net.params()
                .addi(Nd4j.randn(net.params().dataType(), net.params().shape()).muli(0.01));
    }

    @Test
    void aRowHoldsTheStepItsNormsAndTheProjectionOfTheParameters() {
        for (DataType dt : new DataType[] {DataType.DOUBLE, DataType.FLOAT}) {
            MultiLayerNetwork net = TestNetworks.mlp(dt);
            TrajectoryRecorder rec = new TrajectoryRecorder(
                    new TrajectoryRecorder.Settings(3, TrajectoryRecorder.Basis.RANDOM, 0, 8, 5));
            double[] t0 = params(net);
            assertThat(rec.record(net, 0, 0, 1.0, () -> null).step()).isZero();
            step(net, 1);
            double[] t1 = params(net);
            rec.record(net, 1, 0, 1.0, () -> null);
            step(net, 2);
            double[] t2 = params(net);
            TrajectoryRow row = rec.record(net, 2, 0, 0.5, () -> null);
            double uu = 0;
            double tu = 0;
            double dd = 0;
            for (int i = 0; i < t1.length; i++) {
                double u = t1[i] - t2[i];
                uu += u * u;
                tu += t1[i] * u;
                dd += (t2[i] - t0[i]) * (t2[i] - t0[i]);
            }
            double tol = dt == DataType.DOUBLE ? 1e-12 : 1e-6;
            assertThat(row.step()).isCloseTo(Math.sqrt(uu), within(tol * Math.sqrt(uu)));
            assertThat(row.updateSq()).isCloseTo(uu, within(tol * uu));
            assertThat(row.thetaDotUpdate()).isCloseTo(tu, within(tol * Math.abs(tu) + 1e-12));
            assertThat(row.distance()).isCloseTo(Math.sqrt(dd), within(tol * Math.sqrt(dd)));
            INDArray basis = TrajectoryBases.random(3, t2.length, 5);
            double[] y =
                    basis.mmul(Nd4j.createFromArray(t2).reshape(t2.length, 1)).toDoubleVector();
            for (int j = 0; j < 3; j++) {
                assertThat(row.y()[j]).as("y%d in %s", j, dt).isCloseTo(y[j], within(1e-12));
            }
        }
    }

    @Test
    void rowsAtAnotherSpacingStartANewSegment() {
        MultiLayerNetwork net = TestNetworks.mlp(DataType.DOUBLE);
        TrajectoryRecorder rec =
                new TrajectoryRecorder(new TrajectoryRecorder.Settings(2, TrajectoryRecorder.Basis.RANDOM, 0, 16, 5));
        int[] iterations = {0, 2, 4, 6, 10, 14, 18, 19};
        int[] segments = {0, 0, 0, 0, 1, 1, 1, 2};
        for (int i = 0; i < iterations.length; i++) {
            step(net, i);
            assertThat(rec.record(net, iterations[i], 0, 1.0, () -> null).segment())
                    .as("row at iteration %d", iterations[i])
                    .isEqualTo(segments[i]);
        }
        assertThat(rec.window()).hasSize(1);
        step(net, 99);
        rec.record(net, 20, 0, 1.0, () -> null);
        TrajectoryRecorder.Analysis a = rec.analyze(LoopStatistics.defaults(), 7, false, 0.5);
        assertThat(a.every()).as("the window's own spacing, not the argument").isEqualTo(1);
    }
}

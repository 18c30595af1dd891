package org.sgdnoise.gradients.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The guard puts ND4J's random state back exactly, so that the next draws repeat bit for bit. */
class RandomStateGuardTest {

    @Test
    void drawsInsideTheGuardDoNotChangeTheDrawsAfterIt() {
        Nd4j.getRandom().setSeed(123);
        long root = Nd4j.getRandom().rootState();
        long node = Nd4j.getRandom().nodeState();
        try (RandomStateGuard saved = RandomStateGuard.save()) {
            assertThat(saved.rootState()).isEqualTo(root);
            assertThat(saved.nodeState()).isEqualTo(node);
            Nd4j.rand(DataType.DOUBLE, 50, 50);
            Nd4j.getRandom().nextDouble();
        }
        assertThat(Nd4j.getRandom().rootState()).isEqualTo(root);
        assertThat(Nd4j.getRandom().nodeState()).isEqualTo(node);
        INDArray after = Nd4j.rand(DataType.DOUBLE, 4, 4);
        Nd4j.getRandom().setSeed(123);
        assertThat(Nd4j.rand(DataType.DOUBLE, 4, 4)).isEqualTo(after);
    }

    @Test
    void restoreSwitchesBackAsOftenAsAsked() {
        Nd4j.getRandom().setSeed(7);
        RandomStateGuard saved = RandomStateGuard.save();
        double first = Nd4j.getRandom().nextDouble();
        saved.restore();
        assertThat(Nd4j.getRandom().nextDouble()).isEqualTo(first);
        saved.restore();
        assertThat(Nd4j.getRandom().nextDouble()).isEqualTo(first);
        saved.close();
        assertThat(saved.toString()).contains("root=" + saved.rootState());
    }
}

package org.sgdnoise.gradients;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.gradients.internal.ProbeNetworks;
import org.sgdnoise.testing.LogCapture;
import org.sgdnoise.testing.TestNetworks;

/**
 * The memory budget counts the batched pass's temporaries ({@link PassMemory}) beside the k×d block, and the
 * estimate bounds what the pass really holds.
 *
 * <p>What "really holds" means here: the test drives the same layer steps as {@link BatchedGradients#compute}
 * (checked: the same gradient rows) and, after every layer of the forward and of the backward pass, sums the
 * sizes of the distinct off-heap buffers reachable from the steps' fields (arrays, arrays of arrays, nested
 * steps, the input a DL4J layer keeps), from the gradient parts formed so far, from the activation or error
 * in flight and from the batch. The largest such sum is the peak the pass keeps alive. Transients inside a
 * step method (dups that become garbage before it returns) are not reachable at those points; the estimate
 * counts them too, so it is looser than this bound, never tighter.
 */
class PassMemoryTest {

    @Test
    void aBudgetThatHoldsTheGradientsButNotTheConvPassCutsKAndSaysSo() {
        MultiLayerNetwork net = TestNetworks.cnn(DataType.DOUBLE);
        ProbeBatch batch = ProbeBatch.of(TestNetworks.images(8, 3, DataType.DOUBLE));
        int[] all = {0, 1, 2, 3, 4, 5, 6, 7};
        long[] each = new PerExampleGradients(ProbeMode.EVAL, 1L << 30).bytesPerExample(net, batch);
        assertThat(each[1]).as("conv patches outweigh the gradient row").isGreaterThan(each[0]);

        long budget = 8 * each[0] + 2 * each[1]; // 8 gradient rows, but the temporaries of only 2 examples
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, budget);
        assertThat(engine.maxSamples(net)).as("the k×d block alone fits").isGreaterThanOrEqualTo(8);
        int expected = (int) (budget / (each[0] + each[1]));
        assertThat(expected).isBetween(2, 7);
        try (LogCapture logs = new LogCapture(PerExampleGradients.class)) {
            GradientBlock block = engine.compute(net, batch, all);
            engine.compute(net, batch, all);
            assertThat(engine.batched()).isTrue();
            assertThat(block.k()).isEqualTo(expected);
            assertThat(block.reducedByBudget()).isTrue();
            assertThat(engine.maxSamples(net, batch)).isEqualTo(expected);
            assertThat(logs.messages(Level.WARN))
                    .singleElement()
                    .asString()
                    .contains("k×d gradient block")
                    .contains("batched pass's temporaries")
                    .contains("k = " + expected)
                    .contains("memoryBudgetBytes");
        }
    }

    @Test
    void aBudgetBelowTwoExamplesWithTheirTemporariesNamesBothParts() {
        MultiLayerNetwork net = TestNetworks.cnn(DataType.DOUBLE);
        ProbeBatch batch = ProbeBatch.of(TestNetworks.images(4, 3, DataType.DOUBLE));
        long[] each = new PerExampleGradients(ProbeMode.EVAL, 1L << 30).bytesPerExample(net, batch);
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, 4 * each[0]);
        assertThatThrownBy(() -> engine.compute(net, batch, new int[] {0, 1, 2, 3}))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("for the gradients")
                .hasMessageContaining("batched pass's temporaries");
    }

    @Test
    void theExactPathHasNoTemporariesThatGrowWithK() {
        MultiLayerNetwork net = TestNetworks.cnn(DataType.DOUBLE);
        ProbeBatch batch = ProbeBatch.of(TestNetworks.images(4, 3, DataType.DOUBLE));
        PerExampleGradients exact = new PerExampleGradients(ProbeMode.EVAL, 1L << 30, false);
        assertThat(exact.bytesPerExample(net, batch))
                .containsExactly(ParameterLayout.of(net).numParams() * 8, 0);
    }

    @Test
    void theEstimateBoundsWhatTheConvPassHolds() {
        MultiLayerNetwork net = TestNetworks.cnn(DataType.DOUBLE);
        checkBound(net, TestNetworks.images(16, 5, DataType.DOUBLE));
    }

    @Test
    void theEstimateBoundsWhatTheLstmPassHolds() {
        MultiLayerNetwork net = TestNetworks.rnn(DataType.DOUBLE);
        DataSet ds = TestNetworks.sequences(16, 6, DataType.DOUBLE);
        checkBound(net, new DataSet(ds.getFeatures(), ds.getLabels()));
    }

    private static void checkBound(MultiLayerNetwork net, DataSet ds) {
        MultiLayerNetwork probe = (MultiLayerNetwork) ProbeNetworks.build(net, false);
        ParameterLayout layout = ParameterLayout.of(net);
        int k = ds.numExamples();
        long estimate = PassMemory.valuesPerExample(probe, ProbeBatch.of(ds)) * k * DataType.DOUBLE.width();
        long peak = measuredPeakBytes(probe, layout, ds.getFeatures(), ds.getLabels());
        assertThat(peak).as("something was measured").isGreaterThan(0);
        assertThat(estimate)
                .as("estimate %d bytes >= measured peak %d bytes", estimate, peak)
                .isGreaterThanOrEqualTo(peak);
    }

    /**
     * The pass of {@link BatchedGradients#compute} (no masks, every layer trained), layer by layer; returns
     * the largest number of bytes reachable between layers (see the class comment).
     */
    private static long measuredPeakBytes(
            MultiLayerNetwork probe, ParameterLayout layout, INDArray features, INDArray labels) {
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        Layer[] layers = probe.getLayers();
        int k = (int) features.size(0);
        LayerStep[] steps = new LayerStep[layers.length];
        List<GradientFactors.Part> parts = new ArrayList<>();
        long peak = 0;
        INDArray x = features;
        for (int i = 0; i < layers.length; i++) {
            InputPreProcessor pre = probe.getLayerWiseConfigurations().getInputPreProcess(i);
            if (pre != null) {
                x = pre.preProcess(x, k, mgr);
            }
            steps[i] = BatchedGradients.step(layers[i], layout);
            if (steps[i] instanceof MaskedStep m) {
                m.feedMask(null);
            }
            x = steps[i].forward(x, mgr);
            peak = Math.max(peak, reachableBytes(steps, parts, x, features, labels));
        }
        INDArray eps = labels;
        for (int i = layers.length - 1; i >= 0; i--) {
            eps = steps[i].backward(eps, i > 0, parts, mgr);
            InputPreProcessor pre = probe.getLayerWiseConfigurations().getInputPreProcess(i);
            if (i > 0 && pre != null) {
                eps = pre.backprop(eps, k, mgr);
            }
            peak = Math.max(peak, reachableBytes(steps, parts, eps, features, labels));
        }
        Collections.reverse(parts);
        GradientFactors driven = new GradientFactors(k, layout.numParams(), DataType.DOUBLE, parts);
        GradientFactors real = BatchedGradients.compute(probe, layout, features, labels);
        assertThat(driven.rows().equals(real.rows()))
                .as("the driven pass is compute's")
                .isTrue();
        return peak;
    }

    /** Bytes of the distinct off-heap buffers reachable from {@code roots} through this package's objects. */
    private static long reachableBytes(Object... roots) {
        Map<Object, Boolean> seen = new IdentityHashMap<>();
        Map<DataBuffer, Boolean> buffers = new IdentityHashMap<>();
        long[] total = {0};
        for (Object r : roots) {
            visit(r, seen, buffers, total);
        }
        return total[0];
    }

    private static void visit(Object o, Map<Object, Boolean> seen, Map<DataBuffer, Boolean> buffers, long[] total) {
        if (o == null || seen.put(o, Boolean.TRUE) != null) {
            return;
        }
        if (o instanceof INDArray a) {
            if (a.isEmpty()) {
                return;
            }
            DataBuffer b = a.data();
            while (b.originalDataBuffer() != null && b.originalDataBuffer() != b) {
                b = b.originalDataBuffer();
            }
            if (buffers.put(b, Boolean.TRUE) == null) {
                total[0] += b.length() * b.getElementSize();
            }
            return;
        }
        if (o instanceof Object[] arr) {
            for (Object e : arr) {
                visit(e, seen, buffers, total);
            }
            return;
        }
        if (o instanceof Collection<?> c) {
            for (Object e : c) {
                visit(e, seen, buffers, total);
            }
            return;
        }
        if (o instanceof Layer layer) {
            visit(layer.input(), seen, buffers, total); // what PassThrough and pooling steps leave on the layer
            return;
        }
        if (!o.getClass().getName().startsWith("org.sgdnoise.gradients")) {
            return;
        }
        for (Class<?> c = o.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) {
                    continue;
                }
                try {
                    f.setAccessible(true);
                    visit(f.get(o), seen, buffers, total);
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
        }
    }
}

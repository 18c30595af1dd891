package org.sgdnoise.gradients;

import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.VertexIndices;
import org.deeplearning4j.nn.layers.OutputLayer;
import org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer;
import org.deeplearning4j.nn.layers.recurrent.BidirectionalLayer;
import org.deeplearning4j.nn.layers.recurrent.LastTimeStepLayer;
import org.deeplearning4j.nn.layers.recurrent.RnnOutputLayer;
import org.deeplearning4j.nn.layers.recurrent.SimpleRnn;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sgdnoise.gradients.internal.InferenceBatchNormalizationLayer;

/**
 * An upper bound of the numbers the batched pass ({@link BatchedGradients}, {@link GraphBatchedGradients})
 * allocates per example besides the k×d gradient block: each layer's kept inputs, pre-activations and
 * outputs, im2col patches, recurrent states per time step, the errors of the backward pass, and the explicit
 * gradient rows the steps form before they are copied into the block. All of it grows linearly with k, so
 * the pass over k examples allocates at most {@code k·t·width} bytes with {@code t} from
 * {@link #valuesPerExample}.
 *
 * <p>Per layer, with {@code a} the input and {@code o} the output numbers of one example (d_ℓ the layer's
 * parameters): dense and output layers {@code 2a + 8o}; a convolution (1-D, 2-D, depthwise, separable or
 * transposed) with kernel taps, inC and outC channels and P_in, P_out positions
 * {@code 3·taps·max(inC, outC)·max(P_in, P_out) + 8o + 2a + 2d_ℓ} (the patches and their errors, the
 * pre-activations and errors, the weight-gradient rows; {@link ConvolutionSteps#numbersPerExample}); BatchNorm {@code 8a + 4C}; LSTM and
 * GravesLSTM (T steps, n inputs, H units) {@code T·(3n + 64H) + 8H² + 4H·n + 10H}, SimpleRnn
 * {@code T·(3n + 16H) + H² + H·n + H}, twice for Bidirectional plus {@code 4T·H}, plus {@code T·H + H} inside
 * LastTimeStep; RnnOutputLayer {@code T·(4n + 10m) + m·n + m} for m outputs; embeddings (T tokens of width
 * n) {@code T·(10n + 2) + n}; parameter-free layers and graph vertices {@code 4a + 3o}; {@code 2a} more
 * behind an input preprocessor; {@code (m + 1)·d_ℓ} more for a graph layer that sees m copies of each
 * example. Plus the subset's features and twice its labels. The multipliers count every array the steps
 * allocate, transients included (ND4J frees off-heap arrays only when closed or collected), with margin.
 *
 * <p>The shapes come from one DL4J forward pass of a single example through the probe (inference mode, no
 * masks): cheap, and exact for the layer types that have batched steps.
 */
final class PassMemory {

    private PassMemory() {}

    /**
     * The numbers per example that the batched pass over {@code example}'s shapes allocates besides the
     * gradient block (upper bound, see the class comment). Not modified: {@code example}; the probe's layers
     * keep the input of this pass until the next one.
     *
     * @param example one example (row 0 of each array is used)
     */
    static long valuesPerExample(org.deeplearning4j.nn.api.Model probe, ProbeBatch example) {
        INDArray[] x = firstRows(example.features());
        long total = 0;
        for (INDArray a : x) {
            total += a.length();
        }
        for (INDArray y : firstRows(example.labels())) {
            total += 2 * y.length();
        }
        if (probe instanceof MultiLayerNetwork net) {
            return total + network(net, x[0]);
        }
        return total + graph((ComputationGraph) probe, x);
    }

    private static INDArray[] firstRows(INDArray[] arrays) {
        INDArray[] out = new INDArray[arrays.length];
        for (int i = 0; i < arrays.length; i++) {
            INDArray a = arrays[i];
            out[i] = a.size(0) == 1 ? a : a.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 1));
        }
        return out;
    }

    private static long network(MultiLayerNetwork net, INDArray x) {
        List<INDArray> acts = net.feedForward(x, false); // input, then each layer's output
        Layer[] layers = net.getLayers();
        long total = 0;
        for (int i = 0; i < layers.length; i++) {
            long a = acts.get(i).length();
            total += layer(layers[i], a, acts.get(i + 1));
            if (net.getLayerWiseConfigurations().getInputPreProcess(i) != null) {
                total += 2 * a;
            }
        }
        net.clear();
        return total;
    }

    private static long graph(ComputationGraph cg, INDArray[] x) {
        Map<String, INDArray> acts = cg.feedForward(x, false);
        long total = 0;
        for (GraphVertex v : cg.getVertices()) {
            if (v.isInputVertex()) {
                continue;
            }
            INDArray out = acts.get(v.getVertexName());
            long a = 0;
            for (VertexIndices u : v.getInputVertices()) {
                a += acts.get(cg.getVertices()[u.getVertexIndex()].getVertexName())
                        .length();
            }
            if (v.hasLayer()) {
                total += layer(v.getLayer(), a, out);
                long copies = out.size(0);
                if (copies > 1) { // behind a StackVertex: per-copy gradient rows, summed (sumOverCopies)
                    total += (copies + 1) * v.getLayer().numParams();
                }
                if (v instanceof org.deeplearning4j.nn.graph.vertex.impl.LayerVertex lv
                        && lv.getLayerPreProcessor() != null) {
                    total += 2 * a;
                }
            } else {
                total += 4 * a + 3 * out.length();
            }
        }
        cg.clear();
        return total;
    }

    /** One layer's numbers per example for input length {@code a} and output {@code out} (one example). */
    static long layer(Layer layer, long a, INDArray out) {
        long o = out.length();
        Class<?> c = layer.getClass();
        if (c == DenseLayer.class || c == OutputLayer.class) {
            return 2 * a + 8 * o;
        }
        if (ConvolutionSteps.handles(layer)) {
            return ConvolutionSteps.numbersPerExample(layer, a, o);
        }
        if (layer instanceof InferenceBatchNormalizationLayer) {
            return 8 * a + 4 * layer.getParam("gamma").length();
        }
        if (layer instanceof LastTimeStepLayer w) {
            Layer inner = w.getUnderlying();
            long h = inner.getParam("RW").size(0);
            long steps = a / inner.getParam("W").size(0);
            return recurrent(inner, "", a, h) + steps * h + h;
        }
        if (c == BidirectionalLayer.class) {
            long h = layer.getParam("fRW").size(0);
            long steps = a / layer.getParam("fW").size(0);
            return 2 * lstm(a, steps, h) + 4 * steps * h;
        }
        if (c == org.deeplearning4j.nn.layers.recurrent.LSTM.class
                || c == org.deeplearning4j.nn.layers.recurrent.GravesLSTM.class
                || c == SimpleRnn.class) {
            return recurrent(layer, "", a, layer.getParam("RW").size(0));
        }
        if (c == RnnOutputLayer.class) {
            INDArray w = layer.getParam("W");
            long n = w.size(0);
            long m = w.size(1);
            long steps = a / n;
            return steps * (4 * n + 10 * m) + m * n + m;
        }
        if (EmbeddingSteps.handles(layer)) {
            long n = layer.getParam("W").size(1);
            return a * (10 * n + 2) + n; // a = the example's tokens
        }
        return 4 * a + 3 * o;
    }

    private static long recurrent(Layer layer, String prefix, long a, long h) {
        long n = layer.getParam(prefix + "W").size(0);
        long steps = a / n;
        if (layer.getClass() == SimpleRnn.class) {
            return steps * (3 * n + 16 * h) + h * h + h * n + h;
        }
        return lstm(a, steps, h);
    }

    /** LSTM and GravesLSTM: per step the gates, their activations and errors; the gate-error block, RW and W rows. */
    private static long lstm(long a, long steps, long h) {
        long n = a / Math.max(1, steps);
        return steps * (3 * n + 64 * h) + 8 * h * h + 4 * h * n + 10 * h;
    }
}

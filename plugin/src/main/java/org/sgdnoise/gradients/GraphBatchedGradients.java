package org.sgdnoise.gradients;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.VertexIndices;
import org.deeplearning4j.nn.graph.vertex.impl.ElementWiseVertex;
import org.deeplearning4j.nn.graph.vertex.impl.L2NormalizeVertex;
import org.deeplearning4j.nn.graph.vertex.impl.L2Vertex;
import org.deeplearning4j.nn.graph.vertex.impl.LayerVertex;
import org.deeplearning4j.nn.graph.vertex.impl.MergeVertex;
import org.deeplearning4j.nn.graph.vertex.impl.PreprocessorVertex;
import org.deeplearning4j.nn.graph.vertex.impl.ReshapeVertex;
import org.deeplearning4j.nn.graph.vertex.impl.ScaleVertex;
import org.deeplearning4j.nn.graph.vertex.impl.ShiftVertex;
import org.deeplearning4j.nn.graph.vertex.impl.StackVertex;
import org.deeplearning4j.nn.graph.vertex.impl.SubsetVertex;
import org.deeplearning4j.nn.graph.vertex.impl.UnstackVertex;
import org.deeplearning4j.nn.layers.OutputLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Per-example gradients of a ComputationGraph probe from one batched forward and backward pass.
 *
 * <p>The vertices are visited in DL4J's topological order, forward and then backward, as
 * {@code ComputationGraph} itself does: a vertex's error is the sum of the errors its consumers send back,
 * and each output layer starts the backward pass from its own labels (the loss is the sum over output
 * layers). Layer vertices reuse the layer rules of the MultiLayerNetwork path ({@link BatchedGradients#step}),
 * with the vertex's input preprocessor applied around them; parameter-free vertices run DL4J's own
 * {@code doForward}/{@code doBackward}, which for the vertex types listed in {@link #VERTICES} acts on each
 * example (row) alone. Only the errors that lead to trained parameters are propagated.
 *
 * <p>Rows are examples, with one exception: {@code StackVertex} concatenates its inputs along the rows (the
 * usual way to share a layer between branches) and {@code UnstackVertex} takes them apart again. The pass
 * tracks for each activation how many copies of the k examples it holds ({@code m}, row r belongs to example
 * r mod k); a layer that sees m &gt; 1 copies gets its gradient rows summed over the copies. Anything else
 * that changes the number of rows makes the pass give up ({@link BatchedGradients.Unbatchable}).
 *
 * <p>Supported: no masks, every layer one that {@link BatchedGradients#unsupportedLayer} accepts, every
 * network output an {@code OutputLayer} that feeds no other vertex, every other vertex of a type in
 * {@link #VERTICES}; see {@link #unsupportedReason}. The probe must be in EVAL mode.
 */
final class GraphBatchedGradients {

    private GraphBatchedGradients() {}

    /**
     * Parameter-free vertex types whose DL4J forward and backward passes treat each row on its own, checked
     * against the exact path in {@code GraphBatchedGradientsTest}. Unknown types (and the recurrent vertices,
     * whose meaning depends on masks) take the exact path.
     */
    private static final Set<Class<?>> VERTICES = Set.of(
            MergeVertex.class,
            ElementWiseVertex.class,
            SubsetVertex.class,
            StackVertex.class,
            UnstackVertex.class,
            PreprocessorVertex.class,
            L2Vertex.class,
            L2NormalizeVertex.class,
            ScaleVertex.class,
            ShiftVertex.class,
            ReshapeVertex.class);

    /** Why the probe has no batched rule, naming the vertices, or null when it has one. */
    static String unsupportedReason(ComputationGraph probe) {
        List<String> outputs = probe.getConfiguration().getNetworkOutputs();
        Set<String> names = new HashSet<>();
        List<String> bad = new ArrayList<>();
        for (GraphVertex v : probe.getVertices()) {
            if (v.isInputVertex()) {
                continue;
            }
            boolean output = outputs.contains(v.getVertexName());
            boolean consumed = v.getOutputVertices() != null && v.getOutputVertices().length > 0;
            String why;
            if (!output && !consumed) {
                why = "leads to no network output";
            } else if (v.hasLayer()) {
                Layer layer = v.getLayer();
                if (!names.add(ParameterLayout.layerName(layer))) {
                    return "two layers are named " + ParameterLayout.layerName(layer);
                }
                boolean outputLayer = layer.getClass() == OutputLayer.class;
                why = output && !outputLayer
                        ? "a network output must be an OutputLayer"
                        : outputLayer && !output
                                ? "an OutputLayer that is not a network output"
                                : outputLayer && consumed
                                        ? "an OutputLayer that feeds other vertices"
                                        : BatchedGradients.unsupportedLayer(layer);
            } else if (output) {
                why = "a network output must be an OutputLayer";
            } else if (!VERTICES.contains(v.getClass())) {
                why = v.numParams() > 0 ? "parameters of an unsupported vertex type" : "vertex type not verified";
            } else {
                why = null;
            }
            if (why != null) {
                bad.add(v.getVertexName() + " ("
                        + (v.hasLayer() ? v.getLayer() : v).getClass().getSimpleName() + ": " + why + ")");
            }
        }
        return bad.isEmpty() ? null : "no batched rule for " + String.join(", ", bad);
    }

    /**
     * Computes the factors for a batch (one features array per network input, one labels array per network
     * output, k examples each), at the probe's parameters. Not modified: the arrays; the probe's layers keep
     * their last input.
     *
     * @throws BatchedGradients.Unbatchable when a vertex changes the rows in a way that loses the examples
     */
    static GradientFactors compute(
            ComputationGraph probe, ParameterLayout layout, INDArray[] features, INDArray[] labels) {
        GraphVertex[] vertices = probe.getVertices();
        LayerStep[] steps = new LayerStep[vertices.length];
        try {
            return pass(probe, layout, features, labels, steps);
        } finally {
            for (int v = 0; v < vertices.length; v++) {
                if (steps[v] != null) {
                    steps[v].close();
                } else if (!vertices[v].isInputVertex()) {
                    vertices[v].clear(); // drops the references to this pass's arrays kept by the probe
                }
            }
        }
    }

    /** The forward and backward pass of {@link #compute}; fills {@code steps} (closed by the caller). */
    private static GradientFactors pass(
            ComputationGraph probe, ParameterLayout layout, INDArray[] features, INDArray[] labels, LayerStep[] steps) {
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        ComputationGraphConfiguration conf = probe.getConfiguration();
        GraphVertex[] vertices = probe.getVertices();
        int[] order = probe.topologicalSortOrder();
        DataType dt = probe.params().dataType();
        int k = (int) features[0].size(0);
        Set<String> trained = new HashSet<>();
        layout.layerRanges().forEach(r -> trained.add(r.layer()));

        int n = vertices.length;
        INDArray[] out = new INDArray[n];
        int[] copies = new int[n]; // m: out[v] holds m·k rows, row r from example r mod k
        boolean[] leadsToTrained = new boolean[n]; // v's error reaches a trained parameter
        for (int v : order) {
            GraphVertex vertex = vertices[v];
            if (vertex.isInputVertex()) {
                out[v] = features[conf.getNetworkInputs().indexOf(vertex.getVertexName())].castTo(dt);
                copies[v] = 1;
                continue;
            }
            VertexIndices[] from = vertex.getInputVertices();
            INDArray[] in = new INDArray[from.length];
            int m = copies[from[0].getVertexIndex()];
            for (int e = 0; e < from.length; e++) {
                int u = from[e].getVertexIndex();
                in[e] = out[u];
                leadsToTrained[v] |= leadsToTrained[u];
                if (copies[u] != m && !(vertex instanceof StackVertex)) {
                    throw new BatchedGradients.Unbatchable(vertex.getVertexName() + " joins inputs of " + m + " and "
                            + copies[u] + " rows per example");
                }
            }
            if (vertex instanceof LayerVertex lv) {
                Layer layer = lv.getLayer();
                leadsToTrained[v] |= trained.contains(ParameterLayout.layerName(layer));
                InputPreProcessor pre = lv.getLayerPreProcessor();
                INDArray x = pre == null ? in[0] : pre.preProcess(in[0], m * k, mgr);
                LayerStep step = BatchedGradients.step(layer, layout);
                out[v] = step.forward(x, mgr);
                steps[v] = step; // only a step whose forward pass ran has temporaries to close
            } else if (vertex instanceof PreprocessorVertex pv) {
                // DL4J's PreprocessorVertex reads the batch size from the graph's own inputs, which the pass
                // does not set: apply its preprocessor directly, as for a layer vertex.
                out[v] = pv.getPreProcessor().preProcess(in[0], m * k, mgr);
            } else {
                vertex.setInputs(in);
                out[v] = vertex.doForward(false, mgr);
            }
            long rows = out[v].size(0);
            boolean restacks = vertex instanceof StackVertex || vertex instanceof UnstackVertex;
            if (restacks ? rows % k != 0 : rows != (long) m * k) {
                // e.g. a preprocessor that folds time steps into the rows: rows are no longer examples.
                throw new BatchedGradients.Unbatchable(vertex.getVertexName() + " has " + rows + " rows for " + k
                        + " examples" + (m > 1 ? " (" + m + " copies)" : ""));
            }
            copies[v] = (int) (rows / k);
        }

        INDArray[] eps = new INDArray[n];
        for (int o = 0; o < labels.length; o++) {
            int v = probe.getVertex(conf.getNetworkOutputs().get(o)).getVertexIndex();
            if (copies[v] != 1) {
                throw new BatchedGradients.Unbatchable(
                        "output " + vertices[v].getVertexName() + " has " + copies[v] + " rows per example");
            }
            eps[v] = labels[o].castTo(dt); // an output layer's step takes its labels as the error
        }
        List<GradientFactors.Part> parts = new ArrayList<>();
        for (int i = order.length - 1; i >= 0; i--) {
            int v = order[i];
            GraphVertex vertex = vertices[v];
            if (vertex.isInputVertex() || eps[v] == null || !leadsToTrained[v]) {
                continue;
            }
            VertexIndices[] from = vertex.getInputVertices();
            boolean below = false;
            for (VertexIndices u : from) {
                below |= leadsToTrained[u.getVertexIndex()];
            }
            INDArray[] back;
            if (vertex instanceof LayerVertex lv) {
                List<GradientFactors.Part> own = copies[v] == 1 ? parts : new ArrayList<>();
                INDArray e = steps[v].backward(eps[v], below, own, mgr);
                if (copies[v] > 1) {
                    parts.addAll(
                            sumOverCopies(ParameterLayout.layerName(lv.getLayer()), own, layout, dt, k, copies[v]));
                }
                InputPreProcessor pre = lv.getLayerPreProcessor();
                back = new INDArray[] {below && pre != null ? pre.backprop(e, copies[v] * k, mgr) : e};
            } else if (vertex instanceof PreprocessorVertex pv) {
                back = new INDArray[] {pv.getPreProcessor().backprop(eps[v], copies[v] * k, mgr)};
            } else {
                vertex.setEpsilon(eps[v]);
                back = vertex.doBackward(false, mgr).getSecond();
            }
            for (int e = 0; e < from.length && below; e++) {
                int u = from[e].getVertexIndex();
                if (leadsToTrained[u] && back[e] != null) {
                    // Sum, never add in place: an error may be a view of a consumer's own arrays.
                    eps[u] = eps[u] == null ? back[e] : eps[u].add(back[e]);
                }
            }
        }
        // Backward order is reverse flat order (a graph flattens its parameters in topological order).
        Collections.reverse(parts);
        return new GradientFactors(k, layout.numParams(), dt, parts);
    }

    /**
     * One layer's gradient rows when it saw m copies of each example (after a {@code StackVertex}): the sum
     * over the copies, {@code g_i = Σ_c g_{i + c·k}}, as explicit rows. Closes {@code parts}.
     */
    private static List<GradientFactors.Part> sumOverCopies(
            String layer, List<GradientFactors.Part> parts, ParameterLayout layout, DataType dt, int k, int m) {
        List<GradientFactors.Part> out = new ArrayList<>();
        for (ParameterLayout.LayerRange r : layout.layerRanges()) {
            if (!r.layer().equals(layer)) {
                continue;
            }
            INDArray rows = Nd4j.create(dt, (long) m * k, r.length());
            for (GradientFactors.Part p : parts) {
                p.write(0, m * k, r.start(), r.start() + r.length(), rows);
            }
            out.add(new GradientFactors.Explicit(
                    layer, r.start(), rows.reshape('c', m, k, r.length()).sum(0)));
            rows.close();
        }
        parts.forEach(GradientFactors.Part::close);
        return out;
    }
}

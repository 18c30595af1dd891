package org.sgdnoise.spark;

import java.io.Serializable;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * What the executors need of a model, in a form any Spark serializer carries: its configuration as JSON
 * and its parameter vector (doubles, or floats for a float model). No updater state.
 *
 * <p>Memory: the JSON plus d values of the model's data type (once per executor, as a broadcast).
 */
public final class ModelBroadcast implements Serializable {

    private static final long serialVersionUID = 1L;

    private final boolean graph;
    private final String configuration;
    private final double[] doubleParams;
    private final float[] floatParams;

    private ModelBroadcast(boolean graph, String configuration, double[] doubleParams, float[] floatParams) {
        this.graph = graph;
        this.configuration = configuration;
        this.doubleParams = doubleParams;
        this.floatParams = floatParams;
    }

    /**
     * The configuration of {@code model} and the parameter vector {@code params} (the model's own when
     * null). Not modified: {@code model}, {@code params}.
     *
     * @throws IllegalArgumentException for a model that is neither a MultiLayerNetwork nor a ComputationGraph,
     *     or a parameter vector of the wrong length
     */
    public static ModelBroadcast of(Model model, INDArray params) {
        INDArray p = params == null ? model.params() : params;
        if (p.length() != model.numParams()) {
            throw new IllegalArgumentException("the parameter vector has " + p.length() + " values, the model has "
                    + model.numParams() + " parameters");
        }
        String json;
        boolean graph;
        if (model instanceof MultiLayerNetwork net) {
            json = net.getLayerWiseConfigurations().toJson();
            graph = false;
        } else if (model instanceof ComputationGraph cg) {
            json = cg.getConfiguration().toJson();
            graph = true;
        } else {
            throw new IllegalArgumentException("only MultiLayerNetwork and ComputationGraph are supported, got "
                    + model.getClass().getSimpleName());
        }
        boolean isDouble = model.params().dataType() == DataType.DOUBLE;
        return new ModelBroadcast(
                graph,
                json,
                isDouble ? p.castTo(DataType.DOUBLE).toDoubleVector() : null,
                isDouble ? null : p.castTo(DataType.FLOAT).toFloatVector());
    }

    /** The number of parameters d. */
    public long numParams() {
        return doubleParams != null ? doubleParams.length : floatParams.length;
    }

    /** A new model with the configuration and the parameters (each caller gets its own: models are not thread-safe). */
    public Model restore() {
        INDArray params = (doubleParams != null
                        ? Nd4j.createFromArray(doubleParams)
                        : Nd4j.createFromArray(floatParams))
                .reshape(1, numParams());
        if (graph) {
            ComputationGraph cg = new ComputationGraph(ComputationGraphConfiguration.fromJson(configuration));
            cg.init(params, false);
            return cg;
        }
        MultiLayerNetwork net = new MultiLayerNetwork(MultiLayerConfiguration.fromJson(configuration));
        net.init(params, false);
        return net;
    }
}

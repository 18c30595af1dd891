package org.sgdnoise.gradients.internal;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.wrapper.BaseWrapperLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Builds the private probe network that per-example gradients are computed on.
 *
 * <p>The probe is a new network over a deep copy of the training network's configuration (never
 * {@code clone()} of a ComputationGraph, which shares the listener list), initialised from a copy of its
 * parameters (which does not reseed ND4J's random generator). In it, BatchNormalization layers use their
 * running statistics ({@link InferenceBatchNormalization}) and, when {@code keepNoise} is false, dropout
 * and weight noise are removed. It has no listeners.
 */
public final class ProbeNetworks {

    private ProbeNetworks() {}

    /** Builds a probe for a MultiLayerNetwork or ComputationGraph. Not modified: {@code model}. */
    public static Model build(Model model, boolean keepNoise) {
        INDArray params = model.params().dup();
        if (model instanceof MultiLayerNetwork net) {
            MultiLayerConfiguration conf = net.getLayerWiseConfigurations().clone();
            for (NeuralNetConfiguration c : conf.getConfs()) {
                c.setLayer(adapt(c.getLayer(), keepNoise));
            }
            MultiLayerNetwork probe = new MultiLayerNetwork(conf);
            probe.init(params, false);
            return probe;
        }
        if (model instanceof ComputationGraph cg) {
            ComputationGraphConfiguration conf = cg.getConfiguration().clone();
            for (GraphVertex v : conf.getVertices().values()) {
                if (v instanceof LayerVertex lv) {
                    lv.getLayerConf().setLayer(adapt(lv.getLayerConf().getLayer(), keepNoise));
                }
            }
            ComputationGraph probe = new ComputationGraph(conf);
            probe.init(params, false);
            return probe;
        }
        throw new IllegalArgumentException("model must be a MultiLayerNetwork or ComputationGraph, got "
                + (model == null ? "null" : model.getClass().getName()));
    }

    private static Layer adapt(Layer layer, boolean keepNoise) {
        if (layer instanceof BaseWrapperLayer w) {
            w.setUnderlying(adapt(w.getUnderlying(), keepNoise));
        }
        Layer out = layer;
        if (layer instanceof BatchNormalization bn && !(layer instanceof InferenceBatchNormalization)) {
            out = InferenceBatchNormalization.copyOf(bn);
        }
        if (!keepNoise) {
            out.setIDropout(null);
            if (out instanceof BaseLayer b) {
                b.setWeightNoise(null);
            }
        }
        return out;
    }
}

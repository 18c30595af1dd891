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
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sgdnoise.gradients.ProbeBatch;

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
        return build(model, keepNoise, null);
    }

    /**
     * Builds a probe in another floating-point type (for example DOUBLE for finite differences of gradients):
     * the configuration's network data type is set and the parameters are cast, as DL4J's own {@code
     * convertDataType} does, without its JSON round trip. Not modified: {@code model}.
     *
     * @param dataType the probe's data type, or null for the model's own
     */
    public static Model build(Model model, boolean keepNoise, DataType dataType) {
        INDArray params = dataType == null || model.params().dataType() == dataType
                ? model.params().dup()
                : model.params().castTo(dataType);
        if (model instanceof MultiLayerNetwork net) {
            MultiLayerConfiguration conf = net.getLayerWiseConfigurations().clone();
            for (NeuralNetConfiguration c : conf.getConfs()) {
                c.setLayer(adapt(c.getLayer(), keepNoise));
            }
            if (dataType != null) {
                conf.setDataType(dataType);
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
            if (dataType != null) {
                conf.setDataType(dataType);
            }
            ComputationGraph probe = new ComputationGraph(conf);
            probe.init(params, false);
            return probe;
        }
        throw new IllegalArgumentException("model must be a MultiLayerNetwork or ComputationGraph, got "
                + (model == null ? "null" : model.getClass().getName()));
    }

    /**
     * DL4J's raw gradient of a probe network over a batch: the sum over its examples of each example's loss
     * gradient (no 1/b, no regularisation), every entry of the flat parameter vector. Masks are set as
     * {@code fit()} sets them. The returned array is the network's reused gradient view: copy it before the
     * next call. Modified: {@code probe}'s input, labels, masks and gradient.
     *
     * @throws IllegalArgumentException when a MultiLayerNetwork gets several inputs or outputs
     */
    public static INDArray gradient(Model probe, ProbeBatch batch) {
        if (probe instanceof MultiLayerNetwork net) {
            if (batch.numInputs() != 1 || batch.numOutputs() != 1) {
                throw new IllegalArgumentException("a MultiLayerNetwork takes one input and one output, got "
                        + batch.numInputs() + " and " + batch.numOutputs());
            }
            // As fit() does it: calculateGradients would hand the feature mask to the output layer as its label
            // mask (DL4J 1.0.0-M2.1), which breaks LastTimeStep and other layers that end a sequence.
            net.clearLayerMaskArrays();
            INDArray[] fm = batch.featureMasks();
            INDArray[] lm = batch.labelMasks();
            net.setInput(batch.features()[0]);
            net.setLabels(batch.labels()[0]);
            net.setLayerMaskArrays(fm == null ? null : fm[0], lm == null ? null : lm[0]);
            net.computeGradientAndScore();
            INDArray g = net.gradient().gradient();
            net.clearLayerMaskArrays();
            return g;
        }
        ComputationGraph cg = (ComputationGraph) probe;
        cg.clearLayerMaskArrays();
        cg.setInputs(batch.features());
        cg.setLabels(batch.labels());
        if (batch.featureMasks() != null || batch.labelMasks() != null) {
            cg.setLayerMaskArrays(batch.featureMasks(), batch.labelMasks());
        }
        cg.computeGradientAndScore();
        return cg.gradient().gradient();
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

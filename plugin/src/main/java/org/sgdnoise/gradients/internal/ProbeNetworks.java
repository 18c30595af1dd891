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
 * {@code clone()} of a ComputationGraph, which shares the listener list). It is initialised on the training
 * network's own flattened parameter array, not a copy ({@code init(params, false)} keeps the array and
 * makes every layer's parameters views of it, and passing parameters does not reseed ND4J's random
 * generator): the probe always sees the current θ without copying d values per probe. That is safe because
 * nothing the probe runs writes parameters. In it, BatchNormalization layers use their running statistics
 * ({@link InferenceBatchNormalization}, whose passes never update them, where DL4J's training-mode forward
 * pass would); gradients go to the probe's own gradient array; the probe is never fitted, so no updater,
 * step or constraint touches the shared array. When {@code keepNoise} is false, dropout and weight noise
 * are removed (when kept they write new arrays, never the parameters). It has no listeners.
 *
 * <p>The sharing holds while the training network keeps its array: {@code setParams} copies into it, but
 * {@code init(params, false)} on the training network replaces it, so callers compare {@link
 * #sharesParameters} before each use and rebuild when it fails.
 */
public final class ProbeNetworks {

    private ProbeNetworks() {}

    /**
     * Builds a probe for a MultiLayerNetwork or ComputationGraph, on {@code model}'s own parameter array.
     * Not modified: {@code model} (the probe only ever reads the shared array).
     */
    public static Model build(Model model, boolean keepNoise) {
        return build(model, keepNoise, model.params());
    }

    /**
     * Builds a probe in another floating-point type (for example DOUBLE for finite differences of gradients) on
     * its own copy of the parameters, which the caller may write: the configuration's network data type is set
     * and the parameters are cast, as DL4J's own {@code convertDataType} does, without its JSON round trip. Not
     * modified: {@code model}.
     *
     * @param dataType the probe's data type, or null for the model's own
     */
    public static Model build(Model model, boolean keepNoise, DataType dataType) {
        INDArray own = dataType == null || model.params().dataType() == dataType
                ? model.params().dup()
                : model.params().castTo(dataType);
        return build(model, keepNoise, own);
    }

    private static Model build(Model model, boolean keepNoise, INDArray params) {
        if (model instanceof MultiLayerNetwork net) {
            MultiLayerConfiguration conf = net.getLayerWiseConfigurations().clone();
            for (NeuralNetConfiguration c : conf.getConfs()) {
                c.setLayer(adapt(c.getLayer(), keepNoise));
            }
            conf.setDataType(params.dataType());
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
            conf.setDataType(params.dataType());
            ComputationGraph probe = new ComputationGraph(conf);
            probe.init(params, false);
            return probe;
        }
        throw new IllegalArgumentException("model must be a MultiLayerNetwork or ComputationGraph, got "
                + (model == null ? "null" : model.getClass().getName()));
    }

    /**
     * A copy of the network exactly as configured (BatchNormalization with batch statistics, dropout and weight
     * noise on), on its own copy of the parameters: its {@link #gradient} is the minibatch gradient {@code fit()}
     * takes. Not modified: {@code model}.
     */
    public static Model trainingCopy(Model model) {
        if (model instanceof MultiLayerNetwork net) {
            MultiLayerNetwork copy =
                    new MultiLayerNetwork(net.getLayerWiseConfigurations().clone());
            copy.init(net.params().dup(), false);
            return copy;
        }
        if (model instanceof ComputationGraph cg) {
            ComputationGraph copy = new ComputationGraph(cg.getConfiguration().clone());
            copy.init(cg.params().dup(), false);
            return copy;
        }
        throw new IllegalArgumentException("model must be a MultiLayerNetwork or ComputationGraph, got "
                + (model == null ? "null" : model.getClass().getName()));
    }

    /**
     * True while {@code probe} still reads {@code model}'s parameter array: the same off-heap memory
     * (ComputationGraph's {@code params()} returns a new view object on each call, so identity of the
     * INDArray does not tell).
     */
    public static boolean sharesParameters(Model probe, Model model) {
        INDArray p = probe.params();
        INDArray m = model.params();
        if (p == m) {
            return true;
        }
        return p != null
                && m != null
                && p.length() == m.length()
                && p.dataType() == m.dataType()
                && start(p) == start(m);
    }

    private static long start(INDArray a) {
        return a.data().address() + a.offset() * a.dataType().width();
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

package org.sgdnoise.curvature;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.AbstractLSTM;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional;
import org.deeplearning4j.nn.conf.layers.wrapper.BaseWrapperLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationCube;
import org.nd4j.linalg.activations.impl.ActivationGELU;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationMish;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftPlus;
import org.nd4j.linalg.activations.impl.ActivationSoftSign;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.activations.impl.ActivationSwish;
import org.nd4j.linalg.activations.impl.ActivationTanH;

/**
 * Where a network's gradient is not differentiable: activations and pooling that are piecewise linear (ReLU and
 * its relatives, hard tanh and hard sigmoid, max pooling). A central difference of gradients across such a kink
 * is off by the jump in the gradient (see {@link HessianOperator#KINKED_RELATIVE_STEP}). An activation not known
 * to be smooth counts as a kink.
 */
final class Kinks {

    /** Activations with a continuous derivative everywhere. */
    private static final Set<Class<?>> SMOOTH = Set.of(
            ActivationIdentity.class,
            ActivationTanH.class,
            ActivationSigmoid.class,
            ActivationSoftmax.class,
            ActivationSoftPlus.class,
            ActivationSoftSign.class,
            ActivationSwish.class,
            ActivationGELU.class,
            ActivationMish.class,
            ActivationCube.class);

    private Kinks() {}

    /** The layers with a kink, each as "name (what)"; empty when the network is smooth. */
    static List<String> of(Model model) {
        List<String> out = new ArrayList<>();
        if (model instanceof MultiLayerNetwork net) {
            for (var c : net.getLayerWiseConfigurations().getConfs()) {
                add(c.getLayer(), out);
            }
        } else if (model instanceof ComputationGraph cg) {
            for (GraphVertex v : cg.getConfiguration().getVertices().values()) {
                if (v instanceof LayerVertex lv) {
                    add(lv.getLayerConf().getLayer(), out);
                }
            }
        }
        return out;
    }

    private static void add(Layer layer, List<String> out) {
        if (layer instanceof BaseWrapperLayer w) {
            add(w.getUnderlying(), out);
            return;
        }
        if (layer instanceof Bidirectional b) {
            add(b.getFwd(), out);
            return;
        }
        String name = layer.getLayerName();
        if (layer instanceof SubsamplingLayer s && s.getPoolingType() == PoolingType.MAX) {
            out.add(name + " (max pooling)");
        }
        if (layer instanceof GlobalPoolingLayer g && g.getPoolingType() == PoolingType.MAX) {
            out.add(name + " (global max pooling)");
        }
        IActivation fn = layer instanceof BaseLayer b
                ? b.getActivationFn()
                : layer instanceof ActivationLayer a ? a.getActivationFn() : null;
        if (fn != null && !SMOOTH.contains(fn.getClass())) {
            out.add(name + " (" + fn + ")");
        }
        if (layer instanceof AbstractLSTM l
                && l.getGateActivationFn() != null
                && !SMOOTH.contains(l.getGateActivationFn().getClass())) {
            out.add(name + " (gates " + l.getGateActivationFn() + ")");
        }
    }
}

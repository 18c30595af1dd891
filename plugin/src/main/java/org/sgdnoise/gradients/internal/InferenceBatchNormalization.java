package org.sgdnoise.gradients.internal;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Collection;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Configuration of a BatchNormalization layer that always normalises with its running statistics and
 * backpropagates through that affine map.
 *
 * <p>Used only inside sgdnoise's private probe networks. DL4J 1.0.0-M2.1 cannot backpropagate through
 * BatchNormalization in inference mode (its backward pass always applies the batch-statistics
 * formula), and the batch-statistics gradient of a batch of one example is meaningless. Per-example
 * gradients of the inference-mode loss, as in Chaudhari and Soatto (2018), need this layer. The parameter
 * layout is the parent's, so a probe network built with it accepts the training network's parameters.
 */
public final class InferenceBatchNormalization extends BatchNormalization {

    private static final long serialVersionUID = 1L;

    /** For serialization frameworks; use {@link #copyOf(BatchNormalization)}. */
    public InferenceBatchNormalization() {
        super();
    }

    /**
     * Copies every field of {@code source} (its whole class hierarchy) into a new inference-mode layer
     * configuration. Not modified: {@code source}.
     */
    public static InferenceBatchNormalization copyOf(BatchNormalization source) {
        InferenceBatchNormalization copy = new InferenceBatchNormalization();
        for (Class<?> c = BatchNormalization.class; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers())) {
                    continue;
                }
                try {
                    f.setAccessible(true);
                    f.set(copy, f.get(source));
                } catch (IllegalAccessException | RuntimeException e) {
                    throw new IllegalStateException("cannot copy BatchNormalization field " + f.getName(), e);
                }
            }
        }
        return copy;
    }

    @Override
    public Layer instantiate(
            NeuralNetConfiguration conf,
            Collection<TrainingListener> trainingListeners,
            int layerIndex,
            INDArray layerParamsView,
            boolean initializeParams,
            DataType networkDataType) {
        InferenceBatchNormalizationLayer ret = new InferenceBatchNormalizationLayer(conf, networkDataType);
        ret.setListeners(trainingListeners);
        ret.setIndex(layerIndex);
        ret.setParamsViewArray(layerParamsView);
        Map<String, INDArray> paramTable = initializer().init(conf, layerParamsView, initializeParams);
        ret.setParamTable(paramTable);
        ret.setConf(conf);
        return ret;
    }
}

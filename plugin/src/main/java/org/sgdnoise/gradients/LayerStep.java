package org.sgdnoise.gradients;

import java.util.List;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One layer's forward and backward pass on the batched path ({@link BatchedGradients}): the forward pass keeps
 * what the layer's per-example gradients need, the backward pass adds them as {@link GradientFactors.Part}s.
 */
interface LayerStep {
    /** The layer's output for the batch {@code x} (rows are examples). */
    INDArray forward(INDArray x, LayerWorkspaceMgr mgr);

    /**
     * Adds this layer's per-example gradients to {@code parts}; returns the error for the layer below
     * when {@code below}. For the output layer {@code eps} is the labels.
     */
    INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr);

    /** Frees the step's own temporaries (not the parts it produced). */
    default void close() {}
}

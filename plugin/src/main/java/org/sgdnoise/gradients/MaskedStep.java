package org.sgdnoise.gradients;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A {@link LayerStep} that takes a per-time-step mask ([k, T], 1 = present) the way DL4J's layer does: told
 * its input's mask before {@link #forward}, it returns the mask its output carries. For an output layer
 * the mask is the one its loss uses (the label mask, else the feature mask passed up).
 */
interface MaskedStep extends LayerStep {
    /** Takes the mask of the layer's input (null for none); returns the mask of its output. */
    INDArray feedMask(INDArray mask);
}

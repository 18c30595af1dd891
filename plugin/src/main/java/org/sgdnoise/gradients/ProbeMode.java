package org.sgdnoise.gradients;

/**
 * How the probe network evaluates each example's loss.
 *
 * <p>In both modes BatchNormalization uses its running statistics (the batch statistics of a single
 * example are meaningless); they differ in the stochastic regularisers.
 */
public enum ProbeMode {
    /** The paper's protocol: dropout, DropConnect and weight noise off. The default. */
    EVAL,
    /**
     * Dropout and weight noise on, as in a training step; ND4J's random state is saved before the probe
     * and restored after it, so training draws the same random numbers as without the probe.
     */
    TRAIN
}

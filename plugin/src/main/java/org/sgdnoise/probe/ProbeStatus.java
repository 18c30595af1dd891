package org.sgdnoise.probe;

/** How a probe ended. Only {@link #OK} carries statistics; the others are expected outcomes, not errors. */
public enum ProbeStatus {
    /** The statistics were computed. */
    OK,
    /** The loss or a per-example gradient was NaN or infinite (training is diverging): nothing was measured. */
    NON_FINITE,
    /** Fewer than two examples were available: a covariance needs at least two per-example gradients. */
    TOO_FEW_EXAMPLES
}

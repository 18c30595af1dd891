package org.sgdnoise.trajectory;

/** What a loop analysis concluded for one window of a trajectory. */
public enum LoopVerdict {
    /** Significant circulation: the area rate of the most circulating plane exceeds the surrogates'. */
    LOOP,
    /** No significant circulation at the chosen significance level. */
    NO_LOOP,
    /** The trajectory is still drifting (diffusion exponent, drift of the recorded coordinates' means, or the stationarity gate): loop statistics would mislead. */
    NOT_STATIONARY,
    /** Too few steps for the test. */
    INSUFFICIENT_DATA
}

package org.sgdnoise.gradients;

/** Which k examples a probe takes its per-example gradients from. */
public enum ExampleSelection {
    /** The first k examples of the current minibatch. The default. */
    FIRST,
    /** A seeded random subset of k examples of the current minibatch (seed mixed with the iteration). */
    RANDOM,
    /** The first k examples of a fixed reference set given by the user, at every probe. */
    REFERENCE
}

package org.sgdnoise.gradients.internal;

import org.nd4j.linalg.api.rng.Random;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Saves the calling thread's ND4J random state ({@code rootState()}, {@code nodeState()} of
 * {@link Nd4j#getRandom()}) and puts it back on {@link #close()}: the one place that does so.
 *
 * <p>Used in try-with-resources around anything that may draw from ND4J's generator (a probe network's
 * dropout, weight noise, network construction), so that training continues bit-identical, as if the probe
 * had never run:
 *
 * <pre>{@code
 * try (RandomStateGuard saved = RandomStateGuard.save()) {
 *     probe.calculateGradients(...);
 * }
 * }</pre>
 *
 * <p>{@link #restore()} can also be called on its own, any number of times, to switch the generator back to
 * the saved state (for instance to give each of two interleaved networks its own stream). Cost about 1 µs.
 * {@code Nd4j.getRandom()} is thread-local: a guard restores the generator of the thread that created it;
 * use it on that thread only.
 */
public final class RandomStateGuard implements AutoCloseable {

    private final Random rng;
    private final long rootState;
    private final long nodeState;

    private RandomStateGuard(Random rng) {
        this.rng = rng;
        this.rootState = rng.rootState();
        this.nodeState = rng.nodeState();
    }

    /** Saves the current thread's ND4J random state; {@link #close()} restores it. */
    public static RandomStateGuard save() {
        return new RandomStateGuard(Nd4j.getRandom());
    }

    /** Sets the generator back to the saved state; the guard stays usable. */
    public void restore() {
        rng.setStates(rootState, nodeState);
    }

    /** The saved root state. */
    public long rootState() {
        return rootState;
    }

    /** The saved node state. */
    public long nodeState() {
        return nodeState;
    }

    /** Restores the saved state, as {@link #restore()}; never throws. */
    @Override
    public void close() {
        restore();
    }

    /** Shows the saved states. */
    @Override
    public String toString() {
        return "RandomStateGuard[root=" + rootState + ", node=" + nodeState + "]";
    }
}

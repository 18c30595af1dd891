/**
 * One probe of the gradient noise, as an object a training loop can call: {@link org.sgdnoise.probe.NoiseProbe}
 * (the per-worker engine: per-example gradients, the statistics of D, the sketch, the temperature), its typed
 * result {@link org.sgdnoise.probe.ProbeResult}, and {@link org.sgdnoise.probe.ProbeFields}, the one class that
 * owns every key of the records written as JSON Lines or CSV.
 *
 * <p>Threading: a {@code NoiseProbe} is used by one thread at a time (one per worker); results are immutable.
 */
package org.sgdnoise.probe;

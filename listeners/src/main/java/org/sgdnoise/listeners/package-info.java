/**
 * DL4J {@code TrainingListener}s that drive the sgdnoise engine from {@code fit()}: add one with
 * {@code model.addListeners(new DiffusionListener.Builder()...build())}. Listeners never change training
 * and never throw into {@code fit()} unless built with fail-fast. One listener instance per model and
 * training thread. {@link org.sgdnoise.listeners.SgdnoiseMetrics} shows their records as Micrometer gauges
 * (micrometer-core is an optional dependency: only that class needs it).
 * A {@link org.sgdnoise.listeners.Dashboard} is a record sink both listeners can write to: it
 * serves their records live on 127.0.0.1 to a page of charts, and renders the same page to one static file.
 */
package org.sgdnoise.listeners;

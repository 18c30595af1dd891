/**
 * The one chart writer of the samples: {@link org.sgdnoise.samples.chart.Plot}, headless Java2D to PNG,
 * used by {@code report}, {@code analyze-trajectory} (the phase portrait) and {@code compare-sampling}.
 * Not thread-safe per instance; independent instances may be drawn concurrently.
 */
package org.sgdnoise.samples.chart;

/**
 * Records and the sinks that write them: JSON Lines, CSV and TensorBoard event files ({@link
 * org.sgdnoise.output.TensorBoardSink}). Sinks flush whole records and are thread-safe.
 */
package org.sgdnoise.output;

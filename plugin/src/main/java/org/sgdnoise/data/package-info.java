/**
 * Readers of the data sets sgdnoise's tools take: IDX files (the MNIST and Fashion-MNIST format, plain or
 * gzip), Fashion-MNIST folders, CSV classification data, and a DL4J iterator over IDX files.
 *
 * <p>Malformed or missing input is reported as {@link org.sgdnoise.UserInputException}, with the file, the
 * position and what was found. Features are scaled to [0, 1] (pixels) or read as given (CSV); labels are
 * one-hot. The readers are stateless; an iterator is not thread-safe.
 */
package org.sgdnoise.data;

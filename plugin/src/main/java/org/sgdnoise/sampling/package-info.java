/**
 * Minibatch samplers with and without replacement over an in-memory DataSet, with their own seeded
 * random generators, and the check of the minibatch-gradient noise against theory (theory.md §1, §6).
 * Samplers are not thread-safe; they serve batches on the thread that calls {@code next()}.
 */
package org.sgdnoise.sampling;

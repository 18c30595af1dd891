/**
 * Exact per-example loss gradients of DL4J models, computed on a private probe network so that training
 * is never disturbed. Not thread-safe: one engine per training thread. Units: gradients of the loss of
 * one example, no 1/b, no regularisation.
 */
package org.sgdnoise.gradients;

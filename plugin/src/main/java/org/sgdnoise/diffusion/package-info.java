/**
 * Statistics of the gradient-noise covariance D (Chaudhari and Soatto 2018) from per-example gradients,
 * and the SGD temperature. Stateless and thread-safe; double precision for every k×k computation.
 */
package org.sgdnoise.diffusion;

/**
 * Streaming low-rank estimates of the gradient-noise covariance D: the Frequent Directions sketch
 * (Liberty 2013; Ghashami, Liberty, Phillips and Woodruff 2016) with certified eigenvalue intervals,
 * exponential forgetting and merging. Memory O(ℓ·d); no d×d array anywhere. Not thread-safe.
 */
package org.sgdnoise.sketch;

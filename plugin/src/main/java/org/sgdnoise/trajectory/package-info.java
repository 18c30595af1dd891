/**
 * Weight trajectories and closed loops (broken detailed balance): the area-enclosing rate, lagged
 * antisymmetric covariances, the most circulating plane, a block sign-flip significance test, the
 * anomalous-diffusion exponent, and simulators of the analytic cases of theory.md §5. Stateless analysis
 * on double arrays; not thread-safe where stated.
 */
package org.sgdnoise.trajectory;

package org.sgdnoise.curvature;

/**
 * A trace estimate from {@link HutchinsonTrace}.
 *
 * @param trace the estimate of tr(A), in the operator's units
 * @param standardError the standard error of the estimate (sample standard deviation of the probes over √n)
 * @param probes the number of Rademacher probes n
 * @param hessianVectorProducts the operator products spent (one per probe)
 * @param seed the seed of the probes
 */
public record TraceEstimate(double trace, double standardError, int probes, long hessianVectorProducts, long seed) {}

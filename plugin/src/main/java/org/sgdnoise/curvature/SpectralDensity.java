package org.sgdnoise.curvature;

import java.util.Arrays;

/**
 * A spectral density from {@link StochasticLanczosQuadrature}: for each probe, Gauss-quadrature nodes (Ritz
 * values) and weights (summing to 1); the estimate of {@code (1/d) Σᵢ δ(t − λᵢ)} is their average.
 *
 * @param dimension d
 * @param nodes {@code nodes[p]}: the quadrature nodes of probe p, descending
 * @param weights {@code weights[p][k]}: the weight of {@code nodes[p][k]}, each probe's summing to 1
 * @param steps the Lanczos steps asked for per probe (a probe whose Krylov space is invariant has fewer nodes)
 * @param hessianVectorProducts the operator products spent, all probes together
 * @param seed the seed of the probes
 */
public record SpectralDensity(
        int dimension, double[][] nodes, double[][] weights, int steps, long hessianVectorProducts, long seed) {

    /** Validates and copies. */
    public SpectralDensity {
        if (nodes == null || weights == null || nodes.length != weights.length || nodes.length == 0) {
            throw new IllegalArgumentException(
                    "nodes and weights must be given for the same, non-zero number of probes");
        }
        for (int p = 0; p < nodes.length; p++) {
            if (nodes[p].length != weights[p].length) {
                throw new IllegalArgumentException(
                        "probe " + p + " has " + nodes[p].length + " nodes but " + weights[p].length + " weights");
            }
        }
        nodes = copy(nodes);
        weights = copy(weights);
    }

    /** The number of probes. */
    public int probes() {
        return nodes.length;
    }

    /** The nodes (copies). */
    @Override
    public double[][] nodes() {
        return copy(nodes);
    }

    /** The weights (copies). */
    @Override
    public double[][] weights() {
        return copy(weights);
    }

    /**
     * The p-th moment of the estimated density, {@code ∫ t^p dφ ≈ tr(A^p)/d}; exact for each probe's quadratic
     * form when p ≤ 2·steps − 1.
     *
     * @param p the order, ≥ 0
     */
    public double moment(int p) {
        if (p < 0) {
            throw new IllegalArgumentException("p must be >= 0, got " + p);
        }
        double sum = 0;
        for (int r = 0; r < nodes.length; r++) {
            for (int k = 0; k < nodes[r].length; k++) {
                sum += weights[r][k] * Math.pow(nodes[r][k], p);
            }
        }
        return sum / nodes.length;
    }

    /**
     * The density broadened by a Gaussian of standard deviation σ, on a grid: {@code φ_σ(t) = (1/n) Σ_p Σ_k
     * τ_{p,k} N(t; θ_{p,k}, σ²)}. It integrates to 1 over the real line (over the grid, when the grid covers
     * every node by several σ). Cost O(grid · n · m).
     *
     * @param grid the points t at which to evaluate
     * @param sigma the broadening σ, &gt; 0, in the operator's units
     * @return φ_σ at each grid point, in inverse units of the operator
     */
    public double[] density(double[] grid, double sigma) {
        if (grid == null) {
            throw new IllegalArgumentException("grid must not be null");
        }
        if (!(sigma > 0) || Double.isInfinite(sigma)) {
            throw new IllegalArgumentException("sigma must be finite and > 0, got " + sigma);
        }
        double norm = 1.0 / (sigma * Math.sqrt(2 * Math.PI) * nodes.length);
        double[] out = new double[grid.length];
        for (int g = 0; g < grid.length; g++) {
            double s = 0;
            for (int r = 0; r < nodes.length; r++) {
                for (int k = 0; k < nodes[r].length; k++) {
                    double u = (grid[g] - nodes[r][k]) / sigma;
                    s += weights[r][k] * Math.exp(-0.5 * u * u);
                }
            }
            out[g] = s * norm;
        }
        return out;
    }

    /** Shows d, probes, steps, cost and seed. */
    @Override
    public String toString() {
        return "SpectralDensity[d=" + dimension + ", probes=" + nodes.length + ", steps=" + steps
                + ", hessianVectorProducts=" + hessianVectorProducts + ", seed=" + seed + "]";
    }

    private static double[][] copy(double[][] a) {
        return Arrays.stream(a).map(double[]::clone).toArray(double[][]::new);
    }
}

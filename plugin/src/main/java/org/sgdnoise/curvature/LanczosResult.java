package org.sgdnoise.curvature;

import java.util.Arrays;

/**
 * Eigenpairs from {@link Lanczos}: values (descending for {@link Lanczos.End#LARGEST}, ascending for {@link
 * Lanczos.End#SMALLEST}), unit eigenvectors, their residual norms {@code ‖Au − θu‖}, and the cost.
 *
 * @param end the end of the spectrum these come from
 * @param values the Ritz values, r of them (fewer only when the whole space has fewer than r dimensions)
 * @param vectors the Ritz vectors, {@code vectors[i]} belongs to {@code values[i]}, each of length d
 * @param residuals the residual norm of each pair, in the operator's units
 * @param converged true when every residual is within the tolerance (or the Krylov space is the whole space)
 * @param steps the Lanczos steps taken
 * @param hessianVectorProducts the operator products spent (one per step)
 * @param seed the seed of the start vector
 */
public record LanczosResult(
        Lanczos.End end,
        double[] values,
        double[][] vectors,
        double[] residuals,
        boolean converged,
        int steps,
        long hessianVectorProducts,
        long seed) {

    /** Validates and copies the arrays. */
    public LanczosResult {
        if (end == null || values == null || vectors == null || residuals == null) {
            throw new IllegalArgumentException("end, values, vectors and residuals must not be null");
        }
        if (vectors.length != values.length || residuals.length != values.length) {
            throw new IllegalArgumentException("values, vectors and residuals must have the same length: "
                    + values.length + ", " + vectors.length + ", " + residuals.length);
        }
        values = values.clone();
        residuals = residuals.clone();
        vectors = Arrays.stream(vectors).map(double[]::clone).toArray(double[][]::new);
    }

    /** The values (a copy). */
    @Override
    public double[] values() {
        return values.clone();
    }

    /** The vectors (copies). */
    @Override
    public double[][] vectors() {
        return Arrays.stream(vectors).map(double[]::clone).toArray(double[][]::new);
    }

    /** The residual norms (a copy). */
    @Override
    public double[] residuals() {
        return residuals.clone();
    }

    /** Shows the end, the values, convergence, cost and seed (not the vectors). */
    @Override
    public String toString() {
        return "LanczosResult[end=" + end + ", values=" + Arrays.toString(values) + ", converged=" + converged
                + ", steps=" + steps + ", hessianVectorProducts=" + hessianVectorProducts + ", seed=" + seed + "]";
    }
}

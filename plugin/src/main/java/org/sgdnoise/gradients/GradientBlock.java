package org.sgdnoise.gradients;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The per-example gradients of one probe: a k×d matrix, one example per row, c-order, detached from
 * every workspace, in the model's data type.
 *
 * @param rows the k×d gradients; row i is ∇f_i(θ), the gradient of example i's loss alone (no 1/b, no
 *     regularisation), restricted to the parameters of {@link ParameterLayout}
 * @param requested the k that was asked for; {@code rows.rows()} is smaller when the batch was smaller or
 *     the memory budget did not allow it
 * @param reducedByBudget true when the memory budget reduced k
 * @param examples the indices of the examples used, in the batch they were drawn from
 */
public record GradientBlock(INDArray rows, int requested, boolean reducedByBudget, int[] examples) {

    /** The number of examples k. */
    public int k() {
        return (int) rows.rows();
    }

    /** The number of parameters d. */
    public long d() {
        return rows.columns();
    }
}

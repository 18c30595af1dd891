package org.sgdnoise.diffusion;

import java.io.Serializable;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sgdnoise.sketch.DiffusionSketch;

/**
 * The sketched D of a set of examples at fixed weights, and what a merge of two sets needs: a globally
 * centred Frequent Directions sketch with no forgetting ({@link DiffusionSketch.Centring#GLOBAL}), the
 * column sums of the gradients in double, and the example count. Two sketches of disjoint parts merge
 * into the sketch of their union with the same guarantees (theory.md §4): the merge inserts Chan's
 * correction row {@code √(n_a n_b/(n_a + n_b))·(μ_b − μ_a)}, so the rows absorbed square-sum to the exact
 * centred scatter {@code Σ_i (g_i − ḡ)(g_i − ḡ)ᵀ = N·D}, and Δ adds up (Δ_a + Δ_b + Δ_merge).
 *
 * <p>Serializable (the sketch's held rows, the sums and the count), for sending a partition's sketch
 * across machines. Memory: the sketch's {@code 2ℓ·d} values plus its mean (d) and the sums (d doubles).
 * Not thread-safe.
 */
public final class DatasetSketch implements Serializable {

    private static final long serialVersionUID = 1L;

    private final int ell;
    private DiffusionSketch sketch;
    private double[] sum;
    private long examples;

    /** An empty sketch of size ℓ (d is fixed by the first gradients added). */
    public DatasetSketch(int ell) {
        if (ell < 2) {
            throw new IllegalArgumentException("ell must be >= 2, got " + ell);
        }
        this.ell = ell;
    }

    /**
     * Adds a block of per-example gradients, one per row (k×d, any k ≥ 1). Modified: {@code rows}, centred
     * in place on its own mean (a copy would double the block's memory).
     */
    public void add(INDArray rows) {
        if (rows.rank() != 2 || rows.rows() < 1) {
            throw new IllegalArgumentException(
                    "rows must be k x d with k >= 1, got shape " + Arrays.toString(rows.shape()));
        }
        long d = rows.columns();
        if (sketch == null) {
            sketch = new DiffusionSketch(
                    d, ell, Double.POSITIVE_INFINITY, DiffusionSketch.Centring.GLOBAL, rows.dataType());
            sum = new double[Math.toIntExact(d)];
        } else if (d != sum.length) {
            throw new IllegalArgumentException("rows have " + d + " columns, the sketch has d = " + sum.length);
        }
        double[] colSums = rows.castTo(DataType.DOUBLE).sum(0).toDoubleVector();
        for (int j = 0; j < colSums.length; j++) {
            sum[j] += colSums[j];
        }
        examples += rows.rows();
        // Centred on the block's mean; the sketch's correction rows make the centring global.
        INDArray mean = DiffusionStatistics.centre(rows);
        sketch.addProbe(rows, mean);
    }

    /**
     * Adds the examples of {@code other}, a sketch of disjoint examples at the same weights: afterwards this
     * is the sketch of both. Not modified: {@code other}.
     *
     * @throws IllegalArgumentException when ℓ or d differ
     */
    public void merge(DatasetSketch other) {
        if (other.ell != ell) {
            throw new IllegalArgumentException("cannot merge sketches of l = " + ell + " and l = " + other.ell);
        }
        if (other.sketch == null) {
            return;
        }
        if (sketch == null) {
            sketch = new DiffusionSketch(
                    other.sum.length,
                    ell,
                    Double.POSITIVE_INFINITY,
                    DiffusionSketch.Centring.GLOBAL,
                    other.sketch.sketch().dataType());
            sum = new double[other.sum.length];
        } else if (other.sum.length != sum.length) {
            throw new IllegalArgumentException(
                    "cannot merge sketches of d = " + sum.length + " and d = " + other.sum.length);
        }
        sketch.merge(other.sketch);
        for (int j = 0; j < sum.length; j++) {
            sum[j] += other.sum[j];
        }
        examples += other.examples;
    }

    /** ℓ. */
    public int ell() {
        return ell;
    }

    /** Examples absorbed N. */
    public long examples() {
        return examples;
    }

    /** The parameter count d (0 before the first gradients). */
    public long numParams() {
        return sum == null ? 0 : sum.length;
    }

    /** The globally centred sketch (null before the first gradients). */
    public DiffusionSketch sketch() {
        return sketch;
    }

    /** Σ_i g_i, in double (null before the first gradients); a copy. */
    public double[] gradientSum() {
        return sum == null ? null : sum.clone();
    }

    /** tr(D) = (1/N) Σ |g_i − ḡ|², exact (the sketch's absorbed mass, correction rows included). */
    public double trace() {
        return sketch.sketch().absorbedMass() / examples;
    }

    /** |ḡ|², exact in double. */
    public double gradNormSq() {
        double s = 0;
        for (double v : sum) {
            double m = v / examples;
            s += m * m;
        }
        return s;
    }

    /** The eigenvalues of D with certified intervals [λ̂_i, λ̂_i + delta]. */
    public DiffusionSketch.Estimate estimate() {
        return sketch.estimate(0, false);
    }
}

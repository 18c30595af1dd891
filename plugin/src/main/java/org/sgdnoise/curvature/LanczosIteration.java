package org.sgdnoise.curvature;

import java.util.SplittableRandom;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * The Lanczos three-term recurrence with full reorthogonalisation, shared by {@link Lanczos} and {@link
 * StochasticLanczosQuadrature}: from a unit start q₀ it builds an orthonormal basis Q of the Krylov space and
 * the tridiagonal {@code T = QᵀAQ} (diagonal α, off-diagonal β).
 *
 * <p>When the space becomes invariant (β ≈ 0) and a restart generator was given, the iteration continues
 * from a random vector orthogonal to Q (β is then exactly 0, T block-diagonal): this is how repeated
 * eigenvalues, invisible from a single start, are found.
 *
 * <p>Every new vector is orthogonalised against all previous ones twice (classical Gram–Schmidt, "twice is
 * enough"), so Q stays orthonormal to rounding and no spurious copies of converged eigenvalues appear. Cost
 * per step: one operator product plus O(j·d) for the reorthogonalisation; memory: the m basis vectors, m·d
 * doubles. Not thread-safe.
 */
final class LanczosIteration {

    /**
     * A β below this fraction of the largest |α| or β seen means the Krylov space is invariant: the
     * iteration stops there, and its Ritz values are then exact eigenvalues.
     */
    static final double BREAKDOWN = 1e-12;

    private final SymmetricOperator op;
    private final double[][] q;
    private final double[] alpha;
    private final double[] beta;
    private final SplittableRandom restart;
    private final double breakdown;
    private int blockStart;
    private int steps;
    private int restarts;
    private boolean restarted;
    private boolean invariant;
    private double scale;

    /**
     * @param start a unit vector (copied)
     * @param maxSteps the most steps, at most d
     * @param restart the generator for restarts after an invariant subspace, or null to stop there
     * @param breakdown the β, relative to the largest |α| or β so far, below which the space counts as
     *     invariant ({@link #BREAKDOWN} for exact operators; an operator with noise, such as a finite-difference
     *     Hessian, never gets that low and needs its own noise level)
     */
    LanczosIteration(SymmetricOperator op, double[] start, int maxSteps, SplittableRandom restart, double breakdown) {
        this.op = op;
        this.restart = restart;
        this.breakdown = breakdown;
        this.q = new double[maxSteps][];
        this.alpha = new double[maxSteps];
        this.beta = new double[maxSteps];
        this.q[0] = start.clone();
    }

    /** Takes one step; false when the iteration cannot continue (maximum reached or invariant subspace). */
    boolean step() {
        if (invariant || steps == q.length) {
            return false;
        }
        int j = steps;
        restarted = false;
        double[] w = op.apply(q[j]);
        alpha[j] = Vectors.dot(q[j], w);
        Vectors.axpy(-alpha[j], q[j], w);
        if (j > 0) {
            Vectors.axpy(-beta[j - 1], q[j - 1], w);
        }
        orthogonalise(w, j);
        beta[j] = Vectors.norm(w);
        scale = Math.max(scale, Math.max(Math.abs(alpha[j]), beta[j]));
        steps = j + 1;
        if (beta[j] <= breakdown * scale) {
            beta[j] = 0;
            if (restart == null || steps == q.length) {
                invariant = true;
                return false;
            }
            w = Vectors.unitGaussian(restart, w.length);
            orthogonalise(w, j);
            restarts++;
            restarted = true;
            blockStart = steps;
            Vectors.scale(1.0 / Vectors.norm(w), w);
            q[steps] = w;
            return true;
        }
        if (steps < q.length) {
            Vectors.scale(1.0 / beta[j], w);
            q[steps] = w;
        }
        return steps < q.length;
    }

    /** Removes from {@code w} its components along q₀…q_j, twice. Modified: {@code w}. */
    private void orthogonalise(double[] w, int j) {
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i <= j; i++) {
                Vectors.axpy(-Vectors.dot(q[i], w), q[i], w);
            }
        }
    }

    /**
     * True when the last step ended in an invariant subspace and a restart: the Ritz pairs then all have zero
     * residual, yet eigenvalues repeated in the rest of the space have not been seen yet.
     */
    boolean restarted() {
        return restarted;
    }

    /** The number of restarts after an invariant subspace. */
    int restarts() {
        return restarts;
    }

    /** Steps taken so far: the number of operator products, and the size of T. */
    int steps() {
        return steps;
    }

    /**
     * True when the iteration stopped at an invariant subspace (T's eigenvalues are then eigenvalues of A,
     * with zero residual).
     */
    boolean invariant() {
        return invariant;
    }

    /** The last β: the residual norm factor of every Ritz pair ({@code ‖Au − θu‖ = β·|s_last|}). */
    double lastBeta() {
        return steps == 0 ? 0 : beta[steps - 1];
    }

    /** The eigendecomposition of the current k×k tridiagonal T, eigenvalues descending. */
    SymmetricEigen ritz() {
        return tridiagonal(0, steps);
    }

    /**
     * The eigendecomposition of the block of T since the last restart (all of T without restarts): its
     * residuals are {@link #lastBeta()} times the last components of its eigenvectors.
     */
    SymmetricEigen blockRitz() {
        return tridiagonal(blockStart, steps);
    }

    private SymmetricEigen tridiagonal(int from, int to) {
        int k = to - from;
        double[][] t = new double[k][k];
        for (int i = 0; i < k; i++) {
            t[i][i] = alpha[from + i];
            if (i + 1 < k) {
                t[i][i + 1] = beta[from + i];
                t[i + 1][i] = beta[from + i];
            }
        }
        return SymmetricEigen.of(t);
    }

    /** The Ritz vector {@code Q s} for column {@code col} of {@code eig}'s eigenvectors, normalised. */
    double[] ritzVector(SymmetricEigen eig, int col) {
        double[] u = new double[q[0].length];
        double[][] s = eig.vectors();
        for (int i = 0; i < steps; i++) {
            Vectors.axpy(s[i][col], q[i], u);
        }
        Vectors.scale(1.0 / Vectors.norm(u), u);
        return u;
    }
}

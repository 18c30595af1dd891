package org.sgdnoise.curvature;

import java.util.SplittableRandom;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * The extreme eigenpairs of a symmetric operator by the Lanczos method with full reorthogonalisation.
 *
 * <p>From a seeded random unit start q₀, k steps of the Lanczos recurrence give an orthonormal basis Q_k of
 * the Krylov space {@code span{q₀, Aq₀, …, A^{k−1}q₀}} and the tridiagonal {@code T_k = Q_kᵀ A Q_k}; the
 * eigenpairs (θᵢ, sᵢ) of T_k give Ritz pairs (θᵢ, Q_k sᵢ) whose residual norm is exactly {@code ‖A Q_k sᵢ −
 * θᵢ Q_k sᵢ‖ = β_k |s_{k,i}|} (Golub and Van Loan, <i>Matrix Computations</i>, §10.1). The iteration stops
 * when the r wanted residuals are all at most {@code tolerance · max|θ|}; an eigenvalue's error is then at
 * most the residual, and about residual²/gap (Kato–Temple).
 *
 * <p>Repeated eigenvalues: one Krylov space holds one vector of each eigenspace. When the space becomes
 * invariant to the tolerance ({@code β ≤ tolerance·‖T‖}) the iteration restarts from a random vector
 * orthogonal to Q, and after a restart it stops only once the new block's extreme Ritz value has converged
 * too; so copies of a repeated eigenvalue are found when the space closes before the wanted pairs are
 * accepted (as for operators with few distinct eigenvalues), but a run that converges earlier reports each
 * repeated eigenvalue once.
 *
 * <p>Cost: k operator products (k ≤ {@code maxSteps}, typically 2r–4r plus a few dozen for a Hessian),
 * O(k²d) for reorthogonalisation and O(k⁴) at most for the small eigenproblems (by {@link SymmetricEigen}).
 * Memory: k + r vectors of d doubles. Stateless and thread-safe as far as the operator is.
 */
public final class Lanczos {

    /** Default relative residual tolerance, {@value}: residual ≤ tolerance·max|θ|. */
    public static final double DEFAULT_TOLERANCE = 1e-8;

    /** Default step limit, {@value} (capped at d): enough for the top ten of a typical Hessian. */
    public static final int DEFAULT_MAX_STEPS = 100;

    /** Which end of the spectrum is wanted. */
    public enum End {
        /** The algebraically largest eigenvalues, descending. */
        LARGEST,
        /** The algebraically smallest (most negative) eigenvalues, ascending. */
        SMALLEST
    }

    private Lanczos() {}

    /**
     * The r algebraically largest eigenpairs, with the default step limit and tolerance.
     *
     * @see #eigenpairs(SymmetricOperator, int, End, int, double, long)
     */
    public static LanczosResult largest(SymmetricOperator op, int r, long seed) {
        return eigenpairs(op, r, End.LARGEST, DEFAULT_MAX_STEPS, DEFAULT_TOLERANCE, seed);
    }

    /**
     * The r algebraically smallest (most negative) eigenpairs, with the default step limit and tolerance.
     *
     * @see #eigenpairs(SymmetricOperator, int, End, int, double, long)
     */
    public static LanczosResult smallest(SymmetricOperator op, int r, long seed) {
        return eigenpairs(op, r, End.SMALLEST, DEFAULT_MAX_STEPS, DEFAULT_TOLERANCE, seed);
    }

    /**
     * The r eigenpairs at one end of the spectrum of a symmetric operator.
     *
     * @param op the operator, d = {@code op.dimension()}
     * @param r the number of eigenpairs, 1 ≤ r ≤ d
     * @param end which end of the spectrum
     * @param maxSteps the most operator products, ≥ r; capped at d (where the Krylov space is the whole space)
     * @param tolerance the relative residual at which a Ritz pair counts as converged, in (0, 1)
     * @param seed the seed of the start vector (and of restarts), written into the result
     * @return the eigenpairs, their residual norms, whether all r converged, and the cost
     */
    public static LanczosResult eigenpairs(
            SymmetricOperator op, int r, End end, int maxSteps, double tolerance, long seed) {
        if (op == null || end == null) {
            throw new IllegalArgumentException("op and end must not be null");
        }
        int d = op.dimension();
        if (r < 1 || r > d) {
            throw new IllegalArgumentException("r must be in [1, " + d + "], got " + r);
        }
        if (maxSteps < r) {
            throw new IllegalArgumentException("maxSteps must be >= r = " + r + ", got " + maxSteps);
        }
        if (!(tolerance > 0 && tolerance < 1)) {
            throw new IllegalArgumentException("tolerance must be in (0, 1), got " + tolerance);
        }
        int m = Math.min(maxSteps, d);
        SplittableRandom rng = new SplittableRandom(seed);
        LanczosIteration it = new LanczosIteration(op, Vectors.unitGaussian(rng, d), m, rng, tolerance);
        SymmetricEigen eig = null;
        boolean converged = false;
        boolean more = true;
        while (more) {
            more = it.step();
            int k = it.steps();
            // The k×k eigenproblem costs O(k³): every step while small, every fourth step beyond 64.
            // Right after a restart every residual is zero: look again once the new block has a step.
            if (k >= r && !it.restarted() && (!more || k < 64 || k % 4 == 0)) {
                eig = it.ritz();
                converged = k == d
                        || (allConverged(eig, it.lastBeta(), r, end, tolerance)
                                && (it.restarts() == 0
                                        || allConverged(it.blockRitz(), it.lastBeta(), 1, end, tolerance)));
                if (converged) {
                    break;
                }
            }
        }
        int k = it.steps();
        int found = Math.min(r, k);
        double[] values = new double[found];
        double[][] vectors = new double[found][];
        double[] residuals = new double[found];
        for (int i = 0; i < found; i++) {
            int col = column(i, k, end);
            values[i] = eig.values()[col];
            vectors[i] = it.ritzVector(eig, col);
            residuals[i] = it.lastBeta() * Math.abs(eig.vectors()[k - 1][col]);
        }
        return new LanczosResult(end, values, vectors, residuals, converged && found == r, k, k, seed);
    }

    /** The column of T's eigendecomposition (eigenvalues descending) holding the i-th wanted pair. */
    private static int column(int i, int k, End end) {
        return end == End.LARGEST ? i : k - 1 - i;
    }

    private static boolean allConverged(SymmetricEigen eig, double beta, int r, End end, double tolerance) {
        int k = eig.values().length;
        double scale = Math.max(Math.abs(eig.values()[0]), Math.abs(eig.values()[k - 1]));
        for (int i = 0; i < r; i++) {
            int col = column(i, k, end);
            if (beta * Math.abs(eig.vectors()[k - 1][col]) > tolerance * scale) {
                return false;
            }
        }
        return true;
    }
}

package org.sgdnoise.curvature;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * The linearised (discrete Ornstein–Uhlenbeck) model of SGD near a minimum, restricted to r directions, and
 * its prediction of circulation (issue 17; theory.md §5). Validated, immutable; {@link #predict()} is
 * thread-safe.
 *
 * <p>Model. x_t ∈ R^r are the coordinates of θ_t − θ* in an orthonormal basis (for example the top
 * Hessian eigenvectors); the loss is quadratic there with Hessian H_r. Weight decay or L2 with coefficient
 * λ adds λI to it: H' = H_r + λI (both give the same step for plain SGD and heavy ball). The minibatch
 * gradient is g_t = H'x_t + ξ_t with ξ_t independent, mean 0, Cov ξ = c·D_r, where c = 1/b when examples
 * are drawn with replacement and c = (N − b)/((N − 1)b) without (theory.md §1, §6).
 * <ul>
 *   <li>Plain SGD (μ = 0): x_{t+1} = x_t − ηg_t = M x_t − ηξ_t, M = I − ηH'. The stationary covariance
 *       solves the discrete Lyapunov equation Σ = MΣMᵀ + η²cD_r (it reduces to the continuous
 *       H'Σ + ΣH' = ηcD_r only when ηh' ≪ 1: exactly, H'Σ + ΣH' − ηH'ΣH' = ηcD_r). C₁ = E[x_{t+1}x_tᵀ] = MΣ.
 *   <li>Heavy-ball (Polyak) momentum μ: v_{t+1} = μv_t − ηg_t, x_{t+1} = x_t + v_{t+1}. The state (x, v) has
 *       transition [[I − ηH', μI], [−ηH', μI]] and noise −η(ξ, ξ); Σ_z solves its own Lyapunov equation,
 *       Σ and C₁ are its position blocks (areas are in position space). Nesterov's variant (DL4J's
 *       {@code Nesterovs} updater) is a different linear map and is not modelled.
 * </ul>
 *
 * <p>Stationarity needs every mode stable: 0 &lt; η(h + λ) &lt; 2(1 + μ) for every eigenvalue h of H_r
 * (2 without momentum), i.e. spectral radius of the transition below 1; otherwise the constructor refuses.
 * The equations are solved exactly in the eigenbasis of H' ({@link ModalLyapunov}); cost O(r³) for the
 * moments and O(r⁴) for the r(r − 1)/2 planes' signal-to-noise ratios.
 *
 * @param hessian H_r, symmetric r×r (symmetrised copy kept)
 * @param diffusion D_r, the per-example gradient covariance in the same basis, symmetric positive
 *     semi-definite r×r (symmetrised copy kept)
 * @param learningRate η &gt; 0
 * @param batchSize b ≥ 1
 * @param weightDecay λ ≥ 0, added to the Hessian as λI
 * @param momentum μ in [0, 1), heavy ball; 0 for plain SGD
 * @param datasetSize N ≥ max(b, 2) for sampling without replacement, or {@link #WITH_REPLACEMENT}
 */
public record LinearisedSgd(
        double[][] hessian,
        double[][] diffusion,
        double learningRate,
        int batchSize,
        double weightDecay,
        double momentum,
        long datasetSize) {

    /** {@link #datasetSize()} value for sampling with replacement (the default): Cov ξ = D/b. */
    public static final long WITH_REPLACEMENT = 0;

    /** Largest |X_ij − X_ji| accepted, relative to max |X_ij|, for the symmetric inputs. */
    public static final double SYMMETRY_TOLERANCE = 1e-10;

    /** Most negative eigenvalue of D accepted, relative to its largest (rounding of a projected covariance). */
    public static final double PSD_TOLERANCE = 1e-10;

    /**
     * Plain SGD with sampling with replacement, no weight decay, no momentum.
     *
     * @see #withWeightDecay(double)
     * @see #withMomentum(double)
     * @see #withoutReplacement(long)
     */
    public static LinearisedSgd of(double[][] hessian, double[][] diffusion, double learningRate, int batchSize) {
        return new LinearisedSgd(hessian, diffusion, learningRate, batchSize, 0, 0, WITH_REPLACEMENT);
    }

    /** Validates the inputs and stability; keeps symmetrised copies of H and D. */
    public LinearisedSgd {
        int r = squareSize("hessian", hessian);
        int rd = squareSize("diffusion", diffusion);
        if (rd != r) {
            throw new IllegalArgumentException(
                    "diffusion must have the shape of hessian, " + r + "x" + r + ", got " + rd + "x" + rd);
        }
        hessian = symmetrised("hessian", hessian);
        diffusion = symmetrised("diffusion", diffusion);
        if (!(learningRate > 0 && learningRate < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("learningRate must be finite and > 0, got " + learningRate);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        if (!(weightDecay >= 0 && weightDecay < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("weightDecay must be finite and >= 0, got " + weightDecay);
        }
        if (!(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
        }
        if (datasetSize != WITH_REPLACEMENT && (datasetSize < batchSize || datasetSize < 2)) {
            throw new IllegalArgumentException("datasetSize must be " + WITH_REPLACEMENT
                    + " (with replacement) or >= max(batchSize, 2) = " + Math.max(batchSize, 2) + ", got "
                    + datasetSize);
        }
        double[] d = SymmetricEigen.eigenvalues(diffusion, 1.0);
        if (d[r - 1] < -PSD_TOLERANCE * Math.max(d[0], 0)) {
            throw new IllegalArgumentException(
                    "diffusion must be positive semi-definite, got eigenvalue " + d[r - 1] + " (largest " + d[0] + ")");
        }
        double[] h = SymmetricEigen.eigenvalues(hessian, 1.0);
        double upper = 2 * (1 + momentum);
        double top = learningRate * (h[0] + weightDecay);
        double bottom = learningRate * (h[r - 1] + weightDecay);
        if (!(top < upper && bottom > 0)) {
            String side = top < upper
                    ? "learningRate*(h_min + weightDecay) = " + bottom + " with h_min = " + h[r - 1]
                            + ": a flat or negatively curved direction has no stationary state (add weight decay"
                            + " or leave it out of the basis)"
                    : "learningRate*(h_max + weightDecay) = " + top + " with h_max = " + h[0]
                            + ": SGD diverges along the top eigenvector (lower the learning rate)";
            throw new IllegalArgumentException("unstable: learningRate*(h + weightDecay) must be in (0, " + upper
                    + ") for every Hessian eigenvalue h (2(1 + momentum)), got " + side);
        }
    }

    /** H_r as validated (symmetrised), a copy. */
    @Override
    public double[][] hessian() {
        return copy(hessian);
    }

    /** D_r as validated (symmetrised), a copy. */
    @Override
    public double[][] diffusion() {
        return copy(diffusion);
    }

    /** Equal when every input is equal, matrices entry by entry. */
    @Override
    public boolean equals(Object o) {
        return o instanceof LinearisedSgd other
                && Arrays.deepEquals(hessian, other.hessian)
                && Arrays.deepEquals(diffusion, other.diffusion)
                && Double.compare(learningRate, other.learningRate) == 0
                && batchSize == other.batchSize
                && Double.compare(weightDecay, other.weightDecay) == 0
                && Double.compare(momentum, other.momentum) == 0
                && datasetSize == other.datasetSize;
    }

    /** Consistent with {@link #equals}. */
    @Override
    public int hashCode() {
        return Objects.hash(
                Arrays.deepHashCode(hessian),
                Arrays.deepHashCode(diffusion),
                learningRate,
                batchSize,
                weightDecay,
                momentum,
                datasetSize);
    }

    /** The same model with weight decay (L2) λ, added to the Hessian as λI. */
    public LinearisedSgd withWeightDecay(double lambda) {
        return new LinearisedSgd(hessian, diffusion, learningRate, batchSize, lambda, momentum, datasetSize);
    }

    /** The same model with heavy-ball momentum μ. */
    public LinearisedSgd withMomentum(double mu) {
        return new LinearisedSgd(hessian, diffusion, learningRate, batchSize, weightDecay, mu, datasetSize);
    }

    /** The same model with minibatches drawn without replacement from N examples. */
    public LinearisedSgd withoutReplacement(long n) {
        if (n == WITH_REPLACEMENT) {
            throw new IllegalArgumentException("n must be >= max(batchSize, 2), got " + n);
        }
        return new LinearisedSgd(hessian, diffusion, learningRate, batchSize, weightDecay, momentum, n);
    }

    /** The dimension r of the subspace. */
    public int dimension() {
        return hessian.length;
    }

    /** c with Cov ξ = c·D: 1/b with replacement, (N − b)/((N − 1)b) without. */
    public double noiseScale() {
        return datasetSize == WITH_REPLACEMENT
                ? 1.0 / batchSize
                : (double) (datasetSize - batchSize) / ((datasetSize - 1) * (double) batchSize);
    }

    /**
     * The same process observed every k steps, as a plain-SGD model of its own: x_{t+k} = M^k x_t + noise, with
     * M = I − ηH'. Its Hessian is H_k = (I − M^k)/η (the eigenvectors of H', eigenvalues (1 − (1 − ηh')^k)/η, so
     * 0 &lt; ηh_k &lt; 2 whenever this model is stable), its noise the accumulated k-step noise
     * Σ − M^kΣM^k = η²D_k with batch size 1 and sampling with replacement, no weight decay, no momentum. Its
     * prediction is that of a detector fed every k-th position: rates and standard deviations per k steps,
     * steps counted in observations (divide rates by k, multiply steps by k for optimiser steps). k = 1 gives
     * this model's process again (in that parametrisation).
     *
     * <p>Cost: one eigendecomposition and one Lyapunov solve, O(r³).
     *
     * @param k steps between observations, ≥ 1
     * @throws IllegalArgumentException for k &lt; 1
     * @throws IllegalStateException with momentum: the position alone is not a Markov chain, so its k-step
     *     observations are not a plain-SGD process
     */
    public LinearisedSgd observedEvery(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be >= 1, got " + k);
        }
        if (momentum != 0) {
            throw new IllegalStateException("observedEvery needs plain SGD (momentum 0), got momentum " + momentum
                    + ": with momentum the position observed every k steps is not a Markov chain");
        }
        int r = dimension();
        double[][] sigma = solve().positionCovariance();
        SymmetricEigen eig = SymmetricEigen.of(shifted());
        double[][] u = eig.vectors();
        double[] h = eig.values();
        double[] powered = new double[r]; // (1 − ηh')^k, the eigenvalues of M^k
        double[] hk = new double[r];
        for (int a = 0; a < r; a++) {
            powered[a] = Math.pow(1 - learningRate * h[a], k);
            hk[a] = (1 - powered[a]) / learningRate;
        }
        double[][] hessianK = new double[r][r];
        double[][] mk = new double[r][r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                double sh = 0;
                double sm = 0;
                for (int a = 0; a < r; a++) {
                    sh += u[i][a] * hk[a] * u[j][a];
                    sm += u[i][a] * powered[a] * u[j][a];
                }
                hessianK[i][j] = sh;
                mk[i][j] = sm;
            }
        }
        double[][] carried = Dense.times(Dense.times(mk, sigma), Dense.transpose(mk));
        double[][] noiseK = new double[r][r];
        double[][] hessianSym = new double[r][r];
        double eta2 = learningRate * learningRate;
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                // Symmetrised against rounding; the validation then sees exact symmetry.
                noiseK[i][j] = 0.5 * ((sigma[i][j] - carried[i][j]) + (sigma[j][i] - carried[j][i])) / eta2;
                hessianSym[i][j] = 0.5 * (hessianK[i][j] + hessianK[j][i]);
            }
        }
        return new LinearisedSgd(hessianSym, noiseK, learningRate, 1, 0, 0, WITH_REPLACEMENT);
    }

    /** H' = H_r + λI. */
    private double[][] shifted() {
        int r = dimension();
        double[][] shifted = new double[r][r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                shifted[i][j] = hessian[i][j] + (i == j ? weightDecay : 0);
            }
        }
        return shifted;
    }

    /** The model's moments, solved exactly ({@link ModalLyapunov}). */
    ModalLyapunov solve() {
        int r = dimension();
        double c = noiseScale();
        double[][] noise = new double[r][r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                noise[i][j] = c * diffusion[i][j];
            }
        }
        return new ModalLyapunov(shifted(), noise, learningRate, momentum);
    }

    /** Solves the model and derives its predictions (see {@link CirculationPrediction}). */
    public CirculationPrediction predict() {
        int r = dimension();
        double c = noiseScale();
        double[] curvatures = SymmetricEigen.eigenvalues(hessian, 1.0);
        for (int i = 0; i < r; i++) {
            curvatures[i] += weightDecay;
        }
        ModalLyapunov solved = solve();
        double[][] sigma = solved.positionCovariance();
        double[][] lag1 = solved.lag1Covariance();
        double[][] anti = new double[r][r];
        double[][] area = new double[r][r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                anti[i][j] = 0.5 * (lag1[i][j] - lag1[j][i]);
                area[i][j] = -anti[i][j];
            }
        }
        List<PlanePrediction> planes = new ArrayList<>(r * (r - 1) / 2);
        for (int i = 0; i < r; i++) {
            for (int j = i + 1; j < r; j++) {
                planes.add(Planes.predict(solved, sigma, lag1, area, i, j, Dense.unit(r, i), Dense.unit(r, j)));
            }
        }
        double[][] leading = r < 2 ? null : Planes.leadingPlane(area);
        PlanePrediction lead =
                leading == null ? null : Planes.predict(solved, sigma, lag1, area, -1, -1, leading[0], leading[1]);
        return new CirculationPrediction(
                this,
                c,
                ModalLyapunov.spectralRadius(curvatures, learningRate, momentum),
                ModalLyapunov.modePeriods(curvatures, learningRate, momentum),
                Planes.relativeCommutator(hessian, diffusion),
                sigma,
                solved.stateCovariance(),
                lag1,
                anti,
                area,
                lead == null ? 0 : lead.areaRate(),
                lead,
                planes);
    }

    /** Shows the scalars and r (not the matrices). */
    @Override
    public String toString() {
        return "LinearisedSgd[r=" + dimension() + ", learningRate=" + learningRate + ", batchSize=" + batchSize
                + ", weightDecay=" + weightDecay + ", momentum=" + momentum + ", datasetSize="
                + (datasetSize == WITH_REPLACEMENT ? "with replacement" : datasetSize) + "]";
    }

    private static double[][] copy(double[][] a) {
        double[][] out = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i].clone();
        }
        return out;
    }

    private static int squareSize(String name, double[][] a) {
        if (a == null || a.length == 0) {
            throw new IllegalArgumentException(
                    name + " must be a non-empty square matrix, got " + (a == null ? "null" : "0 rows"));
        }
        for (int i = 0; i < a.length; i++) {
            if (a[i] == null || a[i].length != a.length) {
                throw new IllegalArgumentException(name + " must be square, got " + a.length + " rows but row " + i
                        + " has " + (a[i] == null ? "null" : a[i].length + " entries"));
            }
        }
        return a.length;
    }

    private static double[][] symmetrised(String name, double[][] a) {
        int r = a.length;
        double max = 0;
        for (double[] row : a) {
            for (double v : row) {
                if (!Double.isFinite(v)) {
                    throw new IllegalArgumentException(name + " must have finite entries, got " + v);
                }
                max = Math.max(max, Math.abs(v));
            }
        }
        double[][] out = new double[r][r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                if (Math.abs(a[i][j] - a[j][i]) > SYMMETRY_TOLERANCE * max) {
                    throw new IllegalArgumentException(name + " must be symmetric, got " + name + "[" + i + "][" + j
                            + "] = " + a[i][j] + " but " + name + "[" + j + "][" + i + "] = " + a[j][i]);
                }
                out[i][j] = 0.5 * (a[i][j] + a[j][i]);
            }
        }
        return out;
    }
}

package org.sgdnoise.trajectory;

import java.io.Serializable;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.sgdnoise.internal.linalg.CirculationRates;
import org.sgdnoise.internal.linalg.LagOneFit;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * Detects closed loops (broken detailed balance) in a trajectory y_t ∈ R^m (theory.md §5).
 *
 * <p>Statistic: the area-enclosing-rate tensor A (zero in expectation for any reversible process) and its
 * leading rate ω, the largest circulation over all planes. Significance: the trajectory is cut into B
 * blocks; reversing a block's time direction leaves a reversible process's law unchanged and flips the
 * sign of the block's area, so random sign flips of the block area tensors give the null distribution of
 * ω, maximisation over planes included. {@code p = (1 + #{ω_surrogate ≥ ω}) / (1 + S)}.
 *
 * <p>Immutable configuration; {@link #analyze} is thread-safe.
 *
 * @param significance the level α for the LOOP verdict (default 0.01: a loop is a strong claim, and at 0.01
 *     reversible processes are called loops in about 1% of runs)
 * @param blocks B, blocks of the sign-flip test (default 32)
 * @param surrogates S (default 999)
 * @param minStepsPerBlock fewer steps per block give INSUFFICIENT_DATA (default 20)
 * @param maxDiffusionExponent a diffusion exponent above it gives NOT_STATIONARY (default 1.5: faster
 *     than diffusive spreading means drift); NaN disables the check
 * @param seed seed of the surrogates
 *
 * <p>Validity: block areas must be nearly independent, so a block must span several correlation times.
 * When a block is shorter than {@link #MIN_BLOCK_CORRELATION_TIMES} correlation times the verdict is
 * INSUFFICIENT_DATA (the statistics are still reported): the test would be miscalibrated.
 *
 * <p>Areas are taken about each block's own mean ({@link TrajectoryMeasures#blockAreas}), so the test is of the
 * fluctuations' circulation on scales shorter than a block: a centre that drifts slowly (a real network's valley
 * floor moves for tens of thousands of steps after the loss is flat) adds no area of its own unless it turns
 * within a block. The drift of the centre is measured and reported ({@link TrajectoryMeasures#subspaceDrift}),
 * and does not decide the verdict; the fluctuations about it must be stationary.
 *
 * <p>Verdict, in order: NOT_STATIONARY when the diffusion exponent exceeds {@code maxDiffusionExponent};
 * INSUFFICIENT_DATA when the blocks are too short; NOT_STATIONARY when the fluctuations' variance about their
 * blocks' means shifts between the window's halves ({@link TrajectoryMeasures#fluctuationDrift}, family-wise
 * level {@link #DRIFT_SIGNIFICANCE}); else LOOP or NO_LOOP by the p-value.
 */
public record LoopStatistics(
        double significance, int blocks, int surrogates, int minStepsPerBlock, double maxDiffusionExponent, long seed)
        implements Serializable {

    /** Blocks must be at least this many correlation times long for a LOOP or NO_LOOP verdict. */
    public static final double MIN_BLOCK_CORRELATION_TIMES = 5;

    /**
     * Family-wise level of the drift tests: the centre drifts when any coordinate's half-to-half mean shift is
     * significant at 0.01 after a Bonferroni correction over the m coordinates, and a window is NOT_STATIONARY
     * when the same holds for the variance of the fluctuations about the blocks' means.
     */
    public static final double DRIFT_SIGNIFICANCE = 0.01;

    /** The lags, in steps, of the lagged antisymmetric covariances reported. */
    public static final int[] LAGS = {1, 2, 5, 10};

    /** Defaults: α = 0.01, 32 blocks, 999 surrogates, 20 steps per block, exponent limit 1.5, seed 1. */
    public static LoopStatistics defaults() {
        return new LoopStatistics(0.01, 32, 999, 20, 1.5, 1);
    }

    /** Validates the configuration. */
    public LoopStatistics {
        if (!(significance > 0 && significance < 1)) {
            throw new IllegalArgumentException("significance must be in (0, 1), got " + significance);
        }
        if (blocks < 4) {
            throw new IllegalArgumentException("blocks must be >= 4, got " + blocks);
        }
        if (surrogates < 19) {
            throw new IllegalArgumentException("surrogates must be >= 19, got " + surrogates);
        }
        if (minStepsPerBlock < 2) {
            throw new IllegalArgumentException("minStepsPerBlock must be >= 2, got " + minStepsPerBlock);
        }
    }

    /** The same configuration with another seed. */
    public LoopStatistics withSeed(long newSeed) {
        return new LoopStatistics(significance, blocks, surrogates, minStepsPerBlock, maxDiffusionExponent, newSeed);
    }

    /**
     * Analyses a trajectory. Not modified: {@code y}.
     *
     * @param y time steps × coordinates (at least 2 coordinates)
     * @param dt the time step (1 for iterations)
     */
    public LoopAnalysis analyze(double[][] y, double dt) {
        int n = y.length;
        if (n == 0 || y[0].length < 2) {
            throw new IllegalArgumentException("a trajectory needs at least 2 coordinates and 1 step");
        }
        if (!(dt > 0)) {
            throw new IllegalArgumentException("dt must be > 0, got " + dt);
        }
        int m = y[0].length;
        double[] mean = new double[m];
        boolean finite = true;
        for (double[] row : y) {
            if (row.length != m) {
                throw new IllegalArgumentException("every step must have " + m + " coordinates");
            }
            for (double v : row) {
                finite &= Double.isFinite(v);
            }
            for (int i = 0; i < m; i++) {
                mean[i] += row[i] / n;
            }
        }
        int usable = n - 1;
        if (usable < blocks * minStepsPerBlock || !finite) { // too short, or a diverged (non-finite) path
            return new LoopAnalysis(
                    n,
                    m,
                    new double[m][m],
                    new double[m][m],
                    Double.NaN,
                    Double.NaN,
                    null,
                    Double.NaN,
                    Double.NaN,
                    0,
                    blocks,
                    new double[LAGS.length],
                    LAGS.clone(),
                    Double.NaN,
                    Double.NaN,
                    Double.NaN,
                    true,
                    Double.NaN,
                    true,
                    LoopVerdict.INSUFFICIENT_DATA);
        }
        // Block area tensors, upper triangle only.
        int pairs = m * (m - 1) / 2;
        double[][] blockArea = TrajectoryMeasures.blockAreas(y, blocks);
        double totalTime = usable * dt;
        double[] total = new double[pairs];
        for (double[] ba : blockArea) {
            for (int p = 0; p < pairs; p++) {
                total[p] += ba[p];
            }
        }
        double[][] area = toMatrix(total, m, 1 / totalTime);
        double omega = leadingRate(area);
        int[] count = TrajectoryMeasures.blockCounts(n, blocks);
        double[] se = TrajectoryMeasures.blockRateStderr(blockArea, count, dt);
        double[][] areaSe = toMatrix(se, m, 1);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < i; j++) {
                areaSe[i][j] = areaSe[j][i]; // a standard error, not antisymmetric
            }
        }
        double omegaSe = jackknifeLeadingRate(blockArea, total, count, m, dt);
        double[][] plane = leadingPlane(area);

        SplittableRandom rng = new SplittableRandom(seed);
        int exceed = 0;
        double[] flipped = new double[pairs];
        for (int s = 0; s < surrogates; s++) {
            Arrays.fill(flipped, 0);
            for (double[] ba : blockArea) {
                double sign = rng.nextBoolean() ? 1 : -1;
                for (int p = 0; p < pairs; p++) {
                    flipped[p] += sign * ba[p];
                }
            }
            if (leadingRate(toMatrix(flipped, m, 1 / totalTime)) >= omega) {
                exceed++;
            }
        }
        double pValue = (1.0 + exceed) / (1.0 + surrogates);

        double[] lagAnti = new double[LAGS.length];
        for (int l = 0; l < LAGS.length; l++) {
            lagAnti[l] = lagAntisymmetry(y, mean, LAGS[l]);
        }
        double period = period(y, mean, plane, dt);
        double exponent = TrajectoryMeasures.diffusionExponent(y);
        double tau = TrajectoryMeasures.correlationTime(y, Math.max(1, usable / blocks));
        double[] drift = TrajectoryMeasures.subspaceDrift(y, blocks / 2);
        boolean subspaceStationary = !(drift[1] <= DRIFT_SIGNIFICANCE);
        double[] fluctuation = TrajectoryMeasures.fluctuationDrift(y, blocks);
        boolean fluctuationsStationary = !(fluctuation[1] <= DRIFT_SIGNIFICANCE);
        LoopVerdict verdict;
        if (!Double.isNaN(maxDiffusionExponent) && exponent > maxDiffusionExponent) {
            verdict = LoopVerdict.NOT_STATIONARY;
        } else if (!((double) usable / blocks >= MIN_BLOCK_CORRELATION_TIMES * tau)) {
            // Also where the drift test would be miscalibrated: its batch means need the same block length.
            verdict = LoopVerdict.INSUFFICIENT_DATA;
        } else if (!fluctuationsStationary) {
            verdict = LoopVerdict.NOT_STATIONARY;
        } else {
            verdict = pValue <= significance ? LoopVerdict.LOOP : LoopVerdict.NO_LOOP;
        }
        return new LoopAnalysis(
                n,
                m,
                area,
                areaSe,
                omega,
                omegaSe,
                plane,
                period,
                pValue,
                surrogates,
                blocks,
                lagAnti,
                LAGS.clone(),
                exponent,
                tau,
                drift[0],
                subspaceStationary,
                fluctuation[0],
                fluctuationsStationary,
                verdict);
    }

    /** The jackknife standard error of ω: each block left out in turn, √((B − 1)/B · Σ_b (ω₍₋b₎ − ω̄)²). */
    private static double jackknifeLeadingRate(double[][] blockArea, double[] total, int[] count, int m, double dt) {
        int blocks = blockArea.length;
        long steps = 0;
        for (int c : count) {
            steps += c;
        }
        double[] left = new double[blocks];
        double[] rest = new double[total.length];
        double mean = 0;
        for (int b = 0; b < blocks; b++) {
            for (int p = 0; p < total.length; p++) {
                rest[p] = total[p] - blockArea[b][p];
            }
            left[b] = leadingRate(toMatrix(rest, m, 1 / ((steps - count[b]) * dt)));
            mean += left[b] / blocks;
        }
        double ss = 0;
        for (double w : left) {
            ss += (w - mean) * (w - mean);
        }
        return Math.sqrt((blocks - 1.0) / blocks * ss);
    }

    private static double[][] toMatrix(double[] upper, int m, double scale) {
        double[][] a = new double[m][m];
        int p = 0;
        for (int i = 0; i < m; i++) {
            for (int j = i + 1; j < m; j++) {
                a[i][j] = upper[p] * scale;
                a[j][i] = -upper[p] * scale;
                p++;
            }
        }
        return a;
    }

    /** ω = √λ_max(AᵀA) for antisymmetric A (its eigenvalues are ±iω_k). */
    static double leadingRate(double[][] a) {
        int m = a.length;
        if (m == 2) {
            return Math.abs(a[0][1]);
        }
        return Math.sqrt(Math.max(0, SymmetricEigen.eigenvalues(CirculationRates.gram(a), 1.0)[0]));
    }

    /** The plane of the leading pair: u the top eigenvector of AᵀA, v = A u / ω (so uᵀ A v ... = ω). */
    static double[][] leadingPlane(double[][] a) {
        int m = a.length;
        double[] u = SymmetricEigen.of(CirculationRates.gram(a)).vector(0);
        normalise(u);
        double[] v = new double[m];
        // A u lies in the plane and is orthogonal to u (A antisymmetric); uᵀ A v with v = −A u/ω gives
        // uᵀ A (−A u)/ω = |A u|²/ω = ω, the positive orientation.
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int k = 0; k < m; k++) {
                s += a[i][k] * u[k];
            }
            v[i] = -s;
        }
        if (normalise(v) == 0) {
            v = new double[m];
        }
        return new double[][] {u, v};
    }

    private static double normalise(double[] x) {
        double s = 0;
        for (double v : x) {
            s += v * v;
        }
        s = Math.sqrt(s);
        if (s > 0) {
            for (int i = 0; i < x.length; i++) {
                x[i] /= s;
            }
        }
        return s;
    }

    private static double lagAntisymmetry(double[][] y, double[] mean, int lag) {
        int n = y.length;
        int m = mean.length;
        if (n <= lag) {
            return Double.NaN;
        }
        double[][] c = new double[m][m];
        for (int t = 0; t + lag < n; t++) {
            for (int i = 0; i < m; i++) {
                double a = y[t + lag][i] - mean[i];
                for (int j = 0; j < m; j++) {
                    c[i][j] += a * (y[t][j] - mean[j]);
                }
            }
        }
        double max = 0;
        for (int i = 0; i < m; i++) {
            for (int j = i + 1; j < m; j++) {
                max = Math.max(max, Math.abs(c[i][j] - c[j][i]) / 2 / (n - lag));
            }
        }
        return max;
    }

    /** Period from the lag-1 linear fit M = C₁C₀⁻¹ of the trajectory projected onto the plane. */
    private static double period(double[][] y, double[] mean, double[][] plane, double dt) {
        double[] u = plane[0];
        double[] v = plane[1];
        int n = y.length;
        double[] p = new double[n];
        double[] q = new double[n];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < mean.length; i++) {
                double c = y[t][i] - mean[i];
                p[t] += u[i] * c;
                q[t] += v[i] * c;
            }
        }
        double c0pp = 0, c0pq = 0, c0qq = 0, c1pp = 0, c1pq = 0, c1qp = 0, c1qq = 0;
        for (int t = 0; t + 1 < n; t++) {
            c0pp += p[t] * p[t];
            c0pq += p[t] * q[t];
            c0qq += q[t] * q[t];
            c1pp += p[t + 1] * p[t];
            c1pq += p[t + 1] * q[t];
            c1qp += q[t + 1] * p[t];
            c1qq += q[t + 1] * q[t];
        }
        return dt * LagOneFit.period(c0pp, c0pq, c0qq, c1pp, c1pq, c1qp, c1qq);
    }

    /**
     * The verdict for plain SGD, with the stationarity gate (Yaida 2018) {@code 2⟨θ·u⟩/⟨|u|²⟩ ≈ 1} added to
     * the other checks: NOT_STATIONARY when |ratio − 1| exceeds the tolerance (or the ratio is unknown), or
     * when the diffusion exponent says drift; else INSUFFICIENT_DATA when blocks are too short for the
     * correlation time; else LOOP or NO_LOOP by the p-value. Note that the window sum telescopes:
     * ratio − 1 = (|θ_first|² − |θ_last|²)/Σ|u|², so the gate sees radial drift only; drift inside the
     * recorded subspace is left to the subspace drift test and the diffusion exponent. An analysis that could not run stays INSUFFICIENT_DATA.
     */
    public LoopVerdict gatedVerdict(LoopAnalysis a, double stationarityRatio, double tolerance) {
        if (!Double.isFinite(a.maxRate())) {
            return LoopVerdict.INSUFFICIENT_DATA;
        }
        if (!(Math.abs(stationarityRatio - 1) <= tolerance)) {
            return LoopVerdict.NOT_STATIONARY;
        }
        return a.verdict();
    }
}

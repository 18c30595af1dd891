package org.sgdnoise.trajectory;

import org.sgdnoise.internal.stats.StudentT;

/**
 * Measures of a trajectory that the loop detector's verdict rests on besides its area test: the correlation time,
 * the time-averaged mean-squared-displacement exponent and the drift of the coordinates' mean inside the recorded
 * subspace. Stateless.
 */
public final class TrajectoryMeasures {

    private TrajectoryMeasures() {}

    /**
     * Tests the recorded coordinates for drift: the shift of each coordinate's mean between the first and the
     * second half of the trajectory, in units of its standard error from batch means.
     *
     * <p>The steps are cut into 2K consecutive batches of (nearly) equal length, K per half, the detector's blocks
     * ({@link #blockMeans}); b̄_{i,k} is coordinate i's mean over batch k. With m₁, m₂ the halves' means of the batch means and s_i² the pooled
     * variance of the batch means about their own half's mean (2K − 2 degrees of freedom),
     * {@code z_i = (m₂ − m₁) / (s_i √(2/K))}. Batches several correlation times long have nearly independent,
     * nearly Gaussian means, so under stationarity z_i follows Student's t with 2K − 2 degrees of freedom; the
     * batch means absorb the correlation time without estimating it. The family-wise p-value is Bonferroni's,
     * {@code min(1, m · min_i P(|T| ≥ |z_i|))}. The loop detector calls it with its blocks (K = B/2) only when the
     * blocks are at least {@link LoopStatistics#MIN_BLOCK_CORRELATION_TIMES} correlation times long.
     *
     * <p>Unlike the global stationarity gate (the radial drift of the whole weight vector), this sees drift
     * inside the recorded subspace, where the loop test looks.
     *
     * @param y steps × coordinates. Not modified.
     * @param halfBatches K ≥ 2, batches per half
     * @return {max_i |z_i|, the family-wise p-value}; {NaN, NaN} when a batch would have fewer than 2 steps or
     *     every coordinate is constant
     */
    public static double[] subspaceDrift(double[][] y, int halfBatches) {
        if (halfBatches < 2) {
            throw new IllegalArgumentException("halfBatches must be >= 2, got " + halfBatches);
        }
        int batches = 2 * halfBatches;
        if (y.length - 1 < 2 * batches) {
            return new double[] {Double.NaN, Double.NaN};
        }
        return halfToHalfShift(blockMeans(y, batches));
    }

    /**
     * Tests the fluctuations about a moving centre for drift: the shift between the window's halves of each
     * coordinate's variance about its own block's mean ({@link #blockMeans}), in units of its standard error from
     * the B blocks' variances, by the same t statistic and Bonferroni correction as {@link #subspaceDrift}. A centre
     * that moves slower than a block leaves these variances unchanged; noise that grows or shrinks, or a landscape
     * that stiffens, changes them. The blocks must be several correlation times long, as for the sign-flip test.
     *
     * @param y steps × coordinates. Not modified.
     * @param blocks B ≥ 4, the blocks of {@link #blockAreas} (with an odd B the last is left out of the test)
     * @return {max_i |z_i|, the family-wise p-value}; {NaN, NaN} when a block would have fewer than 2 steps or
     *     every coordinate is constant
     */
    public static double[] fluctuationDrift(double[][] y, int blocks) {
        if (blocks < 4) {
            throw new IllegalArgumentException("blocks must be >= 4, got " + blocks);
        }
        int usable = y.length - 1;
        if (usable < 2 * blocks) {
            return new double[] {Double.NaN, Double.NaN};
        }
        int m = y[0].length;
        double[][] centre = blockMeans(y, blocks);
        double[][] variance = new double[blocks][m];
        int[] count = new int[blocks];
        for (int t = 0; t < usable; t++) {
            int b = block(t, usable, blocks);
            count[b]++;
            for (int i = 0; i < m; i++) {
                double d = y[t][i] - centre[b][i];
                variance[b][i] += d * d;
            }
        }
        for (int b = 0; b < blocks; b++) {
            for (int i = 0; i < m; i++) {
                variance[b][i] /= count[b] - 1;
            }
        }
        return halfToHalfShift(variance);
    }

    /**
     * The half-to-half t test behind {@link #subspaceDrift} and {@link #fluctuationDrift}: 2K batch values per
     * coordinate, K per half; z_i = (m₂ − m₁)/(s_i √(2/K)) with s_i² the pooled variance about each half's mean
     * (2K − 2 degrees of freedom), and the Bonferroni p-value over the coordinates. With an odd number of batches
     * the last is left out.
     */
    private static double[] halfToHalfShift(double[][] batchValue) {
        int batches = batchValue.length;
        int halfBatches = batches / 2;
        int m = batchValue[0].length;
        int dof = batches - 2;
        double maxZ = Double.NaN;
        double minP = Double.NaN;
        for (int i = 0; i < m; i++) {
            double first = 0;
            double second = 0;
            for (int b = 0; b < halfBatches; b++) {
                first += batchValue[b][i] / halfBatches;
                second += batchValue[b + halfBatches][i] / halfBatches;
            }
            double ss = 0;
            for (int b = 0; b < halfBatches; b++) {
                double d1 = batchValue[b][i] - first;
                double d2 = batchValue[b + halfBatches][i] - second;
                ss += d1 * d1 + d2 * d2;
            }
            double se = Math.sqrt(ss / dof * 2.0 / halfBatches);
            if (!(se > 0)) {
                continue; // a constant coordinate carries no evidence either way
            }
            double z = Math.abs(second - first) / se;
            double p = studentTwoSided(z, dof);
            if (!(z <= maxZ)) {
                maxZ = z;
            }
            if (!(p >= minP)) {
                minP = p;
            }
        }
        return new double[] {maxZ, Double.isNaN(minP) ? Double.NaN : Math.min(1, m * minP)};
    }

    /** P(|T| ≥ t) for Student's t with ν degrees of freedom: {@link StudentT#twoSided}. */
    static double studentTwoSided(double t, int nu) {
        return StudentT.twoSided(t, nu);
    }

    /**
     * The correlation time of the fluctuations, from the variogram {@code γ(k) = Σ_i Σ_t (y_{t+k,i} − y_{t,i})² /
     * (2(n − k))}, which no centre enters: the first lag k at which {@code γ(k) ≥ (1 − 1/e)·γ(L)}, L =
     * {@code blockLength}, searched on lags 1, 2, 3, … (geometric steps of about 10% above 16) up to L, with linear
     * interpolation between the bracketing lags. For a stationary process γ(k) = C(0)(1 − ρ(k)), so this is the lag
     * at which the autocorrelation falls to 1/e, normalised by γ(L) instead of the variance about a global mean: a
     * centre that drifts slowly does not lengthen it, and within 1% of the autocorrelation's 1/e lag whenever L is at
     * least 5 of them (ρ(L) ≤ e⁻⁵). When it is not, the estimate is at most L and at least about L/1.6 for a process
     * slower than a block, so blocks shorter than 5 correlation times are still recognised.
     *
     * @return the correlation time in steps, at most {@code blockLength}; infinite for a constant trajectory
     */
    public static double correlationTime(double[][] y, int blockLength) {
        int n = y.length;
        int maxLag = Math.min(blockLength, n - 1);
        if (maxLag < 1) {
            return Double.POSITIVE_INFINITY;
        }
        double target = (1 - Math.exp(-1)) * variogram(y, maxLag);
        if (!(target > 0)) {
            return Double.POSITIVE_INFINITY;
        }
        int prevLag = 0;
        double prev = 0;
        for (int lag = 1; ; lag = Math.min(maxLag, lag < 16 ? lag + 1 : (int) Math.ceil(lag * 1.1))) {
            double g = variogram(y, lag);
            if (g >= target) {
                return prevLag + (lag - prevLag) * (target - prev) / (g - prev);
            }
            if (lag == maxLag) {
                return maxLag; // rounding only: γ(L) ≥ its own fraction
            }
            prevLag = lag;
            prev = g;
        }
    }

    /** γ(k) = Σ_i Σ_t (y_{t+k,i} − y_{t,i})² / (2(n − k)): half the mean-squared displacement. */
    private static double variogram(double[][] y, int lag) {
        return meanSquaredDisplacement(y, lag) / 2;
    }

    /** Largest lag of the time-averaged MSD, as a fraction of the trajectory's length T (T/10). */
    public static final double MSD_MAX_LAG_FRACTION = 0.1;

    /** Smallest lag of the time-averaged MSD, as a fraction of T (T/1000, at least 1 step). */
    public static final double MSD_MIN_LAG_FRACTION = 0.001;

    /** Log-spaced lags of the MSD fit (fewer when lags round to the same integer). */
    public static final int MSD_LAGS = 30;

    /**
     * The anomalous-diffusion exponent from the time-averaged mean-squared displacement: the least-squares slope
     * of log MSD(τ) against log τ, with {@code MSD(τ) = (1/(T − τ)) Σ_t |y_{t+τ} − y_t|²} (every origin t), on
     * {@value #MSD_LAGS} log-spaced integer lags τ from max(1, T/1000) to T/10, T = steps − 1. About 1 for
     * diffusion, 2 for ballistic motion (drift), near 0 for a stationary process over lags well past its
     * relaxation time, between 0 and 1 when the range straddles it.
     *
     * <p>Averaging over origins uses the whole window at every lag; the single-origin slope of
     * log|y_t − y_0|² (Kunin et al. 2021) rests on one path from one origin and scatters widely even for
     * Brownian motion. For Brownian motion the relative variance of MSD(τ) is about 4τ/(3T) (the ergodicity
     * breaking parameter), at most 0.13 at τ = T/10.
     *
     * <p>NaN below 30 steps or when fewer than 3 lags have a positive MSD. Cost O(steps · m · {@value #MSD_LAGS}).
     * Not modified: {@code y}.
     */
    public static double diffusionExponent(double[][] y) {
        int n = y.length;
        if (n < 30) {
            return Double.NaN;
        }
        int span = n - 1;
        double lo = Math.max(1, MSD_MIN_LAG_FRACTION * span);
        double hi = Math.max(lo, MSD_MAX_LAG_FRACTION * span);
        double ratio = Math.pow(hi / lo, 1.0 / (MSD_LAGS - 1));
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        int count = 0;
        int last = 0;
        for (int k = 0; k < MSD_LAGS; k++) {
            int lag = (int) Math.round(lo * Math.pow(ratio, k));
            if (lag <= last || lag > span) {
                continue;
            }
            last = lag;
            double msd = meanSquaredDisplacement(y, lag);
            if (!(msd > 0)) {
                continue;
            }
            double lx = Math.log(lag);
            double ly = Math.log(msd);
            sx += lx;
            sy += ly;
            sxx += lx * lx;
            sxy += lx * ly;
            count++;
        }
        if (count < 3) {
            return Double.NaN;
        }
        double denom = count * sxx - sx * sx;
        return denom == 0 ? Double.NaN : (count * sxy - sx * sy) / denom;
    }

    /** MSD(τ) = (1/(n − τ)) Σ_{t < n − τ} |y_{t+τ} − y_t|². Not modified: {@code y}. */
    static double meanSquaredDisplacement(double[][] y, int lag) {
        int n = y.length;
        double s = 0;
        for (int t = 0; t + lag < n; t++) {
            double[] a = y[t];
            double[] b = y[t + lag];
            for (int i = 0; i < a.length; i++) {
                double d = b[i] - a[i];
                s += d * d;
            }
        }
        return s / (n - lag);
    }

    /**
     * The area each block of steps encloses about its own centre, per coordinate plane: {@code a_b[p] = Σ_{t in b}
     * (ỹ_{t,i} Δy_{t,j} − ỹ_{t,j} Δy_{t,i}) / 2} for the planes p = (i, j), i &lt; j, in row-major order, with step
     * t (of the n − 1) in block {@code ⌊t·blocks/(n − 1)⌋} and ỹ_t = y_t − c_b its offset from the block's mean
     * c_b ({@link #blockMeans}). Summed and divided by the time, they give the area-rate tensor (theory.md §5);
     * block by block, its sign-flip test and batch-means errors.
     *
     * <p>Centring each block on its own mean makes the areas those of the fluctuations: a centre that moves
     * slower than a block (the slow drift of a real network's valley floor) adds no expected area when it moves
     * in a straight line, and only its turning within one block when it curves, a share of about θ²/6 of the
     * area its path sweeps for a turn of θ radians per block. For a stationary process the change from a global
     * centre is a boundary term of relative order τ/L for blocks of L steps and correlation time τ.
     *
     * @return blocks × m(m − 1)/2
     */
    public static double[][] blockAreas(double[][] y, int blocks) {
        return blockAreasOf(y, blocks);
    }

    /** The steps in each of {@link #blockAreas}'s blocks, for n rows. */
    public static int[] blockCounts(int rows, int blocks) {
        int usable = rows - 1;
        int[] count = new int[blocks];
        for (int t = 0; t < usable; t++) {
            count[block(t, usable, blocks)]++;
        }
        return count;
    }

    /**
     * The batch-means standard error of each measured area rate: the rates of the blocks, {@code blockArea[b][p] /
     * (count[b]·dt)}, have standard deviation s_p over the B blocks, and the whole window's rate has standard error
     * {@code s_p/√B} (the blocks are long against the correlation time, so their rates are nearly independent).
     *
     * @return one per pair, in {@link #blockAreas}'s order
     */
    public static double[] blockRateStderr(double[][] blockArea, int[] count, double dt) {
        int blocks = blockArea.length;
        int pairs = blockArea[0].length;
        double[] se = new double[pairs];
        for (int p = 0; p < pairs; p++) {
            double mean = 0;
            double sq = 0;
            for (int b = 0; b < blocks; b++) {
                double rate = blockArea[b][p] / (count[b] * dt);
                mean += rate / blocks;
                sq += rate * rate;
            }
            double var = (sq / blocks - mean * mean) * blocks / (blocks - 1);
            se[p] = Math.sqrt(Math.max(0, var) / blocks);
        }
        return se;
    }

    private static double[][] blockAreasOf(double[][] y, int blocks) {
        int m = y[0].length;
        int usable = y.length - 1;
        double[][] centre = blockMeans(y, blocks);
        double[][] blockArea = new double[blocks][m * (m - 1) / 2];
        for (int t = 0; t < usable; t++) {
            int b = block(t, usable, blocks);
            double[] a = y[t];
            double[] c = y[t + 1];
            double[] mean = centre[b];
            int p = 0;
            for (int i = 0; i < m; i++) {
                double yi = a[i] - mean[i];
                double di = c[i] - a[i];
                for (int j = i + 1; j < m; j++) {
                    blockArea[b][p++] += 0.5 * (yi * (c[j] - a[j]) - (a[j] - mean[j]) * di);
                }
            }
        }
        return blockArea;
    }

    /**
     * Each block's mean position: {@code c_b = mean of y_t over the steps t in block b} (the block of step t, of the
     * n − 1, is {@code ⌊t·blocks/(n − 1)⌋}, as in {@link #blockAreas}).
     *
     * @return blocks × m
     */
    public static double[][] blockMeans(double[][] y, int blocks) {
        int m = y[0].length;
        int usable = y.length - 1;
        if (usable < blocks) {
            throw new IllegalArgumentException(
                    "need at least one step per block: " + usable + " steps, " + blocks + " blocks");
        }
        double[][] centre = new double[blocks][m];
        int[] count = new int[blocks];
        for (int t = 0; t < usable; t++) {
            int b = block(t, usable, blocks);
            count[b]++;
            for (int i = 0; i < m; i++) {
                centre[b][i] += y[t][i];
            }
        }
        for (int b = 0; b < blocks; b++) {
            for (int i = 0; i < m; i++) {
                centre[b][i] /= count[b];
            }
        }
        return centre;
    }

    /** The block of step t of {@code usable}: {@code ⌊t·blocks/usable⌋}. */
    static int block(int t, int usable, int blocks) {
        return (int) ((long) t * blocks / usable);
    }
}

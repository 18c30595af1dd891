package org.sgdnoise.trajectory;

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
     * <p>The n steps are cut into 2K consecutive batches of (nearly) equal length, K per half; b̄_{i,k} is
     * coordinate i's mean over batch k. With m₁, m₂ the halves' means of the batch means and s_i² the pooled
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
        int n = y.length;
        int batches = 2 * halfBatches;
        if (n < 2 * batches) {
            return new double[] {Double.NaN, Double.NaN};
        }
        int m = y[0].length;
        double[][] batchMean = new double[batches][m];
        int[] count = new int[batches];
        for (int t = 0; t < n; t++) {
            int b = (int) ((long) t * batches / n);
            count[b]++;
            for (int i = 0; i < m; i++) {
                batchMean[b][i] += y[t][i];
            }
        }
        for (int b = 0; b < batches; b++) {
            for (int i = 0; i < m; i++) {
                batchMean[b][i] /= count[b];
            }
        }
        int dof = batches - 2;
        double maxZ = Double.NaN;
        double minP = Double.NaN;
        for (int i = 0; i < m; i++) {
            double first = 0;
            double second = 0;
            for (int b = 0; b < halfBatches; b++) {
                first += batchMean[b][i] / halfBatches;
                second += batchMean[b + halfBatches][i] / halfBatches;
            }
            double ss = 0;
            for (int b = 0; b < halfBatches; b++) {
                double d1 = batchMean[b][i] - first;
                double d2 = batchMean[b + halfBatches][i] - second;
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

    /**
     * P(|T| ≥ t) for Student's t with ν degrees of freedom, exact for integer ν ≥ 1 (Abramowitz &amp; Stegun
     * 26.7.3–4): with θ = atan(t/√ν), P(|T| &lt; t) = (2/π)(θ + sin θ Σ_k a_k cos^k θ) for odd ν and
     * sin θ Σ_k b_k cos^k θ for even ν. Cost O(ν).
     */
    static double studentTwoSided(double t, int nu) {
        if (nu < 1) {
            throw new IllegalArgumentException("nu must be >= 1, got " + nu);
        }
        double theta = Math.atan(Math.abs(t) / Math.sqrt(nu));
        double sin = Math.sin(theta);
        double cos = Math.cos(theta);
        double c2 = cos * cos;
        double inside;
        if (nu % 2 == 1) {
            double sum = 0;
            if (nu > 1) {
                double term = cos;
                sum = term;
                for (int k = 3; k <= nu - 2; k += 2) {
                    term *= c2 * (k - 1) / k;
                    sum += term;
                }
            }
            inside = 2 / Math.PI * (theta + sin * sum);
        } else {
            double term = 1;
            double sum = 1;
            for (int k = 2; k <= nu - 2; k += 2) {
                term *= c2 * (k - 1) / k;
                sum += term;
            }
            inside = sin * sum;
        }
        return Math.min(1, Math.max(0, 1 - inside));
    }

    /**
     * The first lag at which Σ_i Σ_t y_{t+k,i} y_{t,i} / Σ_i Σ_t y_{t,i}² (centred y) falls below 1/e,
     * searched on lags 1, 2, 3, … (geometric steps of about 10% above 16) up to n/4, with linear
     * interpolation between the bracketing lags; infinite if it never does.
     */
    public static double correlationTime(double[][] y, double[] mean) {
        int n = y.length;
        int m = mean.length;
        double var = 0;
        for (double[] row : y) {
            for (int i = 0; i < m; i++) {
                double c = row[i] - mean[i];
                var += c * c;
            }
        }
        if (!(var > 0)) {
            return Double.POSITIVE_INFINITY;
        }
        double target = Math.exp(-1);
        int prevLag = 0;
        double prevRho = 1;
        for (int lag = 1; lag <= n / 4; lag = lag < 16 ? lag + 1 : (int) Math.ceil(lag * 1.1)) {
            double s = 0;
            for (int t = 0; t + lag < n; t++) {
                for (int i = 0; i < m; i++) {
                    s += (y[t + lag][i] - mean[i]) * (y[t][i] - mean[i]);
                }
            }
            double rho = s / var * n / (n - lag);
            if (rho < target) {
                return prevLag + (lag - prevLag) * (prevRho - target) / (prevRho - rho);
            }
            prevLag = lag;
            prevRho = rho;
        }
        return Double.POSITIVE_INFINITY;
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
     * The area each block of steps encloses, per coordinate plane: {@code a_b[p] = Σ_{t in b} (ỹ_{t,i} Δy_{t,j} −
     * ỹ_{t,j} Δy_{t,i}) / 2} for the planes p = (i, j), i &lt; j, in row-major order, with ỹ = y − mean and step t
     * (of the n − 1) in block {@code ⌊t·blocks/(n − 1)⌋}. Summed and divided by the time, they give the
     * area-rate tensor (theory.md §5); block by block, its sign-flip test and batch-means errors.
     *
     * @return blocks × m(m − 1)/2
     */
    public static double[][] blockAreas(double[][] y, double[] mean, int blocks) {
        int m = mean.length;
        int usable = y.length - 1;
        double[][] blockArea = new double[blocks][m * (m - 1) / 2];
        for (int t = 0; t < usable; t++) {
            int b = (int) ((long) t * blocks / usable);
            double[] a = y[t];
            double[] c = y[t + 1];
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
}

package org.sgdnoise.trajectory;

import org.sgdnoise.curvature.CirculationPrediction;
import org.sgdnoise.curvature.PredictionUncertainty;
import org.sgdnoise.internal.linalg.CirculationRates;

/**
 * A recorded trajectory against the linearised prediction in the same basis: the measured area-rate tensor
 * {@code A_ij = (1/(2(T − 1))) Σ_t (y_{t,i} Δy_{t,j} − y_{t,j} Δy_{t,i})} (theory.md §5, y centred on each block's
 * mean as the loop detector takes it, {@link TrajectoryMeasures#blockAreas}; per step) with a batch-means standard error per entry, the regression slope of measured on predicted rates over
 * the r(r − 1)/2 coordinate planes (weighted least squares through the origin with the effective variance
 * {@code se_measured² + slope²·se_predicted²} of each plane, iterated, when the prediction has errors of its own
 * ({@link PredictionUncertainty}); its standard error inflated by √(χ²/dof) when the planes scatter more than
 * their errors say), and the measured stationary
 * covariance against the predicted one (a fluctuation–dissipation check). Cost O(T·r²).
 *
 * @param steps T, the rows compared
 * @param blocks the batch-means blocks
 * @param measured the measured A, r×r
 * @param stderr its batch-means standard errors, r×r
 * @param predicted the predicted A, r×r
 * @param predictedStderr the prediction's own standard errors, r×r (zeros when not given)
 * @param slope measured on predicted, through the origin
 * @param slopeStderr its standard error
 * @param chi2PerDof the weighted residual χ² per degree of freedom of that fit
 * @param measuredCovariance the measured covariance of the fluctuations: pooled over the blocks, about each
 *     block's mean (T − 1 − blocks degrees of freedom), so a slowly moving centre does not inflate it; low by a
 *     relative O(τ/L) for correlation time τ and blocks of L steps
 * @param predictedCovariance the predicted Σ, r×r
 * @param covarianceRelativeError {@code ‖Σ_measured − Σ_predicted‖_F / ‖Σ_predicted‖_F}
 * @param traceRatio {@code tr Σ_measured / tr Σ_predicted}
 * @param measuredRates the measured A's circulation rates ω₁ ≥ … ≥ ω_{⌊r/2⌋}, one per invariant plane
 *     ({@link CirculationRates#spectrum}: independent of the basis, so well determined where single planes are not)
 * @param measuredRatesStderr their jackknife standard errors over the blocks
 * @param predictedRates the predicted A's rates, the same way
 */
public record AreaRateComparison(
        int steps,
        int blocks,
        double[][] measured,
        double[][] stderr,
        double[][] predicted,
        double[][] predictedStderr,
        double slope,
        double slopeStderr,
        double chi2PerDof,
        double[][] measuredCovariance,
        double[][] predictedCovariance,
        double covarianceRelativeError,
        double traceRatio,
        double[] measuredRates,
        double[] measuredRatesStderr,
        double[] predictedRates) {

    /**
     * Compares {@code y} (T×r, one row per step) with {@code p}.
     *
     * @throws IllegalArgumentException when the dimensions differ, or T is below 2·blocks, or blocks &lt; 2
     */
    public static AreaRateComparison of(double[][] y, CirculationPrediction p, int blocks) {
        return of(y, p, blocks, new double[p.dimension()][p.dimension()]);
    }

    /** As {@link #of(double[][], CirculationPrediction, int)}, with the prediction's standard errors. */
    public static AreaRateComparison of(double[][] y, CirculationPrediction p, int blocks, double[][] predictedStderr) {
        int t = y.length;
        int r = p.dimension();
        if (blocks < 2 || t < 2 * blocks || y[0].length != r) {
            throw new IllegalArgumentException("need blocks >= 2, at least 2 steps per block and rows of " + r
                    + ", got " + blocks + " blocks, " + t + " rows of " + (t == 0 ? 0 : y[0].length));
        }
        // The fluctuations about each block's mean, as the detector sees them: pooled within-block covariance.
        double[][] centre = TrajectoryMeasures.blockMeans(y, blocks);
        double[][] cov = new double[r][r];
        for (int s = 0; s + 1 < t; s++) {
            double[] row = y[s];
            double[] mean = centre[TrajectoryMeasures.block(s, t - 1, blocks)];
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < r; j++) {
                    cov[i][j] += (row[i] - mean[i]) * (row[j] - mean[j]) / (t - 1 - blocks);
                }
            }
        }
        // The detector's block areas (the same blocks as its sign-flip test), as batch means of the rate.
        double[][] blockArea = TrajectoryMeasures.blockAreas(y, blocks);
        int[] count = TrajectoryMeasures.blockCounts(t, blocks);
        double[] blockSe = TrajectoryMeasures.blockRateStderr(blockArea, count, 1);
        double[][] measured = new double[r][r];
        double[][] se = new double[r][r];
        int plane = 0;
        for (int i = 0; i < r; i++) {
            for (int j = i + 1; j < r; j++, plane++) {
                double sum = 0;
                for (int b = 0; b < blocks; b++) {
                    sum += blockArea[b][plane];
                }
                measured[i][j] = sum / (t - 1);
                measured[j][i] = -measured[i][j];
                se[i][j] = blockSe[plane];
                se[j][i] = se[i][j];
            }
        }
        double[][] pred = p.areaRate();
        double[] mUpper = upper(measured);
        double[] seUpper = upper(se);
        double[] pUpper = upper(pred);
        double[] pseUpper = upper(predictedStderr);
        Fit fit = Fit.throughOrigin(mUpper, seUpper, pUpper, pseUpper);
        double slope = fit.slope();
        double slopeSe = fit.stderr();
        double chi2PerDof = fit.chi2PerDof();
        double[][] sigma = p.covariance();
        double diff = 0;
        double norm = 0;
        double trM = 0;
        double trP = 0;
        for (int i = 0; i < r; i++) {
            trM += cov[i][i];
            trP += sigma[i][i];
            for (int j = 0; j < r; j++) {
                diff += (cov[i][j] - sigma[i][j]) * (cov[i][j] - sigma[i][j]);
                norm += sigma[i][j] * sigma[i][j];
            }
        }
        return new AreaRateComparison(
                t,
                blocks,
                measured,
                se,
                pred,
                predictedStderr,
                slope,
                slopeSe,
                chi2PerDof,
                cov,
                sigma,
                Math.sqrt(diff / norm),
                trM / trP,
                CirculationRates.spectrum(measured),
                jackknifeRates(blockArea, count, r),
                CirculationRates.spectrum(pred));
    }

    /** The upper triangle of a square matrix, row-major. */
    private static double[] upper(double[][] a) {
        int r = a.length;
        double[] u = new double[r * (r - 1) / 2];
        int p = 0;
        for (int i = 0; i < r; i++) {
            for (int j = i + 1; j < r; j++) {
                u[p++] = a[i][j];
            }
        }
        return u;
    }

    /**
     * A weighted least-squares slope of measured on predicted values through the origin, with the effective variance
     * {@code se_measured² + slope²·se_predicted²} of each pair (iterated 20 times from slope 1), its standard error
     * inflated by √(χ²/dof) when the pairs scatter more than their errors say. Pairs with zero variance are left out.
     *
     * @param slope the slope
     * @param stderr its standard error
     * @param chi2PerDof the weighted residual χ² per degree of freedom (NaN with fewer than 2 pairs)
     */
    public record Fit(double slope, double stderr, double chi2PerDof) {

        /** Fits {@code measured ≈ slope · predicted}. */
        public static Fit throughOrigin(double[] measured, double[] se, double[] predicted, double[] predictedSe) {
            double slope = 1;
            double sxx = 0;
            for (int iteration = 0; iteration < 20; iteration++) {
                double sxy = 0;
                sxx = 0;
                for (int q = 0; q < measured.length; q++) {
                    double var = se[q] * se[q] + slope * slope * predictedSe[q] * predictedSe[q];
                    if (var > 0) {
                        sxy += measured[q] * predicted[q] / var;
                        sxx += predicted[q] * predicted[q] / var;
                    }
                }
                slope = sxx > 0 ? sxy / sxx : Double.NaN;
                if (!Double.isFinite(slope)) {
                    break;
                }
            }
            double chi2 = 0;
            int pairs = 0;
            for (int q = 0; q < measured.length; q++) {
                double var = se[q] * se[q] + slope * slope * predictedSe[q] * predictedSe[q];
                if (var > 0) {
                    double res = measured[q] - slope * predicted[q];
                    chi2 += res * res / var;
                    pairs++;
                }
            }
            double chi2PerDof = pairs > 1 ? chi2 / (pairs - 1) : Double.NaN;
            double stderr = sxx > 0 ? Math.sqrt(Math.max(1, chi2PerDof) / sxx) : Double.NaN;
            return new Fit(slope, stderr, chi2PerDof);
        }
    }

    /**
     * The jackknife standard errors of the measured rate spectrum: each block left out in turn,
     * {@code se_k = √((B − 1)/B · Σ_b (ω_k(−b) − ω̄_k)²)}.
     */
    private static double[] jackknifeRates(double[][] blockArea, int[] count, int r) {
        int blocks = blockArea.length;
        int pairs = blockArea[0].length;
        double[] total = new double[pairs];
        long steps = 0;
        for (int b = 0; b < blocks; b++) {
            steps += count[b];
            for (int p = 0; p < pairs; p++) {
                total[p] += blockArea[b][p];
            }
        }
        double[][] leaveOut = new double[blocks][];
        for (int b = 0; b < blocks; b++) {
            double[][] a = new double[r][r];
            int p = 0;
            for (int i = 0; i < r; i++) {
                for (int j = i + 1; j < r; j++, p++) {
                    a[i][j] = (total[p] - blockArea[b][p]) / (steps - count[b]);
                    a[j][i] = -a[i][j];
                }
            }
            leaveOut[b] = CirculationRates.spectrum(a);
        }
        double[] se = new double[r / 2];
        for (int k = 0; k < se.length; k++) {
            double mean = 0;
            for (double[] w : leaveOut) {
                mean += w[k] / blocks;
            }
            double ss = 0;
            for (double[] w : leaveOut) {
                ss += (w[k] - mean) * (w[k] - mean);
            }
            se[k] = Math.sqrt((blocks - 1.0) / blocks * ss);
        }
        return se;
    }
}

package org.sgdnoise.curvature;

import java.util.SplittableRandom;
import java.util.function.Function;
import org.sgdnoise.internal.linalg.CirculationRates;

/**
 * How much the predicted area rates move with the sampling of D: a bootstrap over the k examples behind D_r
 * (their centred projections, {@link NoiseAlignment.Result#projections()}), each resample's D_r put through the
 * same linearised model. The off-diagonal entries of D_r that drive the circulation are small, so from a few
 * hundred examples they are partly sampling noise, and so is the prediction. Cost: {@code resamples} predictions
 * (O(r⁴) each) and O(resamples·k·r²) for the covariances.
 *
 * @param stderr the bootstrap standard deviation of each predicted A_ij, r×r
 * @param maxRateStderr that of the predicted ω
 * @param rateSpectrumStderr that of each predicted rate ω_k of the spectrum ({@link CirculationRates#spectrum})
 * @param resamples the bootstrap resamples
 * @param seed their seed
 */
public record PredictionUncertainty(
        double[][] stderr, double maxRateStderr, double[] rateSpectrumStderr, int resamples, long seed) {

    /**
     * Resamples the rows of {@code projections} (k×r, centred) with replacement; {@code model} turns a
     * resampled D_r into a prediction (for example {@code d -> LinearisedSgd.of(h, d, η, b).predict()}).
     *
     * @throws IllegalArgumentException for fewer than 2 resamples or 2 rows
     */
    public static PredictionUncertainty of(
            double[][] projections, Function<double[][], CirculationPrediction> model, int resamples, long seed) {
        int k = projections.length;
        if (resamples < 2 || k < 2) {
            throw new IllegalArgumentException("need at least 2 resamples and 2 rows, got " + resamples + ", " + k);
        }
        int r = projections[0].length;
        SplittableRandom rng = new SplittableRandom(seed);
        double[][] sum = new double[r][r];
        double[][] sq = new double[r][r];
        double rateSum = 0;
        double rateSq = 0;
        double[] spectrumSum = new double[r / 2];
        double[] spectrumSq = new double[r / 2];
        for (int b = 0; b < resamples; b++) {
            double[] mean = new double[r];
            int[] pick = new int[k];
            for (int e = 0; e < k; e++) {
                pick[e] = rng.nextInt(k);
                for (int i = 0; i < r; i++) {
                    mean[i] += projections[pick[e]][i] / k;
                }
            }
            double[][] d = new double[r][r];
            for (int e : pick) {
                for (int i = 0; i < r; i++) {
                    for (int j = 0; j < r; j++) {
                        d[i][j] += (projections[e][i] - mean[i]) * (projections[e][j] - mean[j]) / k;
                    }
                }
            }
            CirculationPrediction p = model.apply(d);
            double[][] a = p.areaRate();
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < r; j++) {
                    sum[i][j] += a[i][j];
                    sq[i][j] += a[i][j] * a[i][j];
                }
            }
            rateSum += p.maxRate();
            rateSq += p.maxRate() * p.maxRate();
            double[] spectrum = CirculationRates.spectrum(a);
            for (int q = 0; q < spectrum.length; q++) {
                spectrumSum[q] += spectrum[q];
                spectrumSq[q] += spectrum[q] * spectrum[q];
            }
        }
        double[][] se = new double[r][r];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < r; j++) {
                double m = sum[i][j] / resamples;
                se[i][j] = Math.sqrt(Math.max(0, (sq[i][j] / resamples - m * m) * resamples / (resamples - 1)));
            }
        }
        double rateSe = sd(rateSum, rateSq, resamples);
        double[] spectrumSe = new double[r / 2];
        for (int q = 0; q < spectrumSe.length; q++) {
            spectrumSe[q] = sd(spectrumSum[q], spectrumSq[q], resamples);
        }
        return new PredictionUncertainty(se, rateSe, spectrumSe, resamples, seed);
    }

    /** The sample standard deviation from a sum and a sum of squares of n values. */
    private static double sd(double sum, double sq, int n) {
        double m = sum / n;
        return Math.sqrt(Math.max(0, (sq / n - m * m) * n / (n - 1)));
    }
}

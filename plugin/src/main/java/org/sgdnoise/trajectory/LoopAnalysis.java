package org.sgdnoise.trajectory;

/**
 * The result of {@link LoopStatistics#analyze}.
 *
 * @param steps number of time steps used
 * @param dimensions number of coordinates m
 * @param areaRate the m×m antisymmetric area-enclosing-rate tensor
 *     {@code A_ij = (1/(2T)) Σ_t (y_{t,i} Δy_{t,j} − y_{t,j} Δy_{t,i})}, T = (steps − 1)·dt, y centred on each
 *     block's mean ({@link TrajectoryMeasures#blockAreas})
 * @param areaRateStderr the batch-means standard error of each entry of {@code areaRate}, from the rates of the
 *     test's blocks ({@link TrajectoryMeasures#blockRateStderr}); zeros when not computed
 * @param maxRate ω ≥ 0, the area rate in the most circulating plane (the leading pair ±iω of A)
 * @param maxRateStderr the jackknife standard error of ω over the blocks (each left out in turn); NaN when not
 *     computed. ω is folded at 0 (a magnitude), so under no circulation it sits about one standard error above 0
 * @param plane two orthonormal m-vectors (u, v) spanning that plane, oriented so that uᵀAv = +ω
 * @param period 2π·dt/|φ| from the phase φ of the complex eigenvalue of the lag-1 linear fit in the plane;
 *     NaN when that fit has real eigenvalues (no oscillation)
 * @param pValue the block sign-flip test's p-value for ω (surrogates flip the time direction of whole
 *     blocks, which leaves a reversible process's distribution unchanged and reverses circulation)
 * @param surrogates the number of surrogates drawn
 * @param blocks the number of blocks of the test
 * @param lagAntisymmetry for each lag τ in {@link #lags}, the largest |entry| of (C(τ) − C(τ)ᵀ)/2
 * @param lags the lags, in steps
 * @param diffusionExponent slope of log MSD(τ) against log τ for the time-averaged mean-squared displacement
 *     over lags T/1000 … T/10 ({@link TrajectoryMeasures#diffusionExponent}): 1 diffusive, 2 ballistic, near 0
 *     stationary (NaN if not computable)
 * @param correlationTime the lag, in steps, at which the coordinates' autocorrelation falls to 1/e, from their
 *     variogram normalised at one block's length ({@link TrajectoryMeasures#correlationTime}: no centre enters, so
 *     a drifting one does not lengthen it; at most a block's length); the sign-flip test needs blocks several
 *     times longer
 * @param subspaceDrift the largest |z| over the coordinates of the shift of their mean between the window's first
 *     and second halves, in standard errors from batch means ({@link TrajectoryMeasures#subspaceDrift}); NaN when
 *     not computable
 * @param subspaceStationary false when that shift is significant at {@link LoopStatistics#DRIFT_SIGNIFICANCE}
 *     after a Bonferroni correction over the coordinates (the centre drifts inside the recorded subspace); true
 *     when it is not, or could not be tested. Reported; the verdict does not rest on it
 * @param fluctuationDrift the largest |z| over the coordinates of the shift between the halves of their variance
 *     about each block's mean ({@link TrajectoryMeasures#fluctuationDrift}); NaN when not computable
 * @param fluctuationsStationary false when that shift is significant at the same level: the verdict is then
 *     NOT_STATIONARY
 * @param verdict LOOP, NO_LOOP, NOT_STATIONARY or INSUFFICIENT_DATA
 */
public record LoopAnalysis(
        int steps,
        int dimensions,
        double[][] areaRate,
        double[][] areaRateStderr,
        double maxRate,
        double maxRateStderr,
        double[][] plane,
        double period,
        double pValue,
        int surrogates,
        int blocks,
        double[] lagAntisymmetry,
        int[] lags,
        double diffusionExponent,
        double correlationTime,
        double subspaceDrift,
        boolean subspaceStationary,
        double fluctuationDrift,
        boolean fluctuationsStationary,
        LoopVerdict verdict) {

    /** The same analysis with another verdict (for example one gated by a stationarity check). */
    public LoopAnalysis withVerdict(LoopVerdict v) {
        return new LoopAnalysis(
                steps,
                dimensions,
                areaRate,
                areaRateStderr,
                maxRate,
                maxRateStderr,
                plane,
                period,
                pValue,
                surrogates,
                blocks,
                lagAntisymmetry,
                lags,
                diffusionExponent,
                correlationTime,
                subspaceDrift,
                subspaceStationary,
                fluctuationDrift,
                fluctuationsStationary,
                v);
    }
}

package org.sgdnoise.trajectory;

import java.util.Locale;
import org.sgdnoise.output.ProbeRecord;

/**
 * The schema of the TrajectoryListener's analysis records: every JSON Lines / CSV key, in the order written,
 * and the one mapping from an {@link TrajectoryRecorder.Analysis} to a {@link ProbeRecord}.
 */
public final class TrajectoryFields {

    /** Record key {@code iteration}. */
    public static final String ITERATION = "iteration";
    /** Record key {@code epoch}. */
    public static final String EPOCH = "epoch";
    /** Record key {@code worker}. */
    public static final String WORKER = "worker";
    /** Record key {@code loss}. */
    public static final String LOSS = "loss";
    /** Record key {@code verdict}: LOOP, NO_LOOP, NOT_STATIONARY or INSUFFICIENT_DATA. */
    public static final String VERDICT = "verdict";
    /** Record key {@code p_value}. */
    public static final String P_VALUE = "p_value";
    /** Record key {@code max_rate}. */
    public static final String MAX_RATE = "max_rate";
    /** Record key {@code max_rate_stderr}: the jackknife standard error of {@code max_rate} over the test's blocks. */
    public static final String MAX_RATE_STDERR = "max_rate_stderr";
    /** Record key {@code period}. */
    public static final String PERIOD = "period";
    /** Record key {@code plane_u}. */
    public static final String PLANE_U = "plane_u";
    /** Record key {@code plane_v}. */
    public static final String PLANE_V = "plane_v";
    /** Record key {@code predicted_max_rate}: the prediction's ω per step (only with a prediction). */
    public static final String PREDICTED_MAX_RATE = "predicted_max_rate";
    /** Record key {@code predicted_rate_in_plane}: uᵀA_pred v in the measured plane, per step. */
    public static final String PREDICTED_RATE_IN_PLANE = "predicted_rate_in_plane";
    /** Record key {@code predicted_sd_in_plane}: the predicted sd of the measured rate there after the window. */
    public static final String PREDICTED_SD_IN_PLANE = "predicted_sd_in_plane";
    /** Record key {@code predicted_steps_for_snr4}: iterations the prediction needs for signal-to-noise 4. */
    public static final String PREDICTED_STEPS_FOR_SNR4 = "predicted_steps_for_snr4";
    /** Record key {@code more_steps_for_snr4}: those beyond the window's span when the verdict is not LOOP. */
    public static final String MORE_STEPS_FOR_SNR4 = "more_steps_for_snr4";
    /** Record key {@code diffusion_exponent}. */
    public static final String DIFFUSION_EXPONENT = "diffusion_exponent";
    /** Record key {@code correlation_time}. */
    public static final String CORRELATION_TIME = "correlation_time";
    /**
     * Record key {@code subspace_drift}: the largest |z| over the recorded coordinates of the shift of their mean
     * between the window's halves, in batch-means standard errors.
     */
    public static final String SUBSPACE_DRIFT = "subspace_drift";
    /**
     * Record key {@code subspace_stationary}: false when that shift is significant: the centre drifts. Reported;
     * the loop test takes areas about each block's mean, so the verdict does not rest on it.
     */
    public static final String SUBSPACE_STATIONARY = "subspace_stationary";
    /**
     * Record key {@code fluctuation_drift}: the largest |z| over the recorded coordinates of the shift between the
     * window's halves of their variance about each block's mean.
     */
    public static final String FLUCTUATION_DRIFT = "fluctuation_drift";
    /** Record key {@code fluctuations_stationary}: false when that shift is significant (the verdict NOT_STATIONARY). */
    public static final String FLUCTUATIONS_STATIONARY = "fluctuations_stationary";
    /** Record key {@code stationarity_ratio}. */
    public static final String STATIONARITY_RATIO = "stationarity_ratio";
    /** Record key {@code stationarity_gate_applied}. */
    public static final String STATIONARITY_GATE_APPLIED = "stationarity_gate_applied";
    /** Record key {@code window_steps}. */
    public static final String WINDOW_STEPS = "window_steps";
    /** Record key {@code segment}. */
    public static final String SEGMENT = "segment";
    /** Record key {@code basis}. */
    public static final String BASIS = "basis";
    /** Record key {@code dimensions}. */
    public static final String DIMENSIONS = "dimensions";
    /** Record key {@code every}: iterations between recorded steps. */
    public static final String EVERY = "every";
    /** Record key {@code significance}. */
    public static final String SIGNIFICANCE = "significance";
    /** Record key {@code distance}. */
    public static final String DISTANCE = "distance";
    /** Record key {@code failures}. */
    public static final String FAILURES = "failures";
    /** Record key {@code basis_seed}: the seed of the random basis. */
    public static final String BASIS_SEED = "basis_seed";
    /** Record key {@code detector_seed}: the seed of the detector's surrogates. */
    public static final String DETECTOR_SEED = "detector_seed";
    /** Record key {@code overhead_share}. */
    public static final String OVERHEAD_SHARE = "overhead_share";
    /** Record key {@code overhead_budget}. */
    public static final String OVERHEAD_BUDGET = "overhead_budget";
    /** Record key {@code final}: true for the analysis made when the listener closes. */
    public static final String FINAL = "final";

    private TrajectoryFields() {}

    /**
     * Where and how an analysis was made.
     *
     * @param iteration the iteration
     * @param epoch the epoch
     * @param worker the ParallelWrapper worker (0 outside it)
     * @param loss the minibatch loss
     * @param basis the basis kind
     * @param dimensions m
     * @param detector the loop detector
     * @param basisSeed seed of the random basis
     * @param failures the listener's failures so far
     * @param overheadShare the listener's own time over the training time and its own since its first call
     * @param overheadBudget the share allowed (0: no budget)
     * @param finalAnalysis true for the analysis made when the listener closes
     */
    public record Context(
            int iteration,
            int epoch,
            int worker,
            double loss,
            TrajectoryRecorder.Basis basis,
            int dimensions,
            LoopStatistics detector,
            long basisSeed,
            int failures,
            double overheadShare,
            double overheadBudget,
            boolean finalAnalysis) {}

    /** The record of one analysis. */
    public static ProbeRecord toRecord(TrajectoryRecorder.Analysis analysis, Context c) {
        LoopAnalysis a = analysis.loop();
        ProbeRecord.Builder b = ProbeRecord.builder()
                .put(ITERATION, c.iteration())
                .put(EPOCH, c.epoch())
                .put(WORKER, c.worker())
                .put(LOSS, c.loss())
                .put(VERDICT, a.verdict().name())
                .put(P_VALUE, a.pValue())
                .put(MAX_RATE, a.maxRate())
                .put(MAX_RATE_STDERR, a.maxRateStderr())
                .put(PERIOD, a.period())
                .put(PLANE_U, a.plane() == null ? null : a.plane()[0])
                .put(PLANE_V, a.plane() == null ? null : a.plane()[1]);
        LoopPrediction p = analysis.prediction();
        if (p != null) { // only with a prediction: one listener's records always have the same keys
            b.put(PREDICTED_MAX_RATE, p.maxRate())
                    .put(PREDICTED_RATE_IN_PLANE, p.rateInPlane())
                    .put(PREDICTED_SD_IN_PLANE, p.sdInPlane())
                    .put(PREDICTED_STEPS_FOR_SNR4, p.stepsForSnr4())
                    .put(MORE_STEPS_FOR_SNR4, p.moreStepsForSnr4());
        }
        return b.put(DIFFUSION_EXPONENT, a.diffusionExponent())
                .put(CORRELATION_TIME, a.correlationTime())
                .put(SUBSPACE_DRIFT, a.subspaceDrift())
                .put(SUBSPACE_STATIONARY, a.subspaceStationary())
                .put(FLUCTUATION_DRIFT, a.fluctuationDrift())
                .put(FLUCTUATIONS_STATIONARY, a.fluctuationsStationary())
                .put(STATIONARITY_RATIO, analysis.stationarityRatio())
                .put(STATIONARITY_GATE_APPLIED, analysis.gateApplied())
                .put(WINDOW_STEPS, a.steps())
                .put(SEGMENT, analysis.segment())
                .put(BASIS, c.basis().name().toLowerCase(Locale.ROOT))
                .put(DIMENSIONS, c.dimensions())
                .put(EVERY, analysis.every())
                .put(SIGNIFICANCE, c.detector().significance())
                .put(DISTANCE, analysis.distance())
                .put(FAILURES, c.failures())
                .put(BASIS_SEED, c.basisSeed())
                .put(DETECTOR_SEED, c.detector().seed())
                .put(OVERHEAD_SHARE, c.overheadShare())
                .put(OVERHEAD_BUDGET, c.overheadBudget())
                .put(FINAL, c.finalAnalysis())
                .build();
    }
}

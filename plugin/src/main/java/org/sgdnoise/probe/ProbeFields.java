package org.sgdnoise.probe;

import java.util.List;
import java.util.Locale;
import org.sgdnoise.diffusion.DiffusionStatistics.LayerNoise;
import org.sgdnoise.diffusion.DiffusionStats;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.diffusion.Temperature;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.sampling.SamplerNoise;

/**
 * The schema of the DiffusionListener's records: every JSON Lines / CSV key, in the order written, and the one
 * mapping from a typed {@link ProbeResult} to a {@link ProbeRecord}. Non-finite numbers are written as null. The
 * {@code sketch_*} keys are present only with a sketch, the {@code hessian_*} keys only with a curvature step
 * (null in the records of probes between curvature probes).
 */
public final class ProbeFields {

    /** Record key {@code iteration}. */
    public static final String ITERATION = "iteration";
    /** Record key {@code epoch}. */
    public static final String EPOCH = "epoch";
    /** Record key {@code worker}. */
    public static final String WORKER = "worker";
    /** Record key {@code loss}. */
    public static final String LOSS = "loss";
    /** Record key {@code num_params}. */
    public static final String NUM_PARAMS = "num_params";
    /** Record key {@code num_samples}. */
    public static final String NUM_SAMPLES = "num_samples";
    /** Record key {@code samples_requested}. */
    public static final String SAMPLES_REQUESTED = "samples_requested";
    /** Record key {@code samples_reduced_by_budget}. */
    public static final String SAMPLES_REDUCED_BY_BUDGET = "samples_reduced_by_budget";
    /** Record key {@code batch_size}. */
    public static final String BATCH_SIZE = "batch_size";
    /** Record key {@code dataset_size}. */
    public static final String DATASET_SIZE = "dataset_size";
    /** Record key {@code sampling}. */
    public static final String SAMPLING = "sampling";
    /** Record key {@code updater}. */
    public static final String UPDATER = "updater";
    /** Record key {@code learning_rate}. */
    public static final String LEARNING_RATE = "learning_rate";
    /** Record key {@code momentum}. */
    public static final String MOMENTUM = "momentum";
    /** Record key {@code temperature}. */
    public static final String TEMPERATURE = "temperature";
    /** Record key {@code temperature_momentum}. */
    public static final String TEMPERATURE_MOMENTUM = "temperature_momentum";
    /**
     * Record key {@code noise_magnitude}: the SGD noise per parameter, {@code η/(2b)·f·tr D/d} with the unbiased
     * tr D (1/N definition) and f the finite-population factor (1 with replacement, (N − b)/(N − 1) without;
     * {@link Temperature#finitePopulationFactor}); equal to {@code temperature · tr D′/d}.
     */
    public static final String NOISE_MAGNITUDE = "noise_magnitude";
    /**
     * Record key {@code lag_covariance_theory}: the within-epoch covariance of two batches' noise, {@code E[n_s·n_t]},
     * that theory gives from this probe's unbiased tr D: {@code −tr D/(N − 1)} without replacement, 0 with; null when
     * N or the scheme is unknown. A prediction, not a measurement: {@code SamplerNoise} measures it at fixed weights.
     */
    public static final String LAG_COVARIANCE_THEORY = "lag_covariance_theory";
    /**
     * Record key {@code epoch_noise_theory}: {@code E|Σ_t n_t|²}, the noise summed over one epoch of the sampler's
     * ⌈N/b⌉ batches, from this probe's unbiased tr D: {@code tr D·Σ_t 1/b_t} with replacement, {@code tr D·(N Σ_t
     * 1/b_t − m²)/(N − 1)} without (0 when b divides N); null when N or the scheme is unknown.
     */
    public static final String EPOCH_NOISE_THEORY = "epoch_noise_theory";
    /** Record key {@code trace}. */
    public static final String TRACE = "trace";
    /** Record key {@code trace_unbiased}. */
    public static final String TRACE_UNBIASED = "trace_unbiased";
    /** Record key {@code grad_norm_sq}. */
    public static final String GRAD_NORM_SQ = "grad_norm_sq";
    /** Record key {@code grad_norm_sq_unbiased}. */
    public static final String GRAD_NORM_SQ_UNBIASED = "grad_norm_sq_unbiased";
    /** Record key {@code noise_scale}. */
    public static final String NOISE_SCALE = "noise_scale";
    /** Record key {@code noise_scale_unbiased}. */
    public static final String NOISE_SCALE_UNBIASED = "noise_scale_unbiased";
    /**
     * Record key {@code noise_scale_resolved}: the unbiased noise scale is positive and at most k, so |∇f|² is
     * resolved from the probe's k gradients (false: the plug-in {@code noise_scale} has saturated near k and the
     * unbiased one is dominated by noise or undefined).
     */
    public static final String NOISE_SCALE_RESOLVED = "noise_scale_resolved";
    /** Record key {@code eigenvalues}. */
    public static final String EIGENVALUES = "eigenvalues";
    /** Record key {@code lambda_max}. */
    public static final String LAMBDA_MAX = "lambda_max";
    /** Record key {@code rank}. */
    public static final String RANK = "rank";
    /** Record key {@code rank_capped}. */
    public static final String RANK_CAPPED = "rank_capped";
    /** Record key {@code rank_threshold}. */
    public static final String RANK_THRESHOLD = "rank_threshold";
    /** Record key {@code rank_fraction}. */
    public static final String RANK_FRACTION = "rank_fraction";
    /** Record key {@code eig_mean}. */
    public static final String EIG_MEAN = "eig_mean";
    /** Record key {@code eig_std}. */
    public static final String EIG_STD = "eig_std";
    /** Record key {@code participation_ratio}. */
    public static final String PARTICIPATION_RATIO = "participation_ratio";
    /** Record key {@code participation_ratio_plugin}: (Σλ)²/Σλ² of the sample eigenvalues, at most k − 1. */
    public static final String PARTICIPATION_RATIO_PLUGIN = "participation_ratio_plugin";
    /** Record key {@code stable_rank}. */
    public static final String STABLE_RANK = "stable_rank";
    /** Record key {@code effective_rank}. */
    public static final String EFFECTIVE_RANK = "effective_rank";
    /** Record key {@code isotropy_ratio}. */
    public static final String ISOTROPY_RATIO = "isotropy_ratio";
    /** Record key {@code top_r}. */
    public static final String TOP_R = "top_r";
    /** Record key {@code top_r_fraction}. */
    public static final String TOP_R_FRACTION = "top_r_fraction";
    /** Record key {@code mode}. */
    public static final String MODE = "mode";
    /** Record key {@code selection}. */
    public static final String SELECTION = "selection";
    /** Record key {@code seed}. */
    public static final String SEED = "seed";
    /** Record key {@code probe_ms}. */
    public static final String PROBE_MS = "probe_ms";
    /** Record key {@code gradients_ms}. */
    public static final String GRADIENTS_MS = "gradients_ms";
    /** Record key {@code statistics_ms}. */
    public static final String STATISTICS_MS = "statistics_ms";
    /** Record key {@code sketch_insert_ms}. */
    public static final String SKETCH_INSERT_MS = "sketch_insert_ms";
    /** Record key {@code sketch_estimate_ms}. */
    public static final String SKETCH_ESTIMATE_MS = "sketch_estimate_ms";
    /** Record key {@code previous_sinks_ms}. */
    public static final String PREVIOUS_SINKS_MS = "previous_sinks_ms";
    /** Record key {@code probe_every_in_force}. */
    public static final String PROBE_EVERY_IN_FORCE = "probe_every_in_force";
    /** Record key {@code overhead_share}. */
    public static final String OVERHEAD_SHARE = "overhead_share";
    /** Record key {@code overhead_budget}. */
    public static final String OVERHEAD_BUDGET = "overhead_budget";
    /** Record key {@code gradient_path}. */
    public static final String GRADIENT_PATH = "gradient_path";
    /** Record key {@code failures}. */
    public static final String FAILURES = "failures";
    /** Record key {@code sink_failures}. */
    public static final String SINK_FAILURES = "sink_failures";
    /** Record key {@code skipped_non_finite}. */
    public static final String SKIPPED_NON_FINITE = "skipped_non_finite";
    /** Record key {@code overlap_noise_floor}. */
    public static final String OVERLAP_NOISE_FLOOR = "overlap_noise_floor";
    /** Record key {@code layer_names}. */
    public static final String LAYER_NAMES = "layer_names";
    /** Record key {@code layer_num_params}. */
    public static final String LAYER_NUM_PARAMS = "layer_num_params";
    /** Record key {@code layer_trace}. */
    public static final String LAYER_TRACE = "layer_trace";
    /** Record key {@code layer_trace_share}. */
    public static final String LAYER_TRACE_SHARE = "layer_trace_share";
    /** Record key {@code layer_lambda_max}. */
    public static final String LAYER_LAMBDA_MAX = "layer_lambda_max";
    /** Record key {@code sketch_ell}. */
    public static final String SKETCH_ELL = "sketch_ell";
    /** Record key {@code sketch_half_life}. */
    public static final String SKETCH_HALF_LIFE = "sketch_half_life";
    /** Record key {@code sketch_centring}. */
    public static final String SKETCH_CENTRING = "sketch_centring";
    /** Record key {@code sketch_gradients}. */
    public static final String SKETCH_GRADIENTS = "sketch_gradients";
    /** Record key {@code sketch_delta}. */
    public static final String SKETCH_DELTA = "sketch_delta";
    /** Record key {@code sketch_eigenvalues}. */
    public static final String SKETCH_EIGENVALUES = "sketch_eigenvalues";
    /** Record key {@code sketch_eigenvalues_upper}. */
    public static final String SKETCH_EIGENVALUES_UPPER = "sketch_eigenvalues_upper";
    /** Record key {@code subspace_overlap}. */
    public static final String SUBSPACE_OVERLAP = "subspace_overlap";
    /**
     * Record key {@code subspace_separated}: the sketch bound Δ is below the r-th eigengap, so the sketch's top-r
     * subspace is separated from the rest (it says nothing about how far the sketch's average is from D now).
     */
    public static final String SUBSPACE_SEPARATED = "subspace_separated";
    /** Record key {@code hessian_top}. */
    public static final String HESSIAN_TOP = "hessian_top";
    /** Record key {@code hessian_converged}. */
    public static final String HESSIAN_CONVERGED = "hessian_converged";
    /** Record key {@code hessian_commutator}. */
    public static final String HESSIAN_COMMUTATOR = "hessian_commutator";
    /** Record key {@code hessian_overlap_d}. */
    public static final String HESSIAN_OVERLAP_D = "hessian_overlap_d";
    /** Record key {@code hessian_trace_cosine}. */
    public static final String HESSIAN_TRACE_COSINE = "hessian_trace_cosine";
    /** Record key {@code hessian_examples}. */
    public static final String HESSIAN_EXAMPLES = "hessian_examples";
    /** Record key {@code hessian_products}. */
    public static final String HESSIAN_PRODUCTS = "hessian_products";
    /** Record key {@code hessian_ms}. */
    public static final String HESSIAN_MS = "hessian_ms";

    /**
     * The keys whose values are measured times (they differ between two runs of the same seed): the probe's time
     * and its split, the sinks' time and the overhead share.
     */
    public static final List<String> MEASURED_TIMES = List.of(
            PROBE_MS,
            GRADIENTS_MS,
            STATISTICS_MS,
            SKETCH_INSERT_MS,
            SKETCH_ESTIMATE_MS,
            HESSIAN_MS,
            PREVIOUS_SINKS_MS,
            OVERHEAD_SHARE);

    private ProbeFields() {}

    /**
     * The listener's counters written into every record.
     *
     * @param worker the ParallelWrapper worker (0 outside it)
     * @param failures failed probes so far
     * @param sinkFailures failed sink writes so far
     * @param skippedNonFinite probes skipped because the loss or the gradients were NaN or infinite
     */
    public record Counts(int worker, int failures, int sinkFailures, int skippedNonFinite) {}

    /**
     * The listener's schedule and its own cost, written into every record.
     *
     * @param probeEveryInForce the iterations between probes now (the configured interval, or stretched by the
     *     overhead budget)
     * @param overheadShare the listener's own time over the training time and its own since its first call, up to
     *     this probe (which is not included; NaN at the first)
     * @param overheadBudget the share allowed (0: no budget)
     * @param previousSinksMs the time the log line and sinks took for the previous record (NaN for the first)
     */
    public record Schedule(
            int probeEveryInForce, double overheadShare, double overheadBudget, double previousSinksMs) {}

    /**
     * {@code noise_magnitude}: the temperature (which multiplies D′ = N/(N − 1)·D without replacement) times
     * tr D′/d, i.e. η/(2b)·(N − b)/(N − 1)·tr D/d; NaN where the temperature is.
     */
    static double noiseMagnitude(ProbeResult p, DiffusionStats s) {
        double dPrimeOverD = p.sampling() == SamplingScheme.WITHOUT_REPLACEMENT
                ? (double) p.datasetSize() / (p.datasetSize() - 1)
                : 1.0;
        return p.temperature() * dPrimeOverD * s.traceUnbiased() / s.d();
    }

    /** {@code lag_covariance_theory} or {@code epoch_noise_theory}; null when N or the scheme is unknown. */
    static Double withinEpoch(ProbeResult p, DiffusionStats s, boolean epochSum) {
        long n = p.datasetSize();
        int b = p.batchSize();
        SamplingScheme scheme = p.sampling();
        if (n < 2 || b < 1 || b > n || scheme == SamplingScheme.UNKNOWN) {
            return null;
        }
        double trace = s.traceUnbiased();
        boolean without = scheme == SamplingScheme.WITHOUT_REPLACEMENT;
        if (!epochSum) {
            return without ? SamplerNoise.lagWithout(trace, n) : 0.0;
        }
        double inverse = SamplerNoise.inverseSizes(n, b, scheme);
        return without ? SamplerNoise.epochSumWithout(trace, n, inverse, (int) ((n + b - 1) / b)) : trace * inverse;
    }

    /**
     * The record of a probe with status OK.
     *
     * @throws IllegalArgumentException for a skipped probe (it has no statistics to write)
     */
    public static ProbeRecord toRecord(ProbeResult p, Counts counts, Schedule schedule) {
        if (!p.ok()) {
            throw new IllegalArgumentException("only a probe with status OK has a record, got " + p.status());
        }
        DiffusionStats s = p.stats();
        NoiseProbe.Config c = p.config();
        int r = c.topR();
        ProbeRecord.Builder rec = ProbeRecord.builder()
                .put(ITERATION, p.iteration())
                .put(EPOCH, p.epoch())
                .put(WORKER, counts.worker())
                .put(LOSS, p.loss())
                .put(NUM_PARAMS, s.d())
                .put(NUM_SAMPLES, s.k())
                .put(SAMPLES_REQUESTED, p.requested())
                .put(SAMPLES_REDUCED_BY_BUDGET, p.reducedByBudget())
                .put(BATCH_SIZE, p.batchSize())
                .put(DATASET_SIZE, p.datasetSize() > 0 ? p.datasetSize() : null)
                .put(SAMPLING, p.sampling().id())
                .put(UPDATER, p.updater().updater())
                .put(LEARNING_RATE, p.updater().learningRate())
                .put(MOMENTUM, p.updater().momentum())
                .put(TEMPERATURE, p.temperature())
                .put(TEMPERATURE_MOMENTUM, p.temperatureMomentum())
                .put(NOISE_MAGNITUDE, noiseMagnitude(p, s))
                .put(LAG_COVARIANCE_THEORY, withinEpoch(p, s, false))
                .put(EPOCH_NOISE_THEORY, withinEpoch(p, s, true))
                .put(TRACE, s.trace())
                .put(TRACE_UNBIASED, s.traceUnbiased())
                .put(GRAD_NORM_SQ, s.gradNormSq())
                .put(GRAD_NORM_SQ_UNBIASED, s.gradNormSqUnbiased())
                .put(NOISE_SCALE, s.noiseScale())
                .put(NOISE_SCALE_UNBIASED, s.noiseScaleUnbiased())
                .put(NOISE_SCALE_RESOLVED, s.noiseScaleUnbiased() > 0 && s.noiseScaleUnbiased() <= s.k())
                .put(EIGENVALUES, s.topEigenvalues(r))
                .put(LAMBDA_MAX, s.lambdaMax())
                .put(RANK, s.rank())
                .put(RANK_CAPPED, s.rankCapped())
                .put(RANK_THRESHOLD, s.rankThreshold())
                .put(RANK_FRACTION, s.rankFraction())
                .put(EIG_MEAN, s.eigMean())
                .put(EIG_STD, s.eigStd())
                .put(PARTICIPATION_RATIO, s.participationRatio())
                .put(PARTICIPATION_RATIO_PLUGIN, s.participationRatioPlugin())
                .put(STABLE_RANK, s.stableRank())
                .put(EFFECTIVE_RANK, s.effectiveRank())
                .put(ISOTROPY_RATIO, s.isotropyRatio())
                .put(TOP_R, Math.min(r, s.k()))
                .put(TOP_R_FRACTION, s.topFraction(r))
                .put(MODE, c.mode().name().toLowerCase(Locale.ROOT))
                .put(SELECTION, c.selection().name().toLowerCase(Locale.ROOT))
                .put(SEED, c.seed())
                .put(PROBE_MS, p.probeMillis())
                .put(GRADIENTS_MS, p.timing().gradientsMs())
                .put(STATISTICS_MS, p.timing().statisticsMs())
                .put(SKETCH_INSERT_MS, p.timing().sketchInsertMs())
                .put(SKETCH_ESTIMATE_MS, p.timing().sketchEstimateMs())
                .put(PREVIOUS_SINKS_MS, schedule.previousSinksMs())
                .put(PROBE_EVERY_IN_FORCE, schedule.probeEveryInForce())
                .put(OVERHEAD_SHARE, schedule.overheadShare())
                .put(OVERHEAD_BUDGET, schedule.overheadBudget())
                .put(GRADIENT_PATH, p.gradientPath())
                .put(FAILURES, counts.failures())
                .put(SINK_FAILURES, counts.sinkFailures())
                .put(SKIPPED_NON_FINITE, counts.skippedNonFinite())
                .put(OVERLAP_NOISE_FLOOR, s.splitHalfOverlap())
                .put(LAYER_NAMES, p.layers().stream().map(LayerNoise::layer).toArray(String[]::new))
                .put(
                        LAYER_NUM_PARAMS,
                        p.layers().stream().mapToDouble(LayerNoise::numParams).toArray())
                .put(
                        LAYER_TRACE,
                        p.layers().stream().mapToDouble(LayerNoise::trace).toArray())
                .put(
                        LAYER_TRACE_SHARE,
                        p.layers().stream().mapToDouble(LayerNoise::share).toArray())
                .put(
                        LAYER_LAMBDA_MAX,
                        p.layers().stream().mapToDouble(LayerNoise::lambdaMax).toArray());
        ProbeResult.SketchReading k = p.sketch();
        if (k != null) {
            rec.put(SKETCH_ELL, k.ell())
                    .put(SKETCH_HALF_LIFE, Double.isInfinite(k.halfLife()) ? null : k.halfLife())
                    .put(SKETCH_CENTRING, c.sketchCentring().name().toLowerCase(Locale.ROOT))
                    .put(SKETCH_GRADIENTS, k.gradients())
                    .put(SKETCH_DELTA, k.delta())
                    .put(SKETCH_EIGENVALUES, k.eigenvalues())
                    .put(SKETCH_EIGENVALUES_UPPER, k.upper())
                    .put(SUBSPACE_OVERLAP, k.overlap())
                    .put(SUBSPACE_SEPARATED, k.trustworthy());
        }
        if (c.curvature() != null) {
            // Every record of a listener with the curvature step has these keys (one CSV header); null between
            // curvature probes.
            ProbeResult.HessianReading h = p.hessian();
            rec.put(HESSIAN_TOP, h == null ? null : h.eigenvalues())
                    .put(HESSIAN_CONVERGED, h == null ? null : h.converged())
                    .put(HESSIAN_COMMUTATOR, h == null ? null : h.commutator())
                    .put(HESSIAN_OVERLAP_D, h == null ? null : h.overlap())
                    .put(HESSIAN_TRACE_COSINE, h == null ? null : h.traceCosine())
                    .put(HESSIAN_EXAMPLES, h == null ? null : h.examples())
                    .put(HESSIAN_PRODUCTS, h == null ? null : h.products())
                    .put(HESSIAN_MS, h == null ? null : h.millis());
        }
        return rec.build();
    }
}

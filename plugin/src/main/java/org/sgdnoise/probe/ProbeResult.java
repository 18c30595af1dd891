package org.sgdnoise.probe;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;
import org.sgdnoise.diffusion.DiffusionStatistics.LayerNoise;
import org.sgdnoise.diffusion.DiffusionStats;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.diffusion.UpdaterSettings;

/**
 * What one probe measured: the statistics of D from k per-example gradients at θ_t, the sketch's reading,
 * the temperature and how it was obtained. Immutable; only a result with status {@link ProbeStatus#OK}
 * carries statistics (the other fields of a skipped probe are null or NaN).
 *
 * @param status how the probe ended
 * @param reason why it was skipped, or null when OK
 * @param iteration the training iteration t
 * @param epoch the training epoch
 * @param loss the minibatch loss at θ_t
 * @param batchSize b, the size of the current minibatch
 * @param requested k as configured
 * @param reducedByBudget true when the memory budget lowered k
 * @param stats the statistics of D from the k gradients
 * @param layers the split of tr(D) by layer, in layer order
 * @param sketch the streaming sketch's reading after this probe, or null without a sketch
 * @param hessian the curvature step's reading, or null when this probe had none ({@link NoiseProbe.CurvatureConfig})
 * @param updater the learning rate, momentum and updater at this iteration
 * @param sampling the sampling scheme the temperature used (configured, or read from an sgdnoise sampler)
 * @param datasetSize N, or -1 when unknown
 * @param temperature β⁻¹ = η/(2b)·(1 − b/N) (theory.md §2), NaN when undefined
 * @param temperatureMomentum the temperature with momentum, β⁻¹/(1 − μ)
 * @param timing the probe's wall time and its split
 * @param batched true for the batched gradient path, false for the exact one (one example at a time)
 * @param config the probe's configuration (mode, selection, seed, sketch settings)
 */
public record ProbeResult(
        ProbeStatus status,
        String reason,
        int iteration,
        int epoch,
        double loss,
        int batchSize,
        int requested,
        boolean reducedByBudget,
        DiffusionStats stats,
        List<LayerNoise> layers,
        SketchReading sketch,
        HessianReading hessian,
        UpdaterSettings updater,
        SamplingScheme sampling,
        long datasetSize,
        double temperature,
        double temperatureMomentum,
        Timing timing,
        boolean batched,
        NoiseProbe.Config config) {

    /** Layers named in the log line, by share of tr(D). */
    static final int LOG_LAYERS = 3;

    /** A compact constructor that keeps the list immutable. */
    public ProbeResult {
        layers = layers == null ? List.of() : List.copyOf(layers);
    }

    /** A probe that measured nothing, with the reason. */
    static ProbeResult skipped(
            ProbeStatus status, String reason, int iteration, int epoch, double loss, NoiseProbe.Config config) {
        return new ProbeResult(
                status,
                reason,
                iteration,
                epoch,
                loss,
                0,
                config.gradientsPerProbe(),
                false,
                null,
                List.of(),
                null,
                null,
                null,
                null,
                -1,
                Double.NaN,
                Double.NaN,
                Timing.NONE,
                false,
                config);
    }

    /**
     * Where a probe's time went, in milliseconds: the per-example gradients (with their Gram matrices), the
     * statistics of D from them, the sketch insert and the sketch's top eigenvectors; the total also holds what
     * is left (the temperature, the result).
     *
     * @param totalMs wall time of the whole probe
     * @param gradientsMs per-example gradients and their k×k Gram matrices
     * @param statisticsMs the statistics of D and its split by layer, from the Gram matrices
     * @param sketchInsertMs the k gradients into the sketch, shrinks included (0 without a sketch)
     * @param sketchEstimateMs the sketch's top eigenvalues and eigenvectors, and their overlap (0 without)
     */
    public record Timing(
            double totalMs, double gradientsMs, double statisticsMs, double sketchInsertMs, double sketchEstimateMs) {
        /** No time: a skipped probe. */
        public static final Timing NONE = new Timing(0, 0, 0, 0, 0);
    }

    /**
     * The unbiased noise scale B = tr D/|∇f|² for the log, or what stops it: the plug-in tr/|ḡ|² saturates near k,
     * so the unbiased one is printed, flagged when |∇f|² is not resolved from k samples (its estimate ≤ 0) or B
     * exceeds k (the estimate is then dominated by the noise).
     */
    static String noiseScaleText(DiffusionStats s) {
        double b = s.noiseScaleUnbiased();
        if (!(b > 0)) {
            return "unresolved(|g|^2 within the noise of k)";
        }
        return b > s.k() ? fmt(b) + "(>k, barely resolved)" : fmt(b);
    }

    /** Wall time of the probe, in milliseconds. */
    public double probeMillis() {
        return timing.totalMs();
    }

    /** True when the statistics were computed. */
    public boolean ok() {
        return status == ProbeStatus.OK;
    }

    /** {@code "batched"} or {@code "exact"}: the gradient path that ran. */
    public String gradientPath() {
        return batched ? "batched" : "exact";
    }

    /**
     * The sketch's reading after a probe: its top eigenvalues with the certified upper ends λ̂ᵢ + Δ (a bound on the
     * sketch's error on the decayed, probe-averaged matrix it holds, not a confidence interval), the overlap of its
     * top-r subspace with the previous probe's, and whether Δ is below the r-th eigengap.
     *
     * @param ell ℓ, the sketch's size
     * @param halfLife probes after which a probe's weight halves (infinite: never)
     * @param gradients the decayed count of gradients it holds
     * @param delta Δ, the certified bound on its eigenvalue error
     * @param eigenvalues its top eigenvalues, descending
     * @param upper each eigenvalue plus Δ
     * @param overlap overlap of the top-r subspace with the previous probe's, NaN at the first
     * @param trustworthy true when Δ is below the r-th eigengap (the subspace is separated)
     */
    public record SketchReading(
            int ell,
            double halfLife,
            double gradients,
            double delta,
            double[] eigenvalues,
            double[] upper,
            double overlap,
            boolean trustworthy) {

        /** Defensive copies: a result is immutable. */
        public SketchReading {
            eigenvalues = eigenvalues.clone();
            upper = upper.clone();
        }

        /** The top eigenvalues (a copy). */
        @Override
        public double[] eigenvalues() {
            return eigenvalues.clone();
        }

        /** Their upper ends (a copy). */
        @Override
        public double[] upper() {
            return upper.clone();
        }
    }

    /**
     * The curvature step's reading (issue 17): the top Hessian eigenvalues over the step's examples at the probe's
     * parameters, and how the probe's D lines up with them in the top-r eigenspace V ({@code
     * org.sgdnoise.curvature.NoiseAlignment}).
     *
     * @param eigenvalues the top r Hessian eigenvalues, descending (Lanczos' Ritz values)
     * @param converged true when every one reached Lanczos' residual tolerance
     * @param commutator {@code ‖H_r D_r − D_r H_r‖_F / (‖H_r‖_F ‖D_r‖_F)} in V: 0 when they commute, at most √2
     * @param overlap the subspace overlap of the top-r of H and the top of D, in [0, 1]
     * @param traceCosine {@code tr(H_r D_r) / (‖H_r‖_F ‖D_r‖_F)}
     * @param examples n, the examples behind H
     * @param products the Hessian-vector products spent (Lanczos' steps plus r), two gradient passes over n each
     * @param millis the step's wall time, part of the probe's
     */
    public record HessianReading(
            double[] eigenvalues,
            boolean converged,
            double commutator,
            double overlap,
            double traceCosine,
            int examples,
            long products,
            double millis) {

        /** A defensive copy: a result is immutable. */
        public HessianReading {
            eigenvalues = eigenvalues.clone();
        }

        /** The eigenvalues (a copy). */
        @Override
        public double[] eigenvalues() {
            return eigenvalues.clone();
        }
    }

    /**
     * The INFO line: iteration, epoch and loss first, then the key anisotropy figures, the sketch's λ₁, the
     * layers with the largest share of tr(D) and, at a curvature probe, the Hessian's h₁ and the commutator.
     *
     * @param worker the ParallelWrapper worker (0 outside it; named only when above 0)
     */
    public String logLine(int worker) {
        String head = String.format(
                Locale.ROOT,
                "iteration %d epoch %d%s loss %s",
                iteration,
                epoch,
                worker > 0 ? " worker " + worker : "",
                fmt(loss));
        if (!ok()) {
            return head + " | probe skipped: " + reason;
        }
        DiffusionStats s = stats;
        StringBuilder sb = new StringBuilder(head);
        sb.append(String.format(
                Locale.ROOT,
                " | D: tr=%s |g|^2=%s B_noise=%s rank%s%d/%d (lambda > %s = lambda_max*d*eps32)%s PR=%s"
                        + " stable_rank=%s eff_rank=%s iso=%s lambda_max=%s T=%s | k=%d probe %.0f ms (%s)",
                fmt(s.trace()),
                fmt(s.gradNormSq()),
                noiseScaleText(s),
                s.rankCapped() ? ">=" : "=",
                s.rank(),
                s.d(),
                fmt(s.rankThreshold()),
                s.rankCapped() ? " (capped by k)" : "",
                fmt(s.participationRatio()),
                fmt(s.stableRank()),
                fmt(s.effectiveRank()),
                fmt(s.isotropyRatio()),
                fmt(s.lambdaMax()),
                Double.isFinite(temperature) ? fmt(temperature) : "unknown",
                s.k(),
                probeMillis(),
                gradientPath()));
        if (sketch != null && sketch.eigenvalues().length > 0) {
            boolean belowFloor = sketch.overlap() < s.splitHalfOverlap();
            sb.append(String.format(
                    Locale.ROOT,
                    " | sketch (D averaged over the probes, %s): lambda_1=%s, sketch bound [%s, %s], n=%.0f,"
                            + " overlap with the last probe %s (split-half floor %s%s), %s",
                    Double.isInfinite(sketch.halfLife())
                            ? "no decay"
                            : "half-life " + fmt(sketch.halfLife()) + " probes",
                    fmt(sketch.eigenvalues()[0]),
                    fmt(sketch.eigenvalues()[0]),
                    fmt(sketch.upper()[0]),
                    sketch.gradients(),
                    fmt(sketch.overlap()),
                    fmt(s.splitHalfOverlap()),
                    belowFloor ? ", below it" : "",
                    sketch.trustworthy() ? "separated (bound < eigengap)" : "not separated (bound >= eigengap)"));
        }
        if (!layers.isEmpty()) {
            sb.append(" | tr(D) by layer:");
            IntStream.range(0, layers.size())
                    .boxed()
                    .sorted(Comparator.comparingDouble(
                                    (Integer i) -> layers.get(i).share())
                            .reversed())
                    .limit(LOG_LAYERS)
                    .forEach(i -> sb.append(String.format(
                            Locale.ROOT,
                            " %s %.0f%%",
                            layers.get(i).layer(),
                            100 * layers.get(i).share())));
        }
        if (hessian != null && hessian.eigenvalues().length > 0) {
            sb.append(String.format(
                    Locale.ROOT,
                    " | H: h_1=%s (top %d%s) commutator=%s overlap_D=%s, %d products %.0f ms",
                    fmt(hessian.eigenvalues()[0]),
                    hessian.eigenvalues().length,
                    hessian.converged() ? "" : ", not converged",
                    fmt(hessian.commutator()),
                    fmt(hessian.overlap()),
                    hessian.products(),
                    hessian.millis()));
        }
        return sb.toString();
    }

    private static String fmt(double x) {
        return Double.isFinite(x) ? String.format(Locale.ROOT, "%.4g", x) : "n/a";
    }

    @Override
    public String toString() {
        return "ProbeResult[" + status + ", iteration " + iteration + (reason == null ? "" : ", " + reason)
                + (stats == null
                        ? ""
                        : ", k=" + stats.k() + ", tr=" + stats.trace() + ", eigenvalues="
                                + Arrays.toString(stats.topEigenvalues(3)))
                + "]";
    }
}

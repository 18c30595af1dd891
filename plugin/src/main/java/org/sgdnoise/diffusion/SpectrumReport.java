package org.sgdnoise.diffusion;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.sgdnoise.UserInputException;
import org.sgdnoise.output.JsonDocument;
import org.sgdnoise.sketch.DiffusionSketch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JSON report of D over a data set (the {@code spectrum} command's output, also written by the Spark job):
 * N, d, the exact trace and {@code |ḡ|²}, the eigenvalues (exact when given, else the sketch's) with the
 * sketch's certified intervals {@code [λ̂_i, λ̂_i + Δ]}, and the spectrum's {@link SpectrumSummary}.
 *
 * <p>Keys, in order: {@code num_params, num_examples, trace, grad_norm_sq, noise_scale, method {name, ell,
 * delta}, eigenvalues, eigenvalue_intervals, rank, rank_capped, rank_fraction, rank_threshold, eig_mean,
 * eig_std, participation_ratio, stable_rank, effective_rank, [sketch_eigenvalues], model, data, mode,
 * wall_time_s}, then the caller's extra entries. Undefined statistics are null. Stateless.
 */
public final class SpectrumReport {

    private static final Logger log = LoggerFactory.getLogger(SpectrumReport.class);

    private SpectrumReport() {}

    /**
     * The report of a data set's sketched D, and of its exact eigenvalues when given.
     *
     * @param sketched the data set's sketch, with at least one example; not modified
     * @param exactEigenvalues the exact eigenvalues of D, descending, or null for the sketch's
     * @param modelName what the model is (a path, a name), written as {@code model}
     * @param dataName what the data is, written as {@code data}
     * @param wallSeconds the computation's wall time, written as {@code wall_time_s}
     * @param extra further entries, written after the standard ones (an empty map for none)
     * @return the report, in key order
     */
    public static Map<String, Object> of(
            DatasetSketch sketched,
            double[] exactEigenvalues,
            String modelName,
            String dataName,
            double wallSeconds,
            Map<String, ?> extra) {
        boolean exact = exactEigenvalues != null;
        long d = sketched.numParams();
        int ell = sketched.ell();
        double trace = sketched.trace();
        double normSq = sketched.gradNormSq();
        DiffusionSketch.Estimate est = sketched.estimate();
        double[] eig = exact ? exactEigenvalues : est.eigenvalues();
        // N centred examples span at most N − 1 directions; a sketch holds at most ℓ.
        long cap = exact ? sketched.examples() - 1L : ell;
        SpectrumSummary sum = SpectrumSummary.of(eig, d, trace, cap);
        double[][] intervals = new double[est.eigenvalues().length][];
        for (int i = 0; i < intervals.length; i++) {
            intervals[i] = new double[] {est.eigenvalues()[i], est.eigenvalues()[i] + est.delta()};
        }
        Map<String, Object> method = new LinkedHashMap<>();
        method.put("name", exact ? "exact" : "sketch");
        method.put("ell", ell);
        method.put("delta", est.delta());
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("num_params", d);
        r.put("num_examples", sketched.examples());
        r.put("trace", trace);
        r.put("grad_norm_sq", normSq);
        r.put("noise_scale", normSq > 0 ? trace / normSq : null);
        r.put("method", method);
        r.put("eigenvalues", eig);
        r.put("eigenvalue_intervals", intervals);
        r.put("rank", sum.rank());
        r.put("rank_capped", exact ? sum.rank() >= sketched.examples() - 1 : sum.rank() >= ell - 1);
        r.put("rank_fraction", (double) sum.rank() / d);
        r.put("rank_threshold", sum.rankThreshold());
        r.put("eig_mean", nullIfNaN(sum.eigMean()));
        r.put("eig_std", nullIfNaN(sum.eigStd()));
        // Over every example the plug-in ratio is D's own (nothing to estimate); from a sketch it is the plug-in of
        // the top ℓ directions only, and the pair estimate of the probes has no counterpart here.
        r.put("participation_ratio", exact ? nullIfNaN(sum.participationRatioPlugin()) : null);
        r.put("participation_ratio_plugin", nullIfNaN(sum.participationRatioPlugin()));
        r.put("stable_rank", nullIfNaN(sum.stableRank()));
        r.put("effective_rank", nullIfNaN(sum.effectiveRank()));
        if (exact) {
            r.put("sketch_eigenvalues", est.eigenvalues());
        }
        r.put("model", modelName);
        r.put("data", dataName);
        r.put("mode", "eval");
        r.put("wall_time_s", wallSeconds);
        r.putAll(extra);
        return r;
    }

    /**
     * The report of a computed {@link DatasetSpectrum}: exact eigenvalues when it accumulated them.
     *
     * @param spectrum the computed spectrum, with at least one example
     * @param modelName what the model is, written as {@code model}
     * @param dataName what the data is, written as {@code data}
     * @param wallSeconds the computation's wall time
     * @param extra further entries (an empty map for none)
     * @return the report, in key order, with {@code gradient_path} (batched or exact) before {@code extra}
     */
    public static Map<String, Object> of(
            DatasetSpectrum spectrum, String modelName, String dataName, double wallSeconds, Map<String, ?> extra) {
        Map<String, Object> more = new LinkedHashMap<>();
        more.put("gradient_path", spectrum.batched() ? "batched" : "exact");
        more.putAll(extra);
        return of(
                spectrum.sketched(),
                spectrum.exact() ? spectrum.exactEigenvalues() : null,
                modelName,
                dataName,
                wallSeconds,
                more);
    }

    /**
     * Writes a report as indented JSON to {@code out} (creating its folder) and logs a one-line summary.
     *
     * @param report a report from {@link #of}
     * @param out the file; replaced if it exists
     * @throws UserInputException when {@code out} cannot be created or written, naming it and the reason
     */
    public static void write(Map<String, ?> report, Path out) {
        JsonDocument.write(report, out);
        if (log.isInfoEnabled()) {
            double[] eig = (double[]) report.get("eigenvalues");
            long d = ((Number) report.get("num_params")).longValue();
            int rank = ((Number) report.get("rank")).intValue();
            log.info(String.format(
                    Locale.ROOT,
                    "spectrum: d = %d, N = %s, tr(D) = %.4g, rank %s%d (%.2f%% of d; lambda > %.4g = "
                            + "lambda_max*d*eps32), participation ratio %s, effective rank %s, lambda_max = %.4g; "
                            + "wrote %s",
                    d,
                    report.get("num_examples"),
                    ((Number) report.get("trace")).doubleValue(),
                    Boolean.TRUE.equals(report.get("rank_capped")) ? ">= " : "",
                    rank,
                    100.0 * rank / d,
                    ((Number) report.get("rank_threshold")).doubleValue(),
                    report.get("participation_ratio_plugin"),
                    report.get("effective_rank"),
                    eig != null && eig.length > 0 ? eig[0] : 0,
                    out));
        }
    }

    private static Object nullIfNaN(double v) {
        return Double.isFinite(v) ? v : null;
    }
}

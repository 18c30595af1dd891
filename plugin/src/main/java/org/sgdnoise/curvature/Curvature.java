package org.sgdnoise.curvature;

import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.UserInputException;
import org.sgdnoise.gradients.GradientFactors;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.gradients.SameDiffGradients;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The curvature of a trained model over a set of examples, and how the gradient noise lines up with it: the top-r
 * Hessian eigenpairs by {@link Lanczos}, the Hessian's trace by {@link HutchinsonTrace}, and {@link NoiseAlignment}
 * with D from the per-example gradients of the first {@code gradients} examples. The Hessian is that of the mean
 * loss over every example given plus the model's L2 terms ({@link HessianTerms}), at the model's parameters,
 * on a private double copy (the model is not modified).
 *
 * <p>Cost in Hessian-vector products: Lanczos' steps (at most {@code maxSteps}), {@code traceProbes}, r for the
 * alignment, and k + 1 for B_noise; each product is two gradient passes over the examples in double. Memory:
 * the Lanczos basis (at most {@code maxSteps}·d doubles) and the per-example gradients of k examples (capped by
 * the per-example engine's memory budget).
 */
public final class Curvature {

    private static final Logger log = LoggerFactory.getLogger(Curvature.class);

    /**
     * Per-example gradients computed at a time for D_r (fewer when the per-example engine's memory budget holds
     * fewer); the overlap and B_noise use the first block.
     */
    public static final int GRADIENT_BLOCK = 512;

    /** A {@link Result#consistency()} above this gets a WARN line. */
    public static final double CONSISTENCY_WARNING = 1e-6;

    private Curvature() {}

    /**
     * What to compute.
     *
     * @param top r, the Hessian eigenpairs (at least 1)
     * @param gradients k, the examples whose per-example gradients give D (at least 2; the first k)
     * @param traceProbes Hutchinson probes (0: no trace)
     * @param maxSteps Lanczos steps at most (raised to {@code top} when below it)
     * @param seed seed of Lanczos' start vector and of Hutchinson's probes
     * @param bNoise also compute B_noise (k + 1 products)
     */
    public record Options(int top, int gradients, int traceProbes, int maxSteps, long seed, boolean bNoise) {
        /** Validates every option. */
        public Options {
            UserInputException.require(top >= 1, "top must be >= 1, got " + top);
            UserInputException.require(gradients >= 2, "gradients must be >= 2, got " + gradients);
            UserInputException.require(traceProbes >= 0, "trace-probes must be >= 0, got " + traceProbes);
            UserInputException.require(maxSteps >= 1, "max-steps must be >= 1, got " + maxSteps);
        }
    }

    /**
     * The result.
     *
     * @param numParams d, the trained parameters
     * @param examples the examples behind the Hessian
     * @param terms what the Hessian includes
     * @param top the top Hessian eigenpairs
     * @param trace Hutchinson's trace estimate, or null when not asked for
     * @param alignment D in the top Hessian eigenspace
     * @param relativeStep the finite-difference step of the Hessian-vector products, relative to 1 + ‖θ‖
     * @param consistency {@code max_i |(VᵀHV)_ii − h_i| / |h_1|}: the Lanczos values against fresh products on
     *     their own vectors; far above 1e-8 when the products are not those of one symmetric matrix (a kink
     *     crossed by the differences)
     * @param seed the seed used
     * @param hessianVectorProducts every product spent
     * @param seconds the wall-clock time
     */
    public record Result(
            long numParams,
            int examples,
            HessianTerms terms,
            LanczosResult top,
            TraceEstimate trace,
            NoiseAlignment.Result alignment,
            double relativeStep,
            double consistency,
            long seed,
            long hessianVectorProducts,
            double seconds) {}

    /**
     * Computes the curvature of {@code model} over {@code data} (not modified).
     *
     * @throws UserInputException when the data has fewer than 2 examples or the model more than the top asked
     *     for
     */
    public static Result compute(Model model, DataSet data, Options o) {
        long t0 = System.nanoTime();
        int n = data.numExamples();
        UserInputException.require(n >= 2, "the data must have at least 2 examples, got " + n);
        ProbeBatch batch = ProbeBatch.of(data);
        HessianOperator h = new HessianVectorProducts().at(model, batch);
        PerExampleGradients engine =
                new PerExampleGradients(ProbeMode.EVAL, PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES);
        return compute(h, n, idx -> engine.factors(model, batch, idx), engine.maxSamples(model, batch), o, t0);
    }

    /**
     * As {@link #compute(Model, DataSet, Options)} for a SameDiff graph at the values {@code graph} holds: the
     * Hessian by {@link HessianVectorProducts#at(SameDiffGradients, ProbeBatch)} (the data loss alone), the
     * per-example gradients by {@code graph} (batched where it allows, else exact).
     */
    public static Result compute(SameDiffGradients graph, DataSet data, Options o) {
        long t0 = System.nanoTime();
        int n = data.numExamples();
        UserInputException.require(n >= 2, "the data must have at least 2 examples, got " + n);
        ProbeBatch batch = ProbeBatch.of(data);
        HessianOperator h = new HessianVectorProducts().at(graph, batch);
        long budget = PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES;
        int maxSamples = graph.batched()
                ? Integer.MAX_VALUE
                : (int) Math.max(2, Math.min(Integer.MAX_VALUE, budget / (graph.numParams() * 8)));
        return compute(h, n, idx -> graph.factors(batch, idx, budget), maxSamples, o, t0);
    }

    private static Result compute(
            HessianOperator h,
            int n,
            java.util.function.Function<int[], GradientFactors> factors,
            int maxSamples,
            Options o,
            long t0) {
        UserInputException.require(
                o.top() <= h.dimension(), "top must be <= the trained parameters d = " + h.dimension());
        LanczosResult top = Lanczos.eigenpairs(
                h,
                o.top(),
                Lanczos.End.LARGEST,
                Math.min(Math.max(o.maxSteps(), o.top()), h.dimension()),
                Lanczos.DEFAULT_TOLERANCE,
                o.seed());
        log.info(
                "curvature: top {} Hessian eigenvalues of {} parameters over {} examples: {} ({} products, {}, {} s)",
                o.top(),
                h.dimension(),
                n,
                top.values()[0] + (top.values().length > 1 ? " .. " + top.values()[top.values().length - 1] : ""),
                top.hessianVectorProducts(),
                top.converged() ? "converged" : "NOT converged",
                String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - t0) / 1e9));
        TraceEstimate trace = o.traceProbes() == 0 ? null : HutchinsonTrace.estimate(h, o.traceProbes(), o.seed());
        if (trace != null) {
            log.info("curvature: trace {} ± {} ({} probes)", trace.trace(), trace.standardError(), trace.probes());
        }
        int k = Math.min(o.gradients(), n);
        // D_r from every one of the k examples, a block at a time (only their projections are kept); the overlap
        // with D's top directions and B_noise from the first block.
        int block = Math.max(2, Math.min(GRADIENT_BLOCK, maxSamples));
        List<double[]> more = new ArrayList<>();
        for (int start = block; start < k; start += block) {
            int end = Math.min(k, start + block);
            if (end - start < 2) {
                break; // a last block of one example: its gradient alone is not worth a pass
            }
            try (GradientFactors g = factors.apply(range(start, end))) {
                more.addAll(List.of(NoiseAlignment.project(g, top.vectors())));
            }
        }
        NoiseAlignment.Result alignment;
        try (GradientFactors g = factors.apply(range(0, Math.min(k, block)))) {
            alignment = NoiseAlignment.compute(h, top, g, o.bNoise(), more.toArray(new double[0][]));
        }
        double consistency = 0;
        for (int i = 0; i < top.values().length; i++) {
            consistency = Math.max(
                    consistency,
                    Math.abs(alignment.hessianInBasis()[i][i] - top.values()[i]) / Math.abs(top.values()[0]));
        }
        if (!(consistency <= CONSISTENCY_WARNING)) {
            log.warn(
                    "curvature: the Hessian-vector products disagree with their own Lanczos values by {} of h_1 "
                            + "(finite-difference step {} relative): the eigenvalues are not to be trusted",
                    consistency,
                    h.relativeStep());
        }
        log.info(
                "curvature: D in the top-{} Hessian basis from {} gradients: commutator {}, overlap {}, B_noise {}",
                o.top(),
                alignment.k(),
                alignment.commutator(),
                alignment.overlap(),
                alignment.bNoise());
        return new Result(
                h.dimension(),
                n,
                h.terms(),
                top,
                trace,
                alignment,
                h.relativeStep(),
                consistency,
                o.seed(),
                h.products(),
                (System.nanoTime() - t0) / 1e9);
    }

    private static int[] range(int from, int to) {
        int[] r = new int[to - from];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }
}

package org.sgdnoise.probe;

import org.deeplearning4j.nn.api.Model;
import org.sgdnoise.curvature.HessianOperator;
import org.sgdnoise.curvature.HessianVectorProducts;
import org.sgdnoise.curvature.Lanczos;
import org.sgdnoise.curvature.LanczosResult;
import org.sgdnoise.curvature.NoiseAlignment;
import org.sgdnoise.gradients.GradientFactors;
import org.sgdnoise.gradients.ProbeBatch;

/**
 * One probe's curvature step ({@link NoiseProbe.CurvatureConfig}): Lanczos on the Hessian over fixed examples at the
 * model's parameters, then {@link NoiseAlignment} with the probe's per-example gradients. Holds its own probe network
 * in double ({@link HessianVectorProducts}); the model is not modified. Not thread-safe: one per {@link NoiseProbe}.
 */
final class CurvatureStep {

    private final NoiseProbe.CurvatureConfig config;
    private final ProbeBatch examples;
    private final HessianVectorProducts products = new HessianVectorProducts();

    CurvatureStep(NoiseProbe.CurvatureConfig config, ProbeBatch examples) {
        this.config = config;
        this.examples = examples;
    }

    NoiseProbe.CurvatureConfig config() {
        return config;
    }

    /**
     * The top-r Hessian eigenvalues at the model's parameters and the alignment of the gradients' D with them.
     * Not modified: {@code model}, {@code gradients}.
     *
     * @param gradients the probe's per-example gradients at the same parameters
     * @param seed the seed of Lanczos' start vector
     */
    ProbeResult.HessianReading measure(Model model, GradientFactors gradients, long seed) {
        long t0 = System.nanoTime();
        HessianOperator h = products.at(model, examples);
        int r = Math.min(config.top(), h.dimension());
        // Lanczos.largest's step limit, raised to r when r is above it.
        LanczosResult top = Lanczos.eigenpairs(
                h, r, Lanczos.End.LARGEST, Math.max(Lanczos.DEFAULT_MAX_STEPS, r), Lanczos.DEFAULT_TOLERANCE, seed);
        NoiseAlignment.Result a = NoiseAlignment.compute(h, top, gradients, false);
        return new ProbeResult.HessianReading(
                top.values(),
                top.converged(),
                a.commutator(),
                a.overlap(),
                a.traceCosine(),
                examples.size(),
                h.products(),
                (System.nanoTime() - t0) / 1e6);
    }
}

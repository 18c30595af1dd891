package org.sgdnoise.diffusion;

/**
 * The temperature β⁻¹ of SGD (Chaudhari and Soatto 2018, Lemma 2 and Appendix A.2, with theory.md §1's
 * correction: the (1 − b/N) factor belongs to sampling WITHOUT replacement).
 */
public final class Temperature {

    private Temperature() {}

    /**
     * {@code η/(2b)} with replacement, {@code η/(2b)·(1 − b/N)} without; NaN when the scheme is unknown, or
     * when it is without replacement and N is unknown ({@code datasetSize ≤ 0}) or smaller than b.
     *
     * @param learningRate η
     * @param batchSize b ≥ 1
     * @param datasetSize N, or ≤ 0 if unknown
     */
    public static double of(double learningRate, long batchSize, long datasetSize, SamplingScheme scheme) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        double base = learningRate / (2.0 * batchSize);
        return switch (scheme) {
            case WITH_REPLACEMENT -> base;
            case WITHOUT_REPLACEMENT ->
                datasetSize >= batchSize ? base * (1.0 - (double) batchSize / datasetSize) : Double.NaN;
            case UNKNOWN -> Double.NaN;
        };
    }

    /**
     * The finite-population factor on D (the 1/N covariance of the per-example gradients): the minibatch mean's
     * noise covariance is {@code factor·D/b}, with factor 1 with replacement and {@code (N − b)/(N − 1)} without
     * (theory.md §1: (1 − b/N) goes with D′ = N/(N − 1)·D); NaN when the scheme is unknown, or when it is without
     * replacement and N is unknown or smaller than b.
     */
    public static double finitePopulationFactor(long batchSize, long datasetSize, SamplingScheme scheme) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        return switch (scheme) {
            case WITH_REPLACEMENT -> 1.0;
            case WITHOUT_REPLACEMENT ->
                datasetSize >= batchSize && datasetSize >= 2
                        ? (double) (datasetSize - batchSize) / (datasetSize - 1)
                        : Double.NaN;
            case UNKNOWN -> Double.NaN;
        };
    }

    /**
     * The temperature as it multiplies D rather than D′: {@code η/(2b)} times {@link #finitePopulationFactor}, so
     * that {@code onD · tr D} is the SGD noise's magnitude with tr D from the 1/N definition. Equal to {@link #of}
     * with replacement and {@code N/(N − 1)} times it without.
     */
    public static double onD(double learningRate, long batchSize, long datasetSize, SamplingScheme scheme) {
        return learningRate / (2.0 * batchSize) * finitePopulationFactor(batchSize, datasetSize, scheme);
    }

    /**
     * The momentum-adjusted temperature {@code β⁻¹/(1 − μ)} (Smith et al. 2018), reported separately;
     * NaN when μ is unknown or ≥ 1.
     */
    public static double withMomentum(double temperature, double momentum) {
        if (Double.isNaN(momentum) || momentum >= 1) {
            return Double.NaN;
        }
        return temperature / (1.0 - momentum);
    }
}

package org.sgdnoise.diffusion;

/** How the training loop draws minibatches; decides the SGD temperature (theory.md §1). */
public enum SamplingScheme {
    /** Each batch draws b examples independently and uniformly: {@code β⁻¹ = η/(2b)}. */
    WITH_REPLACEMENT("with_replacement"),
    /** Each epoch visits a permutation of the N examples: {@code β⁻¹ = η/(2b)·(1 − b/N)}. */
    WITHOUT_REPLACEMENT("without_replacement"),
    /** Not known: the temperature is reported as unknown, never guessed. */
    UNKNOWN("unknown");

    private final String id;

    SamplingScheme(String id) {
        this.id = id;
    }

    /** The lowercase name written into records. */
    public String id() {
        return id;
    }
}

package org.sgdnoise.gradients;

import org.deeplearning4j.nn.api.Model;

/**
 * Where per-example gradients come from for a whole-data-set computation ({@code DatasetSpectrum}, the bootstrap's
 * second pass): a DL4J model through {@link PerExampleGradients}, or a SameDiff graph through {@link
 * SameDiffGradients}. Not modified by either: the model.
 */
public interface GradientSource {

    /** d, the columns of every block. */
    long numParams();

    /**
     * The gradients of (a prefix of) the given examples of {@code chunk}: a block of k ≥ 1 rows, fewer than asked
     * where a memory budget holds fewer.
     */
    GradientBlock compute(ProbeBatch chunk, int[] examples);

    /** How the last block was computed: "batched" or "exact". */
    String path();

    /** A DL4J MultiLayerNetwork or ComputationGraph's per-example gradients in the given mode. */
    static GradientSource of(Model model, ProbeMode mode) {
        PerExampleGradients engine = new PerExampleGradients(mode, PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES);
        return new GradientSource() {
            @Override
            public long numParams() {
                return model.numParams();
            }

            @Override
            public GradientBlock compute(ProbeBatch chunk, int[] examples) {
                return engine.compute(model, chunk, examples);
            }

            @Override
            public String path() {
                return engine.batched() ? "batched" : "exact";
            }
        };
    }
}

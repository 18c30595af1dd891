package org.sgdnoise.sampling;

import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.diffusion.SamplingScheme;

/**
 * Each batch draws b indices independently and uniformly from the N examples (repeats possible, within and
 * across batches): SGD at temperature η/(2b).
 */
public final class WithReplacementSampler extends MinibatchSampler {

    private static final long serialVersionUID = 1L;

    /** A sampler of batches of b over {@code data}, seeded. */
    public WithReplacementSampler(DataSet data, int batchSize, long seed) {
        super(data, batchSize, seed);
    }

    @Override
    public SamplingScheme scheme() {
        return SamplingScheme.WITH_REPLACEMENT;
    }

    @Override
    protected void onEpochStart() {}

    @Override
    protected int[] nextIndices(int batch) {
        int[] rows = new int[batchSize()];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = random.nextInt(datasetSize());
        }
        return rows;
    }
}

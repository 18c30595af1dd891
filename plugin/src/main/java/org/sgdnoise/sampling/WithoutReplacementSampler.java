package org.sgdnoise.sampling;

import java.util.Arrays;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.diffusion.SamplingScheme;

/**
 * Each epoch visits a fresh random permutation of the N examples, cut into batches of b: SGD at temperature
 * η/(2b)·(1 − b/N). Last-batch policy: when b does not divide N, the last batch of an epoch holds the
 * remaining N mod b examples (every example is visited exactly once per epoch); its temperature uses its
 * own size.
 */
public final class WithoutReplacementSampler extends MinibatchSampler {

    private static final long serialVersionUID = 1L;
    private int[] order;

    /** A sampler of batches of b over {@code data}, seeded. */
    public WithoutReplacementSampler(DataSet data, int batchSize, long seed) {
        super(data, batchSize, seed);
    }

    @Override
    public SamplingScheme scheme() {
        return SamplingScheme.WITHOUT_REPLACEMENT;
    }

    @Override
    protected void onEpochStart() {
        int n = datasetSize();
        order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = n - 1; i > 0; i--) { // Fisher–Yates
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }

    @Override
    protected int[] nextIndices(int batch) {
        int from = batch * batchSize();
        int to = Math.min(datasetSize(), from + batchSize());
        return Arrays.copyOfRange(order, from, to);
    }
}

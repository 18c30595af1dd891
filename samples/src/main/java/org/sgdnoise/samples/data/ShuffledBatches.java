package org.sgdnoise.samples.data;

import java.util.List;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Minibatches drawn without replacement: each epoch a fresh permutation of the N examples (its own seeded
 * {@link SplittableRandom}, never ND4J's global generator), cut into batches of b; the last batch of an
 * epoch holds the remaining {@code N mod b} examples when that is not zero. Optionally stops for good after
 * a total number of batches (across epochs). Not async: DL4J uses it as it is.
 */
public final class ShuffledBatches implements DataSetIterator {

    private static final long serialVersionUID = 1L;

    private final DataSet data;
    private final int batchSize;
    private final long seed;
    private final long maxBatches;
    private int[] order;
    private int epoch;
    private int cursor;
    private long served;

    /**
     * @param maxBatches total batches to serve across all epochs, or ≤ 0 for no limit
     */
    public ShuffledBatches(DataSet data, int batchSize, long seed, long maxBatches) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        this.data = data;
        this.batchSize = batchSize;
        this.seed = seed;
        this.maxBatches = maxBatches;
        shuffle();
    }

    private void shuffle() {
        int n = data.numExamples();
        order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        SplittableRandom r = new SplittableRandom(seed + 1_000_003L * epoch);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        cursor = 0;
    }

    /** N, the number of examples. */
    public int datasetSize() {
        return data.numExamples();
    }

    @Override
    public boolean hasNext() {
        return cursor < order.length && (maxBatches <= 0 || served < maxBatches);
    }

    @Override
    public DataSet next() {
        return next(batchSize);
    }

    @Override
    public DataSet next(int num) {
        if (!hasNext()) {
            throw new java.util.NoSuchElementException("no more batches this epoch");
        }
        int end = Math.min(order.length, cursor + num);
        int[] rows = java.util.Arrays.copyOfRange(order, cursor, end);
        cursor = end;
        served++;
        INDArray x = Nd4j.pullRows(data.getFeatures(), 1, rows);
        INDArray y = Nd4j.pullRows(data.getLabels(), 1, rows);
        return new DataSet(x, y);
    }

    @Override
    public int inputColumns() {
        return (int) data.getFeatures().size(1);
    }

    @Override
    public int totalOutcomes() {
        return (int) data.getLabels().size(1);
    }

    @Override
    public boolean resetSupported() {
        return true;
    }

    @Override
    public boolean asyncSupported() {
        return false;
    }

    /** Starts the next epoch with a new permutation. */
    @Override
    public void reset() {
        epoch++;
        shuffle();
    }

    @Override
    public int batch() {
        return batchSize;
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        throw new UnsupportedOperationException("no preprocessor support");
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return null;
    }

    @Override
    public List<String> getLabels() {
        return null;
    }
}

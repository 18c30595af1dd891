package org.sgdnoise.samples.data;

import java.util.List;
import java.util.NoSuchElementException;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * Stops an iterator for good after a total number of batches, across epochs ({@code --max-iterations}). Everything
 * else is the wrapped iterator's: its batches, resets and async policy, so a {@code DiffusionListener} still finds
 * the library sampler that served each batch.
 */
public final class MaxBatches implements DataSetIterator {

    private static final long serialVersionUID = 1L;

    private final DataSetIterator inner;
    private final long maxBatches;
    private long served;

    /**
     * Wraps {@code inner}.
     *
     * @param inner the iterator
     * @param maxBatches the total batches to serve, across epochs; 0 or less for no limit
     */
    public MaxBatches(DataSetIterator inner, long maxBatches) {
        this.inner = inner;
        this.maxBatches = maxBatches;
    }

    @Override
    public boolean hasNext() {
        return (maxBatches <= 0 || served < maxBatches) && inner.hasNext();
    }

    @Override
    public DataSet next() {
        if (!hasNext()) {
            throw new NoSuchElementException("no more batches (limit " + maxBatches + ")");
        }
        served++;
        return inner.next();
    }

    @Override
    public DataSet next(int num) {
        return next();
    }

    @Override
    public int inputColumns() {
        return inner.inputColumns();
    }

    @Override
    public int totalOutcomes() {
        return inner.totalOutcomes();
    }

    @Override
    public boolean resetSupported() {
        return inner.resetSupported();
    }

    @Override
    public boolean asyncSupported() {
        return inner.asyncSupported();
    }

    @Override
    public void reset() {
        inner.reset();
    }

    @Override
    public int batch() {
        return inner.batch();
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        inner.setPreProcessor(preProcessor);
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return inner.getPreProcessor();
    }

    @Override
    public List<String> getLabels() {
        return inner.getLabels();
    }
}

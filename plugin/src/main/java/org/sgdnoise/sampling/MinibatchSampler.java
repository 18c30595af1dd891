package org.sgdnoise.sampling;

import java.lang.ref.WeakReference;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.diffusion.SamplingScheme;

/**
 * A DL4J iterator over an in-memory {@link DataSet} that draws minibatches by a known scheme, with its own
 * seeded {@link SplittableRandom} (never ND4J's global generator, which belongs to training).
 *
 * <p>An epoch is ⌈N/b⌉ batches; {@code reset()} starts the next epoch with the next generator split off a
 * master seeded with {@code seed}, so a run is reproducible from the seed. Not async: DL4J uses it as it is, on
 * the training thread, which lets a {@code DiffusionListener} find the sampler that served the current batch
 * ({@link #lastOnThisThread()}) and take N, b and the scheme from it. Not thread-safe.
 */
public abstract class MinibatchSampler implements DataSetIterator {

    private static final long serialVersionUID = 1L;
    private static final ThreadLocal<WeakReference<MinibatchSampler>> LAST = new ThreadLocal<>();

    private final DataSet data;
    private final int batchSize;
    private final long seed;
    private final SplittableRandom master;
    private int epoch;
    private int served;
    private int lastBatchSize;
    /** The generator of the current epoch. */
    protected SplittableRandom random;

    protected MinibatchSampler(DataSet data, int batchSize, long seed) {
        if (data == null || data.getFeatures() == null || data.getLabels() == null) {
            throw new IllegalArgumentException("data must have features and labels");
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        if (batchSize > data.numExamples()) {
            throw new IllegalArgumentException("batchSize must be <= N = " + data.numExamples() + ", got " + batchSize);
        }
        this.data = data;
        this.batchSize = batchSize;
        this.seed = seed;
        this.master = new SplittableRandom(seed);
        startEpoch();
    }

    /** The sampler that last served a batch on the calling thread, or null. */
    public static MinibatchSampler lastOnThisThread() {
        WeakReference<MinibatchSampler> r = LAST.get();
        return r == null ? null : r.get();
    }

    /** N, the number of examples. */
    public int datasetSize() {
        return data.numExamples();
    }

    /** b, the nominal batch size. */
    public int batchSize() {
        return batchSize;
    }

    /** The size of the batch served last (the last batch of an epoch may be smaller without replacement). */
    public int lastBatchSize() {
        return lastBatchSize;
    }

    /** The seed. */
    public long seed() {
        return seed;
    }

    /** The current epoch, from 0. */
    public int epoch() {
        return epoch;
    }

    /** The sampling scheme. */
    public abstract SamplingScheme scheme();

    /** Batches per epoch: ⌈N/b⌉. */
    public int batchesPerEpoch() {
        return (datasetSize() + batchSize - 1) / batchSize;
    }

    private void startEpoch() {
        served = 0;
        // Each epoch splits an independent generator off the seeded master. (Seeds that differ by multiples
        // of SplittableRandom's own increment would give shifted copies of one stream.)
        random = master.split();
        onEpochStart();
    }

    /** Called at the start of each epoch, after {@link #random} is set. */
    protected abstract void onEpochStart();

    /** The example indices of the next batch of this epoch ({@code batch} is its position in the epoch). */
    protected abstract int[] nextIndices(int batch);

    @Override
    public boolean hasNext() {
        return served < batchesPerEpoch();
    }

    @Override
    public DataSet next() {
        if (!hasNext()) {
            throw new NoSuchElementException("epoch " + epoch + " is over; call reset()");
        }
        int[] rows = nextIndices(served++);
        lastBatchSize = rows.length;
        LAST.set(new WeakReference<>(this));
        return new DataSet(pick(data.getFeatures(), rows), pick(data.getLabels(), rows));
    }

    /** The examples {@code rows} (along dimension 0) of an array of any rank: images and sequences too. */
    private static INDArray pick(INDArray a, int[] rows) {
        if (a.rank() == 2) {
            return Nd4j.pullRows(a, 1, rows);
        }
        long[] shape = a.shape().clone();
        INDArray flat = a.reshape('c', shape[0], a.length() / shape[0]);
        shape[0] = rows.length;
        return Nd4j.pullRows(flat, 1, rows).reshape('c', shape);
    }

    @Override
    public DataSet next(int num) {
        return next();
    }

    /** Starts the next epoch. */
    @Override
    public void reset() {
        epoch++;
        startEpoch();
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

    @Override
    public int batch() {
        return batchSize;
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        throw new UnsupportedOperationException("samplers take preprocessed data; normalise the DataSet first");
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return null;
    }

    @Override
    public List<String> getLabels() {
        return null;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[N=" + datasetSize() + ", b=" + batchSize + ", seed=" + seed + "]";
    }
}

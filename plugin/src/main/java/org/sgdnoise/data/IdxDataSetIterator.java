package org.sgdnoise.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.NoSuchElementException;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.UserInputException;
import org.sgdnoise.sampling.WithoutReplacementSampler;

/**
 * A DL4J {@link DataSetIterator} over a pair of IDX files in the MNIST / Fashion-MNIST layout: images
 * {@code n×rows×cols} of unsigned bytes and labels {@code n} of class indices, each plain or gzip.
 *
 * <p>Features are float32 in [0, 1], either flattened ({@code [b, rows·cols]}, row-major, for dense networks and
 * {@code InputType.convolutionalFlat}) or images ({@code [b, 1, rows, cols]}, for {@code InputType.convolutional});
 * labels are one-hot {@code [b, classes]}. The examples are loaded into memory once (Fashion-MNIST's 60,000
 * training images take 188 MB as float32). An epoch serves every example once, in file order or, with a seed,
 * in a fresh permutation per epoch from the library's {@link WithoutReplacementSampler} (its own seeded generator,
 * never ND4J's, which belongs to training; a DiffusionListener then reads N and the scheme from it by itself); the
 * last batch holds the remaining {@code n mod b} examples. Not async, not thread-safe.
 *
 * <pre>{@code
 * DataSetIterator train = new IdxDataSetIterator.Builder(Path.of("/usr/share/datasets/fashion-mnist"), true)
 *         .batchSize(64).shuffle(42).shape(IdxDataSetIterator.Shape.IMAGES).build();
 * }</pre>
 *
 * <p>Errors: missing or malformed files raise {@link UserInputException} naming the file and what was found.
 */
public final class IdxDataSetIterator implements DataSetIterator {

    /** Default batch size b: 64. */
    public static final int DEFAULT_BATCH_SIZE = 64;

    private static final long serialVersionUID = 1L;

    /** How the features of a batch are laid out. */
    public enum Shape {
        /** {@code [b, rows·cols]}, each image flattened row-major. */
        FLAT,
        /** {@code [b, 1, rows, cols]}, one channel (NCHW). */
        IMAGES
    }

    private final INDArray features;
    private final INDArray labels;
    private final int batchSize;
    private final Long seed;
    private final Shape shape;
    private final int rows;
    private final int cols;
    private final String source;
    /** The shuffled order, or null for file order. */
    private final WithoutReplacementSampler sampler;

    private int cursor;
    private int epoch;
    private DataSetPreProcessor preProcessor;

    private IdxDataSetIterator(Builder b, INDArray features, INDArray labels, int rows, int cols) {
        this.features = features;
        this.labels = labels;
        this.batchSize = b.batchSize;
        this.seed = b.seed;
        this.shape = b.shape;
        this.rows = rows;
        this.cols = cols;
        this.source = b.images.toString();
        this.sampler =
                seed == null ? null : new WithoutReplacementSampler(new DataSet(features, labels), batchSize, seed);
    }

    /** Builds an {@link IdxDataSetIterator}; every setting has a default but the files. */
    public static final class Builder {
        private final Path images;
        private final Path labels;
        private int batchSize = DEFAULT_BATCH_SIZE;
        private Long seed;
        private Shape shape = Shape.FLAT;
        private int classes = FashionMnist.CLASSES;
        private int limit = Integer.MAX_VALUE;

        /**
         * Reads an image file and its label file.
         *
         * @param images IDX images, {@code n×rows×cols} unsigned bytes, plain or gzip
         * @param labels IDX labels, {@code n} class indices, plain or gzip
         */
        public Builder(Path images, Path labels) {
            if (images == null || labels == null) {
                throw new IllegalArgumentException("images and labels must be given, got " + images + " and " + labels);
            }
            this.images = images;
            this.labels = labels;
        }

        /**
         * Reads one split of a Fashion-MNIST (or MNIST) folder: {@code train-images-idx3-ubyte[.gz]} and
         * {@code train-labels-idx1-ubyte[.gz]}, or the {@code t10k-} pair.
         *
         * @param dir the folder
         * @param train true for the training split, false for the test split
         * @throws UserInputException when the folder lacks either file of the split
         */
        public Builder(Path dir, boolean train) {
            this(
                    need(dir, train ? FashionMnist.TRAIN_IMAGES : FashionMnist.TEST_IMAGES),
                    need(dir, train ? FashionMnist.TRAIN_LABELS : FashionMnist.TEST_LABELS));
        }

        private static Path need(Path dir, String base) {
            if (dir == null || !Files.isDirectory(dir)) {
                throw new UserInputException("data directory " + dir + " does not exist or is not a directory");
            }
            Path p = FashionMnist.find(dir, base);
            if (p == null) {
                throw new UserInputException(dir + " has no " + base + "[.gz]");
            }
            return p;
        }

        /**
         * The batch size b; default {@value IdxDataSetIterator#DEFAULT_BATCH_SIZE}.
         *
         * @param batchSize at least 1
         * @return this builder
         */
        public Builder batchSize(int batchSize) {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
            }
            this.batchSize = batchSize;
            return this;
        }

        /**
         * Shuffles: each epoch is a fresh permutation drawn from a generator seeded with {@code seed}. Default: no
         * shuffle, file order.
         *
         * @param seed the seed; the same seed gives the same sequence of batches
         * @return this builder
         */
        public Builder shuffle(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * The feature layout; default {@link Shape#FLAT}.
         *
         * @param shape flattened rows or one-channel images
         * @return this builder
         */
        public Builder shape(Shape shape) {
            if (shape == null) {
                throw new IllegalArgumentException("shape must be FLAT or IMAGES, got null");
            }
            this.shape = shape;
            return this;
        }

        /**
         * The number of classes, the width of the one-hot labels; default 10.
         *
         * @param classes at least 2; every label must lie in {@code [0, classes)}
         * @return this builder
         */
        public Builder classes(int classes) {
            if (classes < 2 || classes > 256) {
                throw new IllegalArgumentException("classes must be in [2, 256], got " + classes);
            }
            this.classes = classes;
            return this;
        }

        /**
         * Keeps only the first {@code limit} examples of the files; default all.
         *
         * @param limit at least 1
         * @return this builder
         */
        public Builder limit(int limit) {
            if (limit < 1) {
                throw new IllegalArgumentException("limit must be >= 1, got " + limit);
            }
            this.limit = limit;
            return this;
        }

        /**
         * Reads the files and builds the iterator.
         *
         * @return a new iterator at the start of epoch 0
         * @throws UserInputException for missing or malformed files, mismatched sizes or labels out of range
         */
        public IdxDataSetIterator build() {
            Idx.Array img = read(images);
            Idx.Array lab = read(labels);
            int[] d = img.dims();
            if (d.length != 3) {
                throw new UserInputException(images + ": expected images n×rows×cols, got dims " + Arrays.toString(d));
            }
            if (lab.dims().length != 1) {
                throw new UserInputException(
                        labels + ": expected a 1-dimensional label file, got dims " + Arrays.toString(lab.dims()));
            }
            if (d[0] != lab.count()) {
                throw new UserInputException(images + ": " + d[0] + " images but " + lab.count() + " labels");
            }
            int n = d[0];
            if (n < 1) {
                throw new UserInputException(images + " holds no examples");
            }
            int px = img.itemSize();
            float[] x = new float[n * px];
            byte[] bytes = img.data();
            for (int i = 0; i < x.length; i++) {
                x[i] = FashionMnist.pixel(bytes[i]);
            }
            float[] y = new float[n * classes];
            for (int i = 0; i < n; i++) {
                int c = lab.data()[i] & 0xff;
                if (c >= classes) {
                    throw new UserInputException(
                            labels + ": label " + c + " at example " + i + " is not a class in [0, " + classes + ")");
                }
                y[i * classes + c] = 1f;
            }
            INDArray fx = Nd4j.create(x, new long[] {n, px}, 'c').castTo(DataType.FLOAT);
            INDArray fy = Nd4j.create(y, new long[] {n, classes}, 'c').castTo(DataType.FLOAT);
            return new IdxDataSetIterator(this, fx, fy, d[1], d[2]);
        }

        private Idx.Array read(Path file) {
            if (!Files.isRegularFile(file)) {
                throw new UserInputException("data file " + file + " does not exist");
            }
            try (InputStream in = Files.newInputStream(file)) {
                return Idx.read(file.toString(), in, limit);
            } catch (IOException e) {
                throw new UserInputException("cannot read " + file + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * The number of examples N.
     *
     * @return the examples served per epoch
     */
    public int numExamples() {
        return (int) features.size(0);
    }

    /**
     * The feature layout of the batches.
     *
     * @return {@link Shape#FLAT} or {@link Shape#IMAGES}
     */
    public Shape shape() {
        return shape;
    }

    /**
     * The current epoch, from 0; {@link #reset()} advances it.
     *
     * @return the epoch
     */
    public int epoch() {
        return epoch;
    }

    @Override
    public boolean hasNext() {
        return sampler != null ? sampler.hasNext() : cursor < numExamples();
    }

    @Override
    public DataSet next() {
        return next(batchSize);
    }

    @Override
    public DataSet next(int num) {
        if (num < 1) {
            throw new IllegalArgumentException("num must be >= 1, got " + num);
        }
        if (!hasNext()) {
            throw new NoSuchElementException("epoch " + epoch + " is over; call reset()");
        }
        DataSet flat;
        if (sampler != null) {
            flat = sampler.next(); // batches of the configured size, as the library samplers serve them
        } else {
            int end = Math.min(numExamples(), cursor + num);
            int[] idx = new int[end - cursor];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = cursor + i;
            }
            cursor = end;
            flat = new DataSet(Nd4j.pullRows(features, 1, idx), Nd4j.pullRows(labels, 1, idx));
        }
        INDArray x = flat.getFeatures();
        if (shape == Shape.IMAGES) {
            x = x.reshape('c', x.size(0), 1, rows, cols);
        }
        DataSet ds = new DataSet(x, flat.getLabels());
        if (preProcessor != null) {
            preProcessor.preProcess(ds);
        }
        return ds;
    }

    @Override
    public int inputColumns() {
        return rows * cols;
    }

    @Override
    public int totalOutcomes() {
        return (int) labels.size(1);
    }

    @Override
    public boolean resetSupported() {
        return true;
    }

    @Override
    public boolean asyncSupported() {
        return false;
    }

    /** Starts the next epoch: from the first example again, in a new permutation when shuffling. */
    @Override
    public void reset() {
        epoch++;
        cursor = 0;
        if (sampler != null) {
            sampler.reset();
        }
    }

    @Override
    public int batch() {
        return batchSize;
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        this.preProcessor = preProcessor;
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return preProcessor;
    }

    @Override
    public List<String> getLabels() {
        return null;
    }

    @Override
    public String toString() {
        return "IdxDataSetIterator[" + source + ", N=" + numExamples() + ", b=" + batchSize + ", shape=" + shape
                + ", shuffle=" + (seed == null ? "none" : "seed " + seed) + "]";
    }
}

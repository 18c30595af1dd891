package org.sgdnoise.samples.data;

import java.io.IOException;
import java.io.InputStream;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.data.Idx;

/**
 * The small Fashion-MNIST sample shipped in the samples jar (2,000 training and 500 test images, the first ones
 * of each split, written by {@link BuiltinDataGenerator}), so that the quick start runs without a download.
 */
public final class BuiltinData {

    /** Classpath folder of the built-in sample's four gzip IDX files. */
    public static final String FOLDER = "/org/sgdnoise/samples/builtin/";

    private BuiltinData() {}

    /**
     * Loads the built-in sample.
     *
     * @return both splits, with source {@code builtin}
     * @throws IllegalStateException when the jar lacks the sample
     */
    public static FashionMnist.Data load() {
        try {
            DataSet train = FashionMnist.fromIdx(
                    "builtin " + FashionMnist.TRAIN_IMAGES,
                    read(FashionMnist.TRAIN_IMAGES),
                    read(FashionMnist.TRAIN_LABELS));
            DataSet test = FashionMnist.fromIdx(
                    "builtin " + FashionMnist.TEST_IMAGES,
                    read(FashionMnist.TEST_IMAGES),
                    read(FashionMnist.TEST_LABELS));
            return new FashionMnist.Data(train, test, "builtin");
        } catch (IOException e) {
            throw new IllegalStateException("the built-in data set is missing from the jar", e);
        }
    }

    /**
     * Opens one of the four files, gzip-compressed.
     *
     * @param name the file name without {@code .gz}, such as {@link FashionMnist#TRAIN_IMAGES}
     * @return the stream, to be closed by the caller
     * @throws IOException when the jar lacks it
     */
    public static InputStream open(String name) throws IOException {
        InputStream in = BuiltinData.class.getResourceAsStream(FOLDER + name + ".gz");
        if (in == null) {
            throw new IOException("resource " + FOLDER + name + ".gz not found");
        }
        return in;
    }

    private static Idx.Array read(String name) throws IOException {
        try (InputStream in = open(name)) {
            return Idx.read(name, in, Integer.MAX_VALUE);
        }
    }
}

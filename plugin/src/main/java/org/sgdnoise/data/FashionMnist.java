package org.sgdnoise.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.UserInputException;

/**
 * Loads Fashion-MNIST (or MNIST) from a folder of the four IDX files, plain or gzip.
 *
 * <p>Features: float32 in [0, 1], shape [n, 784] (flattened 28×28, row-major). Labels: one-hot [n, 10]. For
 * batches, a shuffle or the image shape {@code [n, 1, 28, 28]}, use {@link IdxDataSetIterator}. Stateless.
 */
public final class FashionMnist {

    /** Where the Debian package {@code dataset-fashion-mnist} installs the data. */
    public static final Path SYSTEM_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    /** File name of the training images, without {@code .gz}. */
    public static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
    /** File name of the training labels, without {@code .gz}. */
    public static final String TRAIN_LABELS = "train-labels-idx1-ubyte";
    /** File name of the test images, without {@code .gz}. */
    public static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
    /** File name of the test labels, without {@code .gz}. */
    public static final String TEST_LABELS = "t10k-labels-idx1-ubyte";
    /** The number of classes, 10. */
    public static final int CLASSES = 10;
    /** Image height and width in pixels, 28. */
    public static final int SIDE = 28;

    /**
     * A loaded split pair and where it came from.
     *
     * @param train the training split
     * @param test the test split
     * @param source the folder's absolute path, or another description of the origin
     */
    public record Data(DataSet train, DataSet test, String source) {}

    private FashionMnist() {}

    /** True when {@code dir} holds the four Fashion-MNIST files (plain or .gz). */
    public static boolean isPresent(Path dir) {
        return find(dir, TRAIN_IMAGES) != null
                && find(dir, TRAIN_LABELS) != null
                && find(dir, TEST_IMAGES) != null
                && find(dir, TEST_LABELS) != null;
    }

    /**
     * Loads the four IDX files of {@code dir}.
     *
     * @param trainLimit keep at most this many training examples (the first ones)
     * @param testLimit keep at most this many test examples
     * @throws UserInputException when the folder or a file is missing or malformed
     */
    public static Data load(Path dir, int trainLimit, int testLimit) {
        if (!Files.isDirectory(dir)) {
            throw new UserInputException("data directory " + dir + " does not exist or is not a directory");
        }
        try {
            DataSet train = pair(dir, TRAIN_IMAGES, TRAIN_LABELS, trainLimit);
            DataSet test = pair(dir, TEST_IMAGES, TEST_LABELS, testLimit);
            return new Data(train, test, dir.toAbsolutePath().toString());
        } catch (IOException e) {
            throw new UserInputException("cannot read " + dir + ": " + e.getMessage(), e);
        }
    }

    private static DataSet pair(Path dir, String images, String labels, int limit) throws IOException {
        Path ip = find(dir, images);
        Path lp = find(dir, labels);
        if (ip == null || lp == null) {
            throw new UserInputException(dir + " has no " + (ip == null ? images : labels)
                    + "[.gz]; expected the four Fashion-MNIST IDX files (apt-get install dataset-fashion-mnist)");
        }
        Idx.Array img;
        Idx.Array lab;
        try (InputStream in = Files.newInputStream(ip)) {
            img = Idx.read(ip.toString(), in, limit);
        }
        try (InputStream in = Files.newInputStream(lp)) {
            lab = Idx.read(lp.toString(), in, limit);
        }
        return fromIdx(ip.toString(), img, lab);
    }

    /**
     * The file {@code base.gz} or {@code base} in {@code dir}, the compressed one first.
     *
     * @return the file, or null when neither exists
     */
    public static Path find(Path dir, String base) {
        for (String name : new String[] {base + ".gz", base}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }

    /**
     * Checks the sizes of an image file and its label file: n×28×28 images, n labels.
     *
     * @throws UserInputException naming {@code name} and the sizes found
     */
    public static void checkPair(String name, int[] imageDims, int[] labelDims) {
        if (imageDims.length != 3 || imageDims[1] != SIDE || imageDims[2] != SIDE) {
            throw new UserInputException(name + ": expected images of 28×28, got dims " + Arrays.toString(imageDims));
        }
        if (labelDims.length != 1) {
            throw new UserInputException(
                    name + ": expected a 1-dimensional label file, got dims " + Arrays.toString(labelDims));
        }
        if (imageDims[0] != labelDims[0]) {
            throw new UserInputException(name + ": " + imageDims[0] + " images but " + labelDims[0] + " labels");
        }
    }

    /** A pixel byte as the feature value the models see, in [0, 1]. */
    public static float pixel(byte b) {
        return (b & 0xff) / 255f;
    }

    /**
     * A label byte as a class index.
     *
     * @param name the file's name, for the message
     * @param b the label byte
     * @param index the example's index, for the message
     * @throws UserInputException when it is not a class 0-9
     */
    public static int label(String name, byte b, long index) {
        int c = b & 0xff;
        if (c >= CLASSES) {
            throw new UserInputException(name + ": label " + c + " at example " + index + " is not a class 0-9");
        }
        return c;
    }

    /**
     * Converts IDX images (n×28×28) and labels (n) into a DataSet of float32 features in [0, 1], shape
     * {@code [n, 784]}, and one-hot labels {@code [n, 10]}.
     *
     * @param name the images' file name, for messages
     * @throws UserInputException when the sizes do not pair up or a label is not a class 0-9
     */
    public static DataSet fromIdx(String name, Idx.Array img, Idx.Array lab) {
        checkPair(name, img.dims(), lab.dims());
        int n = img.count();
        int px = img.itemSize();
        float[] x = new float[n * px];
        byte[] b = img.data();
        for (int i = 0; i < x.length; i++) {
            x[i] = pixel(b[i]);
        }
        float[] y = new float[n * CLASSES];
        for (int i = 0; i < n; i++) {
            y[i * CLASSES + label(name, lab.data()[i], i)] = 1f;
        }
        INDArray features = Nd4j.create(x, new long[] {n, px}, 'c');
        INDArray labels = Nd4j.create(y, new long[] {n, CLASSES}, 'c');
        return new DataSet(features.castTo(DataType.FLOAT), labels.castTo(DataType.FLOAT));
    }
}

package org.sgdnoise.samples.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.data.Idx;

/**
 * Regenerates the built-in data set in {@code samples/src/main/resources/org/sgdnoise/samples/builtin}:
 * the first 2,000 training and first 500 test images (and labels) of Fashion-MNIST (MIT licence), from the
 * Debian package {@code dataset-fashion-mnist}.
 *
 * <pre>
 * java -cp samples/target/sgdnoise-samples.jar org.sgdnoise.samples.data.BuiltinDataGenerator \
 *     /usr/share/datasets/fashion-mnist samples/src/main/resources/org/sgdnoise/samples/builtin
 * </pre>
 */
public final class BuiltinDataGenerator {

    static final int TRAIN = 2000;
    static final int TEST = 500;

    private BuiltinDataGenerator() {}

    public static void main(String[] args) throws IOException {
        Path in = Path.of(args.length > 0 ? args[0] : FashionMnist.SYSTEM_DIR.toString());
        Path out = Path.of(args.length > 1 ? args[1] : "samples/src/main/resources/org/sgdnoise/samples/builtin");
        Files.createDirectories(out);
        copy(in, out, FashionMnist.TRAIN_IMAGES, TRAIN);
        copy(in, out, FashionMnist.TRAIN_LABELS, TRAIN);
        copy(in, out, FashionMnist.TEST_IMAGES, TEST);
        copy(in, out, FashionMnist.TEST_LABELS, TEST);
    }

    private static void copy(Path in, Path out, String name, int limit) throws IOException {
        Idx.Array a;
        try (InputStream s = Files.newInputStream(in.resolve(name + ".gz"))) {
            a = Idx.read(name, s, limit);
        }
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(out.resolve(name + ".gz")))) {
            Idx.write(a, o);
        }
    }
}

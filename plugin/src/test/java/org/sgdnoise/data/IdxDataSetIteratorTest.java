package org.sgdnoise.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.UserInputException;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.sampling.MinibatchSampler;

public class IdxDataSetIteratorTest {

    private static final int N = 23;
    private static final int SIDE = 28;

    @TempDir
    Path dir;

    /** Writes a Fashion-MNIST-style training pair: image i has every pixel equal to i, label i mod 10. */
    public static Path write(Path dir, int n, boolean gzip) throws Exception {
        byte[] img = new byte[n * SIDE * SIDE];
        byte[] lab = new byte[n];
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < SIDE * SIDE; p++) {
                img[i * SIDE * SIDE + p] = (byte) i;
            }
            lab[i] = (byte) (i % 10);
        }
        Files.createDirectories(dir);
        String ext = gzip ? ".gz" : "";
        write(new Idx.Array(new int[] {n, SIDE, SIDE}, img), dir.resolve(FashionMnist.TRAIN_IMAGES + ext), gzip);
        write(new Idx.Array(new int[] {n}, lab), dir.resolve(FashionMnist.TRAIN_LABELS + ext), gzip);
        return dir;
    }

    private static void write(Idx.Array a, Path file, boolean gzip) throws Exception {
        OutputStream raw = Files.newOutputStream(file);
        try (OutputStream out = gzip ? new GZIPOutputStream(raw) : raw) {
            Idx.write(a, out);
        }
    }

    /** The example index of each row of a batch (pixel value × 255). */
    private static List<Integer> indices(DataSet batch) {
        List<Integer> out = new ArrayList<>();
        for (int r = 0; r < batch.numExamples(); r++) {
            double px = batch.getFeatures().getRow(r).getDouble(0);
            out.add((int) Math.round(px * 255));
        }
        return out;
    }

    private static List<Integer> epoch(IdxDataSetIterator it, List<Integer> sizes) {
        List<Integer> seen = new ArrayList<>();
        while (it.hasNext()) {
            DataSet b = it.next();
            sizes.add(b.numExamples());
            seen.addAll(indices(b));
        }
        return seen;
    }

    @Test
    void flatBatchesInFileOrderWithAShortLastBatch() throws Exception {
        for (boolean gzip : new boolean[] {true, false}) {
            Path d = write(dir.resolve("gz-" + gzip), N, gzip);
            IdxDataSetIterator it =
                    new IdxDataSetIterator.Builder(d, true).batchSize(5).build();
            assertThat(it.numExamples()).isEqualTo(N);
            DataSet first = it.next();
            assertThat(first.getFeatures().shape()).containsExactly(5, SIDE * SIDE);
            assertThat(first.getLabels().shape()).containsExactly(5, 10);
            assertThat(first.getLabels().getDouble(3, 3)).isEqualTo(1.0);
            assertThat(first.getFeatures().getDouble(2, 100)).isEqualTo(2 / 255.0, offset(1e-7));
            List<Integer> sizes = new ArrayList<>();
            List<Integer> rest = epoch(it, sizes);
            assertThat(sizes).containsExactly(5, 5, 5, 3);
            assertThat(rest.get(0)).isEqualTo(5);
            assertThat(rest.get(rest.size() - 1)).isEqualTo(N - 1);
        }
    }

    @Test
    void imageShapeIsOneChannelNchw() throws Exception {
        Path d = write(dir, N, true);
        DataSet b = new IdxDataSetIterator.Builder(d, true)
                .batchSize(4)
                .shape(IdxDataSetIterator.Shape.IMAGES)
                .build()
                .next();
        assertThat(b.getFeatures().shape()).containsExactly(4, 1, SIDE, SIDE);
        assertThat(b.getFeatures().getDouble(3, 0, 27, 27)).isEqualTo(3 / 255.0, offset(1e-7));
    }

    @Test
    void aSeedGivesReproduciblePermutationsThatChangeEachEpoch() throws Exception {
        Path d = write(dir, N, true);
        IdxDataSetIterator a =
                new IdxDataSetIterator.Builder(d, true).batchSize(4).shuffle(7).build();
        IdxDataSetIterator b =
                new IdxDataSetIterator.Builder(d, true).batchSize(4).shuffle(7).build();
        List<Integer> a0 = epoch(a, new ArrayList<>());
        assertThat(epoch(b, new ArrayList<>())).isEqualTo(a0);
        assertThat(a0)
                .containsExactlyInAnyOrderElementsOf(
                        epoch(new IdxDataSetIterator.Builder(d, true).build(), new ArrayList<>()));
        a.reset();
        List<Integer> a1 = epoch(a, new ArrayList<>());
        assertThat(a1).isNotEqualTo(a0).containsExactlyInAnyOrderElementsOf(a0);
        assertThat(a.epoch()).isEqualTo(1);
        assertThat(a.asyncSupported()).isFalse();
    }

    @Test
    void shuffledBatchesComeFromTheLibrarySamplerSoTheListenerSeesNAndTheScheme() throws Exception {
        Path d = write(dir, N, true);
        IdxDataSetIterator it = new IdxDataSetIterator.Builder(d, true)
                .batchSize(4)
                .shuffle(7)
                .shape(IdxDataSetIterator.Shape.IMAGES)
                .build();
        DataSet first = it.next();
        MinibatchSampler served = MinibatchSampler.lastOnThisThread();
        assertThat(served).isNotNull();
        assertThat(served.scheme()).isEqualTo(SamplingScheme.WITHOUT_REPLACEMENT);
        assertThat(served.datasetSize()).isEqualTo(N);
        assertThat(served.lastBatchSize()).isEqualTo(4);
        assertThat(first.getFeatures().shape()).containsExactly(4, 1, 28, 28);
    }

    @Test
    void limitKeepsTheFirstExamples() throws Exception {
        Path d = write(dir, N, false);
        IdxDataSetIterator it =
                new IdxDataSetIterator.Builder(d, true).limit(6).batchSize(100).build();
        assertThat(indices(it.next())).containsExactly(0, 1, 2, 3, 4, 5);
        assertThat(it.hasNext()).isFalse();
    }

    @Test
    void badInputNamesTheFileAndBadSettingsTheBound() throws Exception {
        Path d = write(dir, N, true);
        assertThatThrownBy(() -> new IdxDataSetIterator.Builder(d, false).build())
                .isInstanceOf(UserInputException.class)
                .hasMessageContaining("has no t10k-images-idx3-ubyte");
        assertThatThrownBy(
                        () -> new IdxDataSetIterator.Builder(d, true).classes(5).build())
                .isInstanceOf(UserInputException.class)
                .hasMessageContaining("label 5 at example 5 is not a class in [0, 5)");
        assertThatThrownBy(() -> new IdxDataSetIterator.Builder(d, true).batchSize(0))
                .hasMessage("batchSize must be >= 1, got 0");
        assertThatThrownBy(() -> new IdxDataSetIterator.Builder(d, true).limit(-5))
                .hasMessage("limit must be >= 1, got -5");
        byte[] raw = new byte[100];
        new Random(1).nextBytes(raw);
        Path junk = dir.resolve("junk");
        Files.write(junk, raw);
        Path labels = d.resolve(FashionMnist.TRAIN_LABELS + ".gz");
        assertThatThrownBy(() -> new IdxDataSetIterator.Builder(junk, labels).build())
                .isInstanceOf(UserInputException.class)
                .hasMessageContaining("junk");
    }
}

package org.sgdnoise.diffusion;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

import java.nio.file.Path;
import java.util.Map;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.ViewIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.IdxDataSetIterator;
import org.sgdnoise.data.IdxDataSetIteratorTest;
import org.sgdnoise.data.ModelFiles;
import org.sgdnoise.diffusion.DatasetSpectrum.Options;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.testing.TestNetworks;

/** {@link DatasetSpectrum#compute} over DL4J iterators, for any input shape: a CNN on [n, 1, 28, 28] images. */
class DatasetSpectrumIteratorTest {

    /** Relative agreement of traces computed over the same examples in different chunkings. */
    private static final double TOLERANCE = 1e-9;

    @TempDir
    Path dir;

    /** A CNN that takes images [n, 1, 28, 28] (InputType.convolutional, no flat-input preprocessor). */
    private static MultiLayerNetwork imageCnn(boolean flatInput) {
        MultiLayerNetwork net = TestNetworks.imageCnn28(5, Activation.TANH, flatInput, DataType.DOUBLE, new Sgd(0.1));
        return net;
    }

    @Test
    void aCnnOnImagesFromAnIdxIteratorMatchesTheWholeDataSetInOneChunk() throws Exception {
        Path idx = IdxDataSetIteratorTest.write(dir.resolve("idx"), 30, true);
        MultiLayerNetwork cnn = imageCnn(false);
        assertThat(ModelFiles.takesImages(cnn)).isTrue();
        IdxDataSetIterator it = new IdxDataSetIterator.Builder(idx, true)
                .batchSize(7)
                .shape(IdxDataSetIterator.Shape.IMAGES)
                .build();
        DatasetSpectrum s = DatasetSpectrum.compute(cnn, it, new DatasetSpectrum.Options(16, true, 0, ProbeMode.EVAL));
        assertThat(s.examples()).isEqualTo(30);
        assertThat(s.numParams()).isEqualTo(cnn.numParams());

        DataSet all = new IdxDataSetIterator.Builder(idx, true)
                .batchSize(30)
                .shape(IdxDataSetIterator.Shape.IMAGES)
                .build()
                .next();
        all = new DataSet(
                all.getFeatures().castTo(DataType.DOUBLE), all.getLabels().castTo(DataType.DOUBLE));
        DatasetSpectrum one = new DatasetSpectrum(cnn, ProbeMode.EVAL, 16, true);
        one.add(ProbeBatch.of(all));
        double trace = one.sketched().trace();
        assertThat(trace).isPositive();
        assertThat(s.sketched().trace()).isCloseTo(trace, offset(TOLERANCE * trace));
        double[] exact = s.exactEigenvalues();
        double sum = 0;
        for (double e : exact) {
            sum += e;
        }
        assertThat(sum).isCloseTo(trace, offset(1e-7 * trace));

        Map<String, Object> report = SpectrumReport.of(s, "cnn", "idx", 0.5, Map.of("extra", 1));
        assertThat(report)
                .containsEntry("num_examples", 30L)
                .containsKey("gradient_path")
                .containsEntry("extra", 1);
        assertThat(((Map<?, ?>) report.get("method")).get("name")).isEqualTo("exact");
    }

    @Test
    void limitStopsInsideABatchAndFlatRowsAreReshapedForAnImageModel() throws Exception {
        Path idx = IdxDataSetIteratorTest.write(dir.resolve("idx"), 30, false);
        MultiLayerNetwork cnn = imageCnn(false);
        DataSet flat =
                new IdxDataSetIterator.Builder(idx, true).batchSize(30).build().next();
        flat = new DataSet(
                flat.getFeatures().castTo(DataType.DOUBLE), flat.getLabels().castTo(DataType.DOUBLE));
        DataSet flatCopy = flat;
        assertThatThrownBy(() -> DatasetSpectrum.compute(cnn, new ViewIterator(flatCopy, 8), Options.sketch(8)))
                .isInstanceOf(UserInputException.class)
                .hasMessageStartingWith("the model and the data do not fit");
        DataSet shaped = ModelFiles.shapedFor(cnn, flat);
        assertThat(shaped.getFeatures().shape()).containsExactly(30, 1, 28, 28);
        DatasetSpectrum s = DatasetSpectrum.compute(
                cnn, new ViewIterator(shaped, 8), new DatasetSpectrum.Options(8, false, 13, ProbeMode.EVAL));
        assertThat(s.examples()).isEqualTo(13);

        MultiLayerNetwork flatCnn = imageCnn(true);
        assertThat(ModelFiles.takesImages(flatCnn)).isFalse();
        assertThat(ModelFiles.shapedFor(flatCnn, flat)).isSameAs(flat);
        assertThat(DatasetSpectrum.compute(flatCnn, new ViewIterator(flat, 8), DatasetSpectrum.Options.sketch(8))
                        .examples())
                .isEqualTo(30);
    }

    @Test
    void optionsAndTooFewExamplesAreUserErrors() {
        assertThatThrownBy(() -> new DatasetSpectrum.Options(1, false, 0, ProbeMode.EVAL))
                .isInstanceOf(UserInputException.class)
                .hasMessage("sketch-size must be >= 2, got 1");
        assertThatThrownBy(() -> new DatasetSpectrum.Options(4, false, -5, ProbeMode.EVAL))
                .isInstanceOf(UserInputException.class)
                .hasMessage("limit must be >= 0, got -5");
        MultiLayerNetwork cnn = imageCnn(false);
        DataSet one = new DataSet(
                Nd4j.rand(DataType.DOUBLE, 1, 1, 28, 28),
                Nd4j.eye(10).getRow(0).reshape(1, 10).castTo(DataType.DOUBLE));
        assertThatThrownBy(() -> DatasetSpectrum.compute(cnn, new ViewIterator(one, 4), Options.sketch(4)))
                .isInstanceOf(UserInputException.class)
                .hasMessage("the data holds 1 example(s); D needs at least 2");
    }
}

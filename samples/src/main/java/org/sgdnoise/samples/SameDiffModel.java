package org.sgdnoise.samples;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.ModelFiles;
import org.sgdnoise.gradients.SameDiffGradients;

/**
 * A saved SameDiff graph ({@code SameDiff.save}) as the {@code spectrum} and {@code curvature} commands read it: one
 * feature and one label placeholder (those its TrainingConfig maps, or those named), its per-example gradients, and
 * how the data are shaped for it.
 *
 * @param file the graph's file
 * @param graph the graph
 * @param source its per-example gradients, on a private copy
 * @param classes the label placeholder's width
 * @param dataType the trained variables' data type
 */
record SameDiffModel(Path file, SameDiff graph, SameDiffGradients source, int classes, DataType dataType) {

    /**
     * Loads the graph and checks its placeholders.
     *
     * @param features the feature placeholder, or null for the TrainingConfig's
     * @param labels the label placeholder, or null for the TrainingConfig's
     * @throws UserInputException naming the file and what is missing
     */
    static SameDiffModel load(Path file, List<String> features, List<String> labels) {
        SameDiff sd = ModelFiles.loadSameDiff(file);
        TrainingConfig tc = sd.getTrainingConfig();
        List<String> f = features != null
                ? features
                : tc == null || tc.getDataSetFeatureMapping() == null ? List.of() : tc.getDataSetFeatureMapping();
        List<String> l = labels != null
                ? labels
                : tc == null || tc.getDataSetLabelMapping() == null ? List.of() : tc.getDataSetLabelMapping();
        UserInputException.require(
                f.size() == 1 && l.size() == 1,
                file + ": the command feeds one feature and one label placeholder; the graph's placeholders are "
                        + sd.inputs() + " and its file maps features " + f + " and labels " + l
                        + ": name them with --features and --labels");
        SameDiffGradients source;
        try {
            source = SameDiffGradients.of(sd, f, l);
        } catch (IllegalArgumentException e) {
            throw new UserInputException(file + ": " + e.getMessage(), e);
        }
        long[] labelShape = sd.getVariable(l.get(0)).placeholderShape();
        UserInputException.require(
                labelShape != null && labelShape.length == 2 && labelShape[1] > 0,
                "the label placeholder " + l.get(0) + " must have shape [-1, classes], got "
                        + Arrays.toString(labelShape));
        DataType dt = sd.getVariable(source.variables().get(0)).dataType();
        return new SameDiffModel(file, sd, source, (int) labelShape[1], dt);
    }

    /** The examples of {@code flat} (features as rows) reshaped to the feature placeholder's shape. */
    DataSet shaped(DataSet flat) {
        String feature = source.features().get(0);
        long[] shape = graph.getVariable(feature).placeholderShape();
        INDArray x = flat.getFeatures();
        if (shape != null && shape.length > 2) { // images: [-1, c, h, w] from flat rows
            long[] target = shape.clone();
            target[0] = x.rows();
            x = x.reshape('c', target);
        }
        return new DataSet(x, flat.getLabels());
    }
}

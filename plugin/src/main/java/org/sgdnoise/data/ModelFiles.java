package org.sgdnoise.data;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.UserInputException;

/**
 * A trained model as input: loading a model zip, and what a data set must look like to fit it (its number of
 * classes, and whether its first layer takes images). Stateless.
 */
public final class ModelFiles {

    private ModelFiles() {}

    /**
     * Loads a MultiLayerNetwork or ComputationGraph saved with {@link ModelSerializer} (without its updater).
     *
     * @param file the model zip
     * @return the model
     * @throws UserInputException when the file does not exist or is not a DL4J model
     */
    public static Model load(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new UserInputException("model file " + file + " does not exist");
        }
        File f = file.toFile();
        try {
            return ModelSerializer.restoreMultiLayerNetwork(f, false);
        } catch (Exception | LinkageError first) {
            try {
                return ModelSerializer.restoreComputationGraph(f, false);
            } catch (Exception | LinkageError second) {
                throw new UserInputException(
                        file + " is not a DL4J model saved with ModelSerializer ("
                                + first.getClass().getSimpleName() + ": " + first.getMessage() + ")",
                        second);
            }
        }
    }

    /**
     * True when {@code file} is a SameDiff flat file ({@code SameDiff.save}) rather than a DL4J zip: a zip starts with
     * "PK", a flat file does not.
     *
     * @throws UserInputException when the file does not exist or cannot be read
     */
    public static boolean isSameDiff(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new UserInputException("model file " + file + " does not exist");
        }
        try (java.io.InputStream in = Files.newInputStream(file)) {
            byte[] head = in.readNBytes(2);
            return !(head.length == 2 && head[0] == 'P' && head[1] == 'K');
        } catch (java.io.IOException e) {
            throw new UserInputException("model file " + file + " cannot be read: " + e.getMessage(), e);
        }
    }

    /**
     * Loads a SameDiff graph saved with {@code SameDiff.save} (without its updater state).
     *
     * @throws UserInputException when the file is not a SameDiff graph
     */
    public static org.nd4j.autodiff.samediff.SameDiff loadSameDiff(Path file) {
        try {
            return org.nd4j.autodiff.samediff.SameDiff.load(file.toFile(), false);
        } catch (RuntimeException | LinkageError e) {
            throw new UserInputException(
                    file + " is not a DL4J model (a ModelSerializer zip) nor a SameDiff graph saved with "
                            + "SameDiff.save ("
                            + e.getClass().getSimpleName() + ": " + e.getMessage() + ")",
                    e);
        }
    }

    /**
     * The number of classes of a classifier: the size of its (first) output layer.
     *
     * @param model a MultiLayerNetwork or ComputationGraph
     * @return the output layer's {@code nOut}
     * @throws UserInputException when the output layer is not a feed-forward layer with a known size
     */
    public static int outputClasses(Model model) {
        Layer last;
        if (model instanceof MultiLayerNetwork net) {
            var confs = net.getLayerWiseConfigurations().getConfs();
            last = confs.get(confs.size() - 1).getLayer();
        } else {
            ComputationGraph cg = (ComputationGraph) model;
            String out = cg.getConfiguration().getNetworkOutputs().get(0);
            last = cg.getLayer(out).conf().getLayer();
        }
        if (!(last instanceof BaseOutputLayer) && !(last instanceof FeedForwardLayer)) {
            throw new UserInputException("the model's output layer ("
                    + last.getClass().getSimpleName() + ") is not a classifier with a known number of classes");
        }
        return (int) ((FeedForwardLayer) last).getNOut();
    }

    /**
     * True when the model's first layer takes images {@code [n, channels, h, w]} directly: a convolution or
     * pooling layer with no input preprocessor (a network built with {@code InputType.convolutional}, not
     * {@code convolutionalFlat}, which takes flat rows).
     *
     * @param model a MultiLayerNetwork or ComputationGraph (its first network input)
     * @return whether flat rows must be reshaped into images for it
     */
    public static boolean takesImages(Model model) {
        if (model instanceof MultiLayerNetwork net) {
            MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
            return conf.getInputPreProcess(0) == null
                    && isImageLayer(conf.getConf(0).getLayer());
        }
        if (model instanceof ComputationGraph cg) {
            ComputationGraphConfiguration conf = cg.getConfiguration();
            String input = conf.getNetworkInputs().get(0);
            for (Map.Entry<String, List<String>> e : conf.getVertexInputs().entrySet()) {
                GraphVertex v = conf.getVertices().get(e.getKey());
                if (e.getValue().contains(input) && v instanceof LayerVertex lv) {
                    InputPreProcessor pre = lv.getPreProcessor();
                    return pre == null && isImageLayer(lv.getLayerConf().getLayer());
                }
            }
        }
        return false;
    }

    private static boolean isImageLayer(Layer layer) {
        return layer instanceof ConvolutionLayer || layer instanceof SubsamplingLayer;
    }

    /**
     * The data set in the shape the model takes: flat rows {@code [n, s·s]} become one-channel square images
     * {@code [n, 1, s, s]} when {@link #takesImages} says so; anything else is returned as it is.
     *
     * @param model the model the data is for
     * @param data the data; not modified
     * @return {@code data}, or a data set with the reshaped features (a view where possible) and the same labels
     */
    public static DataSet shapedFor(Model model, DataSet data) {
        INDArray x = data.getFeatures();
        if (x.rank() != 2 || !takesImages(model)) {
            return data;
        }
        long cols = x.size(1);
        long side = Math.round(Math.sqrt(cols));
        if (side * side != cols) {
            return data; // not square images: let the model say what it expected
        }
        return new DataSet(x.reshape('c', x.size(0), 1, side, side), data.getLabels());
    }
}

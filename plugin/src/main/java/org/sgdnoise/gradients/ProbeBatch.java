package org.sgdnoise.gradients;

import java.lang.reflect.Field;
import java.util.Arrays;
import java.util.function.Supplier;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.TimeSeriesUtils;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.indexing.SpecifiedIndex;

/**
 * The examples a probe draws from: features, labels and their masks, one array per network input or
 * output, examples along dimension 0.
 *
 * <p>Holds references only; {@link #example(int)} copies one example out. Masks may be null.
 */
public final class ProbeBatch {

    private final INDArray[] features;
    private final INDArray[] labels;
    private final INDArray[] featureMasks;
    private final INDArray[] labelMasks;

    /**
     * Creates a batch. Arrays are not copied.
     *
     * @throws IllegalArgumentException when features or labels are missing or their sizes differ
     */
    public ProbeBatch(INDArray[] features, INDArray[] labels, INDArray[] featureMasks, INDArray[] labelMasks) {
        if (features == null || features.length == 0 || Arrays.stream(features).anyMatch(a -> a == null)) {
            throw new IllegalArgumentException("features must be given for every network input");
        }
        if (labels == null || labels.length == 0 || Arrays.stream(labels).anyMatch(a -> a == null)) {
            throw new IllegalArgumentException(
                    "labels must be given for every network output (per-example loss gradients need labels)");
        }
        long n = features[0].size(0);
        for (INDArray a : concat(features, labels)) {
            if (a.size(0) != n) {
                throw new IllegalArgumentException("all features and labels must hold the same number of examples: " + n
                        + " vs shape " + Arrays.toString(a.shape()));
            }
        }
        this.features = features.clone();
        this.labels = labels.clone();
        this.featureMasks = featureMasks == null ? null : featureMasks.clone();
        this.labelMasks = labelMasks == null ? null : labelMasks.clone();
    }

    /** A batch from a single-input, single-output {@link DataSet}. */
    public static ProbeBatch of(DataSet ds) {
        return new ProbeBatch(
                new INDArray[] {ds.getFeatures()},
                new INDArray[] {ds.getLabels()},
                ds.getFeaturesMaskArray() == null ? null : new INDArray[] {ds.getFeaturesMaskArray()},
                ds.getLabelsMaskArray() == null ? null : new INDArray[] {ds.getLabelsMaskArray()});
    }

    /** A batch from a {@link MultiDataSet}. */
    public static ProbeBatch of(MultiDataSet mds) {
        return new ProbeBatch(
                mds.getFeatures(), mds.getLabels(), mds.getFeaturesMaskArrays(), mds.getLabelsMaskArrays());
    }

    /**
     * The minibatch the model is training on right now, read from its layers. Valid inside
     * {@code onGradientCalculation}; the arrays are the model's own and must not be kept.
     *
     * @throws IllegalStateException when the model holds no input or labels
     */
    public static ProbeBatch current(Model model) {
        if (model instanceof MultiLayerNetwork net) {
            INDArray x = net.getInput();
            INDArray y = net.getLabels();
            if (y == null && net.getOutputLayer() instanceof IOutputLayer ol) {
                y = ol.getLabels();
            }
            if (x == null || y == null) {
                throw new IllegalStateException("the network holds no " + (x == null ? "input" : "labels")
                        + " (is this called outside fit()?)");
            }
            INDArray fm = net.getMask() != null ? net.getMask() : layerFeatureMask(net, x);
            INDArray lm = timeSeriesLabelMask(net.getOutputLayer().getMaskArray(), y);
            return new ProbeBatch(
                    new INDArray[] {x},
                    new INDArray[] {y},
                    fm == null ? null : new INDArray[] {fm},
                    lm == null ? null : new INDArray[] {lm});
        }
        if (model instanceof ComputationGraph cg) {
            INDArray[] xs = cg.getInputs();
            INDArray[] ys = graphLabels(cg);
            if (xs == null || Arrays.stream(xs).anyMatch(a -> a == null)) {
                throw new IllegalStateException("the graph holds no inputs (is this called outside fit()?)");
            }
            return new ProbeBatch(xs, ys, cg.getInputMaskArrays(), cg.getLabelMaskArrays());
        }
        throw new IllegalArgumentException("model must be a MultiLayerNetwork or ComputationGraph, got "
                + (model == null ? "null" : model.getClass().getName()));
    }

    /**
     * The feature mask as fit() left it: DL4J 1.0.0-M2.1's fit() never sets {@code getMask()}, only the layers'
     * masks ({@code setLayerMaskArrays}), so the first layer that kept one of the input's [n, T] shape holds it
     * (a bare LSTM keeps none: DL4J runs it unmasked). Null when no layer below the output kept a mask.
     */
    private static INDArray layerFeatureMask(MultiLayerNetwork net, INDArray x) {
        long steps = x.rank() == 3 ? x.size(2) : x.rank() == 2 ? x.size(1) : -1;
        org.deeplearning4j.nn.api.Layer[] layers = net.getLayers();
        for (int i = 0; i < layers.length - 1; i++) {
            INDArray m = layers[i].getMaskArray();
            if (m != null) {
                return m.rank() == 2 && m.size(0) == x.size(0) && m.size(1) == steps ? m : null;
            }
        }
        return null;
    }

    /**
     * An RNN output layer stores its label mask reshaped to 2d ([n·T, 1] per time step, [n·T, nOut] per
     * output); per-example slicing needs the original [n, T] or [n, nOut, T] form back.
     */
    private static INDArray timeSeriesLabelMask(INDArray stored, INDArray labels) {
        if (stored == null || labels.rank() != 3 || stored.rank() != 2) {
            return stored;
        }
        long n = labels.size(0);
        long steps = labels.size(2);
        if (stored.size(0) != n * steps || steps == 1) {
            return stored;
        }
        if (stored.size(1) == 1) {
            return TimeSeriesUtils.reshapeVectorToTimeSeriesMask(stored, (int) n);
        }
        return TimeSeriesUtils.reshape2dTo3d(stored, (int) n);
    }

    /**
     * ComputationGraph keeps its labels in a private field and has no getter (DL4J 1.0.0-M2.1); its output
     * layers drop theirs after backprop. Read the field.
     */
    private static INDArray[] graphLabels(ComputationGraph cg) {
        INDArray[] ys;
        try {
            Field f = ComputationGraph.class.getDeclaredField("labels");
            f.setAccessible(true);
            ys = (INDArray[]) f.get(cg);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot read the labels of this ComputationGraph (DL4J version?)", e);
        }
        if (ys == null || ys.length == 0 || Arrays.stream(ys).anyMatch(a -> a == null)) {
            throw new IllegalStateException("the graph holds no labels (is this called outside fit()?)");
        }
        return ys.clone();
    }

    /** The number of examples. */
    public int size() {
        return (int) features[0].size(0);
    }

    /** The number of network inputs. */
    public int numInputs() {
        return features.length;
    }

    /** The number of network outputs. */
    public int numOutputs() {
        return labels.length;
    }

    /** Example {@code i} as a batch of one, every array copied (so it survives the caller's workspaces). */
    public ProbeBatch example(int i) {
        if (i < 0 || i >= size()) {
            throw new IndexOutOfBoundsException("example " + i + " of " + size());
        }
        Supplier<INDArrayIndex> row = () -> NDArrayIndex.interval(i, i + 1);
        return new ProbeBatch(
                copyRows(features, row), copyRows(labels, row), copyRows(featureMasks, row), copyRows(labelMasks, row));
    }

    /** Examples {@code idx}, in that order, every array copied. */
    public ProbeBatch subset(int[] idx) {
        long[] rows = new long[idx.length];
        for (int j = 0; j < idx.length; j++) {
            if (idx[j] < 0 || idx[j] >= size()) {
                throw new IndexOutOfBoundsException("example " + idx[j] + " of " + size());
            }
            rows[j] = idx[j];
        }
        boolean run = true; // consecutive rows (the FIRST selection): one contiguous copy instead of row by row
        for (int j = 1; j < idx.length && run; j++) {
            run = idx[j] == idx[0] + j;
        }
        Supplier<INDArrayIndex> picked = run && idx.length > 0
                ? () -> NDArrayIndex.interval(idx[0], idx[0] + idx.length)
                : () -> new SpecifiedIndex(rows);
        return new ProbeBatch(
                copyRows(features, picked),
                copyRows(labels, picked),
                copyRows(featureMasks, picked),
                copyRows(labelMasks, picked));
    }

    /** The features, one array per input. Not copied: do not modify. */
    public INDArray[] features() {
        return features.clone();
    }

    /** The labels, one array per output. Not copied: do not modify. */
    public INDArray[] labels() {
        return labels.clone();
    }

    /** The feature masks, or null. */
    public INDArray[] featureMasks() {
        return featureMasks == null ? null : featureMasks.clone();
    }

    /** The label masks, or null. */
    public INDArray[] labelMasks() {
        return labelMasks == null ? null : labelMasks.clone();
    }

    /**
     * The rows {@code first} selects along dimension 0 of every array, copied c-order (a fresh index per
     * array: ND4J's indices keep state from the array they resolve against).
     */
    private static INDArray[] copyRows(INDArray[] arrays, Supplier<INDArrayIndex> first) {
        if (arrays == null) {
            return null;
        }
        INDArray[] out = new INDArray[arrays.length];
        for (int j = 0; j < arrays.length; j++) {
            INDArray a = arrays[j];
            if (a == null) {
                continue;
            }
            INDArrayIndex[] idx = new INDArrayIndex[a.rank()];
            idx[0] = first.get();
            for (int r = 1; r < idx.length; r++) {
                idx[r] = NDArrayIndex.all();
            }
            out[j] = a.get(idx).dup('c');
        }
        return out;
    }

    private static INDArray[] concat(INDArray[] a, INDArray[] b) {
        INDArray[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

package org.sgdnoise.gradients;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.layers.OutputLayer;
import org.deeplearning4j.nn.layers.convolution.ConvolutionLayer;
import org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationRReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.convolution.Convolution;
import org.nd4j.linalg.factory.Broadcast;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT;
import org.nd4j.linalg.lossfunctions.impl.LossCosineProximity;
import org.nd4j.linalg.lossfunctions.impl.LossHinge;
import org.nd4j.linalg.lossfunctions.impl.LossKLD;
import org.nd4j.linalg.lossfunctions.impl.LossL1;
import org.nd4j.linalg.lossfunctions.impl.LossL2;
import org.nd4j.linalg.lossfunctions.impl.LossMAE;
import org.nd4j.linalg.lossfunctions.impl.LossMAPE;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.linalg.lossfunctions.impl.LossMSE;
import org.nd4j.linalg.lossfunctions.impl.LossMSLE;
import org.nd4j.linalg.lossfunctions.impl.LossMixtureDensity;
import org.nd4j.linalg.lossfunctions.impl.LossMultiLabel;
import org.nd4j.linalg.lossfunctions.impl.LossNegativeLogLikelihood;
import org.nd4j.linalg.lossfunctions.impl.LossPoisson;
import org.nd4j.linalg.lossfunctions.impl.LossSparseMCXENT;
import org.nd4j.linalg.lossfunctions.impl.LossSquaredHinge;
import org.nd4j.linalg.lossfunctions.impl.LossWasserstein;
import org.sgdnoise.gradients.internal.InferenceBatchNormalizationLayer;

/**
 * Per-example gradients of a MultiLayerNetwork probe from one batched forward and backward pass.
 *
 * <p>The pass keeps each layer's input and output error and forms the per-example parameter gradients
 * from them, per layer type: dense and output layers as outer-product factors ({@link GradientFactors}),
 * 2-D convolutions as explicit rows from the im2col patches (one batched matrix product), BatchNorm in
 * inference mode from its normalised input; layers without parameters pass the error through with
 * DL4J's own backward pass. The weight-gradient products are the same multiply-adds as DL4J's batched
 * backward pass, only not summed over the batch; the layer below the lowest trained layer gets no error.
 *
 * Recurrent layers (LSTM, GravesLSTM, LastTimeStep around either, RnnOutputLayer) have their steps in
 * {@link RecurrentSteps}, embedding layers (weights held sparsely) in {@link EmbeddingSteps}.
 *
 * <p>Supported: every layer is one of those, with NCHW data for convolutions and BatchNorm, NCW data for
 * recurrent layers, no layer normalisation on dense layers, an {@code OutputLayer} or {@code RnnOutputLayer}
 * last. Masks: a feature mask only through layers that take one ({@link MaskedStep}: embedding and
 * recurrent layers up to a LastTimeStep or the RnnOutputLayer), a label mask for the loss, both as DL4J's
 * {@code fit} applies them. The probe must be in EVAL mode (dropout and weight noise removed, BatchNorm on
 * running statistics), so examples do not interact.
 */
final class BatchedGradients {

    private BatchedGradients() {}

    /**
     * Loss functions whose gradient for each example depends on that example alone (LossFMeasure, for one,
     * sums over the batch; unknown custom losses take the exact path too).
     */
    private static final Set<Class<?>> PER_EXAMPLE_LOSSES = Set.of(
            LossMCXENT.class,
            LossNegativeLogLikelihood.class,
            LossSparseMCXENT.class,
            LossBinaryXENT.class,
            LossMSE.class,
            LossL1.class,
            LossL2.class,
            LossMAE.class,
            LossMAPE.class,
            LossMSLE.class,
            LossHinge.class,
            LossSquaredHinge.class,
            LossKLD.class,
            LossPoisson.class,
            LossCosineProximity.class,
            LossWasserstein.class,
            LossMultiLabel.class,
            LossMixtureDensity.class);

    /** Why the probe has no batched rule, naming the layers, or null when it has one. */
    static String unsupportedReason(MultiLayerNetwork probe) {
        List<String> bad = new ArrayList<>();
        Layer[] layers = probe.getLayers();
        Set<String> names = new HashSet<>();
        for (Layer layer : layers) {
            if (!names.add(ParameterLayout.layerName(layer))) {
                return "two layers are named " + ParameterLayout.layerName(layer);
            }
        }
        for (int i = 0; i < layers.length; i++) {
            String why = unsupported(layers[i], i == layers.length - 1);
            if (why != null) {
                bad.add(ParameterLayout.layerName(layers[i]) + " ("
                        + layers[i].getClass().getSimpleName() + ": " + why + ")");
            }
        }
        return bad.isEmpty() ? null : "no batched rule for " + String.join(", ", bad);
    }

    private static String unsupported(Layer layer, boolean last) {
        boolean output = layer.getClass() == OutputLayer.class
                || layer.getClass() == org.deeplearning4j.nn.layers.recurrent.RnnOutputLayer.class;
        if (last != output) {
            return last ? "the last layer must be an OutputLayer or RnnOutputLayer" : "an output layer before the last";
        }
        return unsupportedLayer(layer);
    }

    /**
     * Why a layer has no batched rule wherever it stands (its type, activation, loss, data format), or null
     * when {@link #step} has one. Where output layers may stand is the caller's check.
     */
    static String unsupportedLayer(Layer layer) {
        boolean output = layer.getClass() == OutputLayer.class
                || layer.getClass() == org.deeplearning4j.nn.layers.recurrent.RnnOutputLayer.class;
        var conf = layer.conf().getLayer();
        IActivation fn = conf instanceof BaseLayer b
                ? b.getActivationFn()
                : conf instanceof ActivationLayer a ? a.getActivationFn() : null;
        if (fn instanceof ActivationRReLU) {
            return "RReLU draws random slopes in training mode";
        }
        if (output) {
            var loss = ((BaseOutputLayer) conf).getLossFn();
            if (!PER_EXAMPLE_LOSSES.contains(loss.getClass())) {
                return "loss " + loss.getClass().getSimpleName() + " is not a sum over examples";
            }
        }
        if (RecurrentSteps.handles(layer)) {
            return RecurrentSteps.unsupported(layer);
        }
        if (EmbeddingSteps.handles(layer)) {
            return EmbeddingSteps.unsupported(layer);
        }
        if (output) {
            return null;
        }
        if (layer.getClass() == DenseLayer.class) {
            boolean norm =
                    ((org.deeplearning4j.nn.conf.layers.DenseLayer) layer.conf().getLayer()).hasLayerNorm();
            return norm ? "layer normalisation" : null;
        }
        if (layer.getClass() == ConvolutionLayer.class) {
            var c = (org.deeplearning4j.nn.conf.layers.ConvolutionLayer)
                    layer.conf().getLayer();
            return c.getCnn2dDataFormat() == CNN2DFormat.NCHW ? null : "NHWC data";
        }
        if (layer instanceof InferenceBatchNormalizationLayer) {
            var c = (BatchNormalization) layer.conf().getLayer();
            return c.getCnn2DFormat() == CNN2DFormat.NCHW ? null : "NHWC data";
        }
        return layer.numParams() == 0 ? null : "parameters of an unsupported layer type";
    }

    /**
     * Computes the factors for a batch (features and labels of the k examples), at the probe's parameters.
     * Not modified: the arrays; the probe's layers keep their last input.
     */
    static GradientFactors compute(
            MultiLayerNetwork probe, ParameterLayout layout, INDArray features, INDArray labels) {
        return compute(probe, layout, features, labels, null, null);
    }

    /**
     * Like {@link #compute(MultiLayerNetwork, ParameterLayout, INDArray, INDArray)} with DL4J's masks
     * ({@code featureMask} [k, T] passed up through the layers that take masks, {@code labelMask} for the
     * loss; either may be null), as {@code calculateGradients} applies them to each example.
     *
     * @throws Unbatchable when a mask reaches a layer without a masked rule
     */
    static GradientFactors compute(
            MultiLayerNetwork probe,
            ParameterLayout layout,
            INDArray features,
            INDArray labels,
            INDArray featureMask,
            INDArray labelMask) {
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        MultiLayerConfiguration conf = probe.getLayerWiseConfigurations();
        Layer[] layers = probe.getLayers();
        DataType dt = probe.params().dataType();
        int k = (int) features.size(0);
        Set<String> trained = new HashSet<>();
        layout.layerRanges().forEach(r -> trained.add(r.layer()));
        int lowest = 0;
        while (lowest < layers.length - 1 && !trained.contains(ParameterLayout.layerName(layers[lowest]))) {
            lowest++;
        }
        LayerStep[] steps = new LayerStep[layers.length];
        INDArray x = features.castTo(dt);
        INDArray mask = featureMask;
        for (int i = 0; i < layers.length; i++) {
            InputPreProcessor pre = conf.getInputPreProcess(i);
            if (pre != null) {
                x = pre.preProcess(x, k, mgr);
            }
            steps[i] = step(layers[i], layout);
            mask = feedMask(
                    steps[i],
                    layers[i],
                    i == layers.length - 1 ? lossMask(layers[i], mask, featureMask, labelMask) : mask,
                    pre);
            x = steps[i].forward(x, mgr);
            if (x.size(0) != k) {
                // e.g. a preprocessor that folds time steps into the batch: rows are no longer examples.
                throw new Unbatchable(
                        ParameterLayout.layerName(layers[i]) + " has " + x.size(0) + " rows for " + k + " examples");
            }
        }
        List<GradientFactors.Part> parts = new ArrayList<>();
        INDArray eps = labels.castTo(dt);
        for (int i = layers.length - 1; i >= lowest; i--) {
            boolean below = i > lowest;
            eps = steps[i].backward(eps, below, parts, mgr);
            InputPreProcessor pre = conf.getInputPreProcess(i);
            if (below && pre != null) {
                eps = pre.backprop(eps, k, mgr);
            }
        }
        for (LayerStep st : steps) {
            st.close();
        }
        Collections.reverse(parts);
        return new GradientFactors(k, layout.numParams(), dt, parts);
    }

    /**
     * The mask the output layer's loss uses in DL4J's fit(): an RnnOutputLayer takes the label mask alone (the
     * feature mask only masks its output); an OutputLayer takes the feature mask passed up to it when there is
     * a feature mask (null after a LastTimeStep), else the label mask.
     */
    private static INDArray lossMask(Layer output, INDArray passedUp, INDArray featureMask, INDArray labelMask) {
        if (output instanceof org.deeplearning4j.nn.layers.recurrent.RnnOutputLayer) {
            return labelMask;
        }
        return featureMask != null ? passedUp : labelMask;
    }

    /** Passes a mask to a step that takes masks; a mask for any other step makes the batch unbatchable. */
    private static INDArray feedMask(LayerStep step, Layer layer, INDArray mask, InputPreProcessor pre) {
        if (mask == null) {
            return step instanceof MaskedStep m ? m.feedMask(null) : null;
        }
        if (pre != null || !(step instanceof MaskedStep m)) {
            throw new Unbatchable(
                    ParameterLayout.layerName(layer) + " (" + layer.getClass().getSimpleName()
                            + (pre != null ? " after a preprocessor" : "") + ") has no batched rule for masks");
        }
        return m.feedMask(mask);
    }

    /**
     * Why batches with masks have no batched rule for this probe, naming the layer, or null when every
     * layer a feature mask reaches takes masks (recurrent and embedding layers up to a LastTimeStep or an
     * RnnOutputLayer; a label mask only reaches the output layer, whose loss takes it).
     *
     * @param featureMask whether the batch has a feature mask
     */
    static String maskUnsupportedReason(MultiLayerNetwork probe, boolean featureMask) {
        String why = unsupportedReason(probe);
        if (why != null) {
            return why;
        }
        Layer[] layers = probe.getLayers();
        boolean live = featureMask;
        for (int i = 0; i < layers.length && live; i++) {
            Layer l = layers[i];
            boolean takes = RecurrentSteps.takesMasks(l) || EmbeddingSteps.takesMasks(l);
            if (!takes || probe.getLayerWiseConfigurations().getInputPreProcess(i) != null) {
                return "no batched rule for masks in " + ParameterLayout.layerName(l) + " ("
                        + l.getClass().getSimpleName() + ")";
            }
            live = !RecurrentSteps.endsMask(l);
        }
        return null;
    }

    /** The pass found that rows are not examples; the caller falls back to the exact path. */
    static final class Unbatchable extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Unbatchable(String message) {
            super(message, null, false, false);
        }
    }

    /** The step of one layer of a probe network (a MultiLayerNetwork layer or a ComputationGraph layer vertex). */
    static LayerStep step(Layer layer, ParameterLayout layout) {
        String name = ParameterLayout.layerName(layer);
        if (layer.getClass() == OutputLayer.class || layer.getClass() == DenseLayer.class) {
            return new Dense(layer, name, layout.column(name, "W"), layout.column(name, "b"));
        }
        if (layer.getClass() == ConvolutionLayer.class) {
            return new Conv(layer, name, layout.column(name, "W"), layout.column(name, "b"));
        }
        if (layer instanceof InferenceBatchNormalizationLayer bn) {
            return new BatchNorm(bn, name, layout.column(name, "gamma"), layout.column(name, "beta"));
        }
        if (RecurrentSteps.handles(layer)) {
            return RecurrentSteps.step(layer, name, layout);
        }
        if (EmbeddingSteps.handles(layer)) {
            return EmbeddingSteps.step(layer, name, layout);
        }
        if (layer instanceof org.deeplearning4j.nn.layers.pooling.GlobalPoolingLayer) {
            return RecurrentSteps.pooling(layer);
        }
        return new PassThrough(layer);
    }

    private record PassThrough(Layer layer) implements LayerStep {
        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            // In inference mode some layers (ActivationLayer) overwrite their input in place, and their
            // backward pass reads it again: run on a copy, then keep the original as the layer's input.
            INDArray out = layer.activate(x.dup(), false, mgr);
            layer.setInput(x, mgr);
            return out;
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            return below ? layer.backpropGradient(eps, mgr).getSecond() : null;
        }
    }

    /** Dense and output layers: {@code z = aW + b}, {@code ∇_W f_i = a_i δ_iᵀ}. */
    private static final class Dense implements MaskedStep {
        private final Layer layer;
        private final String name;
        private final long wColumn;
        private final long bColumn;
        private final IActivation activation;
        private final ILossFunction loss;
        private INDArray a;
        private INDArray z;
        private INDArray mask;

        Dense(Layer layer, String name, long wColumn, long bColumn) {
            this.layer = layer;
            this.name = name;
            this.wColumn = wColumn;
            this.bColumn = bColumn;
            var conf = (FeedForwardLayer) layer.conf().getLayer();
            this.activation = ((BaseLayer) conf).getActivationFn();
            this.loss = conf instanceof BaseOutputLayer o ? o.getLossFn() : null;
        }

        /** Only the output layer takes a mask: the label mask, for its loss (DL4J masks hidden activations). */
        @Override
        public INDArray feedMask(INDArray mask) {
            if (mask != null && loss == null) {
                throw new Unbatchable(name + " (DenseLayer) has no batched rule for masks");
            }
            this.mask = mask == null ? null : mask.castTo(layer.getParam("W").dataType());
            return mask;
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            a = x;
            z = x.mmul(layer.getParam("W"));
            INDArray b = layer.getParam("b");
            if (b != null) {
                z.addiRowVector(b);
            }
            return activation.getActivation(z.dup(), false);
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            INDArray delta = loss != null
                    ? loss.computeGradient(eps, z.dup(), activation, mask)
                    : activation.backprop(z.dup(), eps).getFirst();
            if (wColumn >= 0) {
                parts.add(new GradientFactors.Outer(name, a, delta, wColumn, bColumn));
            }
            return below ? delta.mmul(layer.getParam("W").transpose()) : null;
        }
    }

    /**
     * 2-D convolution (NCHW) by im2col, per example: {@code z_i = W·cols_i}, {@code ∇_W f_i = δ_i·cols_iᵀ},
     * matrix products over the k examples with the patches in im2col's own layout (W is never repeated per
     * example).
     */
    private static final class Conv implements LayerStep {
        private final Layer layer;
        private final String name;
        private final long wColumn;
        private final long bColumn;
        private final org.deeplearning4j.nn.conf.layers.ConvolutionLayer conf;
        private INDArray cols; // [k, inC, kH, kW, outH, outW], c-order: per example K×P, K = inC·kH·kW
        private INDArray z; // [k, outC, outH, outW], c-order
        private int[] pad;
        private long inH;
        private long inW;

        Conv(Layer layer, String name, long wColumn, long bColumn) {
            this.layer = layer;
            this.name = name;
            this.wColumn = wColumn;
            this.bColumn = bColumn;
            this.conf = (org.deeplearning4j.nn.conf.layers.ConvolutionLayer)
                    layer.conf().getLayer();
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            INDArray w = layer.getParam("W"); // [outC, inC, kH, kW], c-order
            long k = x.size(0);
            inH = x.size(2);
            inW = x.size(3);
            int[] kernel = conf.getKernelSize();
            int[] stride = conf.getStride();
            int[] dilation = conf.getDilation();
            boolean same = conf.getConvolutionMode() == ConvolutionMode.Same;
            int[] out;
            if (same) {
                out = ConvolutionUtils.getOutputSize(
                        x, kernel, stride, null, conf.getConvolutionMode(), dilation, CNN2DFormat.NCHW);
                pad = ConvolutionUtils.getSameModeTopLeftPadding(
                        out, new int[] {(int) inH, (int) inW}, kernel, stride, dilation);
            } else {
                pad = conf.getPadding();
                out = ConvolutionUtils.getOutputSize(
                        x, kernel, stride, pad, conf.getConvolutionMode(), dilation, CNN2DFormat.NCHW);
            }
            long outC = w.size(0);
            long patch = w.size(1) * w.size(2) * w.size(3);
            long positions = (long) out[0] * out[1];
            cols = Nd4j.createUninitialized(
                    w.dataType(), new long[] {k, w.size(1), w.size(2), w.size(3), out[0], out[1]}, 'c');
            Convolution.im2col(
                    x,
                    kernel[0],
                    kernel[1],
                    stride[0],
                    stride[1],
                    pad[0],
                    pad[1],
                    dilation[0],
                    dilation[1],
                    same,
                    cols);
            INDArray z3 = Nd4j.create(w.dataType(), k, outC, positions);
            timesEach(w.reshape('c', outC, patch), false, cols.reshape('c', k, patch, positions), z3);
            INDArray b = layer.getParam("b");
            if (b != null && conf.hasBias()) {
                Broadcast.add(z3, b.reshape(outC), z3, 1);
            }
            z = z3.reshape('c', k, outC, out[0], out[1]);
            return conf.getActivationFn().getActivation(z.dup('c'), false);
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            INDArray w = layer.getParam("W");
            long k = z.size(0);
            long outC = z.size(1);
            long positions = z.size(2) * z.size(3);
            long patch = w.size(1) * w.size(2) * w.size(3);
            INDArray delta = conf.getActivationFn()
                    .backprop(z.dup('c'), eps)
                    .getFirst()
                    .dup('c')
                    .reshape('c', k, outC, positions);
            INDArray cols3 = cols.reshape('c', k, patch, positions);
            if (wColumn >= 0) {
                INDArray gw = Nd4j.matmul(delta, cols3, null, false, true, false); // [k, outC, K]
                parts.add(new GradientFactors.Explicit(name, wColumn, gw.reshape('c', k, outC * patch), gw));
            }
            if (bColumn >= 0) {
                parts.add(new GradientFactors.Explicit(name, bColumn, delta.sum(2)));
            }
            if (!below) {
                return null;
            }
            // Error for the layer below: patch-space errors Wᵀδ_i, folded back onto the image by col2im.
            INDArray epsCols = Nd4j.create(w.dataType(), k, patch, positions); // im2col's layout
            timesEach(w.reshape('c', outC, patch), true, delta, epsCols);
            INDArray next = Nd4j.create(w.dataType(), k, w.size(1), inH, inW);
            int[] stride = conf.getStride();
            int[] dilation = conf.getDilation();
            Convolution.col2im(
                    epsCols.reshape('c', cols.shape()),
                    next,
                    stride[0],
                    stride[1],
                    pad[0],
                    pad[1],
                    (int) inH,
                    (int) inW,
                    dilation[0],
                    dilation[1]);
            epsCols.close();
            return next;
        }

        /**
         * {@code out_i = op(w2)·in_i} for every example i (op = transpose when {@code transpose}), one matrix
         * product each into the slices of {@code out}. A batched product would need W repeated k times
         * ({@code broadcast} materialises k·|W| numbers); these products give bit-identical results and were
         * faster in a scratch timing (k = 64, 50×500 W, 64 positions: 15 against 44 ms, float).
         */
        private static void timesEach(INDArray w2, boolean transpose, INDArray in, INDArray out) {
            for (long i = 0; i < in.size(0); i++) {
                Nd4j.matmul(w2, slice(in, i), slice(out, i), transpose, false, false);
            }
        }

        private static INDArray slice(INDArray a, long i) {
            return a.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all());
        }

        @Override
        public void close() {
            cols.close();
        }
    }

    /** BatchNorm on running statistics: per-example γ and β gradients from the normalised input. */
    private static final class BatchNorm implements LayerStep {
        private final InferenceBatchNormalizationLayer layer;
        private final String name;
        private final long gammaColumn;
        private final long betaColumn;

        BatchNorm(InferenceBatchNormalizationLayer layer, String name, long gammaColumn, long betaColumn) {
            this.layer = layer;
            this.name = name;
            this.gammaColumn = gammaColumn;
            this.betaColumn = betaColumn;
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            return layer.activate(x, false, mgr);
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            INDArray[] g = layer.perExampleBackprop(eps);
            if (g[0] != null && gammaColumn >= 0) {
                parts.add(new GradientFactors.Explicit(name, gammaColumn, g[0]));
            }
            if (g[1] != null && betaColumn >= 0) {
                parts.add(new GradientFactors.Explicit(name, betaColumn, g[1]));
            }
            return g[2];
        }
    }
}

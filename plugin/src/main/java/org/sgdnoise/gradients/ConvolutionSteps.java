package org.sgdnoise.gradients;

import java.util.List;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.layers.convolution.Convolution1DLayer;
import org.deeplearning4j.nn.layers.convolution.ConvolutionLayer;
import org.deeplearning4j.nn.layers.convolution.Deconvolution2DLayer;
import org.deeplearning4j.nn.layers.convolution.DepthwiseConvolution2DLayer;
import org.deeplearning4j.nn.layers.convolution.SeparableConvolution2DLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.util.Convolution1DUtils;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Broadcast;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Batched steps for the convolution layers (NCHW images, NCW sequences): ConvolutionLayer, Convolution1DLayer,
 * DepthwiseConvolution2D, SeparableConvolution2D and Deconvolution2D, in every convolution mode DL4J allows
 * them (Truncate, Strict, Same, and Causal for 1-D), with any stride, padding and dilation, with or without
 * bias.
 *
 * <p>All of them work on im2col patches {@code cols_i} (per example, K patch entries × P positions) and form
 * each example's weight gradient as one batched matrix product, the multiply-adds of DL4J's own backward pass
 * not summed over the batch:
 *
 * <ul>
 *   <li>convolution: {@code z_i = W·cols_i}, {@code ∇_W f_i = δ_i·cols_iᵀ}, error below {@code col2im(Wᵀδ_i)};
 *       a 1-D convolution is the 2-D one on a [C, 1, T] image;
 *   <li>depthwise: the same per input channel c with that channel's multiplier block {@code W_c} (output
 *       channel {@code c·m + j}); separable: a depthwise stage followed by a 1×1 convolution {@code pW};
 *   <li>deconvolution (transposed convolution): {@code z_i = col2im(Wᵀx_i)}, so with the patches {@code D_i}
 *       of the output error, {@code ∇_W f_i = x_i·D_iᵀ} and the error below is {@code W·D_i}.
 * </ul>
 *
 * The weights are read in the layouts of DL4J 1.0.0-M2.1's parameter initialisers (ConvolutionLayer
 * [outC, inC, kH, kW]; Convolution1DLayer the same array read as [k, inC, outC], as the layer itself reads it;
 * DepthwiseConvolution2D [kH, kW, inC, m]; SeparableConvolution2D [m, inC, kH, kW] and pW [outC, inC·m, 1, 1];
 * Deconvolution2D [inC, outC, kH, kW]), all c-order in the flat vector after the bias, and each part is
 * added in reverse flat order ({@link BatchedGradients} reverses the list).
 */
final class ConvolutionSteps {

    private ConvolutionSteps() {}

    /** True for the layer classes this file has steps for. */
    static boolean handles(Layer layer) {
        Class<?> c = layer.getClass();
        return c == ConvolutionLayer.class
                || c == Convolution1DLayer.class
                || c == DepthwiseConvolution2DLayer.class
                || c == SeparableConvolution2DLayer.class
                || c == Deconvolution2DLayer.class;
    }

    /** Why a layer that {@link #handles} has no batched rule, or null when it has one. */
    static String unsupported(Layer layer) {
        var conf = (org.deeplearning4j.nn.conf.layers.ConvolutionLayer)
                layer.conf().getLayer();
        if (conf instanceof org.deeplearning4j.nn.conf.layers.Convolution1DLayer c) {
            return c.getRnnDataFormat() == RNNFormat.NCW ? null : "NWC data";
        }
        if (conf.getCnn2dDataFormat() != CNN2DFormat.NCHW) {
            return "NHWC data";
        }
        if (conf.getConvolutionMode() == ConvolutionMode.Causal) {
            return "Causal mode on a 2-D convolution";
        }
        if (conf instanceof org.deeplearning4j.nn.conf.layers.Deconvolution2D
                && conf.getConvolutionMode() == ConvolutionMode.Same) {
            for (int i = 0; i < 2; i++) {
                int reach = (conf.getKernelSize()[i] - 1) * conf.getDilation()[i] + 1;
                if (reach < conf.getStride()[i]) {
                    // libnd4j's Same padding (reach − stride) / 2 is below zero there (truncated to 0 at −1):
                    // not verified, so it stays on the exact path.
                    return "Same mode with a (dilated) kernel smaller than its stride";
                }
            }
        }
        return null;
    }

    /**
     * An upper bound on the numbers one example's pass through a layer that {@link #handles} keeps besides its
     * gradients ({@link PassMemory}), for input length {@code a} and output length {@code o}: the patches and
     * the errors in patch space (at most {@code taps·max(inC, outC)·max(P_in, P_out)} each, three of them), eight
     * copies of the output (pre-activation, activation, errors), two of the input, and two of the parameters
     * (the depthwise and transposed steps repeat W per example).
     */
    static long numbersPerExample(Layer layer, long a, long o) {
        var conf = (org.deeplearning4j.nn.conf.layers.ConvolutionLayer)
                layer.conf().getLayer();
        long taps = 1;
        for (int kernel : conf.getKernelSize()) {
            taps *= kernel;
        }
        long channels = Math.max(1, Math.max(conf.getNIn(), conf.getNOut()));
        long positions = Math.max(a / Math.max(1, conf.getNIn()), o / Math.max(1, conf.getNOut()));
        return 3 * taps * channels * positions + 8 * o + 2 * a + 2 * layer.numParams();
    }

    /** The step of a layer that {@link #handles}. */
    static LayerStep step(Layer layer, String name, ParameterLayout layout) {
        long b = layout.column(name, "b");
        long w = layout.column(name, "W");
        if (layer.getClass() == DepthwiseConvolution2DLayer.class) {
            return new Depthwise(layer, name, w, -1, b, false);
        }
        if (layer.getClass() == SeparableConvolution2DLayer.class) {
            return new Depthwise(layer, name, w, layout.column(name, "pW"), b, true);
        }
        if (layer.getClass() == Deconvolution2DLayer.class) {
            return new Deconv(layer, name, w, b);
        }
        return new Conv(layer, name, w, b, layer.getClass() == Convolution1DLayer.class);
    }

    /** Adds the bias b (any shape of length C) along dimension 1 of z [k, C, P]; z is modified. */
    private static void addBias(INDArray z, INDArray b) {
        if (b != null) {
            Broadcast.add(z, b.reshape(b.length()), z, 1);
        }
    }

    /** δ = act'(z) ⊙ eps as [k, C, P], c-order; z [k, C, …] is not modified. */
    private static INDArray delta(IActivation activation, INDArray z, INDArray eps) {
        long k = z.size(0);
        long c = z.size(1);
        return activation
                .backprop(z.dup('c'), eps.reshape('c', z.shape()))
                .getFirst()
                .dup('c')
                .reshape('c', k, c, z.length() / (k * c));
    }

    private static org.deeplearning4j.nn.conf.layers.ConvolutionLayer conf(Layer layer) {
        return (org.deeplearning4j.nn.conf.layers.ConvolutionLayer) layer.conf().getLayer();
    }

    /** The bias, or null for a layer without one (DL4J may keep an unused "b" then). */
    private static INDArray bias(Layer layer) {
        return conf(layer).hasBias() ? layer.getParam("b") : null;
    }

    /**
     * 2-D (NCHW) and 1-D (NCW) convolution by im2col, per example: {@code z_i = W·cols_i},
     * {@code ∇_W f_i = δ_i·cols_iᵀ}, with the patches in im2col's own layout ([k, K, P], K = inC·kH·kW, patch
     * entry (c, kh, kw)). The products with W run one example at a time into slices of the result ({@link
     * #timesEach}): a batched product would need W repeated k times, and im2col into a position-major layout
     * (which would make them one product) takes libnd4j's slow strided path.
     */
    private static final class Conv implements LayerStep {
        private final Layer layer;
        private final String name;
        private final long wColumn;
        private final long bColumn;
        private final boolean oneD;
        private ConvolutionPatches p;
        private INDArray cols; // [k, inC, kH, kW, outH, outW], c-order
        private INDArray z; // [k, outC, outH, outW] (2-D) or [k, outC, T'] (1-D), c-order
        private long inC;

        Conv(Layer layer, String name, long wColumn, long bColumn, boolean oneD) {
            this.layer = layer;
            this.name = name;
            this.wColumn = wColumn;
            this.bColumn = bColumn;
            this.oneD = oneD;
        }

        /**
         * W as the [outC, K] matrix of the patch products. Convolution1DLayer reads its [outC, inC, k, 1] array
         * as [k, inC, outC] (Convolution1DUtils.reshapeWeightArrayOrGradientForFormat, a reshape, not a
         * permutation), and so does this.
         */
        private INDArray weightMatrix() {
            INDArray w = layer.getParam("W");
            if (!oneD) {
                return w.reshape('c', w.size(0), w.length() / w.size(0));
            }
            INDArray kio = Convolution1DUtils.reshapeWeightArrayOrGradientForFormat(w, RNNFormat.NCW);
            return kio.permute(2, 1, 0).dup('c').reshape('c', kio.size(2), kio.size(1) * kio.size(0));
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            var conf = conf(layer);
            long k = x.size(0);
            inC = x.size(1);
            INDArray images;
            if (oneD) {
                p = ConvolutionPatches.conv1d((org.deeplearning4j.nn.conf.layers.Convolution1DLayer) conf, x.size(2));
                images = x.reshape('c', k, inC, 1, x.size(2));
            } else {
                p = ConvolutionPatches.conv2d(conf, x);
                images = x;
            }
            INDArray wm = weightMatrix();
            long outC = wm.size(0);
            long patch = wm.size(1);
            cols = p.im2col(images);
            INDArray z3 = timesEach(wm, false, cols.reshape('c', k, patch, p.positions())); // [k, outC, P]
            addBias(z3, bias(layer));
            z = oneD ? z3 : z3.reshape('c', k, outC, p.outH(), p.outW());
            return conf.getActivationFn().getActivation(z.dup('c'), false);
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            INDArray wm = weightMatrix();
            long k = z.size(0);
            long outC = z.size(1);
            long patch = wm.size(1);
            INDArray delta = delta(conf(layer).getActivationFn(), z, eps); // [k, outC, P]
            if (wColumn >= 0) {
                INDArray gw = Nd4j.matmul(delta, cols.reshape('c', k, patch, p.positions()), null, false, true, false);
                // 1-D: from (o, c, t) to the flat order of the [t, c, o] array the layer reads.
                INDArray rows = oneD
                        ? gw.reshape('c', k, outC, inC, p.kernel()[1])
                                .permute(0, 3, 2, 1)
                                .dup('c')
                                .reshape('c', k, outC * patch)
                        : gw.reshape('c', k, outC * patch);
                parts.add(new GradientFactors.Explicit(name, wColumn, rows, oneD ? rows : gw));
            }
            if (bColumn >= 0) {
                parts.add(new GradientFactors.Explicit(name, bColumn, delta.sum(2)));
            }
            if (!below) {
                return null;
            }
            // Patch-space errors Wᵀδ_i, folded back onto the image by col2im.
            INDArray epsCols = timesEach(wm, true, delta); // [k, K, P], im2col's layout
            INDArray next = p.col2im(epsCols, k, inC);
            epsCols.close();
            return oneD ? next.reshape('c', k, inC, p.inW()) : next;
        }

        @Override
        public void close() {
            cols.close();
        }
    }

    /**
     * {@code out_i = op(m)·in_i} for every example i (op the transpose when {@code transpose}): one matrix
     * product per example into the slices of a new [k, rows, P] array, from the slices of {@code in} [k, ·, P].
     */
    private static INDArray timesEach(INDArray m, boolean transpose, INDArray in) {
        long rows = m.size(transpose ? 1 : 0);
        INDArray out = Nd4j.createUninitialized(m.dataType(), new long[] {in.size(0), rows, in.size(2)}, 'c');
        for (long i = 0; i < in.size(0); i++) {
            Nd4j.matmul(m, slice(in, i), slice(out, i), transpose, false, false);
        }
        return out;
    }

    private static INDArray slice(INDArray a, long i) {
        return a.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all());
    }

    /**
     * Depthwise convolution (m multipliers per input channel, output channel c·m + j, as libnd4j orders them),
     * alone or followed by the 1×1 pointwise convolution of a separable convolution. Per input channel c the
     * depthwise stage is a convolution with the [m, kH·kW] block W_c, so the products are batched over
     * (example, channel) pairs: {@code u_{i,c} = W_c·cols_{i,c}}, {@code ∇_{W_c} f_i = ε_{i,c}·cols_{i,c}ᵀ} with
     * ε the error at u; the pointwise stage is a dense map over channels at every position,
     * {@code z_i = pW·u_i}, {@code ∇_{pW} f_i = δ_i·u_iᵀ}, {@code ε_i = pWᵀδ_i}.
     */
    private static final class Depthwise implements LayerStep {
        private final Layer layer;
        private final String name;
        private final long wColumn;
        private final long pwColumn;
        private final long bColumn;
        private final boolean separable;
        private ConvolutionPatches p;
        private INDArray cols; // [k, inC, kH, kW, outH, outW], c-order
        private INDArray wd3; // [k·inC, m, kH·kW]: W_c per (example, channel)
        private INDArray u; // [k, inC·m, P]: the depthwise stage's output (separable only)
        private INDArray z; // [k, outC, outH, outW], c-order
        private long inC;
        private long m;

        Depthwise(Layer layer, String name, long wColumn, long pwColumn, long bColumn, boolean separable) {
            this.layer = layer;
            this.name = name;
            this.wColumn = wColumn;
            this.pwColumn = pwColumn;
            this.bColumn = bColumn;
            this.separable = separable;
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            var conf = conf(layer);
            long k = x.size(0);
            inC = x.size(1);
            p = ConvolutionPatches.conv2d(conf, x);
            long taps = p.taps();
            long positions = p.positions();
            INDArray w = layer.getParam("W");
            // Depthwise [kH, kW, inC, m]; separable [m, inC, kH, kW]; both to [inC, m, kH·kW].
            INDArray wc = separable
                    ? w.permute(1, 0, 2, 3).dup('c').reshape('c', inC, w.size(0), taps)
                    : w.permute(2, 3, 0, 1).dup('c').reshape('c', inC, w.size(3), taps);
            m = wc.size(1);
            cols = p.im2col(x);
            wd3 = wc.reshape('c', 1, inC, m, taps).broadcast(k, inC, m, taps).reshape('c', k * inC, m, taps);
            INDArray z3 = Nd4j.matmul(wd3, cols.reshape('c', k * inC, taps, positions))
                    .reshape('c', k, inC * m, positions);
            if (separable) {
                u = z3;
                z3 = timesEach(pointwise(), false, u); // [k, outC, P]
            }
            addBias(z3, bias(layer));
            z = z3.reshape('c', k, z3.size(1), p.outH(), p.outW());
            return conf.getActivationFn().getActivation(z.dup('c'), false);
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            long k = z.size(0);
            long taps = p.taps();
            long positions = p.positions();
            INDArray delta = delta(conf(layer).getActivationFn(), z, eps); // [k, outC, P]
            // Flat order b, W(, pW): added in reverse.
            INDArray epsU = delta; // the error at the depthwise stage's output, [k, inC·m, P]
            if (separable) {
                if (pwColumn >= 0) {
                    INDArray gpw = Nd4j.matmul(delta, u, null, false, true, false); // [k, outC, inC·m]
                    parts.add(new GradientFactors.Explicit(
                            name, pwColumn, gpw.reshape('c', k, gpw.size(1) * gpw.size(2)), gpw));
                }
                epsU = timesEach(pointwise(), true, delta);
            }
            INDArray eps3 = epsU.reshape('c', k * inC, m, positions);
            INDArray cols3 = cols.reshape('c', k * inC, taps, positions);
            if (wColumn >= 0) {
                INDArray gw = Nd4j.matmul(eps3, cols3, null, false, true, false); // [k·inC, m, taps]
                INDArray g5 = gw.reshape('c', k, inC, m, taps);
                // To the flat order of W: depthwise [kH, kW, inC, m], separable [m, inC, kH, kW].
                INDArray ordered = separable ? g5.permute(0, 2, 1, 3) : g5.permute(0, 3, 1, 2);
                parts.add(new GradientFactors.Explicit(
                        name, wColumn, ordered.dup('c').reshape('c', k, inC * m * taps)));
            }
            if (bColumn >= 0) {
                parts.add(new GradientFactors.Explicit(name, bColumn, delta.sum(2)));
            }
            if (!below) {
                return null;
            }
            INDArray epsCols = Nd4j.matmul(wd3, eps3, null, true, false, false); // [k·inC, taps, P]
            INDArray next = p.col2im(epsCols, k, inC);
            epsCols.close();
            return next;
        }

        @Override
        public void close() {
            cols.close();
            wd3.close();
        }

        /** pW as the [outC, inC·m] matrix of the pointwise stage. */
        private INDArray pointwise() {
            INDArray pw = layer.getParam("pW");
            return pw.reshape('c', pw.size(0), pw.size(1));
        }
    }

    /**
     * Deconvolution (transposed convolution, NCHW), W [inC, outC, kH, kW] as the [inC, M] matrix W_m
     * (M = outC·kH·kW): {@code z_i = col2im(W_mᵀx_i) + b}; with D_i = im2col(δ_i) [M, P_in],
     * {@code ∇_W f_i = x_i·D_iᵀ} and the error below {@code W_m·D_i}, as in libnd4j's deconv2d_bp.
     */
    private static final class Deconv implements LayerStep {
        private final Layer layer;
        private final String name;
        private final long wColumn;
        private final long bColumn;
        private ConvolutionPatches p;
        private INDArray x3; // [k, inC, P_in]
        private INDArray z; // [k, outC, outH, outW], c-order

        Deconv(Layer layer, String name, long wColumn, long bColumn) {
            this.layer = layer;
            this.name = name;
            this.wColumn = wColumn;
            this.bColumn = bColumn;
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            var conf = conf(layer);
            long k = x.size(0);
            INDArray w = layer.getParam("W");
            long inC = w.size(0);
            long outC = w.size(1);
            p = ConvolutionPatches.deconv2d(conf, x);
            x3 = x.dup('c').reshape('c', k, inC, p.positions());
            INDArray cols = timesEach(weightMatrix(), true, x3); // [k, M, P_in]
            INDArray image = p.col2im(cols, k, outC);
            cols.close();
            INDArray z3 = image.reshape('c', k, outC, p.inH() * p.inW());
            addBias(z3, bias(layer));
            z = z3.reshape('c', image.shape());
            return conf.getActivationFn().getActivation(z.dup('c'), false);
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            long k = z.size(0);
            INDArray wm = weightMatrix();
            long inC = wm.size(0);
            long m = wm.size(1);
            INDArray delta = delta(conf(layer).getActivationFn(), z, eps); // [k, outC, outH·outW]
            INDArray d3 = p.im2col(delta.reshape('c', z.shape())).reshape('c', k, m, p.positions());
            if (wColumn >= 0) {
                INDArray gw = Nd4j.matmul(x3, d3, null, false, true, false); // [k, inC, M]
                parts.add(new GradientFactors.Explicit(name, wColumn, gw.reshape('c', k, inC * m), gw));
            }
            if (bColumn >= 0) {
                parts.add(new GradientFactors.Explicit(name, bColumn, delta.sum(2)));
            }
            INDArray next = below
                    ? timesEach(wm, false, d3).reshape('c', k, inC, p.outH(), p.outW()) // [k, inC, P_in]
                    : null;
            d3.close();
            return next;
        }

        /** W as the [inC, M] matrix W_m. */
        private INDArray weightMatrix() {
            INDArray w = layer.getParam("W");
            return w.reshape('c', w.size(0), w.length() / w.size(0));
        }
    }
}

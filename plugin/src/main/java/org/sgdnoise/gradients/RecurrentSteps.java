package org.sgdnoise.gradients;

import java.util.List;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.AbstractLSTM;
import org.deeplearning4j.nn.conf.layers.BaseRecurrentLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.Bidirectional;
import org.deeplearning4j.nn.layers.pooling.GlobalPoolingLayer;
import org.deeplearning4j.nn.layers.recurrent.BidirectionalLayer;
import org.deeplearning4j.nn.layers.recurrent.GravesLSTM;
import org.deeplearning4j.nn.layers.recurrent.LSTM;
import org.deeplearning4j.nn.layers.recurrent.LastTimeStepLayer;
import org.deeplearning4j.nn.layers.recurrent.RnnOutputLayer;
import org.deeplearning4j.nn.layers.recurrent.SimpleRnn;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.util.TimeSeriesUtils;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * Batched steps for recurrent layers (NCW data, [k, n, T]): LSTM and GravesLSTM (peepholes), SimpleRnn
 * (without layer normalisation), a LastTimeStep wrapper around any of these, Bidirectional around an LSTM or
 * GravesLSTM (no masks), RnnOutputLayer, and masked global pooling; masks as DL4J 1.0.0-M2.1 applies them.
 *
 * <p>Each example's gradient is summed over its time steps (full BPTT), as DL4J's
 * {@code calculateGradients} computes it for that example alone. The LSTM runs its own forward and
 * backward pass over the k examples ({@code LSTMHelpers} sums the weight gradients over the batch inside
 * its time loop), keeps the gate errors {@code D} ([k, T, 4H], gate order i, f, o, g as in DL4J's
 * parameters) and forms the per-example weight gradients as batched products over time:
 * {@code ∇_W f_i = X_iᵀD_i}, {@code ∇_RW f_i = H_{i,prev}ᵀD_i}, {@code ∇_b f_i = Σ_t D_{i,t}}.
 */
final class RecurrentSteps {

    private RecurrentSteps() {}

    /** True for the layer classes this file has steps for. */
    static boolean handles(Layer layer) {
        Class<?> c = layer.getClass();
        return c == LSTM.class
                || c == GravesLSTM.class
                || c == SimpleRnn.class
                || c == BidirectionalLayer.class
                || c == RnnOutputLayer.class
                || c == LastTimeStepLayer.class;
    }

    /** Why a layer that {@link #handles} has no batched rule, or null when it has one. */
    static String unsupported(Layer layer) {
        if (layer instanceof LastTimeStepLayer w) {
            Layer inner = w.getUnderlying();
            if (inner.getClass() != LSTM.class
                    && inner.getClass() != GravesLSTM.class
                    && inner.getClass() != SimpleRnn.class) {
                return "LastTimeStep around " + inner.getClass().getSimpleName();
            }
            return unsupported(inner);
        }
        var conf = layer.conf().getLayer();
        if (conf instanceof Bidirectional bi) {
            if (!(bi.getFwd() instanceof AbstractLSTM)) {
                return "Bidirectional around " + bi.getFwd().getClass().getSimpleName();
            }
            return bi.getRNNDataFormat() == RNNFormat.NWC ? "NWC data" : null;
        }
        if (conf instanceof org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn r && r.hasLayerNorm()) {
            return "layer normalisation";
        }
        RNNFormat format = conf instanceof BaseRecurrentLayer r
                ? r.getRnnDataFormat()
                : ((org.deeplearning4j.nn.conf.layers.RnnOutputLayer) conf).getRnnDataFormat();
        return format == RNNFormat.NCW ? null : "NWC data";
    }

    /** True for the layers whose steps take masks: every layer {@link #handles}, and GlobalPoolingLayer. */
    static boolean takesMasks(Layer layer) {
        return (handles(layer) && layer.getClass() != BidirectionalLayer.class)
                || layer.getClass() == GlobalPoolingLayer.class;
    }

    /** True for the layers that consume a mask (their output has none): LastTimeStep and global pooling. */
    static boolean endsMask(Layer layer) {
        return layer.getClass() == LastTimeStepLayer.class || layer.getClass() == GlobalPoolingLayer.class;
    }

    /** The step of a GlobalPoolingLayer: DL4J's own pass (per example), with the mask set on the layer. */
    static LayerStep pooling(Layer layer) {
        return new MaskedPooling(layer);
    }

    /** The step of a layer that {@link #handles}. */
    static LayerStep step(Layer layer, String name, ParameterLayout layout) {
        if (layer instanceof LastTimeStepLayer w) {
            Layer inner = w.getUnderlying();
            return new LastStep(
                    inner.getClass() == SimpleRnn.class
                            ? new SimpleRnnStep(inner, name, layout)
                            : new LstmStep(inner, name, layout, true));
        }
        if (layer.getClass() == SimpleRnn.class) {
            return new SimpleRnnStep(layer, name, layout);
        }
        if (layer.conf().getLayer() instanceof Bidirectional bi) {
            return new Bi(
                    new LstmStep(layer, "f", (AbstractLSTM) bi.getFwd(), name, layout, false),
                    new LstmStep(layer, "b", (AbstractLSTM) bi.getBwd(), name, layout, false),
                    bi.getMode());
        }
        if (layer.getClass() == RnnOutputLayer.class) {
            return new RnnOutput(layer, name, layout.column(name, "W"), layout.column(name, "b"));
        }
        return new LstmStep(layer, name, layout, false);
    }

    /** Column t of a [k, T] mask as a k×1 column, or null. */
    static INDArray maskColumn(INDArray mask, int t, long k) {
        return mask == null
                ? null
                : mask.get(NDArrayIndex.all(), NDArrayIndex.point(t)).reshape(k, 1);
    }

    /**
     * Bidirectional around an LSTM or GravesLSTM, without masks: the forward half on the input, the backward
     * half on the time-reversed input (its output reversed back), combined as the mode says (CONCAT along
     * the feature axis, ADD, MUL, AVERAGE); each half's per-example gradients are its own LSTM's.
     */
    private static final class Bi implements LayerStep {
        private final LstmStep fwd;
        private final LstmStep bwd;
        private final Bidirectional.Mode mode;
        private INDArray outF;
        private INDArray outB; // reversed back: aligned with outF

        Bi(LstmStep fwd, LstmStep bwd, Bidirectional.Mode mode) {
            this.fwd = fwd;
            this.bwd = bwd;
            this.mode = mode;
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            outF = fwd.forward(x, mgr);
            outB = TimeSeriesUtils.reverseTimeSeries(bwd.forward(TimeSeriesUtils.reverseTimeSeries(x), mgr));
            return switch (mode) {
                case CONCAT -> Nd4j.concat(1, outF, outB);
                case ADD -> outF.add(outB);
                case MUL -> outF.mul(outB);
                case AVERAGE -> outF.add(outB).muli(0.5);
            };
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            long h = outF.size(1);
            INDArray epsF;
            INDArray epsB;
            switch (mode) {
                case CONCAT -> {
                    epsF = eps.get(NDArrayIndex.all(), NDArrayIndex.interval(0, h), NDArrayIndex.all())
                            .dup('c');
                    epsB = eps.get(NDArrayIndex.all(), NDArrayIndex.interval(h, 2 * h), NDArrayIndex.all())
                            .dup('c');
                }
                case ADD -> {
                    epsF = eps;
                    epsB = eps;
                }
                case MUL -> {
                    epsF = eps.mul(outB);
                    epsB = eps.mul(outF);
                }
                default -> {
                    epsF = eps.mul(0.5);
                    epsB = epsF;
                }
            }
            // The backward half's parameters follow the forward half's in the flat vector, and the parts
            // are reversed at the end: its parts first.
            INDArray inB = bwd.backward(TimeSeriesUtils.reverseTimeSeries(epsB), below, parts, mgr);
            INDArray inF = fwd.backward(epsF, below, parts, mgr);
            return below ? inF.addi(TimeSeriesUtils.reverseTimeSeries(inB)) : null;
        }

        @Override
        public void close() {
            fwd.close();
            bwd.close();
        }
    }

    /**
     * Global pooling (over time, or over space), parameter-free: DL4J's own forward and backward pass, which
     * pool each example separately, with the mask set on the layer as MultiLayerNetwork sets it; the mask
     * stops here.
     */
    private static final class MaskedPooling implements MaskedStep {
        private final Layer layer;

        MaskedPooling(Layer layer) {
            this.layer = layer;
        }

        @Override
        public INDArray feedMask(INDArray mask) {
            layer.setMaskArray(mask);
            return null;
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            INDArray out = layer.activate(x.dup(), false, mgr); // as BatchedGradients' PassThrough
            layer.setInput(x, mgr);
            return out;
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            return below ? layer.backpropGradient(eps, mgr).getSecond() : null;
        }

        @Override
        public void close() {
            layer.setMaskArray(null);
        }
    }

    /**
     * LastTimeStep around an LSTM or SimpleRnn: the output at each example's last unmasked step (the last step without
     * a mask); the mask stops here, as in DL4J.
     */
    private static final class LastStep implements MaskedStep {
        private final MaskedStep inner;
        private int[] last;
        private long steps;
        private INDArray mask;

        LastStep(MaskedStep inner) {
            this.inner = inner;
        }

        @Override
        public INDArray feedMask(INDArray mask) {
            inner.feedMask(mask);
            this.mask = mask;
            return null;
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            INDArray out = inner.forward(x, mgr); // [k, H, T]
            int k = (int) out.size(0);
            steps = out.size(2);
            last = new int[k];
            double[][] m = mask == null ? null : mask.castTo(DataType.DOUBLE).toDoubleMatrix();
            INDArray res = Nd4j.create(out.dataType(), k, out.size(1));
            for (int i = 0; i < k; i++) {
                int t = (int) steps - 1;
                if (m != null) {
                    while (t > 0 && m[i][t] == 0.0) {
                        t--;
                    }
                }
                last[i] = t;
                res.getRow(i).assign(out.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.point(t)));
            }
            if (mask != null) {
                // DL4J 1.0.0-M2.1 (TimeSeriesUtils.pullLastTimeSteps) gathers the masked case into an array of
                // ND4J's default type, FLOAT: a DOUBLE network trains on float-rounded last steps. Reproduced,
                // so that these are the gradients DL4J computes.
                res = res.castTo(Nd4j.defaultFloatingPointType()).castTo(out.dataType());
            }
            return res;
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            INDArray full = Nd4j.create(eps.dataType(), eps.size(0), eps.size(1), steps);
            for (int i = 0; i < last.length; i++) {
                full.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.point(last[i]))
                        .assign(eps.getRow(i));
            }
            return inner.backward(full, below, parts, mgr);
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    /**
     * RnnOutputLayer: a dense layer at every time step, {@code ∇_W f_i = Σ_t a_{i,t} δ_{i,t}ᵀ} (one batched
     * product over time), {@code ∇_b f_i = Σ_t δ_{i,t}}; the mask multiplies the loss gradient per step.
     */
    private static final class RnnOutput implements MaskedStep {
        private final Layer layer;
        private final String name;
        private final long wColumn;
        private final long bColumn;
        private final IActivation activation;
        private final ILossFunction loss;
        private INDArray mask;
        private INDArray a2; // [k·T, nIn], row i·T + t
        private INDArray z2;
        private long k;
        private long steps;

        RnnOutput(Layer layer, String name, long wColumn, long bColumn) {
            this.layer = layer;
            this.name = name;
            this.wColumn = wColumn;
            this.bColumn = bColumn;
            var conf = (org.deeplearning4j.nn.conf.layers.RnnOutputLayer)
                    layer.conf().getLayer();
            this.activation = conf.getActivationFn();
            this.loss = conf.getLossFn();
        }

        @Override
        public INDArray feedMask(INDArray mask) {
            this.mask = mask;
            return mask;
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            if (x.rank() != 3) {
                throw new BatchedGradients.Unbatchable(name + " takes [k, n, T] input, got rank " + x.rank());
            }
            k = x.size(0);
            steps = x.size(2);
            a2 = x.permute(0, 2, 1).dup('c').reshape('c', k * steps, x.size(1));
            z2 = a2.mmul(layer.getParam("W"));
            INDArray b = layer.getParam("b");
            if (b != null) {
                z2.addiRowVector(b);
            }
            INDArray out = activation.getActivation(z2.dup(), false);
            return out.reshape('c', k, steps, out.size(1)).permute(0, 2, 1);
        }

        @Override
        public INDArray backward(
                INDArray labels, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            INDArray w = layer.getParam("W");
            long nIn = w.size(0);
            long nOut = w.size(1);
            INDArray y2 = labels.permute(0, 2, 1).dup('c').reshape('c', k * steps, nOut);
            INDArray m2 = null;
            if (mask != null) {
                INDArray m = mask.castTo(w.dataType());
                m2 = m.rank() == 3
                        ? m.permute(0, 2, 1).dup('c').reshape('c', k * steps, nOut)
                        : m.dup('c').reshape('c', k * steps, 1);
            }
            INDArray delta2 = loss.computeGradient(y2, z2.dup(), activation, m2).dup('c');
            INDArray delta3 = delta2.reshape('c', k, steps, nOut);
            if (bColumn >= 0) {
                parts.add(new GradientFactors.Explicit(name, bColumn, delta3.sum(1)));
            }
            if (wColumn >= 0) {
                // [k, nOut, nIn] c-order per example = W [nIn, nOut] in its f order.
                INDArray gw = Nd4j.matmul(delta3, a2.reshape('c', k, steps, nIn), null, true, false, false);
                parts.add(new GradientFactors.Explicit(name, wColumn, gw.reshape('c', k, nOut * nIn), gw));
            }
            if (!below) {
                return null;
            }
            return delta2.mmul(w.transpose())
                    .reshape('c', k, steps, nIn)
                    .permute(0, 2, 1)
                    .dup('c');
        }
    }

    /** The hidden states h_{t−1} as a [k, T, H] block (zero at t = 0), for the recurrent weights' gradients. */
    static INDArray previousStates(INDArray[] hs, DataType dt, long k, int steps, long h) {
        INDArray prev = Nd4j.create(dt, k, steps, h);
        for (int t = 1; t < steps; t++) {
            prev.get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all())
                    .assign(hs[t - 1]);
        }
        return prev;
    }

    /** Writes step t's error for the layer below, {@code d·Wᵀ} masked by {@code m} (null: none), into epsBelow. */
    static void errorBelow(INDArray d, INDArray wT, INDArray m, INDArray epsBelow, int t) {
        INDArray e = d.mmul(wT);
        if (m != null) {
            e.muliColumnVector(m);
        }
        epsBelow.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(t))
                .assign(e);
    }
}

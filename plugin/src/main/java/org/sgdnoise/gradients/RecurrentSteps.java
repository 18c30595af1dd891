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
                            ? new Simple(inner, name, layout)
                            : new Lstm(inner, name, layout, true));
        }
        if (layer.getClass() == SimpleRnn.class) {
            return new Simple(layer, name, layout);
        }
        if (layer.conf().getLayer() instanceof Bidirectional bi) {
            return new Bi(
                    new Lstm(layer, "f", (AbstractLSTM) bi.getFwd(), name, layout, false),
                    new Lstm(layer, "b", (AbstractLSTM) bi.getBwd(), name, layout, false),
                    bi.getMode());
        }
        if (layer.getClass() == RnnOutputLayer.class) {
            return new RnnOutput(layer, name, layout.column(name, "W"), layout.column(name, "b"));
        }
        return new Lstm(layer, name, layout, false);
    }

    /** Column t of a [k, T] mask as a k×1 column, or null. */
    private static INDArray maskColumn(INDArray mask, int t, long k) {
        return mask == null
                ? null
                : mask.get(NDArrayIndex.all(), NDArrayIndex.point(t)).reshape(k, 1);
    }

    /**
     * LSTM ({@code peephole == false}) and GravesLSTM, as {@code LSTMHelpers}: with z = x W + h_{t-1} RW + b
     * split into (i, f, o, g), {@code c_t = σ(z_f + c_{t-1}w_FF) c_{t-1} + σ(z_g + c_{t-1}w_GG) act(z_i)},
     * {@code h_t = σ(z_o + c_t w_OO) act(c_t)}, peephole terms only for GravesLSTM (RW's last three
     * columns). Masks follow DL4J 1.0.0-M2.1's MultiLayerNetwork exactly: only a layer inside LastTimeStep
     * has one (a bare (Graves)LSTM's {@code feedForwardMaskArray} passes the feature mask on without keeping
     * it); the forward pass zeroes h_t and c_t at masked steps; GravesLSTM's backward pass also zeroes the
     * gate errors there and the error passed below (the cell error is carried on unmasked), LSTM's backward
     * pass is unmasked ({@code LSTM.backpropGradientHelper} hands LSTMHelpers no mask).
     */
    private static final class Lstm implements MaskedStep {
        private final Layer layer;
        private final String name;
        private final long wColumn;
        private final long rwColumn;
        private final long bColumn;
        private final boolean peephole;
        private final IActivation afn;
        private final IActivation gate;
        private final boolean masked;
        private final String prefix;
        private INDArray mask;
        private INDArray backwardMask;
        private long k;
        private int steps;
        private long h;
        private INDArray xt; // [k, T, nIn], c-order
        private INDArray[] zi;
        private INDArray[] zf;
        private INDArray[] zo;
        private INDArray[] zg;
        private INDArray[] ai;
        private INDArray[] af;
        private INDArray[] ao;
        private INDArray[] ag;
        private INDArray[] c; // cell state, masked
        private INDArray[] tc; // act(c) before masking
        private INDArray[] hs; // output, masked

        Lstm(Layer layer, String name, ParameterLayout layout, boolean masked) {
            this(layer, "", (AbstractLSTM) layer.conf().getLayer(), name, layout, masked);
        }

        /**
         * An LSTM whose parameters are {@code layer}'s under keys {@code prefix + "W"} etc. (a Bidirectional
         * layer's "f"/"b" halves), configured by {@code conf}.
         */
        Lstm(Layer layer, String prefix, AbstractLSTM conf, String name, ParameterLayout layout, boolean masked) {
            this.layer = layer;
            this.prefix = prefix;
            this.masked = masked;
            this.name = name;
            this.wColumn = layout.column(name, prefix + "W");
            this.rwColumn = layout.column(name, prefix + "RW");
            this.bColumn = layout.column(name, prefix + "b");
            this.peephole = conf instanceof org.deeplearning4j.nn.conf.layers.GravesLSTM;
            this.afn = conf.getActivationFn();
            this.gate = conf.getGateActivationFn();
        }

        private INDArray param(String key) {
            return layer.getParam(prefix + key);
        }

        @Override
        public INDArray feedMask(INDArray mask) {
            this.mask = masked ? mask : null;
            return mask;
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            INDArray w = param("W");
            INDArray rw = param("RW");
            INDArray b = param("b");
            DataType dt = w.dataType();
            if (x.rank() != 3) {
                throw new BatchedGradients.Unbatchable(name + " takes [k, n, T] input, got rank " + x.rank());
            }
            k = x.size(0);
            steps = (int) x.size(2);
            h = rw.size(0);
            long nIn = w.size(0);
            if (mask != null) {
                mask = mask.castTo(dt);
            }
            backwardMask = peephole ? mask : null;
            xt = x.permute(0, 2, 1).dup('c');
            INDArray xw = xt.reshape('c', k * steps, nIn).mmul(w).reshape('c', k, steps, 4 * h);
            INDArray rwIfog = rw.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 4 * h));
            INDArray[] peep = peepholes(rw);
            zi = new INDArray[steps];
            zf = new INDArray[steps];
            zo = new INDArray[steps];
            zg = new INDArray[steps];
            ai = new INDArray[steps];
            af = new INDArray[steps];
            ao = new INDArray[steps];
            ag = new INDArray[steps];
            c = new INDArray[steps];
            tc = new INDArray[steps];
            hs = new INDArray[steps];
            INDArray out = Nd4j.create(dt, k, h, steps);
            INDArray hPrev = null;
            INDArray cPrev = null;
            for (int t = 0; t < steps; t++) {
                INDArray z = xw.get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all())
                        .dup('c');
                if (hPrev != null) {
                    z.addi(hPrev.mmul(rwIfog));
                }
                z.addiRowVector(b);
                zi[t] = gatePart(z, 0);
                zf[t] = gatePart(z, 1);
                zo[t] = gatePart(z, 2);
                zg[t] = gatePart(z, 3);
                if (peephole && cPrev != null) {
                    zf[t].addi(cPrev.mulRowVector(peep[0]));
                    zg[t].addi(cPrev.mulRowVector(peep[2]));
                }
                ai[t] = afn.getActivation(zi[t].dup('c'), false);
                af[t] = gate.getActivation(zf[t].dup('c'), false);
                ag[t] = gate.getActivation(zg[t].dup('c'), false);
                INDArray ct = ag[t].mul(ai[t]);
                if (cPrev != null) {
                    ct.addi(af[t].mul(cPrev));
                }
                if (peephole) {
                    zo[t].addi(ct.mulRowVector(peep[1]));
                }
                ao[t] = gate.getActivation(zo[t].dup('c'), false);
                tc[t] = afn.getActivation(ct.dup('c'), false);
                INDArray ht = tc[t].mul(ao[t]);
                INDArray m = maskColumn(mask, t, k);
                if (m != null) {
                    ht.muliColumnVector(m);
                    ct.muliColumnVector(m);
                }
                c[t] = ct;
                hs[t] = ht;
                out.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(t))
                        .assign(ht);
                hPrev = ht;
                cPrev = ct;
            }
            return out;
        }

        private INDArray gatePart(INDArray z, int gateIndex) {
            return z.get(NDArrayIndex.all(), NDArrayIndex.interval(gateIndex * h, (gateIndex + 1) * h))
                    .dup('c');
        }

        /** GravesLSTM's peephole weights (FF, OO, GG) as 1×H rows, or nulls. */
        private INDArray[] peepholes(INDArray rw) {
            INDArray[] p = new INDArray[3];
            if (peephole) {
                for (int j = 0; j < 3; j++) {
                    p[j] = rw.get(NDArrayIndex.all(), NDArrayIndex.point(4 * h + j))
                            .dup('c')
                            .reshape(1, h);
                }
            }
            return p;
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            INDArray w = param("W");
            INDArray rw = param("RW");
            DataType dt = w.dataType();
            long nIn = w.size(0);
            INDArray rwIfogT =
                    rw.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 4 * h)).transpose();
            INDArray wT = w.transpose();
            INDArray[] peep = peepholes(rw);
            INDArray gates = Nd4j.create(dt, k, steps, 4 * h); // D: the masked gate errors (i, f, o, g)
            INDArray[] gPeep = new INDArray[3];
            if (peephole) {
                for (int j = 0; j < 3; j++) {
                    gPeep[j] = Nd4j.create(dt, k, h);
                }
            }
            INDArray epsBelow = below ? Nd4j.create(dt, k, nIn, steps) : null;
            INDArray dNext = null;
            INDArray cellNext = null;
            for (int t = steps - 1; t >= 0; t--) {
                INDArray nablaOut = eps.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(t))
                        .dup('c');
                if (dNext != null) {
                    nablaOut.addi(dNext.mmul(rwIfogT));
                }
                INDArray deltaO =
                        gate.backprop(zo[t].dup('c'), nablaOut.mul(tc[t])).getFirst();
                INDArray cell = afn.backprop(c[t].dup('c'), ao[t].mul(nablaOut)).getFirst();
                if (peephole) {
                    cell.addi(deltaO.mulRowVector(peep[1]));
                    if (dNext != null) {
                        cell.addi(gatePart(dNext, 1).mulRowVector(peep[0]));
                        cell.addi(gatePart(dNext, 3).mulRowVector(peep[2]));
                    }
                }
                if (cellNext != null) {
                    cell.addi(af[t + 1].mul(cellNext));
                }
                cellNext = cell;
                INDArray d = Nd4j.create(dt, k, 4 * h);
                d.get(NDArrayIndex.all(), NDArrayIndex.interval(0, h))
                        .assign(afn.backprop(zi[t].dup('c'), cell.mul(ag[t])).getFirst());
                if (t > 0) { // c_{-1} = 0: no forget-gate error at t = 0
                    d.get(NDArrayIndex.all(), NDArrayIndex.interval(h, 2 * h))
                            .assign(gate.backprop(zf[t].dup('c'), cell.mul(c[t - 1]))
                                    .getFirst());
                }
                d.get(NDArrayIndex.all(), NDArrayIndex.interval(2 * h, 3 * h)).assign(deltaO);
                d.get(NDArrayIndex.all(), NDArrayIndex.interval(3 * h, 4 * h))
                        .assign(gate.backprop(zg[t].dup('c'), cell.mul(ai[t])).getFirst());
                INDArray m = maskColumn(backwardMask, t, k);
                if (m != null) {
                    d.muliColumnVector(m);
                }
                gates.get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all())
                        .assign(d);
                if (peephole) {
                    gPeep[1].addi(gatePart(d, 2).mul(c[t]));
                    if (t > 0) {
                        gPeep[0].addi(gatePart(d, 1).mul(c[t - 1]));
                        gPeep[2].addi(gatePart(d, 3).mul(c[t - 1]));
                    }
                }
                if (below) {
                    errorBelow(d, wT, m, epsBelow, t);
                }
                dNext = d;
            }
            // Added in reverse flat order (W, RW, b): BatchedGradients reverses the list.
            if (bColumn >= 0) {
                parts.add(new GradientFactors.Explicit(name, bColumn, gates.sum(1)));
            }
            if (rwColumn >= 0) {
                INDArray hPrev = previousStates(hs, dt, k, steps, h);
                // [k, 4H, H] c-order per example = RW[:, 0:4H] in its f order.
                INDArray grw =
                        Nd4j.matmul(gates, hPrev, null, true, false, false).reshape('c', k, 4 * h * h);
                hPrev.close();
                if (peephole) {
                    grw = Nd4j.concat(1, grw, gPeep[0], gPeep[1], gPeep[2]);
                }
                parts.add(new GradientFactors.Explicit(name, rwColumn, grw));
            }
            if (wColumn >= 0) {
                // [k, 4H, nIn] c-order per example = W [nIn, 4H] in its f order.
                INDArray gw = Nd4j.matmul(gates, xt, null, true, false, false);
                parts.add(new GradientFactors.Explicit(name, wColumn, gw.reshape('c', k, 4 * h * nIn), gw));
            }
            gates.close();
            return epsBelow;
        }

        @Override
        public void close() {
            xt.close();
        }
    }

    /**
     * Bidirectional around an LSTM or GravesLSTM, without masks: the forward half on the input, the backward
     * half on the time-reversed input (its output reversed back), combined as the mode says (CONCAT along
     * the feature axis, ADD, MUL, AVERAGE); each half's per-example gradients are its own LSTM's.
     */
    private static final class Bi implements LayerStep {
        private final Lstm fwd;
        private final Lstm bwd;
        private final Bidirectional.Mode mode;
        private INDArray outF;
        private INDArray outB; // reversed back: aligned with outF

        Bi(Lstm fwd, Lstm bwd, Bidirectional.Mode mode) {
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
     * SimpleRnn, as DL4J 1.0.0-M2.1 computes it: {@code h_t = act(x_t W + h_{t-1} RW + b)·m_t} (the mask,
     * which a bare SimpleRnn keeps, zeroes the output inside the loop), errors
     * {@code d_t = act'(z_t)·(ε_t + d_{t+1} RWᵀ)·m_t}; the error passed below is masked too.
     */
    private static final class Simple implements MaskedStep {
        private final Layer layer;
        private final String name;
        private final long wColumn;
        private final long rwColumn;
        private final long bColumn;
        private final IActivation afn;
        private INDArray mask;
        private long k;
        private int steps;
        private long h;
        private INDArray xt; // [k, T, nIn], c-order
        private INDArray[] z;
        private INDArray[] hs;

        Simple(Layer layer, String name, ParameterLayout layout) {
            this.layer = layer;
            this.name = name;
            this.wColumn = layout.column(name, "W");
            this.rwColumn = layout.column(name, "RW");
            this.bColumn = layout.column(name, "b");
            this.afn = ((BaseRecurrentLayer) layer.conf().getLayer()).getActivationFn();
        }

        @Override
        public INDArray feedMask(INDArray mask) {
            this.mask = mask;
            return mask;
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            INDArray w = layer.getParam("W");
            INDArray rw = layer.getParam("RW");
            INDArray b = layer.getParam("b");
            DataType dt = w.dataType();
            if (x.rank() != 3) {
                throw new BatchedGradients.Unbatchable(name + " takes [k, n, T] input, got rank " + x.rank());
            }
            k = x.size(0);
            steps = (int) x.size(2);
            h = rw.size(0);
            long nIn = w.size(0);
            if (mask != null) {
                mask = mask.castTo(dt);
            }
            xt = x.permute(0, 2, 1).dup('c');
            INDArray xw = xt.reshape('c', k * steps, nIn).mmul(w).reshape('c', k, steps, h);
            z = new INDArray[steps];
            hs = new INDArray[steps];
            INDArray out = Nd4j.create(dt, k, h, steps);
            for (int t = 0; t < steps; t++) {
                INDArray zt = xw.get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all())
                        .dup('c');
                if (t > 0) {
                    zt.addi(hs[t - 1].mmul(rw));
                }
                zt.addiRowVector(b);
                INDArray ht = afn.getActivation(zt.dup('c'), false);
                INDArray m = maskColumn(mask, t, k);
                if (m != null) {
                    ht.muliColumnVector(m);
                    zt.muliColumnVector(m); // DL4J keeps the masked pre-activations for its backward pass
                }
                z[t] = zt;
                hs[t] = ht;
                out.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(t))
                        .assign(ht);
            }
            return out;
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            INDArray w = layer.getParam("W");
            INDArray rwT = layer.getParam("RW").transpose();
            DataType dt = w.dataType();
            long nIn = w.size(0);
            INDArray errors = Nd4j.create(dt, k, steps, h);
            INDArray epsBelow = below ? Nd4j.create(dt, k, nIn, steps) : null;
            INDArray dNext = null;
            for (int t = steps - 1; t >= 0; t--) {
                INDArray dlda = eps.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(t))
                        .dup('c');
                if (dNext != null) {
                    dlda.addi(dNext.mmul(rwT));
                }
                INDArray d = afn.backprop(z[t].dup('c'), dlda).getFirst().dup('c');
                INDArray m = maskColumn(mask, t, k);
                if (m != null) {
                    d.muliColumnVector(m);
                }
                errors.get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all())
                        .assign(d);
                if (below) {
                    errorBelow(d, w.transpose(), m, epsBelow, t);
                }
                dNext = d;
            }
            // Added in reverse flat order (W, RW, b): BatchedGradients reverses the list.
            if (bColumn >= 0) {
                parts.add(new GradientFactors.Explicit(name, bColumn, errors.sum(1)));
            }
            if (rwColumn >= 0) {
                INDArray hPrev = previousStates(hs, dt, k, steps, h);
                INDArray grw = Nd4j.matmul(errors, hPrev, null, true, false, false); // [k, H, H]
                hPrev.close();
                parts.add(new GradientFactors.Explicit(name, rwColumn, grw.reshape('c', k, h * h), grw));
            }
            if (wColumn >= 0) {
                INDArray gw = Nd4j.matmul(errors, xt, null, true, false, false); // [k, H, nIn]
                parts.add(new GradientFactors.Explicit(name, wColumn, gw.reshape('c', k, h * nIn), gw));
            }
            errors.close();
            return epsBelow;
        }

        @Override
        public void close() {
            xt.close();
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
    private static INDArray previousStates(INDArray[] hs, DataType dt, long k, int steps, long h) {
        INDArray prev = Nd4j.create(dt, k, steps, h);
        for (int t = 1; t < steps; t++) {
            prev.get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all())
                    .assign(hs[t - 1]);
        }
        return prev;
    }

    /** Writes step t's error for the layer below, {@code d·Wᵀ} masked by {@code m} (null: none), into epsBelow. */
    private static void errorBelow(INDArray d, INDArray wT, INDArray m, INDArray epsBelow, int t) {
        INDArray e = d.mmul(wT);
        if (m != null) {
            e.muliColumnVector(m);
        }
        epsBelow.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(t))
                .assign(e);
    }
}

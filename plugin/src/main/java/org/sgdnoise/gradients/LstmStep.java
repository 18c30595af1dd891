package org.sgdnoise.gradients;

import java.util.List;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.layers.AbstractLSTM;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

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
final class LstmStep implements MaskedStep {
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

    LstmStep(Layer layer, String name, ParameterLayout layout, boolean masked) {
        this(layer, "", (AbstractLSTM) layer.conf().getLayer(), name, layout, masked);
    }

    /**
     * An LSTM whose parameters are {@code layer}'s under keys {@code prefix + "W"} etc. (a Bidirectional
     * layer's "f"/"b" halves), configured by {@code conf}.
     */
    LstmStep(Layer layer, String prefix, AbstractLSTM conf, String name, ParameterLayout layout, boolean masked) {
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
            INDArray m = RecurrentSteps.maskColumn(mask, t, k);
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
            INDArray deltaO = gate.backprop(zo[t].dup('c'), nablaOut.mul(tc[t])).getFirst();
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
            INDArray m = RecurrentSteps.maskColumn(backwardMask, t, k);
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
                RecurrentSteps.errorBelow(d, wT, m, epsBelow, t);
            }
            dNext = d;
        }
        // Added in reverse flat order (W, RW, b): BatchedGradients reverses the list.
        if (bColumn >= 0) {
            parts.add(new GradientFactors.Explicit(name, bColumn, gates.sum(1)));
        }
        if (rwColumn >= 0) {
            INDArray hPrev = RecurrentSteps.previousStates(hs, dt, k, steps, h);
            // [k, 4H, H] c-order per example = RW[:, 0:4H] in its f order.
            INDArray grw = Nd4j.matmul(gates, hPrev, null, true, false, false).reshape('c', k, 4 * h * h);
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

package org.sgdnoise.gradients;

import java.util.List;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.layers.BaseRecurrentLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * SimpleRnn, as DL4J 1.0.0-M2.1 computes it: {@code h_t = act(x_t W + h_{t-1} RW + b)·m_t} (the mask,
 * which a bare SimpleRnn keeps, zeroes the output inside the loop), errors
 * {@code d_t = act'(z_t)·(ε_t + d_{t+1} RWᵀ)·m_t}; the error passed below is masked too.
 */
final class SimpleRnnStep implements MaskedStep {
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

    SimpleRnnStep(Layer layer, String name, ParameterLayout layout) {
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
            INDArray m = RecurrentSteps.maskColumn(mask, t, k);
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
            INDArray m = RecurrentSteps.maskColumn(mask, t, k);
            if (m != null) {
                d.muliColumnVector(m);
            }
            errors.get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all())
                    .assign(d);
            if (below) {
                RecurrentSteps.errorBelow(d, w.transpose(), m, epsBelow, t);
            }
            dNext = d;
        }
        // Added in reverse flat order (W, RW, b): BatchedGradients reverses the list.
        if (bColumn >= 0) {
            parts.add(new GradientFactors.Explicit(name, bColumn, errors.sum(1)));
        }
        if (rwColumn >= 0) {
            INDArray hPrev = RecurrentSteps.previousStates(hs, dt, k, steps, h);
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

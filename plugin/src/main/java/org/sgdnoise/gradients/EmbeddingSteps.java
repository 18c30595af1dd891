package org.sgdnoise.gradients;

import java.util.List;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.layers.feedforward.embedding.EmbeddingLayer;
import org.deeplearning4j.nn.layers.feedforward.embedding.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Broadcast;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Batched steps for EmbeddingLayer ([k, 1] token indices) and EmbeddingSequenceLayer ([k, T] or [k, 1, T],
 * NCW output, with a mask): {@code out_{i,t} = act(W[tok_{i,t}] + b)}. The weight gradients are held
 * sparsely ({@link SparseRows}: the rows of each example's tokens), the bias gradients explicitly. The
 * layer must be the lowest trained layer (DL4J passes no error below an embedding).
 */
final class EmbeddingSteps {

    private EmbeddingSteps() {}

    /** True for the layer classes this file has steps for. */
    static boolean handles(Layer layer) {
        return layer.getClass() == EmbeddingLayer.class || layer.getClass() == EmbeddingSequenceLayer.class;
    }

    /** Why a layer that {@link #handles} has no batched rule, or null when it has one. */
    static String unsupported(Layer layer) {
        if (layer.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer s) {
            return s.getOutputFormat() == RNNFormat.NCW ? null : "NWC output";
        }
        return null;
    }

    /** True for the layers whose steps take a feature mask (EmbeddingSequenceLayer). */
    static boolean takesMasks(Layer layer) {
        return layer.getClass() == EmbeddingSequenceLayer.class;
    }

    /** The step of a layer that {@link #handles}. */
    static LayerStep step(Layer layer, String name, ParameterLayout layout) {
        return new Lookup(
                layer,
                name,
                layout.column(name, "W"),
                layout.column(name, "b"),
                layer.getClass() == EmbeddingSequenceLayer.class);
    }

    private static final class Lookup implements MaskedStep {
        private final Layer layer;
        private final String name;
        private final long wColumn;
        private final long bColumn;
        private final boolean sequence;
        private final IActivation activation;
        private INDArray mask;
        private int[][] tokens;
        private INDArray z2; // [k·T, n], row i·T + t

        Lookup(Layer layer, String name, long wColumn, long bColumn, boolean sequence) {
            this.layer = layer;
            this.name = name;
            this.wColumn = wColumn;
            this.bColumn = bColumn;
            this.sequence = sequence;
            this.activation =
                    ((org.deeplearning4j.nn.conf.layers.BaseLayer) layer.conf().getLayer()).getActivationFn();
        }

        @Override
        public INDArray feedMask(INDArray mask) {
            if (mask != null && !sequence) {
                throw new BatchedGradients.Unbatchable(name + " (EmbeddingLayer) has no batched rule for masks");
            }
            this.mask = mask;
            return mask;
        }

        @Override
        public INDArray forward(INDArray x, LayerWorkspaceMgr mgr) {
            INDArray w = layer.getParam("W");
            long vocab = w.size(0);
            long n = w.size(1);
            int k = (int) x.size(0);
            boolean ok = sequence
                    ? x.rank() == 2 || (x.rank() == 3 && x.size(1) == 1)
                    : (x.rank() == 2 && x.size(1) == 1) || x.rank() == 1;
            if (!ok) {
                throw new BatchedGradients.Unbatchable(
                        name + " has no batched rule for input of rank " + x.rank() + " " + x.shapeInfoToString());
            }
            int steps = (int) (x.length() / k);
            double[] flat = x.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            tokens = new int[k][steps];
            int[] all = new int[k * steps];
            for (int i = 0; i < k; i++) {
                for (int t = 0; t < steps; t++) {
                    int v = (int) flat[i * steps + t];
                    if (v < 0 || v >= vocab) {
                        throw new IllegalArgumentException(
                                name + ": token indices must be in [0, " + vocab + "), got " + flat[i * steps + t]);
                    }
                    tokens[i][t] = v;
                    all[i * steps + t] = v;
                }
            }
            z2 = Nd4j.pullRows(w, 1, all);
            INDArray b = layer.getParam("b");
            if (b != null) {
                z2.addiRowVector(b);
            }
            INDArray a2 = activation.getActivation(z2.dup(), false);
            if (!sequence) {
                return a2;
            }
            INDArray out = a2.reshape('c', k, steps, n).permute(0, 2, 1).dup('c');
            if (mask != null) {
                Broadcast.mul(out, mask.castTo(out.dataType()), out, 0, 2);
            }
            return out;
        }

        @Override
        public INDArray backward(INDArray eps, boolean below, List<GradientFactors.Part> parts, LayerWorkspaceMgr mgr) {
            if (below) {
                throw new BatchedGradients.Unbatchable(name + " (an embedding) is not the lowest trained layer");
            }
            INDArray w = layer.getParam("W");
            int k = tokens.length;
            int steps = tokens[0].length;
            long n = w.size(1);
            INDArray e2 = sequence ? eps.permute(0, 2, 1).dup('c').reshape('c', (long) k * steps, n) : eps;
            INDArray delta2 = activation.backprop(z2.dup(), e2).getFirst().dup('c');
            if (mask != null) {
                delta2.muliColumnVector(mask.castTo(delta2.dataType()).dup('c').reshape('c', (long) k * steps, 1));
            }
            INDArray delta3 = delta2.reshape('c', k, steps, n);
            // Added in reverse flat order (W, b): BatchedGradients reverses the list.
            if (bColumn >= 0) {
                parts.add(new GradientFactors.Explicit(name, bColumn, delta3.sum(1)));
            }
            if (wColumn >= 0) {
                parts.add(new SparseRows(name, wColumn, w.size(0), tokens, delta3));
            }
            return null;
        }
    }
}

package org.sgdnoise.gradients.internal;

import java.util.Arrays;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.normalization.BatchNormalization;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Broadcast;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * BatchNormalization that normalises with the running statistics in training and inference alike, with
 * the matching backward pass.
 *
 * <p>Forward: {@code y = γ·(x − μ)/s + β} with {@code s = √(σ² + ε)}, μ and σ² the running mean and
 * variance (per feature or per channel). Backward: {@code ∂L/∂x = ε_y·γ/s}, {@code ∂L/∂γ = Σ ε_y·x̂},
 * {@code ∂L/∂β = Σ ε_y}, sums over every dimension but the channel. The running statistics get a zero
 * gradient: they are not trained by gradients, and sgdnoise excludes them from d.
 */
public final class InferenceBatchNormalizationLayer extends BatchNormalization {

    private static final long serialVersionUID = 1L;

    InferenceBatchNormalizationLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        return super.activate(false, workspaceMgr);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        INDArray[] g = backprop(epsilon, false);
        Gradient ret = new DefaultGradient();
        if (g[0] != null) {
            INDArray dGamma = gradientViews.get(BatchNormalizationParamInitializer.GAMMA);
            INDArray dBeta = gradientViews.get(BatchNormalizationParamInitializer.BETA);
            dGamma.assign(g[0].reshape(dGamma.shape()));
            dBeta.assign(g[1].reshape(dBeta.shape()));
            ret.setGradientFor(BatchNormalizationParamInitializer.GAMMA, dGamma);
            ret.setGradientFor(BatchNormalizationParamInitializer.BETA, dBeta);
        }
        for (String key : new String[] {
            BatchNormalizationParamInitializer.GLOBAL_MEAN,
            BatchNormalizationParamInitializer.GLOBAL_VAR,
            BatchNormalizationParamInitializer.GLOBAL_LOG_STD
        }) {
            INDArray view = gradientViews.get(key);
            if (view != null) {
                view.assign(0);
                ret.setGradientFor(key, view);
            }
        }
        return new Pair<>(ret, workspaceMgr.leverageTo(ArrayType.ACTIVATION_GRAD, g[2]));
    }

    /**
     * The per-example gradients of γ and β (each k×channels, null when γ and β are locked) and the
     * epsilon for the layer below, for the input last given to {@link #activate}.
     */
    public INDArray[] perExampleBackprop(INDArray epsilon) {
        return backprop(epsilon, true);
    }

    private INDArray[] backprop(INDArray epsilon, boolean perExample) {
        assertInputSet(true);
        org.deeplearning4j.nn.conf.layers.BatchNormalization lc = layerConf();
        INDArray x = input.castTo(dataType);
        int rank = x.rank();
        int chIdx = (rank == 4 && lc.getCnn2DFormat() == CNN2DFormat.NHWC) ? 3 : 1;
        long channels = x.size(chIdx);

        INDArray mean = getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN).reshape(channels);
        INDArray var;
        if (lc.isUseLogStd()) {
            INDArray log10s =
                    getParam(BatchNormalizationParamInitializer.GLOBAL_LOG_STD).reshape(channels);
            var = Transforms.pow(Nd4j.valueArrayOf(log10s.shape(), 10.0, dataType), log10s);
            var.muli(var);
        } else {
            var = getParam(BatchNormalizationParamInitializer.GLOBAL_VAR)
                    .reshape(channels)
                    .dup();
        }
        INDArray std = Transforms.sqrt(var.add(lc.getEps()), false);

        INDArray gamma;
        if (lc.isLockGammaBeta()) {
            // Mirrors the parent's forward pass, which applies a locked γ only when γ != 1 and β != 0.
            double g = (lc.getGamma() != 1.0 && lc.getBeta() != 0.0) ? lc.getGamma() : 1.0;
            gamma = Nd4j.valueArrayOf(new long[] {channels}, g, dataType);
        } else {
            gamma = getParam(BatchNormalizationParamInitializer.GAMMA).reshape(channels);
        }

        int[] nonCh = new int[rank - 1];
        for (int i = 0, j = 0; i < rank; i++) {
            if (i != chIdx) {
                nonCh[j++] = i;
            }
        }
        if (perExample) {
            nonCh = Arrays.copyOfRange(nonCh, 1, nonCh.length);
        }
        INDArray eps = epsilon.castTo(dataType);
        INDArray dGamma = null;
        INDArray dBeta = null;
        if (!lc.isLockGammaBeta()) {
            // Broadcast ops along the channel dimension (materialised broadcasts are far slower).
            INDArray xHat = Broadcast.sub(x, mean, x.ulike(), chIdx);
            Broadcast.div(xHat, std, xHat, chIdx);
            INDArray prod = xHat.muli(eps);
            dGamma = nonCh.length == 0 ? prod : prod.sum(nonCh);
            dBeta = nonCh.length == 0 ? eps.dup() : eps.sum(nonCh);
        }
        INDArray nextEpsilon = Broadcast.mul(eps, gamma.div(std), eps.ulike(), chIdx);
        return new INDArray[] {dGamma, dBeta, nextEpsilon};
    }
}

package org.sgdnoise.diffusion;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.FrozenLayer;
import org.deeplearning4j.nn.layers.FrozenLayerWithBackprop;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;

/**
 * The learning rate and momentum a model's updater applies at a given iteration, schedules included.
 *
 * @param updater the updater's simple class name (e.g. {@code Sgd}, {@code Nesterovs}, {@code Adam})
 * @param learningRate η at the iteration, NaN if the updater has none
 * @param momentum μ: 0 for Sgd, the (scheduled) momentum for Nesterovs, NaN for other updaters
 * @param sgdLike true for Sgd and Nesterovs on averaged minibatch gradients (DL4J's default
 *     {@code miniBatch(true)}), where β⁻¹ = η/(2b) is the SGD temperature
 */
public record UpdaterSettings(String updater, double learningRate, double momentum, boolean sgdLike) {

    /**
     * Reads the updater of the first layer with trainable parameters.
     *
     * @return settings; {@code updater = "none"} if no layer has an updater
     */
    public static UpdaterSettings of(Model model, int iteration, int epoch) {
        Layer[] layers = model instanceof MultiLayerNetwork net
                ? net.getLayers()
                : model instanceof ComputationGraph cg ? cg.getLayers() : new Layer[0];
        for (Layer l : layers) {
            if (l instanceof FrozenLayer || l instanceof FrozenLayerWithBackprop) {
                continue; // their conf() is the wrapped layer's, with an updater that is not applied
            }
            if (l.numParams() > 0
                    && l.conf() != null
                    && l.conf().getLayer() instanceof BaseLayer bl
                    && bl.getIUpdater() != null) {
                UpdaterSettings u = of(bl.getIUpdater(), iteration, epoch);
                if (!l.conf().isMiniBatch()) {
                    // miniBatch(false): DL4J does not divide the summed gradient by b, so η/(2b) is not
                    // the step's temperature.
                    return new UpdaterSettings(
                            u.updater() + " (miniBatch=false)", u.learningRate(), u.momentum(), false);
                }
                return u;
            }
        }
        return new UpdaterSettings("none", Double.NaN, Double.NaN, false);
    }

    /**
     * The updater of a SameDiff graph's TrainingConfig ({@code updater = "none"} without one). SameDiff applies it to
     * the gradient of the loss as the graph defines it, so Sgd and Nesterovs are SGD-like when the loss averages
     * over the batch, as DL4J's do.
     */
    public static UpdaterSettings of(SameDiff sd, int iteration, int epoch) {
        TrainingConfig tc = sd.getTrainingConfig();
        return tc == null || tc.getUpdater() == null
                ? new UpdaterSettings("none", Double.NaN, Double.NaN, false)
                : of(tc.getUpdater(), iteration, epoch);
    }

    /** Reads one updater configuration. */
    public static UpdaterSettings of(IUpdater u, int iteration, int epoch) {
        double lr = u.hasLearningRate() ? u.getLearningRate(iteration, epoch) : Double.NaN;
        if (u instanceof Sgd) {
            return new UpdaterSettings("Sgd", lr, 0.0, true);
        }
        if (u instanceof Nesterovs n) {
            double mu = n.getMomentumISchedule() != null
                    ? n.getMomentumISchedule().valueAt(iteration, epoch)
                    : n.getMomentum();
            return new UpdaterSettings("Nesterovs", lr, mu, true);
        }
        return new UpdaterSettings(u.getClass().getSimpleName(), lr, Double.NaN, false);
    }
}

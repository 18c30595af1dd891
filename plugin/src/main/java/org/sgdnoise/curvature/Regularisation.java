package org.sgdnoise.curvature;

import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.regularization.L1Regularization;
import org.nd4j.linalg.learning.regularization.L2Regularization;
import org.nd4j.linalg.learning.regularization.Regularization;
import org.nd4j.linalg.learning.regularization.WeightDecay;
import org.sgdnoise.gradients.ParameterLayout;

/**
 * The quadratic regularisation coefficient cⱼ of each trained parameter, read from the layers' configurations
 * the way DL4J's updater reads them ({@code getConfig().getRegularizationByParam(name)}). Package-private.
 */
final class Regularisation {

    private final double[] coefficients;
    private final HessianTerms terms;

    private Regularisation(double[] coefficients, HessianTerms terms) {
        this.coefficients = coefficients;
        this.terms = terms;
    }

    /**
     * Reads the coefficients at the model's current iteration and epoch. Not modified: {@code model}.
     *
     * @throws IllegalArgumentException when weight decay is to be included but has {@code applyLR = false}
     */
    static Regularisation of(Model model, ParameterLayout layout, int examples, boolean l2, boolean weightDecay) {
        Layer[] layers;
        int iteration;
        int epoch;
        if (model instanceof MultiLayerNetwork net) {
            layers = net.getLayers();
            iteration = net.getIterationCount();
            epoch = net.getEpochCount();
        } else {
            ComputationGraph cg = (ComputationGraph) model;
            layers = cg.getLayers();
            iteration = cg.getIterationCount();
            epoch = cg.getEpochCount();
        }
        double[] c = new double[Math.toIntExact(layout.numParams())];
        boolean l1 = false;
        boolean anyL2 = false;
        boolean anyDecay = false;
        for (Layer layer : layers) {
            if (layer.getConfig() == null) {
                continue;
            }
            for (Map.Entry<String, INDArray> e : layer.paramTable().entrySet()) {
                long col = layout.column(ParameterLayout.layerName(layer), e.getKey());
                List<Regularization> regs = layer.getConfig().getRegularizationByParam(e.getKey());
                if (col < 0 || regs == null) {
                    continue;
                }
                double coeff = 0;
                for (Regularization r : regs) {
                    if (r instanceof L2Regularization l2r && l2) {
                        coeff += l2r.getL2().valueAt(iteration, epoch);
                        anyL2 = true;
                    } else if (r instanceof WeightDecay wd && weightDecay) {
                        if (!wd.isApplyLR()) {
                            throw new IllegalArgumentException("weight decay with applyLR = false in layer "
                                    + ParameterLayout.layerName(layer) + " has no learning-rate-free Hessian term; "
                                    + "compute the Hessian without weight decay (includeWeightDecay = false)");
                        }
                        coeff += wd.getCoeff().valueAt(iteration, epoch);
                        anyDecay = true;
                    } else if (r instanceof L1Regularization) {
                        l1 = true;
                    }
                }
                for (long j = 0; j < e.getValue().length(); j++) {
                    c[(int) (col + j)] += coeff;
                }
            }
        }
        long nonzero = 0;
        for (double x : c) {
            nonzero += x != 0 ? 1 : 0;
        }
        HessianTerms terms = new HessianTerms(examples, anyL2, anyDecay, l1, nonzero, iteration, epoch);
        return new Regularisation(nonzero == 0 ? null : c, terms);
    }

    /**
     * None: a SameDiff graph's regularisation lives in its TrainingConfig and is added by its updater, not read here;
     * the Hessian is of the data loss alone.
     */
    static Regularisation none(int examples) {
        return new Regularisation(null, new HessianTerms(examples, false, false, false, 0, 0, 0));
    }

    /** cⱼ for each of the d parameters, or null when all are zero. */
    double[] coefficients() {
        return coefficients;
    }

    HessianTerms terms() {
        return terms;
    }
}

package org.sgdnoise.listeners;

import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.curvature.HessianOperator;
import org.sgdnoise.curvature.HessianVectorProducts;
import org.sgdnoise.curvature.Lanczos;
import org.sgdnoise.curvature.LanczosResult;
import org.sgdnoise.gradients.ProbeBatch;
import org.slf4j.Logger;

/** The TrajectoryListener's Hessian basis: the top m Hessian eigenvectors, computed when a basis is due. */
final class HessianBasis {

    private HessianBasis() {}

    /**
     * The top m eigenvectors (m×d rows) of the Hessian of the mean loss over {@code examples} at the model's
     * current parameters, by Lanczos on a private double copy; one INFO line with the values and the cost.
     */
    static INDArray top(Model model, DataSet examples, int m, long seed, Logger log) {
        long t0 = System.nanoTime();
        HessianOperator h = new HessianVectorProducts().at(model, ProbeBatch.of(examples));
        LanczosResult top = Lanczos.largest(h, m, seed);
        log.info(
                "sgdnoise: TrajectoryListener took the top {} Hessian eigenvectors over {} examples ({} .. {}, {} "
                        + "products, {} ms)",
                m,
                examples.numExamples(),
                top.values()[0],
                top.values()[top.values().length - 1],
                top.hessianVectorProducts(),
                (System.nanoTime() - t0) / 1_000_000);
        return Nd4j.createFromArray(top.vectors());
    }
}

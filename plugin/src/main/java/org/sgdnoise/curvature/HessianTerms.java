package org.sgdnoise.curvature;

/**
 * Which terms the Hessian of a {@link HessianOperator} contains.
 *
 * <p>The operator is the Hessian of {@code F(θ) = (1/n) Σᵢ ℓᵢ(θ) + ½ Σⱼ cⱼ θⱼ²} over the d trained parameters,
 * where ℓᵢ is the loss of example i as DL4J's score computes it (output layers' losses; masked steps excluded;
 * the mean is over examples, not time steps) and cⱼ is the sum of the regularisation coefficients included for
 * parameter j:
 *
 * <ul>
 *   <li><b>L2</b> ({@code l2}, {@code l2Bias}): DL4J 1.0.0-M2.1 does not put it in {@code
 *       computeGradientAndScore}'s gradient; its updater adds {@code c·θ} to the gradient after dividing by the
 *       minibatch size ({@code BaseMultiLayerUpdater.update}, {@code L2Regularization.apply}, step
 *       BEFORE_UPDATER), so the objective being descended is exactly F with this term; its score adds
 *       {@code ½c‖θ‖²}. Added analytically: {@code c·v}.
 *   <li><b>Weight decay</b> ({@code weightDecay}), only when asked: DL4J subtracts {@code lr·c·θ} after the
 *       updater (step POST_UPDATER). With plain SGD that is the gradient step of ½c‖θ‖², so adding {@code c·v}
 *       gives the Hessian SGD feels; with an adaptive updater it is no gradient term at all. Only the
 *       {@code applyLR = true} form (DL4J's default) can be included.
 *   <li><b>L1</b>: never included; its Hessian is zero wherever θⱼ ≠ 0.
 * </ul>
 *
 * @param examples n, the number of examples the data loss is averaged over
 * @param l2 true when L2 coefficients were added
 * @param weightDecay true when weight-decay coefficients were added
 * @param l1Present true when the model has L1 regularisation, which is not included
 * @param regularisedParams the number of the d parameters with a nonzero coefficient cⱼ
 * @param iteration the iteration at which scheduled coefficients were read
 * @param epoch the epoch at which scheduled coefficients were read
 */
public record HessianTerms(
        int examples,
        boolean l2,
        boolean weightDecay,
        boolean l1Present,
        long regularisedParams,
        int iteration,
        int epoch) {}

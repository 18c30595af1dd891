/**
 * Curvature of the training loss: Hessian-vector products of a DL4J model computed on a private probe
 * network ({@link org.sgdnoise.curvature.HessianVectorProducts}), and matrix-free spectral methods for any
 * symmetric operator ({@link org.sgdnoise.curvature.SymmetricOperator}): the extreme eigenpairs by Lanczos with
 * full reorthogonalisation ({@link org.sgdnoise.curvature.Lanczos}), the trace by Hutchinson's estimator
 * ({@link org.sgdnoise.curvature.HutchinsonTrace}) and the spectral density by stochastic Lanczos quadrature
 * ({@link org.sgdnoise.curvature.StochasticLanczosQuadrature}).
 *
 * <p>Units: the Hessian is that of the mean loss per example (DL4J's score without regularisation), plus the
 * regularisation terms its {@link org.sgdnoise.curvature.HessianTerms} name, in the d-dimensional space of
 * trained parameters ({@link org.sgdnoise.gradients.ParameterLayout}). Every result states its cost in
 * Hessian-vector products and, where random, its seed. Vectors are {@code double[]} of length d.
 *
 * <p>Threading: the engine and its operators are not thread-safe (one per thread); the spectral methods are
 * stateless and as thread-safe as the operator they are given. Training is never disturbed: products run on
 * a private copy of the network and ND4J's random state is restored around them.
 */
package org.sgdnoise.curvature;

/**
 * Small dense linear algebra shared by every module: the one symmetric eigensolver ({@link
 * org.sgdnoise.internal.linalg.SymmetricEigen}) and the one Gram-matrix helper ({@link
 * org.sgdnoise.internal.linalg.Gram}). Not API: names and signatures may change in any release.
 *
 * <p>Everything here is stateless and thread-safe; results are in double precision.
 */
package org.sgdnoise.internal.linalg;

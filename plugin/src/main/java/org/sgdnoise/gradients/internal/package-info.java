/** Internals of the probe network (inference-mode BatchNormalization, configuration surgery). Not API. */
package org.sgdnoise.gradients.internal;

/**
 * The networks of Chaudhari and Soatto (2018) as DL4J models, for reproductions and benchmarks: the paper's small
 * LeNet (d = 13,338) and a small MLP. Stateless factories; each call builds a new, initialised network.
 */
package org.sgdnoise.models;

/** Small exact distributions shared by the statistics: Student's t and the binomial sign test. */
package org.sgdnoise.internal.stats;

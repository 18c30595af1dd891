/** Not API: the trajectory's CSV file ({@link org.sgdnoise.trajectory.internal.TrajectoryFile}). */
package org.sgdnoise.trajectory.internal;

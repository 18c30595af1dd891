/** Not API: the trajectory's CSV file ({@link TrajectoryFile}). */
package org.sgdnoise.trajectory.internal;

package org.sgdnoise.trajectory;

import java.io.Serializable;
import java.util.Arrays;

/**
 * One recorded step of the SGD trajectory: θ_{t+1} projected onto m directions, with the numbers the loop
 * detector and the stationarity gate need. A row of the TrajectoryListener's CSV file ({@link #CSV_COLUMNS}
 * then {@code y0 .. y(m−1)}).
 *
 * @param iteration the training iteration t
 * @param epoch the epoch
 * @param segment the basis segment (a new basis starts a new one; analyses never mix segments)
 * @param loss the minibatch loss
 * @param distance {@code |θ_{t+1} − θ_0|}
 * @param step {@code |u_t|}, the update {@code u_t = θ_t − θ_{t+1}}
 * @param thetaDotUpdate {@code θ_t·u_t}, for the stationarity ratio
 * @param updateSq {@code |u_t|²}
 * @param y the projection of θ_{t+1} onto the m directions
 */
public record TrajectoryRow(
        int iteration,
        int epoch,
        int segment,
        double loss,
        double distance,
        double step,
        double thetaDotUpdate,
        double updateSq,
        double[] y)
        implements Serializable {

    /** The CSV columns before the coordinates. */
    public static final String CSV_COLUMNS = "iteration,epoch,segment,loss,distance,step,theta_dot_update,update_sq";

    /** A defensive copy of the coordinates. */
    public TrajectoryRow {
        y = y.clone();
    }

    /** The coordinates (a copy). */
    @Override
    public double[] y() {
        return y.clone();
    }

    /** The CSV header for m coordinates. */
    public static String csvHeader(int m) {
        StringBuilder h = new StringBuilder(CSV_COLUMNS);
        for (int i = 0; i < m; i++) {
            h.append(",y").append(i);
        }
        return h.toString();
    }

    /** This row as one CSV line (no newline); doubles in Java's shortest round-trip form. */
    public String toCsv() {
        StringBuilder sb = new StringBuilder(16 * (8 + y.length));
        sb.append(iteration).append(',').append(epoch).append(',').append(segment);
        for (double x : new double[] {loss, distance, step, thetaDotUpdate, updateSq}) {
            sb.append(',').append(x);
        }
        for (double x : y) {
            sb.append(',').append(x);
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TrajectoryRow r
                && iteration == r.iteration
                && epoch == r.epoch
                && segment == r.segment
                && Double.compare(loss, r.loss) == 0
                && Double.compare(distance, r.distance) == 0
                && Double.compare(step, r.step) == 0
                && Double.compare(thetaDotUpdate, r.thetaDotUpdate) == 0
                && Double.compare(updateSq, r.updateSq) == 0
                && Arrays.equals(y, r.y);
    }

    @Override
    public int hashCode() {
        return 31 * iteration + Arrays.hashCode(y);
    }

    @Override
    public String toString() {
        return "TrajectoryRow[iteration=" + iteration + ", segment=" + segment + ", loss=" + loss + ", y="
                + Arrays.toString(y) + "]";
    }
}

package org.sgdnoise.trajectory;

import org.sgdnoise.curvature.CirculationPrediction;
import org.sgdnoise.curvature.LinearisedSgd;
import org.sgdnoise.curvature.PlanePrediction;

/**
 * The linearised SGD model's prediction ({@link CirculationPrediction}) beside one loop analysis, in the
 * detector's units: area rates per optimiser step (iteration), steps in iterations.
 *
 * <p>Units. The detector is fed every {@code every}-th position and divides by the window's time
 * (rows − 1)·every ({@link LoopStatistics#analyze} with dt = every), so it measures
 * {@code (C(k)ᵀ − C(k))/(2k)} with C(k) the lag-k covariance, k = every. For k = 1 that is the prediction's A;
 * for k &gt; 1 the prediction is taken of the process observed every k steps
 * ({@link LinearisedSgd#observedEvery}) and its rates divided by k, its steps multiplied by k. With momentum and
 * k &gt; 1 the position observed every k steps is not a plain-SGD process: every value is then NaN.
 *
 * <p>Which plane. {@code rateInPlane} and {@code sdInPlane} are for the plane (u, v) the detector reported
 * ({@link LoopAnalysis#plane()}, oriented so that the measured rate there is +ω): uᵀA_pred v and the standard
 * deviation of the measured uᵀÂv after the window's steps (Isserlis' long-run variance in that very plane,
 * {@link CirculationPrediction#plane(double[], double[])}). {@code stepsForSnr4} is the model's
 * {@link CirculationPrediction#stepsForSnr4()}, the steps its most detectable plane needs for signal-to-noise 4:
 * the detector maximises over planes, so its power follows the best plane rather than the one a short window
 * happens to report.
 *
 * <p>The coordinates must be the prediction's: with a fixed basis from the same {@code curvature} run they are;
 * with a Hessian basis taken by the listener they agree up to the sign and order of the eigenvectors, which
 * leaves {@code maxRate} and {@code stepsForSnr4} unchanged but can flip the sign of {@code rateInPlane}.
 *
 * @param maxRate ω of the prediction per step, at the window's spacing (p.maxRate() when every = 1)
 * @param rateInPlane uᵀA_pred v per step in the measured plane; NaN without a plane
 * @param sdInPlane the predicted standard deviation of the measured rate in that plane after the window's
 *     (rows − 1) observations, per step; NaN without a plane
 * @param stepsForSnr4 iterations the prediction needs for signal-to-noise 4 (infinite when it predicts no loop)
 * @param moreStepsForSnr4 max(0, stepsForSnr4 − the window's span (rows − 1)·every) when the verdict is not
 *     LOOP; NaN for LOOP
 */
public record LoopPrediction(
        double maxRate, double rateInPlane, double sdInPlane, double stepsForSnr4, double moreStepsForSnr4) {

    /**
     * The prediction beside {@code a}, a window whose rows are {@code every} iterations apart.
     *
     * @throws IllegalArgumentException when the prediction's dimension is not the analysis's, or every &lt; 1
     */
    public static LoopPrediction compare(CirculationPrediction p, LoopAnalysis a, int every) {
        if (p.dimension() != a.dimensions()) {
            throw new IllegalArgumentException("the prediction's dimension must be the analysis's " + a.dimensions()
                    + " coordinates, got " + p.dimension());
        }
        if (every < 1) {
            throw new IllegalArgumentException("every must be >= 1, got " + every);
        }
        double span = Math.max(0, a.steps() - 1) * (double) every;
        CirculationPrediction q;
        if (every == 1) {
            q = p;
        } else if (p.model().momentum() == 0) {
            q = p.model().observedEvery(every).predict();
        } else {
            return new LoopPrediction(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        }
        double rate = Double.NaN;
        double sd = Double.NaN;
        if (a.plane() != null && a.steps() >= 2 && isUnit(a.plane()[1])) { // v is 0 when nothing circulates
            PlanePrediction plane = q.plane(a.plane()[0], a.plane()[1]);
            rate = plane.areaRate() / every;
            sd = plane.sd(a.steps() - 1) / every;
        }
        double steps = q.stepsForSnr4() * every;
        double more = a.verdict() == LoopVerdict.LOOP ? Double.NaN : Math.max(0, steps - span);
        return new LoopPrediction(q.maxRate() / every, rate, sd, steps, more);
    }

    private static boolean isUnit(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x * x;
        }
        return Math.abs(s - 1) <= CirculationPrediction.PLANE_TOLERANCE;
    }
}

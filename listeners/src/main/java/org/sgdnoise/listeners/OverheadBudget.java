package org.sgdnoise.listeners;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.function.LongSupplier;
import org.slf4j.Logger;

/**
 * One worker's overhead budget for one listener: the share of wall time the listener's own work takes, and the
 * interval in force that keeps that share under the budget.
 *
 * <p>The listener acts at iterations on the grid of the interval in force, which starts at the configured interval
 * n and only ever grows, to n·2<sup>j</sup>, so it stays on the configured grid. After each action the budget
 * estimates the steady cost of an action c (the latest action's cost, then an exponential average; the first action,
 * which builds the listener's state, is left out) and the training time per iteration t (the wall time between the
 * end of one action and the start of the next, per iteration between them, averaged alike), and sets the interval
 * to the smallest n·2<sup>j</sup> with {@code c / (c + interval·t) <= budget}. On top of that, a due action is
 * deferred to the next grid point while the listener's time so far exceeds {@code budget} times the wall time since
 * its first call, which pays back an expensive first action. One INFO line says when the interval first grows.
 *
 * <p>A budget of 0 turns all this off: the listener acts every n iterations. Not thread-safe: one per worker.
 */
final class OverheadBudget {

    /** Default share of wall time per listener. */
    static final double DEFAULT_FRACTION = 0.01;

    private static final double SMOOTHING = 0.3;

    private final double budget;
    private final int configured;
    private final LongSupplier clock;
    private final Logger log;
    private final String what;

    private long start = Long.MIN_VALUE;
    private long own;
    private int inForce;
    private int lastActed = -1;
    private long lastEnd;
    private int actions;
    private double cost = Double.NaN;
    private double perIteration = Double.NaN;
    private boolean said;

    /**
     * @param budget the share of wall time allowed, in [0, 1); 0 turns the budget off
     * @param configured the configured interval n, at least 1
     * @param clock nanoseconds, {@code System::nanoTime} outside tests
     * @param what what acts, for the INFO line (e.g. "DiffusionListener probes")
     */
    OverheadBudget(double budget, int configured, LongSupplier clock, Logger log, String what) {
        this.budget = checkFraction(budget);
        this.configured = Options.atLeast("interval", configured, 1);
        this.inForce = configured;
        this.clock = clock;
        this.log = log;
        this.what = what;
    }

    /** Throws unless {@code fraction} is in [0, 1). */
    static double checkFraction(double fraction) {
        if (!(fraction >= 0 && fraction < 1)) {
            throw new IllegalArgumentException(
                    "overheadBudget must be a fraction in [0, 1) of training time (0: off), got " + fraction);
        }
        return fraction;
    }

    /** True when the listener should act at {@code iteration}; the caller then reports the action to {@link #acted}. */
    boolean due(int iteration) {
        if (iteration % inForce != 0) {
            return false;
        }
        long now = clock.getAsLong();
        if (start == Long.MIN_VALUE) {
            start = now;
        }
        return budget == 0 || own <= budget * (now - start);
    }

    /** Records an action at {@code iteration} that ran from {@code begin} to {@code end} (clock values). */
    void acted(int iteration, long begin, long end) {
        if (start == Long.MIN_VALUE) {
            start = begin;
        }
        own += end - begin;
        actions++;
        if (lastActed >= 0 && iteration > lastActed) {
            double t = Math.max(0, begin - lastEnd) / (double) (iteration - lastActed);
            perIteration = Double.isNaN(perIteration) ? t : perIteration + SMOOTHING * (t - perIteration);
        }
        if (actions >= 2) {
            double c = end - begin;
            cost = Double.isNaN(cost) ? c : cost + SMOOTHING * (c - cost);
        }
        lastActed = iteration;
        lastEnd = end;
        if (budget > 0 && !Double.isNaN(cost) && perIteration > 0) {
            stretch(cost * (1 - budget) / (budget * perIteration));
        }
    }

    private void stretch(double required) {
        int next = inForce;
        while (next < required && next <= Integer.MAX_VALUE / 2) {
            next *= 2;
        }
        if (next == inForce) {
            return;
        }
        inForce = next;
        if (!said) {
            said = true;
            log.info(String.format(
                    Locale.ROOT,
                    "sgdnoise: %s take %.3g ms against %.3g ms of training per iteration, over the overhead "
                            + "budget of %s%%: acting every %d iterations instead of %d (the records say the "
                            + "interval in force and the share; overheadBudget(0) turns this off).",
                    what,
                    cost / 1e6,
                    perIteration / 1e6,
                    BigDecimal.valueOf(100 * budget).stripTrailingZeros().toPlainString(),
                    inForce,
                    configured));
        }
    }

    /** The iterations between actions now. */
    int intervalInForce() {
        return inForce;
    }

    /** The listener's own time over the wall time since its first action (0 at it, NaN before it). */
    double share() {
        if (start == Long.MIN_VALUE) {
            return Double.NaN;
        }
        long wall = clock.getAsLong() - start;
        return wall > 0 ? Math.min(1, own / (double) wall) : 1;
    }

    /** The budget, 0 when off. */
    double budget() {
        return budget;
    }
}

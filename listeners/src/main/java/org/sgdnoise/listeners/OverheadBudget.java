package org.sgdnoise.listeners;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.function.LongSupplier;
import org.slf4j.Logger;

/**
 * One worker's overhead budget for one listener: the share of training time the listener's own work takes, and the
 * interval in force that keeps that share under the budget.
 *
 * <p><b>Training time</b> is measured between the listener's calls, one per iteration ({@link #tick}): the wall time
 * from one iteration's call to the next, less the listener's own time in between, is one iteration's training.
 * A gap longer than {@value #GAP_CAP} times the typical iteration (an evaluation between epochs, another model
 * trained in between) counts as that many iterations' worth only, so that pauses do not buy the listener time.
 *
 * <p>The listener acts at iterations on the grid of the interval in force, which starts at the configured interval
 * n and only ever grows, to n·2<sup>j</sup>, so it stays on the configured grid. After each action the budget
 * estimates the steady cost of an action c (the latest action's cost, then an exponential average; the first action,
 * which builds the listener's state, is left out) and sets the interval to the smallest n·2<sup>j</sup> with
 * {@code c <= budget · interval · t}, t the typical iteration. On top of that, a due action is deferred to the next
 * grid point while the listener's time so far exceeds {@code budget} times the training time since its first
 * call, which pays back an expensive first action. One INFO line says when the interval first grows.
 *
 * <p>A budget of 0 turns all this off: the listener acts every n iterations. Not thread-safe: one per worker.
 */
final class OverheadBudget {

    /** Default share of training time per listener. */
    static final double DEFAULT_FRACTION = 0.01;

    /** A gap between calls counts as at most this many typical iterations. */
    static final double GAP_CAP = 3;

    private static final double SMOOTHING = 0.3;

    private final double budget;
    private final int configured;
    private final LongSupplier clock;
    private final Logger log;
    private final String what;

    private int inForce;
    private long own; // the listener's own time so far
    private long training; // training time so far
    private long lastTick = Long.MIN_VALUE;
    private int lastTickIteration;
    private long ownSinceTick;
    private double perIteration = Double.NaN; // typical training time of one iteration
    private int actions;
    private double cost = Double.NaN;
    private long first; // the first action's time
    private boolean said;

    /**
     * @param budget the share of training time allowed, in [0, 1); 0 turns the budget off
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

    /** Counts the training since the previous call; call once per iteration, before {@link #due}. */
    void tick(int iteration) {
        long now = clock.getAsLong();
        if (lastTick != Long.MIN_VALUE && iteration > lastTickIteration) {
            int steps = iteration - lastTickIteration;
            double gap = Math.max(0, now - lastTick - ownSinceTick) / (double) steps;
            double counted = Double.isNaN(perIteration) ? gap : Math.min(gap, GAP_CAP * perIteration);
            perIteration = Double.isNaN(perIteration) ? gap : perIteration + SMOOTHING * (counted - perIteration);
            training += (long) (counted * steps);
        }
        lastTick = now;
        lastTickIteration = iteration;
        ownSinceTick = 0;
    }

    /** True when the listener should act at {@code iteration}; the caller then reports the action to {@link #acted}. */
    boolean due(int iteration) {
        return iteration % inForce == 0 && (budget == 0 || own <= budget * training);
    }

    /** Records an action at {@code iteration} that ran from {@code begin} to {@code end} (clock values). */
    void acted(int iteration, long begin, long end) {
        long spent = end - begin;
        own += spent;
        ownSinceTick += spent;
        actions++;
        if (actions == 1) {
            first = spent;
        }
        if (actions >= 2) {
            cost = Double.isNaN(cost) ? spent : cost + SMOOTHING * (spent - cost);
        }
        if (budget > 0 && !Double.isNaN(cost) && perIteration > 0) {
            stretch(cost / (budget * perIteration));
        }
    }

    /**
     * Charges work that is not an action (the DiffusionListener's scalars at every iteration) to the listener's own
     * time: it counts against the budget, so the actions thin out to leave room for it, and not as training.
     */
    void charged(long nanos) {
        own += nanos;
        ownSinceTick += nanos;
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

    /** The typical training time of one iteration so far, in clock units (NaN before two calls). */
    double perIteration() {
        return perIteration;
    }

    /** The iterations between actions now. */
    int intervalInForce() {
        return inForce;
    }

    /** The listener's own time over the training time and its own since its first call (NaN before any). */
    double share() {
        long total = training + own;
        return total > 0 ? own / (double) total : Double.NaN;
    }

    /**
     * As {@link #share}, leaving out the first action, which builds the listener's state and which the budget pays
     * back by deferring later actions: the share the budget holds in a long run.
     */
    double steadyShare() {
        long total = training + own - first;
        return total > 0 ? (own - first) / (double) total : Double.NaN;
    }

    /** The budget, 0 when off. */
    double budget() {
        return budget;
    }
}

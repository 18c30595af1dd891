package org.sgdnoise.listeners;

import java.io.Serializable;
import org.slf4j.Logger;

/**
 * How a listener handles its own failures, shared by both listeners: count every one; with fail-fast,
 * throw the first into {@code fit()} with its cause; otherwise log the first at WARN with advice and the
 * rest at DEBUG, and after {@code disableAfter} failures in a row switch the listener off for the rest of
 * training with one more WARN (0: never). A success resets the run. Thread-safe: ParallelWrapper's workers share it.
 */
final class Failures {

    /** Default number of failures in a row after which a listener switches itself off. */
    static final int DEFAULT_DISABLE_AFTER = 10;

    private final Logger log;
    private final String what;
    private final String advice;
    private final boolean failFast;
    private final int disableAfter;
    private int total;
    private int inARow;
    private boolean warned;
    private volatile boolean disabled;

    /**
     * @param what the failing thing, as the start of a sentence ("the gradient-noise probe")
     * @param advice a sentence on what to check
     */
    Failures(Logger log, String what, String advice, boolean failFast, int disableAfter) {
        this.log = log;
        this.what = what;
        this.advice = advice;
        this.failFast = failFast;
        this.disableAfter = disableAfter;
    }

    /** A failure thrown into {@code fit()} because fail-fast is on; counted once, where it happened. */
    static final class FailFast extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        FailFast(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Checks a builder value: 0 (never) or more. */
    static int checkDisableAfter(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("disableAfter must be >= 0 (0: never switch off), got " + n);
        }
        return n;
    }

    /** Counts a failure at {@code iteration}; throws it, wrapped with its cause, when fail-fast is on. */
    synchronized void fail(int iteration, Throwable t) {
        total++;
        inARow++;
        if (failFast) {
            throw new FailFast("sgdnoise: " + what + " failed at iteration " + iteration + " (fail-fast is on)", t);
        }
        if (!warned) {
            warned = true;
            log.warn(
                    "sgdnoise: {} failed at iteration {}: {}. Training goes on; later failures are logged at DEBUG "
                            + "and counted in the records' 'failures'. {} Set failFast(true) to stop on it.",
                    what,
                    iteration,
                    t.toString(),
                    advice,
                    t);
        } else {
            log.debug("sgdnoise: {} failed at iteration {}", what, iteration, t);
        }
        if (disableAfter > 0 && inARow >= disableAfter && !disabled) {
            disabled = true;
            log.warn(
                    "sgdnoise: {} failed {} times in a row (the last at iteration {}: {}); it is now off for the "
                            + "rest of training. Set disableAfter(0) to keep trying.",
                    what,
                    inARow,
                    iteration,
                    t.toString());
        }
    }

    /**
     * A failure that will recur at every call (an unsupported model): counted, thrown with fail-fast,
     * otherwise one WARN with the reason, and the listener is switched off at once.
     */
    synchronized void fatal(String reason) {
        total++;
        if (failFast) {
            throw new FailFast("sgdnoise: " + what + " cannot run: " + reason + " (fail-fast is on)", null);
        }
        if (!disabled) {
            disabled = true;
            log.warn(
                    "sgdnoise: {} cannot run: {}. It is off for the rest of training; training goes on.", what, reason);
        }
    }

    /** Ends a run of failures. */
    synchronized void success() {
        inARow = 0;
    }

    /** One observation of a callback, which may throw anything. */
    @FunctionalInterface
    interface Observation {
        /** Observes; false when nothing was observed and the run of failures goes on (a skipped probe). */
        boolean run() throws Exception;
    }

    /**
     * Runs one observation under this policy: a success ends a run of failures (a skip leaves it as it is); a
     * failure is counted and said (or thrown with fail-fast); a {@link FailFast} from inside is passed on, already
     * counted. An observer must not break training, so everything is caught but a failing JVM (a
     * VirtualMachineError other than OutOfMemoryError).
     */
    void observe(int iteration, Observation body) {
        try {
            if (body.run()) {
                success();
            }
        } catch (FailFast e) {
            throw e;
        } catch (VirtualMachineError e) {
            if (!(e instanceof OutOfMemoryError)) {
                throw e;
            }
            fail(iteration, e);
        } catch (Throwable t) {
            fail(iteration, t);
        }
    }

    /** True once the listener has switched itself off. */
    boolean disabled() {
        return disabled;
    }

    /** The counts a resumed run continues from. */
    record State(int total, int inARow, boolean warned, boolean disabled) implements Serializable {}

    synchronized State state() {
        return new State(total, inARow, warned, disabled);
    }

    synchronized void restore(State s) {
        total = s.total();
        inARow = s.inARow();
        warned = s.warned();
        disabled = s.disabled();
    }

    /** Every failure so far. */
    synchronized int total() {
        return total;
    }
}

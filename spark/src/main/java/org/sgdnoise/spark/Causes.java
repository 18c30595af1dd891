package org.sgdnoise.spark;

import java.util.function.Supplier;
import org.sgdnoise.UserInputException;

/** Spark wraps a task's exception in its own; bad input found by a task should still read as bad input. */
final class Causes {

    private Causes() {}

    /**
     * Runs a Spark action; a failure caused by a {@link UserInputException} (on any executor) is thrown as one, with
     * the same message and the Spark failure as its cause. Other failures pass unchanged.
     */
    static <T> T userErrors(Supplier<T> action) {
        try {
            return action.get();
        } catch (Exception e) { // SparkException is checked but undeclared by Scala: catch it as Exception
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof UserInputException u) {
                    throw u == e ? u : new UserInputException(u.getMessage(), e);
                }
            }
            throw e;
        }
    }
}

package org.sgdnoise.listeners;

/** The builders' option checks: each failure names the option, the bound and the value. */
final class Options {

    private Options() {}

    /** Throws unless {@code value >= bound}. */
    static int atLeast(String option, int value, int bound) {
        if (value < bound) {
            throw new IllegalArgumentException(option + " must be >= " + bound + ", got " + value);
        }
        return value;
    }

    /** Throws for null. */
    static <T> T notNull(String option, T value) {
        if (value == null) {
            throw new IllegalArgumentException(option + " must not be null, got null");
        }
        return value;
    }
}

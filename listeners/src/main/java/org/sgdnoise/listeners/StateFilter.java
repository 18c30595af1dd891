package org.sgdnoise.listeners;

import java.io.ObjectInputFilter;
import java.util.Set;

/**
 * The deserialisation filter of one listener state file: caps on array length, nesting depth, object
 * references and stream bytes, and an allow-list of the classes a state may hold (arrays of primitives are
 * always allowed, within the array cap). It remembers the first reason it rejected something, so that the
 * error can say what was wrong instead of the JDK's bare "filter status: REJECTED".
 *
 * <p>One instance per read; not thread-safe.
 */
final class StateFilter implements ObjectInputFilter {

    /**
     * The caps of one read.
     *
     * @param maxArray the most elements of any array (and of a sketch's buffer, checked by the sketch)
     * @param maxDepth the deepest nesting of objects
     * @param maxRefs the most objects and back-references
     * @param maxBytes the most bytes of the stream
     */
    record Limits(long maxArray, long maxDepth, long maxRefs, long maxBytes) {}

    private final Limits limits;
    private final Set<String> allowed;
    private String rejection;
    private long deepest;
    private long references;
    private long longestArray;

    StateFilter(Limits limits, Set<String> allowed) {
        this.limits = limits;
        this.allowed = Set.copyOf(allowed);
    }

    @Override
    public Status checkInput(FilterInfo info) {
        deepest = Math.max(deepest, info.depth());
        references = Math.max(references, info.references());
        if (info.serialClass() != null && info.serialClass().isArray()) {
            longestArray = Math.max(longestArray, info.arrayLength());
        }
        String why = reason(info);
        if (why != null) {
            if (rejection == null) {
                rejection = why;
            }
            return Status.REJECTED;
        }
        return info.serialClass() == null ? Status.UNDECIDED : Status.ALLOWED;
    }

    private String reason(FilterInfo info) {
        if (info.depth() > limits.maxDepth()) {
            return "objects nested " + info.depth() + " deep, more than the cap of " + limits.maxDepth();
        }
        if (info.references() > limits.maxRefs()) {
            return "more than " + limits.maxRefs() + " objects, the cap for these listeners";
        }
        if (info.streamBytes() > limits.maxBytes()) {
            return "more than " + limits.maxBytes() + " bytes of objects, the cap for this file";
        }
        Class<?> c = info.serialClass();
        if (c == null) {
            return null;
        }
        if (c.isArray()) {
            if (info.arrayLength() > limits.maxArray()) {
                return "an array of " + info.arrayLength() + " elements, more than the cap of " + limits.maxArray()
                        + " for these listeners and this model";
            }
            while (c.isArray()) {
                c = c.getComponentType();
            }
            if (c.isPrimitive()) {
                return null;
            }
        }
        return allowed.contains(c.getName()) ? null : "class " + c.getName() + ", which a listener state never holds";
    }

    /** The first reason something was rejected, or null. */
    String rejection() {
        return rejection;
    }

    /** The deepest nesting seen so far. */
    long deepest() {
        return deepest;
    }

    /** The most references seen so far. */
    long references() {
        return references;
    }

    /** The longest array (or sketch buffer) seen so far. */
    long longestArray() {
        return longestArray;
    }

    @Override
    public String toString() {
        return "StateFilter" + limits;
    }
}

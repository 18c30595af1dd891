package org.sgdnoise.listeners;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which worker a callback comes from. DL4J's ParallelWrapper attaches the same listener instance to every
 * worker's replica and calls it from the worker's training thread, named {@code "ParallelWrapper training
 * thread N"}; N is the worker. Any other thread is worker 0. The replicas are rebuilt at every
 * {@code ParallelWrapper.fit}, the threads keep their numbers, so keying state by the number keeps one state
 * per worker across fits instead of one per replica.
 */
final class Workers {

    private static final Pattern PARALLEL_WRAPPER = Pattern.compile("ParallelWrapper training thread (\\d+)");

    /** The calling thread's worker index, parsed once per thread (the TrajectoryListener asks every iteration). */
    private static final ThreadLocal<Integer> CURRENT = ThreadLocal.withInitial(() -> index(Thread.currentThread()));

    private Workers() {}

    /** The worker index of the calling thread. */
    static int current() {
        return CURRENT.get();
    }

    /** True on a ParallelWrapper training thread. */
    static boolean parallel(Thread thread) {
        return PARALLEL_WRAPPER.matcher(thread.getName()).matches();
    }

    /** The worker index of a training thread. */
    static int index(Thread thread) {
        Matcher m = PARALLEL_WRAPPER.matcher(thread.getName());
        return m.matches() ? Integer.parseInt(m.group(1)) : 0;
    }
}

package org.sgdnoise.listeners;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * One state per training worker, created at the worker's first use: ParallelWrapper's training thread N is worker
 * N, any other thread worker 0 ({@link Workers}). Thread-safe; each state is used by its worker's thread only.
 *
 * @param <T> the per-worker state
 */
final class PerWorker<T> {

    private final IntFunction<T> create;
    private final Map<Integer, T> states = new TreeMap<>(); // guarded by itself

    PerWorker(IntFunction<T> create) {
        this.create = create;
    }

    /** The calling thread's worker index and state. */
    int currentIndex() {
        return Workers.current();
    }

    /** Worker {@code index}'s state, created if it has none yet. */
    T get(int index) {
        synchronized (states) {
            return states.computeIfAbsent(index, create::apply);
        }
    }

    /** Worker {@code index}'s state, or null before its first use. */
    T existing(int index) {
        synchronized (states) {
            return states.get(index);
        }
    }

    /** Every worker's state, by index. */
    <S> TreeMap<Integer, S> snapshot(Function<T, S> save) {
        TreeMap<Integer, S> out = new TreeMap<>();
        synchronized (states) {
            states.forEach((i, t) -> out.put(i, save.apply(t)));
        }
        return out;
    }

    /** Replaces every worker's state by those restored from {@code saved}. */
    <S> void restore(Map<Integer, S> saved, BiFunction<Integer, S, T> load) {
        synchronized (states) {
            states.clear();
            saved.forEach((i, s) -> states.put(i, load.apply(i, s)));
        }
    }

    /** The states, in worker order (a copy). */
    List<T> all() {
        synchronized (states) {
            return List.copyOf(states.values());
        }
    }
}

package org.sgdnoise.output;

import java.util.ArrayList;
import java.util.List;

/**
 * The iteration scalars kept in memory for a live view, bounded: at most {@code capacity} points per worker. When a
 * worker's series is full, every second point is dropped and from then on only every second iteration is kept (the
 * stride doubles each time), so a long run keeps an evenly thinned series of at most {@code capacity} points and the
 * newest point is never more than one stride old. Memory: 6 numbers per point, {@code capacity} points per worker.
 * Thread-safe.
 */
public final class ScalarSeries {

    private final int capacity;
    private final List<Worker> workers = new ArrayList<>(); // guarded by this

    private static final class Worker {
        final List<IterationScalars> points = new ArrayList<>();
        int stride = 1;
        long offered;
    }

    /**
     * @param capacity points kept per worker, at least 2
     * @throws IllegalArgumentException for a capacity below 2
     */
    public ScalarSeries(int capacity) {
        if (capacity < 2) {
            throw new IllegalArgumentException("capacity must be >= 2, got " + capacity);
        }
        this.capacity = capacity;
    }

    /** Points kept per worker at most. */
    public int capacity() {
        return capacity;
    }

    /** Offers one iteration's scalars; kept when it falls on the worker's stride. */
    public synchronized void add(IterationScalars s) {
        if (s.worker() < 0) {
            throw new IllegalArgumentException("worker must be >= 0, got " + s.worker());
        }
        while (workers.size() <= s.worker()) {
            workers.add(new Worker());
        }
        Worker w = workers.get(s.worker());
        if (w.offered++ % w.stride != 0) {
            return;
        }
        if (w.points.size() == capacity) {
            List<IterationScalars> kept = new ArrayList<>(capacity / 2 + 1);
            for (int i = 0; i < w.points.size(); i += 2) {
                kept.add(w.points.get(i));
            }
            w.points.clear();
            w.points.addAll(kept);
            w.stride *= 2;
            if ((w.offered - 1) % w.stride != 0) {
                return;
            }
        }
        w.points.add(s);
    }

    /** Every point kept, worker by worker, each worker's in iteration order. */
    public synchronized List<IterationScalars> snapshot() {
        List<IterationScalars> all = new ArrayList<>();
        for (Worker w : workers) {
            all.addAll(w.points);
        }
        return all;
    }

    /** Iterations offered so far over all workers (kept or not). */
    public synchronized long offered() {
        long n = 0;
        for (Worker w : workers) {
            n += w.offered;
        }
        return n;
    }
}

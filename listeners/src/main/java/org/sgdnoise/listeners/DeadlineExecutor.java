package org.sgdnoise.listeners;

import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small pool of daemon threads that runs each task under a deadline: a task still running after it is
 * interrupted. The dashboard's HTTP exchanges write to blocking socket channels, which an interrupt closes, so a
 * client that sends a request and never reads the answer holds a thread for at most the deadline. Tasks beyond
 * {@link #QUEUE} waiting ones are dropped (their connection is closed by the server's idle timer).
 */
final class DeadlineExecutor implements Executor {

    /** Tasks that may wait for a thread. */
    static final int QUEUE = 256;

    private final ThreadPoolExecutor pool;
    private final ScheduledExecutorService timer;
    private final long deadlineMillis;

    /**
     * @param threads threads serving at once
     * @param deadlineMillis longest time one task may run before it is interrupted
     * @param name thread name prefix
     */
    DeadlineExecutor(int threads, long deadlineMillis, String name) {
        this.deadlineMillis = deadlineMillis;
        this.pool = new ThreadPoolExecutor(
                threads,
                threads,
                0,
                TimeUnit.MILLISECONDS,
                new LinkedBlockingQueue<>(QUEUE),
                daemons(name),
                new ThreadPoolExecutor.DiscardPolicy());
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, daemons(name + "-deadline"));
        t.setRemoveOnCancelPolicy(true);
        this.timer = t;
    }

    private static ThreadFactory daemons(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    @Override
    public void execute(Runnable task) {
        pool.execute(() -> {
            Thread self = Thread.currentThread();
            Object lock = new Object();
            boolean[] done = {false};
            ScheduledFuture<?> alarm = timer.schedule(
                    () -> {
                        synchronized (lock) {
                            if (!done[0]) {
                                self.interrupt();
                            }
                        }
                    },
                    deadlineMillis,
                    TimeUnit.MILLISECONDS);
            try {
                task.run();
            } finally {
                alarm.cancel(false);
                synchronized (lock) {
                    done[0] = true;
                }
                Thread.interrupted(); // an alarm that fired as the task ended must not reach the next task
            }
        });
    }

    /** Stops the threads; running tasks are interrupted. */
    void shutdown() {
        pool.shutdownNow();
        timer.shutdownNow();
    }
}

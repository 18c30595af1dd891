package org.sgdnoise.listeners;

import java.io.IOException;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.sgdnoise.output.IterationScalars;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.output.RecordSink;
import org.slf4j.Logger;

/**
 * A listener's record sinks: each record goes to every sink; a failing sink is counted and warned about once
 * (later failures at DEBUG), and never stops the others, unless fail-fast is on. Thread-safe.
 */
final class Sinks {

    private final Logger log;
    private final List<RecordSink> sinks;
    private final boolean failFast;
    private final boolean wantScalars;
    private final AtomicInteger failures = new AtomicInteger();
    private final Map<RecordSink, Boolean> warned = new IdentityHashMap<>(); // guarded by itself

    Sinks(Logger log, List<RecordSink> sinks, boolean failFast) {
        this.log = log;
        this.sinks = List.copyOf(sinks);
        this.failFast = failFast;
        this.wantScalars = this.sinks.stream().anyMatch(Sinks::takesScalars);
    }

    /** True when some sink takes iteration scalars: its class overrides {@link RecordSink#writeScalars}. */
    boolean wantScalars() {
        return wantScalars;
    }

    private static boolean takesScalars(RecordSink sink) {
        try {
            return sink.getClass()
                            .getMethod("writeScalars", IterationScalars.class)
                            .getDeclaringClass()
                    != RecordSink.class;
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e); // RecordSink declares it
        }
    }

    /** The sinks, in the order they were added. */
    List<RecordSink> list() {
        return sinks;
    }

    /** Sink writes that failed so far. */
    int failures() {
        return failures.get();
    }

    /** Sets the failure count (a resumed run). */
    void restoreFailures(int n) {
        failures.set(n);
    }

    /**
     * Writes {@code record} to every sink.
     *
     * @throws Failures.FailFast with fail-fast on, at the first failing sink (counted once)
     */
    void write(ProbeRecord record) {
        each(sink -> sink.write(record));
    }

    /**
     * Sends one iteration's scalars to every sink, with the same failure handling as {@link #write}.
     *
     * @throws Failures.FailFast with fail-fast on, at the first failing sink (counted once)
     */
    void writeScalars(IterationScalars scalars) {
        each(sink -> sink.writeScalars(scalars));
    }

    /** One call on a sink. */
    private interface SinkCall {
        void on(RecordSink sink) throws IOException;
    }

    private void each(SinkCall call) {
        for (RecordSink sink : sinks) {
            try {
                call.on(sink);
            } catch (Exception | LinkageError e) {
                failures.incrementAndGet();
                if (failFast) {
                    throw new Failures.FailFast("sgdnoise: sink " + sink + " failed (fail-fast is on)", e);
                }
                boolean first;
                synchronized (warned) {
                    first = warned.put(sink, Boolean.TRUE) == null;
                }
                if (first) {
                    log.warn(
                            "sgdnoise: cannot write to {}: {}. Its records are lost until this is fixed (check the "
                                    + "path and permissions); training goes on and later failures are logged at DEBUG.",
                            sink,
                            e.toString());
                } else {
                    log.debug("sgdnoise: sink {} failed", sink, e);
                }
            }
        }
    }

    /** Closes every sink; failures are logged, not thrown. */
    void close() {
        closeAll(log, sinks);
    }

    /**
     * Closes a listener's sinks, all but those their owner closes ({@link RecordSink#closedByListeners()} false: the
     * {@link Dashboard}); failures are logged, not thrown.
     */
    static void closeAll(Logger log, List<RecordSink> sinks) {
        for (RecordSink sink : sinks) {
            if (!sink.closedByListeners()) {
                continue;
            }
            try {
                sink.close();
            } catch (IOException | RuntimeException e) {
                log.warn("sgdnoise: closing {} failed: {}", sink, e.toString());
            }
        }
    }

    @Override
    public String toString() {
        return sinks.toString();
    }
}

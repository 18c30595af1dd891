package org.sgdnoise.output;

import java.io.IOException;

/**
 * Receives records, one per probe. Implementations write whole records and flush them, so a killed
 * process loses at most the record being written. Called from the training threads (several at once under
 * ParallelWrapper): implementations are thread-safe. A functional interface: {@code records::add} or
 * {@code r -> publish(r)} is a sink (with nothing to close and no resume position).
 */
@FunctionalInterface
public interface RecordSink extends AutoCloseable {

    /** Writes one record. */
    void write(ProbeRecord record) throws IOException;

    /**
     * Receives one iteration's scalars (the DiffusionListener sends them at every iteration, from the training
     * thread; keep it cheap). Ignored by default: a file of probe records stays one record per probe.
     */
    default void writeScalars(IterationScalars scalars) throws IOException {}

    /**
     * For a sink that writes a file: the bytes of whole records written so far, which a checkpoint keeps so
     * that a resumed run can go on from there ({@link #resumeAt}); -1 for a sink that cannot resume.
     */
    default long position() throws IOException {
        return -1;
    }

    /**
     * Continues after a restart from a checkpoint: keeps the first {@code position} bytes of the file (the
     * records written up to the checkpoint) and appends after them. Does nothing for a sink that cannot resume.
     */
    default void resumeAt(long position) throws IOException {}

    /**
     * Whether a listener closes this sink when it closes (true by default). A sink several listeners share and its
     * owner closes (the dashboard, which also serves the finished run) says false.
     */
    default boolean closedByListeners() {
        return true;
    }

    /** Flushes and releases the sink; further writes fail. Nothing to do by default. */
    @Override
    default void close() throws IOException {}
}

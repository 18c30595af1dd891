package org.sgdnoise.output;

import java.io.IOException;

/**
 * Receives records, one per probe. Implementations write whole records and flush them, so a killed
 * process loses at most the record being written. Called from the training thread.
 */
public interface RecordSink extends AutoCloseable {

    /** Writes one record. */
    void write(ProbeRecord record) throws IOException;

    /** Flushes and releases the sink; further writes fail. */
    @Override
    void close() throws IOException;
}

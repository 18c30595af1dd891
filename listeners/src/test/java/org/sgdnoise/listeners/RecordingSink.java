package org.sgdnoise.listeners;

import java.util.ArrayList;
import java.util.List;
import org.sgdnoise.output.ProbeRecord;
import org.sgdnoise.output.RecordSink;

/** Keeps every record in memory. */
class RecordingSink implements RecordSink {
    final List<ProbeRecord> records = new ArrayList<>();
    boolean closed;

    @Override
    public void write(ProbeRecord record) {
        records.add(record);
    }

    @Override
    public void close() {
        closed = true;
    }
}

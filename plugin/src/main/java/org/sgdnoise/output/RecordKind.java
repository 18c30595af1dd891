package org.sgdnoise.output;

import java.util.Locale;

/**
 * What a record is, for the sinks that treat the two listeners' records differently (the TensorBoard tags, the
 * dashboard's charts, the Micrometer gauges): the one place that tells them apart.
 */
public enum RecordKind {
    /** A DiffusionListener probe: the record has {@value #TRACE_KEY}. */
    PROBE,
    /** A TrajectoryListener analysis: the record has {@value #VERDICT_KEY}. */
    LOOP,
    /** Anything else. */
    OTHER;

    /** The key only probe records have ({@code ProbeFields.TRACE}). */
    public static final String TRACE_KEY = "trace";

    /** The key only loop-verdict records have ({@code TrajectoryFields.VERDICT}). */
    public static final String VERDICT_KEY = "verdict";

    /** The kind of {@code record}: LOOP when it has a verdict, else PROBE when it has a trace, else OTHER. */
    public static RecordKind of(ProbeRecord record) {
        if (record.fields().containsKey(VERDICT_KEY)) {
            return LOOP;
        }
        return record.fields().containsKey(TRACE_KEY) ? PROBE : OTHER;
    }

    /** The lowercase name ({@code probe}, {@code loop}, {@code other}). */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}

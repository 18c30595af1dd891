package org.sgdnoise.output.internal;

/**
 * The values of one TensorBoard {@code Summary} (scalars and histograms), and the {@code Event}s of an event file.
 * Field numbers from TensorBoard's {@code event.proto}, {@code summary.proto} and {@code histogram.proto}:
 *
 * <pre>
 * Event          { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 * Summary        { repeated Value value = 1; }
 * Summary.Value  { string tag = 1; float simple_value = 2; HistogramProto histo = 5; }
 * HistogramProto { double min = 1; double max = 2; double num = 3; double sum = 4; double sum_squares = 5;
 *                  repeated double bucket_limit = 6 [packed]; repeated double bucket = 7 [packed]; }
 * </pre>
 *
 * Not thread-safe.
 */
public final class EventSummary {

    /** The {@code file_version} of the first event of every event file. */
    public static final String FILE_VERSION = "brain.Event:2";

    private final ProtoWriter summary = new ProtoWriter();
    private int size;

    /** Adds a scalar ({@code simple_value}). */
    public EventSummary scalar(String tag, float value) {
        summary.message(1, new ProtoWriter().string(1, tag).float32(2, value));
        size++;
        return this;
    }

    /** Adds a histogram ({@code histo}). */
    public EventSummary histogram(String tag, LogHistogram h) {
        ProtoWriter histo = new ProtoWriter()
                .float64(1, h.min())
                .float64(2, h.max())
                .float64(3, h.num())
                .float64(4, h.sum())
                .float64(5, h.sumSquares())
                .packedDoubles(6, h.limits())
                .packedDoubles(7, h.counts());
        summary.message(1, new ProtoWriter().string(1, tag).message(5, histo));
        size++;
        return this;
    }

    /** The number of values added. */
    public int size() {
        return size;
    }

    /** The serialized {@code Event} holding these values. */
    public byte[] toEvent(double wallTime, long step) {
        return new ProtoWriter()
                .float64(1, wallTime)
                .int64(2, step)
                .message(5, summary)
                .toByteArray();
    }

    /** The serialized first {@code Event} of a file: its {@code file_version}. */
    public static byte[] fileVersionEvent(double wallTime) {
        return new ProtoWriter().float64(1, wallTime).string(3, FILE_VERSION).toByteArray();
    }
}

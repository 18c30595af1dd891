package org.sgdnoise.output;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * Reads TensorBoard event files back for the tests, sharing no code with the writer: its own bitwise CRC-32C and
 * protobuf-java's {@link CodedInputStream} for the messages (field numbers from TensorBoard's event.proto,
 * summary.proto and histogram.proto); and checks a histogram against its values and the bucket rule's definition.
 */
public final class TensorBoardEventReader {

    /** Relative tolerance of sums computed in a different order. */
    private static final double SUM_TOLERANCE = 1e-12;
    /** The ratio of neighbouring grid edges, 10^(1/10). */
    private static final double GRID_RATIO = Math.pow(10, 0.1);

    private TensorBoardEventReader() {}

    /** One Summary.Value: a scalar or a histogram. */
    public record Value(String tag, Float simpleValue, Histogram histogram) {}

    /** One HistogramProto. */
    public record Histogram(
            double min, double max, double num, double sum, double sumSquares, double[] limits, double[] counts) {}

    /** One Event. */
    public record Event(double wallTime, long step, String fileVersion, List<Value> values) {}

    /** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one bit at a time: the definition, not a table. */
    public static int crc32c(byte[] b, int off, int len) {
        int crc = 0xFFFFFFFF;
        for (int i = off; i < off + len; i++) {
            crc ^= b[i] & 0xFF;
            for (int k = 0; k < 8; k++) {
                crc = (crc & 1) != 0 ? (crc >>> 1) ^ 0x82F63B78 : crc >>> 1;
            }
        }
        return ~crc;
    }

    public static int masked(int crc) {
        return ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
    }

    /** The records of a TFRecord file, both CRCs of each checked; fails on a torn or corrupt record. */
    public static List<byte[]> records(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        ByteBuffer in = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        List<byte[]> out = new ArrayList<>();
        while (in.hasRemaining()) {
            if (in.remaining() < 12) {
                throw new IOException(file + ": torn header at byte " + in.position());
            }
            int start = in.position();
            long length = in.getLong();
            int lengthCrc = in.getInt();
            if (lengthCrc != masked(crc32c(all, start, 8))) {
                throw new IOException(file + ": bad length CRC at byte " + start);
            }
            if (length > in.remaining() - 4) {
                throw new IOException(file + ": torn record at byte " + start);
            }
            byte[] data = new byte[(int) length];
            in.get(data);
            if (in.getInt() != masked(crc32c(data, 0, data.length))) {
                throw new IOException(file + ": bad data CRC at byte " + start);
            }
            out.add(data);
        }
        return out;
    }

    /** The events of one file. */
    public static List<Event> events(Path file) throws IOException {
        List<Event> events = new ArrayList<>();
        for (byte[] r : records(file)) {
            events.add(event(CodedInputStream.newInstance(r)));
        }
        return events;
    }

    /** The event files of a run folder, by name. */
    public static List<Path> files(Path runFolder) throws IOException {
        try (Stream<Path> s = Files.list(runFolder)) {
            return s.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents."))
                    .sorted()
                    .toList();
        }
    }

    /** The events of every file in a run folder. */
    public static List<Event> runEvents(Path runFolder) throws IOException {
        List<Event> all = new ArrayList<>();
        for (Path f : files(runFolder)) {
            all.addAll(events(f));
        }
        return all;
    }

    /** (step, value) of every scalar with this tag, in file order. */
    public static List<double[]> scalars(List<Event> events, String tag) {
        List<double[]> out = new ArrayList<>();
        for (Event e : events) {
            for (Value v : e.values()) {
                if (v.tag().equals(tag) && v.simpleValue() != null) {
                    out.add(new double[] {e.step(), v.simpleValue()});
                }
            }
        }
        return out;
    }

    /** Every tag in these events. */
    public static List<String> tags(List<Event> events) {
        return events.stream()
                .flatMap(e -> e.values().stream())
                .map(Value::tag)
                .distinct()
                .toList();
    }

    private static Event event(CodedInputStream in) throws IOException {
        double wallTime = 0;
        long step = 0;
        String fileVersion = null;
        List<Value> values = new ArrayList<>();
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (tag) {
                case (1 << 3) | WireFormat.WIRETYPE_FIXED64 -> wallTime = in.readDouble();
                case (2 << 3) | WireFormat.WIRETYPE_VARINT -> step = in.readInt64();
                case (3 << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED -> fileVersion = in.readString();
                case (5 << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED -> {
                    int limit = in.pushLimit(in.readRawVarint32());
                    for (int t = in.readTag(); t != 0; t = in.readTag()) {
                        if (t == ((1 << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED)) {
                            int valueLimit = in.pushLimit(in.readRawVarint32());
                            values.add(value(in));
                            in.popLimit(valueLimit);
                        } else {
                            throw new IOException("unexpected Summary field tag " + t);
                        }
                    }
                    in.popLimit(limit);
                }
                default -> throw new IOException("unexpected Event field tag " + tag);
            }
        }
        return new Event(wallTime, step, fileVersion, values);
    }

    private static Value value(CodedInputStream in) throws IOException {
        String tag = null;
        Float simple = null;
        Histogram histo = null;
        for (int t = in.readTag(); t != 0; t = in.readTag()) {
            switch (t) {
                case (1 << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED -> tag = in.readString();
                case (2 << 3) | WireFormat.WIRETYPE_FIXED32 -> simple = in.readFloat();
                case (5 << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED -> {
                    int limit = in.pushLimit(in.readRawVarint32());
                    histo = histogram(in);
                    in.popLimit(limit);
                }
                default -> throw new IOException("unexpected Summary.Value field tag " + t);
            }
        }
        return new Value(tag, simple, histo);
    }

    private static Histogram histogram(CodedInputStream in) throws IOException {
        double[] scalars = new double[5];
        double[] limits = new double[0];
        double[] counts = new double[0];
        for (int t = in.readTag(); t != 0; t = in.readTag()) {
            int field = WireFormat.getTagFieldNumber(t);
            if (field >= 1 && field <= 5 && WireFormat.getTagWireType(t) == WireFormat.WIRETYPE_FIXED64) {
                scalars[field - 1] = in.readDouble();
            } else if ((field == 6 || field == 7)
                    && WireFormat.getTagWireType(t) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                int bytes = in.readRawVarint32();
                if (bytes % 8 != 0) {
                    throw new IOException("packed doubles of " + bytes + " bytes");
                }
                int limit = in.pushLimit(bytes);
                double[] packed = new double[bytes / 8];
                for (int i = 0; i < packed.length; i++) {
                    packed[i] = in.readDouble();
                }
                in.popLimit(limit);
                if (field == 6) {
                    limits = concat(limits, packed);
                } else {
                    counts = concat(counts, packed);
                }
            } else {
                throw new IOException("unexpected HistogramProto field tag " + t);
            }
        }
        return new Histogram(scalars[0], scalars[1], scalars[2], scalars[3], scalars[4], limits, counts);
    }

    private static double[] concat(double[] a, double[] b) {
        double[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** Checks a histogram against the values it was made of, and the bucket rule against its definition. */
    public static void checkHistogram(Histogram h, double[] values) {
        double sum = 0;
        double sumSquares = 0;
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        int n = 0;
        for (double v : values) {
            if (Double.isFinite(v)) {
                n++;
                sum += v;
                sumSquares += v * v;
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
        }
        assertThat(h.num()).isEqualTo(n);
        assertThat(h.min()).isEqualTo(min);
        assertThat(h.max()).isEqualTo(max);
        assertThat(h.sum()).isCloseTo(sum, within(SUM_TOLERANCE * Math.abs(sum)));
        assertThat(h.sumSquares()).isCloseTo(sumSquares, within(SUM_TOLERANCE * sumSquares));
        assertThat(h.counts()).hasSameSizeAs(h.limits());
        assertThat(h.counts()).isNotEmpty();
        assertThat(Arrays.stream(h.counts()).sum()).isEqualTo(n);
        // every count is the number of values in (previous limit, limit]
        for (int i = 0; i < h.limits().length; i++) {
            double lo = i == 0 ? Double.NEGATIVE_INFINITY : h.limits()[i - 1];
            double hi = h.limits()[i];
            assertThat(hi).isGreaterThan(lo);
            long inside = Arrays.stream(values)
                    .filter(v -> Double.isFinite(v) && v > lo && v <= hi)
                    .count();
            assertThat(h.counts()[i]).as("bucket %d (%s, %s]", i, lo, hi).isEqualTo(inside);
            // the rule: 0, or a grid edge 10^(j/10); a non-empty positive bucket is one grid step wide
            if (hi != 0) {
                double j = 10 * Math.log10(hi);
                assertThat(j).isCloseTo(Math.rint(j), within(1e-9));
            }
            if (h.counts()[i] > 0 && lo > 0) {
                assertThat(hi / lo).isCloseTo(GRID_RATIO, within(1e-12));
            }
            if (h.counts()[i] > 0 && i == 0 && hi > 0) {
                assertThat(hi / GRID_RATIO).isLessThan(min);
            }
        }
        assertThat(h.limits()[h.limits().length - 1]).isGreaterThanOrEqualTo(max);
        assertThat(h.counts()[h.counts().length - 1]).isPositive(); // no empty buckets at the ends
        assertThat(h.counts()[0]).isPositive();
    }

    /** The UTF-8 bytes of a string (for the CRC test vector). */
    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}

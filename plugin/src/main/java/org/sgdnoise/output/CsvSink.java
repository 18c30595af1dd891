package org.sgdnoise.output;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.sgdnoise.output.internal.LineFile;

/**
 * Writes records as CSV (RFC 4180), one row per record, flushed after every row.
 *
 * <p>The header is the first record's keys; later records are written in that column order (unknown
 * keys are dropped, missing ones left empty). Null is an empty cell; a {@code double[]} or {@code String[]}
 * is one cell with its values joined by {@code ;}. The file is opened at the first record, like {@link JsonlSink}.
 */
public final class CsvSink implements RecordSink {

    private final Path path;
    private final Function<FileChannel, WritableByteChannel> writer;
    private LineFile out;
    private List<String> columns;
    private long keep = -1; // bytes of the file to keep when it is opened (resume); -1: replace it
    private boolean closed;

    /** Creates a sink that replaces {@code path}. */
    public CsvSink(Path path) {
        this(path, channel -> channel);
    }

    /** As {@link #CsvSink(Path)}, writing through {@code writer} (tests wrap the file's channel to fail). */
    CsvSink(Path path, Function<FileChannel, WritableByteChannel> writer) {
        if (path == null) {
            throw new IllegalArgumentException("path must not be null");
        }
        this.path = path;
        this.writer = writer;
    }

    /** The output file. */
    public Path path() {
        return path;
    }

    @Override
    public synchronized void write(ProbeRecord record) throws IOException {
        if (closed) {
            throw new IOException("sink for " + path + " is closed");
        }
        if (out == null) {
            if (keep > 0) { // resumed: the kept bytes start with the header
                try (var lines = Files.lines(path, StandardCharsets.UTF_8)) {
                    // keys hold no commas
                    columns =
                            new ArrayList<>(List.of(lines.findFirst().orElse("").split(",", -1)));
                }
            }
            out = LineFile.open(path, keep, writer);
        }
        if (columns == null) {
            List<String> keys = new ArrayList<>(record.fields().keySet());
            StringBuilder h = new StringBuilder(256);
            for (int i = 0; i < keys.size(); i++) {
                if (i > 0) {
                    h.append(',');
                }
                cell(h, keys.get(i));
            }
            out.writeLine(h.toString());
            columns = keys; // only once the header is written: a failed header is written again
        }
        StringBuilder sb = new StringBuilder(256);
        Map<String, Object> f = record.fields();
        for (int i = 0; i < columns.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            Object v = f.get(columns.get(i));
            if (v == null) {
                continue;
            }
            if (v instanceof double[] a) {
                StringBuilder cellText = new StringBuilder();
                for (int j = 0; j < a.length; j++) {
                    if (j > 0) {
                        cellText.append(';');
                    }
                    Json.number(cellText, a[j]);
                }
                cell(sb, cellText.toString());
            } else if (v instanceof String[] a) {
                cell(sb, String.join(";", a));
            } else if (v instanceof Double || v instanceof Float) {
                Json.number(sb, ((Number) v).doubleValue());
            } else {
                cell(sb, v.toString());
            }
        }
        out.writeLine(sb.toString());
    }

    @Override
    public synchronized long position() {
        return out != null ? out.position() : Math.max(keep, 0);
    }

    /**
     * At the next record, keeps the first {@code position} bytes, the header among them, and appends rows in
     * its column order.
     */
    @Override
    public synchronized void resumeAt(long position) throws IOException {
        if (out != null) {
            out.close();
            out = null;
        }
        columns = null;
        keep = position;
    }

    private static void cell(StringBuilder sb, String s) {
        if (s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0) {
            sb.append('"').append(s.replace("\"", "\"\"")).append('"');
        } else {
            sb.append(s);
        }
    }

    @Override
    public synchronized void close() throws IOException {
        closed = true;
        if (out != null) {
            out.close();
        }
    }

    @Override
    public String toString() {
        return "CsvSink[" + path + "]";
    }
}

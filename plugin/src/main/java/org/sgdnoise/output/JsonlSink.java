package org.sgdnoise.output;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.sgdnoise.output.internal.LineFile;

/**
 * Writes each record as one line of JSON (JSON Lines), each line in one write to the operating system
 * ({@link LineFile}).
 *
 * <p>The file is opened at the first record (parent folders created), so a bad path shows up as a
 * failed write inside training, which the listener counts and reports, not as a failed build.
 */
public final class JsonlSink implements RecordSink {

    private final Path path;
    private final boolean append;
    private final String name;
    private LineFile out;
    private long keep = -2; // what to keep of the file when it is opened: -2 per `append`, else LineFile.open's
    private boolean closed;

    /**
     * Creates a sink.
     *
     * @param path the output file
     * @param append true to append to an existing file, false to replace it
     */
    public JsonlSink(Path path, boolean append) {
        if (path == null) {
            throw new IllegalArgumentException("path must not be null");
        }
        this.path = path;
        this.append = append;
        this.name = path.toString();
    }

    private JsonlSink(OutputStream stream, String name) {
        this.path = null;
        this.append = true;
        this.name = name;
        this.out = LineFile.of(stream, name);
    }

    /** A sink writing to a stream (standard output, a socket, ...); it cannot resume from a checkpoint. */
    public static JsonlSink to(OutputStream stream, String name) {
        if (stream == null) {
            throw new IllegalArgumentException("stream must not be null");
        }
        return new JsonlSink(stream, name == null ? "stream" : name);
    }

    /** The output file, or null for a stream. */
    public Path path() {
        return path;
    }

    @Override
    public synchronized void write(ProbeRecord record) throws IOException {
        if (closed) {
            throw new IOException("sink for " + name + " is closed");
        }
        if (out == null) {
            out = LineFile.open(path, keep != -2 ? keep : append ? Long.MAX_VALUE : -1);
        }
        out.writeLine(record.toJson());
    }

    /** Bytes of the file to keep on resume: what it holds now (-1 for a stream). */
    @Override
    public synchronized long position() throws IOException {
        if (path == null) {
            return -1;
        }
        if (out != null) {
            return out.position();
        }
        if (keep != -2) {
            return keep == -1 ? 0 : keep; // resumed, not written since
        }
        return append && Files.exists(path) ? Files.size(path) : 0; // what a run appending to it keeps
    }

    /** The file is cut back to {@code position} bytes and appended to at the next record. */
    @Override
    public synchronized void resumeAt(long position) throws IOException {
        if (path == null) {
            return;
        }
        if (out != null) {
            out.close();
            out = null;
        }
        keep = position;
    }

    /** Closes the file; a stream is flushed, not closed (it may be standard output). */
    @Override
    public synchronized void close() throws IOException {
        closed = true;
        if (out != null && path != null) {
            out.close();
        } else if (out != null) {
            out.flush();
        }
    }

    @Override
    public String toString() {
        return "JsonlSink[" + name + "]";
    }
}

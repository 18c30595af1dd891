package org.sgdnoise.output;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes each record as one line of JSON (JSON Lines), flushed after every line.
 *
 * <p>The file is opened at the first record (parent folders created), so a bad path shows up as a
 * failed write inside training, which the listener counts and reports, not as a failed build.
 */
public final class JsonlSink implements RecordSink {

    private final Path path;
    private final boolean append;
    private Writer out;
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
            out = open(path, append);
        }
        out.write(record.toJson());
        out.write('\n');
        out.flush();
    }

    static Writer open(Path path, boolean append) throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        return new BufferedWriter(Files.newBufferedWriter(
                path,
                StandardCharsets.UTF_8,
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING));
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
        return "JsonlSink[" + path + "]";
    }
}

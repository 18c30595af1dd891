package org.sgdnoise.output.internal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Function;

/**
 * A text file written one whole line at a time: each line goes to the operating system in one write, so
 * a killed process leaves at most a torn last line, and a line that failed half-way (a full disk) is cut
 * off again before the next line is written. Tracks its length in bytes, so a resumed run can cut the
 * file back to where a checkpoint was taken and go on from there.
 *
 * <p>{@link #buffered} lines are held in memory and written together, still whole lines in one write each
 * time, when {@value #BUFFER_BYTES} bytes are pending or the oldest pending line is older than the flush
 * interval: a killed process loses at most that interval's lines and still leaves only whole lines. Not
 * thread-safe.
 */
public final class LineFile implements AutoCloseable {

    private final String name;
    private final WritableByteChannel out;
    private final FileChannel file; // null for a stream
    private final OutputStream stream; // null for a file
    private long position;
    private boolean dirty;
    private long flushNanos = -1; // -1: every line is written at once
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private long firstPending;

    /** Bytes pending that make a buffered file write them at once. */
    public static final int BUFFER_BYTES = 64 << 10;

    private LineFile(String name, WritableByteChannel out, FileChannel file, OutputStream stream, long position) {
        this.name = name;
        this.out = out;
        this.file = file;
        this.stream = stream;
        this.position = position;
    }

    /**
     * Opens {@code path} (parent folders created): replaced, appended to, or cut back to {@code keepBytes}
     * and appended to.
     *
     * @param keepBytes -1 to replace the file, {@link Long#MAX_VALUE} to append to it, otherwise the bytes
     *     to keep (the file must hold at least that many)
     */
    public static LineFile open(Path path, long keepBytes) throws IOException {
        return open(path, keepBytes, ch -> ch);
    }

    /** As {@link #open(Path, long)}, writing through {@code writer} (tests wrap the file's channel to fail). */
    public static LineFile open(Path path, long keepBytes, Function<FileChannel, WritableByteChannel> writer)
            throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            long size = ch.size();
            long keep = keepBytes < 0 ? 0 : Math.min(keepBytes, size);
            if (keepBytes >= 0 && keepBytes != Long.MAX_VALUE && size < keepBytes) {
                throw new IOException(path + " holds " + size + " bytes, fewer than the " + keepBytes
                        + " written before the checkpoint: it was cut or replaced since");
            }
            ch.truncate(keep);
            ch.position(keep);
            return new LineFile(path.toString(), writer.apply(ch), ch, null, keep);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Writes lines to a stream (not resumable; a failed line cannot be cut back). */
    public static LineFile of(OutputStream stream, String name) {
        return new LineFile(name, Channels.newChannel(stream), null, stream, 0);
    }

    /**
     * Holds lines back for up to {@code flushMillis} (and {@value #BUFFER_BYTES} bytes) and writes them together.
     *
     * @param flushMillis the longest a line waits before it is written, &gt;= 0
     * @return this file
     */
    public LineFile buffered(long flushMillis) {
        if (flushMillis < 0) {
            throw new IllegalArgumentException("flushMillis must be >= 0, got " + flushMillis);
        }
        this.flushNanos = flushMillis * 1_000_000L;
        return this;
    }

    /** Appends {@code line} and a newline: in one write, or after it with the pending lines when buffered. */
    public void writeLine(String line) throws IOException {
        byte[] bytes = (line + "\n").getBytes(StandardCharsets.UTF_8);
        if (flushNanos < 0) {
            write(bytes);
            return;
        }
        long now = System.nanoTime();
        if (pending.size() == 0) {
            firstPending = now;
        }
        pending.write(bytes, 0, bytes.length);
        if (pending.size() >= BUFFER_BYTES || now - firstPending >= flushNanos) {
            writePending();
        }
    }

    private void writePending() throws IOException {
        if (pending.size() > 0) {
            byte[] bytes = pending.toByteArray();
            pending.reset();
            write(bytes);
        }
    }

    private void write(byte[] bytes) throws IOException {
        if (dirty && file != null) {
            file.truncate(position); // drop the torn rest of a failed line
            file.position(position);
        }
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        dirty = true;
        while (buf.hasRemaining()) {
            out.write(buf);
        }
        if (stream != null) {
            stream.flush();
        }
        dirty = false;
        position += bytes.length;
    }

    /** Writes the pending lines and flushes a stream (a file's lines are then with the operating system). */
    public void flush() throws IOException {
        writePending();
        if (stream != null) {
            stream.flush();
        }
    }

    /** Bytes of whole lines written, including those kept when opened and those pending. */
    public long position() {
        return position + pending.size();
    }

    /** True for a file (resumable), false for a stream. */
    public boolean resumable() {
        return file != null;
    }

    @Override
    public void close() throws IOException {
        try {
            writePending();
        } finally {
            out.close();
        }
    }

    @Override
    public String toString() {
        return name;
    }
}

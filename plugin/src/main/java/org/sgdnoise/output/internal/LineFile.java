package org.sgdnoise.output.internal;

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
 * file back to where a checkpoint was taken and go on from there. Not thread-safe.
 */
public final class LineFile implements AutoCloseable {

    private final String name;
    private final WritableByteChannel out;
    private final FileChannel file; // null for a stream
    private final OutputStream stream; // null for a file
    private long position;
    private boolean dirty;

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

    /** Appends {@code line} and a newline, in one write. */
    public void writeLine(String line) throws IOException {
        if (dirty && file != null) {
            file.truncate(position); // drop the torn rest of a failed line
            file.position(position);
        }
        byte[] bytes = (line + "\n").getBytes(StandardCharsets.UTF_8);
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

    /** Flushes a stream (a file's lines are already with the operating system). */
    public void flush() throws IOException {
        if (stream != null) {
            stream.flush();
        }
    }

    /** Bytes of whole lines written, including those kept when opened. */
    public long position() {
        return position;
    }

    /** True for a file (resumable), false for a stream. */
    public boolean resumable() {
        return file != null;
    }

    @Override
    public void close() throws IOException {
        out.close();
    }

    @Override
    public String toString() {
        return name;
    }
}

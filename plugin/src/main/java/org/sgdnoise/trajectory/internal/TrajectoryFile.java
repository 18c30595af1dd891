package org.sgdnoise.trajectory.internal;

import java.io.IOException;
import java.nio.file.Path;
import org.sgdnoise.output.internal.LineFile;
import org.sgdnoise.trajectory.TrajectoryRow;

/**
 * A trajectory's CSV file: the header ({@link TrajectoryRow#csvHeader}) then one whole line per
 * {@link TrajectoryRow}, written in batches at most {@link #FLUSH_MILLIS} apart (a killed run loses at most that and
 * leaves whole lines). Opened at the first row; a resumed file keeps its first {@code resumeAt} bytes. After a
 * failed write it stays off (the failure is thrown once). Not thread-safe: one file per worker.
 */
public final class TrajectoryFile implements AutoCloseable {

    /** The longest a row waits in memory before it is written. */
    public static final long FLUSH_MILLIS = 1_000;

    private final Path path;
    private final int dimensions;
    private LineFile writer;
    private long resumeAt;
    private boolean failed;

    /**
     * A file that is opened at the first row.
     *
     * @param resumeAt bytes of an existing file to keep (the rows written before a checkpoint); -1 replaces it
     * @param failed true when an earlier write failed (the file stays off)
     */
    public TrajectoryFile(Path path, int dimensions, long resumeAt, boolean failed) {
        this.path = path;
        this.dimensions = dimensions;
        this.resumeAt = resumeAt;
        this.failed = failed;
    }

    /** Worker 0's file is {@code path}; worker n's is {@code name-worker<n>.ext} beside it. */
    public static Path forWorker(Path path, int worker) {
        if (worker == 0) {
            return path;
        }
        String name = path.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String tagged =
                dot > 0 ? name.substring(0, dot) + "-worker" + worker + name.substring(dot) : name + "-worker" + worker;
        return path.resolveSibling(tagged);
    }

    /** The path. */
    public Path path() {
        return path;
    }

    /** True after a failed write. */
    public boolean failed() {
        return failed;
    }

    /**
     * Bytes of whole lines written so far (the resume position before the file is opened); the pending lines are
     * written first, so that a checkpoint's position is on disk.
     */
    public long position() throws IOException {
        if (writer != null && !failed) {
            writer.flush();
        }
        return writer != null ? writer.position() : resumeAt;
    }

    /**
     * Appends one row (and the header first in a new file).
     *
     * @throws IOException naming the file, once; later rows are dropped
     */
    public void write(TrajectoryRow row) throws IOException {
        if (failed) {
            return;
        }
        try {
            if (writer == null) {
                writer = LineFile.open(path, resumeAt).buffered(FLUSH_MILLIS);
                if (writer.position() == 0) {
                    writer.writeLine(TrajectoryRow.csvHeader(dimensions));
                }
            }
            writer.writeLine(row.toCsv());
        } catch (IOException e) {
            failed = true;
            throw new IOException("cannot write the trajectory file " + path + ": " + e.getMessage(), e);
        }
    }

    /** Flushes and closes the file. */
    @Override
    public void close() throws IOException {
        if (writer != null) {
            writer.close();
        }
    }

    @Override
    public String toString() {
        return path.toString();
    }
}

package org.sgdnoise.output.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Function;
import java.util.zip.CRC32C;

/**
 * A new file of TFRecords, the framing of TensorBoard's event files. Each record is
 *
 * <pre>
 * uint64 length, uint32 masked CRC-32C of those 8 bytes, the data, uint32 masked CRC-32C of the data
 * </pre>
 *
 * all little-endian, with mask(crc) = ((crc &gt;&gt;&gt; 15) | (crc &lt;&lt; 17)) + 0xa282ead8 (mod 2<sup>32</sup>).
 * {@link #write} sends a record, with any appended before it, to the operating system in one write; {@link #append}
 * only frames it in memory until the next {@link #flush} (a write per training iteration costs more than the rest of
 * an iteration's scalars). A killed process leaves at most a torn last record, and a write that failed half-way (a
 * full disk) loses the records it held and is cut off again before the next one. Not thread-safe.
 */
public final class TfRecordFile implements AutoCloseable {

    private static final int MASK_DELTA = 0xa282ead8;

    private final Path path;
    private final FileChannel file;
    private final WritableByteChannel out;
    private static final int INITIAL = 4096;
    private static final int MAX_KEPT = 1 << 20;

    private long position;
    private boolean dirty;
    private ByteBuffer pending = ByteBuffer.allocate(INITIAL).order(ByteOrder.LITTLE_ENDIAN);

    private TfRecordFile(Path path, FileChannel file, WritableByteChannel out) {
        this.path = path;
        this.file = file;
        this.out = out;
    }

    /**
     * Creates {@code path}, which must not exist yet (its folder must).
     *
     * @throws java.nio.file.FileAlreadyExistsException if it exists
     */
    public static TfRecordFile create(Path path) throws IOException {
        return create(path, ch -> ch);
    }

    /** As {@link #create(Path)}, writing through {@code writer} (tests wrap the file's channel to fail). */
    public static TfRecordFile create(Path path, Function<FileChannel, WritableByteChannel> writer) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        return new TfRecordFile(path, ch, writer.apply(ch));
    }

    /** Appends one record holding {@code data} (not modified) and writes it with those pending, in one write. */
    public void write(byte[] data) throws IOException {
        append(data);
        flush();
    }

    /** Frames one record holding {@code data} (not modified) in memory, to be written by the next {@link #flush}. */
    public void append(byte[] data) {
        int need = data.length + 16;
        if (pending.remaining() < need) {
            ByteBuffer grown = ByteBuffer.allocate(Math.max(2 * pending.capacity(), pending.position() + need))
                    .order(ByteOrder.LITTLE_ENDIAN);
            pending.flip();
            grown.put(pending);
            pending = grown;
        }
        int start = pending.position();
        pending.putLong(data.length);
        pending.putInt(maskedCrc32c(pending.array(), start, 8));
        pending.put(data);
        pending.putInt(maskedCrc32c(data, 0, data.length));
    }

    /** Bytes appended and not written yet. */
    public int pendingBytes() {
        return pending.position();
    }

    /**
     * Writes the appended records in one write. When it fails they are lost (and cut off before the next write);
     * the pending buffer shrinks back after a large batch.
     */
    public void flush() throws IOException {
        if (pending.position() == 0) {
            return;
        }
        pending.flip();
        int bytes = pending.remaining();
        try {
            if (dirty) {
                file.truncate(position); // drop the torn rest of a failed write
                file.position(position);
            }
            dirty = true;
            while (pending.hasRemaining()) {
                out.write(pending);
            }
            dirty = false;
            position += bytes;
        } finally {
            pending = pending.capacity() > MAX_KEPT
                    ? ByteBuffer.allocate(INITIAL).order(ByteOrder.LITTLE_ENDIAN)
                    : pending.clear();
        }
    }

    /** The masked CRC-32C (Castagnoli) of {@code len} bytes of {@code b} from {@code off}. */
    public static int maskedCrc32c(byte[] b, int off, int len) {
        CRC32C crc = new CRC32C();
        crc.update(b, off, len);
        int c = (int) crc.getValue();
        return ((c >>> 15) | (c << 17)) + MASK_DELTA;
    }

    /** The file. */
    public Path path() {
        return path;
    }

    /** Bytes of whole records written (not counting those pending). */
    public long position() {
        return position;
    }

    /** Writes what is pending ({@link #flush}) and closes the file, even when that write fails. */
    @Override
    public void close() throws IOException {
        try {
            flush();
        } finally {
            try {
                out.close();
            } finally {
                file.close();
            }
        }
    }

    @Override
    public String toString() {
        return path.toString();
    }
}

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
 * Each record goes to the operating system in one write, so a killed process leaves at most a torn last record,
 * and a record that failed half-way (a full disk) is cut off again before the next one is written. Not
 * thread-safe.
 */
public final class TfRecordFile implements AutoCloseable {

    private static final int MASK_DELTA = 0xa282ead8;

    private final Path path;
    private final FileChannel file;
    private final WritableByteChannel out;
    private long position;
    private boolean dirty;

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

    /** Appends one record holding {@code data} (not modified), in one write. */
    public void write(byte[] data) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(data.length + 16).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(data.length);
        buf.putInt(maskedCrc32c(buf.array(), 0, 8));
        buf.put(data);
        buf.putInt(maskedCrc32c(data, 0, data.length));
        buf.flip();
        if (dirty) {
            file.truncate(position); // drop the torn rest of a failed record
            file.position(position);
        }
        dirty = true;
        while (buf.hasRemaining()) {
            out.write(buf);
        }
        dirty = false;
        position += data.length + 16;
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

    /** Bytes of whole records written. */
    public long position() {
        return position;
    }

    @Override
    public void close() throws IOException {
        out.close();
        file.close();
    }

    @Override
    public String toString() {
        return path.toString();
    }
}

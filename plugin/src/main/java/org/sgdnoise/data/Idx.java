package org.sgdnoise.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.sgdnoise.UserInputException;

/**
 * Reads and writes IDX files of unsigned bytes (the MNIST / Fashion-MNIST format), plain or gzip.
 *
 * <p>Layout: magic {@code 0x00 0x00 0x08 ndim}, ndim big-endian 32-bit sizes, then the bytes.
 */
public final class Idx {

    /**
     * A decoded IDX array: its sizes and its bytes (row-major).
     *
     * @param dims the sizes, dimension 0 first (the number of items)
     * @param data the unsigned bytes, row-major
     */
    public record Array(int[] dims, byte[] data) {
        /** The size of dimension 0 (the number of items). */
        public int count() {
            return dims[0];
        }

        /** The number of bytes per item. */
        public int itemSize() {
            int s = 1;
            for (int i = 1; i < dims.length; i++) {
                s *= dims[i];
            }
            return s;
        }
    }

    private static final int MAX_ITEMS = 10_000_000;

    private Idx() {}

    /**
     * Reads an IDX array of unsigned bytes, keeping at most {@code limit} items.
     *
     * @param name the file name, for messages
     * @param in the stream (gzip is detected from its first two bytes); not closed
     * @param limit the most items to keep (the first ones), at least 0
     * @throws UserInputException for anything that is not a well-formed IDX unsigned-byte file
     * @throws IllegalArgumentException when {@code limit} is negative
     */
    public static Array read(String name, InputStream in, int limit) throws IOException {
        if (limit < 0) {
            throw new IllegalArgumentException("limit must be >= 0, got " + limit);
        }
        Reader r = open(name, in);
        int keep = Math.min(r.count(), limit);
        byte[] data = r.read(keep);
        int[] dims = r.dims();
        dims[0] = keep;
        return new Array(dims, data);
    }

    /**
     * Opens an IDX file of unsigned bytes and reads its header, so that its items can be read a range at a
     * time (a partition of a data set need not load the rest).
     *
     * @param name the file name, for messages
     * @param in the stream (gzip is detected from its first two bytes); not closed
     * @throws UserInputException for a header that is not a well-formed IDX unsigned-byte header
     */
    public static Reader open(String name, InputStream in) throws IOException {
        BufferedInputStream bin = new BufferedInputStream(in);
        bin.mark(2);
        int b0 = bin.read();
        int b1 = bin.read();
        bin.reset();
        Reader r = new Reader(name);
        r.guard(() -> {
            InputStream src = (b0 == 0x1f && b1 == 0x8b) ? new GZIPInputStream(bin, 1 << 16) : bin;
            r.in = new DataInputStream(src);
            int magic = r.in.readInt();
            if ((magic >>> 8) != 0x08) {
                throw new UserInputException(name + ": not an IDX file of unsigned bytes (magic 0x"
                        + Integer.toHexString(magic) + ", expected 0x0000080N)");
            }
            int ndim = magic & 0xff;
            if (ndim < 1 || ndim > 4) {
                throw new UserInputException(name + ": IDX file with " + ndim + " dimensions, expected 1 to 4");
            }
            r.dims = new int[ndim];
            long itemSize = 1;
            for (int i = 0; i < ndim; i++) {
                r.dims[i] = r.in.readInt();
                if (r.dims[i] < 0 || (i == 0 && r.dims[i] > MAX_ITEMS) || (i > 0 && r.dims[i] > 65_536)) {
                    throw new UserInputException(name + ": implausible IDX size " + r.dims[i] + " in dimension " + i);
                }
                if (i > 0) {
                    itemSize *= r.dims[i];
                }
            }
            if (itemSize > Integer.MAX_VALUE - 8) {
                throw new UserInputException(name + ": items of " + itemSize + " bytes are too large to load");
            }
            r.itemSize = (int) itemSize;
            return null;
        });
        return r;
    }

    /** An IDX stream past its header: its items are read (or skipped) in order. */
    public static final class Reader {
        private final String name;
        private DataInputStream in;
        private int[] dims;
        private int itemSize;
        private long position;

        private Reader(String name) {
            this.name = name;
        }

        /** The declared sizes (a copy). */
        public int[] dims() {
            return dims.clone();
        }

        /** The declared number of items. */
        public int count() {
            return dims[0];
        }

        /** Bytes per item. */
        public int itemSize() {
            return itemSize;
        }

        /**
         * Skips the next {@code n} items.
         *
         * @param n the number of items, at least 0 and at most the items left
         */
        public void skip(long n) throws IOException {
            check(n);
            guard(() -> {
                in.skipNBytes(n * itemSize);
                return null;
            });
            position += n;
        }

        /**
         * Reads the next {@code n} items, row-major.
         *
         * @param n the number of items, at least 0 and at most the items left
         * @return {@code n} times {@link #itemSize()} bytes
         */
        public byte[] read(int n) throws IOException {
            check(n);
            long bytes = (long) n * itemSize;
            if (bytes > Integer.MAX_VALUE - 8) {
                throw new UserInputException(name + ": " + bytes + " bytes is too large to load");
            }
            byte[] data = new byte[(int) bytes];
            guard(() -> {
                in.readFully(data);
                return null;
            });
            position += n;
            return data;
        }

        private void check(long n) {
            if (n < 0 || position + n > dims[0]) {
                throw new IllegalArgumentException(
                        "items [" + position + ", " + (position + n) + ") are outside [0, " + dims[0] + ")");
            }
        }

        private interface Io<T> {
            T run() throws IOException;
        }

        private <T> T guard(Io<T> io) throws IOException {
            try {
                return io.run();
            } catch (EOFException e) {
                throw new UserInputException(name + ": truncated IDX file (it ends before its declared size)", e);
            } catch (ZipException e) {
                throw new UserInputException(name + ": corrupt gzip data (" + e.getMessage() + ")", e);
            }
        }
    }

    /**
     * Writes an IDX array of unsigned bytes (uncompressed; wrap the stream in gzip to compress).
     *
     * @param a the array
     * @param out the stream; not closed
     */
    public static void write(Array a, OutputStream out) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(4 + 4 * a.dims().length);
        header.putInt(0x00000800 | a.dims().length);
        for (int d : a.dims()) {
            header.putInt(d);
        }
        out.write(header.array());
        out.write(a.data());
    }
}

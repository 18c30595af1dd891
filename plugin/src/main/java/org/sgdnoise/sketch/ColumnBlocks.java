package org.sgdnoise.sketch;

import java.io.InvalidObjectException;
import java.io.ObjectInputFilter;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.sgdnoise.internal.linalg.Gram;

/**
 * The sketch's buffer: {@code capacity} rows of length d, stored as column blocks of about
 * {@link FrequentDirections#BLOCK_BYTES} (block j holds columns {@code [j·c, min(d, (j+1)·c))} of every row), so
 * that every product runs on contiguous memory at BLAS speed and no operation needs a second d-sized buffer.
 * Off-heap, outside any workspace. Not thread-safe.
 */
final class ColumnBlocks {

    /** Writes the new rows' columns {@code [c0, c1)} into {@code dst}. */
    interface BlockWriter {
        /** Writes. Modified: {@code dst}. */
        void write(long c0, long c1, INDArray dst);
    }

    private final long d;
    private final int capacity;
    private final DataType dataType;
    private final long blockColumns;
    private final INDArray[] blocks;

    ColumnBlocks(long d, int capacity, DataType dataType) {
        this.d = d;
        this.capacity = capacity;
        this.dataType = dataType;
        this.blockColumns =
                Math.max(1, Math.min(d, FrequentDirections.BLOCK_BYTES / ((long) capacity * dataType.width())));
        int n = Math.toIntExact((d + blockColumns - 1) / blockColumns);
        blocks = new INDArray[n];
        try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            for (int j = 0; j < n; j++) {
                long c0 = j * blockColumns;
                blocks[j] = Nd4j.create(dataType, capacity, Math.min(d, c0 + blockColumns) - c0);
            }
        }
    }

    /** Columns per block, c. */
    long blockColumns() {
        return blockColumns;
    }

    /** Rows [from, to) of block j: a contiguous c-order view. */
    private INDArray rowsOf(int j, int from, int to) {
        if (from == 0 && to == capacity) {
            return blocks[j];
        }
        return blocks[j].get(NDArrayIndex.interval(from, to), NDArrayIndex.all());
    }

    /** The columns {@code [c0, c1)} that block j holds. */
    private Span columnsOf(int j) {
        long c0 = j * blockColumns;
        return new Span(c0, c0 + blocks[j].columns());
    }

    private record Span(long c0, long c1) {}

    /**
     * Writes q new rows after the first {@code held} through {@code writer}, one block at a time, and returns
     * their products with every row up to them, {@code P[a][b] = row_a · row_{held+b}} for {@code a < held + q},
     * summed over the blocks in double.
     */
    double[][] append(int held, int q, BlockWriter writer) {
        int n = held + q;
        double[][] add = new double[n][q];
        for (int j = 0; j < blocks.length; j++) {
            Span c = columnsOf(j);
            INDArray dst = rowsOf(j, held, n);
            writer.write(c.c0(), c.c1(), dst);
            INDArray product = rowsOf(j, 0, n).mmul(dst.transpose());
            double[][] part = Gram.toDoubleMatrix(product);
            product.close();
            for (int a = 0; a < n; a++) {
                for (int b = 0; b < q; b++) {
                    add[a][b] += part[a][b];
                }
            }
        }
        return add;
    }

    /** Replaces the first {@code keep} rows by {@code w}·(the first {@code rows} rows); w is keep×rows. */
    void leftMultiply(double[][] w, int keep, int rows) {
        INDArray wm = Nd4j.createFromArray(w).castTo(dataType);
        // BLAS writes column-major results, so it computes the transpose, (W·B)ᵀ = Bᵀ·Wᵀ, into a c×keep 'f'
        // temporary: its memory is W·B in row-major order, copied back into the block without a transpose.
        INDArray temp = Nd4j.create(dataType, new long[] {blockColumns, keep}, 'f');
        for (int j = 0; j < blocks.length; j++) {
            long c = blocks[j].columns();
            INDArray out = c == blockColumns ? temp : Nd4j.create(dataType, new long[] {c, keep}, 'f');
            Nd4j.gemm(rowsOf(j, 0, rows), wm, out, true, true, 1.0, 0.0);
            rowsOf(j, 0, keep).assign(out.transpose());
            if (out != temp) {
                out.close();
            }
        }
        temp.close();
        wm.close();
    }

    /** {@code w}·(the first {@code rows} rows) as a new m×d matrix; w is m×rows. */
    INDArray project(double[][] w, int rows) {
        try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            INDArray wm = Nd4j.createFromArray(w).castTo(dataType);
            INDArray out = Nd4j.create(dataType, w.length, d);
            for (int j = 0; j < blocks.length; j++) {
                Span c = columnsOf(j);
                out.get(NDArrayIndex.all(), NDArrayIndex.interval(c.c0(), c.c1()))
                        .assign(wm.mmul(rowsOf(j, 0, rows)));
            }
            return out;
        }
    }

    /** Sets rows [from, to) to zero. */
    void zero(int from, int to) {
        for (int j = 0; j < blocks.length; j++) {
            rowsOf(j, from, to).assign(0);
        }
    }

    /** Multiplies the first {@code rows} rows by {@code factor}. */
    void scale(int rows, double factor) {
        for (int j = 0; j < blocks.length; j++) {
            rowsOf(j, 0, rows).muli(factor);
        }
    }

    /** A copy of the first {@code rows} rows, rows×d. */
    INDArray copy(int rows) {
        try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            INDArray out = Nd4j.create(dataType, rows, d);
            for (int j = 0; rows > 0 && j < blocks.length; j++) {
                Span c = columnsOf(j);
                out.get(NDArrayIndex.all(), NDArrayIndex.interval(c.c0(), c.c1()))
                        .assign(rowsOf(j, 0, rows));
            }
            return out;
        }
    }

    /** Sets row i to the 1×d (or length-d) vector v, cast to the buffer's type. */
    void setRow(int i, INDArray v) {
        for (int j = 0; j < blocks.length; j++) {
            Span c = columnsOf(j);
            rowsOf(j, i, i + 1)
                    .assign(v.get(NDArrayIndex.interval(c.c0(), c.c1())).reshape(1, c.c1() - c.c0()));
        }
    }

    /**
     * Throws when a buffer of {@code capacity·d} values of {@code dataType}, described to {@code filter} as one
     * array, is more than it allows: a crafted stream cannot make a sketch allocate what no array may hold.
     */
    static void checkAllowed(ObjectInputFilter filter, DataType dataType, int capacity, long d)
            throws InvalidObjectException {
        long values = d > Long.MAX_VALUE / capacity ? Long.MAX_VALUE : capacity * d;
        Class<?> type = dataType == DataType.DOUBLE ? double[].class : float[].class;
        if (filter != null && filter.checkInput(new BufferInfo(type, values)) == ObjectInputFilter.Status.REJECTED) {
            throw new InvalidObjectException(
                    "a sketch buffer of " + capacity + "×" + d + " values is more than the stream's filter allows");
        }
    }

    /** The buffer described to a deserialisation filter as one array. */
    private record BufferInfo(Class<?> serialClass, long arrayLength) implements ObjectInputFilter.FilterInfo {
        @Override
        public long depth() {
            return 0;
        }

        @Override
        public long references() {
            return 0;
        }

        @Override
        public long streamBytes() {
            return 0;
        }
    }
}

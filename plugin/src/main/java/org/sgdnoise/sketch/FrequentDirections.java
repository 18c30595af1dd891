package org.sgdnoise.sketch;

import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.sgdnoise.internal.linalg.SymmetricEigen;

/**
 * Frequent Directions: a streaming sketch B (at most ℓ + b rows of length d) of a matrix A whose rows
 * arrive one batch at a time, with {@code 0 ≼ AᵀA − BᵀB ≼ Δ·I} (Ghashami, Liberty, Phillips and Woodruff
 * 2016).
 *
 * <p>Algorithm (theory.md §4): rows are appended to the buffer; when it holds ℓ + b rows, the Gram matrix
 * {@code BBᵀ} is eigendecomposed in double, every squared singular value is shrunk by δ = σ_ℓ² (the ℓ-th
 * largest) and at most ℓ − 1 rows are kept; Δ accumulates the δs. Consequences, all tested:
 * <ul>
 *   <li>{@code λ_i(BᵀB) ≤ λ_i(AᵀA) ≤ λ_i(BᵀB) + Δ} for every i: a certified interval per eigenvalue;
 *   <li>{@code Δ ≤ (‖A‖_F² − ‖B‖_F²)/ℓ ≤ min_{k<ℓ} ‖A − A_k‖_F²/(ℓ − k)};
 *   <li>while fewer than ℓ + b rows have arrived, B = A and Δ = 0.
 * </ul>
 * {@link #decay(double)} multiplies the past by γ (B ← √γ·B, Δ ← γ·Δ), so the bounds hold for the
 * γ-weighted stream; {@link #merge(FrequentDirections)} adds another sketch (Δ = Δ₁ + Δ₂ + Δ_merge).
 *
 * <p>Memory: the buffer, {@code (ℓ + b)·d} values of the chosen data type, stored as column blocks of about
 * 16 MiB (c = {@link #blockColumns()} columns each) so that every product runs on contiguous memory at
 * BLAS speed; the Gram matrix, {@code (ℓ + b)²} doubles (accumulated in double across blocks); during a
 * shrink one {@code ℓ × c} temporary, never a second d-sized buffer; {@link #eigen(int, boolean)} with
 * vectors allocates the r×d result. Cost: inserting p rows
 * costs {@code 2·p·n·d} flops (the Gram update, n the rows held); a shrink {@code 2·ℓ·(ℓ + b)·d}.
 * Not thread-safe.
 */
public final class FrequentDirections implements Serializable {

    private static final long serialVersionUID = 1L;

    /** Target size of the column block of a shrink, in bytes. */
    static final long BLOCK_BYTES = 16L << 20;

    private final long d;
    private final int ell;
    private final int capacity;
    private final DataType dataType;

    /** The buffer, ℓ + b rows as column blocks; rebuilt from the rows when read. */
    private transient ColumnBlocks blocks;

    private int rows;
    private double[][] gram;
    private double delta;
    private double absorbedMass;
    private double removedMass;
    private double absorbedRows;
    private long shrinks;
    private long shrinkNanos;
    private double shrinkFlops;

    /**
     * Creates an empty sketch.
     *
     * @param d row length (number of parameters), ≥ 1
     * @param ell ℓ, the rows kept after a shrink (at most ℓ − 1 of them nonzero), ≥ 2
     * @param extraRows b, rows added between shrinks, ≥ 1 (ℓ is the classic choice)
     * @param dataType FLOAT (half the memory) or DOUBLE (exact to double rounding)
     */
    public FrequentDirections(long d, int ell, int extraRows, DataType dataType) {
        if (d < 1) {
            throw new IllegalArgumentException("d must be >= 1, got " + d);
        }
        if (ell < 2) {
            throw new IllegalArgumentException("ell must be >= 2, got " + ell);
        }
        if (extraRows < 1) {
            throw new IllegalArgumentException("extraRows must be >= 1, got " + extraRows);
        }
        if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
            throw new IllegalArgumentException("dataType must be FLOAT or DOUBLE, got " + dataType);
        }
        this.d = d;
        this.ell = ell;
        this.capacity = ell + extraRows;
        this.dataType = dataType;
        this.gram = new double[capacity][capacity];
        this.blocks = new ColumnBlocks(d, capacity, dataType);
    }

    /** The row length d. */
    public long dimension() {
        return d;
    }

    /** ℓ. */
    public int ell() {
        return ell;
    }

    /** ℓ + b, the buffer's rows. */
    public int capacity() {
        return capacity;
    }

    /** The buffer's data type. */
    public DataType dataType() {
        return dataType;
    }

    /** Rows held now (≤ ℓ + b). */
    public int rows() {
        return rows;
    }

    /** Δ, the accumulated shrinkage (decayed): {@code AᵀA − BᵀB ≼ Δ·I}. */
    public double delta() {
        return delta;
    }

    /** {@code ‖A‖_F²}, the mass of every row absorbed (decayed). */
    public double absorbedMass() {
        return absorbedMass;
    }

    /** {@code ‖A‖_F² − ‖B‖_F²}, the mass removed by shrinks (decayed). */
    public double removedMass() {
        return removedMass;
    }

    /** {@code ‖B‖_F²}. */
    public double sketchMass() {
        double s = 0;
        for (int i = 0; i < rows; i++) {
            s += gram[i][i];
        }
        return s;
    }

    /** Rows absorbed, decayed: {@code Σ γ^age}. */
    public double absorbedRows() {
        return absorbedRows;
    }

    /** Shrinks performed. */
    public long shrinks() {
        return shrinks;
    }

    /** Wall time spent in shrinks so far, nanoseconds (for benchmarks). */
    public long shrinkNanos() {
        return shrinkNanos;
    }

    /** Floating-point operations of the shrinks' d-sized products so far ({@code 2·kept·held·d} each). */
    public double shrinkFlops() {
        return shrinkFlops;
    }

    /** Columns per storage block (blocks of about 16 MiB, so no operation needs a second d-sized buffer). */
    public long blockColumns() {
        return blocks.blockColumns();
    }

    /**
     * Rows fed a block of columns at a time, so that p×d rows need never exist whole (for instance
     * per-example gradients held as factors, {@link org.sgdnoise.gradients.GradientFactors}).
     */
    @FunctionalInterface
    public interface Rows {
        /**
         * Writes rows {@code [row0, row1)}, columns {@code [c0, c1)}, into {@code target}, a
         * (row1 − row0)×(c1 − c0) c-order view in the sketch's data type. Modified: {@code target}.
         */
        void write(int row0, int row1, long c0, long c1, INDArray target);
    }

    /**
     * Appends the rows of a p×d matrix (any data type, cast to the sketch's), shrinking whenever the
     * buffer fills. Not modified: {@code newRows}.
     */
    public void insert(INDArray newRows) {
        if (newRows.rank() != 2 || newRows.columns() != d) {
            throw new IllegalArgumentException(
                    "rows must be p x " + d + ", got shape " + Arrays.toString(newRows.shape()));
        }
        try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            long p = newRows.rows();
            long done = 0;
            while (done < p) {
                int q = (int) Math.min(capacity - rows, p - done);
                INDArray view = newRows.get(NDArrayIndex.interval(done, done + q), NDArrayIndex.all());
                // Cast only when needed, and free a cast copy at once: off-heap garbage would otherwise wait
                // for a Java GC that a small heap rarely triggers.
                INDArray r = view.dataType() == dataType ? view : view.castTo(dataType);
                append(q, (c0, c1, dst) -> dst.assign(r.get(NDArrayIndex.all(), NDArrayIndex.interval(c0, c1))));
                if (r != view && r.closeable()) {
                    r.close();
                }
                done += q;
                if (rows == capacity) {
                    shrink();
                }
            }
        }
    }

    /**
     * Appends p rows written a column block at a time by {@code source}, shrinking whenever the buffer
     * fills. Extra memory: none beyond what {@code source} uses.
     */
    public void insert(int p, Rows source) {
        if (p < 0) {
            throw new IllegalArgumentException("p must be >= 0, got " + p);
        }
        try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            int done = 0;
            while (done < p) {
                int q = Math.min(capacity - rows, p - done);
                int from = done;
                append(q, (c0, c1, dst) -> source.write(from, from + q, c0, c1, dst));
                done += q;
                if (rows == capacity) {
                    shrink();
                }
            }
        }
    }

    private void append(int q, ColumnBlocks.BlockWriter writer) {
        int n = rows + q;
        // Copy the new rows into every block, then one product per block gives both the cross terms with
        // the held rows and the new rows' own Gram: G[0:n, rows:n] += B_j[0:n]·B_j[rows:n]ᵀ, summed in double.
        double[][] add = blocks.append(rows, q, writer);
        for (int a = 0; a < n; a++) {
            for (int b = 0; b < q; b++) {
                gram[a][rows + b] = add[a][b];
                gram[rows + b][a] = add[a][b];
            }
        }
        for (int b = 0; b < q; b++) {
            absorbedMass += add[rows + b][b];
        }
        rows = n;
        absorbedRows += q;
    }

    /** Shrinks the buffer to at most ℓ − 1 nonzero rows now (normally automatic when it fills). */
    void shrink() {
        if (rows == 0) {
            return;
        }
        long t0 = System.nanoTime();
        SymmetricEigen eig = SymmetricEigen.of(gram, rows, 1.0, true);
        double[] lambda = eig.values();
        double shrinkBy = rows >= ell ? Math.max(0, lambda[ell - 1]) : 0;
        int keep = 0;
        double before = 0;
        double after = 0;
        for (int i = 0; i < rows; i++) {
            double l = Math.max(0, lambda[i]);
            before += l;
            // Sorted descending, so the kept rows are 0..keep−1; with δ = λ_ℓ at most ℓ − 1 survive.
            if (l - shrinkBy > 0) {
                after += l - shrinkBy;
                keep++;
            }
        }
        // W = diag(√((λ_i − δ)/λ_i)) U_keepᵀ maps the held rows onto the shrunk ones: B' = W·B.
        double[][] w = new double[Math.max(keep, 1)][rows];
        for (int i = 0; i < keep; i++) {
            double s = Math.sqrt((lambda[i] - shrinkBy) / lambda[i]);
            for (int j = 0; j < rows; j++) {
                w[i][j] = s * eig.vectors()[j][i];
            }
        }
        if (keep > 0) {
            blocks.leftMultiply(w, keep, rows);
        }
        for (int i = 0; i < capacity; i++) {
            Arrays.fill(gram[i], 0);
        }
        for (int i = 0; i < keep; i++) {
            gram[i][i] = lambda[i] - shrinkBy;
        }
        if (keep < rows) {
            blocks.zero(keep, rows);
        }
        shrinkFlops += 2.0 * keep * rows * d;
        rows = keep;
        delta += shrinkBy;
        removedMass += before - after;
        shrinks++;
        shrinkNanos += System.nanoTime() - t0;
    }

    /**
     * Multiplies the past by γ (exponential forgetting): B ← √γ·B, Δ ← γ·Δ, masses and counts ← γ·(…).
     *
     * @param gamma in (0, 1]; 1 does nothing
     */
    public void decay(double gamma) {
        if (!(gamma > 0 && gamma <= 1)) {
            throw new IllegalArgumentException("gamma must be in (0, 1], got " + gamma);
        }
        if (gamma == 1) {
            return;
        }
        if (rows > 0) {
            blocks.scale(rows, Math.sqrt(gamma));
        }
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < rows; j++) {
                gram[i][j] *= gamma;
            }
        }
        delta *= gamma;
        absorbedMass *= gamma;
        removedMass *= gamma;
        absorbedRows *= gamma;
    }

    /**
     * Adds another sketch of the same d: afterwards this sketch covers both streams, with
     * Δ = Δ₁ + Δ₂ + Δ_merge. Not modified: {@code other}.
     */
    public void merge(FrequentDirections other) {
        if (other.d != d) {
            throw new IllegalArgumentException("cannot merge sketches of d = " + d + " and d = " + other.d);
        }
        double massBefore = absorbedMass;
        double rowsBefore = absorbedRows;
        if (other.rows > 0) {
            insert(other.sketchRows());
        }
        // insert() counted other's sketch rows as absorbed; count what other itself absorbed instead.
        absorbedMass = massBefore + other.absorbedMass;
        absorbedRows = rowsBefore + other.absorbedRows;
        removedMass += other.removedMass;
        delta += other.delta;
    }

    /**
     * The eigen-decomposition of BᵀB: eigenvalues λ̂ (descending; the true λ_i(AᵀA) lies in
     * [λ̂_i, λ̂_i + Δ]) and, if asked, the top r unit eigenvectors as the rows of an r×d matrix.
     *
     * @param r number of eigenvectors wanted (fewer if the sketch holds fewer nonzero directions)
     */
    public Eigen eigen(int r, boolean withVectors) {
        if (rows == 0) {
            return new Eigen(new double[0], delta, null);
        }
        SymmetricEigen eig = SymmetricEigen.of(gram, rows, 1.0, true);
        double[] values = new double[rows];
        for (int i = 0; i < rows; i++) {
            values[i] = Math.max(0, eig.values()[i]);
        }
        INDArray vectors = null;
        if (withVectors) {
            // Directions of rounding-level eigenvalues are noise: keep those above a relative cutoff.
            double cutoff = values[0] * (dataType == DataType.DOUBLE ? 1e-12 : 1e-6);
            int m = 0;
            while (m < Math.min(r, rows) && values[m] > cutoff) {
                m++;
            }
            if (m > 0) {
                double[][] w = new double[m][rows];
                for (int i = 0; i < m; i++) {
                    double s = 1 / Math.sqrt(values[i]);
                    for (int j = 0; j < rows; j++) {
                        w[i][j] = s * eig.vectors()[j][i];
                    }
                }
                vectors = blocks.project(w, rows);
            }
        }
        return new Eigen(values, delta, vectors);
    }

    /** A copy of the rows held, n×d (for tests and diagnostics). */
    public INDArray sketchRows() {
        return blocks.copy(rows);
    }

    /** Bytes held by the buffer and the Gram matrix. */
    public long memoryBytes() {
        return (long) capacity * d * dataType.width() + 8L * capacity * capacity;
    }

    /**
     * Eigenvalues of the sketch with their certified intervals.
     *
     * @param values λ̂_i = λ_i(BᵀB), descending; beyond its length λ̂ = 0
     * @param delta Δ: λ_i(AᵀA) ∈ [λ̂_i, λ̂_i + Δ]
     * @param vectors top eigenvectors as rows (r×d), or null
     */
    public record Eigen(double[] values, double delta, INDArray vectors) {
        /** The upper ends λ̂_i + Δ of the intervals. */
        public double[] upper() {
            double[] u = values.clone();
            for (int i = 0; i < u.length; i++) {
                u[i] += delta;
            }
            return u;
        }
    }

    /**
     * Checks the fields of a sketch being read before its buffer is allocated: the invariants the constructor
     * guarantees, and the buffer ({@code capacity·d} values) against the stream's filter as if it were one
     * array, so that a crafted stream cannot make it allocate more than the filter allows any array.
     */
    private void checkRead(ObjectInputFilter filter) throws InvalidObjectException {
        if (d < 1
                || ell < 2
                || capacity <= ell
                || (dataType != DataType.FLOAT && dataType != DataType.DOUBLE)
                || rows < 0
                || rows > capacity
                || gram == null
                || gram.length != capacity) {
            throw new InvalidObjectException("not a valid sketch: d=" + d + " ell=" + ell + " capacity=" + capacity
                    + " dataType=" + dataType + " rows=" + rows);
        }
        for (double[] g : gram) {
            if (g == null || g.length != capacity) {
                throw new InvalidObjectException(
                        "not a valid sketch: its Gram matrix is not " + capacity + "×" + capacity);
            }
        }
        ColumnBlocks.checkAllowed(filter, dataType, capacity, d);
    }

    private void writeObject(ObjectOutputStream out) throws IOException {
        out.defaultWriteObject();
        INDArray held = sketchRows();
        for (int i = 0; i < rows; i++) {
            INDArray row = held.getRow(i);
            if (dataType == DataType.DOUBLE) {
                out.writeObject(row.toDoubleVector());
            } else {
                out.writeObject(row.toFloatVector());
            }
        }
    }

    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
        in.defaultReadObject();
        checkRead(in.getObjectInputFilter());
        blocks = new ColumnBlocks(d, capacity, dataType);
        for (int i = 0; i < rows; i++) {
            Object row = in.readObject();
            if (!(dataType == DataType.DOUBLE
                    ? row instanceof double[] dv && dv.length == d
                    : row instanceof float[] fv && fv.length == d)) {
                throw new InvalidObjectException("row " + i + " of a sketch of " + dataType + " rows of length " + d
                        + " is " + (row == null ? "null" : row.getClass().getSimpleName()));
            }
            blocks.setRow(
                    i,
                    (row instanceof double[] dv ? Nd4j.createFromArray(dv) : Nd4j.createFromArray((float[]) row))
                            .castTo(dataType));
        }
    }
}

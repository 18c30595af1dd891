package org.sgdnoise.gradients;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.sgdnoise.internal.linalg.Gram;

/**
 * The per-example gradients of one probe, kept per layer in the form that is cheapest to hold: a dense
 * layer's as the factors of its outer products (the layer's inputs {@code a_i} and output errors
 * {@code δ_i}: {@code ∇_W f_i = a_i δ_iᵀ}, {@code ∇_b f_i = δ_i}), every other layer's as explicit rows.
 *
 * <p>Inner products need no k×d block: for a dense layer {@code g_iᵀg_j = (a_iᵀa_j)(δ_iᵀδ_j) + δ_iᵀδ_j}.
 * For a convolution the analogous form sums over pairs of output positions (k²·P²·(K + C_out) work for
 * P positions and K patch entries), far more than the explicit rows (k·C_out·K·P), so convolution
 * gradients are kept explicit. Memory: {@code k·(n_in + n_out)} numbers per dense layer plus
 * {@code k·m} per explicit block of m columns. Not thread-safe; {@link #close()} frees the arrays at once.
 */
public final class GradientFactors implements AutoCloseable {

    private final int k;
    private final long d;
    private final DataType dataType;
    private final List<Part> parts;
    private int requested;
    private int[] examples;
    private INDArray owned;

    private Map<String, double[][]> layerGrams;
    private INDArray mean;

    GradientFactors(int k, long d, DataType dataType, List<Part> parts) {
        this.k = k;
        this.d = d;
        this.dataType = dataType;
        this.parts = List.copyOf(parts);
        this.requested = k;
        long covered = 0;
        for (Part p : parts) {
            if (p.rows() != k) {
                throw new IllegalStateException(p.layer + " holds " + p.rows() + " rows for " + k + " examples");
            }
            covered += p.columns();
        }
        if (covered != d) {
            throw new IllegalStateException("the parts cover " + covered + " of " + d + " columns");
        }
    }

    GradientFactors withProvenance(int requested, int[] examples) {
        this.requested = requested;
        this.examples = examples.clone();
        return this;
    }

    /** The k that was asked for; {@link #k()} is smaller when the memory budget did not allow it. */
    public int requested() {
        return requested;
    }

    /** True when the memory budget reduced k. */
    public boolean reducedByBudget() {
        return k < requested;
    }

    /** The indices of the examples used, in the batch they were drawn from, or null when not recorded. */
    public int[] examples() {
        return examples == null ? null : examples.clone();
    }

    /** The k explicit rows of a block, one part per layer range. Not copied: the block must outlive this. */
    static GradientFactors ofRows(INDArray block, ParameterLayout layout) {
        List<Part> parts = new ArrayList<>();
        for (ParameterLayout.LayerRange lr : layout.layerRanges()) {
            INDArray cols = block.get(NDArrayIndex.all(), NDArrayIndex.interval(lr.start(), lr.start() + lr.length()));
            parts.add(new Explicit(lr.layer(), lr.start(), cols, cols, block, lr.start()));
        }
        GradientFactors f = new GradientFactors((int) block.rows(), block.columns(), block.dataType(), parts);
        f.owned = block;
        return f;
    }

    /**
     * Frees the off-heap arrays now (ND4J frees them otherwise only when the Java garbage collector runs,
     * which a small heap may delay while large off-heap buffers pile up). Do not use this object after.
     */
    @Override
    public void close() {
        closeIfOwned(owned);
        closeIfOwned(mean);
        for (Part p : parts) {
            p.close();
        }
    }

    /** Outer-product blocks up to this many values are formed in one batched product and copied. */
    private static final long SMALL_OUTER = 1L << 20;

    private static void closeIfOwned(INDArray a) {
        if (a != null && a.closeable()) {
            a.close();
        }
    }

    /** The number of examples k. */
    public int k() {
        return k;
    }

    /** The number of parameters d. */
    public long d() {
        return d;
    }

    /** The data type of the gradients (the model's). */
    public DataType dataType() {
        return dataType;
    }

    /** True when some layer is held as factors rather than rows. */
    public boolean factored() {
        return parts.stream().anyMatch(p -> !(p instanceof Explicit));
    }

    /**
     * The k×k Gram matrix {@code G_ij = g_iᵀg_j} of the (uncentred) gradients, in double. Each factor's
     * products are split into a centred part (BLAS, in the model's type) and exact mean terms (see
     * {@link Gram#ofMeanSplit}), so that centring G ({@code JGJ}) keeps the digits of the noise even when the mean
     * gradient is much larger.
     */
    public double[][] gram() {
        double[][] g = new double[k][k];
        for (double[][] layer : layerGrams().values()) {
            add(g, layer);
        }
        return g;
    }

    /** Each layer's k×k Gram matrix, as {@link #gram()}, keyed by layer name in flat order. Do not modify. */
    public Map<String, double[][]> layerGrams() {
        if (layerGrams == null) {
            Map<String, double[][]> out = new LinkedHashMap<>();
            for (Part p : parts) {
                double[][] g = p.gram();
                double[][] acc = out.get(p.layer);
                if (acc == null) {
                    out.put(p.layer, g);
                } else {
                    add(acc, g);
                }
            }
            layerGrams = Collections.unmodifiableMap(out);
        }
        return layerGrams;
    }

    /** The k×d rows, c-order, in the model's data type: {@code k·d} numbers. */
    public INDArray rows() {
        INDArray block = Nd4j.createUninitialized(dataType, new long[] {k, d}, 'c'); // every column is written
        writeRows(block);
        return block;
    }

    /** Writes every part into a k×d block. Modified: {@code block}. */
    public void writeRows(INDArray block) {
        if (block.rows() != k || block.columns() != d) {
            throw new IllegalArgumentException(
                    "block must be " + k + "×" + d + ", got " + Arrays.toString(block.shape()));
        }
        write(0, k, 0, d, block);
    }

    /**
     * Writes rows {@code [row0, row1)}, columns {@code [c0, c1)} of the k×d gradients into {@code target}
     * ((row1 − row0)×(c1 − c0), rows contiguous). Modified: {@code target}.
     */
    public void write(int row0, int row1, long c0, long c1, INDArray target) {
        if (row0 < 0 || row1 > k || row0 >= row1 || c0 < 0 || c1 > d || c0 >= c1) {
            throw new IllegalArgumentException("rows [" + row0 + ", " + row1 + ") and columns [" + c0 + ", " + c1
                    + ") must lie within " + k + "×" + d);
        }
        if (target.rows() != row1 - row0 || target.columns() != c1 - c0) {
            throw new IllegalArgumentException(
                    "target must be " + (row1 - row0) + "×" + (c1 - c0) + ", got " + Arrays.toString(target.shape()));
        }
        boolean rowsContiguous = target.ordering() == 'c' && target.stride(1) == 1;
        INDArray out = rowsContiguous ? target : Nd4j.createUninitialized(dataType, target.shape(), 'c');
        for (Part p : parts) {
            p.write(row0, row1, c0, c1, out);
        }
        if (out != target) {
            target.assign(out);
            out.close();
        }
    }

    /**
     * Like {@link #write}, with every column centred on its mean over all k examples: the rows of
     * {@code g_i − ḡ}, one block of columns at a time (extra memory k·(c1 − c0) values). Modified:
     * {@code target}.
     */
    public void writeCentred(int row0, int row1, long c0, long c1, INDArray target) {
        INDArray block = Nd4j.createUninitialized(dataType, new long[] {row1 - row0, c1 - c0}, 'c');
        write(row0, row1, c0, c1, block);
        block.subiRowVector(meanRow().get(NDArrayIndex.point(0), NDArrayIndex.interval(c0, c1)));
        target.assign(block.dataType() == target.dataType() ? block : block.castTo(target.dataType()));
        block.close();
    }

    /**
     * The mean gradient ḡ, 1×d, in the model's data type, from the factors (no k×d block). Computed once;
     * do not modify.
     */
    public INDArray meanRow() {
        if (mean == null) {
            mean = Nd4j.create(dataType, 1, d);
            for (Part p : parts) {
                p.writeMean(mean);
            }
        }
        return mean;
    }

    private static void add(double[][] acc, double[][] g) {
        for (int i = 0; i < acc.length; i++) {
            for (int j = 0; j < acc.length; j++) {
                acc[i][j] += g[i][j];
            }
        }
    }

    /** One layer's share of the gradients. */
    abstract static class Part {
        final String layer;

        Part(String layer) {
            this.layer = layer;
        }

        abstract double[][] gram();

        abstract long rows();

        /** The number of the d columns it holds. */
        abstract long columns();

        /** Writes rows [row0, row1) of its columns within [c0, c1) into target (columns offset by c0). */
        abstract void write(int row0, int row1, long c0, long c1, INDArray target);

        /** Writes the mean over the k rows of its columns into {@code mean} (1×d). */
        abstract void writeMean(INDArray mean);

        abstract void close();
    }

    /** Columns [column, column + m) of every row from {@code values} (k×m), restricted to [c0, c1). */
    private static void writeExplicit(
            INDArray values, long column, int row0, int row1, long c0, long c1, INDArray target) {
        writeExplicit(values, 0, values.columns(), column, row0, row1, c0, c1, target);
    }

    /**
     * Like {@link #writeExplicit(INDArray, long, int, int, long, long, INDArray)} for a part held in columns
     * [sourceColumn, sourceColumn + m) of {@code source}. One view of the array that owns the memory: in ND4J
     * 1.0.0-M2.1 a view taken with a row offset from a column-sliced view has no buffer (data() is null).
     */
    private static void writeExplicit(
            INDArray source,
            long sourceColumn,
            long m,
            long column,
            int row0,
            int row1,
            long c0,
            long c1,
            INDArray target) {
        long lo = Math.max(c0, column);
        long hi = Math.min(c1, column + m);
        if (lo >= hi) {
            return;
        }
        target.get(NDArrayIndex.all(), NDArrayIndex.interval(lo - c0, hi - c0))
                .assign(source.get(
                        NDArrayIndex.interval(row0, row1),
                        NDArrayIndex.interval(sourceColumn + lo - column, sourceColumn + hi - column)));
    }

    /** Explicit rows: columns {@code [column, column + m)} of every gradient. */
    static final class Explicit extends Part {
        private final long column;
        private final INDArray values;
        private final INDArray owner;
        private final INDArray source;
        private final long sourceColumn;

        Explicit(String layer, long column, INDArray values) {
            this(layer, column, values, values);
        }

        /** {@code owner}: the array that holds {@code values}' memory (values may be a view of it). */
        Explicit(String layer, long column, INDArray values, INDArray owner) {
            this(layer, column, values, owner, values, 0);
        }

        /** {@code values} are columns [sourceColumn, sourceColumn + m) of {@code source}, which rows are read from. */
        Explicit(String layer, long column, INDArray values, INDArray owner, INDArray source, long sourceColumn) {
            super(layer);
            this.column = column;
            this.values = values;
            this.owner = owner;
            this.source = source;
            this.sourceColumn = sourceColumn;
        }

        @Override
        double[][] gram() {
            return Gram.ofMeanSplit(values);
        }

        @Override
        long rows() {
            return values.rows();
        }

        @Override
        long columns() {
            return values.columns();
        }

        @Override
        void write(int row0, int row1, long c0, long c1, INDArray target) {
            writeExplicit(source, sourceColumn, values.columns(), column, row0, row1, c0, c1, target);
        }

        @Override
        void writeMean(INDArray mean) {
            mean.get(NDArrayIndex.point(0), NDArrayIndex.interval(column, column + values.columns()))
                    .assign(values.mean(0));
        }

        @Override
        void close() {
            closeIfOwned(owner);
        }
    }

    /**
     * A dense layer's weights (n_in×n_out, f-order in the flat vector, from column {@code wColumn}) and
     * bias (from {@code bColumn}, or -1 when it has none or it is excluded) as factors.
     */
    static final class Outer extends Part {
        private final INDArray a;
        private final INDArray delta;
        private final long wColumn;
        private final long bColumn;
        private final boolean rowMajor;

        Outer(String layer, INDArray a, INDArray delta, long wColumn, long bColumn) {
            this(layer, a, delta, wColumn, bColumn, false);
        }

        /** As above; {@code rowMajor}: W is c-order in the flat vector (SameDiff's), entry i·n_out + o. */
        Outer(String layer, INDArray a, INDArray delta, long wColumn, long bColumn, boolean rowMajor) {
            super(layer);
            this.rowMajor = rowMajor;
            if (wColumn < 0) {
                throw new IllegalArgumentException(layer + ": the weights must be trained");
            }
            this.a = a.ordering() == 'c' && !a.isView() ? a : a.dup('c');
            this.delta = delta.ordering() == 'c' && !delta.isView() ? delta : delta.dup('c');
            this.wColumn = wColumn;
            this.bColumn = bColumn;
        }

        /**
         * The factored fast path, {@code G_ij = (a_iᵀa_j + 1)(δ_iᵀδ_j)} (the 1 only with a bias): two small
         * Grams through {@link Gram#ofMeanSplit} instead of one k×(n_in·n_out) product, so it stays here
         * rather than in the shared helper.
         */
        @Override
        double[][] gram() {
            double[][] aa = Gram.ofMeanSplit(a);
            double[][] gd = Gram.ofMeanSplit(delta);
            int k = aa.length;
            double[][] g = new double[k][k];
            double b = bColumn >= 0 ? 1 : 0;
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < k; j++) {
                    g[i][j] = (aa[i][j] + b) * gd[i][j];
                }
            }
            return g;
        }

        @Override
        long rows() {
            return a.rows();
        }

        @Override
        long columns() {
            return a.columns() * delta.columns() + (bColumn >= 0 ? delta.columns() : 0);
        }

        @Override
        void write(int row0, int row1, long c0, long c1, INDArray target) {
            long nIn = a.columns();
            long nOut = delta.columns();
            if (bColumn >= 0) {
                writeExplicit(delta, bColumn, row0, row1, c0, c1, target);
            }
            // W is f-order n_in×n_out in the flat vector: entry f = i + o·n_in is a_i·δ_o. Row-major (c-order) W
            // is the f-order Wᵀ, entry o + i·n_out: the same loop with the factors' roles swapped.
            long f = Math.max(c0 - wColumn, 0);
            long fEnd = Math.min(c1 - wColumn, nIn * nOut);
            if (f >= fEnd) {
                return;
            }
            INDArray aC = rowMajor ? delta : a;
            INDArray dC = rowMajor ? a : delta;
            nIn = aC.columns();
            while (f < fEnd) {
                long o = f / nIn;
                long i0 = f % nIn;
                long t0 = wColumn + f - c0;
                if (i0 == 0 && f + nIn <= fEnd) {
                    // Whole columns o..o1−1 of W: per row, the c-order (o1−o)×n_in matrix δ_r[o:o1] a_rᵀ.
                    long o1 = fEnd / nIn;
                    long len = (o1 - o) * nIn;
                    if ((long) (row1 - row0) * len <= SMALL_OUTER) {
                        // Small: one batched product for all rows, then one copy (fewer, larger ops).
                        INDArray dr = dC.get(NDArrayIndex.interval(row0, row1), NDArrayIndex.interval(o, o1))
                                .dup('c')
                                .reshape('c', row1 - row0, o1 - o, 1);
                        INDArray ar = aC.get(NDArrayIndex.interval(row0, row1), NDArrayIndex.all())
                                .reshape('c', row1 - row0, 1, nIn);
                        INDArray prod = Nd4j.matmul(dr, ar);
                        target.get(NDArrayIndex.all(), NDArrayIndex.interval(t0, t0 + len))
                                .assign(prod.reshape('c', row1 - row0, len));
                        prod.close();
                        dr.close();
                        f = o1 * nIn;
                        continue;
                    }
                    // Large: per row, one BLAS product written in place (no k×len temporary).
                    for (int r = row0; r < row1; r++) {
                        // enforceView: a copy would take the product and leave the target unwritten.
                        INDArray seg = target.getRow(r - row0)
                                .get(NDArrayIndex.interval(t0, t0 + len))
                                .reshape('c', true, o1 - o, nIn);
                        INDArray dr = dC.get(NDArrayIndex.point(r), NDArrayIndex.interval(o, o1))
                                .reshape(o1 - o, 1);
                        Nd4j.gemm(dr, aC.getRow(r).reshape(1, nIn), seg, false, false, 1.0, 0.0);
                    }
                    f = o1 * nIn;
                } else {
                    // Part of column o: a[:, i0:i1] scaled by δ[:, o].
                    long i1 = Math.min(nIn, i0 + (fEnd - f));
                    INDArray part = aC.get(NDArrayIndex.interval(row0, row1), NDArrayIndex.interval(i0, i1))
                            .mulColumnVector(dC.get(NDArrayIndex.interval(row0, row1), NDArrayIndex.point(o))
                                    .reshape(row1 - row0, 1));
                    target.get(NDArrayIndex.all(), NDArrayIndex.interval(t0, t0 + (i1 - i0)))
                            .assign(part);
                    f += i1 - i0;
                }
            }
        }

        @Override
        void writeMean(INDArray mean) {
            long nIn = a.columns();
            long nOut = delta.columns();
            // mean of a_r δ_rᵀ = aᵀδ / k, flattened in W's order.
            INDArray w = a.transpose().mmul(delta).divi(a.rows());
            mean.get(NDArrayIndex.point(0), NDArrayIndex.interval(wColumn, wColumn + nIn * nOut))
                    .assign(Nd4j.toFlattened(rowMajor ? 'c' : 'f', w).reshape(nIn * nOut));
            if (bColumn >= 0) {
                mean.get(NDArrayIndex.point(0), NDArrayIndex.interval(bColumn, bColumn + nOut))
                        .assign(delta.mean(0));
            }
        }

        @Override
        void close() {
            closeIfOwned(a);
            closeIfOwned(delta);
        }
    }
}

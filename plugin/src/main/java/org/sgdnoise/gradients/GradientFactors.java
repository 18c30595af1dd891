package org.sgdnoise.gradients;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The per-example gradients of one probe, kept per layer in the form that is cheapest to hold: a dense
 * layer's as the factors of its outer products (the layer's inputs {@code a_i} and output errors
 * {@code δ_i}: {@code ∇_W f_i = a_i δ_iᵀ}, {@code ∇_b f_i = δ_i}), every other layer's as explicit rows.
 *
 * <p>Inner products need no k×d block: for a dense layer {@code g_iᵀg_j = (a_iᵀa_j)(δ_iᵀδ_j) + δ_iᵀδ_j}.
 * For a convolution the analogous form sums over pairs of output positions (k²·P²·(K + C_out) work for
 * P positions and K patch entries), far more than the explicit rows (k·C_out·K·P), so convolution
 * gradients are kept explicit. Memory: {@code k·(n_in + n_out)} numbers per dense layer plus
 * {@code k·m} per explicit block of m columns.
 */
public final class GradientFactors {

    private final int k;
    private final long d;
    private final DataType dataType;
    private final List<Part> parts;
    private int requested;
    private int[] examples;

    GradientFactors(int k, long d, DataType dataType, List<Part> parts) {
        this.k = k;
        this.d = d;
        this.dataType = dataType;
        this.parts = List.copyOf(parts);
        this.requested = k;
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
            parts.add(new Explicit(lr.layer(), lr.start(), cols));
        }
        return new GradientFactors((int) block.rows(), block.columns(), block.dataType(), parts);
    }

    /** The number of examples k. */
    public int k() {
        return k;
    }

    /** The number of parameters d. */
    public long d() {
        return d;
    }

    /** True when some layer is held as factors rather than rows. */
    public boolean factored() {
        return parts.stream().anyMatch(p -> p instanceof Outer);
    }

    /** The k×k Gram matrix {@code G_ij = g_iᵀg_j} of the (uncentred) gradients, in double. */
    public double[][] gram() {
        double[][] g = new double[k][k];
        for (double[][] layer : layerGrams().values()) {
            add(g, layer);
        }
        return g;
    }

    /** Each layer's k×k Gram matrix, in double, keyed by layer name in flat order. */
    public Map<String, double[][]> layerGrams() {
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
        return out;
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
            throw new IllegalArgumentException("block must be " + k + "×" + d + ", got "
                    + java.util.Arrays.toString(block.shape()));
        }
        for (Part p : parts) {
            p.write(block);
        }
    }

    private static void add(double[][] acc, double[][] g) {
        for (int i = 0; i < acc.length; i++) {
            for (int j = 0; j < acc.length; j++) {
                acc[i][j] += g[i][j];
            }
        }
    }

    /**
     * The Gram matrix {@code R Rᵀ} of a matrix's rows, computed in its data type and returned in double.
     * Not modified: {@code rows}.
     */
    public static double[][] gramOf(INDArray rows) {
        INDArray g = rows.mmul(rows.transpose());
        double[][] out = doubleMatrix(g);
        g.close();
        return out;
    }

    /**
     * A matrix as {@code double[rows][columns]}, by one bulk copy ({@code INDArray.toDoubleMatrix()} reads
     * element by element: tens of milliseconds at 256×256). Not modified: {@code m}.
     */
    public static double[][] doubleMatrix(INDArray m) {
        INDArray c = m.castTo(DataType.DOUBLE);
        boolean copy = c.ordering() != 'c' || c.isView() || c.data().length() != c.length();
        INDArray dense = copy ? c.dup('c') : c;
        double[] flat = dense.data().asDouble();
        int rows = (int) m.rows();
        int cols = (int) m.columns();
        double[][] out = new double[rows][];
        for (int i = 0; i < rows; i++) {
            out[i] = java.util.Arrays.copyOfRange(flat, i * cols, (i + 1) * cols);
        }
        if (copy) {
            dense.close();
        }
        if (c != m) {
            c.close();
        }
        return out;
    }

    /** One layer's share of the gradients. */
    abstract static class Part {
        final String layer;

        Part(String layer) {
            this.layer = layer;
        }

        abstract double[][] gram();

        abstract void write(INDArray block);
    }

    /** Explicit rows: columns {@code [column, column + m)} of every gradient. */
    static final class Explicit extends Part {
        private final long column;
        private final INDArray values;

        Explicit(String layer, long column, INDArray values) {
            super(layer);
            this.column = column;
            this.values = values;
        }

        @Override
        double[][] gram() {
            return gramOf(values);
        }

        @Override
        void write(INDArray block) {
            block.get(NDArrayIndex.all(), NDArrayIndex.interval(column, column + values.columns())).assign(values);
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

        Outer(String layer, INDArray a, INDArray delta, long wColumn, long bColumn) {
            super(layer);
            this.a = a;
            this.delta = delta;
            this.wColumn = wColumn;
            this.bColumn = bColumn;
        }

        @Override
        double[][] gram() {
            double[][] dd = gramOf(delta);
            if (wColumn < 0) {
                return dd;
            }
            double[][] aa = gramOf(a);
            int k = aa.length;
            double[][] g = new double[k][k];
            double b = bColumn >= 0 ? 1 : 0;
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < k; j++) {
                    g[i][j] = (aa[i][j] + b) * dd[i][j];
                }
            }
            return g;
        }

        @Override
        void write(INDArray block) {
            long nIn = a.columns();
            long nOut = delta.columns();
            if (wColumn >= 0) {
                INDArray aC = a.dup('c');
                INDArray dC = delta.dup('c');
                for (int r = 0; r < a.rows(); r++) {
                    // Row r's W columns hold a_r δ_rᵀ as an f-order n_in×n_out matrix, which is the c-order
                    // n_out×n_in matrix δ_r a_rᵀ (measured faster to write than the f-order form).
                    INDArray target = block.getRow(r).get(NDArrayIndex.interval(wColumn, wColumn + nIn * nOut))
                            .reshape('c', nOut, nIn);
                    Nd4j.gemm(dC.getRow(r).reshape(nOut, 1), aC.getRow(r).reshape(1, nIn), target, false, false, 1.0, 0.0);
                }
            }
            if (bColumn >= 0) {
                block.get(NDArrayIndex.all(), NDArrayIndex.interval(bColumn, bColumn + nOut)).assign(delta);
            }
        }
    }
}

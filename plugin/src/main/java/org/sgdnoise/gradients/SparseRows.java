package org.sgdnoise.gradients;

import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * An embedding table's per-example gradients ({@code W}, V×n, f-order in the flat vector from column
 * {@code wColumn}), held sparsely: example i's gradient is non-zero only in the rows of its tokens,
 * {@code ∇_W f_i = Σ_t e_{tok_{i,t}} δ_{i,t}ᵀ} (positions with the same token summed).
 *
 * <p>Inner products use the token coincidences, {@code ⟨g_i, g_j⟩ = Σ_{t,s}[tok_{i,t} = tok_{j,s}]
 * δ_{i,t}·δ_{j,s}}, computed per distinct token from the summed rows, in double: O(Σ_v n_v²·n) for n_v
 * examples holding token v, never a k×(V·n) block. {@link #write} fills only the requested columns.
 * Memory: the summed rows, in double (at most k·T·n values).
 */
final class SparseRows extends GradientFactors.Part {

    /** Blocks of at most this many values are filled in one array and copied at once. */
    private static final long CHUNK = 1L << 20;

    private final long wColumn;
    private final long vocab;
    private final int width;
    private final int k;
    private final int[][] tokens; // per example: its distinct tokens, ascending
    private final double[][] sums; // per example: the summed δ of each of its tokens, tokens.length × width

    /**
     * Creates the part. Not modified: {@code delta}.
     *
     * @param tokens k×T token indices, each in [0, vocab)
     * @param delta the errors at the layer's pre-activations, [k, T, n] (masked positions already zero)
     */
    SparseRows(String layer, long wColumn, long vocab, int[][] tokens, INDArray delta) {
        super(layer);
        this.wColumn = wColumn;
        this.vocab = vocab;
        this.k = tokens.length;
        this.width = (int) delta.size(2);
        int steps = (int) delta.size(1);
        double[] d = delta.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)
                .dup('c')
                .data()
                .asDouble();
        this.tokens = new int[k][];
        this.sums = new double[k][];
        for (int i = 0; i < k; i++) {
            int[] distinct = Arrays.stream(tokens[i]).distinct().sorted().toArray();
            double[] s = new double[distinct.length * width];
            for (int t = 0; t < steps; t++) {
                int slot = Arrays.binarySearch(distinct, tokens[i][t]);
                int from = (i * steps + t) * width;
                for (int o = 0; o < width; o++) {
                    s[slot * width + o] += d[from + o];
                }
            }
            this.tokens[i] = distinct;
            this.sums[i] = s;
        }
    }

    @Override
    double[][] gram() {
        // Every (example, token) entry, grouped by token: only entries of the same token meet.
        int n = 0;
        for (int[] t : tokens) {
            n += t.length;
        }
        long[] keys = new long[n];
        int e = 0;
        for (int i = 0; i < k; i++) {
            for (int s = 0; s < tokens[i].length; s++) {
                // token in the high bits, then example, then slot: sorting groups by token.
                keys[e++] = ((long) tokens[i][s] << 40) | ((long) i << 20) | s;
            }
        }
        Arrays.sort(keys);
        double[][] g = new double[k][k];
        int start = 0;
        while (start < n) {
            int end = start + 1;
            while (end < n && keys[end] >>> 40 == keys[start] >>> 40) {
                end++;
            }
            for (int a = start; a < end; a++) {
                int ia = (int) ((keys[a] >>> 20) & 0xFFFFF);
                int sa = (int) (keys[a] & 0xFFFFF);
                for (int b = a; b < end; b++) {
                    int ib = (int) ((keys[b] >>> 20) & 0xFFFFF);
                    int sb = (int) (keys[b] & 0xFFFFF);
                    double dot = 0;
                    for (int o = 0; o < width; o++) {
                        dot += sums[ia][sa * width + o] * sums[ib][sb * width + o];
                    }
                    g[ia][ib] += dot;
                    if (ia != ib) {
                        g[ib][ia] += dot;
                    }
                }
            }
            start = end;
        }
        return g;
    }

    @Override
    long rows() {
        return k;
    }

    @Override
    long columns() {
        return vocab * width;
    }

    @Override
    void write(int row0, int row1, long c0, long c1, INDArray target) {
        long lo = Math.max(c0, wColumn);
        long hi = Math.min(c1, wColumn + vocab * width);
        if (lo >= hi) {
            return;
        }
        int span = (int) (hi - lo);
        int perChunk = (int) Math.max(1, CHUNK / span);
        for (int r = row0; r < row1; r += perChunk) {
            int rEnd = Math.min(row1, r + perChunk);
            double[] buf = new double[(rEnd - r) * span];
            for (int i = r; i < rEnd; i++) {
                fill(i, lo, hi, buf, (i - r) * span);
            }
            INDArray chunk = Nd4j.create(buf, new long[] {rEnd - r, span}, 'c');
            target.get(NDArrayIndex.interval(r - row0, rEnd - row0), NDArrayIndex.interval(lo - c0, hi - c0))
                    .assign(chunk.castTo(target.dataType()));
            chunk.close();
        }
    }

    /** Example i's entries with flat column in [lo, hi), into buf from offset (the rest left zero). */
    private void fill(int i, long lo, long hi, double[] buf, int offset) {
        for (int s = 0; s < tokens[i].length; s++) {
            long v = tokens[i][s];
            // W is f-order V×n: entry (v, o) is column wColumn + v + o·V.
            long oFirst = Math.max(0, ceilDiv(lo - wColumn - v, vocab));
            for (long o = oFirst; o < width; o++) {
                long col = wColumn + v + o * vocab;
                if (col >= hi) {
                    break;
                }
                buf[offset + (int) (col - lo)] = sums[i][s * width + (int) o];
            }
        }
    }

    private static long ceilDiv(long a, long b) {
        return a <= 0 ? 0 : (a + b - 1) / b;
    }

    @Override
    void writeMean(INDArray mean) {
        double[] m = new double[(int) (vocab * width)];
        for (int i = 0; i < k; i++) {
            for (int s = 0; s < tokens[i].length; s++) {
                long v = tokens[i][s];
                for (int o = 0; o < width; o++) {
                    m[(int) (v + o * vocab)] += sums[i][s * width + o] / k;
                }
            }
        }
        INDArray row = Nd4j.create(m, new long[] {1, m.length}, 'c');
        mean.get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(wColumn, wColumn + m.length))
                .assign(row.castTo(mean.dataType()));
        row.close();
    }

    @Override
    void close() {
        // Java arrays only.
    }
}

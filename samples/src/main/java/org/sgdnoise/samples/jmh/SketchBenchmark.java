package org.sgdnoise.samples.jmh;

import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.sgdnoise.sketch.DiffusionSketch;
import org.sgdnoise.sketch.FrequentDirections;

/**
 * The Frequent Directions sketch on seeded Gaussian float32 rows of length d, with b = ℓ (a buffer of 2ℓ
 * rows, as the listeners use it):
 * <ul>
 *   <li>{@code insert}: k rows into a sketch holding ℓ − 1 rows (as after a shrink), without a shrink:
 *       appending and the Gram update, {@code 2·k·n·d} flops;
 *   <li>{@code shrink}: one row into a sketch holding 2ℓ − 1 rows, so that the buffer fills and shrinks:
 *       the eigendecomposition of the 2ℓ×2ℓ Gram matrix and the {@code 2·ℓ·2ℓ·d} product;
 *   <li>{@code addProbe}: one probe of k centred rows into a {@link DiffusionSketch} in steady state (decay,
 *       insert and, every ℓ/k probes or so, a shrink): the amortised cost per probe.
 * </ul>
 * The sketches of {@code insert} and {@code shrink} are rebuilt before every call, not timed; their
 * buffers are 2ℓ·d·4 bytes (51 MB at d = 10⁵, ℓ = 64).
 *
 * <p>How to run:
 * <pre>{@code
 * OMP_NUM_THREADS=1 java -cp samples/target/sgdnoise-samples.jar org.openjdk.jmh.Main \
 *     SketchBenchmark -p d=100000,1000000 -p ell=64 -p k=64 -f 1 -wi 3 -i 5
 * }</pre>
 * The memory and GFLOP/s figures of docs/BENCHMARKS.md stay with the {@code bench-sketch} command.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class SketchBenchmark {

    /** The row length (number of parameters). */
    @Param({"100000"})
    public long d;

    /** ℓ, the rows kept after a shrink. */
    @Param({"64"})
    public int ell;

    /** Rows per insert, one probe's k; at most ℓ. */
    @Param({"64"})
    public int k;

    private INDArray probe;
    private INDArray row;
    private INDArray prefix;
    private INDArray full;
    private DiffusionSketch steady;

    /** Seeded rows: one probe, one row, and the rows that bring a sketch to ℓ − 1 and to 2ℓ − 1 rows. */
    @Setup(Level.Trial)
    public void setUp() {
        if (k > ell) {
            throw new IllegalArgumentException(
                    "k must be <= ell for insert without a shrink, got k " + k + " and ell " + ell);
        }
        Nd4j.getRandom().setSeed(11);
        probe = Nd4j.randn(DataType.FLOAT, k, d);
        row = Nd4j.randn(DataType.FLOAT, 1, d);
        full = Nd4j.randn(DataType.FLOAT, 2L * ell - 1, d);
        prefix = full.get(NDArrayIndex.interval(0, ell - 1), NDArrayIndex.all()).dup();
        steady = new DiffusionSketch(d, ell, 20, DiffusionSketch.Centring.PER_PROBE, DataType.FLOAT);
        for (int i = 0; i < 2 * ell / k + 1; i++) { // past the first shrink
            steady.addProbe(probe, null);
        }
    }

    /** A sketch holding ℓ − 1 rows, for {@code insert}. */
    @State(Scope.Thread)
    public static class AfterShrink {
        FrequentDirections sketch;

        /** Builds it (not timed). */
        @Setup(Level.Invocation)
        public void fill(SketchBenchmark b) {
            sketch = new FrequentDirections(b.d, b.ell, b.ell, DataType.FLOAT);
            sketch.insert(b.prefix);
        }
    }

    /** A sketch one row short of full, for {@code shrink}. */
    @State(Scope.Thread)
    public static class NearlyFull {
        FrequentDirections sketch;

        /** Builds it (not timed). */
        @Setup(Level.Invocation)
        public void fill(SketchBenchmark b) {
            sketch = new FrequentDirections(b.d, b.ell, b.ell, DataType.FLOAT);
            sketch.insert(b.full);
        }
    }

    /** Inserts k rows without a shrink; returns the rows held. */
    @Benchmark
    public int insert(AfterShrink s) {
        s.sketch.insert(probe);
        return s.sketch.rows();
    }

    /** Inserts the row that fills the buffer, so that it shrinks; returns Δ. */
    @Benchmark
    public double shrink(NearlyFull s) {
        s.sketch.insert(row);
        return s.sketch.delta();
    }

    /** Adds one probe of k rows to a diffusion sketch in steady state; returns its gradient count. */
    @Benchmark
    public double addProbe() {
        steady.addProbe(probe, null);
        return steady.gradients();
    }
}

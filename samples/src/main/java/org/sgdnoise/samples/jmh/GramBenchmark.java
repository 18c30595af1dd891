package org.sgdnoise.samples.jmh;

import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.sgdnoise.gradients.GradientFactors;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.internal.linalg.Gram;

/**
 * The k×k Gram matrix of k per-example gradients of the 784-512-10 MLP: from the per-layer factors
 * ({@code fromFactors}: per layer a centred product of the layer inputs and of the output errors, combined
 * as (aᵢᵀaⱼ + 1)(δᵢᵀδⱼ), in double) against the product of the materialised k×d float rows
 * ({@code fromRows}). Computing the factors and the rows is not timed: a {@link GradientFactors} keeps its
 * Gram matrix once computed, so every {@code fromFactors} call gets fresh factors in an untimed
 * per-invocation set-up (a few milliseconds, far above JMH's limit for per-invocation fixtures).
 *
 * <p>How to run:
 * <pre>{@code
 * OMP_NUM_THREADS=1 java -cp samples/target/sgdnoise-samples.jar org.openjdk.jmh.Main \
 *     GramBenchmark -p k=64,256 -f 1 -wi 3 -i 5
 * }</pre>
 *
 * <p>Parameter: {@code k}, the number of examples. The rows are k×407,050 floats (104 MB at k = 64, 417 MB at
 * k = 256).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class GramBenchmark {

    /** The number of examples. */
    @Param({"64", "256"})
    public int k;

    private MultiLayerNetwork net;
    private PerExampleGradients engine;
    private ProbeBatch batch;
    private int[] idx;
    private INDArray rows;

    /** Builds the MLP, k seeded examples and their k×d rows. */
    @Setup(Level.Trial)
    public void setUp() {
        net = BenchmarkModels.wideMlp(42);
        engine = new PerExampleGradients(ProbeMode.EVAL, 4L << 30);
        batch = ProbeBatch.of(BenchmarkModels.examples(k, 7));
        idx = BenchmarkModels.first(k);
        try (GradientFactors f = engine.factors(net, batch, idx)) {
            rows = f.rows();
        }
    }

    /** Fresh factors of the same examples for each {@code fromFactors} call. */
    @State(Scope.Thread)
    public static class Fresh {
        GradientFactors factors;

        /** Computes the factors (not timed). */
        @Setup(Level.Invocation)
        public void compute(GramBenchmark b) {
            factors = b.engine.factors(b.net, b.batch, b.idx);
        }

        /** Frees them. */
        @TearDown(Level.Invocation)
        public void free() {
            factors.close();
        }
    }

    /** The Gram matrix from the per-layer factors. */
    @Benchmark
    public double[][] fromFactors(Fresh fresh) {
        return fresh.factors.gram();
    }

    /** The Gram matrix as the product of the materialised rows, read back in double. */
    @Benchmark
    public double[][] fromRows() {
        return Gram.of(rows);
    }
}

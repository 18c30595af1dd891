package org.sgdnoise.samples.jmh;

import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.gradient.Gradient;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;
import org.sgdnoise.gradients.GradientBlock;
import org.sgdnoise.gradients.GradientFactors;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.samples.bench.GradientTiming;

/**
 * Per-example gradients of k examples through the batched path, as k×d rows ({@code rows}) and as per-layer
 * factors ({@code factors}, what a probe uses), against DL4J's batched gradient on the same k examples
 * ({@code dl4jBatchedGradient}, one forward and backward pass: the cost the targets are stated against).
 * One operation is one probe of k examples.
 *
 * <p>How to run (a quick check; use more forks and iterations for figures):
 * <pre>{@code
 * OMP_NUM_THREADS=1 java -cp samples/target/sgdnoise-samples.jar org.openjdk.jmh.Main \
 *     PerExampleGradientsBenchmark -p model=mlp,lenet -p k=16,64 -f 1 -wi 3 -i 5
 * OMP_NUM_THREADS=1 java -cp samples/target/sgdnoise-samples.jar org.openjdk.jmh.Main \
 *     PerExampleGradientsBenchmark -p model=mlp64,lenet,resnet,lstm,embedding -p k=64 -f 1 -wi 3 -i 5
 * }</pre>
 *
 * <p>Parameters: {@code model} is {@code mlp} (784-512-10, dense layers, 407,050 parameters) or one of the five
 * user models of the {@code bench} matrix, built by {@code UserModels}: {@code mlp64} (784-64-10), {@code lenet}
 * (the paper's small LeNet, convolutions and BatchNorm, 13,338 trainable parameters), {@code resnet} (the
 * residual ComputationGraph), {@code lstm} (masked LSTM), {@code embedding} (embedding + LastTimeStep(LSTM));
 * {@code k} the number of examples. Inputs are seeded synthetic 28×28 images, or the user models' masked
 * synthetic sequences for {@code lstm} and {@code embedding}; the network is untrained (its cost does not depend
 * on the weights). The resnet, lstm and embedding models take the exact path (one example at a time), seconds
 * per operation at k = 64: filter with {@code -p model=...} for quick runs. The default run (6 models × 2 k ×
 * 3 benchmarks) takes 10 to 15 minutes per fork.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class PerExampleGradientsBenchmark {

    /** The network: {@code mlp} (784-512-10) or a user model: mlp64, lenet, resnet, lstm, embedding. */
    @Param({"mlp", "mlp64", "lenet", "resnet", "lstm", "embedding"})
    public String model;

    /** The number of examples in a probe. */
    @Param({"16", "64"})
    public int k;

    private Model net;
    private Model copy;
    private PerExampleGradients engine;
    private ProbeBatch batch;
    private DataSet examples;
    private int[] idx;

    /** Builds the network, a copy for DL4J's own gradient, and k seeded examples. */
    @Setup
    public void setUp() {
        net = BenchmarkModels.model(model, 42);
        copy = BenchmarkModels.model(model, 42); // not clone(): a ComputationGraph's clone shares its listeners
        engine = new PerExampleGradients(ProbeMode.EVAL, PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES);
        examples = BenchmarkModels.examples(model, k, 7);
        batch = ProbeBatch.of(examples);
        idx = BenchmarkModels.first(k);
    }

    /** The k×d per-example gradients, written out as rows. */
    @Benchmark
    public void rows(Blackhole bh) {
        GradientBlock block = engine.compute(net, batch, idx);
        INDArray rows = block.rows();
        bh.consume(rows.getDouble(0, 0));
        rows.close();
    }

    /** The same gradients held as per-layer factors (no k×d block for dense layers). */
    @Benchmark
    public void factors(Blackhole bh) {
        GradientFactors f = engine.factors(net, batch, idx);
        bh.consume(f.d());
        f.close();
    }

    /** DL4J's gradient of the k examples' summed loss: one batched forward and backward pass, masks included. */
    @Benchmark
    public Gradient dl4jBatchedGradient() {
        GradientTiming.dl4jGradient(copy, examples);
        return copy.gradient();
    }
}

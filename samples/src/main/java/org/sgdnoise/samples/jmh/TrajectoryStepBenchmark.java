package org.sgdnoise.samples.jmh;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.sgdnoise.samples.bench.UserModels;
import org.sgdnoise.trajectory.TrajectoryRecorder;

/**
 * One recorded trajectory step against one training iteration of the same model, the 784-64-10 MLP of the
 * user-model matrix (d = 50,890, batch 64): {@code record} is {@link TrajectoryRecorder#record} at the listener's
 * defaults (m = 16 random directions), {@code trainingIteration} one {@code fit} on a minibatch. Their ratio is
 * the cost of recording every iteration. {@code projectOne} is the step's projection alone (one GEMV of the 16 × d
 * double basis on θ), {@code projectSixteen} the same 16 directions applied to 16 steps' θ at once by one GEMM: its
 * time over 16 is what a step's projection costs at best when the basis is read once per 16 steps (the
 * arithmetic floor on this machine, where the GEMV is bound by memory).
 *
 * <pre>{@code
 * OMP_NUM_THREADS=1 java -cp samples/target/sgdnoise-samples.jar org.openjdk.jmh.Main TrajectoryStepBenchmark
 * }</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class TrajectoryStepBenchmark {

    private MultiLayerNetwork net;
    private List<DataSet> batches;
    private TrajectoryRecorder recorder;
    private int iteration;
    private int next;
    private INDArray basis;
    private INDArray theta;
    private INDArray thetas;
    private INDArray y;
    private INDArray ys;

    /** The MLP on synthetic images, and a recorder with its basis taken. */
    @Setup(Level.Trial)
    public void setUp() {
        net = (MultiLayerNetwork) UserModels.build("mlp", 42);
        batches = UserModels.batches("mlp", BenchmarkModels.examples(640, 3), 10, 42);
        recorder = new TrajectoryRecorder(
                new TrajectoryRecorder.Settings(16, TrajectoryRecorder.Basis.RANDOM, 0, 10_000, 12345L));
        recorder.record(net, iteration++, 0, 0, () -> null);
        long d = net.numParams();
        basis = Nd4j.rand(DataType.DOUBLE, 16, d);
        theta = net.params().castTo(DataType.DOUBLE).reshape(1, d);
        thetas = Nd4j.rand(DataType.DOUBLE, 16, d);
        y = Nd4j.create(DataType.DOUBLE, new long[] {16, 1}, 'f');
        ys = Nd4j.create(DataType.DOUBLE, new long[] {16, 16}, 'f');
    }

    /** The projection of one step: y = Bθ, one GEMV into a preallocated vector, as {@code record} does. */
    @Benchmark
    public INDArray projectOne() {
        return Nd4j.gemm(basis, theta, y, false, true, 1.0, 0.0);
    }

    /** The projection of 16 steps at once, Y = BΘᵀ by one GEMM (divide by 16 for a step). */
    @Benchmark
    public INDArray projectSixteen() {
        return Nd4j.gemm(basis, thetas, ys, false, true, 1.0, 0.0);
    }

    /** One recorded step (the parameters do not change between calls; the cost does not depend on them). */
    @Benchmark
    public Object record() {
        return recorder.record(net, iteration++, 0, 0, () -> null);
    }

    /** One training iteration on the next minibatch. */
    @Benchmark
    public void trainingIteration() {
        net.fit(batches.get(next++ % batches.size()));
    }
}

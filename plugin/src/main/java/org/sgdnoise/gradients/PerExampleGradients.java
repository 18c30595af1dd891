package org.sgdnoise.gradients;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.gradients.internal.ProbeNetworks;
import org.sgdnoise.gradients.internal.RandomStateGuard;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-example loss gradients of a DL4J model, computed on a private probe network.
 *
 * <p>Two paths give the same numbers (to float rounding): the <b>batched</b> path (EVAL mode, a
 * MultiLayerNetwork or ComputationGraph of dense, output, 2-D convolution, BatchNorm, LSTM, GravesLSTM, SimpleRnn,
 * LastTimeStep, Bidirectional, RnnOutputLayer, embedding and parameter-free layers and common parameter-free graph
 * vertices, masks where those layers take them, none in a graph) makes one forward and backward pass over the k
 * examples and forms each example's gradient from the layers' inputs and errors ({@link BatchedGradients},
 * {@link GraphBatchedGradients}); the <b>exact</b> path runs one example at a time
 * through DL4J's own backward pass and serves everything else. Which path a model takes is logged once
 * (INFO, with the layers and the reason when it is the exact path) and reported by {@link #batched()}.
 *
 * <p>For each selected example i the result holds {@code ∇f_i(θ)}: the gradient of that example's loss
 * alone with respect to every trained parameter (BatchNormalization running statistics and frozen layers
 * excluded, see {@link ParameterLayout}), before the updater's 1/b and regularisation. Their sum over a
 * minibatch equals DL4J's raw minibatch gradient when the model has no batch-coupled layers.
 *
 * <p>The training model is never modified: the probe network is separate (it reads the model's parameter
 * array in place, never writing it, so no parameters are copied per call), and ND4J's thread-local random
 * state is saved and restored around each call, so training with probes is bit-identical to training
 * without.
 *
 * <p>Memory: a call over k examples of a model with d trained parameters needs {@code k·(d + t)·w} bytes,
 * w the parameter type's width: the k×d gradient block, and on the batched path {@code t} numbers per example
 * of the pass's temporaries (each layer's kept inputs, pre-activations and outputs, a convolution's im2col
 * patches {@code inC·kH·kW·outH·outW}, an LSTM's gate states {@code O(T·(n + H))} over T steps, the errors and
 * the explicit gradient rows; per-layer formulas in {@code PassMemory}, an upper bound computed once per
 * network and input shape). On the exact path t = 0: its temporaries are those of one example. That total is
 * capped by {@link #memoryBudgetBytes()}: over the budget k is reduced and one warning names both parts.
 * Parameters are never copied. Cost: one forward-backward pass over the k examples (batched path) or k
 * passes of batch size 1 (exact path).
 *
 * <p>Not thread-safe: use one instance per training thread.
 */
public final class PerExampleGradients {

    /** Default memory budget for the k×d block and the batched pass's temporaries: 512 MiB. */
    public static final long DEFAULT_MEMORY_BUDGET_BYTES = 512L << 20;

    private static final Logger log = LoggerFactory.getLogger(PerExampleGradients.class);

    private final ProbeMode mode;
    private final long memoryBudgetBytes;
    private final boolean allowBatched;

    private Model source;
    private Model probe;
    private ParameterLayout layout;
    private boolean budgetWarned;
    private String exactReason;
    private boolean maskWarned;
    private boolean lastBatched;
    private String passShapes;
    private long passValues;
    private boolean estimateWarned;

    /**
     * Creates an engine.
     *
     * @param mode EVAL (dropout off, the paper's protocol) or TRAIN (dropout on)
     * @param memoryBudgetBytes the most bytes a call may hold (the k×d block and the batched pass's
     *     temporaries), in bytes; &gt; 0
     */
    public PerExampleGradients(ProbeMode mode, long memoryBudgetBytes) {
        this(mode, memoryBudgetBytes, true);
    }

    /**
     * Creates an engine that may use the batched path ({@code allowBatched}) or always takes the exact
     * path (for comparisons and benchmarks).
     */
    public PerExampleGradients(ProbeMode mode, long memoryBudgetBytes, boolean allowBatched) {
        this.allowBatched = allowBatched;
        if (mode == null) {
            throw new IllegalArgumentException("mode must not be null");
        }
        if (memoryBudgetBytes <= 0) {
            throw new IllegalArgumentException("memoryBudgetBytes must be > 0, got " + memoryBudgetBytes);
        }
        this.mode = mode;
        this.memoryBudgetBytes = memoryBudgetBytes;
    }

    /** The probe mode. */
    public ProbeMode mode() {
        return mode;
    }

    /** The memory budget for the k×d block and the batched pass's temporaries, in bytes. */
    public long memoryBudgetBytes() {
        return memoryBudgetBytes;
    }

    /** True when the last call took the batched path; false before the first call. */
    public boolean batched() {
        return lastBatched;
    }

    /** The probe network (tests), or null before the first call. */
    Model probe() {
        return probe;
    }

    /** The parameter layout of the model last probed, or null before the first call. */
    public ParameterLayout layout() {
        return layout;
    }

    /**
     * Picks the example indices for a probe.
     *
     * @param selection FIRST or RANDOM (REFERENCE draws FIRST from the reference batch)
     * @param k the number wanted; the result has {@code min(k, batchSize)} entries
     * @param seed the seed for RANDOM; the same seed gives the same subset
     */
    public static int[] select(ExampleSelection selection, int batchSize, int k, long seed) {
        int n = Math.min(k, batchSize);
        int[] idx = new int[n];
        if (selection != ExampleSelection.RANDOM) {
            for (int i = 0; i < n; i++) {
                idx[i] = i;
            }
            return idx;
        }
        int[] perm = new int[batchSize];
        for (int i = 0; i < batchSize; i++) {
            perm[i] = i;
        }
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) { // partial Fisher-Yates
            int j = i + rng.nextInt(batchSize - i);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        System.arraycopy(perm, 0, idx, 0, n);
        return idx;
    }

    /**
     * The largest k whose k×d gradient block alone fits the memory budget for the given model; the batched
     * pass's temporaries lower it further ({@link #maxSamples(Model, ProbeBatch)}).
     */
    public int maxSamples(Model model) {
        long d = layoutFor(model).numParams();
        long bytes = d * model.params().dataType().width();
        return (int) Math.min(Integer.MAX_VALUE, memoryBudgetBytes / Math.max(1, bytes));
    }

    /**
     * The largest k that fits the memory budget for the given model and batches shaped like {@code batch}:
     * {@code budget / bytesPerExample}. Not modified: {@code model}, {@code batch}.
     */
    public int maxSamples(Model model, ProbeBatch batch) {
        long[] parts = bytesPerExample(model, batch);
        return (int) Math.min(Integer.MAX_VALUE, memoryBudgetBytes / Math.max(1, parts[0] + parts[1]));
    }

    /**
     * The bytes one example adds to a call on batches shaped like {@code batch}: {@code [d·w, t·w]}, its
     * gradient row and its share of the batched pass's temporaries (0 on the exact path), w the parameter
     * type's width. The second is computed once per network and input shape (a DL4J forward pass of one
     * example through the probe). Not modified: {@code model}, {@code batch}.
     */
    public long[] bytesPerExample(Model model, ProbeBatch batch) {
        ensureProbe(model);
        long width = model.params().dataType().width();
        long pass = decideBatched(batch) ? passValues(batch) * width : 0;
        return new long[] {layout.numParams() * width, pass};
    }

    /** The batched pass's temporaries per example, in numbers, for batches shaped like {@code batch}. */
    private long passValues(ProbeBatch batch) {
        String shapes = perExampleShapes(batch.features()) + perExampleShapes(batch.labels());
        if (shapes.equals(passShapes)) {
            return passValues;
        }
        long values;
        try (RandomStateGuard saved = RandomStateGuard.save();
                MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            values = PassMemory.valuesPerExample(probe, batch);
        } catch (RuntimeException e) {
            values = 0;
            if (!estimateWarned) {
                estimateWarned = true;
                log.warn(
                        "sgdnoise: could not estimate the memory of the batched per-example gradient pass ({}); the "
                                + "memory budget counts the k×d gradient block only. Set memoryBudgetBytes with room "
                                + "for the pass's activations.",
                        e.toString());
            }
        }
        passShapes = shapes;
        passValues = values;
        return values;
    }

    private static String perExampleShapes(INDArray[] arrays) {
        StringBuilder sb = new StringBuilder();
        for (INDArray a : arrays) {
            long[] shape = a.shape();
            sb.append(Arrays.toString(Arrays.copyOfRange(shape, 1, shape.length)));
        }
        return sb.toString();
    }

    /**
     * Computes the per-example gradients of the given examples at the model's current parameters.
     * Not modified: {@code model} (parameters, gradient, random state), {@code batch}.
     *
     * @param examples indices into {@code batch}; reduced to the memory budget if needed
     * @return the k×d block, detached from workspaces
     */
    public GradientBlock compute(Model model, ProbeBatch batch, int[] examples) {
        int[] used = withinBudget(model, batch, examples);
        int k = used.length;
        try (RandomStateGuard saved = RandomStateGuard.save();
                MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            // Both paths write every column, so the block need not be zeroed first.
            INDArray block =
                    Nd4j.createUninitialized(model.params().dataType(), new long[] {k, layout.numParams()}, 'c');
            GradientFactors batched = useBatched(batch) ? batchedFactors(batch, used) : null;
            if (batched != null) {
                try (batched) {
                    batched.writeRows(block);
                }
            } else {
                for (int r = 0; r < k; r++) {
                    ProbeBatch one = batch.example(used[r]);
                    INDArray g = gradientOfOne(one);
                    layout.gather(g, block.getRow(r));
                }
            }
            return new GradientBlock(block, examples.length, k < examples.length, used);
        }
    }

    /**
     * The per-example gradients as {@link GradientFactors}: on the batched path dense layers stay factored
     * and inner products need no k×d block; on the exact path they wrap the rows of {@link #compute}. k is
     * held to the memory budget as in {@link #compute}, so that {@link GradientFactors#rows()} fits it.
     * Not modified: {@code model}, {@code batch}.
     */
    public GradientFactors factors(Model model, ProbeBatch batch, int[] examples) {
        ensureProbe(model);
        if (useBatched(batch)) {
            int[] used = withinBudget(model, batch, examples);
            GradientFactors f;
            try (RandomStateGuard saved = RandomStateGuard.save();
                    MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
                f = batchedFactors(batch, used);
            }
            if (f != null) {
                return f.withProvenance(examples.length, used);
            }
        }
        GradientBlock block = compute(model, batch, examples); // the exact path
        return GradientFactors.ofRows(block.rows(), layout).withProvenance(block.requested(), block.examples());
    }

    /**
     * The examples that fit the memory budget (a prefix of {@code examples}), counting the k×d block and the
     * batched pass's temporaries; warns once when cut.
     */
    private int[] withinBudget(Model model, ProbeBatch batch, int[] examples) {
        if (examples == null || examples.length == 0) {
            throw new IllegalArgumentException("examples must not be empty");
        }
        long[] each = bytesPerExample(model, batch);
        int k = examples.length;
        int max = (int) Math.min(Integer.MAX_VALUE, memoryBudgetBytes / Math.max(1, each[0] + each[1]));
        if (k > max) {
            if (!budgetWarned) {
                budgetWarned = true;
                log.warn(
                        "sgdnoise: {} per-example gradients of {} parameters need {} ({} for the k×d gradient block "
                                + "+ {} for the batched pass's temporaries), over the memory budget of {}; using "
                                + "k = {}. Raise the budget (memoryBudgetBytes) to keep k = {}.",
                        k,
                        layout.numParams(),
                        mib(k * (each[0] + each[1])),
                        mib(k * each[0]),
                        mib(k * each[1]),
                        mib(memoryBudgetBytes),
                        max,
                        k);
            }
            k = max;
        }
        if (k < Math.min(2, examples.length)) {
            throw new IllegalStateException("memory budget of " + mib(memoryBudgetBytes) + " holds " + k
                    + " gradient(s) of " + layout.numParams() + " parameters; a covariance needs 2 ("
                    + mib(2 * (each[0] + each[1])) + ": " + mib(2 * each[0]) + " for the gradients + "
                    + mib(2 * each[1]) + " for the batched pass's temporaries): raise memoryBudgetBytes");
        }
        return Arrays.copyOf(examples, k);
    }

    /** The batched path's factors, or null when the pass finds it cannot batch this model (then never again). */
    private GradientFactors batchedFactors(ProbeBatch batch, int[] examples) {
        ProbeBatch sub = batch.subset(examples);
        try {
            if (probe instanceof ComputationGraph cg) {
                return GraphBatchedGradients.compute(cg, layout, sub.features(), sub.labels());
            }
            INDArray[] fm = sub.featureMasks();
            INDArray[] lm = sub.labelMasks();
            return BatchedGradients.compute(
                    (MultiLayerNetwork) probe,
                    layout,
                    sub.features()[0],
                    sub.labels()[0],
                    fm == null ? null : fm[0],
                    lm == null ? null : lm[0]);
        } catch (BatchedGradients.Unbatchable e) {
            exactReason = e.getMessage();
            lastBatched = false;
            log.info(
                    "sgdnoise: per-example gradients take the exact path (one example at a time, slower): {}.",
                    exactReason);
            return null;
        }
    }

    private boolean useBatched(ProbeBatch batch) {
        lastBatched = decideBatched(batch);
        return lastBatched;
    }

    private boolean decideBatched(ProbeBatch batch) {
        if (exactReason != null) {
            return false;
        }
        // A ComputationGraph takes several inputs and outputs on the batched path, a MultiLayerNetwork one each.
        if ((batch.numInputs() != 1 || batch.numOutputs() != 1) && !(probe instanceof ComputationGraph)) {
            if (!maskWarned) {
                maskWarned = true;
                log.info("sgdnoise: per-example gradients take the exact path (one example at a time) for batches "
                        + "with several inputs or outputs.");
            }
            return false;
        }
        return masksBatchable(batch);
    }

    /** Masked batches take the batched path when every layer a mask reaches has a masked rule. */
    private boolean masksBatchable(ProbeBatch batch) {
        if (none(batch.featureMasks()) && none(batch.labelMasks())) {
            return true;
        }
        String why = probe instanceof MultiLayerNetwork net
                ? BatchedGradients.maskUnsupportedReason(net, batch.featureMasks() != null)
                : "a ComputationGraph has no batched rule for masks";
        if (why != null && !maskWarned) {
            maskWarned = true;
            log.info(
                    "sgdnoise: per-example gradients take the exact path (one example at a time) for batches with "
                            + "masks: {}.",
                    why);
        }
        return why == null;
    }

    /** True for no array at all, or only null ones (a graph reports a null mask per input). */
    private static boolean none(INDArray[] masks) {
        return masks == null || Arrays.stream(masks).allMatch(m -> m == null);
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.3g MiB", bytes / 1048576.0);
    }

    private INDArray gradientOfOne(ProbeBatch one) {
        return ProbeNetworks.gradient(probe, one);
    }

    private ParameterLayout layoutFor(Model model) {
        if (source != model || layout == null) {
            return ParameterLayout.of(model);
        }
        return layout;
    }

    private void ensureProbe(Model model) {
        // The probe reads the model's parameter array in place (no copy per probe, see ProbeNetworks); a
        // model whose array was replaced (init(params, false)) gets a new probe on the new array.
        if (source == model && probe != null && ProbeNetworks.sharesParameters(probe, model)) {
            return;
        }
        try (RandomStateGuard saved = RandomStateGuard.save();
                MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            layout = ParameterLayout.of(model);
            probe = ProbeNetworks.build(model, mode == ProbeMode.TRAIN);
            source = model;
            passShapes = null;
            exactReason = !allowBatched
                    ? "the batched path was switched off"
                    : mode == ProbeMode.TRAIN
                            ? "TRAIN mode (the probe draws dropout masks example by example)"
                            : probe instanceof MultiLayerNetwork net
                                    ? BatchedGradients.unsupportedReason(net)
                                    : GraphBatchedGradients.unsupportedReason((ComputationGraph) probe);
            if (exactReason != null) {
                log.info(
                        "sgdnoise: per-example gradients take the exact path (one example at a time, slower): {}.",
                        exactReason);
            }
        }
    }
}

package org.sgdnoise.gradients;

import java.util.SplittableRandom;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.rng.Random;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.gradients.internal.ProbeNetworks;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exact per-example loss gradients of a DL4J model, one example at a time on a private probe network.
 *
 * <p>For each selected example i the result holds {@code ∇f_i(θ)}: the gradient of that example's loss
 * alone with respect to every trained parameter (BatchNormalization running statistics and frozen layers
 * excluded, see {@link ParameterLayout}), before the updater's 1/b and regularisation. Their sum over a
 * minibatch equals DL4J's raw minibatch gradient when the model has no batch-coupled layers.
 *
 * <p>The training model is never modified: the probe network is separate, and ND4J's thread-local random
 * state is saved and restored around each call, so training with probes is bit-identical to training
 * without. Memory: the k×d block ({@code k·d·bytes}) is capped by {@link #memoryBudgetBytes()}; over the
 * budget k is reduced and one warning is logged. Cost: k forward-backward passes of batch size 1.
 *
 * <p>Not thread-safe: use one instance per training thread.
 */
public final class PerExampleGradients {

    /** Default memory budget for the k×d block: 512 MiB. */
    public static final long DEFAULT_MEMORY_BUDGET_BYTES = 512L << 20;

    private static final Logger log = LoggerFactory.getLogger(PerExampleGradients.class);

    private final ProbeMode mode;
    private final long memoryBudgetBytes;

    private Model source;
    private Model probe;
    private ParameterLayout layout;
    private boolean budgetWarned;

    /**
     * Creates an engine.
     *
     * @param mode EVAL (dropout off, the paper's protocol) or TRAIN (dropout on)
     * @param memoryBudgetBytes the largest k×d block allowed, in bytes; > 0
     */
    public PerExampleGradients(ProbeMode mode, long memoryBudgetBytes) {
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

    /** The memory budget for the k×d block, in bytes. */
    public long memoryBudgetBytes() {
        return memoryBudgetBytes;
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

    /** The largest k that fits the memory budget for the given model. */
    public int maxSamples(Model model) {
        long d = layoutFor(model).numParams();
        long bytes = d * model.params().dataType().width();
        return (int) Math.min(Integer.MAX_VALUE, memoryBudgetBytes / Math.max(1, bytes));
    }

    /**
     * Computes the per-example gradients of the given examples at the model's current parameters.
     * Not modified: {@code model} (parameters, gradient, random state), {@code batch}.
     *
     * @param examples indices into {@code batch}; reduced to the memory budget if needed
     * @return the k×d block, detached from workspaces
     */
    public GradientBlock compute(Model model, ProbeBatch batch, int[] examples) {
        if (examples == null || examples.length == 0) {
            throw new IllegalArgumentException("examples must not be empty");
        }
        ensureProbe(model);
        int k = examples.length;
        int max = maxSamples(model);
        boolean reduced = false;
        if (k > max) {
            reduced = true;
            if (!budgetWarned) {
                budgetWarned = true;
                log.warn(
                        "sgdnoise: {} per-example gradients of {} parameters need {}, over the memory budget of {}; "
                                + "using k = {}. Raise the budget (memoryBudgetBytes) to keep k = {}.",
                        k, layout.numParams(), mib(bytesFor(k, model)), mib(memoryBudgetBytes), max, k);
            }
            k = max;
        }
        if (k < Math.min(2, examples.length)) {
            throw new IllegalStateException("memory budget of " + mib(memoryBudgetBytes) + " holds " + k
                    + " gradient(s) of " + layout.numParams() + " parameters; a covariance needs 2 (" + mib(bytesFor(2, model))
                    + "): raise memoryBudgetBytes");
        }
        int[] used = java.util.Arrays.copyOf(examples, k);
        Random rng = Nd4j.getRandom();
        long root = rng.rootState();
        long node = rng.nodeState();
        try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            probe.setParams(model.params());
            INDArray block = Nd4j.create(model.params().dataType(), k, layout.numParams());
            for (int r = 0; r < k; r++) {
                ProbeBatch one = batch.example(used[r]);
                INDArray g = gradientOfOne(one);
                layout.gather(g, block.getRow(r));
            }
            return new GradientBlock(block, examples.length, reduced, used);
        } finally {
            rng.setStates(root, node);
        }
    }

    private static String mib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.3g MiB", bytes / 1048576.0);
    }

    private long bytesFor(int k, Model model) {
        return (long) k * layout.numParams() * model.params().dataType().width();
    }

    private INDArray gradientOfOne(ProbeBatch one) {
        if (probe instanceof MultiLayerNetwork net) {
            if (one.numInputs() != 1 || one.numOutputs() != 1) {
                throw new IllegalArgumentException("a MultiLayerNetwork takes one input and one output, got "
                        + one.numInputs() + " and " + one.numOutputs());
            }
            net.clearLayerMaskArrays();
            INDArray[] fm = one.featureMasks();
            INDArray[] lm = one.labelMasks();
            Gradient g = net.calculateGradients(
                            one.features()[0], one.labels()[0], fm == null ? null : fm[0], lm == null ? null : lm[0])
                    .getFirst();
            return g.gradient();
        }
        ComputationGraph cg = (ComputationGraph) probe;
        cg.clearLayerMaskArrays();
        cg.setInputs(one.features());
        cg.setLabels(one.labels());
        if (one.featureMasks() != null || one.labelMasks() != null) {
            cg.setLayerMaskArrays(one.featureMasks(), one.labelMasks());
        }
        cg.computeGradientAndScore();
        return cg.gradient().gradient();
    }

    private ParameterLayout layoutFor(Model model) {
        if (source != model || layout == null) {
            return ParameterLayout.of(model);
        }
        return layout;
    }

    private void ensureProbe(Model model) {
        if (source == model && probe != null && probe.numParams() == model.numParams()) {
            return;
        }
        Random rng = Nd4j.getRandom();
        long root = rng.rootState();
        long node = rng.nodeState();
        try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            layout = ParameterLayout.of(model);
            probe = ProbeNetworks.build(model, mode == ProbeMode.TRAIN);
            source = model;
        } finally {
            rng.setStates(root, node);
        }
    }
}

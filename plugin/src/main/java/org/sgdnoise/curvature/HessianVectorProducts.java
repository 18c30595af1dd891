package org.sgdnoise.curvature;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.SameDiffGradients;
import org.sgdnoise.gradients.internal.ProbeNetworks;
import org.sgdnoise.gradients.internal.RandomStateGuard;

/**
 * Hessian-vector products of a DL4J model's mean loss over an example set, for every model the per-example
 * engine supports ({@link MultiLayerNetwork} and {@link ComputationGraph}), computed on a private probe network
 * so that training is untouched and bit-identical.
 *
 * <pre>{@code
 * HessianVectorProducts hvp = new HessianVectorProducts();
 * HessianOperator h = hvp.at(model, ProbeBatch.of(dataSet));   // θ = model's parameters now
 * LanczosResult top = Lanczos.largest(h, 10, 42L);
 * }</pre>
 *
 * <p>The probe is built once per model ({@link ProbeNetworks}: inference-mode BatchNorm, no dropout or weight
 * noise) in DOUBLE, whatever the model's type, so that central differences are accurate ({@link
 * HessianOperator}). The Hessian is taken in the space of the d trained parameters of {@link ParameterLayout}
 * (BatchNorm running statistics and frozen layers excluded). Regularisation: see {@link HessianTerms}.
 *
 * <p>Memory: the probe's parameters in double (one flat vector, excluded entries included) and, per operator,
 * a copy of θ; per product about eight flat vectors plus one chunk's activations. Not thread-safe: one engine
 * per thread.
 */
public final class HessianVectorProducts {

    /** Default number of examples per forward-backward pass, {@value}. */
    public static final int DEFAULT_CHUNK_SIZE = 256;

    /**
     * Configuration.
     *
     * @param chunkSize the most examples per forward-backward pass, ≥ 1; bounds the activation memory
     * @param includeL2 add the L2 terms ({@code l2}, {@code l2Bias}) of the model's layers
     * @param includeWeightDecay add the weight-decay terms, as the Hessian plain SGD feels (see {@link
     *     HessianTerms})
     * @param relativeStep the finite-difference step relative to {@code 1 + ‖θ‖}, in (0, 1); NaN to choose it
     *     from the model: {@link HessianOperator#RELATIVE_STEP} when every nonlinearity is smooth, {@link
     *     HessianOperator#KINKED_RELATIVE_STEP} when one is piecewise linear (ReLU, max pooling, …)
     */
    public record Config(int chunkSize, boolean includeL2, boolean includeWeightDecay, double relativeStep) {

        /** Validates. */
        public Config {
            if (chunkSize < 1) {
                throw new IllegalArgumentException("chunkSize must be >= 1, got " + chunkSize);
            }
            if (!Double.isNaN(relativeStep) && !(relativeStep > 0 && relativeStep < 1)) {
                throw new IllegalArgumentException("relativeStep must be in (0, 1) or NaN, got " + relativeStep);
            }
        }

        /** The step chosen from the model. */
        public Config(int chunkSize, boolean includeL2, boolean includeWeightDecay) {
            this(chunkSize, includeL2, includeWeightDecay, Double.NaN);
        }

        /** {@link #DEFAULT_CHUNK_SIZE}, L2 included, weight decay not. */
        public static Config defaults() {
            return new Config(DEFAULT_CHUNK_SIZE, true, false);
        }
    }

    private final Config config;
    private Model source;
    private Model probe;
    private ParameterLayout layout;

    /** An engine with {@link Config#defaults()}. */
    public HessianVectorProducts() {
        this(Config.defaults());
    }

    /** An engine with the given configuration. */
    public HessianVectorProducts(Config config) {
        if (config == null) {
            throw new IllegalArgumentException("config must not be null");
        }
        this.config = config;
    }

    /** The configuration. */
    public Config config() {
        return config;
    }

    /**
     * The Hessian at the model's current parameters, of the mean loss over every example of {@code batch}.
     *
     * @see #at(Model, ProbeBatch, int[])
     */
    public HessianOperator at(Model model, ProbeBatch batch) {
        if (batch == null) {
            throw new IllegalArgumentException("batch must not be null");
        }
        int[] all = new int[batch.size()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        return at(model, batch, all);
    }

    /**
     * The Hessian at the model's current parameters (copied now: later training does not move it), of the mean
     * loss over the chosen examples. The batch is held by reference and read at each product: do not modify it
     * while the operator is in use. Not modified: {@code model} (parameters, gradients, random state).
     *
     * @param model a MultiLayerNetwork or ComputationGraph
     * @param batch the examples, with labels
     * @param examples indices into {@code batch}, at least one (repeats count twice)
     * @throws IllegalArgumentException for another model type, no examples, an index out of range, several
     *     inputs or outputs for a MultiLayerNetwork, or weight decay without {@code applyLR} when included
     */
    public HessianOperator at(Model model, ProbeBatch batch, int[] examples) {
        if (!(model instanceof MultiLayerNetwork) && !(model instanceof ComputationGraph)) {
            throw new IllegalArgumentException("model must be a MultiLayerNetwork or ComputationGraph, got "
                    + (model == null ? "null" : model.getClass().getName()));
        }
        if (batch == null || examples == null || examples.length == 0) {
            throw new IllegalArgumentException("examples must not be empty");
        }
        for (int i : examples) {
            if (i < 0 || i >= batch.size()) {
                throw new IllegalArgumentException("example index " + i + " is outside the batch of " + batch.size());
            }
        }
        if (model instanceof MultiLayerNetwork && (batch.numInputs() != 1 || batch.numOutputs() != 1)) {
            throw new IllegalArgumentException("a MultiLayerNetwork takes one input and one output, got "
                    + batch.numInputs() + " and " + batch.numOutputs());
        }
        try (RandomStateGuard saved = RandomStateGuard.save();
                MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            ensureProbe(model);
            INDArray p = model.params();
            INDArray theta = p.dataType() == DataType.DOUBLE ? p.dup() : p.castTo(DataType.DOUBLE);
            Regularisation reg =
                    Regularisation.of(model, layout, examples.length, config.includeL2(), config.includeWeightDecay());
            double step = Double.isNaN(config.relativeStep())
                    ? (Kinks.of(model).isEmpty() ? HessianOperator.RELATIVE_STEP : HessianOperator.KINKED_RELATIVE_STEP)
                    : config.relativeStep();
            return new HessianOperator(
                    HessianOperator.of(probe), layout, theta, batch, examples, config.chunkSize(), reg, step);
        }
    }

    /**
     * The Hessian of a SameDiff graph's mean loss over every example of {@code batch}, at the graph's current values
     * (those {@code graph} was made from or last synced to: {@link SameDiffGradients#sync}), by central differences
     * of its gradient on a private copy in double ({@link SameDiffGradients#gradientSum}), or in float where ND4J
     * cannot convert the graph ({@link SameDiffGradients#hessianDataType()}: then the step is float's and the
     * products are good to about 10⁻⁴ relative instead of 10⁻¹¹). The data loss alone: a
     * graph's regularisation lives in its TrainingConfig and is not included. The step is the kinked one when the
     * graph has a ReLU or max-pooling op.
     *
     * @throws IllegalArgumentException for an empty batch
     */
    public HessianOperator at(SameDiffGradients graph, ProbeBatch batch) {
        if (batch == null || batch.size() == 0) {
            throw new IllegalArgumentException("examples must not be empty");
        }
        int[] all = new int[batch.size()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        try (RandomStateGuard saved = RandomStateGuard.save()) {
            // In double the steps of the class comment; in float (a graph ND4J cannot convert) the same rule with
            // float's rounding, u = 2⁻²³: u^{1/3} ≈ 5·10⁻³, or u^{1/2} ≈ 3.5·10⁻⁴ with kinks.
            boolean inDouble = graph.hessianDataType() == org.nd4j.linalg.api.buffer.DataType.DOUBLE;
            double u = inDouble ? 0x1p-52 : 0x1p-23;
            double step = Double.isNaN(config.relativeStep())
                    ? (graph.hasKinks() ? Math.sqrt(u) : Math.cbrt(u))
                    : config.relativeStep();
            return new HessianOperator(
                    graph::gradientSum,
                    graph.layout(),
                    graph.parametersInDouble(),
                    batch,
                    all,
                    config.chunkSize(),
                    Regularisation.none(all.length),
                    step);
        }
    }

    private void ensureProbe(Model model) {
        if (source == model && probe != null && probe.numParams() == model.numParams()) {
            return;
        }
        layout = ParameterLayout.of(model);
        probe = ProbeNetworks.build(model, false, DataType.DOUBLE);
        source = model;
    }
}

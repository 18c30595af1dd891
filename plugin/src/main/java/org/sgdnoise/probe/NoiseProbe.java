package org.sgdnoise.probe;

import java.io.Serializable;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.curvature.HessianVectorProducts;
import org.sgdnoise.curvature.Lanczos;
import org.sgdnoise.curvature.NoiseAlignment;
import org.sgdnoise.diffusion.DiffusionStatistics;
import org.sgdnoise.diffusion.DiffusionStatistics.LayerNoise;
import org.sgdnoise.diffusion.DiffusionStats;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.diffusion.Temperature;
import org.sgdnoise.diffusion.UpdaterSettings;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.gradients.GradientFactors;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.gradients.SameDiffGradients;
import org.sgdnoise.sampling.MinibatchSampler;
import org.sgdnoise.sketch.DiffusionSketch;

/**
 * The gradient-noise probe of one worker: at the current parameters θ_t and a batch of examples it computes k
 * per-example gradients on a private probe network, derives the statistics of the noise covariance D
 * ({@link DiffusionStats}), feeds the streaming sketch of D, and works out the SGD temperature. It returns a
 * typed {@link ProbeResult}; expected outcomes (a diverging model, a batch of one) are statuses, not exceptions.
 *
 * <p>Training is not disturbed: the gradients come from a private copy of the network, and ND4J's random state
 * is restored after each probe. Not thread-safe: one probe per worker thread.
 *
 * <p>Memory: the per-example gradients of one probe (batched path: {@code k·(n_in + n_out)} values per dense layer
 * and explicit rows for other layers; exact path: the k×d rows, at most the memory budget), freed after it; one
 * probe network; O(k²) doubles per layer; with the sketch, {@code 2ℓ·d} values for its buffer and {@code 2r·d} for
 * the current and previous top-r eigenvectors; with the curvature step ({@link CurvatureConfig}), a second probe
 * network in double and the Lanczos basis during that step.
 *
 * <p>With a {@link CurvatureConfig}, every n-th probe also computes the top Hessian eigenvalues over fixed examples
 * and how D lines up with H, from the same k per-example gradients ({@link ProbeResult#hessian()}).
 */
public final class NoiseProbe {

    /** Default number of per-example gradients per probe, k. */
    public static final int DEFAULT_GRADIENTS_PER_PROBE = 64;
    /** Default number of top eigenvalues recorded, r. */
    public static final int DEFAULT_TOP_R = 10;
    /** Default seed of RANDOM example selection. */
    public static final long DEFAULT_SEED = 12345L;
    /** Default sketch size ℓ. */
    public static final int DEFAULT_SKETCH_SIZE = 64;
    /** Default sketch half-life, in probes. */
    public static final double DEFAULT_SKETCH_HALF_LIFE = 20;

    /**
     * The validated configuration of a probe.
     *
     * @param gradientsPerProbe k, the per-example gradients per probe (at least 2)
     * @param mode EVAL (dropout off, the paper's protocol) or TRAIN
     * @param selection which examples: FIRST or RANDOM of the current minibatch, or REFERENCE
     * @param topR number of top eigenvalues written to each record (at least 1)
     * @param seed seed for RANDOM selection, written into each record
     * @param memoryBudgetBytes cap on the k×d block plus the batched pass's temporaries (positive)
     * @param sampling how the training loop draws minibatches; UNKNOWN lets an sgdnoise sampler say it
     * @param datasetSize N, or -1 if unknown (at least 1 for WITHOUT_REPLACEMENT)
     * @param sketchSize ℓ of the streaming sketch of D; 0 turns the sketch off
     * @param sketchHalfLife probes after which a probe's weight in the sketch halves (infinite: never)
     * @param sketchCentring per-probe or global centring of the sketched gradients
     * @param curvature the curvature step every n-th probe, or null for none (see {@link CurvatureConfig})
     */
    public record Config(
            int gradientsPerProbe,
            ProbeMode mode,
            ExampleSelection selection,
            int topR,
            long seed,
            long memoryBudgetBytes,
            SamplingScheme sampling,
            long datasetSize,
            int sketchSize,
            double sketchHalfLife,
            DiffusionSketch.Centring sketchCentring,
            CurvatureConfig curvature)
            implements Serializable {

        /** Validates every component, naming it, its bound and the value. */
        public Config {
            checkGradientsPerProbe(gradientsPerProbe);
            if (mode == null) {
                throw new IllegalArgumentException("mode must be EVAL or TRAIN, got null");
            }
            if (selection == null) {
                throw new IllegalArgumentException("selection must be FIRST, RANDOM or REFERENCE, got null");
            }
            checkTopR(topR);
            checkMemoryBudget(memoryBudgetBytes);
            checkSampling(sampling, datasetSize);
            datasetSize = datasetSize > 0 ? datasetSize : -1;
            checkSketchSize(sketchSize);
            checkSketchHalfLife(sketchHalfLife);
            if (sketchCentring == null) {
                throw new IllegalArgumentException("sketchCentring must be PER_PROBE or GLOBAL, got null");
            }
        }

        /** A configuration without the curvature step. */
        public Config(
                int gradientsPerProbe,
                ProbeMode mode,
                ExampleSelection selection,
                int topR,
                long seed,
                long memoryBudgetBytes,
                SamplingScheme sampling,
                long datasetSize,
                int sketchSize,
                double sketchHalfLife,
                DiffusionSketch.Centring sketchCentring) {
            this(
                    gradientsPerProbe,
                    mode,
                    selection,
                    topR,
                    seed,
                    memoryBudgetBytes,
                    sampling,
                    datasetSize,
                    sketchSize,
                    sketchHalfLife,
                    sketchCentring,
                    null);
        }

        /** This configuration with the curvature step {@code c} (null: none). */
        public Config withCurvature(CurvatureConfig c) {
            return new Config(
                    gradientsPerProbe,
                    mode,
                    selection,
                    topR,
                    seed,
                    memoryBudgetBytes,
                    sampling,
                    datasetSize,
                    sketchSize,
                    sketchHalfLife,
                    sketchCentring,
                    c);
        }

        /**
         * The defaults: k = 64, EVAL, FIRST, r = 10, seed 12345, 512 MiB, UNKNOWN sampling, ℓ = 64, half-life 20, no
         * curvature step.
         */
        public static Config defaults() {
            return new Config(
                    DEFAULT_GRADIENTS_PER_PROBE,
                    ProbeMode.EVAL,
                    ExampleSelection.FIRST,
                    DEFAULT_TOP_R,
                    DEFAULT_SEED,
                    PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES,
                    SamplingScheme.UNKNOWN,
                    -1,
                    DEFAULT_SKETCH_SIZE,
                    DEFAULT_SKETCH_HALF_LIFE,
                    DiffusionSketch.Centring.PER_PROBE);
        }

        /** Throws unless {@code k >= 2}. */
        public static int checkGradientsPerProbe(int k) {
            if (k < 2) {
                throw new IllegalArgumentException(
                        "gradientsPerProbe must be >= 2 (a covariance needs two gradients), got " + k);
            }
            return k;
        }

        /** Throws unless {@code r >= 1}. */
        public static int checkTopR(int r) {
            if (r < 1) {
                throw new IllegalArgumentException("topR must be >= 1, got " + r);
            }
            return r;
        }

        /** Throws unless {@code bytes > 0}. */
        public static long checkMemoryBudget(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("memoryBudgetBytes must be > 0, got " + bytes);
            }
            return bytes;
        }

        /** Throws for a null scheme, or WITHOUT_REPLACEMENT without a data set size of at least 1. */
        public static void checkSampling(SamplingScheme scheme, long datasetSize) {
            if (scheme == null) {
                throw new IllegalArgumentException(
                        "sampling scheme must be WITH_REPLACEMENT, WITHOUT_REPLACEMENT or UNKNOWN, got null");
            }
            if (scheme == SamplingScheme.WITHOUT_REPLACEMENT && datasetSize < 1) {
                throw new IllegalArgumentException(
                        "datasetSize must be >= 1 for sampling without replacement, got " + datasetSize);
            }
        }

        /** Throws unless ℓ is 0 (off) or at least 2. */
        public static int checkSketchSize(int ell) {
            if (ell != 0 && ell < 2) {
                throw new IllegalArgumentException("sketchSize must be 0 (off) or >= 2, got " + ell);
            }
            return ell;
        }

        /** Throws unless the half-life is positive (infinite allowed). */
        public static double checkSketchHalfLife(double probes) {
            if (!(probes > 0)) {
                throw new IllegalArgumentException("sketchHalfLife must be > 0 probes (or infinite), got " + probes);
            }
            return probes;
        }
    }

    /**
     * The curvature step of every n-th probe: at the probe's parameters θ_t, the top-r eigenvalues of the Hessian H
     * of the mean loss over a fixed example set (plus the model's L2 terms, on a private double copy: {@link
     * HessianVectorProducts}) by {@link Lanczos}, and with the probe's own k per-example gradients (not computed
     * again) how D lines up with H in its top-r eigenspace ({@link NoiseAlignment}: the relative commutator, the
     * overlap of the top subspaces, the trace cosine). The Lanczos start vector takes the probe's {@code seed}.
     *
     * <p>Cost per curvature probe: the Lanczos steps (at most max(100, r), typically 2r–4r plus a few dozen) and r
     * more for {@code H_r = VᵀHV}, each a Hessian-vector product of two forward-backward passes over the n examples
     * in double; about {@code (steps + r)·2n} example gradients in all, against the probe's k. It is part of the
     * probe's measured time, so a listener's overhead budget sees it. Memory: the Lanczos basis, at most
     * max(100, r) vectors of d doubles, and the probe network in double.
     *
     * @param every the curvature step runs at the probes numbered 0, n, 2n, ... (counting completed probes), n ≥ 1
     * @param top r, the Hessian eigenvalues wanted, at least 1 (capped by d)
     */
    public record CurvatureConfig(int every, int top) implements Serializable {
        /** Validates both components. */
        public CurvatureConfig {
            if (every < 1) {
                throw new IllegalArgumentException("curvature every must be >= 1 probes, got " + every);
            }
            if (top < 1) {
                throw new IllegalArgumentException("curvature top must be >= 1 eigenvalues, got " + top);
            }
        }
    }

    private final Config config;
    private final PerExampleGradients engine;
    private final CurvatureStep curvature;
    private ParameterLayout layout;
    private DiffusionSketch sketch;
    private INDArray currentVectors;
    private int probes;
    private long insertEnd; // when the latest sketch insert ended (System.nanoTime)

    /** A probe with its own probe network (built at the first call), sketch and eigenvectors; no curvature step. */
    public NoiseProbe(Config config) {
        this(config, null);
    }

    /**
     * A probe with its own probe network (built at the first call), sketch and eigenvectors, and the curvature step
     * of {@code config.curvature()} over {@code curvatureExamples} (held by reference, read at every curvature
     * probe: do not modify them during training).
     *
     * @param curvatureExamples the examples of the Hessian, with labels; required exactly when the configuration
     *     has a curvature step
     */
    public NoiseProbe(Config config, ProbeBatch curvatureExamples) {
        if (config == null) {
            throw new IllegalArgumentException("config must not be null, got null");
        }
        if ((config.curvature() == null) != (curvatureExamples == null)) {
            throw new IllegalArgumentException(
                    config.curvature() == null
                            ? "curvature examples were given but the configuration has no curvature step"
                            : "the curvature step needs its examples, got null");
        }
        this.config = config;
        this.engine = new PerExampleGradients(config.mode(), config.memoryBudgetBytes());
        this.curvature = config.curvature() == null ? null : new CurvatureStep(config.curvature(), curvatureExamples);
    }

    /** The configuration. */
    public Config config() {
        return config;
    }

    /**
     * Probes the model at its current parameters.
     *
     * @param model the network being trained (read only)
     * @param current the current minibatch (its size is b)
     * @param reference a fixed set probed instead of the minibatch, or null
     * @param iteration the iteration, which also mixes into the RANDOM selection's seed
     * @param epoch the epoch
     * @param loss the minibatch loss at θ_t
     */
    public ProbeResult probe(
            Model model, ProbeBatch current, ProbeBatch reference, int iteration, int epoch, double loss) {
        return probe(
                (batch, idx) -> engine.factors(model, batch, idx),
                () -> engine.layout(),
                engine::batched,
                model,
                () -> UpdaterSettings.of(model, iteration, epoch),
                current,
                reference,
                iteration,
                epoch,
                loss);
    }

    /**
     * Probes a SameDiff graph: the per-example gradients come from {@code graph}, a private copy whose variables hold
     * the parameters to probe at ({@link SameDiffGradients#sync}), in one batched pass where the graph allows it,
     * else one example at a time ({@link SameDiffGradients#path()}); the rest is as for a DL4J model. The memory
     * budget caps k on the exact path as on DL4J's.
     *
     * @param updater the graph's updater at this iteration ({@link UpdaterSettings#of(org.nd4j.autodiff.samediff.SameDiff,
     *     int, int)})
     * @throws IllegalStateException when the configuration has a curvature step, which needs a DL4J model
     */
    public ProbeResult probe(
            SameDiffGradients graph,
            UpdaterSettings updater,
            ProbeBatch current,
            ProbeBatch reference,
            int iteration,
            int epoch,
            double loss) {
        if (curvature != null) {
            throw new IllegalStateException("the curvature step needs a MultiLayerNetwork or ComputationGraph");
        }
        return probe(
                (batch, idx) -> graph.factors(batch, idx, config.memoryBudgetBytes()),
                graph::layout,
                graph::batched,
                null,
                () -> updater,
                current,
                reference,
                iteration,
                epoch,
                loss);
    }

    /** Where one probe's per-example gradients come from. */
    private interface Factors {
        GradientFactors of(ProbeBatch batch, int[] examples);
    }

    private ProbeResult probe(
            Factors gradients,
            Supplier<ParameterLayout> layoutAfter,
            BooleanSupplier batched,
            Model model,
            Supplier<UpdaterSettings> updater,
            ProbeBatch current,
            ProbeBatch reference,
            int iteration,
            int epoch,
            double loss) {
        long t0 = System.nanoTime();
        if (!Double.isFinite(loss)) {
            return ProbeResult.skipped(ProbeStatus.NON_FINITE, "the loss is " + loss, iteration, epoch, loss, config);
        }
        int batchSize = current.size();
        ProbeBatch source = reference != null ? reference : current;
        long mixedSeed = config.seed() * 0x9E3779B97F4A7C15L + iteration;
        int[] idx =
                PerExampleGradients.select(config.selection(), source.size(), config.gradientsPerProbe(), mixedSeed);
        if (idx.length < 2) {
            return ProbeResult.skipped(
                    ProbeStatus.TOO_FEW_EXAMPLES,
                    "a covariance needs at least 2 per-example gradients, the batch has " + idx.length,
                    iteration,
                    epoch,
                    loss,
                    config);
        }
        // The statistics come from k×k Gram matrices: no k×d block on the batched path.
        try (GradientFactors factors = gradients.of(source, idx)) {
            layout = layoutAfter.get();
            double[][] gram = factors.gram();
            Map<String, double[][]> layerGrams = factors.layerGrams();
            long t1 = System.nanoTime();
            if (!finite(gram)) {
                return ProbeResult.skipped(
                        ProbeStatus.NON_FINITE,
                        "non-finite per-example gradients (NaN or infinite entries in their Gram matrix)",
                        iteration,
                        epoch,
                        loss,
                        config);
            }
            int r = config.topR();
            DiffusionStats s = DiffusionStatistics.ofGram(gram, factors.d(), r);
            List<LayerNoise> layers = DiffusionStatistics.perLayerOfGrams(layerGrams, layout.layerRanges());
            long t2 = System.nanoTime();
            ProbeResult.SketchReading reading = config.sketchSize() > 0 ? sketch(factors) : null;
            long t3 = System.nanoTime();
            // Same parameters and the same k gradients as the statistics of D above.
            ProbeResult.HessianReading hessian =
                    curvature != null && probes % curvature.config().every() == 0
                            ? curvature.measure(model, factors, config.seed())
                            : null;
            UpdaterSettings u = updater.get();
            SamplingScheme scheme = config.sampling();
            long datasetSize = config.datasetSize();
            if (scheme == SamplingScheme.UNKNOWN) {
                // An sgdnoise sampler that served this batch on this thread tells the scheme and N itself.
                MinibatchSampler sampler = MinibatchSampler.lastOnThisThread();
                if (sampler != null && sampler.lastBatchSize() == batchSize) {
                    scheme = sampler.scheme();
                    datasetSize = sampler.datasetSize();
                }
            }
            double temperature =
                    u.sgdLike() ? Temperature.of(u.learningRate(), batchSize, datasetSize, scheme) : Double.NaN;
            probes++;
            return new ProbeResult(
                    ProbeStatus.OK,
                    null,
                    iteration,
                    epoch,
                    loss,
                    batchSize,
                    config.gradientsPerProbe(),
                    factors.reducedByBudget(),
                    s,
                    layers,
                    reading,
                    hessian,
                    u,
                    scheme,
                    datasetSize > 0 ? datasetSize : -1,
                    temperature,
                    Temperature.withMomentum(temperature, u.momentum()),
                    new ProbeResult.Timing(
                            (System.nanoTime() - t0) / 1e6,
                            (t1 - t0) / 1e6,
                            (t2 - t1) / 1e6,
                            reading == null ? 0 : (insertEnd - t2) / 1e6,
                            reading == null ? 0 : (t3 - insertEnd) / 1e6),
                    batched.getAsBoolean(),
                    config);
        }
    }

    private ProbeResult.SketchReading sketch(GradientFactors factors) {
        int r = config.topR();
        if (sketch == null || sketch.sketch().dimension() != factors.d()) {
            sketch = new DiffusionSketch(
                    factors.d(),
                    config.sketchSize(),
                    config.sketchHalfLife(),
                    config.sketchCentring(),
                    factors.dataType());
            currentVectors = null;
        }
        // The centred rows go into the sketch one column block at a time, never as a k×d block.
        INDArray mean = config.sketchCentring() == DiffusionSketch.Centring.GLOBAL ? factors.meanRow() : null;
        sketch.addProbe(factors.k(), factors::writeCentred, mean);
        insertEnd = System.nanoTime();
        DiffusionSketch.Estimate est = sketch.estimate(r, true);
        INDArray previous = currentVectors;
        currentVectors = est.vectors();
        double overlap = previous != null && currentVectors != null
                ? DiffusionSketch.overlap(currentVectors, previous)
                : Double.NaN;
        int shown = Math.min(r, est.eigenvalues().length);
        return new ProbeResult.SketchReading(
                config.sketchSize(),
                config.sketchHalfLife(),
                est.gradients(),
                est.delta(),
                Arrays.copyOf(est.eigenvalues(), shown),
                Arrays.copyOf(est.upper(), shown),
                overlap,
                est.trustworthy(shown));
    }

    private static boolean finite(double[][] m) {
        for (double[] row : m) {
            for (double x : row) {
                if (!Double.isFinite(x)) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * The top eigenvectors of the sketched D after the latest probe, as the rows of an r×d matrix over the trained
     * parameters of {@link #layout()}, or null before the first probe or without a sketch. The array is the
     * probe's: copy it to keep it.
     */
    public INDArray topEigenvectors() {
        return currentVectors;
    }

    /** The parameter layout the eigenvectors and records refer to, or null before the first probe. */
    public ParameterLayout layout() {
        return layout;
    }

    /** Probes completed with status OK. */
    public int probes() {
        return probes;
    }

    /**
     * What a checkpoint keeps of a probe: its count, sketch and eigenvectors (in double, exact for float models).
     *
     * @param probes probes completed
     * @param sketch the sketch, or null
     * @param vectors the top eigenvectors as rows, or null
     */
    public record State(int probes, DiffusionSketch sketch, double[][] vectors) implements Serializable {}

    /** The state to save beside a checkpoint. */
    public State state() {
        return new State(
                probes,
                sketch,
                currentVectors == null
                        ? null
                        : currentVectors.castTo(DataType.DOUBLE).toDoubleMatrix());
    }

    /** Continues from a saved state. */
    public void restore(State s) {
        probes = s.probes();
        sketch = s.sketch();
        currentVectors = s.vectors() == null || sketch == null
                ? null
                : Nd4j.createFromArray(s.vectors()).castTo(sketch.sketch().dataType());
    }
}

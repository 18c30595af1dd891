package org.sgdnoise.listeners;

import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.probe.NoiseProbe;
import org.sgdnoise.sketch.DiffusionSketch;

/**
 * What each probe of a {@link DiffusionListener} measures: the options behind {@link NoiseProbe.Config}, each
 * validated when set (the message names the option, its bound and the value), with the defaults of
 * {@link NoiseProbe}.
 *
 * @param <B> the concrete builder
 */
abstract class ProbeOptions<B extends ProbeOptions<B>> extends ListenerBuilder<B> {

    private int gradientsPerProbe = NoiseProbe.DEFAULT_GRADIENTS_PER_PROBE;
    private ProbeMode mode = ProbeMode.EVAL;
    private ExampleSelection selection = ExampleSelection.FIRST;
    private int topR = NoiseProbe.DEFAULT_TOP_R;
    private long seed = NoiseProbe.DEFAULT_SEED;
    private long memoryBudgetBytes = PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES;
    private SamplingScheme sampling = SamplingScheme.UNKNOWN;
    private long datasetSize = -1;
    private int sketchSize = NoiseProbe.DEFAULT_SKETCH_SIZE;
    private double sketchHalfLife = NoiseProbe.DEFAULT_SKETCH_HALF_LIFE;
    private DiffusionSketch.Centring sketchCentring = DiffusionSketch.Centring.PER_PROBE;
    ProbeBatch reference;
    private NoiseProbe.CurvatureConfig curvature;
    ProbeBatch curvatureExamples;

    /** The probe's configuration from these options. */
    NoiseProbe.Config probeConfig() {
        return new NoiseProbe.Config(
                gradientsPerProbe,
                mode,
                reference != null ? ExampleSelection.REFERENCE : selection,
                topR,
                seed,
                memoryBudgetBytes,
                sampling,
                datasetSize,
                sketchSize,
                sketchHalfLife,
                sketchCentring,
                curvature);
    }

    /** Per-example gradients per probe, k (default 64); at least 2. */
    public B gradientsPerProbe(int k) {
        this.gradientsPerProbe = NoiseProbe.Config.checkGradientsPerProbe(k);
        return self();
    }

    /** EVAL (default: dropout off, the paper's protocol) or TRAIN (dropout on, RNG restored). */
    public B mode(ProbeMode mode) {
        if (mode == null) {
            throw new IllegalArgumentException("mode must be EVAL or TRAIN, got null");
        }
        this.mode = mode;
        return self();
    }

    /** FIRST (default) or RANDOM examples of the current minibatch; {@link #referenceSet} for REFERENCE. */
    public B selection(ExampleSelection selection) {
        if (selection == null || selection == ExampleSelection.REFERENCE) {
            throw new IllegalArgumentException("selection must be FIRST or RANDOM (set a reference set with "
                    + "referenceSet(...)), got " + selection);
        }
        this.selection = selection;
        return self();
    }

    /** A fixed set of examples probed at every probe instead of the minibatch (the first k of it). */
    public B referenceSet(DataSet reference) {
        checkReference(
                reference,
                reference == null ? null : reference.getFeatures(),
                reference == null ? null : reference.getLabels());
        this.reference = ProbeBatch.of(reference);
        return self();
    }

    /** A fixed multi-input/output set probed at every probe, for ComputationGraphs. */
    public B referenceSet(MultiDataSet reference) {
        checkReference(
                reference,
                reference == null ? null : reference.getFeatures(),
                reference == null ? null : reference.getLabels());
        this.reference = ProbeBatch.of(reference);
        return self();
    }

    private static void checkReference(Object set, Object features, Object labels) {
        if (set == null || features == null || labels == null) {
            throw new IllegalArgumentException("referenceSet must have features and labels, got "
                    + (set == null ? "null" : features == null ? "no features" : "no labels"));
        }
    }

    /** Top eigenvalues written per record (default 10); at least 1. */
    public B topR(int r) {
        this.topR = NoiseProbe.Config.checkTopR(r);
        return self();
    }

    /** Seed for RANDOM selection (default 12345); written into every record. */
    public B seed(long seed) {
        this.seed = seed;
        return self();
    }

    /**
     * Cap in bytes (default 512 MiB) on the k×d gradient block plus, on the batched path, the pass's temporaries
     * (activations, im2col patches, recurrent states: k·(d + t)·width); over it k is reduced with one warning.
     */
    public B memoryBudgetBytes(long bytes) {
        this.memoryBudgetBytes = NoiseProbe.Config.checkMemoryBudget(bytes);
        return self();
    }

    /**
     * How the training data is drawn, for the temperature: WITH_REPLACEMENT needs no N; WITHOUT_REPLACEMENT
     * needs the data set size N (at least 1). Default UNKNOWN: an sgdnoise sampler
     * ({@code WithReplacementSampler}, {@code WithoutReplacementSampler}) says it by itself; otherwise the
     * temperature is null.
     */
    public B sampling(SamplingScheme scheme, long datasetSize) {
        NoiseProbe.Config.checkSampling(scheme, datasetSize);
        this.sampling = scheme;
        this.datasetSize = datasetSize > 0 ? datasetSize : -1;
        return self();
    }

    /** ℓ of the streaming Frequent Directions sketch of D (default 64; memory 2ℓ·d values); 0: off. */
    public B sketchSize(int ell) {
        this.sketchSize = NoiseProbe.Config.checkSketchSize(ell);
        return self();
    }

    /**
     * Probes after which a probe's weight in the sketch halves (default 20); {@code Double.POSITIVE_INFINITY}
     * never forgets (and does not follow a drifting D).
     */
    public B sketchHalfLife(double probes) {
        this.sketchHalfLife = NoiseProbe.Config.checkSketchHalfLife(probes);
        return self();
    }

    /** PER_PROBE (default: D at each probe's time) or GLOBAL centring of the sketched gradients. */
    public B sketchCentring(DiffusionSketch.Centring centring) {
        if (centring == null) {
            throw new IllegalArgumentException("sketchCentring must be PER_PROBE or GLOBAL, got null");
        }
        this.sketchCentring = centring;
        return self();
    }

    /**
     * Every {@code probes}-th probe (the first included) also computes, at the probe's parameters, the top
     * {@code top} eigenvalues of the Hessian of the mean loss over {@code examples} (plus the model's L2 terms) by
     * Lanczos, and, with that probe's own per-example gradients, the relative commutator of H and D in the top
     * Hessian eigenspace, the overlap of their top subspaces and the trace cosine (record keys {@code hessian_*},
     * null in the other records; {@link NoiseProbe.CurvatureConfig}). Training is untouched: the Hessian is taken
     * on a private copy of the network in double.
     *
     * <p>Cost per curvature probe: the Lanczos steps (typically 2r–4r plus a few dozen, at most max(100, r)) plus r
     * Hessian-vector products, each two forward-backward passes over the examples in double, so a few hundred
     * gradient passes over {@code examples}: keep the set small (a few hundred examples). The time is part of the
     * probe's ({@code probe_ms}, {@code hessian_ms}), so the overhead budget sees it and stretches the probe interval
     * when needed. Off by default.
     *
     * @param probes n ≥ 1: curvature at probes 0, n, 2n, ... (completed probes, not iterations)
     * @param examples the examples of the Hessian, at least one, with labels; held by reference
     * @param top r ≥ 1, the Hessian eigenvalues recorded (capped by the number of parameters)
     */
    public B curvatureEvery(int probes, DataSet examples, int top) {
        Options.atLeast("curvatureEvery probes", probes, 1);
        checkCurvatureExamples(
                examples,
                examples == null ? null : examples.getFeatures(),
                examples == null ? null : examples.getLabels());
        return curvatureEvery(probes, ProbeBatch.of(examples), top);
    }

    /** As {@link #curvatureEvery(int, DataSet, int)}, with multi-input/output examples for ComputationGraphs. */
    public B curvatureEvery(int probes, MultiDataSet examples, int top) {
        Options.atLeast("curvatureEvery probes", probes, 1);
        checkCurvatureExamples(
                examples,
                examples == null ? null : examples.getFeatures(),
                examples == null ? null : examples.getLabels());
        return curvatureEvery(probes, ProbeBatch.of(examples), top);
    }

    private B curvatureEvery(int probes, ProbeBatch examples, int top) {
        Options.atLeast("curvatureEvery top", top, 1);
        this.curvature = new NoiseProbe.CurvatureConfig(probes, top);
        this.curvatureExamples = examples;
        return self();
    }

    private static void checkCurvatureExamples(Object set, Object features, Object labels) {
        if (set == null || features == null || labels == null) {
            throw new IllegalArgumentException("curvatureEvery examples must have features and labels, got "
                    + (set == null ? "null" : features == null ? "no features" : "no labels"));
        }
        long n = set instanceof DataSet ds
                ? ds.getFeatures().size(0)
                : ((MultiDataSet) set).getFeatures(0).size(0);
        if (n < 1) {
            throw new IllegalArgumentException("curvatureEvery examples must hold at least 1 example, got " + n);
        }
    }
}

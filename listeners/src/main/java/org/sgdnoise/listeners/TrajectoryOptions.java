package org.sgdnoise.listeners;

import static org.sgdnoise.listeners.TrajectoryListener.DEFAULT_ANALYZE_EVERY;
import static org.sgdnoise.listeners.TrajectoryListener.DEFAULT_CAPACITY;
import static org.sgdnoise.listeners.TrajectoryListener.DEFAULT_DIMENSIONS;
import static org.sgdnoise.listeners.TrajectoryListener.DEFAULT_GATE_TOLERANCE;
import static org.sgdnoise.listeners.TrajectoryListener.DEFAULT_RECORD_EVERY;
import static org.sgdnoise.listeners.TrajectoryListener.DEFAULT_SEED;

import java.nio.file.Path;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.curvature.CirculationPrediction;
import org.sgdnoise.listeners.TrajectoryListener.Config;
import org.sgdnoise.probe.NoiseProbe;
import org.sgdnoise.trajectory.LoopStatistics;
import org.sgdnoise.trajectory.TrajectoryRecorder.Basis;

/**
 * What a {@link TrajectoryListener} records and how it analyses it: the options behind
 * {@link TrajectoryListener.Config}, each validated when set, and together by {@link #config()}.
 *
 * @param <B> the concrete builder
 */
abstract class TrajectoryOptions<B extends TrajectoryOptions<B>> extends ListenerBuilder<B> {

    private int recordEvery = DEFAULT_RECORD_EVERY;
    private Integer analyzeEvery; // null: the default, rounded up to a multiple of recordEvery
    private Integer dimensions; // null: the default, or the DiffusionListener's topR when that is smaller
    private Basis basis = Basis.RANDOM;
    DiffusionListener diffusion;
    INDArray fixedBasis; // the FIXED basis, m×d double
    DataSet hessianExamples; // the examples of the HESSIAN basis
    private int basisRefresh;
    private int capacity = DEFAULT_CAPACITY;
    private LoopStatistics detector = LoopStatistics.defaults();
    private long seed = DEFAULT_SEED;
    Path file;
    private double gateTolerance = DEFAULT_GATE_TOLERANCE;
    private Boolean earlyAnalyses; // null: on with the default analyzeEvery, off with one that was set
    CirculationPrediction prediction; // the linearised model's prediction in the basis's coordinates, or null

    /** Record every n iterations (default 1). */
    public B recordEvery(int iterations) {
        this.recordEvery = Options.atLeast("recordEvery", iterations, 1);
        return self();
    }

    /**
     * Analyse every n iterations, a multiple of {@link #recordEvery} (default 2,000, rounded up to a multiple of
     * {@code recordEvery}); an analysis falls on every {@code n / recordEvery}-th recorded step.
     */
    public B analyzeEvery(int iterations) {
        this.analyzeEvery = Options.atLeast("analyzeEvery", iterations, 1);
        return self();
    }

    /**
     * Also analyse after {@value TrajectoryListener#EARLY_ANALYSIS_FIRST}, 200, 400, … iterations, below
     * {@code analyzeEvery} (default: on with the default {@code analyzeEvery}, off when it was set), so that a short
     * run gets verdicts before the first regular analysis.
     */
    public B earlyAnalyses(boolean on) {
        this.earlyAnalyses = on;
        return self();
    }

    /** Number of projection directions m (default 16, at most the DiffusionListener's topR; at least 2). */
    public B dimensions(int m) {
        this.dimensions = Options.atLeast("dimensions", m, 2);
        return self();
    }

    /** Project onto a DiffusionListener's top eigenvectors, re-taken every {@code refresh} records (0: never). */
    public B diffusionBasis(DiffusionListener source, int refresh) {
        Options.notNull("diffusionBasis source", source);
        if (refresh < 0) {
            throw new IllegalArgumentException(
                    "diffusionBasis refresh must be >= 0 records (0: never), got " + refresh);
        }
        this.basis = Basis.DIFFUSION;
        this.diffusion = source;
        this.basisRefresh = refresh;
        return self();
    }

    /**
     * Project onto directions of the user's, fixed: {@code rows} m×d, orthonormal (for example the top Hessian
     * eigenvectors of a {@code curvature} run). d must be the model's number of trained parameters (checked at the
     * first record). The rows are copied.
     *
     * @throws IllegalArgumentException when there are fewer than 2 rows, rows of different lengths, values that
     *     are not finite, or rows that are not orthonormal (to 1e-6)
     */
    public B fixedBasis(double[][] rows) {
        Options.notNull("fixedBasis rows", rows);
        if (rows.length < 2) {
            throw new IllegalArgumentException("fixedBasis needs at least 2 rows, got " + rows.length);
        }
        for (int i = 0; i < rows.length; i++) {
            if (rows[i] == null || rows[i].length != rows[0].length) {
                throw new IllegalArgumentException("fixedBasis rows must have one length, row " + i + " has "
                        + (rows[i] == null ? "none" : rows[i].length) + ", row 0 " + rows[0].length);
            }
            for (int j = 0; j <= i; j++) {
                double dot = 0;
                for (int c = 0; c < rows[i].length; c++) {
                    dot += rows[i][c] * rows[j][c];
                }
                double off = Math.abs(dot - (i == j ? 1 : 0));
                if (!(off <= 1e-6)) {
                    throw new IllegalArgumentException(
                            "fixedBasis rows must be orthonormal: row " + i + " · row " + j + " = " + dot);
                }
            }
        }
        this.basis = Basis.FIXED;
        this.fixedBasis = Nd4j.createFromArray(rows);
        this.dimensions = rows.length;
        return self();
    }

    /**
     * Project onto the rows of a {@code .npy} file (m×d, the basis a {@code curvature} run writes), as
     * {@link #fixedBasis(double[][])}.
     *
     * @throws IllegalArgumentException when the file cannot be read or is not an m×d array of orthonormal rows
     */
    public B fixedBasis(Path npy) {
        Options.notNull("fixedBasis file", npy);
        INDArray a;
        try {
            a = Nd4j.createFromNpyFile(npy.toFile());
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("fixedBasis: cannot read " + npy + " as a .npy array: " + e, e);
        }
        if (a.rank() != 2) {
            throw new IllegalArgumentException(
                    "fixedBasis: " + npy + " must hold an m×d array, got shape " + Arrays.toString(a.shape()));
        }
        return fixedBasis(a.castTo(DataType.DOUBLE).toDoubleMatrix());
    }

    /**
     * Project onto the top m eigenvectors of the Hessian of the mean loss over {@code examples} (plus the model's
     * L2 terms) at the current parameters, computed by Lanczos on a private double copy at the first record and
     * re-taken every {@code refresh} records (0: never; each re-take starts a segment). Each computation costs
     * tens of Hessian-vector products, two gradient passes over the examples each: it counts against the
     * overhead budget like any record.
     */
    public B hessianBasis(DataSet examples, int refresh) {
        Options.notNull("hessianBasis examples", examples);
        if (examples.numExamples() < 1) {
            throw new IllegalArgumentException("hessianBasis needs at least 1 example, got 0");
        }
        if (refresh < 0) {
            throw new IllegalArgumentException("hessianBasis refresh must be >= 0 records (0: never), got " + refresh);
        }
        this.basis = Basis.HESSIAN;
        this.hessianExamples = examples;
        this.basisRefresh = refresh;
        return self();
    }

    /**
     * Project onto the top m principal directions of the trailing {@code window} steps of θ, re-taken every
     * window (each re-take starts a segment). Costs a sketch of 2m rows of d values.
     */
    public B pcaBasis(int window) {
        if (window < 2) {
            throw new IllegalArgumentException("pcaBasis window must be >= 2 records, got " + window);
        }
        this.basis = Basis.PCA;
        this.basisRefresh = window;
        return self();
    }

    /** Ring buffer rows (default 10,000); the analysis window is at most this long. */
    public B capacity(int rows) {
        this.capacity = Options.atLeast("capacity", rows, 2);
        return self();
    }

    /** The loop detector (default {@link LoopStatistics#defaults()}). */
    public B detector(LoopStatistics detector) {
        this.detector = Options.notNull("detector", detector);
        return self();
    }

    /** Seed of the random basis (default 12345); written into every record as {@code basis_seed}. */
    public B seed(long seed) {
        this.seed = seed;
        return self();
    }

    /** Stream every recorded step to a CSV file (replaced), one whole line per step. */
    public B trajectoryFile(Path path) {
        this.file = Options.notNull("trajectoryFile", path);
        return self();
    }

    /** |ratio − 1| beyond which plain SGD's window is NOT_STATIONARY (default 0.5); infinite disables. */
    public B gateTolerance(double tolerance) {
        if (!(tolerance > 0)) {
            throw new IllegalArgumentException("gateTolerance must be > 0, got " + tolerance);
        }
        this.gateTolerance = tolerance;
        return self();
    }

    /**
     * Puts the linearised SGD model's prediction beside every analysis (default none): the records gain
     * {@code predicted_max_rate}, {@code predicted_rate_in_plane}, {@code predicted_sd_in_plane},
     * {@code predicted_steps_for_snr4} and {@code more_steps_for_snr4}, and the INFO line says, when the verdict is
     * not LOOP, how many more steps the prediction needs for signal-to-noise 4 (see
     * {@link org.sgdnoise.trajectory.LoopPrediction} for the units and the plane). The prediction must be in the
     * recorded coordinates: use it with a {@link #fixedBasis fixed basis} from the same {@code curvature} run, or
     * a {@link #hessianBasis Hessian basis} of the same m (its eigenvectors' signs may differ from the
     * prediction's, which can flip the sign of the in-plane rate). Checked at build(): a FIXED or HESSIAN basis
     * whose m is the prediction's dimension; with momentum, {@code recordEvery} 1.
     */
    public B prediction(CirculationPrediction p) {
        this.prediction = Options.notNull("prediction", p);
        return self();
    }

    /** The validated configuration of these options, checked together (a diffusion basis against its listener). */
    Config config() {
        int m = dimensions == null ? DEFAULT_DIMENSIONS : dimensions;
        if (prediction != null) {
            checkPrediction(prediction, basis, basis == Basis.FIXED ? (int) fixedBasis.rows() : m, recordEvery);
        }
        if (basis == Basis.FIXED && m != fixedBasis.rows()) {
            throw new IllegalArgumentException(
                    "dimensions must be the fixed basis's " + fixedBasis.rows() + " rows, got " + m);
        }
        if (basis == Basis.DIFFUSION) {
            checkDiffusionBasis(diffusion.config().probe(), dimensions);
            m = dimensions == null
                    ? Math.min(DEFAULT_DIMENSIONS, diffusion.config().probe().topR())
                    : m;
        }
        int analyses = analyzeEvery != null
                ? analyzeEvery
                : (DEFAULT_ANALYZE_EVERY + recordEvery - 1) / recordEvery * recordEvery;
        return new Config(
                recordEvery,
                analyses,
                m,
                basis,
                basisRefresh,
                capacity,
                detector,
                seed,
                gateTolerance,
                failFast,
                disableAfter,
                overheadBudget,
                earlyAnalyses != null ? earlyAnalyses : analyzeEvery == null);
    }

    /** The checks a prediction must pass to be put beside the analyses. */
    private static void checkPrediction(CirculationPrediction p, Basis basis, int m, int recordEvery) {
        if (basis != Basis.FIXED && basis != Basis.HESSIAN) {
            throw new IllegalArgumentException("prediction needs a fixed or Hessian basis (its coordinates must be "
                    + "the prediction's), got a " + basis.name().toLowerCase(java.util.Locale.ROOT)
                    + " basis: add fixedBasis(...) or hessianBasis(...)");
        }
        if (p.dimension() != m) {
            throw new IllegalArgumentException("prediction must have the basis's dimension m = " + m + ", got "
                    + p.dimension() + ": predict in the same " + m + " directions the listener records");
        }
        if (p.model().momentum() != 0 && recordEvery != 1) {
            throw new IllegalArgumentException("a prediction with momentum needs recordEvery 1 (with momentum the "
                    + "position observed every k steps is not modelled), got recordEvery " + recordEvery);
        }
    }

    /** The checks a DiffusionListener must pass to give a trajectory basis. */
    private static void checkDiffusionBasis(NoiseProbe.Config probe, Integer dimensions) {
        if (probe.sketchSize() == 0) {
            throw new IllegalArgumentException("the DiffusionListener's sketchSize must be >= 2 for a trajectory "
                    + "basis (its sketch gives the eigenvectors), got 0");
        }
        if (probe.topR() < 2) {
            throw new IllegalArgumentException(
                    "the DiffusionListener's topR must be >= 2 for a trajectory basis, got " + probe.topR());
        }
        if (dimensions != null && dimensions > probe.topR()) {
            throw new IllegalArgumentException("dimensions must be <= the DiffusionListener's topR (" + probe.topR()
                    + ") for a diffusion basis, got " + dimensions);
        }
    }
}

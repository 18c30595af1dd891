package org.sgdnoise.trajectory;

import java.io.Serializable;
import java.nio.DoubleBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.sketch.DiffusionSketch;

/**
 * One worker's SGD trajectory: θ_{t+1} (the trained parameters of {@link ParameterLayout}) projected onto m
 * orthonormal directions, kept in a ring buffer of {@link TrajectoryRow}s, split into segments at each change of
 * basis, and analysed for loops on the latest window of the current segment. Reads parameters only.
 *
 * <p>Directions ({@link Basis}): a seeded random basis fixed at the first record; the top eigenvectors of D or
 * of the Hessian, taken when they first exist and re-taken every {@code basisRefresh} records; directions given
 * by the user, fixed; or PCA of a trailing window of θ (a decayed, globally centred Frequent Directions sketch of
 * the parameters, 2m rows), re-taken every window. D's, the Hessian's and the user's directions come from the
 * caller ({@code externalVectors}), asked for only when a basis is due.
 *
 * <p>Memory: the basis (m·d values), θ_0, θ_t and θ_{t+1} (3·d), and the ring ({@code capacity·(m + 8)} doubles);
 * with PCA a sketch of 2m rows of d. Not thread-safe: one recorder per worker thread.
 */
public final class TrajectoryRecorder {

    /** Where the projection directions come from. */
    public enum Basis {
        /** A seeded random orthonormal basis, fixed. */
        RANDOM,
        /** The top eigenvectors of the DiffusionListener's sketch of D. */
        DIFFUSION,
        /** PCA of the trailing trajectory, re-taken every window. */
        PCA,
        /** Directions given by the user (for example a {@code curvature} basis file), fixed. */
        FIXED,
        /** The top Hessian eigenvectors, computed by the listener and re-taken every {@code basisRefresh} records. */
        HESSIAN
    }

    /**
     * What a recorder needs to know.
     *
     * @param dimensions m, the number of directions
     * @param basis where the directions come from
     * @param basisRefresh records between re-takes of a DIFFUSION basis (0: never), or the PCA window
     * @param capacity rows of the ring buffer
     * @param seed seed of the RANDOM basis
     */
    public record Settings(int dimensions, Basis basis, int basisRefresh, int capacity, long seed) {}

    /**
     * The result of one analysis of the current window.
     *
     * @param loop the loop detector's analysis (its verdict gated for plain SGD when {@code gateApplied})
     * @param stationarityRatio {@code 2⟨θ_t·u_t⟩/⟨|u_t|²⟩} over the window (1 at steady state for plain SGD)
     * @param gateApplied true when the stationarity gate was part of the verdict
     * @param segment the segment analysed
     * @param distance {@code |θ − θ_0|} at the newest row, NaN for an empty window
     * @param every iterations between the rows of the window
     * @param prediction the linearised model's prediction beside the measurement, or null when none was given
     */
    public record Analysis(
            LoopAnalysis loop,
            double stationarityRatio,
            boolean gateApplied,
            int segment,
            double distance,
            int every,
            LoopPrediction prediction) {

        /** The same analysis with a prediction beside it. */
        public Analysis withPrediction(LoopPrediction p) {
            return new Analysis(loop, stationarityRatio, gateApplied, segment, distance, every, p);
        }

        /**
         * The INFO line: iteration, epoch and loss first, then the verdict and the numbers behind it.
         *
         * @param worker the ParallelWrapper worker (named only when above 0)
         */
        public String logLine(int iteration, int epoch, int worker, double loss) {
            LoopAnalysis a = loop;
            return String.format(
                            Locale.ROOT,
                            "iteration %d epoch %d%s loss %.4g | trajectory: %s (p=%s) rate=%s±%s period=%s plane=(%s) "
                                    + "exponent=%s drift=%s fluctuation-drift=%s gate=%s tau=%s | %d steps, segment %d",
                            iteration,
                            epoch,
                            worker > 0 ? " worker " + worker : "",
                            loss,
                            a.verdict(),
                            fmt(a.pValue()),
                            fmt(a.maxRate()),
                            fmt(a.maxRateStderr()),
                            fmt(a.period()),
                            planeLabel(a),
                            fmt(a.diffusionExponent()),
                            fmt(a.subspaceDrift()),
                            fmt(a.fluctuationDrift()),
                            fmt(stationarityRatio),
                            fmt(a.correlationTime()),
                            a.steps(),
                            segment)
                    + predictionPart();
        }

        /**
         * With a prediction: the predicted rate in the measured plane and, when the verdict is not LOOP, how many
         * more steps the prediction needs for signal-to-noise 4.
         */
        private String predictionPart() {
            LoopPrediction p = prediction;
            if (p == null) {
                return "";
            }
            String part = String.format(
                    Locale.ROOT,
                    " | predicted: rate=%s in plane=%s±%s",
                    fmt(p.maxRate()),
                    fmt(p.rateInPlane()),
                    fmt(p.sdInPlane()));
            if (loop.verdict() == LoopVerdict.LOOP || Double.isNaN(p.moreStepsForSnr4())) {
                return part;
            }
            if (Double.isInfinite(p.stepsForSnr4())) {
                return part + ", no loop predicted";
            }
            if (p.moreStepsForSnr4() == 0) {
                return part + ", the window has the steps the prediction needs for SNR 4";
            }
            return part
                    + String.format(Locale.ROOT, ", the prediction needs ~%d more steps for SNR 4", (long)
                            Math.ceil(p.moreStepsForSnr4()));
        }

        private static String planeLabel(LoopAnalysis a) {
            return a.plane() == null ? "n/a" : "y" + argMax(a.plane()[0]) + ",y" + argMax(a.plane()[1]);
        }

        private static int argMax(double[] v) {
            int best = 0;
            for (int i = 1; i < v.length; i++) {
                if (Math.abs(v[i]) > Math.abs(v[best])) {
                    best = i;
                }
            }
            return best;
        }

        private static String fmt(double x) {
            return Double.isFinite(x) ? String.format(Locale.ROOT, "%.3g", x) : "n/a";
        }
    }

    private final Settings settings;
    private ParameterLayout layout;
    private INDArray basis;
    private double[] theta0;
    private double[] thetaPrev;
    private INDArray theta;
    private INDArray y;
    private TrajectoryRow[] ring;
    private long recorded;
    private int segment;
    private long segmentStart;
    private long recordsSinceBasis;
    private DiffusionSketch pca;
    private long pcaSeen;

    /** An empty trajectory. */
    public TrajectoryRecorder(Settings settings) {
        this.settings = settings;
        this.ring = new TrajectoryRow[settings.capacity()];
    }

    /** Rows recorded so far (including those overwritten in the ring). */
    public long recorded() {
        return recorded;
    }

    /** The current segment (a new basis starts a new segment). */
    public int segment() {
        return segment;
    }

    /** The rows of the ring buffer of the current segment, oldest first. */
    public List<TrajectoryRow> window() {
        int capacity = ring.length;
        long n = Math.min(Math.min(recorded, capacity), recorded - segmentStart);
        List<TrajectoryRow> out = new ArrayList<>((int) n);
        for (int i = 0; i < n; i++) {
            out.add(ring[(int) ((recorded - n + i) % capacity)]);
        }
        return out;
    }

    /**
     * Records θ_{t+1} of {@code model}.
     *
     * @param externalVectors the directions of a DIFFUSION, HESSIAN or FIXED basis as rows of d (may give null
     *     while there are none); asked for only when a new basis is due
     * @return the row, or null while there is no basis yet (PCA's first window, D's first probe)
     * @throws IllegalArgumentException when m exceeds the number of trained parameters, or the external
     *     directions are not of length d
     */
    public TrajectoryRow record(
            Model model, int iteration, int epoch, double loss, Supplier<INDArray> externalVectors) {
        return record(
                layout != null ? layout : ParameterLayout.of(model),
                theta -> layout.gather(model.params(), theta),
                iteration,
                epoch,
                loss,
                externalVectors);
    }

    /**
     * Records θ_{t+1} of a SameDiff graph, its variables laid out by {@link ParameterLayout#of(SameDiff)}; otherwise
     * as {@link #record(Model, int, int, double, Supplier)}.
     */
    public TrajectoryRow record(
            SameDiff graph, int iteration, int epoch, double loss, Supplier<INDArray> externalVectors) {
        return record(
                layout != null ? layout : ParameterLayout.of(graph),
                theta -> layout.gather(graph, theta),
                iteration,
                epoch,
                loss,
                externalVectors);
    }

    private TrajectoryRow record(
            ParameterLayout of,
            Consumer<INDArray> gather,
            int iteration,
            int epoch,
            double loss,
            Supplier<INDArray> externalVectors) {
        int m = settings.dimensions();
        try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            if (layout == null) {
                layout = of;
                if (m > layout.numParams()) {
                    throw new IllegalArgumentException(
                            "dimensions must be <= the trained parameters d = " + layout.numParams() + ", got " + m);
                }
                theta = Nd4j.create(DataType.DOUBLE, 1, layout.numParams());
                y = Nd4j.create(DataType.DOUBLE, new long[] {m, 1}, 'f');
            }
            gather.accept(theta);
            DoubleBuffer now = theta.data().asNioDouble(); // a view of θ_{t+1}, no copy
            if (theta0 == null) {
                theta0 = new double[(int) layout.numParams()];
                now.get(0, theta0);
                thetaPrev = theta0.clone();
            }
            if (settings.basis() == Basis.PCA) {
                if (pca == null) {
                    pca = new DiffusionSketch(
                            layout.numParams(),
                            2 * m,
                            settings.basisRefresh() / 2.0,
                            DiffusionSketch.Centring.GLOBAL,
                            DataType.DOUBLE);
                }
                // One row, centred on itself (zero); the correction row against the running mean carries it.
                pca.addProbe(Nd4j.zeros(DataType.DOUBLE, 1, layout.numParams()), theta);
                pcaSeen++;
            }
            if (basisDue()) {
                newBasis(externalVectors);
            }
            if (basis == null) {
                now.get(0, thetaPrev);
                return null;
            }
            if (recorded - segmentStart >= 2) {
                // A segment has one spacing: rows that come at another (an interval stretched by an overhead
                // budget, a gap) start a new one, so that no analysis mixes time steps.
                int last = ring[(int) ((recorded - 1) % ring.length)].iteration();
                int before = ring[(int) ((recorded - 2) % ring.length)].iteration();
                if (iteration - last != last - before) {
                    startSegment();
                }
            }
            // One pass over θ for u = θ_t − θ_{t+1}, |u|², θ_t·u and |θ_{t+1} − θ_0|², then y = Bθ by one GEMV
            // into a preallocated vector.
            Steps st = steps(now, thetaPrev, theta0);
            double step = Math.sqrt(st.updateSq());
            double thetaDotU = st.thetaDotUpdate();
            double dist = Math.sqrt(st.distanceSq());
            Nd4j.gemm(basis, theta, y, false, true, 1.0, 0.0);
            TrajectoryRow row = new TrajectoryRow(
                    iteration, epoch, segment, loss, dist, step, thetaDotU, step * step, y.toDoubleVector());
            ring[(int) (recorded % ring.length)] = row;
            recorded++;
            recordsSinceBasis++;
            return row;
        }
    }

    private record Steps(double updateSq, double thetaDotUpdate, double distanceSq) {}

    /** The step's sums in one pass, four partial sums each; {@code prev} becomes θ_{t+1}. */
    private static Steps steps(DoubleBuffer now, double[] prev, double[] origin) {
        double[] uu = new double[4];
        double[] tu = new double[4];
        double[] dd = new double[4];
        int n = prev.length;
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            for (int l = 0; l < 4; l++) {
                double t = now.get(i + l);
                double p = prev[i + l];
                double u = p - t;
                double e = t - origin[i + l];
                uu[l] += u * u;
                tu[l] += p * u;
                dd[l] += e * e;
                prev[i + l] = t;
            }
        }
        for (; i < n; i++) {
            double t = now.get(i);
            double u = prev[i] - t;
            double e = t - origin[i];
            uu[0] += u * u;
            tu[0] += prev[i] * u;
            dd[0] += e * e;
            prev[i] = t;
        }
        return new Steps(uu[0] + uu[1] + uu[2] + uu[3], tu[0] + tu[1] + tu[2] + tu[3], dd[0] + dd[1] + dd[2] + dd[3]);
    }

    private boolean basisDue() {
        int refresh = settings.basisRefresh();
        return switch (settings.basis()) {
            case PCA -> basis == null ? pcaSeen >= refresh : recordsSinceBasis >= refresh;
            case RANDOM, FIXED -> basis == null;
            case DIFFUSION, HESSIAN -> basis == null || refresh > 0 && recordsSinceBasis >= refresh;
        };
    }

    private void newBasis(Supplier<INDArray> externalVectors) {
        int m = settings.dimensions();
        long d = layout.numParams();
        if (settings.basis() == Basis.RANDOM) {
            startSegment();
            basis = TrajectoryBases.random(m, d, settings.seed());
            return;
        }
        INDArray v = settings.basis() == Basis.PCA ? pca.estimate(m, true).vectors() : externalVectors.get();
        if (v == null) {
            return; // no direction yet: keep the current basis (or none)
        }
        if (v.columns() != d) {
            throw new IllegalArgumentException("the " + settings.basis().name().toLowerCase(java.util.Locale.ROOT)
                    + " basis has rows of " + v.columns() + " values, the model has d = " + d
                    + " trained parameters");
        }
        startSegment();
        basis = TrajectoryBases.fromRows(v, m, d);
    }

    private void startSegment() {
        if (basis != null) {
            segment++;
        }
        segmentStart = recorded;
        recordsSinceBasis = 0;
    }

    /**
     * Runs {@code detector} on the current window, whose rows are the segment's spacing apart ({@code every}
     * iterations when the window has fewer than two rows). For plain SGD
     * ({@code plainSgd}) the stationarity gate (Yaida 2018: {@code 2⟨θ_t·u_t⟩/⟨|u_t|²⟩ ≈ 1} at steady state) is
     * added to the detector's checks: a ratio further than {@code gateTolerance} from 1 gives NOT_STATIONARY.
     */
    public Analysis analyze(LoopStatistics detector, int every, boolean plainSgd, double gateTolerance) {
        List<TrajectoryRow> w = window();
        double[][] y = new double[w.size()][];
        double dotSum = 0;
        double sqSum = 0;
        for (int i = 0; i < w.size(); i++) {
            y[i] = w.get(i).y();
            if (i > 0) {
                dotSum += w.get(i).thetaDotUpdate();
                sqSum += w.get(i).updateSq();
            }
        }
        if (w.size() >= 2) {
            every = w.get(1).iteration() - w.get(0).iteration();
        }
        LoopAnalysis a = detector.analyze(y, every);
        double ratio = sqSum > 0 ? 2 * dotSum / sqSum : Double.NaN;
        boolean gated = plainSgd && Double.isFinite(a.maxRate());
        if (gated) {
            a = a.withVerdict(detector.gatedVerdict(a, ratio, gateTolerance));
        }
        return new Analysis(
                a,
                ratio,
                gated,
                segment,
                w.isEmpty() ? Double.NaN : w.get(w.size() - 1).distance(),
                every,
                null);
    }

    /**
     * What a checkpoint keeps of a recorder: vectors in double, as it holds them.
     *
     * @param basis the basis rows, or null
     * @param theta0 θ_0, or null
     * @param thetaPrev the last θ, or null
     * @param ring the ring buffer (null entries not yet written)
     * @param recorded rows recorded
     * @param segment the current segment
     * @param segmentStart the row at which it started
     * @param recordsSinceBasis rows since the basis was taken
     * @param pca the PCA sketch, or null
     * @param pcaSeen rows the PCA sketch has seen
     */
    public record State(
            double[][] basis,
            double[] theta0,
            double[] thetaPrev,
            TrajectoryRow[] ring,
            long recorded,
            int segment,
            long segmentStart,
            long recordsSinceBasis,
            DiffusionSketch pca,
            long pcaSeen)
            implements Serializable {}

    /** The state to save beside a checkpoint. */
    public State state() {
        return new State(
                basis == null ? null : basis.toDoubleMatrix(),
                theta0 == null ? null : theta0.clone(),
                thetaPrev == null ? null : thetaPrev.clone(),
                ring.clone(),
                recorded,
                segment,
                segmentStart,
                recordsSinceBasis,
                pca,
                pcaSeen);
    }

    /** Continues from a saved state; the layout is found again at the next record. */
    public void restore(State s) {
        if (s.ring().length != settings.capacity()) {
            throw new IllegalArgumentException(
                    "the saved ring holds " + s.ring().length + " rows, the capacity is " + settings.capacity());
        }
        basis = s.basis() == null ? null : Nd4j.createFromArray(s.basis());
        theta0 = s.theta0() == null ? null : s.theta0().clone();
        thetaPrev = s.thetaPrev() == null ? null : s.thetaPrev().clone();
        ring = s.ring().clone();
        recorded = s.recorded();
        segment = s.segment();
        segmentStart = s.segmentStart();
        recordsSinceBasis = s.recordsSinceBasis();
        pca = s.pca();
        pcaSeen = s.pcaSeen();
    }
}

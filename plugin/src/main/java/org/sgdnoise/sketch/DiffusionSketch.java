package org.sgdnoise.sketch;

import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A streaming estimate of the noise covariance D from probe after probe of per-example gradients: a
 * {@link FrequentDirections} sketch of the centred gradients, normalised by the (decayed) number of
 * gradients so that its eigenvalues estimate D in the with-replacement normalisation (A1).
 *
 * <p>Centring: {@link Centring#PER_PROBE} (default) centres each probe on its own mean, so the sketch
 * estimates the average over probes of "D at time t" (normalised by Σk, it averages the probes' plug-in
 * D_k, which are low by (k − 1)/k, like {@code DiffusionStats.trace}); {@link Centring#GLOBAL} centres on the running
 * mean of all gradients, exactly, by adding Chan's correction row {@code √(n_a n_b/(n_a + n_b))·(μ_b −
 * μ_a)} per probe (theory.md §4); it also mixes in the drift of ḡ and keeps one more d-vector (the mean).
 *
 * <p>Forgetting: before each probe the past is multiplied by γ = 0.5^(1/halfLife) (halfLife in probes;
 * infinite for γ = 1, which does not follow a drifting D). Memory: the sketch's, plus d values for
 * GLOBAL. Not thread-safe.
 */
public final class DiffusionSketch implements Serializable {

    private static final long serialVersionUID = 1L;

    /** How gradients are centred before they enter the sketch. */
    public enum Centring {
        /** On each probe's own mean: D at the time of each probe, averaged. */
        PER_PROBE,
        /** On the running mean of all gradients (Chan's correction). */
        GLOBAL
    }

    private final FrequentDirections fd;
    private final double gamma;
    private final double halfLife;
    private final Centring centring;
    private double gradients;
    private transient INDArray mean;
    private double[] meanState;

    /**
     * Creates an empty estimate.
     *
     * @param d number of parameters
     * @param ell sketch size ℓ (buffer ℓ + ℓ rows)
     * @param halfLifeProbes probes after which a probe's weight halves; {@code Double.POSITIVE_INFINITY}
     *     for no forgetting
     */
    public DiffusionSketch(long d, int ell, double halfLifeProbes, Centring centring, DataType dataType) {
        if (!(halfLifeProbes > 0)) {
            throw new IllegalArgumentException("halfLifeProbes must be > 0 (or infinite), got " + halfLifeProbes);
        }
        if (centring == null) {
            throw new IllegalArgumentException("centring must not be null");
        }
        this.fd = new FrequentDirections(d, ell, ell, dataType);
        this.halfLife = halfLifeProbes;
        this.gamma = gammaForHalfLife(halfLifeProbes);
        this.centring = centring;
    }

    /** γ = 0.5^(1/halfLife); 1 for an infinite half-life. */
    public static double gammaForHalfLife(double halfLifeProbes) {
        return Double.isInfinite(halfLifeProbes) ? 1.0 : Math.pow(0.5, 1.0 / halfLifeProbes);
    }

    /** The underlying sketch (of the unnormalised centred gradients). */
    public FrequentDirections sketch() {
        return fd;
    }

    /** The decay factor γ per probe. */
    public double gamma() {
        return gamma;
    }

    /** The half-life in probes (infinite for none). */
    public double halfLife() {
        return halfLife;
    }

    /** The centring mode. */
    public Centring centring() {
        return centring;
    }

    /** Gradients absorbed, decayed: {@code Σ γ^age · k}. */
    public double gradients() {
        return gradients;
    }

    /**
     * Adds one probe. Not modified: {@code centred}, {@code probeMean}.
     *
     * @param centred the probe's gradients centred on their own mean, k×d
     * @param probeMean the probe's mean gradient (1×d or d); required for GLOBAL, ignored otherwise
     */
    public void addProbe(INDArray centred, INDArray probeMean) {
        if (centred.rank() != 2 || centred.columns() != fd.dimension()) {
            throw new IllegalArgumentException(
                    "rows must be k x " + fd.dimension() + ", got shape " + Arrays.toString(centred.shape()));
        }
        begin(centred.rows(), probeMean);
        fd.insert(centred);
    }

    /**
     * Adds one probe whose k centred gradients are written a column block at a time (so they need never
     * exist as a k×d block). Not modified: {@code probeMean}.
     *
     * @param probeMean the probe's mean gradient (1×d or d); required for GLOBAL, ignored otherwise
     */
    public void addProbe(int k, FrequentDirections.Rows centred, INDArray probeMean) {
        begin(k, probeMean);
        fd.insert(k, centred);
    }

    /** Decays the sketch, inserts GLOBAL centring's correction row and counts the probe's k gradients. */
    private void begin(long k, INDArray probeMean) {
        fd.decay(gamma);
        if (centring == Centring.GLOBAL) {
            if (probeMean == null) {
                throw new IllegalArgumentException("GLOBAL centring needs the probe mean");
            }
            try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
                INDArray mu = probeMean.reshape(1, fd.dimension()).castTo(fd.dataType());
                double prior = gradients * gamma;
                if (mean == null) {
                    mean = mu.dup();
                } else if (prior > 0) {
                    double scale = Math.sqrt(prior * k / (prior + k));
                    fd.insert(mu.sub(mean).muli(scale));
                    mean.muli(prior / (prior + k)).addi(mu.mul(k / (prior + k)));
                } else {
                    mean.assign(mu);
                }
            }
        }
        gradients = gamma * gradients + k;
    }

    /** Merges another estimate of the same d and centring (for partitioned data at the same weights). */
    public void merge(DiffusionSketch other) {
        if (other.centring != centring) {
            throw new IllegalArgumentException("cannot merge " + centring + " and " + other.centring + " sketches");
        }
        if (centring == Centring.GLOBAL && mean != null && other.mean != null) {
            double na = gradients;
            double nb = other.gradients;
            if (na > 0 && nb > 0) {
                fd.insert(other.mean.sub(mean).muli(Math.sqrt(na * nb / (na + nb))));
                mean.muli(na / (na + nb)).addi(other.mean.mul(nb / (na + nb)));
            }
        } else if (mean == null && other.mean != null) {
            mean = other.mean.dup();
        }
        fd.merge(other.fd);
        gradients += other.gradients;
    }

    /**
     * The current estimate of D: eigenvalues λ̂_i/n (descending) with certified intervals
     * [λ̂_i/n, (λ̂_i + Δ)/n], n the decayed gradient count, and optionally the top r eigenvectors.
     */
    public Estimate estimate(int r, boolean withVectors) {
        FrequentDirections.Eigen e = fd.eigen(r, withVectors);
        double n = gradients > 0 ? gradients : Double.NaN;
        double[] values = e.values().clone();
        for (int i = 0; i < values.length; i++) {
            values[i] /= n;
        }
        return new Estimate(values, e.delta() / n, gradients, e.vectors());
    }

    /**
     * An estimate of D from the sketch.
     *
     * @param eigenvalues estimated eigenvalues of D, descending (lower ends of the certified intervals)
     * @param delta Δ/n: each true eigenvalue of the sketched D lies in [λ̂_i, λ̂_i + delta]
     * @param gradients the decayed number of gradients behind it
     * @param vectors top eigenvectors as rows (r×d), or null
     */
    public record Estimate(double[] eigenvalues, double delta, double gradients, INDArray vectors) {

        /** Upper ends of the intervals. */
        public double[] upper() {
            double[] u = eigenvalues.clone();
            for (int i = 0; i < u.length; i++) {
                u[i] += delta;
            }
            return u;
        }

        /**
         * True when Δ is below the r-th eigengap {@code λ̂_r − λ̂_{r+1}}: the top-r subspace is then
         * separated from the rest by more than the sketch's error.
         */
        public boolean trustworthy(int r) {
            if (r < 1 || eigenvalues.length < r) {
                return false;
            }
            double next = eigenvalues.length > r ? eigenvalues[r] : 0;
            return eigenvalues[r - 1] - next > delta;
        }
    }

    /**
     * Subspace overlap {@code ‖V_a V_bᵀ‖_F² / r} of two sets of r orthonormal rows (1: same subspace,
     * about r/d for unrelated random subspaces). Not modified: {@code a}, {@code b}.
     */
    public static double overlap(INDArray a, INDArray b) {
        int r = (int) Math.min(a.rows(), b.rows());
        if (r == 0) {
            return Double.NaN;
        }
        INDArray m = a.mmul(b.transpose()).castTo(DataType.DOUBLE);
        double s = m.norm2Number().doubleValue();
        return s * s / r;
    }

    private void writeObject(ObjectOutputStream out) throws IOException {
        meanState = mean == null ? null : mean.castTo(DataType.DOUBLE).toDoubleVector();
        out.defaultWriteObject();
    }

    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
        in.defaultReadObject();
        if (fd == null || centring == null || (meanState != null && meanState.length != fd.dimension())) {
            throw new InvalidObjectException("not a valid diffusion sketch: "
                    + (fd == null ? "no sketch" : "d=" + fd.dimension()) + ", centring " + centring + ", mean of "
                    + (meanState == null ? "none" : meanState.length + " values"));
        }
        mean = meanState == null
                ? null
                : Nd4j.createFromArray(meanState).reshape(1, meanState.length).castTo(fd.dataType());
    }
}

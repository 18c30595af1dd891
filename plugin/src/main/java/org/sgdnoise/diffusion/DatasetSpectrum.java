package org.sgdnoise.diffusion;

import java.util.Arrays;
import java.util.Locale;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.UserInputException;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.gradients.GradientBlock;
import org.sgdnoise.gradients.GradientSource;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.internal.linalg.SymmetricEigen;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * D over a whole data set at fixed weights, the paper's protocol (theory.md §2): the per-example gradients
 * of all N examples, chunk by chunk, streamed into a globally centred Frequent Directions sketch (no
 * forgetting), and optionally accumulated into the exact d×d matrix in double.
 *
 * <p>Memory: one chunk of c gradients ({@code c·d}) and a mergeable {@link DatasetSketch} (the sketch's
 * {@code 2ℓ·d} values, the running mean and the gradient sums); with exact accumulation {@code d²} doubles
 * more (the only d×d array in sgdnoise). Exact eigenvalues come from {@link SymmetricEigen}, O(d³): LAPACK in
 * that array above {@value SymmetricEigen#LAPACK_ABOVE} parameters, EJML on two d×d copies up to it. Not
 * thread-safe.
 *
 * <p>Over any DL4J iterator, with any input shape the model takes (flat rows, {@code [n, 1, 28, 28]} images
 * for a CNN, sequences), see {@link #compute}; for the JSON report, see {@link SpectrumReport}:
 *
 * <pre>{@code
 * DatasetSpectrum s = DatasetSpectrum.compute(model, iterator, DatasetSpectrum.Options.sketch(128));
 * SpectrumReport.write(SpectrumReport.of(s, "my model", "my data", seconds, Map.of()), Path.of("spectrum.json"));
 * }</pre>
 */
public final class DatasetSpectrum implements AutoCloseable {

    /** Largest d for which exact accumulation is allowed by {@link Options}: d² doubles = 3.2 GB at the limit. */
    public static final int EXACT_MAX_PARAMS = 20_000;

    /** Default sketch size ℓ of {@link Options}: 128. */
    public static final int DEFAULT_ELL = 128;

    private static final Logger log = LoggerFactory.getLogger(DatasetSpectrum.class);

    /**
     * What {@link #compute} does; validated, immutable.
     *
     * @param ell sketch size ℓ, at least 2 (the CLI's {@code --sketch-size})
     * @param exact also accumulate the exact d×d matrix in double (d at most {@link #EXACT_MAX_PARAMS})
     * @param limit use at most this many examples, the first ones; 0 for all
     * @param mode the probe mode of the per-example gradients; the paper's protocol is {@link ProbeMode#EVAL}
     */
    public record Options(int ell, boolean exact, long limit, ProbeMode mode) {

        /**
         * Validates every option, naming it, its bound and the value.
         *
         * @throws UserInputException for an option out of range
         */
        public Options {
            UserInputException.require(ell >= 2, "sketch-size must be >= 2, got " + ell);
            UserInputException.require(limit >= 0, "limit must be >= 0, got " + limit);
            UserInputException.require(mode != null, "mode must be EVAL or TRAIN, got null");
        }

        /**
         * The sketch only, of size {@code ell}, over every example, in EVAL mode.
         *
         * @param ell sketch size ℓ, at least 2
         * @return the options
         */
        public static Options sketch(int ell) {
            return new Options(ell, false, 0, ProbeMode.EVAL);
        }
    }

    private final GradientSource source;
    private final boolean exact;
    private final DatasetSketch sketched;
    private INDArray sumOuter;

    /**
     * An empty spectrum of {@code model} at its current weights; add chunks of examples with {@link #add}.
     *
     * @param model a MultiLayerNetwork or ComputationGraph; not modified
     * @param mode the probe mode of the per-example gradients
     * @param ell sketch size ℓ
     * @param exact also accumulate the exact d×d matrix (memory d² doubles)
     */
    public DatasetSpectrum(Model model, ProbeMode mode, int ell, boolean exact) {
        this(GradientSource.of(model, mode), ell, exact);
    }

    /**
     * An empty spectrum over the per-example gradients of {@code source} (a DL4J model or a SameDiff graph).
     *
     * @param ell sketch size ℓ
     * @param exact also accumulate the exact d×d matrix (memory d² doubles)
     */
    public DatasetSpectrum(GradientSource source, int ell, boolean exact) {
        this.source = source;
        this.exact = exact;
        this.sketched = new DatasetSketch(ell);
    }

    /**
     * D of {@code model} (not modified) over the examples of {@code data}, from its current position to its end
     * (or {@code options.limit()} examples): each batch the iterator serves is one chunk of per-example
     * gradients, so its batch size bounds the memory of a chunk. Features go to the model as the iterator
     * shapes them (flat rows, images, sequences, with their masks).
     *
     * <p>Progress is logged at INFO every 10 chunks.
     *
     * @param model a MultiLayerNetwork or ComputationGraph with a single input and output; not modified
     * @param data the examples; consumed (not reset before or after)
     * @param options the sketch size, exact accumulation, limit and probe mode
     * @return the spectrum, with every example added
     * @throws UserInputException when exact accumulation is asked for a model above {@link #EXACT_MAX_PARAMS}
     *     parameters, when fewer than 2 examples arrive, or when the model and the data do not fit (the message
     *     carries DL4J's)
     */
    public static DatasetSpectrum compute(Model model, DataSetIterator data, Options options) {
        return compute(GradientSource.of(model, options.mode()), data, options);
    }

    /**
     * As {@link #compute(Model, DataSetIterator, Options)}, over the per-example gradients of {@code source} (a DL4J
     * model or a SameDiff graph; {@code options.mode()} is the source's own).
     */
    public static DatasetSpectrum compute(GradientSource source, DataSetIterator data, Options options) {
        long d = source.numParams();
        if (options.exact() && d > EXACT_MAX_PARAMS) {
            throw new UserInputException("exact needs d <= " + EXACT_MAX_PARAMS
                    + " (a d x d matrix in double); this model has " + d + " parameters");
        }
        long t0 = System.nanoTime();
        long limit = options.limit() > 0 ? options.limit() : Long.MAX_VALUE;
        DatasetSpectrum spectrum = new DatasetSpectrum(source, options.ell(), options.exact());
        long chunks = 0;
        long n = 0;
        while (n < limit && data.hasNext()) {
            DataSet part = data.next();
            if (part == null || part.isEmpty()) {
                continue;
            }
            if (part.numExamples() > limit - n) {
                part = (DataSet) part.getRange(0, (int) (limit - n));
            }
            try {
                spectrum.add(ProbeBatch.of(part));
            } catch (UserInputException e) {
                throw e;
            } catch (RuntimeException e) { // a shape mismatch, from DL4J or ND4J
                throw new UserInputException("the model and the data do not fit: " + e.getMessage(), e);
            }
            n += part.numExamples();
            if (++chunks % 10 == 0 && log.isInfoEnabled()) {
                log.info(String.format(
                        Locale.ROOT,
                        "spectrum: %d examples in %d chunks, %.1f s",
                        n,
                        chunks,
                        (System.nanoTime() - t0) / 1e9));
            }
        }
        if (n < 2) {
            throw new UserInputException("the data holds " + n + " example(s); D needs at least 2");
        }
        log.info(
                "spectrum: {} examples, model with {} parameters, sketch l = {}{}",
                n,
                d,
                options.ell(),
                options.exact() ? ", exact d x d in double" : "");
        return spectrum;
    }

    /**
     * Adds every example of a chunk.
     *
     * @param chunk the examples, in the shapes the model takes
     */
    public void add(ProbeBatch chunk) {
        int[] idx = PerExampleGradients.select(ExampleSelection.FIRST, chunk.size(), chunk.size(), 0);
        try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            int done = 0;
            while (done < idx.length) {
                int[] part = Arrays.copyOfRange(idx, done, idx.length);
                GradientBlock block = source.compute(chunk, part);
                addBlock(block.rows());
                done += block.k();
                block.rows().close();
            }
        }
    }

    private void addBlock(INDArray rows) {
        if (exact) {
            long d = rows.columns();
            if (sumOuter == null) {
                sumOuter = Nd4j.zeros(DataType.DOUBLE, d, d);
            }
            INDArray asDouble = rows.castTo(DataType.DOUBLE);
            // In place (C ← C + AᵀA): a d×d temporary per chunk would be off-heap garbage of d² doubles.
            Nd4j.gemm(asDouble, asDouble, sumOuter, true, false, 1.0, 1.0);
        }
        sketched.add(rows);
    }

    /** The mergeable sketch: N, d, the exact trace and |ḡ|², the certified eigenvalue intervals. */
    public DatasetSketch sketched() {
        return sketched;
    }

    /** True when the last chunk's gradients took the batched fast path (false: the exact per-example path). */
    public boolean batched() {
        return "batched".equals(source.path());
    }

    /**
     * True when the exact d×d matrix is accumulated, so that {@link #exactEigenvalues()} is available.
     *
     * @return whether exact accumulation was requested
     */
    public boolean exact() {
        return exact;
    }

    /** Examples absorbed so far. */
    public long examples() {
        return sketched.examples();
    }

    /** The parameter count d (after the first chunk). */
    public long numParams() {
        return sketched.numParams();
    }

    /**
     * The exact eigenvalues of D = (1/N) Σ g gᵀ − ḡḡᵀ, descending, in double ({@link SymmetricEigen}).
     *
     * @throws IllegalStateException when built without exact accumulation
     */
    public double[] exactEigenvalues() {
        if (sumOuter == null) {
            throw new IllegalStateException("exact accumulation was not requested");
        }
        int d = (int) sumOuter.rows();
        long n = sketched.examples();
        INDArray mean = Nd4j.createFromArray(sketched.gradientSum()).divi(n).reshape(d, 1);
        INDArray dm = sumOuter.div(n); // one d×d copy: the exact D, overwritten by LAPACK
        Nd4j.gemm(mean, mean, dm, false, true, -1.0, 1.0);
        double[] desc = SymmetricEigen.eigenvaluesOverwriting(dm);
        dm.close();
        return desc;
    }
    /**
     * D's top m eigenvectors (orthonormal columns, d×m, in double), from the exact d×d accumulation by subspace
     * iteration: a seeded Gaussian start of m + 20 columns, five multiplications by D (each orthonormalised, modified
     * Gram–Schmidt), then Rayleigh–Ritz. For {@link SpectrumBootstrap}'s span; how much of tr D the span holds is
     * measured there. Memory: 3·d·(m + 20) doubles besides the d×d sum.
     *
     * @throws IllegalStateException when built without exact accumulation
     */
    public INDArray exactTopVectors(int m, long seed) {
        if (sumOuter == null) {
            throw new IllegalStateException("exact accumulation was not requested");
        }
        int d = (int) sumOuter.rows();
        int p = Math.min(d, m + 20);
        long n = sketched.examples();
        INDArray mean = Nd4j.createFromArray(sketched.gradientSum()).divi(n).reshape(d, 1);
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        double[][] start = new double[d][p];
        for (double[] row : start) {
            for (int j = 0; j < p; j++) {
                row[j] = gaussian(rnd);
            }
        }
        INDArray q = orthonormal(Nd4j.createFromArray(start));
        for (int it = 0; it < 5; it++) {
            INDArray y = timesD(q, mean, n);
            q.close();
            q = orthonormal(y);
            y.close();
        }
        INDArray dq = timesD(q, mean, n);
        double[][] small = q.transpose().mmul(dq).toDoubleMatrix();
        dq.close();
        SymmetricEigen e = SymmetricEigen.of(small, p, 1.0, true);
        INDArray u = Nd4j.create(DataType.DOUBLE, p, Math.min(m, p));
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < u.columns(); j++) {
                u.putScalar(i, j, e.vectors()[i][j]);
            }
        }
        INDArray v = q.mmul(u);
        q.close();
        u.close();
        return v;
    }

    /** D·x = (Σ g gᵀ)x/N − ḡ(ḡᵀx). */
    private INDArray timesD(INDArray x, INDArray mean, long n) {
        INDArray y = sumOuter.mmul(x).divi(n);
        Nd4j.gemm(mean, mean.transpose().mmul(x), y, false, false, -1.0, 1.0);
        return y;
    }

    /** Orthonormal columns spanning those of {@code y} (modified Gram–Schmidt, twice), in a new array. */
    private static INDArray orthonormal(INDArray y) {
        double[][] a = y.toDoubleMatrix(); // d×p
        int d = a.length;
        int p = a[0].length;
        double[][] cols = new double[p][d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < p; j++) {
                cols[j][i] = a[i][j];
            }
        }
        for (int pass = 0; pass < 2; pass++) {
            for (int j = 0; j < p; j++) {
                for (int k = 0; k < j; k++) {
                    double dot = 0;
                    for (int i = 0; i < d; i++) {
                        dot += cols[j][i] * cols[k][i];
                    }
                    for (int i = 0; i < d; i++) {
                        cols[j][i] -= dot * cols[k][i];
                    }
                }
                double norm = 0;
                for (int i = 0; i < d; i++) {
                    norm += cols[j][i] * cols[j][i];
                }
                norm = Math.sqrt(norm);
                for (int i = 0; i < d; i++) {
                    cols[j][i] = norm > 0 ? cols[j][i] / norm : 0;
                }
            }
        }
        double[][] out = new double[d][p];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < p; j++) {
                out[i][j] = cols[j][i];
            }
        }
        return Nd4j.createFromArray(out);
    }

    private static double gaussian(java.util.SplittableRandom rnd) {
        double u = 1 - rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd.nextDouble());
    }

    /** Ḡ = (1/N) Σ g_i, in double. */
    public double[] mean() {
        double[] s = sketched.gradientSum();
        for (int i = 0; i < s.length; i++) {
            s[i] /= sketched.examples();
        }
        return s;
    }

    /**
     * Releases the exact d×d sum now (d² doubles off the heap), rather than whenever the garbage collector finds
     * this object: a process computing several spectra would otherwise hold one per spectrum. Afterwards only the
     * sketch's figures remain available.
     */
    @Override
    public void close() {
        if (sumOuter != null) {
            sumOuter.close();
            sumOuter = null;
        }
    }
}

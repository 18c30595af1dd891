package org.sgdnoise.diffusion;

import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.gradients.GradientBlock;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.internal.linalg.SymmetricEigen;

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
 */
public final class DatasetSpectrum {

    private final Model model;
    private final PerExampleGradients engine;
    private final boolean exact;
    private final DatasetSketch sketched;
    private INDArray sumOuter;

    /**
     * @param ell sketch size ℓ
     * @param exact also accumulate the exact d×d matrix (memory d² doubles)
     */
    public DatasetSpectrum(Model model, ProbeMode mode, int ell, boolean exact) {
        this.model = model;
        this.engine = new PerExampleGradients(mode, PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES);
        this.exact = exact;
        this.sketched = new DatasetSketch(ell);
    }

    /** Adds every example of a chunk. */
    public void add(ProbeBatch chunk) {
        int[] idx = PerExampleGradients.select(org.sgdnoise.gradients.ExampleSelection.FIRST, chunk.size(), chunk.size(), 0);
        try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            int done = 0;
            while (done < idx.length) {
                int[] part = java.util.Arrays.copyOfRange(idx, done, idx.length);
                GradientBlock block = engine.compute(model, chunk, part);
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
        return engine.batched();
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
}

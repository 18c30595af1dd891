package org.sgdnoise.curvature;

import java.util.Arrays;
import org.deeplearning4j.nn.api.Model;
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
 * The Hessian of a model's mean loss over a fixed example set, at fixed parameters θ, as a {@link
 * SymmetricOperator} on the d trained parameters. Made by {@link HessianVectorProducts#at}; which terms it
 * holds is stated by {@link #terms()}.
 *
 * <p>Method: central differences of DL4J's own gradient in double precision on the private probe network (of a
 * SameDiff graph's, on a private double copy: {@link HessianVectorProducts#at(SameDiffGradients, ProbeBatch)}),
 * {@code Hv ≈ (ḡ(θ + εv) − ḡ(θ − εv)) / (2ε)} with ḡ the mean data-loss gradient, plus {@code cⱼvⱼ} for the
 * regularisation terms. The error is a truncation term {@code (ε²/6)·∂³ḡ[v,v,v]} and a rounding term of
 * order {@code u·‖ḡ‖/ε} (u = 2⁻⁵² double rounding); they balance at {@code ε‖v‖ ∝ u^{1/3}}, so the step is
 * {@code ε = u^{1/3}·(1 + ‖θ‖)/‖v‖} ({@link #RELATIVE_STEP}): a move of about 6·10⁻⁶ relative to the parameters
 * (absolute near θ = 0), where both errors are about {@code u^{2/3} ≈ 4·10⁻¹¹} relative for a loss whose
 * curvature changes on the scale of ‖θ‖. For a quadratic loss the truncation term vanishes and only rounding
 * is left. Each chunk's two gradients are subtracted before they are summed, so the sum over examples carries
 * no cancellation of large gradients. Piecewise-linear activations (ReLU, max-pooling) have no second
 * derivative at their kinks: the product is the Hessian almost everywhere, and the few units whose
 * pre-activation lies within the step of a kink add an error of their own.
 *
 * <p>Cost per product: two forward-backward passes over the n examples, in chunks of at most {@code
 * chunkSize}; memory: about eight flat vectors (θ, θ ± εv, v, the accumulated difference, the result) plus one
 * chunk's activations in double. The user's model is never touched; ND4J's random state is restored after each
 * product. Not thread-safe.
 */
public final class HessianOperator implements SymmetricOperator {

    /** The relative finite-difference step, {@code (2⁻⁵²)^{1/3} ≈ 6.06·10⁻⁶}: see the class comment. */
    public static final double RELATIVE_STEP = Math.cbrt(0x1p-52);

    /**
     * The step for a network with kinks (ReLU, max pooling), {@code (2⁻⁵²)^{1/2} ≈ 1.5·10⁻⁸}: a difference whose
     * two points lie on either side of a unit's kink is off by the jump in that unit's gradient over 2ε, so the
     * step is made as small as rounding allows (an error of about 1.5·10⁻⁸ relative), which makes a crossing
     * about 400 times rarer than at {@link #RELATIVE_STEP}.
     */
    public static final double KINKED_RELATIVE_STEP = Math.sqrt(0x1p-52);

    /** The summed data-loss gradient over a chunk at parameters θ (the whole flat vector, in double). */
    interface ChunkGradient {
        INDArray sum(INDArray theta, ProbeBatch chunk);
    }

    private final ChunkGradient gradient;
    private final ParameterLayout layout;
    private final INDArray theta;
    private final double thetaNorm;
    private final ProbeBatch batch;
    private final int[] examples;
    private final int chunkSize;
    private final double[] coefficients;
    private final HessianTerms terms;
    private final double relativeStep;
    private long products;

    HessianOperator(
            ChunkGradient gradient,
            ParameterLayout layout,
            INDArray theta,
            ProbeBatch batch,
            int[] examples,
            int chunkSize,
            Regularisation regularisation,
            double relativeStep) {
        this.gradient = gradient;
        this.layout = layout;
        this.theta = theta;
        INDArray included = Nd4j.create(DataType.DOUBLE, layout.numParams());
        layout.gather(theta, included);
        this.thetaNorm = included.norm2Number().doubleValue();
        this.batch = batch;
        this.examples = examples.clone();
        this.chunkSize = chunkSize;
        this.coefficients = regularisation.coefficients();
        this.terms = regularisation.terms();
        this.relativeStep = relativeStep;
    }

    /** DL4J's chunk gradient: the double probe network's, summed over the chunk. */
    static ChunkGradient of(Model probe) {
        return (theta, chunk) -> {
            probe.setParams(theta);
            return ProbeNetworks.gradient(probe, chunk);
        };
    }

    /** The finite-difference step relative to {@code 1 + ‖θ‖}. */
    public double relativeStep() {
        return relativeStep;
    }

    /** d, the number of trained parameters. */
    @Override
    public int dimension() {
        return (int) layout.numParams();
    }

    /**
     * The Hessian-vector product {@code Hv} (see the class comment for the method and its accuracy). Cost: two
     * gradient passes over the examples. Not modified: {@code v}.
     *
     * @param v a finite vector of length d, in the parameter order of {@link ParameterLayout}
     * @return Hv, a new array of length d
     */
    @Override
    public double[] apply(double[] v) {
        Vectors.requireLength(v, dimension(), "v");
        Vectors.requireFinite(v, "v");
        double vNorm = Vectors.norm(v);
        products++;
        if (vNorm == 0) {
            return new double[v.length];
        }
        double eps = relativeStep * (1 + thetaNorm) / vNorm;
        double[] hv;
        try (RandomStateGuard saved = RandomStateGuard.save();
                MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            INDArray step = Nd4j.zeros(DataType.DOUBLE, layout.totalParams());
            layout.scatter(Nd4j.createFromArray(v), step);
            step.muli(eps);
            INDArray plus = theta.add(step);
            INDArray minus = theta.sub(step);
            INDArray sum = Nd4j.zeros(DataType.DOUBLE, layout.totalParams());
            INDArray diff = Nd4j.zeros(DataType.DOUBLE, layout.totalParams());
            for (int start = 0; start < examples.length; start += chunkSize) {
                ProbeBatch chunk = inDouble(batch.subset(
                        Arrays.copyOfRange(examples, start, Math.min(examples.length, start + chunkSize))));
                diff.assign(gradient.sum(plus, chunk));
                diff.subi(gradient.sum(minus, chunk));
                sum.addi(diff);
            }
            sum.divi(2 * eps * examples.length);
            INDArray out = Nd4j.create(DataType.DOUBLE, layout.numParams());
            layout.gather(sum, out);
            hv = out.toDoubleVector();
        }
        if (coefficients != null) {
            for (int j = 0; j < hv.length; j++) {
                hv[j] += coefficients[j] * v[j];
            }
        }
        return hv;
    }

    /** The terms this Hessian contains, and the number of examples n. */
    public HessianTerms terms() {
        return terms;
    }

    /** The number of products computed so far by this operator. */
    public long products() {
        return products;
    }

    /** The parameters θ the Hessian is taken at, the d trained ones in {@link ParameterLayout} order (a copy). */
    public double[] parameters() {
        INDArray included = Nd4j.create(DataType.DOUBLE, layout.numParams());
        layout.gather(theta, included);
        return included.toDoubleVector();
    }

    /** Shows d, n, the terms and the products so far. */
    @Override
    public String toString() {
        return "HessianOperator[d=" + dimension() + ", terms=" + terms + ", products=" + products + "]";
    }

    private static ProbeBatch inDouble(ProbeBatch b) {
        return new ProbeBatch(
                inDouble(b.features()), inDouble(b.labels()), inDouble(b.featureMasks()), inDouble(b.labelMasks()));
    }

    private static INDArray[] inDouble(INDArray[] arrays) {
        if (arrays == null) {
            return null;
        }
        INDArray[] out = new INDArray[arrays.length];
        for (int i = 0; i < arrays.length; i++) {
            INDArray a = arrays[i];
            out[i] = a == null
                            || a.dataType() == DataType.DOUBLE
                            || !a.dataType().isFPType()
                    ? a
                    : a.castTo(DataType.DOUBLE);
        }
        return out;
    }
}

package org.sgdnoise.gradients;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.TrainingConfig;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.autodiff.samediff.internal.SameDiffOp;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.sgdnoise.gradients.internal.RandomStateGuard;

/**
 * Per-example gradients of a SameDiff graph, on a private copy: the user's graph is only read, so training with it is
 * untouched.
 *
 * <p><b>Batched path</b>, where the graph allows it: when every trained variable is the weights or bias of one
 * {@code xw_plus_b} op ({@code sd.nn.linear}), each its only use, and each such op's weights and bias make one layer
 * of the layout, one backward pass over the k examples gives the gradient of the loss with respect to every op's
 * output z (SameDiff differentiates with respect to any variable), and a forward pass its input a; example i's
 * gradient is then {@code a_i δ_iᵀ} and {@code δ_i}, δ_i = k·∂L/∂z_i under a mean loss, held as factors
 * ({@link GradientFactors}) with no k×d block. The first batched call is checked against the exact path on two
 * examples; a mismatch (a layer that couples the examples) turns the batched path off, with the reason in {@link
 * #path()}. Other graphs (convolutions, recurrences, any op SameDiff has no per-example form of here) take the exact
 * path: one example at a time, since SameDiff has no per-example gradients in one pass and ND4J M2.1 no vmap.
 *
 * <p>The parameters are the graph's floating-point VARIABLEs, in the order of their names, each flattened in 'c'
 * order ({@link #variables()}, {@link #offsets()}). The examples' features and labels are fed to the placeholders
 * the graph's {@link TrainingConfig} maps a DataSet to (or those named), and the loss is the graph's loss
 * variables. Each example goes through {@code calculateGradients} as a batch of two identical rows: ND4J
 * 1.0.0-M2.1 fails on a batch of one (the bias gradient's reduction over a length-1 axis reads an unset input),
 * and under a loss that averages over the batch two equal rows give the example's own gradient. A loss that sums
 * over the batch gives twice that: the first call compares two and four rows and divides accordingly, and a loss
 * that is neither (examples coupled, as in batch statistics) is refused. No regularisation is included, as in
 * DL4J's raw gradient.
 *
 * <p>Cost per example: one forward and backward pass of the graph on two rows. Memory: the copy's variables and
 * one k×d block. Not thread-safe.
 */
public final class SameDiffGradients implements GradientSource {

    private final SameDiff copy;
    private final List<String> features;
    private final List<String> labels;
    private final List<String> losses;
    private final ParameterLayout layout;
    private final List<String> variables;
    private final long[] offsets;
    private final DataType dataType;
    private double scale = Double.NaN;
    private List<Linear> linears;
    private String notBatched;
    private boolean checked;
    private SameDiff inDouble;

    /** An {@code xw_plus_b} op of the batched path: z = a·W + b, and its layer. */
    private record Linear(String layer, String input, String weights, String bias, String output) {}

    private SameDiffGradients(
            SameDiff copy, List<String> features, List<String> labels, List<String> losses, ParameterLayout layout) {
        this.copy = copy;
        this.features = List.copyOf(features);
        this.labels = List.copyOf(labels);
        this.losses = List.copyOf(losses);
        this.layout = layout;
        List<ParameterLayout.Segment> params = layout.parameters();
        this.variables = params.stream().map(ParameterLayout.Segment::name).toList();
        this.offsets = new long[params.size() + 1];
        for (int i = 0; i < params.size(); i++) {
            offsets[i + 1] = offsets[i] + params.get(i).length();
        }
        this.dataType = copy.getVariable(variables.get(0)).dataType();
        this.linears = linears();
    }

    /** The ops of the batched path, or null with {@link #notBatched} saying why the graph has none. */
    private List<Linear> linears() {
        List<Linear> out = new ArrayList<>();
        Set<String> covered = new HashSet<>();
        for (SameDiffOp op : copy.getOps().values()) {
            if (op.getOp() == null || !"xw_plus_b".equals(op.getOp().opName())) {
                continue;
            }
            List<String> in = op.getInputsToOp();
            if (in.size() != 3 || op.getOutputsOfOp().size() != 1) {
                continue;
            }
            String w = in.get(1);
            String b = in.get(2);
            String layer = ParameterLayout.layerOf(w);
            if (variables.contains(w)
                    && variables.contains(b)
                    && layer.equals(ParameterLayout.layerOf(b))
                    && usedOnce(w)
                    && usedOnce(b)) {
                out.add(new Linear(layer, in.get(0), w, b, op.getOutputsOfOp().get(0)));
                covered.add(w);
                covered.add(b);
            }
        }
        List<String> rest = variables.stream().filter(v -> !covered.contains(v)).toList();
        Set<String> layers = new HashSet<>();
        boolean oneOpPerLayer = out.stream().allMatch(l -> layers.add(l.layer()));
        if (!rest.isEmpty() || !oneOpPerLayer) {
            notBatched = !rest.isEmpty()
                    ? "variables " + rest + " are not the weights or bias of an xw_plus_b op (sd.nn.linear) that "
                            + "is their only use"
                    : "two xw_plus_b ops share a layer name";
            return null;
        }
        return List.copyOf(out);
    }

    private boolean usedOnce(String variable) {
        List<String> uses = copy.getVariables().get(variable).getInputsForOp();
        return uses != null && uses.size() == 1;
    }

    /**
     * Per-example gradients of {@code sd} with the placeholders and loss its TrainingConfig names.
     *
     * @throws IllegalArgumentException when the graph has no loss variable, or no TrainingConfig mapping for its
     *     placeholders
     */
    public static SameDiffGradients of(SameDiff sd) {
        check(sd);
        TrainingConfig tc = sd.getTrainingConfig();
        List<String> l = tc.getDataSetLabelMapping() == null ? List.of() : tc.getDataSetLabelMapping();
        return of(sd, tc.getDataSetFeatureMapping(), l);
    }

    /**
     * Throws what {@link #of(SameDiff)} would for {@code sd}, without copying it: for a graph with no loss variable,
     * no TrainingConfig mapping of a DataSet to its placeholders, or no floating-point VARIABLE.
     */
    public static void check(SameDiff sd) {
        TrainingConfig tc = sd.getTrainingConfig();
        List<String> f =
                tc == null || tc.getDataSetFeatureMapping() == null ? List.of() : tc.getDataSetFeatureMapping();
        List<String> l = tc == null || tc.getDataSetLabelMapping() == null ? List.of() : tc.getDataSetLabelMapping();
        if (f.isEmpty()) {
            throw new IllegalArgumentException("the graph's placeholders " + sd.inputs() + " have no TrainingConfig "
                    + "mapping: name the feature and label placeholders (TrainingConfig.dataSetFeatureMapping and "
                    + "dataSetLabelMapping)");
        }
        checkNames(sd, f, l);
        losses(sd);
        ParameterLayout.of(sd);
    }

    private static List<String> losses(SameDiff sd) {
        List<String> losses = sd.getLossVariables();
        if ((losses == null || losses.isEmpty()) && sd.getTrainingConfig() != null) {
            losses = sd.getTrainingConfig().getLossVariables();
        }
        if (losses == null || losses.isEmpty()) {
            throw new IllegalArgumentException("the graph has no loss variable: mark one with markAsLoss(), or name it "
                    + "with TrainingConfig.minimize(...)");
        }
        return losses;
    }

    private static void checkNames(SameDiff sd, List<String> features, List<String> labels) {
        List<String> inputs = sd.inputs();
        for (String p : concat(features, labels)) {
            if (!inputs.contains(p)) {
                throw new IllegalArgumentException(
                        p + " is not a placeholder of the graph; its placeholders are " + inputs);
            }
        }
    }

    /**
     * Per-example gradients of {@code sd}, the i-th features and labels of a batch fed to the named placeholders.
     *
     * @throws IllegalArgumentException when the graph has no loss variable, a name is not a placeholder, or the graph
     *     has no floating-point VARIABLE
     */
    public static SameDiffGradients of(SameDiff sd, List<String> features, List<String> labels) {
        List<String> losses = losses(sd);
        checkNames(sd, features, labels);
        ParameterLayout layout = ParameterLayout.of(sd);
        return new SameDiffGradients(copyOf(sd, losses), features, labels, losses, layout);
    }

    /** The parameter layout: the variables end to end ({@link ParameterLayout#of(SameDiff)}). */
    public ParameterLayout layout() {
        return layout;
    }

    /** The placeholders the examples' features are fed to. */
    public List<String> features() {
        return features;
    }

    /** The differentiated variables, in the order of the columns. */
    public List<String> variables() {
        return variables;
    }

    /** Where each variable's columns start, and d at the end. */
    public long[] offsets() {
        return offsets.clone();
    }

    /** d, the parameters. */
    @Override
    public long numParams() {
        return offsets[offsets.length - 1];
    }

    /** Copies the current values of the variables of {@code sd} (the graph this was made from) into the copy. */
    public void sync(SameDiff sd) {
        for (String v : variables) {
            copy.getVariable(v).getArr().assign(sd.getVariable(v).getArr());
        }
    }

    /**
     * The loss of the whole batch at the copy's current values: the sum of the graph's loss variables, as SameDiff
     * minimises it (a forward pass; SameDiff's {@code fit} does not evaluate the loss itself, so its listeners are
     * told 0). Not modified: {@code batch}; ND4J's random state is restored after.
     */
    public double loss(ProbeBatch batch) {
        checkArrays(batch);
        Map<String, INDArray> ph = placeholders(batch);
        try (RandomStateGuard saved = RandomStateGuard.save()) {
            Map<String, INDArray> out = copy.output(ph, losses.toArray(new String[0]));
            double sum = 0;
            for (String l : losses) {
                sum += out.get(l).sumNumber().doubleValue();
            }
            return sum;
        }
    }

    /**
     * As {@link #compute}, as the probe's {@link GradientFactors} (explicit rows, one part per layer of {@link
     * #layout()}), for at most as many examples as {@code memoryBudgetBytes} holds k×d values of (at least two).
     */
    public GradientFactors factors(ProbeBatch batch, int[] examples, long memoryBudgetBytes) {
        if (linears != null && examples.length >= 2) {
            GradientFactors f = batched(batch, examples);
            if (f != null) {
                return f;
            }
        }
        long perExample = Math.max(1, numParams() * dataType.width());
        int k = (int) Math.max(Math.min(2, examples.length), Math.min(examples.length, memoryBudgetBytes / perExample));
        int[] used = Arrays.copyOf(examples, k);
        GradientBlock block = compute(batch, used);
        return GradientFactors.ofRows(block.rows(), layout).withProvenance(examples.length, used);
    }

    /**
     * The gradients of the given examples of {@code batch} at the copy's current values: k×d, in the variables' data
     * type, every example asked for. Not modified: {@code batch}; ND4J's random state is restored after.
     *
     * @throws IllegalArgumentException when the batch's arrays do not match the placeholders, or the loss couples
     *     the examples
     */
    @Override
    public GradientBlock compute(ProbeBatch batch, int[] examples) {
        if (linears != null && examples.length >= 2) {
            try (GradientFactors f = batched(batch, examples)) {
                if (f != null) {
                    return new GradientBlock(f.rows(), examples.length, false, examples.clone());
                }
            }
        }
        return new GradientBlock(exactRows(batch, examples), examples.length, false, examples.clone());
    }

    /** The exact path: k×d, one example at a time on two identical rows. */
    private INDArray exactRows(ProbeBatch batch, int[] examples) {
        checkArrays(batch);
        INDArray out = Nd4j.create(dataType, examples.length, numParams());
        try (RandomStateGuard saved = RandomStateGuard.save()) {
            if (Double.isNaN(scale)) {
                scale = reductionScale(batch, examples.length == 0 ? 0 : examples[0]);
            }
            for (int r = 0; r < examples.length; r++) {
                Map<String, INDArray> g = copy.calculateGradients(placeholders(batch, examples[r], 2), variables);
                INDArray row = out.getRow(r);
                for (int v = 0; v < variables.size(); v++) {
                    INDArray gv = g.get(variables.get(v));
                    if (gv != null) { // a variable the loss does not reach has no gradient: zero
                        row.get(NDArrayIndex.interval(offsets[v], offsets[v + 1]))
                                .assign(gv.reshape(gv.length()).mul(scale));
                    }
                }
            }
        }
        return out;
    }

    private void checkArrays(ProbeBatch batch) {
        if (batch.numInputs() != features.size() || batch.numOutputs() != labels.size()) {
            throw new IllegalArgumentException("the batch has " + batch.numInputs() + " feature and "
                    + batch.numOutputs() + " label arrays; the graph takes " + features + " and " + labels);
        }
    }

    /**
     * "batched" when the graph takes the batched path, else "exact (" and why not ")": {@link SameDiffGradients}'s
     * class comment says which graphs do.
     */
    @Override
    public String path() {
        return linears != null ? "batched" : "exact (" + notBatched + ")";
    }

    /** True when the gradients come from one batched pass (see {@link #path()}). */
    public boolean batched() {
        return linears != null;
    }

    /**
     * The batched path's factors, or null when its check against the exact path failed (then the path is off for
     * good).
     */
    private GradientFactors batched(ProbeBatch batch, int[] examples) {
        checkArrays(batch);
        int k = examples.length;
        List<GradientFactors.Part> parts = new ArrayList<>();
        try (RandomStateGuard saved = RandomStateGuard.save()) {
            if (Double.isNaN(scale)) {
                scale = reductionScale(batch, examples[0]);
            }
            Map<String, INDArray> ph = placeholders(batch.subset(examples));
            List<String> zs = linears.stream().map(Linear::output).toList();
            Map<String, INDArray> dz = copy.calculateGradients(ph, zs);
            Map<String, INDArray> a = copy.output(
                    ph, linears.stream().map(Linear::input).distinct().toArray(String[]::new));
            double toExample = scale == 1 ? k : 1; // δ_i from ∂L/∂z_i: mean loss k·, summed loss 1·
            for (Linear l : linears) {
                int w = variables.indexOf(l.weights());
                int b = variables.indexOf(l.bias());
                INDArray in = a.containsKey(l.input()) ? a.get(l.input()) : ph.get(l.input());
                INDArray delta = dz.get(l.output()).mul(toExample);
                parts.add(new GradientFactors.Outer(
                        l.layer(), in.reshape(k, in.length() / k), delta, offsets[w], offsets[b], true));
            }
        }
        parts.sort(Comparator.comparing(p -> p.layer));
        GradientFactors f = new GradientFactors(k, numParams(), dataType, parts).withProvenance(k, examples);
        if (!checked) {
            checked = true;
            INDArray exact = exactRows(batch, new int[] {examples[0], examples[1]});
            INDArray ours = Nd4j.create(dataType, 2, numParams());
            f.write(0, 2, 0, numParams(), ours);
            double scaleOf = exact.amaxNumber().doubleValue();
            double diff = exact.sub(ours).amaxNumber().doubleValue();
            double tol = (dataType == DataType.DOUBLE ? 1e-9 : 1e-3) * Math.max(scaleOf, Double.MIN_NORMAL);
            if (!(diff <= tol)) {
                f.close();
                notBatched = "its batched gradients differ from the exact ones by " + diff + " (of " + scaleOf
                        + "): a layer couples the examples";
                linears = null;
                return null;
            }
        }
        return f;
    }

    /**
     * 1 when the loss averages over the batch, 1/2 when it sums: from the gradient of one example repeated on two and
     * on four rows.
     */
    private double reductionScale(ProbeBatch batch, int example) {
        Map<String, INDArray> two = copy.calculateGradients(placeholders(batch, example, 2), variables);
        Map<String, INDArray> four = copy.calculateGradients(placeholders(batch, example, 4), variables);
        double n2 = 0;
        double n4 = 0;
        for (String v : variables) {
            if (two.get(v) != null) {
                n2 += Math.pow(two.get(v).norm2Number().doubleValue(), 2);
                n4 += Math.pow(four.get(v).norm2Number().doubleValue(), 2);
            }
        }
        double ratio = Math.sqrt(n4 / n2);
        if (n2 == 0 || Math.abs(ratio - 1) < 1e-4) {
            return 1;
        }
        if (Math.abs(ratio - 2) < 2e-4) {
            return 0.5;
        }
        throw new IllegalArgumentException("the loss neither averages nor sums over the batch (one example on four "
                + "rows gives " + ratio + " times its gradient on two): the examples are coupled, as by batch "
                + "statistics, and have no per-example gradients");
    }

    /** True when the graph has an op with kinks (ReLU and its kin, max pooling): no second derivative there. */
    public boolean hasKinks() {
        return copy.getOps().values().stream()
                .map(op -> op.getOp() == null ? "" : op.getOp().opName())
                .anyMatch(
                        n -> n.contains("relu") || n.contains("maxpool") || n.equals("abs") || n.contains("max_pool"));
    }

    /** The copy's current values, end to end in the layout's order, in double (a new 1×d array). */
    public INDArray parametersInDouble() {
        INDArray row = Nd4j.create(DataType.DOUBLE, 1, numParams());
        layout.gather(copy, row);
        return row;
    }

    /**
     * The gradient of the loss summed over {@code chunk}'s examples at parameters {@code theta} (1×d or d, in the
     * layout's order), on a second private copy of the graph in double: the Hessian's gradient function ({@code
     * HessianVectorProducts.at(SameDiffGradients, ProbeBatch)}). A chunk of one example goes through as two rows, as
     * on the exact path. ND4J's random state is restored after.
     */
    public INDArray gradientSum(INDArray theta, ProbeBatch chunk) {
        checkArrays(chunk);
        try (RandomStateGuard saved = RandomStateGuard.save()) {
            if (Double.isNaN(scale)) {
                scale = reductionScale(chunk, 0);
            }
            DataType type = hessianDataType();
            INDArray t = theta.reshape(theta.length());
            for (int v = 0; v < variables.size(); v++) {
                INDArray arr = inDouble.getVariable(variables.get(v)).getArr();
                arr.assign(
                        t.get(NDArrayIndex.interval(offsets[v], offsets[v + 1])).reshape(arr.shape()));
            }
            int n = chunk.size();
            Map<String, INDArray> ph = new HashMap<>();
            for (Map.Entry<String, INDArray> e :
                    (n == 1 ? placeholders(chunk, 0, 2) : placeholders(chunk)).entrySet()) {
                ph.put(
                        e.getKey(),
                        e.getValue().dataType().isFPType() ? e.getValue().castTo(type) : e.getValue());
            }
            Map<String, INDArray> g = inDouble.calculateGradients(ph, variables);
            // A mean loss's gradient times the rows is the sum; a summed loss's is the sum (halved for two rows).
            double toSum = scale == 1 ? n : (n == 1 ? 0.5 : 1);
            INDArray out = Nd4j.create(DataType.DOUBLE, numParams());
            for (int v = 0; v < variables.size(); v++) {
                INDArray gv = g.get(variables.get(v));
                if (gv != null) {
                    out.get(NDArrayIndex.interval(offsets[v], offsets[v + 1]))
                            .assign(gv.reshape(gv.length())
                                    .castTo(DataType.DOUBLE)
                                    .mul(toSum));
                }
            }
            return out;
        }
    }

    /**
     * The data type {@link #gradientSum} computes in: double, or the graph's own where ND4J cannot convert it (M2.1's
     * {@code convertDataTypes} fails on a graph whose ops' outputs feed further typed ops, such as two dense layers).
     */
    public DataType hessianDataType() {
        if (inDouble == null) {
            inDouble = inDouble();
        }
        return inDouble.getVariable(variables.get(0)).dataType();
    }

    /**
     * A second copy of the graph with every floating-point variable, constant and placeholder in double, or in its
     * own types where the conversion fails.
     */
    private SameDiff inDouble() {
        SameDiff d = secondCopy();
        Map<String, DataType> types = new HashMap<>();
        for (SDVariable v : d.variables()) {
            VariableType t = v.getVariableType();
            if ((t == VariableType.VARIABLE || t == VariableType.CONSTANT || t == VariableType.PLACEHOLDER)
                    && v.dataType().isFPType()
                    && v.dataType() != DataType.DOUBLE) {
                types.put(v.name(), DataType.DOUBLE);
            }
        }
        if (!types.isEmpty()) {
            try {
                d.convertDataTypes(types);
            } catch (IllegalStateException | IllegalArgumentException e) {
                return secondCopy(); // the graph's own precision; the Hessian's step follows it
            }
        }
        return d;
    }

    private SameDiff secondCopy() {
        return copyOf(copy, losses);
    }

    /** A copy of {@code sd} that shares no array with it, with {@code losses} marked as its loss. */
    private static SameDiff copyOf(SameDiff sd, List<String> losses) {
        SameDiff d;
        try (RandomStateGuard saved = RandomStateGuard.save()) {
            d = SameDiff.fromFlatBuffers(sd.asFlatBuffers(false), false);
        } catch (IOException e) {
            throw new UncheckedIOException("the graph could not be copied", e);
        }
        for (String loss : losses) {
            if (!d.getLossVariables().contains(loss)) {
                d.addLossVariable(loss);
            }
        }
        return d;
    }

    /** The batch's arrays fed to the placeholders. */
    private Map<String, INDArray> placeholders(ProbeBatch batch) {
        Map<String, INDArray> ph = new HashMap<>();
        for (int a = 0; a < features.size(); a++) {
            ph.put(features.get(a), batch.features()[a]);
        }
        for (int a = 0; a < labels.size(); a++) {
            ph.put(labels.get(a), batch.labels()[a]);
        }
        return ph;
    }

    private Map<String, INDArray> placeholders(ProbeBatch batch, int i, int copies) {
        Map<String, INDArray> ph = new HashMap<>();
        for (int a = 0; a < features.size(); a++) {
            ph.put(features.get(a), repeated(batch.features()[a], i, copies));
        }
        for (int a = 0; a < labels.size(); a++) {
            ph.put(labels.get(a), repeated(batch.labels()[a], i, copies));
        }
        return ph;
    }

    /** Example i of {@code a} (along dimension 0) repeated {@code copies} times. */
    private static INDArray repeated(INDArray a, int i, int copies) {
        INDArray one = a.get(NDArrayIndex.interval(i, i + 1));
        INDArray[] parts = new INDArray[copies];
        Arrays.fill(parts, one);
        return Nd4j.concat(0, parts);
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }
}

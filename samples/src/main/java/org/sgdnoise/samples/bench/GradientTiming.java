package org.sgdnoise.samples.bench;

import java.util.Map;
import java.util.function.Supplier;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.gradients.GradientFactors;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.gradients.SameDiffGradients;

/**
 * Per-example gradients of k examples ({@link PerExampleGradients#factors}, what a probe of the
 * DiffusionListener computes) against DL4J's own batched gradient of the same k examples
 * ({@code computeGradientAndScore} on a second network from the same seed): each timed {@code reps} times after
 * {@code warmup} untimed calls, alternating the two so drift hits both alike. The JMH counterpart is
 * {@code PerExampleGradientsBenchmark}; this one runs inside {@code bench} beside the training overheads.
 */
public final class GradientTiming {

    private GradientTiming() {}

    /**
     * One model's timing.
     *
     * @param k examples per call
     * @param numParams parameters of the network (BatchNorm running statistics included)
     * @param path {@code batched} or {@code exact}: the path PerExampleGradients took; {@code failed} when it threw
     * @param warmup untimed calls of each before timing
     * @param reps timed calls of each
     * @param perExampleMs the per-example gradient times, ms
     * @param dl4jBatchedMs DL4J's batched gradient times, ms
     * @param perExampleMedianMs median of {@code perExampleMs}
     * @param dl4jBatchedMedianMs median of {@code dl4jBatchedMs}
     * @param ratio {@code perExampleMedianMs / dl4jBatchedMedianMs}
     * @param error why the per-example gradients failed (then their times are NaN), or null
     */
    public record Result(
            int k,
            long numParams,
            String path,
            int warmup,
            int reps,
            double[] perExampleMs,
            double[] dl4jBatchedMs,
            double perExampleMedianMs,
            double dl4jBatchedMedianMs,
            double ratio,
            String error) {}

    /**
     * Times both on {@code examples} (all of them: k is their number).
     *
     * @param build builds the initialised network from a fixed seed; called twice
     */
    public static Result run(Supplier<?> build, DataSet examples, int warmup, int reps) {
        if (reps < 1 || warmup < 0) {
            throw new IllegalArgumentException("need reps >= 1 and warmup >= 0, got " + reps + " and " + warmup);
        }
        Object net = build.get();
        Object copy = build.get();
        PerExampleGradients engine =
                new PerExampleGradients(ProbeMode.EVAL, PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES);
        SameDiffGradients graph = net instanceof SameDiff sd ? SameDiffGradients.of(sd) : null;
        ProbeBatch batch = ProbeBatch.of(examples);
        int k = examples.numExamples();
        int[] idx = new int[k];
        for (int i = 0; i < k; i++) {
            idx[i] = i;
        }
        double[] pe = new double[reps];
        double[] dl = new double[reps];
        String error = null;
        for (int r = -warmup; r < reps; r++) {
            long t0 = System.nanoTime();
            if (error == null) {
                // A failure here is a finding of the benchmark (a model the engine cannot serve), not a crash.
                try {
                    if (graph != null) {
                        graph.factors(batch, idx, PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES)
                                .close();
                    } else {
                        try (GradientFactors f = engine.factors((Model) net, batch, idx)) {
                            if (f.k() != k) {
                                error = "the memory budget cut k from " + k + " to " + f.k();
                            }
                        }
                    }
                } catch (RuntimeException e) {
                    error = e.getClass().getSimpleName() + ": " + e.getMessage();
                }
            }
            long t1 = System.nanoTime();
            dl4jGradient(copy, examples);
            long t2 = System.nanoTime();
            if (r >= 0) {
                pe[r] = error != null ? Double.NaN : (t1 - t0) / 1e6;
                dl[r] = (t2 - t1) / 1e6;
            }
        }
        double mPe = error != null ? Double.NaN : Interleaved.median(pe);
        double mDl = Interleaved.median(dl);
        String path = error != null
                ? "failed"
                : graph != null ? "SameDiff " + graph.path() : engine.batched() ? "batched" : "exact";
        return new Result(k, UserModels.numParams(net), path, warmup, reps, pe, dl, mPe, mDl, mPe / mDl, error);
    }

    /**
     * DL4J's gradient of the examples' summed loss: one forward and backward pass ({@code computeGradientAndScore},
     * masks included) on a MultiLayerNetwork or ComputationGraph. Modified: the model's gradient and score.
     */
    public static void dl4jGradient(Object model, DataSet ds) {
        if (model instanceof SameDiff sd) {
            sd.calculateGradients(
                    Map.of("in", ds.getFeatures(), "label", ds.getLabels()),
                    ParameterLayout.of(sd).parameters().stream()
                            .map(ParameterLayout.Segment::name)
                            .toList());
            return;
        }
        INDArray fm = ds.getFeaturesMaskArray();
        INDArray lm = ds.getLabelsMaskArray();
        if (model instanceof MultiLayerNetwork net) {
            net.setInput(ds.getFeatures());
            net.setLabels(ds.getLabels());
            net.setLayerMaskArrays(fm, lm);
            net.computeGradientAndScore();
            net.clearLayerMaskArrays();
        } else {
            ComputationGraph cg = (ComputationGraph) model;
            cg.setInputs(ds.getFeatures());
            cg.setLabels(ds.getLabels());
            cg.setLayerMaskArrays(fm == null ? null : new INDArray[] {fm}, lm == null ? null : new INDArray[] {lm});
            cg.computeGradientAndScore();
            cg.clearLayerMaskArrays();
        }
    }
}

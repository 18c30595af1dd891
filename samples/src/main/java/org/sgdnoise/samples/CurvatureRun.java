package org.sgdnoise.samples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.UserInputException;
import org.sgdnoise.curvature.CirculationPrediction;
import org.sgdnoise.curvature.Curvature;
import org.sgdnoise.curvature.LinearisedSgd;
import org.sgdnoise.curvature.NoiseAlignment;
import org.sgdnoise.curvature.PlanePrediction;
import org.sgdnoise.curvature.PredictionUncertainty;
import org.sgdnoise.data.ExampleSubset;
import org.sgdnoise.data.ModelFiles;
import org.sgdnoise.output.JsonDocument;

/**
 * The {@code curvature} command's work: reads the model and the examples (as {@code spectrum} does), runs the
 * library's {@link Curvature#compute}, adds the linearised SGD's prediction when a learning rate and a batch size
 * are given, and writes the JSON report and the basis ({@code top × d} doubles) as {@code .npy}.
 */
public final class CurvatureRun {

    /** Bootstrap resamples of D's examples behind the prediction's standard errors. */
    static final int BOOTSTRAP_RESAMPLES = 100;

    /** The examples used when neither a limit nor a subset is given. */
    public static final int DEFAULT_LIMIT = 1000;

    private CurvatureRun() {}

    /**
     * Options of the {@code curvature} command.
     *
     * @param model the model zip
     * @param data an IDX folder or a CSV file
     * @param indices a file of example indices, or null for the first {@code limit}
     * @param sample a number of examples drawn at random with {@code seed} (0: none), written beside the report
     * @param limit the first examples to use, at least 0; 0 for every example; null for the default
     *     ({@value #DEFAULT_LIMIT}, or every example a subset names)
     * @param top r
     * @param gradients the examples behind D
     * @param traceProbes Hutchinson probes, 0 for none
     * @param maxSteps Lanczos steps at most
     * @param lr the learning rate of the prediction, or null for none
     * @param batch the batch size of the prediction (with {@code lr})
     * @param momentum heavy-ball momentum of the prediction
     * @param weightDecay weight decay of the prediction, added to H
     * @param seed seed of Lanczos and Hutchinson
     * @param out the JSON report
     * @param features a SameDiff graph's feature placeholder where its file names none, or null
     * @param labels a SameDiff graph's label placeholder where its file names none, or null
     */
    public record Options(
            Path model,
            Path data,
            Path indices,
            int sample,
            Integer limit,
            int top,
            int gradients,
            int traceProbes,
            int maxSteps,
            Double lr,
            Integer batch,
            double momentum,
            double weightDecay,
            long seed,
            Path out,
            List<String> features,
            List<String> labels) {
        /** Validates every option, naming it, its bound and the value. */
        public Options {
            if (model == null || data == null || out == null) {
                throw new UserInputException("--model, --data and --out are required");
            }
            UserInputException.require(limit == null || limit >= 0, "limit must be >= 0, got " + limit);
            ExampleSubset.checkOptions(indices, sample, limit != null, "--limit");
            UserInputException.require(
                    (lr == null) == (batch == null), "--lr and --batch go together: give both or neither");
            UserInputException.require(lr == null || lr > 0, "lr must be > 0, got " + lr);
            UserInputException.require(batch == null || batch >= 1, "batch must be >= 1, got " + batch);
            UserInputException.require(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got " + momentum);
            UserInputException.require(weightDecay >= 0, "weight-decay must be >= 0, got " + weightDecay);
            new Curvature.Options(top, gradients, traceProbes, maxSteps, seed, true); // validates those
        }
    }

    /** Runs the computation, writes the report and the basis, and returns the report. */
    public static Map<String, Object> run(Options o) {
        boolean sameDiff = ModelFiles.isSameDiff(o.model());
        Model model = sameDiff ? null : Spectrum.loadModel(o.model());
        SameDiffModel graph = sameDiff ? SameDiffModel.load(o.model(), o.features(), o.labels()) : null;
        boolean subset = o.indices() != null || o.sample() > 0;
        int limit = subset ? 0 : o.limit() == null ? DEFAULT_LIMIT : o.limit();
        DataSet flat = sameDiff
                ? Spectrum.loadFlat(o.data(), limit, graph.classes(), graph.dataType())
                : Spectrum.loadFlat(o.data(), limit, model);
        ExampleSubset chosen = ExampleSubset.choose(o.indices(), o.sample(), o.seed(), flat.numExamples());
        Map<String, Object> used;
        if (chosen != null) {
            flat = chosen.select(flat);
            if (chosen.file() == null) {
                chosen = chosen.writeTo(ExampleSubset.besideOutput(o.out()));
            }
            used = chosen.json();
        } else {
            used = ExampleSubset.whole(flat.numExamples(), o.limit() == null || o.limit() > 0);
        }
        Curvature.Options co =
                new Curvature.Options(o.top(), o.gradients(), o.traceProbes(), o.maxSteps(), o.seed(), true);
        Curvature.Result r = sameDiff
                ? Curvature.compute(graph.source(), graph.shaped(flat), co)
                : Curvature.compute(model, ModelFiles.shapedFor(model, flat), co);
        Path basis = basisFile(o.out());
        writeBasis(r.top().vectors(), basis);
        Map<String, Object> report = report(r, o, basis);
        report.put("examples_used", used);
        if (sameDiff) {
            report.put("model_format", "samediff");
            report.put("parameters", graph.source().variables());
            report.put("gradient_path", graph.source().path());
        }
        if (o.lr() != null) {
            report.putAll(prediction(r, o));
        }
        JsonDocument.write(report, o.out());
        return report;
    }

    static Path basisFile(Path out) {
        String name = out.getFileName().toString().replaceFirst("\\.json$", "");
        return out.resolveSibling(name + "-basis.npy");
    }

    private static void writeBasis(double[][] vectors, Path file) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Nd4j.writeAsNumpy(Nd4j.createFromArray(vectors), file.toFile());
        } catch (IOException e) {
            throw new UserInputException("cannot write " + file + ": " + JsonDocument.reason(e), e);
        }
    }

    /**
     * The linearised SGD's prediction in the top Hessian eigenspace ({@link LinearisedSgd}): H_r as computed (the
     * model's L2 included) plus {@code --weight-decay}, D_r per example, the batch's noise D_r/b. An unstable
     * learning rate is reported in {@code prediction_error}, not thrown: the rest of the report stands.
     */
    static Map<String, Object> prediction(Curvature.Result r, Options o) {
        Map<String, Object> m = new LinkedHashMap<>();
        NoiseAlignment.Result a = r.alignment();
        m.put("lr", o.lr());
        m.put("batch", o.batch());
        m.put("momentum", o.momentum());
        m.put("weight_decay", o.weightDecay());
        CirculationPrediction p;
        try {
            p = LinearisedSgd.of(a.hessianInBasis(), a.diffusionInBasis(), o.lr(), o.batch())
                    .withWeightDecay(o.weightDecay())
                    .withMomentum(o.momentum())
                    .predict();
        } catch (IllegalArgumentException e) {
            m.put("prediction_error", e.getMessage());
            return m;
        }
        // How much the prediction moves with the sampling of D: a bootstrap over D's examples.
        PredictionUncertainty u = PredictionUncertainty.of(
                a.projections(),
                d -> LinearisedSgd.of(a.hessianInBasis(), d, o.lr(), o.batch())
                        .withWeightDecay(o.weightDecay())
                        .withMomentum(o.momentum())
                        .predict(),
                BOOTSTRAP_RESAMPLES,
                o.seed());
        m.put("loop_predicted", p.loopPredicted());
        m.put("predicted_area_rates", p.areaRate());
        m.put("predicted_area_rate_stderr", u.stderr());
        m.put("predicted_max_rate", p.maxRate());
        m.put("predicted_max_rate_stderr", u.maxRateStderr());
        m.put("prediction_bootstrap_resamples", u.resamples());
        m.put("predicted_covariance", p.covariance());
        m.put("relaxation_steps", p.relaxationSteps());
        List<Map<String, Object>> planes = new ArrayList<>();
        List<Double> periods = new ArrayList<>();
        for (PlanePrediction plane : p.planesByDetectability()) {
            Map<String, Object> pm = new LinkedHashMap<>();
            pm.put("i", plane.i());
            pm.put("j", plane.j());
            pm.put("area_rate", plane.areaRate());
            pm.put("period", plane.period());
            pm.put("sd_after_one_step", plane.sdScale());
            pm.put("steps_for_snr4", plane.stepsForSnr4());
            planes.add(pm);
            periods.add(plane.period());
        }
        m.put("predicted_planes", planes);
        m.put("predicted_periods", periods);
        m.put("steps_for_snr4", p.stepsForSnr4());
        return m;
    }

    static Map<String, Object> report(Curvature.Result r, Options o, Path basis) {
        NoiseAlignment.Result a = r.alignment();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", o.model().toString());
        m.put("data", o.data().toString());
        m.put("num_params", r.numParams());
        m.put("examples", r.examples());
        m.put("gradients", a.k());
        m.put("hessian_eigenvalues", r.top().values());
        m.put("hessian_residuals", r.top().residuals());
        m.put("lanczos_converged", r.top().converged());
        m.put("lanczos_steps", r.top().steps());
        m.put("lanczos_consistency", r.consistency());
        m.put("finite_difference_relative_step", r.relativeStep());
        m.put("hessian_trace", r.trace() == null ? null : r.trace().trace());
        m.put("hessian_trace_stderr", r.trace() == null ? null : r.trace().standardError());
        m.put("hessian_trace_probes", r.trace() == null ? 0 : r.trace().probes());
        Map<String, Object> terms = new LinkedHashMap<>();
        terms.put("data_loss", "mean over " + r.terms().examples() + " examples");
        terms.put("l2", r.terms().l2());
        terms.put("weight_decay", r.terms().weightDecay());
        terms.put("l1_present_not_included", r.terms().l1Present());
        terms.put("regularised_params", r.terms().regularisedParams());
        m.put("hessian_terms", terms);
        m.put("hessian_in_basis", a.hessianInBasis());
        m.put("d_in_hessian_basis", a.diffusionInBasis());
        m.put("d_correlations", a.correlations());
        m.put("commutator_norm", a.commutator());
        m.put("overlap_hessian_d", a.overlap());
        m.put("overlap_rank_d", a.overlapRank());
        m.put("trace_cosine_in_basis", a.traceCosine());
        m.put("trace_hd", a.traceHD());
        m.put("g_h_g", a.gHg());
        m.put("b_noise", a.bNoise());
        m.put("seed", r.seed());
        m.put("hessian_vector_products", r.hessianVectorProducts());
        m.put("basis_file", basis.getFileName().toString());
        m.put("seconds", r.seconds());
        return m;
    }
}

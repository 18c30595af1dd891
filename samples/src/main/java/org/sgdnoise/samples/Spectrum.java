package org.sgdnoise.samples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.diffusion.DatasetSketch;
import org.sgdnoise.diffusion.DatasetSpectrum;
import org.sgdnoise.diffusion.SpectrumSummary;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.samples.data.CsvData;
import org.sgdnoise.samples.data.FashionMnist;
import org.sgdnoise.sketch.DiffusionSketch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The {@code spectrum} command's work: D of a trained model over a whole data set. */
public final class Spectrum {

    private static final Logger log = LoggerFactory.getLogger(Spectrum.class);

    /** Largest d for which {@code --exact} is allowed (d² doubles = 3.2 GB at the limit). */
    public static final int EXACT_MAX_PARAMS = 20_000;

    /**
     * Options.
     *
     * @param limit ≤ 0 for every example
     */
    public record Options(Path model, Path data, int limit, boolean exact, int ell, int chunk, Path out) {
        public Options {
            if (model == null || data == null || out == null) {
                throw new UserInputException("--model, --data and --out are required");
            }
            if (ell < 2) {
                throw new UserInputException("sketch-size must be >= 2, got " + ell);
            }
            if (chunk < 1) {
                throw new UserInputException("chunk must be >= 1, got " + chunk);
            }
        }
    }

    private Spectrum() {}

    /** Loads a MultiLayerNetwork or ComputationGraph saved with ModelSerializer. */
    public static Model loadModel(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new UserInputException("model file " + file + " does not exist");
        }
        File f = file.toFile();
        try {
            return ModelSerializer.restoreMultiLayerNetwork(f, false);
        } catch (Exception | LinkageError first) {
            try {
                return ModelSerializer.restoreComputationGraph(f, false);
            } catch (Exception | LinkageError second) {
                throw new UserInputException(file + " is not a DL4J model saved with ModelSerializer ("
                        + first.getClass().getSimpleName() + ": " + first.getMessage() + ")", second);
            }
        }
    }

    public static int outputClasses(Model model) {
        org.deeplearning4j.nn.conf.layers.Layer last;
        if (model instanceof MultiLayerNetwork net) {
            var confs = net.getLayerWiseConfigurations().getConfs();
            last = confs.get(confs.size() - 1).getLayer();
        } else {
            ComputationGraph cg = (ComputationGraph) model;
            String out = cg.getConfiguration().getNetworkOutputs().get(0);
            last = cg.getLayer(out).conf().getLayer();
        }
        if (!(last instanceof BaseOutputLayer) && !(last instanceof FeedForwardLayer)) {
            throw new UserInputException("the model's output layer (" + last.getClass().getSimpleName()
                    + ") is not a classifier with a known number of classes");
        }
        return (int) ((FeedForwardLayer) last).getNOut();
    }

    static DataSet loadData(Path data, int limit, Model model) {
        int n = limit > 0 ? limit : Integer.MAX_VALUE;
        if (Files.isDirectory(data)) {
            DataSet train = FashionMnist.load(data, n, 1).train();
            return new DataSet(train.getFeatures().castTo(model.params().dataType()),
                    train.getLabels().castTo(model.params().dataType()));
        }
        return CsvData.read(data, outputClasses(model), n, model.params().dataType());
    }

    /** Runs the computation and writes the JSON report; returns it. */
    public static Map<String, Object> run(Options o) throws IOException {
        Model model = loadModel(o.model());
        DataSet data = loadData(o.data(), o.limit(), model);
        return compute(model, data, o.exact(), o.ell(), o.chunk(), o.model().toString(), o.data().toString(), o.out());
    }

    /**
     * D of {@code model} (not modified) over every example of {@code data}, sketched and, with {@code exact},
     * exactly; writes the JSON report to {@code out} and returns it.
     */
    public static Map<String, Object> compute(Model model, DataSet data, boolean exact, int ell, int chunk,
            String modelName, String dataName, Path out) throws IOException {
        UserInputException.require(ell >= 2, "sketch-size must be >= 2, got " + ell);
        UserInputException.require(chunk >= 1, "chunk must be >= 1, got " + chunk);
        long t0 = System.nanoTime();
        long dTotal = model.numParams();
        if (exact && dTotal > EXACT_MAX_PARAMS) {
            throw new UserInputException("--exact needs d <= " + EXACT_MAX_PARAMS + " (a d x d matrix in double); this model has "
                    + dTotal + " parameters");
        }
        int n = data.numExamples();
        if (n < 2) {
            throw new UserInputException("the data holds " + n + " example(s); D needs at least 2");
        }
        log.info("spectrum: {} examples, model with {} parameters, sketch l = {}{}", n, dTotal, ell,
                exact ? ", exact d x d in double" : "");
        DatasetSpectrum spectrum = new DatasetSpectrum(model, ProbeMode.EVAL, ell, exact);
        long every = Math.max(1, (n / chunk) / 10);
        long chunks = 0;
        for (int start = 0; start < n; start += chunk) {
            int end = Math.min(n, start + chunk);
            DataSet part = (DataSet) data.getRange(start, end);
            try {
                spectrum.add(ProbeBatch.of(part));
            } catch (UserInputException e) {
                throw e;
            } catch (RuntimeException e) { // a shape mismatch, from DL4J or ND4J
                throw new UserInputException("the model and the data do not fit: " + e.getMessage(), e);
            }
            if (++chunks % every == 0 || end == n) {
                log.info(String.format(Locale.ROOT, "spectrum: %d/%d examples (%.0f%%), %.1f s", end, n, 100.0 * end / n,
                        (System.nanoTime() - t0) / 1e9));
            }
        }
        return report(spectrum.sketched(), exact ? spectrum.exactEigenvalues() : null, modelName, dataName,
                (System.nanoTime() - t0) / 1e9, Map.of("gradient_path", spectrum.batched() ? "batched" : "exact"), out);
    }

    /**
     * Writes the JSON report of a data set's D to {@code out} and returns it: N, d, the exact trace and |ḡ|²,
     * the eigenvalues (exact when {@code exactEigenvalues} is given, else the sketch's) with the sketch's
     * certified intervals, and the spectrum's summary (rank, effective rank, ...).
     *
     * @param exactEigenvalues the exact eigenvalues of D, descending, or null for the sketch's
     * @param extra further entries, written after the standard ones
     */
    public static Map<String, Object> report(DatasetSketch sketched, double[] exactEigenvalues, String modelName,
            String dataName, double wallSeconds, Map<String, Object> extra, Path out) throws IOException {
        boolean exact = exactEigenvalues != null;
        long d = sketched.numParams();
        int ell = sketched.ell();
        double trace = sketched.trace();
        double normSq = sketched.gradNormSq();
        DiffusionSketch.Estimate est = sketched.estimate();
        double[] eig = exact ? exactEigenvalues : est.eigenvalues();
        SpectrumSummary sum = SpectrumSummary.of(eig, d, trace);
        double[][] intervals = new double[est.eigenvalues().length][];
        for (int i = 0; i < intervals.length; i++) {
            intervals[i] = new double[] {est.eigenvalues()[i], est.eigenvalues()[i] + est.delta()};
        }
        Map<String, Object> method = new LinkedHashMap<>();
        method.put("name", exact ? "exact" : "sketch");
        method.put("ell", ell);
        method.put("delta", est.delta());
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("num_params", d);
        r.put("num_examples", sketched.examples());
        r.put("trace", trace);
        r.put("grad_norm_sq", normSq);
        r.put("noise_scale", normSq > 0 ? trace / normSq : null);
        r.put("method", method);
        r.put("eigenvalues", eig);
        r.put("eigenvalue_intervals", intervals);
        r.put("rank", sum.rank());
        r.put("rank_capped", !exact && sum.rank() >= ell - 1);
        r.put("rank_fraction", (double) sum.rank() / d);
        r.put("rank_threshold", sum.rankThreshold());
        r.put("eig_mean", nullIfNaN(sum.eigMean()));
        r.put("eig_std", nullIfNaN(sum.eigStd()));
        r.put("participation_ratio", nullIfNaN(sum.participationRatio()));
        r.put("stable_rank", nullIfNaN(sum.stableRank()));
        r.put("effective_rank", nullIfNaN(sum.effectiveRank()));
        if (exact) {
            r.put("sketch_eigenvalues", est.eigenvalues());
        }
        r.put("model", modelName);
        r.put("data", dataName);
        r.put("mode", "eval");
        r.put("wall_time_s", wallSeconds);
        r.putAll(extra);
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.toFile(), r);
        log.info(String.format(Locale.ROOT, "spectrum: d = %d, N = %d, tr(D) = %.4g, rank %s%d (%.2f%% of d), lambda_max = %.4g; wrote %s",
                d, sketched.examples(), trace, Boolean.TRUE.equals(r.get("rank_capped")) ? ">= " : "", sum.rank(),
                100.0 * sum.rank() / d, eig.length > 0 ? eig[0] : 0, out));
        return r;
    }

    private static Object nullIfNaN(double v) {
        return Double.isFinite(v) ? v : null;
    }

}

package org.sgdnoise.samples;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.ViewIterator;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.CsvData;
import org.sgdnoise.data.ExampleSubset;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.data.ModelFiles;
import org.sgdnoise.diffusion.DatasetSpectrum;
import org.sgdnoise.diffusion.SpectrumBootstrap;
import org.sgdnoise.diffusion.SpectrumReport;
import org.sgdnoise.gradients.GradientSource;
import org.sgdnoise.gradients.ProbeMode;

/**
 * The {@code spectrum} command's work: D of a trained model over a whole data set. A thin wrapper over the
 * library's {@link DatasetSpectrum#compute} and {@link SpectrumReport}: it reads the files and shapes the data
 * for the model (flat rows, or {@code [n, 1, 28, 28]} images for a CNN built with
 * {@code InputType.convolutional}).
 */
public final class Spectrum {

    /** Largest d for which {@code --exact} is allowed (d² doubles = 3.2 GB at the limit). */
    public static final int EXACT_MAX_PARAMS = DatasetSpectrum.EXACT_MAX_PARAMS;

    /**
     * Options of the {@code spectrum} command.
     *
     * @param model the model zip
     * @param data an IDX folder or a CSV file
     * @param limit the first examples to use, at least 0; 0 for every example
     * @param exact also compute the exact d×d D
     * @param ell sketch size, at least 2
     * @param chunk examples per gradient computation, at least 1
     * @param out the JSON report
     * @param indices a file of 0-based example indices to use, or null
     * @param sample a number of examples to draw at random (0: none); their indices are written beside the report
     * @param seed the sample's and the bootstrap's seed
     * @param bootstrap bootstrap resamples of the exact D's statistics (0: none; only with {@code exact})
     * @param features a SameDiff graph's feature placeholders, or null for its TrainingConfig's
     * @param labels a SameDiff graph's label placeholders, or null for its TrainingConfig's
     */
    public record Options(
            Path model,
            Path data,
            int limit,
            boolean exact,
            int ell,
            int chunk,
            Path out,
            Path indices,
            int sample,
            long seed,
            int bootstrap,
            java.util.List<String> features,
            java.util.List<String> labels) {
        /** Validates every option, naming it, its bound and the value. */
        public Options {
            if (model == null || data == null || out == null) {
                throw new UserInputException("--model, --data and --out are required");
            }
            UserInputException.require(limit >= 0, "limit must be >= 0, got " + limit);
            UserInputException.require(ell >= 2, "sketch-size must be >= 2, got " + ell);
            UserInputException.require(chunk >= 1, "chunk must be >= 1, got " + chunk);
            ExampleSubset.checkOptions(indices, sample, limit > 0, "--limit");
            UserInputException.require(
                    bootstrap == 0 || bootstrap >= 20, "bootstrap must be 0 (none) or >= 20, got " + bootstrap);
        }

        /** Without a subset. */
        public Options(Path model, Path data, int limit, boolean exact, int ell, int chunk, Path out) {
            this(model, data, limit, exact, ell, chunk, out, null, 0, 1, 0, null, null);
        }
    }

    private Spectrum() {}

    /**
     * Loads a MultiLayerNetwork or ComputationGraph saved with ModelSerializer.
     *
     * @param file the model zip
     * @return the model
     */
    public static Model loadModel(Path file) {
        return ModelFiles.load(file);
    }

    /**
     * The number of classes of a classifier.
     *
     * @param model the model
     * @return its output layer's size
     */
    public static int outputClasses(Model model) {
        return ModelFiles.outputClasses(model);
    }

    static DataSet loadData(Path data, int limit, Model model) {
        return ModelFiles.shapedFor(model, loadFlat(data, limit, model));
    }

    /** The first {@code limit} examples (0: all) as flat rows, in the model's data type. */
    static DataSet loadFlat(Path data, int limit, Model model) {
        return loadFlat(data, limit, outputClasses(model), model.params().dataType());
    }

    /** The first {@code limit} examples (0: all) as flat rows of {@code dt}, labels over {@code classes}. */
    static DataSet loadFlat(Path data, int limit, int classes, DataType dt) {
        int n = limit > 0 ? limit : Integer.MAX_VALUE;
        if (Files.isDirectory(data)) {
            DataSet train = FashionMnist.load(data, n, 1).train();
            return new DataSet(train.getFeatures().castTo(dt), train.getLabels().castTo(dt));
        }
        return CsvData.read(data, classes, n, dt);
    }

    /** The examples the options select (all, or a subset whose file is written beside the report), and which. */
    private record Selected(DataSet data, Map<String, Object> used) {

        static Selected of(Options o, DataSet flat) {
            ExampleSubset subset = ExampleSubset.choose(o.indices(), o.sample(), o.seed(), flat.numExamples());
            if (subset == null) {
                return new Selected(flat, ExampleSubset.whole(flat.numExamples(), o.limit() > 0));
            }
            if (subset.file() == null) {
                subset = subset.writeTo(ExampleSubset.besideOutput(o.out()));
            }
            return new Selected(subset.select(flat), subset.json());
        }
    }

    /**
     * Runs the computation and writes the JSON report.
     *
     * @param o the options
     * @return the report
     */
    public static Map<String, Object> run(Options o) {
        GradientSource source;
        DataSet data;
        Map<String, Object> extra = new LinkedHashMap<>();
        if (ModelFiles.isSameDiff(o.model())) {
            // A SameDiff graph (SameDiff.save): the placeholders and loss its TrainingConfig names, or
            // --features/--labels; the features reshaped to the feature placeholder's shape.
            SameDiffModel m = SameDiffModel.load(o.model(), o.features(), o.labels());
            Selected selected = Selected.of(o, loadFlat(o.data(), o.limit(), m.classes(), m.dataType()));
            source = m.source();
            data = m.shaped(selected.data());
            extra.put("examples_used", selected.used());
            extra.put("model_format", "samediff");
            extra.put("parameters", m.source().variables());
        } else {
            Model model = loadModel(o.model());
            Selected selected = Selected.of(o, loadFlat(o.data(), o.limit(), model));
            source = GradientSource.of(model, ProbeMode.EVAL);
            data = ModelFiles.shapedFor(model, selected.data());
            extra.put("examples_used", selected.used());
        }
        return compute(
                source,
                data,
                o.exact(),
                o.ell(),
                o.chunk(),
                o.model().toString(),
                o.data().toString(),
                o.out(),
                extra,
                o.bootstrap(),
                o.seed(),
                null);
    }

    /**
     * D of {@code model} (not modified) over every example of {@code data}, sketched and, with {@code exact},
     * exactly; writes the JSON report to {@code out} and returns it.
     *
     * @param model the model
     * @param data the examples, in the shape the model takes
     * @param exact also compute the exact d×d D
     * @param ell sketch size
     * @param chunk examples per gradient computation
     * @param modelName the report's {@code model}
     * @param dataName the report's {@code data}
     * @param out the JSON report
     * @return the report
     */
    public static Map<String, Object> compute(
            Model model, DataSet data, boolean exact, int ell, int chunk, String modelName, String dataName, Path out) {
        return compute(
                model,
                data,
                exact,
                ell,
                chunk,
                modelName,
                dataName,
                out,
                Map.of("examples_used", ExampleSubset.whole(data.numExamples(), false)),
                0,
                0,
                null);
    }

    /**
     * As above, with further report entries ({@code extra}, e.g. which examples were used) and, with {@code exact},
     * bootstrap intervals over the examples from {@code resamples} resamples (0: none; {@link SpectrumBootstrap}: a
     * second pass of per-example gradients projected on D's top eigenvectors), seeded with {@code seed}; with the
     * bootstrap, D's top {@link SpectrumBootstrap#DEFAULT_TOP} eigenvectors also go to {@code topVectors} (null:
     * nowhere), as {@link TopVectors}.
     */
    public static Map<String, Object> compute(
            Model model,
            DataSet data,
            boolean exact,
            int ell,
            int chunk,
            String modelName,
            String dataName,
            Path out,
            Map<String, ?> extra,
            int resamples,
            long seed,
            Path topVectors) {
        return compute(
                GradientSource.of(model, ProbeMode.EVAL),
                data,
                exact,
                ell,
                chunk,
                modelName,
                dataName,
                out,
                extra,
                resamples,
                seed,
                topVectors);
    }

    /** As above, over the per-example gradients of {@code source} (a DL4J model or a SameDiff graph). */
    public static Map<String, Object> compute(
            GradientSource source,
            DataSet data,
            boolean exact,
            int ell,
            int chunk,
            String modelName,
            String dataName,
            Path out,
            Map<String, ?> extra,
            int resamples,
            long seed,
            Path topVectors) {
        UserInputException.require(ell >= 2, "sketch-size must be >= 2, got " + ell);
        UserInputException.require(chunk >= 1, "chunk must be >= 1, got " + chunk);
        long t0 = System.nanoTime();
        DatasetSpectrum spectrum = DatasetSpectrum.compute(
                source, new ViewIterator(data, chunk), new DatasetSpectrum.Options(ell, exact, 0, ProbeMode.EVAL));
        Map<String, Object> more = new LinkedHashMap<>();
        more.put("gradient_path", spectrum.batched() ? "batched" : "exact");
        more.putAll(extra);
        double[] eig = exact ? spectrum.exactEigenvalues() : null;
        if (exact && resamples > 0) {
            long tb = System.nanoTime();
            int m = (int) Math.min(
                    SpectrumBootstrap.DEFAULT_SUBSPACE, Math.min(spectrum.numParams(), data.numExamples() - 1L));
            INDArray v = spectrum.exactTopVectors(m, seed);
            if (topVectors != null) {
                TopVectors.write(v, Math.min(SpectrumBootstrap.DEFAULT_TOP, m), topVectors);
            }
            SpectrumBootstrap.Scores scores =
                    SpectrumBootstrap.fromGradients(source, new ViewIterator(data, chunk), spectrum.mean(), v);
            v.close();
            SpectrumBootstrap.Result b =
                    SpectrumBootstrap.of(scores, eig, SpectrumBootstrap.DEFAULT_TOP, resamples, seed);
            scores.scores().close();
            Map<String, Object> json = b.json();
            json.put("seconds", (System.nanoTime() - tb) / 1e9);
            more.put("bootstrap", json);
        }
        spectrum.close(); // the d×d sum, before the next spectrum of a process allocates another
        Map<String, Object> report =
                SpectrumReport.of(spectrum.sketched(), eig, modelName, dataName, (System.nanoTime() - t0) / 1e9, more);
        SpectrumReport.write(report, out);
        return report;
    }
}

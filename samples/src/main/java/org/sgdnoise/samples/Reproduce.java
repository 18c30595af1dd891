package org.sgdnoise.samples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.ViewIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.schedule.MapSchedule;
import org.nd4j.linalg.schedule.ScheduleType;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.ExampleSubset;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.diffusion.DiffusionStatistics;
import org.sgdnoise.diffusion.SpectrumBootstrap;
import org.sgdnoise.diffusion.SpectrumSummary;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.internal.linalg.Gram;
import org.sgdnoise.listeners.TrajectoryListener;
import org.sgdnoise.models.SmallLeNet;
import org.sgdnoise.samples.data.BuiltinData;
import org.sgdnoise.samples.data.MaxBatches;
import org.sgdnoise.sampling.WithoutReplacementSampler;
import org.sgdnoise.trajectory.LoopAnalysis;
import org.sgdnoise.trajectory.LoopStatistics;
import org.sgdnoise.trajectory.ToySystems;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reproduces the paper's measurements on Fashion-MNIST: trains the small LeNet as the paper trained its
 * networks (SGD with momentum 0.9, batch 128, a step schedule), computes D exactly over the training
 * examples at 20%, 40% and 100% of training, simulates the double-well toy, and tests a long
 * fixed-learning-rate run for loops; writes {@code reproduction.json}, the spectra, and REPRODUCTION.md.
 */
public final class Reproduce {

    private static final Logger log = LoggerFactory.getLogger(Reproduce.class);

    /** Up to this many examples D comes from their N×N Gram matrix (exact, N − 1 directions); beyond, d×d. */
    static final int GRAM_MAX = 4_000;

    /**
     * @param l2 weight decay: the L2 coefficient (the gradient gains l2·θ)
     * @param dropRate dropout after every block, the probability a unit is dropped
     * @param dExamples examples D is computed over (the first ones); 0 for all (the paper's protocol)
     * @param dIndices a file of the examples D is computed over instead (0-based indices into the training split), or
     *     null
     * @param dSample a number of examples D is computed over instead, drawn at random with {@code dSampleSeed} (0:
     *     none); their indices are written to {@code d-indices.txt}
     * @param dSampleSeed the seed of that sample (the same for every training seed, so their D share examples)
     * @param trainOnly only train, saving the checkpoints (a later run on the same folder goes on from them)
     * @param extras also the double-well toy and the two loop experiments (the first seed; further seeds skip them)
     * @param doc where the markdown goes
     */
    public record Options(
            boolean quick,
            Path data,
            int epochs,
            int batchSize,
            double lr,
            double momentum,
            double l2,
            double dropRate,
            int dExamples,
            Path dIndices,
            int dSample,
            long dSampleSeed,
            int loopIterations,
            int loopBatchSize,
            int toySteps,
            long seed,
            boolean trainOnly,
            boolean extras,
            Path out,
            Path doc,
            String commandLine) {
        public Options {
            UserInputException.require(epochs >= 1, "epochs must be >= 1, got " + epochs);
            UserInputException.require(batchSize >= 2, "batch-size must be >= 2, got " + batchSize);
            UserInputException.require(lr > 0 && Double.isFinite(lr), "lr must be > 0, got " + lr);
            UserInputException.require(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got " + momentum);
            UserInputException.require(l2 >= 0 && Double.isFinite(l2), "weight-decay must be >= 0, got " + l2);
            UserInputException.require(
                    dropRate >= 0 && dropRate < 1, "dropout must be a drop rate in [0, 1), got " + dropRate);
            UserInputException.require(
                    dExamples == 0 || dExamples >= 2, "d-examples must be 0 (all) or >= 2, got " + dExamples);
            ExampleSubset.checkOptions(dIndices, dSample, false, "--d-examples");
            UserInputException.require(
                    loopIterations >= 700,
                    "loop-iterations must be >= 700 (a loop test needs 640 steps), got " + loopIterations);
            UserInputException.require(loopBatchSize >= 2, "loop-batch-size must be >= 2, got " + loopBatchSize);
            UserInputException.require(toySteps >= 10_000, "toy-steps must be >= 10000, got " + toySteps);
            UserInputException.require(out != null && doc != null, "out and doc must be given");
        }
    }

    /** The paper's row for the small LeNet (theory.md §2: MNIST, exact D over all examples). */
    static final String PAPER_ROW =
            "| paper: small-lenet, MNIST, 50 epochs, D over all 60,000 | 13,338 | 1.8 % | 3e-4 ± 2.11e-3 | — |";

    private Reproduce() {}

    public static Map<String, Object> run(Options o) throws IOException {
        long t0 = System.nanoTime();
        Files.createDirectories(o.out());
        FashionMnist.Data data = o.quick() && o.data() == null ? BuiltinData.load() : QuickStart.loadData(o.data(), 0);
        int n = data.train().numExamples();
        ExampleSubset subset = ExampleSubset.choose(o.dIndices(), o.dSample(), o.dSampleSeed(), n);
        DataSet dSet;
        Map<String, Object> used;
        if (subset != null) {
            dSet = subset.select(data.train());
            if (subset.file() == null) {
                subset = subset.writeTo(o.out().resolve("d-indices.txt"));
            }
            used = subset.json();
        } else {
            int first = o.dExamples() == 0 ? n : Math.min(n, o.dExamples());
            dSet = first == n ? data.train() : (DataSet) data.train().getRange(0, first);
            used = ExampleSubset.whole(first, first < n);
        }
        int nD = dSet.numExamples();
        long perEpoch = (n + o.batchSize() - 1) / o.batchSize();
        long planned = perEpoch * o.epochs();
        MapSchedule schedule = schedule(o.lr(), planned);
        log.info(
                "reproduce: small LeNet ({} parameters), {} training examples from {}, {} epochs of {} iterations, "
                        + "batch {}, Nesterov momentum {}, lr {} stepped /10 at 50% and 75%, weight decay {}, dropout "
                        + "{} after every block; D over {} examples ({})",
                SmallLeNet.TRAINABLE_PARAMS,
                n,
                data.source(),
                o.epochs(),
                perEpoch,
                o.batchSize(),
                o.momentum(),
                o.lr(),
                o.l2(),
                o.dropRate(),
                nD,
                nD <= GRAM_MAX ? "exact, N x N Gram matrix" : "exact, d x d matrix");
        Training training = train(o, data.train(), data.source(), Integer.MAX_VALUE);
        double trainSeconds = training.seconds();
        if (o.trainOnly()) {
            log.info("reproduce: trained ({} s in all); the checkpoints are in {}", Math.round(trainSeconds), o.out());
            return Map.of("training_s", trainSeconds);
        }
        List<Map<String, Object>> snapshots = new ArrayList<>();
        long[] spectrumNanos = {0};
        for (int k = 0; k < PERCENTS.length; k++) {
            long s = System.nanoTime();
            snapshots.add(snapshot(o, dSet, used, k, planned));
            spectrumNanos[0] += System.nanoTime() - s;
        }
        MultiLayerNetwork net = training.net();
        double testAccuracy = net.evaluate(new ViewIterator(data.test(), 500)).accuracy();

        List<Map<String, Object>> toy = null;
        Map<String, Object> loops = null;
        Map<String, Object> hessianLoops = null;
        double toySeconds = 0;
        double loopSeconds = 0;
        double hessianLoopSeconds = 0;
        if (o.extras()) {
            long tToy = System.nanoTime();
            toy = toy(o.toySteps(), o.seed());
            toySeconds = (System.nanoTime() - tToy) / 1e9;

            long tLoop = System.nanoTime();
            loops = loops(net, data.train(), o, schedule.valueAt((int) planned, 0));
            loopSeconds = (System.nanoTime() - tLoop) / 1e9;

            // A short version of the `loops` experiment (docs/RESULTS.md): the top Hessian eigenspace of an MLP, D in
            // it, the predicted circulation, and a recording in that basis.
            long tHessian = System.nanoTime();
            hessianLoops = LoopExperiment.run(
                    new LoopExperiment.Options(
                            null,
                            64,
                            0.05,
                            128,
                            0.005,
                            o.quick() ? 2_000 : 10_000,
                            o.quick() ? 2_000 : 10_000,
                            o.quick() ? 2_000 : 10_000,
                            o.quick() ? 6 : 12,
                            o.quick() ? 500 : 2_000,
                            o.quick() ? 500 : 2_000,
                            o.quick() ? 3 : 10,
                            o.seed(),
                            o.out().resolve("hessian-loops")),
                    data);
            hessianLoopSeconds = (System.nanoTime() - tHessian) / 1e9;
        }
        return finish(
                o,
                t0,
                data,
                n,
                nD,
                planned,
                testAccuracy,
                snapshots,
                toy,
                loops,
                hessianLoops,
                trainSeconds,
                spectrumNanos[0],
                toySeconds,
                loopSeconds,
                hessianLoopSeconds);
    }

    /** Writes reproduction.json and the document. */
    private static Map<String, Object> finish(
            Options o,
            long t0,
            FashionMnist.Data data,
            int n,
            int nD,
            long planned,
            double testAccuracy,
            List<Map<String, Object>> snapshots,
            List<Map<String, Object>> toy,
            Map<String, Object> loops,
            Map<String, Object> hessianLoops,
            double trainSeconds,
            long spectrumNanos,
            double toySeconds,
            double loopSeconds,
            double hessianLoopSeconds)
            throws IOException {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("command", o.commandLine());
        r.put("data", data.source());
        r.put("train_examples", n);
        r.put("d_examples", nD);
        r.put("d_examples_used", snapshots.get(0).get("examples_used"));
        r.put("epochs", o.epochs());
        r.put("iterations", planned);
        r.put("batch_size", o.batchSize());
        r.put("lr", o.lr());
        r.put("momentum", o.momentum());
        r.put("weight_decay", o.l2());
        r.put("dropout", o.dropRate());
        r.put("seed", o.seed());
        r.put("test_accuracy", testAccuracy);
        r.put("snapshots", snapshots);
        r.put("spectra_differences", differences(snapshots));
        r.put("top_overlaps", topOverlaps(o.out()));
        if (toy != null) {
            r.put("toy", toy);
            r.put("loops", loops);
            r.put("hessian_loops", hessianLoops);
        }
        Map<String, Object> times = new LinkedHashMap<>();
        times.put("training_s", trainSeconds);
        times.put("spectra_s", spectrumNanos / 1e9);
        times.put("toy_s", toySeconds);
        times.put("loops_s", loopSeconds);
        times.put("hessian_loops_s", hessianLoopSeconds);
        times.put("total_s", (System.nanoTime() - t0) / 1e9);
        r.put("times", times);
        r.put("machine", machine());
        new ObjectMapper()
                .enable(SerializationFeature.INDENT_OUTPUT)
                .writeValue(o.out().resolve("reproduction.json").toFile(), r);
        Path parent = o.doc().toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(
                o.doc(), ReproductionDoc.markdown(List.of(r), figures(o.doc()), FIGURES), StandardCharsets.UTF_8);
        log.info(String.format(
                Locale.ROOT,
                "reproduce: done in %.0f s; wrote %s and %s",
                (System.nanoTime() - t0) / 1e9,
                o.out().resolve("reproduction.json"),
                o.doc()));
        return r;
    }

    /** The seed of the snapshots' bootstrap resamples. */
    static final long BOOTSTRAP_SEED = 1;

    /** The snapshots, in percent of training. */
    static final int[] PERCENTS = {20, 40, 100};

    /** The iteration at {@code pct} percent of {@code planned}. */
    static long snapshotIteration(long planned, int pct) {
        return Math.max(1, Math.round(planned * pct / 100.0));
    }

    /** The checkpoint saved at {@code pct} percent of training (with the updater's state). */
    static Path checkpoint(Path out, int pct) {
        return out.resolve(String.format(Locale.ROOT, "model-%03d.zip", pct));
    }

    private static Path checkpointTimes(Path out, int pct) {
        return out.resolve(String.format(Locale.ROOT, "model-%03d.json", pct));
    }

    /** The step schedule: η, then η/10 from half of training, η/100 from three quarters. */
    static MapSchedule schedule(double lr, long planned) {
        return new MapSchedule.Builder(ScheduleType.ITERATION)
                .add(0, lr)
                .add((int) (planned / 2), lr / 10)
                .add((int) (3 * planned / 4), lr / 100)
                .build();
    }

    /** The trained network and the training time behind it, over every process that trained it. */
    record Training(MultiLayerNetwork net, double seconds) {}

    /**
     * Trains the small LeNet as the paper does to the checkpoint {@code PERCENTS[last]}, saving one at each snapshot
     * ({@link #checkpoint}), and resumes from the last checkpoint in {@code out} when there is one: a killed run loses
     * at most the training since its last snapshot, and a resumed run ends with the parameters an unbroken one has
     * (the sampler is replayed to the checkpoint, and ND4J's generator, which draws the dropout masks, is seeded
     * from the seed and the iteration at the start of every stretch between snapshots). {@code out/run.json} holds
     * the protocol; a folder holding another protocol's run is refused.
     */
    static Training train(Options o, DataSet train, String source, int last) throws IOException {
        WithoutReplacementSampler sampler = new WithoutReplacementSampler(train, o.batchSize(), o.seed());
        long perEpoch = sampler.batchesPerEpoch();
        long planned = perEpoch * o.epochs();
        Map<String, Object> protocol = new LinkedHashMap<>();
        protocol.put("data", source);
        protocol.put("train_examples", train.numExamples());
        protocol.put("epochs", o.epochs());
        protocol.put("batch_size", o.batchSize());
        protocol.put("lr", o.lr());
        protocol.put("momentum", o.momentum());
        protocol.put("weight_decay", o.l2());
        protocol.put("dropout", o.dropRate());
        protocol.put("seed", o.seed());
        ObjectMapper json = new ObjectMapper();
        String wanted = json.writeValueAsString(protocol);
        Path runFile = o.out().resolve("run.json");
        if (Files.isRegularFile(runFile)) {
            String found = Files.readString(runFile, StandardCharsets.UTF_8).trim();
            if (!found.equals(wanted)) {
                throw new UserInputException(o.out() + " holds a run with another protocol (" + found + ", this one: "
                        + wanted + "): give another --out, or delete that folder to start again");
            }
        } else {
            Files.writeString(runFile, wanted, StandardCharsets.UTF_8);
        }
        int done = -1;
        for (int k = 0; k < PERCENTS.length; k++) {
            if (Files.isRegularFile(checkpoint(o.out(), PERCENTS[k]))) {
                done = k;
            }
        }
        MultiLayerNetwork net;
        double seconds = 0;
        long iteration = 0;
        if (done >= 0) {
            Path zip = checkpoint(o.out(), PERCENTS[done]);
            net = MultiLayerNetwork.load(zip.toFile(), true);
            seconds = json.readTree(checkpointTimes(o.out(), PERCENTS[done]).toFile())
                    .get("training_s")
                    .asDouble();
            iteration = snapshotIteration(planned, PERCENTS[done]);
            if (net.getIterationCount() != iteration) {
                throw new UserInputException(zip + " was saved at iteration " + net.getIterationCount() + ", not "
                        + iteration + ": delete " + o.out() + " to start again");
            }
            if (done < Math.min(last, PERCENTS.length - 1)) {
                log.info("reproduce: resuming from {} (iteration {} of {})", zip, iteration, planned);
            }
            for (long e = 0; e < iteration / perEpoch; e++) {
                sampler.reset();
            }
            for (long b = 0; b < iteration % perEpoch; b++) {
                sampler.next();
            }
        } else {
            net = SmallLeNet.paper(o.seed(), o.lr(), o.momentum(), o.l2(), o.dropRate());
            net.setLearningRate(schedule(o.lr(), planned));
        }
        net.setListeners(new ProgressListener(planned - iteration));
        for (int k = done + 1; k <= Math.min(last, PERCENTS.length - 1); k++) {
            long end = snapshotIteration(planned, PERCENTS[k]);
            Nd4j.getRandom().setSeed(o.seed() * 1_000_003L + iteration);
            long t = System.nanoTime();
            while (iteration < end) {
                if (!sampler.hasNext()) {
                    sampler.reset();
                }
                net.fit(sampler.next());
                iteration++;
                if (iteration % perEpoch == 0) {
                    net.setEpochCount((int) (iteration / perEpoch));
                }
            }
            seconds += (System.nanoTime() - t) / 1e9;
            Map<String, Object> times = new LinkedHashMap<>();
            times.put("iteration", iteration);
            times.put("training_s", seconds);
            json.writeValue(checkpointTimes(o.out(), PERCENTS[k]).toFile(), times);
            Path zip = checkpoint(o.out(), PERCENTS[k]);
            Path partial = zip.resolveSibling(zip.getFileName() + ".partial");
            ModelSerializer.writeModel(net, partial.toFile(), true);
            Files.move(partial, zip, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            log.info("reproduce: saved {} at iteration {} ({} % of training)", zip, iteration, PERCENTS[k]);
        }
        net.setListeners();
        return new Training(net, seconds);
    }

    /**
     * The snapshot {@code PERCENTS[k]}: its spectrum file when an earlier run of this folder wrote one for the same
     * checkpoint and examples, else D computed from the checkpoint.
     */
    /** Whether two {@code examples_used} entries (one perhaps read back from JSON) name the same examples. */
    private static boolean sameExamples(Map<String, Object> a, Object b) {
        if (!(b instanceof Map<?, ?> m)) {
            return false;
        }
        for (String key : List.of("selection", "count", "checksum")) {
            if (!String.valueOf(a.get(key)).equals(String.valueOf(m.get(key)))) {
                return false;
            }
        }
        return true;
    }

    static Map<String, Object> snapshot(Options o, DataSet dSet, Map<String, Object> used, int k, long planned)
            throws IOException {
        int pct = PERCENTS[k];
        long iteration = snapshotIteration(planned, pct);
        Path file = o.out().resolve(String.format(Locale.ROOT, "spectrum-%03d.json", pct));
        if (Files.isRegularFile(file)) {
            @SuppressWarnings("unchecked")
            Map<String, Object> r = new ObjectMapper().readValue(file.toFile(), LinkedHashMap.class);
            if (sameExamples(used, r.get("examples_used")) && ((Number) r.get("iteration")).longValue() == iteration) {
                log.info("reproduce: D at {}% of training from {} (an earlier run of this folder)", pct, file);
                @SuppressWarnings("unchecked")
                List<Number> eig = (List<Number>) r.get("eigenvalues");
                r.put(
                        "eigenvalues",
                        eig.stream().mapToDouble(Number::doubleValue).toArray());
                return r;
            }
        }
        MultiLayerNetwork net = MultiLayerNetwork.load(checkpoint(o.out(), pct).toFile(), false);
        return snapshot(net, dSet, used, pct, iteration, o.out(), GRAM_MAX);
    }

    /**
     * How far D's top eigenvectors moved: for each snapshot before the last, the overlap ‖AᵀB‖²_F/k of its top-k
     * eigenvectors with the last snapshot's ({@link TopVectors}; 1 for the same subspace, k/d for unrelated ones).
     * Empty where the vectors were not saved (D from the Gram matrix).
     */
    static List<Map<String, Object>> topOverlaps(Path out) throws IOException {
        List<Map<String, Object>> list = new ArrayList<>();
        Path end = out.resolve(String.format(Locale.ROOT, "top-vectors-%03d.bin", PERCENTS[PERCENTS.length - 1]));
        if (!Files.isRegularFile(end)) {
            return list;
        }
        double[][] b = TopVectors.read(end);
        for (int k = 0; k < PERCENTS.length - 1; k++) {
            Path f = out.resolve(String.format(Locale.ROOT, "top-vectors-%03d.bin", PERCENTS[k]));
            if (Files.isRegularFile(f)) {
                double[][] a = TopVectors.read(f);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("percent", PERCENTS[k]);
                m.put("k", Math.min(a.length, b.length));
                m.put("overlap_with_end", TopVectors.overlap(a, b));
                list.add(m);
            }
        }
        return list;
    }

    /** The folder beside the document that holds its figures, linked as {@value #FIGURES}. */
    static final String FIGURES = "reproduction";

    static Path figures(Path doc) {
        Path parent = doc.toAbsolutePath().getParent();
        return parent.resolve(FIGURES);
    }

    /**
     * Writes REPRODUCTION.md again from runs' {@code reproduction.json} files, one per training seed (each run's
     * folder also holds its top eigenvectors), with its figures.
     */
    @SuppressWarnings("unchecked")
    public static void writeDoc(List<Path> results, Path doc) throws IOException {
        List<Map<String, Object>> runs = new ArrayList<>();
        for (Path file : results) {
            if (!Files.isRegularFile(file)) {
                throw new UserInputException("results file " + file + " does not exist");
            }
            try {
                runs.add(new ObjectMapper().readValue(file.toFile(), Map.class));
            } catch (IOException e) {
                throw new UserInputException(file + " is not a reproduction.json: " + e.getMessage());
            }
        }
        Path parent = doc.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(doc, ReproductionDoc.markdown(runs, figures(doc), FIGURES), StandardCharsets.UTF_8);
    }

    /** D over {@code data} at the model's current parameters (EVAL mode, the paper's protocol), exactly. */
    static Map<String, Object> snapshot(MultiLayerNetwork net, DataSet data, int pct, long iteration, Path out) {
        return snapshot(net, data, pct, iteration, out, GRAM_MAX);
    }

    /** As above; up to {@code gramMax} examples from the N×N Gram matrix, beyond from the d×d matrix. */
    static Map<String, Object> snapshot(
            MultiLayerNetwork net, DataSet data, int pct, long iteration, Path out, int gramMax) {
        return snapshot(net, data, ExampleSubset.whole(data.numExamples(), false), pct, iteration, out, gramMax);
    }

    /** As above, recording which examples D is over ({@code used}, the {@code examples_used} entry). */
    static Map<String, Object> snapshot(
            MultiLayerNetwork net,
            DataSet data,
            Map<String, Object> used,
            int pct,
            long iteration,
            Path out,
            int gramMax) {
        long t0 = System.nanoTime();
        int n = data.numExamples();
        long d = ParameterLayout.of(net).numParams();
        Map<String, Object> r = new LinkedHashMap<>();
        double[] eig;
        double trace;
        double gradNormSq;
        String method;
        Map<String, Object> bootstrap;
        if (n <= gramMax) {
            double[][] gram = gram(net, data);
            double[][] centred = DiffusionStatistics.centreGram(gram);
            eig = DiffusionStatistics.eigenvaluesDescending(centred, 1.0 / n);
            trace = 0;
            gradNormSq = 0;
            for (int i = 0; i < n; i++) {
                trace += centred[i][i] / n;
                for (int j = 0; j < n; j++) {
                    gradNormSq += gram[i][j] / ((double) n * n);
                }
            }
            long tb = System.nanoTime();
            SpectrumBootstrap.Scores scores =
                    SpectrumBootstrap.fromGram(gram, Math.min(SpectrumBootstrap.DEFAULT_SUBSPACE, n - 1));
            bootstrap = SpectrumBootstrap.of(
                            scores,
                            eig,
                            SpectrumBootstrap.DEFAULT_TOP,
                            SpectrumBootstrap.DEFAULT_RESAMPLES,
                            BOOTSTRAP_SEED)
                    .json();
            bootstrap.put("seconds", (System.nanoTime() - tb) / 1e9);
            scores.scores().close();
            method = "exact-gram";
        } else {
            Map<String, Object> s = Spectrum.compute(
                    net,
                    data,
                    true,
                    128,
                    256,
                    "reproduce model at " + pct + "%",
                    n + " training examples",
                    out.resolve(String.format(Locale.ROOT, "spectrum-%03d-full.json", pct)),
                    Map.of("examples_used", used),
                    SpectrumBootstrap.DEFAULT_RESAMPLES,
                    BOOTSTRAP_SEED,
                    out.resolve(String.format(Locale.ROOT, "top-vectors-%03d.bin", pct)));
            eig = (double[]) s.get("eigenvalues");
            trace = (double) s.get("trace");
            gradNormSq = (double) s.get("grad_norm_sq");
            @SuppressWarnings("unchecked")
            Map<String, Object> b = (Map<String, Object>) s.get("bootstrap");
            bootstrap = b;
            method = "exact";
        }
        // N centred examples span at most N − 1 directions.
        SpectrumSummary sum = SpectrumSummary.of(eig, d, trace, n - 1L);
        r.put("percent", pct);
        r.put("iteration", iteration);
        r.put("num_params", d);
        r.put("num_examples", n);
        r.put("examples_used", used);
        r.put("method", Map.of("name", method));
        r.put("trace", trace);
        r.put("lambda_max", eig.length > 0 ? eig[0] : 0);
        r.put("rank", sum.rank());
        r.put("rank_capped", sum.rank() >= n - 1);
        r.put("rank_fraction", (double) sum.rank() / d);
        r.put("rank_threshold", sum.rankThreshold());
        r.put("eig_mean", sum.eigMean());
        r.put("eig_std", sum.eigStd());
        // Over all N examples the plug-in ratio is D's own: nothing to estimate (the probes' pair estimate has no
        // counterpart here).
        r.put("participation_ratio", sum.participationRatioPlugin());
        r.put("participation_ratio_plugin", sum.participationRatioPlugin());
        r.put("stable_rank", sum.stableRank());
        r.put("effective_rank", sum.effectiveRank());
        r.put("grad_norm_sq", gradNormSq);
        // The training loss at the snapshot: the mean data loss over D's examples, in evaluation mode (no weight
        // decay term).
        r.put("loss", net.scoreExamples(data, false).meanNumber().doubleValue());
        r.put("noise_scale", gradNormSq > 0 ? trace / gradNormSq : Double.NaN);
        r.put("bootstrap", bootstrap);
        r.put("eigenvalues", Arrays.copyOf(eig, Math.min(eig.length, n)));
        r.put("seconds", (System.nanoTime() - t0) / 1e9);
        try {
            new ObjectMapper()
                    .enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(
                            out.resolve(String.format(Locale.ROOT, "spectrum-%03d.json", pct))
                                    .toFile(),
                            r);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        log.info(String.format(
                Locale.ROOT,
                "reproduce: D at %d%% of training (iteration %d) over %d examples: rank %d of %d "
                        + "(%.2f%%; lambda > %.3g = lambda_max*d*eps32), participation ratio %.4g, effective rank "
                        + "%.4g, eigenvalues above the threshold %.3g +- %.3g, %.1f s",
                pct,
                iteration,
                n,
                sum.rank(),
                d,
                100.0 * sum.rank() / d,
                sum.rankThreshold(),
                sum.participationRatioPlugin(),
                sum.effectiveRank(),
                sum.eigMean(),
                sum.eigStd(),
                (System.nanoTime() - t0) / 1e9));
        return r;
    }

    /**
     * The N×N Gram matrix of the per-example gradients, in double (N×d values held), from rows computed 250 at a
     * time.
     */
    private static double[][] gram(MultiLayerNetwork net, DataSet data) {
        int n = data.numExamples();
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, 1L << 40);
        int chunk = 250;
        INDArray all = Nd4j.create(DataType.DOUBLE, n, ParameterLayout.of(net).numParams());
        for (int start = 0; start < n; start += chunk) {
            int m = Math.min(chunk, n - start);
            ProbeBatch b = ProbeBatch.of((DataSet) data.getRange(start, start + m));
            int[] idx = new int[m];
            for (int i = 0; i < m; i++) {
                idx[i] = i;
            }
            all.get(NDArrayIndex.interval(start, start + m), NDArrayIndex.all())
                    .assign(engine.compute(net, b, idx).rows());
        }
        double[][] g = Gram.of(all); // one N×N product, in double
        all.close();
        return g;
    }

    /**
     * How much the spectra at 20% and 40% differ from the one at 100%: the relative L2 distance of the
     * eigenvalues above the threshold, compared index by index over the shorter list, and the ranks.
     */
    static List<Map<String, Object>> differences(List<Map<String, Object>> snapshots) {
        Map<String, Object> last = snapshots.get(snapshots.size() - 1);
        double[] b = (double[]) last.get("eigenvalues");
        int rankB = (int) last.get("rank");
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map<String, Object> s : snapshots.subList(0, snapshots.size() - 1)) {
            double[] a = (double[]) s.get("eigenvalues");
            int m = Math.min(Math.min((int) s.get("rank"), rankB), Math.min(a.length, b.length));
            double num = 0;
            double den = 0;
            for (int i = 0; i < m; i++) {
                num += (a[i] - b[i]) * (a[i] - b[i]);
                den += b[i] * b[i];
            }
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("percent", s.get("percent"));
            d.put("compared_eigenvalues", m);
            d.put("relative_l2_difference", den > 0 ? Math.sqrt(num / den) : Double.NaN);
            d.put("rank", s.get("rank"));
            d.put("rank_at_100", rankB);
            d.put("lambda_max_ratio", (double) s.get("lambda_max") / (double) last.get("lambda_max"));
            out.add(d);
        }
        return out;
    }

    /** The paper's double well (theory.md §5) for λ = 0, 0.5, 1.5: measured against analytic area rates. */
    static List<Map<String, Object>> toy(int steps, long seed) {
        LoopStatistics detector = LoopStatistics.defaults().withSeed(seed);
        double dt = 0.002;
        List<Map<String, Object>> out = new ArrayList<>();
        for (double lambda : new double[] {0, 0.5, 1.5}) {
            LoopAnalysis a = detector.analyze(ToySystems.doubleWell(lambda, dt, steps, seed), dt);
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("lambda", lambda);
            r.put("analytic_area_rate", ToySystems.doubleWellAreaRate(lambda));
            r.put("measured_area_rate", a.areaRate()[0][1]);
            r.put("measured_area_rate_stderr", a.areaRateStderr()[0][1]);
            r.put("p_value", a.pValue());
            r.put("verdict", a.verdict().name());
            r.put("steps", steps);
            out.add(r);
        }
        return out;
    }

    /** Continues training at the final, fixed learning rate with the TrajectoryListener on, and tests for loops. */
    static Map<String, Object> loops(MultiLayerNetwork trained, DataSet train, Options o, double lr)
            throws IOException {
        MultiLayerNetwork net = trained.clone();
        net.setListeners(new ProgressListener(o.loopIterations()));
        net.setLearningRate(lr);
        TrajectoryListener t = new TrajectoryListener.Builder()
                .overheadBudget(0) // the reproduction records every step, whatever it costs
                .seed(o.seed())
                .capacity(o.loopIterations())
                .analyzeEvery(o.loopIterations())
                .trajectoryFile(o.out().resolve("trajectory.csv"))
                .build();
        net.addListeners(t);
        int n = train.numExamples();
        int epochs = (int) Math.ceil((double) o.loopIterations() * o.loopBatchSize() / n) + 1;
        WithoutReplacementSampler sampler = new WithoutReplacementSampler(train, o.loopBatchSize(), o.seed() + 1);
        net.fit(new MaxBatches(sampler, o.loopIterations()), epochs);
        t.close();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("iterations", o.loopIterations());
        r.put("batch_size", o.loopBatchSize());
        r.put("learning_rate", lr);
        LoopAnalysis a = t.lastAnalysis();
        if (a != null) {
            r.put("verdict", a.verdict().name());
            r.put("p_value", a.pValue());
            r.put("max_rate", a.maxRate());
            r.put("max_rate_stderr", a.maxRateStderr());
            r.put("period", a.period());
            r.put("diffusion_exponent", a.diffusionExponent());
            r.put("correlation_time", a.correlationTime());
            r.put("window_steps", a.steps());
        } else {
            r.put("verdict", "no analysis");
        }
        return r;
    }

    static Map<String, Object> machine() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("java", System.getProperty("java.version"));
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        m.put("omp_num_threads", System.getenv("OMP_NUM_THREADS"));
        String cpu = "unknown";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: leave it unknown
        }
        m.put("cpu", cpu);
        return m;
    }
}

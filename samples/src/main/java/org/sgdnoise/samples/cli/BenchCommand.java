package org.sgdnoise.samples.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.samples.QuickStart;
import org.sgdnoise.samples.SmallLeNet;
import org.sgdnoise.samples.data.BuiltinData;
import org.sgdnoise.sampling.WithoutReplacementSampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench}: the figures of docs/BENCHMARKS.md, measured in one process so their ratios share the
 * machine's state. Medians over repetitions after warm-up.
 *
 * <ol>
 *   <li>per-example gradients for k examples (batched path as k×d rows and as factors, exact path)
 *       against DL4J's batched gradient on the same k examples and a training step, for the small LeNet
 *       and a 784-512-10 MLP;
 *   <li>the k×k Gram matrix from factors against from materialised rows, on the MLP;
 *   <li>quick-start training time with probe-interval 0 against the default, runs interleaved; the final
 *       parameter hashes of the two must agree (the listener does not disturb training).
 * </ol>
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measures per-example gradient cost and quick-start overhead; prints a markdown table.")
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--data", description = "Fashion-/MNIST IDX folder (default: the system copy, else built-in)")
    Path data;

    @Option(names = "--samples", defaultValue = "64", description = "k per-example gradients (default: ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--batch-size", defaultValue = "128", description = "training batch size (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = "--gram-samples", defaultValue = "256", description = "k for the Gram benchmark (default: ${DEFAULT-VALUE})")
    int gramSamples;

    @Option(names = "--reps", defaultValue = "5", description = "repetitions (default: ${DEFAULT-VALUE})")
    int reps;

    @Option(names = "--quickstart-reps", defaultValue = "5", description = "quick-start pairs; 0 skips (default: ${DEFAULT-VALUE})")
    int quickstartReps;

    @Option(names = "--interleaved-iterations", defaultValue = "300",
            description = "iterations of the in-process interleaved overhead measurement; 0 skips (default: ${DEFAULT-VALUE})")
    int interleavedIterations;

    @Option(names = "--max-iterations", defaultValue = "0", description = "quick-start iteration limit; 0 = one full epoch")
    long maxIterations;

    @Option(names = "--probe-interval", defaultValue = "" + QuickStart.DEFAULT_PROBE_INTERVAL,
            description = "probe interval for the 'with listener' runs (default: ${DEFAULT-VALUE})")
    int probeInterval;

    @Option(names = "--out", defaultValue = "sgdnoise-out/bench", description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (reps < 1 || samples < 2 || batchSize < samples) {
            throw new UserInputException("need reps >= 1, samples >= 2 and batch-size >= samples; got reps " + reps
                    + ", samples " + samples + ", batch-size " + batchSize);
        }
        Files.createDirectories(out);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("omp_num_threads", System.getenv("OMP_NUM_THREADS"));
        result.put("cpus", Runtime.getRuntime().availableProcessors());
        result.put("java", System.getProperty("java.version"));
        result.put("gradients", gradients());
        if (interleavedIterations > 0) {
            result.put("quickstart_interleaved", interleaved());
        }
        if (quickstartReps > 0) {
            result.put("quickstart", quickstart());
        }
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("bench.json").toFile(), result);
        System.out.println("wrote " + out.resolve("bench.json"));
        return 0;
    }

    private Map<String, Object> gradients() {
        FashionMnist.Data d = data != null ? FashionMnist.load(data, batchSize * 20, 10) : loadDefault();
        List<DataSet> batches = d.train().batchBy(batchSize);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("k", samples);
        m.put("batch_size", batchSize);
        m.put("reps", reps);
        m.put("lenet", perExample("small LeNet", SmallLeNet.build(1, 0.01, 0.9), batches, true));
        m.put("mlp512", perExample("MLP 784-512-10", wideMlp(), batches, false));
        m.put("gram", gram(wideMlp(), d.train().batchBy(Math.max(gramSamples, batchSize)).get(0)));
        return m;
    }

    /** The MLP of the performance targets: 784 → 512 (ReLU) → 10 (softmax), 407,050 parameters. */
    static MultiLayerNetwork wideMlp() {
        var conf = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder()
                .seed(3)
                .weightInit(org.deeplearning4j.nn.weights.WeightInit.RELU)
                .updater(new org.nd4j.linalg.learning.config.Nesterovs(0.01, 0.9))
                .list()
                .layer(new org.deeplearning4j.nn.conf.layers.DenseLayer.Builder().nIn(784).nOut(512)
                        .activation(org.nd4j.linalg.activations.Activation.RELU).build())
                .layer(new org.deeplearning4j.nn.conf.layers.OutputLayer.Builder(
                                org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction.MCXENT)
                        .nIn(512).nOut(10).activation(org.nd4j.linalg.activations.Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /**
     * Per example and per repetition, interleaved: a training step (fit on b examples), DL4J's batched
     * gradient on the k probe examples, the batched path (k×d rows, and factors only) and, when asked,
     * the exact path.
     */
    private Map<String, Object> perExample(String name, MultiLayerNetwork net, List<DataSet> batches, boolean exactToo) {
        PerExampleGradients fast = new PerExampleGradients(ProbeMode.EVAL, PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES);
        PerExampleGradients exact = new PerExampleGradients(ProbeMode.EVAL, PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES, false);
        int[] idx = PerExampleGradients.select(ExampleSelection.FIRST, batchSize, samples, 0);
        MultiLayerNetwork copy = net.clone();
        double[] step = new double[reps];
        double[] batched = new double[reps];
        double[] rows = new double[reps];
        double[] factors = new double[reps];
        double[] exactMs = new double[reps];
        double[] floor = new double[reps];
        long d = org.sgdnoise.gradients.ParameterLayout.of(net).numParams();
        for (int r = -3; r < reps; r++) { // three warm-up rounds
            DataSet b = batches.get((r + 3) % batches.size());
            DataSet kBatch = new DataSet(b.getFeatures().getRows(range(samples)), b.getLabels().getRows(range(samples)));
            ProbeBatch pb = ProbeBatch.of(b);
            long t = System.nanoTime();
            net.fit(b);
            double tStep = (System.nanoTime() - t) / 1e6 / b.numExamples();
            copy.setParams(net.params());
            t = System.nanoTime();
            copy.calculateGradients(kBatch.getFeatures(), kBatch.getLabels(), null, null);
            double tBatched = (System.nanoTime() - t) / 1e6 / samples;
            t = System.nanoTime();
            fast.compute(net, pb, idx).rows().close();
            double tRows = (System.nanoTime() - t) / 1e6 / samples;
            t = System.nanoTime();
            fast.factors(net, pb, idx);
            double tFactors = (System.nanoTime() - t) / 1e6 / samples;
            double tExact = Double.NaN;
            if (exactToo) {
                t = System.nanoTime();
                exact.compute(net, pb, idx).rows().close();
                tExact = (System.nanoTime() - t) / 1e6 / samples;
            }
            // The floor of any k×d result: allocate it and write every entry once.
            t = System.nanoTime();
            INDArray block = Nd4j.createUninitialized(net.params().dataType(), new long[] {samples, d}, 'c');
            block.assign(0);
            double tFloor = (System.nanoTime() - t) / 1e6 / samples;
            block.close();
            if (r >= 0) {
                floor[r] = tFloor;
                step[r] = tStep;
                batched[r] = tBatched;
                rows[r] = tRows;
                factors[r] = tFactors;
                exactMs[r] = tExact;
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", name);
        m.put("d", fast.layout().numParams());
        m.put("batched_path", fast.batched());
        m.put("train_step_ms_per_example", median(step));
        m.put("dl4j_batched_gradient_ms_per_example", median(batched));
        m.put("per_example_rows_ms", median(rows));
        m.put("per_example_factors_ms", median(factors));
        m.put("per_example_exact_ms", exactToo ? median(exactMs) : null);
        m.put("write_kxd_floor_ms", median(floor));
        m.put("ratio_rows_to_batched_gradient", median(rows) / median(batched));
        m.put("ratio_factors_to_batched_gradient", median(factors) / median(batched));
        m.put("ratio_exact_to_batched_gradient", exactToo ? median(exactMs) / median(batched) : null);
        m.put("ratio_floor_to_batched_gradient", median(floor) / median(batched));
        System.out.println(String.format(Locale.ROOT,
                "| %s (d=%d, k=%d) | DL4J batched gradient %.3f ms | per-example rows %.3f ms (%.2f×) | factors only %.3f ms (%.2f×) | exact path %s | training step (b=%d) %.3f ms | write k×d floor %.3f ms (%.2f×) |",
                name, fast.layout().numParams(), samples, median(batched), median(rows), median(rows) / median(batched),
                median(factors), median(factors) / median(batched),
                exactToo ? String.format(Locale.ROOT, "%.3f ms (%.2f×)", median(exactMs), median(exactMs) / median(batched)) : "-",
                batchSize, median(step), median(floor), median(floor) / median(batched)));
        return m;
    }

    /** The k×k Gram matrix from factors against from materialised rows (float), on the same gradients. */
    private Map<String, Object> gram(MultiLayerNetwork net, DataSet batch) {
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, 4L << 30);
        int k = Math.min(gramSamples, batch.numExamples());
        int[] idx = PerExampleGradients.select(ExampleSelection.FIRST, batch.numExamples(), k, 0);
        var f = engine.factors(net, ProbeBatch.of(batch), idx);
        INDArray rows = f.rows();
        double[] fromFactors = new double[reps];
        double[] fromRows = new double[reps];
        double[][] gf = null;
        double[][] gr = null;
        for (int r = -2; r < reps; r++) {
            // Fresh factors each time: a GradientFactors keeps its Gram matrices once computed.
            var fresh = engine.factors(net, ProbeBatch.of(batch), idx);
            long t = System.nanoTime();
            gf = fresh.gram();
            double a = (System.nanoTime() - t) / 1e6;
            fresh.close();
            t = System.nanoTime();
            gr = org.sgdnoise.gradients.GradientFactors.gramOf(rows);
            double b = (System.nanoTime() - t) / 1e6;
            if (r >= 0) {
                fromFactors[r] = a;
                fromRows[r] = b;
            }
        }
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                diff = Math.max(diff, Math.abs(gf[i][j] - gr[i][j]));
                scale = Math.max(scale, Math.abs(gr[i][j]));
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", "MLP 784-512-10");
        m.put("k", k);
        m.put("d", f.d());
        m.put("from_factors_ms", median(fromFactors));
        m.put("from_rows_ms", median(fromRows));
        m.put("speedup", median(fromRows) / median(fromFactors));
        m.put("max_relative_difference", diff / scale);
        System.out.println(String.format(Locale.ROOT,
                "| Gram, MLP 784-512-10, k=%d | from factors %.2f ms | from rows %.2f ms | %.1f× faster | max rel. difference %.2e |",
                k, median(fromFactors), median(fromRows), median(fromRows) / median(fromFactors), diff / scale));
        return m;
    }

    private static FashionMnist.Data loadDefault() {
        return FashionMnist.isPresent(FashionMnist.SYSTEM_DIR)
                ? FashionMnist.load(FashionMnist.SYSTEM_DIR, 4000, 10)
                : BuiltinData.load();
    }

    private Map<String, Object> quickstart() throws Exception {
        List<Double> off = new ArrayList<>();
        List<Double> on = new ArrayList<>();
        List<Boolean> same = new ArrayList<>();
        for (int r = 0; r < quickstartReps; r++) {
            // Interleave, alternating which goes first, so drift on a shared machine hits both alike.
            boolean offFirst = r % 2 == 0;
            Map<String, Object> a = run(offFirst ? 0 : probeInterval, r);
            Map<String, Object> b = run(offFirst ? probeInterval : 0, r);
            Map<String, Object> sOff = offFirst ? a : b;
            Map<String, Object> sOn = offFirst ? b : a;
            off.add((Double) sOff.get("train_seconds"));
            on.add((Double) sOn.get("train_seconds"));
            same.add(sOff.get("final_params_sha256").equals(sOn.get("final_params_sha256")));
        }
        double mOff = median(off.stream().mapToDouble(x -> x).toArray());
        double mOn = median(on.stream().mapToDouble(x -> x).toArray());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("reps", quickstartReps);
        m.put("probe_interval", probeInterval);
        m.put("max_iterations", maxIterations > 0 ? maxIterations : null);
        m.put("train_seconds_probe_interval_0", off);
        m.put("train_seconds_default", on);
        m.put("median_probe_interval_0", mOff);
        m.put("median_default", mOn);
        m.put("overhead", mOn / mOff - 1);
        m.put("params_identical", same);
        System.out.println(String.format(Locale.ROOT,
                "| quick start, probe-interval 0 | %.2f s | probe-interval %d | %.2f s | overhead %+.1f%% | params identical %s |",
                mOff, probeInterval, mOn, 100 * (mOn / mOff - 1), same));
        return m;
    }

    /**
     * The quick start's training with and without the listener, in one process: two networks from the
     * same seed on the same batches, trained in alternating blocks of 10 iterations (which goes first
     * alternates too), so that the machine's drift hits both alike. Reports the ratio of their total
     * training times, the ratio per window of {@code probeInterval} iterations (one probe each), and
     * whether their final parameters are bit-identical.
     */
    private Map<String, Object> interleaved() throws Exception {
        FashionMnist.Data d = data != null ? FashionMnist.load(data, Integer.MAX_VALUE, 10)
                : FashionMnist.isPresent(FashionMnist.SYSTEM_DIR) ? FashionMnist.load(FashionMnist.SYSTEM_DIR, Integer.MAX_VALUE, 10)
                : BuiltinData.load();
        List<DataSet> batches = new ArrayList<>();
        var it = new WithoutReplacementSampler(d.train(), batchSize, 42);
        while (it.hasNext() && batches.size() < interleavedIterations) {
            batches.add(it.next());
        }
        MultiLayerNetwork with = SmallLeNet.build(42, 0.05, 0.9);
        MultiLayerNetwork without = SmallLeNet.build(42, 0.05, 0.9);
        org.sgdnoise.listeners.DiffusionListener listener = new org.sgdnoise.listeners.DiffusionListener.Builder()
                .probeInterval(probeInterval)
                .samples(samples)
                .seed(42)
                .sampling(org.sgdnoise.diffusion.SamplingScheme.WITHOUT_REPLACEMENT, d.train().numExamples())
                .jsonl(out.resolve("interleaved-metrics.jsonl"))
                .build();
        with.addListeners(listener);
        int block = 10;
        // Each network draws its dropout masks from its own copy of ND4J's random state, as if it trained alone.
        org.nd4j.linalg.api.rng.Random rng = org.nd4j.linalg.factory.Nd4j.getRandom();
        long[][] states = {{rng.rootState(), rng.nodeState()}, {rng.rootState(), rng.nodeState()}};
        int windows = Math.max(1, (batches.size() + probeInterval - 1) / probeInterval);
        double[] tWith = new double[windows];
        double[] tWithout = new double[windows];
        for (int b0 = 0, j = 0; b0 < batches.size(); b0 += block, j++) {
            int b1 = Math.min(batches.size(), b0 + block);
            boolean withFirst = j % 2 == 0;
            for (int pass = 0; pass < 2; pass++) {
                boolean w = (pass == 0) == withFirst;
                MultiLayerNetwork net = w ? with : without;
                long[] state = states[w ? 0 : 1];
                rng.setStates(state[0], state[1]);
                long t = System.nanoTime();
                for (int i = b0; i < b1; i++) {
                    net.fit(batches.get(i));
                }
                double sec = (System.nanoTime() - t) / 1e9;
                state[0] = rng.rootState();
                state[1] = rng.nodeState();
                int window = Math.min(windows - 1, b0 / probeInterval);
                (w ? tWith : tWithout)[window] += sec;
            }
        }
        listener.close();
        double sumWith = Arrays.stream(tWith).sum();
        double sumWithout = Arrays.stream(tWithout).sum();
        double[] ratios = new double[windows];
        for (int w = 0; w < windows; w++) {
            ratios[w] = tWith[w] / tWithout[w];
        }
        boolean identical = Arrays.equals(with.params().dup().data().asBytes(), without.params().dup().data().asBytes());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("iterations", batches.size());
        m.put("probe_interval", probeInterval);
        m.put("block_iterations", block);
        m.put("train_seconds_with_listener", sumWith);
        m.put("train_seconds_without", sumWithout);
        m.put("ratio", sumWith / sumWithout);
        m.put("window_ratios", ratios);
        m.put("median_window_ratio", median(ratios));
        m.put("params_identical", identical);
        System.out.println(String.format(Locale.ROOT,
                "| quick start, interleaved in one process (%d iterations, blocks of %d) | without %.2f s | with listener (interval %d) %.2f s | ratio %.3f | median of %d windows %.3f | params identical %s |",
                batches.size(), block, sumWithout, probeInterval, sumWith, sumWith / sumWithout, windows, median(ratios), identical));
        return m;
    }

    private Map<String, Object> run(int interval, int rep) throws Exception {
        QuickStart.Options o = new QuickStart.Options(data, 1, batchSize, 0.05, 0.9, 42, interval, samples,
                maxIterations, 0, out.resolve("run-" + rep + "-interval-" + interval));
        return QuickStart.run(o).summary();
    }

    private static int[] range(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = i;
        }
        return r;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
    }
}

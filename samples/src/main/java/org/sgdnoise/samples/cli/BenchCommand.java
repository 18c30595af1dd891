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
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.samples.QuickStart;
import org.sgdnoise.samples.SmallLeNet;
import org.sgdnoise.samples.UserInputException;
import org.sgdnoise.samples.data.FashionMnist;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench}: the figures of docs/BENCHMARKS.md, measured in one process so their ratios share the
 * machine's state. Medians over repetitions after warm-up.
 *
 * <ol>
 *   <li>time per per-example gradient (exact path, k examples) against time per example of a batched
 *       training step (fit on b examples) and of one batched gradient on the same k examples;
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

    @Option(names = "--reps", defaultValue = "5", description = "repetitions (default: ${DEFAULT-VALUE})")
    int reps;

    @Option(names = "--quickstart-reps", defaultValue = "3", description = "quick-start pairs; 0 skips (default: ${DEFAULT-VALUE})")
    int quickstartReps;

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
        MultiLayerNetwork net = SmallLeNet.build(1, 0.01, 0.9);
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, PerExampleGradients.DEFAULT_MEMORY_BUDGET_BYTES);
        int[] idx = PerExampleGradients.select(ExampleSelection.FIRST, batchSize, samples, 0);
        DataSet first = batches.get(0);
        DataSet kBatch = new DataSet(first.getFeatures().getRows(range(samples)), first.getLabels().getRows(range(samples)));
        MultiLayerNetwork probeCopy = net.clone();
        for (int w = 0; w < 3; w++) {
            net.fit(batches.get(w % batches.size()));
            engine.compute(net, ProbeBatch.of(first), idx).rows().close();
            probeCopy.calculateGradients(kBatch.getFeatures(), kBatch.getLabels(), null, null);
        }
        double[] step = new double[reps];
        double[] perExample = new double[reps];
        double[] batched = new double[reps];
        for (int r = 0; r < reps; r++) {
            DataSet b = batches.get((r + 3) % batches.size());
            long t = System.nanoTime();
            net.fit(b);
            step[r] = (System.nanoTime() - t) / 1e6 / b.numExamples();
            t = System.nanoTime();
            engine.compute(net, ProbeBatch.of(b), idx).rows().close();
            perExample[r] = (System.nanoTime() - t) / 1e6 / samples;
            t = System.nanoTime();
            probeCopy.calculateGradients(kBatch.getFeatures(), kBatch.getLabels(), null, null);
            batched[r] = (System.nanoTime() - t) / 1e6 / samples;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("k", samples);
        m.put("batch_size", batchSize);
        m.put("reps", reps);
        m.put("train_step_ms_per_example", median(step));
        m.put("per_example_gradient_ms", median(perExample));
        m.put("batched_gradient_ms_per_example", median(batched));
        m.put("ratio_per_example_to_train_step", median(perExample) / median(step));
        m.put("ratio_per_example_to_batched_gradient", median(perExample) / median(batched));
        System.out.println(String.format(Locale.ROOT,
                "| per-example gradient (exact path, k=%d) | %.3f ms | training step per example (b=%d) | %.3f ms | ratio %.2f |",
                samples, median(perExample), batchSize, median(step), median(perExample) / median(step)));
        System.out.println(String.format(Locale.ROOT,
                "| per-example gradient (exact path, k=%d) | %.3f ms | batched gradient per example (same k) | %.3f ms | ratio %.2f |",
                samples, median(perExample), median(batched), median(perExample) / median(batched)));
        return m;
    }

    private static FashionMnist.Data loadDefault() {
        return FashionMnist.isPresent(FashionMnist.SYSTEM_DIR)
                ? FashionMnist.load(FashionMnist.SYSTEM_DIR, 4000, 10)
                : FashionMnist.loadBuiltin();
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

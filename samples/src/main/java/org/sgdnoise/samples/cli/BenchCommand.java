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
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.gradients.internal.RandomStateGuard;
import org.sgdnoise.listeners.DiffusionListener;
import org.sgdnoise.models.SmallLeNet;
import org.sgdnoise.samples.QuickStart;
import org.sgdnoise.samples.data.BuiltinData;
import org.sgdnoise.sampling.WithoutReplacementSampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench}: the end-to-end figures of docs/BENCHMARKS.md, measured in one process so their ratios
 * share the machine's state: quick-start training time with probe-interval 0 against the default, both
 * interleaved in one process and as alternating pairs of separate runs; the final parameter hashes of the
 * two must agree (the listener does not disturb training).
 *
 * <p>The microbenchmarks it used to time by hand (per-example gradients against DL4J's batched gradient,
 * the Gram matrix from factors against from rows) are JMH benchmarks now, in
 * {@code org.sgdnoise.samples.jmh}.
 */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = "Measures the listener's overhead on quick-start training; prints markdown rows.")
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--data", description = "Fashion-/MNIST IDX folder (default: the system copy, else built-in)")
    Path data;

    @Option(
            names = {"--gradients-per-probe", "--samples"},
            defaultValue = "64",
            description = "k per-example gradients per probe of the listener runs (default: ${DEFAULT-VALUE})")
    int samples;

    @Option(
            names = "--batch-size",
            defaultValue = "128",
            description = "training batch size (default: ${DEFAULT-VALUE})")
    int batchSize;

    @Option(
            names = "--quickstart-reps",
            defaultValue = "5",
            description = "quick-start pairs; 0 skips (default: ${DEFAULT-VALUE})")
    int quickstartReps;

    @Option(
            names = "--interleaved-iterations",
            defaultValue = "300",
            description = "iterations of the in-process interleaved overhead measurement; 0 skips "
                    + "(default: ${DEFAULT-VALUE})")
    int interleavedIterations;

    @Option(
            names = "--max-iterations",
            defaultValue = "0",
            description = "quick-start iteration limit; 0 = one full epoch")
    long maxIterations;

    @Option(
            names = {"--probe-every", "--probe-interval"},
            defaultValue = "" + QuickStart.DEFAULT_PROBE_INTERVAL,
            description = "probe interval for the 'with listener' runs (default: ${DEFAULT-VALUE})")
    int probeInterval;

    @Option(
            names = "--out",
            defaultValue = "sgdnoise-out/bench",
            description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (samples < 2 || batchSize < samples) {
            throw new UserInputException("need samples >= 2 and batch-size >= samples; got samples " + samples
                    + ", batch-size " + batchSize);
        }
        Files.createDirectories(out);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("omp_num_threads", System.getenv("OMP_NUM_THREADS"));
        result.put("cpus", Runtime.getRuntime().availableProcessors());
        result.put("java", System.getProperty("java.version"));
        if (interleavedIterations > 0) {
            result.put("quickstart_interleaved", interleaved());
        }
        if (quickstartReps > 0) {
            result.put("quickstart", quickstart());
        }
        new ObjectMapper()
                .enable(SerializationFeature.INDENT_OUTPUT)
                .writeValue(out.resolve("bench.json").toFile(), result);
        System.out.println("wrote " + out.resolve("bench.json"));
        return 0;
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
        System.out.println(String.format(
                Locale.ROOT,
                "| quick start, probe-interval 0 | %.2f s | probe-interval %d | %.2f s | overhead %+.1f%% "
                        + "| params identical %s |",
                mOff,
                probeInterval,
                mOn,
                100 * (mOn / mOff - 1),
                same));
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
        FashionMnist.Data d = data != null
                ? FashionMnist.load(data, Integer.MAX_VALUE, 10)
                : FashionMnist.isPresent(FashionMnist.SYSTEM_DIR)
                        ? FashionMnist.load(FashionMnist.SYSTEM_DIR, Integer.MAX_VALUE, 10)
                        : BuiltinData.load();
        List<DataSet> batches = new ArrayList<>();
        var it = new WithoutReplacementSampler(d.train(), batchSize, 42);
        while (batches.size() < interleavedIterations) {
            if (!it.hasNext()) {
                it.reset(); // the next epoch, a new permutation
            }
            batches.add(it.next());
        }
        MultiLayerNetwork with = SmallLeNet.build(42, 0.05, 0.9);
        MultiLayerNetwork without = SmallLeNet.build(42, 0.05, 0.9);
        DiffusionListener listener = new DiffusionListener.Builder()
                .probeEvery(probeInterval)
                .gradientsPerProbe(samples)
                .seed(42)
                .sampling(SamplingScheme.WITHOUT_REPLACEMENT, d.train().numExamples())
                .jsonlSink(out.resolve("interleaved-metrics.jsonl"))
                .build();
        with.addListeners(listener);
        int block = 10;
        // Each network draws its dropout masks from its own copy of ND4J's random state, as if it trained alone.
        RandomStateGuard[] states = {RandomStateGuard.save(), RandomStateGuard.save()};
        int windows = Math.max(1, (batches.size() + probeInterval - 1) / probeInterval);
        double[] tWith = new double[windows];
        double[] tWithout = new double[windows];
        for (int b0 = 0, j = 0; b0 < batches.size(); b0 += block, j++) {
            int b1 = Math.min(batches.size(), b0 + block);
            boolean withFirst = j % 2 == 0;
            for (int pass = 0; pass < 2; pass++) {
                boolean w = (pass == 0) == withFirst;
                MultiLayerNetwork net = w ? with : without;
                states[w ? 0 : 1].restore();
                long t = System.nanoTime();
                for (int i = b0; i < b1; i++) {
                    net.fit(batches.get(i));
                }
                double sec = (System.nanoTime() - t) / 1e9;
                states[w ? 0 : 1] = RandomStateGuard.save();
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
        boolean identical = Arrays.equals(
                with.params().dup().data().asBytes(),
                without.params().dup().data().asBytes());
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
        System.out.println(String.format(
                Locale.ROOT,
                "| quick start, interleaved in one process (%d iterations, blocks of %d) | without %.2f s "
                        + "| with listener (interval %d) %.2f s | ratio %.3f | median of %d windows %.3f "
                        + "| params identical %s |",
                batches.size(),
                block,
                sumWithout,
                probeInterval,
                sumWith,
                sumWith / sumWithout,
                windows,
                median(ratios),
                identical));
        return m;
    }

    private Map<String, Object> run(int interval, int rep) throws Exception {
        QuickStart.Options o = new QuickStart.Options(
                data,
                1,
                batchSize,
                0.05,
                0.9,
                42,
                interval,
                samples,
                maxIterations,
                0,
                out.resolve("run-" + rep + "-interval-" + interval));
        return QuickStart.run(o).summary();
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
    }
}

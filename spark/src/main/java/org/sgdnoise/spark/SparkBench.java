package org.sgdnoise.spark;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.data.ModelFiles;
import org.sgdnoise.diffusion.DatasetSpectrum;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.models.SmallLeNet;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Throughput of the Spark spectrum for several masters in one process (for instance {@code local[1]} against
 * {@code local[2]}): the same data, partitions and model for each, runs interleaved master by master so that
 * drifting machine load touches all alike; reports examples per second per run, the medians and their ratios
 * to the first master's, and (with {@code --baseline}) the single-machine {@code spectrum} loop on the same
 * examples in the same process. Not for spark-submit: it starts and stops its own local sessions.
 */
@Command(
        name = "sgdnoise-spark-bench",
        mixinStandardHelpOptions = true,
        description = "Spark spectrum throughput, master against master, interleaved in one process.")
public final class SparkBench implements Callable<Integer> {

    @Option(names = "--model", description = "model zip (default: the paper's small LeNet, untrained, seed 1)")
    Path model;

    @Option(
            names = "--data",
            defaultValue = "/usr/share/datasets/fashion-mnist",
            description = "IDX folder or CSV (default: ${DEFAULT-VALUE})")
    String data;

    @Option(names = "--limit", defaultValue = "4000", description = "examples (default: ${DEFAULT-VALUE})")
    long limit;

    @Option(
            names = "--masters",
            defaultValue = "local[1],local[2]",
            split = ",",
            description = "masters to compare (default: ${DEFAULT-VALUE})")
    List<String> masters;

    @Option(
            names = "--partitions",
            defaultValue = "8",
            description = "partitions, the same for every master (default: ${DEFAULT-VALUE})")
    int partitions;

    @Option(names = "--repeats", defaultValue = "3", description = "runs per master (default: ${DEFAULT-VALUE})")
    int repeats;

    @Option(names = "--sketch-size", defaultValue = "128", description = "sketch size l (default: ${DEFAULT-VALUE})")
    int ell;

    @Option(
            names = "--chunk",
            defaultValue = "256",
            description = "examples per gradient computation (default: ${DEFAULT-VALUE})")
    int chunk;

    @Option(
            names = "--baseline",
            negatable = true,
            defaultValue = "true",
            description = "also time the single-machine spectrum computation on the same examples "
                    + "(IDX data only; default: on)")
    boolean baseline;

    /**
     * Runs the benchmark.
     *
     * @param args the command line; {@code --help} lists the options
     */
    public static void main(String[] args) {
        System.exit(new CommandLine(new SparkBench()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Model m = model != null ? ModelFiles.load(model) : SmallLeNet.build(1, 0.1, 0.9);
        ModelBroadcast broadcast = ModelBroadcast.of(m, null);
        int classes = model != null ? ModelFiles.outputClasses(m) : FashionMnist.CLASSES;
        SparkSpectrum.Options options = new SparkSpectrum.Options(ell, chunk, 2);
        Map<String, List<Double>> rates = new LinkedHashMap<>();
        System.out.printf(
                Locale.ROOT,
                "model: %d parameters; data: %s, %d examples in %d partitions; l = %d; OMP_NUM_THREADS=%s; %d cores%n",
                m.numParams(),
                data,
                limit,
                partitions,
                ell,
                System.getenv("OMP_NUM_THREADS"),
                Runtime.getRuntime().availableProcessors());
        DataSet all = null;
        if (baseline) {
            all = FashionMnist.load(Path.of(data), (int) limit, 1).train();
            all = new DataSet(
                    all.getFeatures().castTo(m.params().dataType()),
                    all.getLabels().castTo(m.params().dataType()));
        }
        for (int r = -1; r < repeats; r++) { // r = -1: warm-up (JIT, native libraries, page cache), not counted
            if (all != null) {
                DataSet part = r < 0 ? (DataSet) all.getRange(0, Math.min(512, all.numExamples())) : all;
                long t0 = System.nanoTime();
                DatasetSpectrum single = new DatasetSpectrum(m, ProbeMode.EVAL, ell, false);
                for (int start = 0; start < part.numExamples(); start += chunk) {
                    single.add(
                            ProbeBatch.of((DataSet) part.getRange(start, Math.min(part.numExamples(), start + chunk))));
                }
                single.sketched().estimate();
                double seconds = (System.nanoTime() - t0) / 1e9;
                if (r >= 0) {
                    double rate = single.examples() / seconds;
                    rates.computeIfAbsent("single machine", k -> new ArrayList<>())
                            .add(rate);
                    System.out.printf(
                            Locale.ROOT,
                            "%-14s run %d: %d examples in %.1f s, %.1f examples/s "
                                    + "(the spectrum command's loop, %s path)%n",
                            "single machine",
                            r + 1,
                            single.examples(),
                            seconds,
                            rate,
                            single.batched() ? "batched" : "exact");
                }
            }
            for (String master : masters) {
                SparkSession spark = SparkSession.builder()
                        .master(master)
                        .appName("sgdnoise-bench")
                        .config("spark.ui.enabled", "false")
                        .getOrCreate();
                try {
                    Examples.Input in =
                            Examples.read(spark, data, classes, r < 0 ? Math.min(limit, 512) : limit, partitions);
                    SparkSpectrum.Result res =
                            SparkSpectrum.compute(in.rows(), broadcast, classes, in.count(), options);
                    double rate = res.sketch().examples() / res.seconds();
                    if (r >= 0) {
                        rates.computeIfAbsent(master, k -> new ArrayList<>()).add(rate);
                        System.out.printf(
                                Locale.ROOT,
                                "%-14s run %d: %d examples in %.1f s, %.1f examples/s (%s path); "
                                        + "tasks %.1f s, of which gradients and sketch %.1f s%n",
                                master,
                                r + 1,
                                res.sketch().examples(),
                                res.seconds(),
                                rate,
                                res.gradientPath(),
                                res.taskSeconds(),
                                res.gradientSeconds());
                    }
                } finally {
                    spark.stop();
                }
            }
        }
        double base = median(rates.get(masters.get(0)));
        for (Map.Entry<String, List<Double>> e : rates.entrySet()) {
            double med = median(e.getValue());
            System.out.printf(
                    Locale.ROOT,
                    "%-14s median %.1f examples/s, %.2fx %s%n",
                    e.getKey(),
                    med,
                    med / base,
                    masters.get(0));
        }
        return 0;
    }

    private static double median(List<Double> v) {
        double[] a = v.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }
}

package org.sgdnoise.samples.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.listeners.Dashboard;
import org.sgdnoise.listeners.DiffusionListener;
import org.sgdnoise.listeners.TrajectoryListener;
import org.sgdnoise.output.TensorBoardSink;

/**
 * Training time with the listeners over without, as alternating separate runs: for each pair one child JVM
 * trains without listeners and one with both (at defaults), which goes first alternating from pair to pair.
 * Each child is {@code java -cp <this class path> org.sgdnoise.samples.bench.SeparateRuns ...}, inheriting the
 * environment ({@code OMP_NUM_THREADS} included); it loads its data and builds its batches before the clock
 * starts, so only training is timed, and writes its time and a hash of its final parameters to a JSON file.
 */
public final class SeparateRuns {

    /** How long one child may run before it is killed. */
    static final long CHILD_TIMEOUT_MINUTES = 30;

    private SeparateRuns() {}

    /**
     * The pairs of one model.
     *
     * @param pairs pairs of child runs
     * @param iterations training iterations of each child
     * @param trainSecondsWith each pair's time with listeners, s
     * @param trainSecondsWithout each pair's time without, s
     * @param pairRatios with over without, per pair
     * @param medianRatio their median
     * @param paramsIdentical whether every child of this model ended with the same parameters
     */
    public record Result(
            int pairs,
            int iterations,
            double[] trainSecondsWith,
            double[] trainSecondsWithout,
            double[] pairRatios,
            double medianRatio,
            boolean paramsIdentical) {}

    /**
     * Runs {@code pairs} pairs of child JVMs for {@code model}.
     *
     * @param data the Fashion-MNIST folder, or null for the default (system copy, else built-in)
     * @param dir where the children's result and log files go
     */
    public static Result run(
            String model, int pairs, int iterations, long seed, Path data, Path dir, PrintStream progress)
            throws IOException, InterruptedException {
        Files.createDirectories(dir);
        double[] with = new double[pairs];
        double[] without = new double[pairs];
        double[] ratios = new double[pairs];
        Set<String> hashes = new HashSet<>();
        for (int p = 0; p < pairs; p++) {
            boolean withFirst = p % 2 == 1;
            for (int pass = 0; pass < 2; pass++) {
                boolean w = (pass == 0) == withFirst;
                JsonNode r = child(
                        model, w, iterations, seed, data, dir.resolve(model + "-" + p + (w ? "-with" : "-without")));
                (w ? with : without)[p] = r.get("train_seconds").asDouble();
                hashes.add(r.get("final_params_sha256").asText());
            }
            ratios[p] = with[p] / without[p];
            if (progress != null) {
                progress.printf(
                        Locale.ROOT,
                        "[bench] %s: separate runs pair %d/%d, ratio %.3f%n",
                        model,
                        p + 1,
                        pairs,
                        ratios[p]);
            }
        }
        return new Result(pairs, iterations, with, without, ratios, Interleaved.median(ratios), hashes.size() == 1);
    }

    private static JsonNode child(String model, boolean with, int iterations, long seed, Path data, Path base)
            throws IOException, InterruptedException {
        Path result = base.resolveSibling(base.getFileName() + ".json");
        Path log = base.resolveSibling(base.getFileName() + ".log");
        Files.deleteIfExists(result);
        String java = ProcessHandle.current()
                .info()
                .command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> cmd = new ArrayList<>(List.of(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                SeparateRuns.class.getName(),
                model,
                Boolean.toString(with),
                Integer.toString(iterations),
                Long.toString(seed),
                data == null ? "-" : data.toAbsolutePath().toString(),
                result.toAbsolutePath().toString()));
        Process proc = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        if (!proc.waitFor(CHILD_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
            proc.destroyForcibly();
            throw new IOException("child run " + base.getFileName() + " took over " + CHILD_TIMEOUT_MINUTES
                    + " minutes and was killed; see " + log);
        }
        if (proc.exitValue() != 0 || !Files.exists(result)) {
            throw new IOException(
                    "child run " + base.getFileName() + " failed (exit " + proc.exitValue() + "); see " + log);
        }
        return new ObjectMapper().readTree(result.toFile());
    }

    /**
     * The child: {@code model withListeners iterations seed dataDir|- resultFile}. Trains {@code model} on its
     * batches, with both listeners at defaults when asked, and writes {@code train_seconds} and
     * {@code final_params_sha256} to {@code resultFile}.
     */
    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            throw new IllegalArgumentException(
                    "usage: SeparateRuns model withListeners iterations seed dataDir|- resultFile, got " + args.length
                            + " arguments");
        }
        String model = UserModels.check(args[0]);
        boolean with = Boolean.parseBoolean(args[1]);
        int iterations = Integer.parseInt(args[2]);
        long seed = Long.parseLong(args[3]);
        Path data = args[4].equals("-") ? null : Path.of(args[4]);
        DataSet images = UserModels.usesImages(model) ? UserModels.images(data).train() : null;
        List<DataSet> batches = UserModels.batches(model, images, iterations, seed);
        Object net = UserModels.build(model, seed);
        List<AutoCloseable> listeners = with ? attachDefaults(net) : List.of();
        long t = System.nanoTime();
        for (DataSet b : batches) {
            UserModels.fit(net, b);
        }
        double sec = (System.nanoTime() - t) / 1e9;
        for (AutoCloseable l : listeners) {
            l.close();
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", model);
        out.put("with_listeners", with);
        out.put("iterations", iterations);
        out.put("train_seconds", sec);
        out.put(
                "final_params_sha256",
                HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(UserModels.paramBytes(net))));
        new ObjectMapper().writeValue(Path.of(args[5]).toFile(), out);
        System.exit(0); // ND4J's native threads can keep the JVM alive
    }

    /**
     * As {@link #attachDefaults}, with the live sinks on: both listeners publish to {@code dashboard} and each writes
     * TensorBoard event files under {@code tensorboard}.
     */
    public static List<AutoCloseable> attachWithLiveSinks(Object net, Dashboard dashboard, Path tensorboard) {
        return List.of(
                new DiffusionListener.Builder()
                        .sink(dashboard)
                        .sink(new TensorBoardSink(tensorboard))
                        .build()
                        .attachTo(net),
                new TrajectoryListener.Builder()
                        .sink(dashboard)
                        .sink(new TensorBoardSink(tensorboard))
                        .build()
                        .attachTo(net));
    }

    /** Attaches a DiffusionListener and a TrajectoryListener, each at its builder's defaults; returns them. */
    public static List<AutoCloseable> attachDefaults(Object net) {
        return List.of(
                new DiffusionListener.Builder().build().attachTo(net),
                new TrajectoryListener.Builder().build().attachTo(net));
    }
}

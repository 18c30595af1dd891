package org.sgdnoise.samples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sgdnoise.UserInputException;
import org.sgdnoise.curvature.HessianOperator;
import org.sgdnoise.curvature.HessianVectorProducts;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.diffusion.Temperature;
import org.sgdnoise.gradients.ParameterLayout;
import org.sgdnoise.gradients.PerExampleGradients;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.internal.linalg.Gram;
import org.sgdnoise.internal.linalg.SymmetricEigen;
import org.sgdnoise.models.SmallLeNet;
import org.sgdnoise.sampling.MinibatchSampler;
import org.sgdnoise.sampling.ReshuffledSgd;
import org.sgdnoise.sampling.WithReplacementSampler;
import org.sgdnoise.sampling.WithoutReplacementSampler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code compare-sampling} experiment: the same model trained from the same initial weights with minibatches
 * drawn with replacement, without replacement at the same learning rate, and without replacement at the
 * temperature-matched rate η·(N − 1)/(N − b), for several batch sizes and paired seeds, for a fixed step budget
 * with L2. Each run measures, over the second half of its steps, the test and train loss and accuracy (averaged
 * over evenly spaced evaluations) and the stationary variance of the weights along four fixed directions: the
 * stiffest and flattest of the Hessian within the span of D's top eigenvectors, D's top eigenvector and a random
 * direction, all at a reference point (the end of a with-replacement run). Runs are appended to {@code runs.jsonl}
 * as they finish; a rerun with the same folder and protocol skips them. {@link CompareSamplingReport} turns the
 * runs into the tables, intervals and plots.
 */
public final class CompareSampling {

    private static final Logger log = LoggerFactory.getLogger(CompareSampling.class);

    /** The seed of the reference run and of the random direction (the paired seeds are 1 … S). */
    static final int REFERENCE_SEED = 0;

    /** The arms of the experiment. */
    public enum Arm {
        /** With replacement at η. */
        WITH("with_replacement", SamplingScheme.WITH_REPLACEMENT),
        /** Without replacement (reshuffling each epoch) at η. */
        WITHOUT("without_replacement", SamplingScheme.WITHOUT_REPLACEMENT),
        /** Without replacement at η·(N − 1)/(N − b): the temperature of the with-replacement arm. */
        MATCHED("without_matched", SamplingScheme.WITHOUT_REPLACEMENT);

        private final String id;
        private final SamplingScheme scheme;

        Arm(String id, SamplingScheme scheme) {
            this.id = id;
            this.scheme = scheme;
        }

        /** The name in records and tables. */
        public String id() {
            return id;
        }

        /** How batches are drawn. */
        public SamplingScheme scheme() {
            return scheme;
        }

        /** The learning rate of this arm for base rate η, batch size b and N examples. */
        public double learningRate(double eta, int b, int n) {
            return this == MATCHED
                    ? eta / Temperature.finitePopulationFactor(b, n, SamplingScheme.WITHOUT_REPLACEMENT)
                    : eta;
        }

        /** The arm called {@code id}. */
        public static Arm of(String id) {
            for (Arm a : values()) {
                if (a.id.equals(id)) {
                    return a;
                }
            }
            throw new UserInputException(
                    "unknown arm " + id + "; arms are with_replacement, without_replacement and " + "without_matched");
        }
    }

    /** The fixed directions, in the order of the columns of the direction matrix. */
    static final String[] DIRECTIONS = {"stiff", "flat", "top_d", "random"};

    /**
     * Options.
     *
     * @param model softmax (softmax regression) or mlp (784-64-10)
     * @param examples N, the first N training examples
     * @param steps the step budget of every run; the second half is measured
     * @param evaluations evaluations of the losses and accuracies over the measured half
     * @param testLimit test examples used (the first ones); ≤ 0 for all
     * @param span the top eigenvectors of D whose span the stiff and flat directions are chosen in
     * @param noiseBatches batches per noise measurement through a sampler (at least 10 epochs)
     */
    public record Options(
            Path data,
            String model,
            int examples,
            int[] batchSizes,
            int seeds,
            int steps,
            double learningRate,
            double l2,
            int evaluations,
            int testLimit,
            int span,
            int noiseBatches,
            Path out) {
        public Options {
            if (!"softmax".equals(model) && !"mlp".equals(model)) {
                throw new UserInputException("model must be softmax or mlp, got " + model);
            }
            if (batchSizes == null || batchSizes.length == 0) {
                throw new UserInputException("batch-sizes must list at least one size");
            }
            for (int b : batchSizes) {
                if (b < 2 || b > examples) {
                    throw new UserInputException("batch sizes must be in [2, N = " + examples + "], got " + b);
                }
            }
            if (examples < 4 || seeds < 1 || steps < 4 || evaluations < 1 || evaluations > steps / 2) {
                throw new UserInputException("need examples >= 4, seeds >= 1, steps >= 4 and evaluations in [1, "
                        + "steps/2], got " + examples + ", " + seeds + ", " + steps + " and " + evaluations);
            }
            if (!(learningRate > 0) || !(l2 >= 0)) {
                throw new UserInputException("need lr > 0 and l2 >= 0, got " + learningRate + " and " + l2);
            }
            if (noiseBatches < 20) {
                throw new UserInputException("noise-batches must be >= 20, got " + noiseBatches);
            }
            if (span < 2 || span > examples) {
                throw new UserInputException("span must be in [2, N], got " + span);
            }
        }

        /** What a finished run depends on: a folder holding runs of another protocol is refused. */
        Map<String, Object> protocol(String source) {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("data", source);
            p.put("model", model);
            p.put("examples", examples);
            p.put("steps", steps);
            p.put("lr", learningRate);
            p.put("l2", l2);
            p.put("evaluations", evaluations);
            p.put("test_examples", testLimit);
            p.put("span", span);
            return p;
        }
    }

    /**
     * The fixed directions at the reference point.
     *
     * @param vectors the unit directions, in the order of {@link #DIRECTIONS}, each of d
     * @param basis the span's orthonormal basis V (D's top eigenvectors), span × d
     * @param coordinates each direction's coordinates in V (NaN row for the random direction, which is not in it)
     * @param hessian {@code VᵀHV}
     * @param diffusion {@code VᵀDV} (diagonal: D's top eigenvalues)
     * @param curvature {@code uᵀHu} per direction
     * @param noise {@code uᵀDu} per direction
     * @param traceD tr D over the N examples at the reference point
     */
    record Directions(
            double[][] vectors,
            double[][] basis,
            double[][] coordinates,
            double[][] hessian,
            double[][] diffusion,
            double[] curvature,
            double[] noise,
            double traceD) {}

    private CompareSampling() {}

    /** Runs (or resumes) the experiment and writes runs.jsonl and the report. */
    public static void run(Options o) throws IOException {
        FashionMnist.Data data = QuickStart.loadData(o.data(), o.examples());
        DataSet train = data.train();
        if (train.numExamples() < o.examples()) {
            throw new UserInputException(
                    "the data has " + train.numExamples() + " training examples, fewer than N = " + o.examples());
        }
        DataSet test = o.testLimit() > 0 && data.test().numExamples() > o.testLimit()
                ? (DataSet) data.test().getRange(0, o.testLimit())
                : data.test();
        int n = train.numExamples();
        Files.createDirectories(o.out());
        checkProtocol(o, data.source());
        MultiLayerNetwork reference = reference(o, train);
        Directions dirs = directions(o, reference, train);
        Path runsFile = o.out().resolve("runs.jsonl");
        Map<String, JsonNode> done = RunLog.read(runsFile, "compare-sampling");
        List<Object[]> plan = new ArrayList<>();
        for (int b : o.batchSizes()) {
            for (int seed = 1; seed <= o.seeds(); seed++) {
                for (Arm arm : Arm.values()) {
                    plan.add(new Object[] {b, arm, seed});
                }
            }
        }
        long t0 = System.nanoTime();
        int ran = 0;
        for (int i = 0; i < plan.size(); i++) {
            int b = (Integer) plan.get(i)[0];
            Arm arm = (Arm) plan.get(i)[1];
            int seed = (Integer) plan.get(i)[2];
            String key = key(b, arm, seed);
            if (done.containsKey(key)) {
                continue;
            }
            Map<String, Object> r = oneRun(o, train, test, dirs, b, arm, seed);
            done.put(key, RunLog.append(runsFile, r));
            ran++;
            double elapsed = (System.nanoTime() - t0) / 1e9;
            log.info(String.format(
                    Locale.ROOT,
                    "compare-sampling: run %d/%d done (b=%d, %s, seed %d): test loss %.4f, test accuracy %.4f, "
                            + "var stiff %.3g flat %.3g; %.0f s elapsed, about %.0f s left",
                    i + 1,
                    plan.size(),
                    b,
                    arm.id(),
                    seed,
                    (Double) r.get("test_loss"),
                    (Double) r.get("test_accuracy"),
                    ((double[]) r.get("variance"))[0],
                    ((double[]) r.get("variance"))[1],
                    elapsed,
                    elapsed / ran * (plan.size() - i - 1)));
        }
        if (ran < plan.size()) {
            log.info("compare-sampling: {} finished runs found in {} were not repeated", plan.size() - ran, runsFile);
        }
        CompareSamplingReport.write(o, n, dirs, List.copyOf(done.values()), reference, train);
    }

    static String key(int b, Arm arm, int seed) {
        return b + "/" + arm.id() + "/" + seed;
    }

    private static void checkProtocol(Options o, String source) throws IOException {
        ObjectMapper json = new ObjectMapper();
        String wanted = json.writeValueAsString(o.protocol(source));
        Path file = o.out().resolve("experiment.json");
        if (Files.isRegularFile(file)) {
            String found = Files.readString(file, StandardCharsets.UTF_8).trim();
            if (!found.equals(wanted)) {
                throw new UserInputException(o.out() + " holds runs of another protocol (" + found + ", this one: "
                        + wanted + "): give another --out, or delete that folder to start again (batch sizes and "
                        + "seeds may change)");
            }
        } else {
            Files.writeString(file, wanted, StandardCharsets.UTF_8);
        }
    }

    static MultiLayerNetwork model(Options o, long seed, double learningRate) {
        return "softmax".equals(o.model())
                ? SmallLeNet.softmax(seed, learningRate, o.l2())
                : SmallLeNet.mlp(seed, learningRate, 0, o.l2());
    }

    static MinibatchSampler sampler(SamplingScheme scheme, DataSet train, int b, long seed) {
        return scheme == SamplingScheme.WITH_REPLACEMENT
                ? new WithReplacementSampler(train, b, seed)
                : new WithoutReplacementSampler(train, b, seed);
    }

    /**
     * The reference point: a with-replacement run at the smallest batch size from {@link #REFERENCE_SEED}, the full
     * step budget; saved as {@code reference.zip} and read back on a rerun.
     */
    static MultiLayerNetwork reference(Options o, DataSet train) throws IOException {
        Path file = o.out().resolve("reference.zip");
        if (Files.isRegularFile(file)) {
            return MultiLayerNetwork.load(file.toFile(), false);
        }
        int b = Arrays.stream(o.batchSizes()).min().getAsInt();
        log.info("compare-sampling: the reference run ({} steps at b = {}, with replacement)", o.steps(), b);
        MultiLayerNetwork net = model(o, REFERENCE_SEED, o.learningRate());
        train(net, sampler(SamplingScheme.WITH_REPLACEMENT, train, b, REFERENCE_SEED), o.steps(), null);
        Path partial = o.out().resolve("reference.zip.partial");
        net.save(partial.toFile(), false);
        Files.move(partial, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return net;
    }

    /** Called after each step with the step's number (from 0). */
    interface AfterStep {
        void after(int step);
    }

    /** Trains {@code steps} steps with batches from the sampler (a new epoch when one ends). */
    static void train(MultiLayerNetwork net, MinibatchSampler sampler, int steps, AfterStep after) {
        for (int t = 0; t < steps; t++) {
            if (!sampler.hasNext()) {
                sampler.reset();
            }
            DataSet batch = sampler.next();
            net.fit(batch);
            batch.getFeatures().close(); // off-heap memory: released now, not at the next garbage collection
            batch.getLabels().close();
            if (after != null) {
                after.after(t);
            }
        }
    }

    /**
     * The directions at the reference point: D from the per-example gradients of all N examples (eval mode), its
     * top {@code span} eigenvectors V from the N×N Gram matrix of the centred gradients, the Hessian in V from
     * {@code span} Hessian-vector products (L2 included), and the stiffest and flattest eigenvectors of {@code
     * VᵀHV}; saved in {@code directions.bin} and {@code directions.json}, read back on a rerun.
     */
    static Directions directions(Options o, MultiLayerNetwork net, DataSet train) throws IOException {
        Path bin = o.out().resolve("directions.bin");
        Path json = o.out().resolve("directions.json");
        ObjectMapper om = new ObjectMapper();
        if (Files.isRegularFile(bin) && Files.isRegularFile(json)) {
            JsonNode j = om.readTree(json.toFile());
            double[][] all = TopVectors.read(bin);
            int q = DIRECTIONS.length;
            return new Directions(
                    Arrays.copyOfRange(all, 0, q),
                    Arrays.copyOfRange(all, q, all.length),
                    om.treeToValue(j.get("coordinates"), double[][].class),
                    om.treeToValue(j.get("hessian"), double[][].class),
                    om.treeToValue(j.get("diffusion"), double[][].class),
                    om.treeToValue(j.get("curvature"), double[].class),
                    om.treeToValue(j.get("noise"), double[].class),
                    j.get("trace_d").asDouble());
        }
        long t0 = System.nanoTime();
        int n = train.numExamples();
        int[] all = new int[n];
        Arrays.setAll(all, i -> i);
        PerExampleGradients engine = new PerExampleGradients(ProbeMode.EVAL, 4L << 30);
        INDArray g = engine.compute(net, ProbeBatch.of(train), all).rows().castTo(DataType.DOUBLE);
        INDArray centred = g.subRowVector(g.mean(0));
        double[][] k = Gram.of(centred);
        SymmetricEigen eig = SymmetricEigen.of(k);
        double traceD = 0;
        for (int i = 0; i < n; i++) {
            traceD += k[i][i] / n;
        }
        int m = o.span();
        // D = GᵀG/N: eigenvalue μ/N, eigenvector Gᵀa/√μ for each eigenpair (μ, a) of the Gram matrix.
        double[][] a = new double[n][m];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                a[i][j] = eig.vectors()[i][j] / Math.sqrt(eig.values()[j]);
            }
        }
        double[][] v = centred.transpose().mmul(Nd4j.create(a)).transpose().toDoubleMatrix();
        double[][] dv = new double[m][m];
        for (int j = 0; j < m; j++) {
            dv[j][j] = eig.values()[j] / n;
        }
        HessianOperator h = new HessianVectorProducts().at(net, ProbeBatch.of(train));
        double[][] hv = new double[m][m];
        for (int j = 0; j < m; j++) {
            double[] hj = h.apply(v[j]);
            for (int i = 0; i < m; i++) {
                hv[i][j] = dot(v[i], hj);
            }
        }
        hv = symmetric(hv);
        SymmetricEigen he = SymmetricEigen.of(hv);
        int d = v[0].length;
        double[][] coords = new double[DIRECTIONS.length][m];
        for (int i = 0; i < m; i++) {
            coords[0][i] = he.vectors()[i][0];
            coords[1][i] = he.vectors()[i][m - 1];
        }
        coords[2][0] = 1;
        Arrays.fill(coords[3], Double.NaN);
        double[][] u = new double[DIRECTIONS.length][];
        for (int q = 0; q < 3; q++) {
            u[q] = new double[d];
            for (int i = 0; i < m; i++) {
                for (int c = 0; c < d; c++) {
                    u[q][c] += coords[q][i] * v[i][c];
                }
            }
        }
        SplittableRandom r = new SplittableRandom(REFERENCE_SEED);
        u[3] = new double[d];
        double norm = 0;
        for (int c = 0; c < d; c++) {
            double z = gaussian(r);
            u[3][c] = z;
            norm += z * z;
        }
        for (int c = 0; c < d; c++) {
            u[3][c] /= Math.sqrt(norm);
        }
        double[] curvature = new double[DIRECTIONS.length];
        double[] noise = new double[DIRECTIONS.length];
        for (int q = 0; q < DIRECTIONS.length; q++) {
            curvature[q] = dot(u[q], h.apply(u[q]));
            INDArray p = centred.mmul(Nd4j.create(u[q]).reshape(d, 1));
            noise[q] = p.norm2Number().doubleValue() * p.norm2Number().doubleValue() / n;
        }
        g.close();
        centred.close();
        double[][] both = new double[DIRECTIONS.length + m][];
        System.arraycopy(u, 0, both, 0, DIRECTIONS.length);
        System.arraycopy(v, 0, both, DIRECTIONS.length, m);
        TopVectors.write(Nd4j.create(both).transpose(), both.length, bin);
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("directions", DIRECTIONS);
        j.put("curvature", curvature);
        j.put("noise", noise);
        j.put("trace_d", traceD);
        j.put("span", m);
        j.put("span_share_of_trace", spanShare(dv, traceD));
        j.put("hessian_in_span_eigenvalues", he.values());
        j.put(
                "d_top_eigenvalues",
                Arrays.stream(eig.values()).limit(m).map(x -> x / n).toArray());
        j.put("coordinates", coords);
        j.put("hessian", hv);
        j.put("diffusion", dv);
        j.put("seconds", (System.nanoTime() - t0) / 1e9);
        om.writerWithDefaultPrettyPrinter().writeValue(json.toFile(), j);
        log.info(String.format(
                Locale.ROOT,
                "compare-sampling: directions at the reference point: curvature stiff %.4g, flat %.4g, top-D %.4g, "
                        + "random %.4g; noise uᵀDu %.3g, %.3g, %.3g, %.3g; tr D %.4g (%.0f s)",
                curvature[0],
                curvature[1],
                curvature[2],
                curvature[3],
                noise[0],
                noise[1],
                noise[2],
                noise[3],
                traceD,
                (System.nanoTime() - t0) / 1e9));
        return new Directions(u, v, coords, hv, dv, curvature, noise, traceD);
    }

    private static double spanShare(double[][] dv, double traceD) {
        double s = 0;
        for (int j = 0; j < dv.length; j++) {
            s += dv[j][j];
        }
        return s / traceD;
    }

    private static double gaussian(SplittableRandom r) {
        double u1 = r.nextDouble();
        double u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }

    static double dot(double[] x, double[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * y[i];
        }
        return s;
    }

    /**
     * The stationary variance of linearised SGD along each direction for this arm: {@code uᵀΣu} with Σ from {@link
     * ReshuffledSgd} in the span, with the samplers' noise ({@link Noise#EXACT}: batches of one epoch covary by −D/(N
     * − 1) without replacement) or the paper's ({@link Noise#INDEPENDENT}: the temperature factor alone); NaN for the
     * random direction and where the linearisation is unstable.
     */
    static double[] predictedVariance(
            Directions dirs, double eta, int b, int n, SamplingScheme scheme, ReshuffledSgd.Noise noise) {
        double[] out = new double[DIRECTIONS.length];
        Arrays.fill(out, Double.NaN);
        double[][] sigma;
        try {
            sigma = ReshuffledSgd.covariance(symmetric(dirs.hessian()), dirs.diffusion(), eta, b, n, scheme, noise);
        } catch (IllegalArgumentException unstable) {
            return out;
        }
        for (int q = 0; q < DIRECTIONS.length; q++) {
            double[] w = dirs.coordinates()[q];
            if (Double.isNaN(w[0])) {
                continue;
            }
            double s = 0;
            for (int i = 0; i < w.length; i++) {
                for (int j = 0; j < w.length; j++) {
                    s += w[i] * sigma[i][j] * w[j];
                }
            }
            out[q] = s;
        }
        return out;
    }

    private static Map<String, Object> oneRun(
            Options o, DataSet train, DataSet test, Directions dirs, int b, Arm arm, int seed) {
        long t0 = System.nanoTime();
        int n = train.numExamples();
        double eta = arm.learningRate(o.learningRate(), b, n);
        MultiLayerNetwork net = model(o, seed, eta);
        ParameterLayout layout = ParameterLayout.of(net);
        int q = DIRECTIONS.length;
        INDArray u = Nd4j.create(dirs.vectors()).castTo(net.params().dataType()).transpose(); // d×q
        int burn = o.steps() / 2;
        int window = o.steps() - burn;
        int every = window / o.evaluations();
        double[] mean = new double[q];
        double[] m2 = new double[q];
        long[] count = {0};
        double[][] evals = new double[4][o.evaluations()];
        int[] evaluated = {0};
        INDArray trainable = Nd4j.create(net.params().dataType(), 1, layout.numParams());
        train(net, sampler(arm.scheme(), train, b, seed), o.steps(), t -> {
            if (t < burn) {
                return;
            }
            INDArray p = net.params();
            if (!layout.isIdentity()) {
                layout.gather(p, trainable);
                p = trainable;
            }
            double[] x = p.reshape(1, p.length()).mmul(u).toDoubleVector();
            count[0]++;
            for (int i = 0; i < q; i++) { // Welford
                double delta = x[i] - mean[i];
                mean[i] += delta / count[0];
                m2[i] += delta * (x[i] - mean[i]);
            }
            if ((t + 1 - burn) % every == 0 && evaluated[0] < o.evaluations()) {
                double[] te = lossAndAccuracy(net, test);
                double[] tr = lossAndAccuracy(net, train);
                evals[0][evaluated[0]] = te[0];
                evals[1][evaluated[0]] = te[1];
                evals[2][evaluated[0]] = tr[0];
                evals[3][evaluated[0]] = tr[1];
                evaluated[0]++;
            }
        });
        double[] variance = new double[q];
        for (int i = 0; i < q; i++) {
            variance[i] = m2[i] / (count[0] - 1);
        }
        double[] fin = lossAndAccuracy(net, test);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("key", key(b, arm, seed));
        r.put("batch_size", b);
        r.put("arm", arm.id());
        r.put("sampling", arm.scheme().id());
        r.put("seed", seed);
        r.put("lr", eta);
        r.put("steps", o.steps());
        r.put("measured_from", burn);
        r.put("temperature", Temperature.of(eta, b, n, arm.scheme()));
        r.put("test_loss", mean(evals[0]));
        r.put("test_accuracy", mean(evals[1]));
        r.put("train_loss", mean(evals[2]));
        r.put("train_accuracy", mean(evals[3]));
        r.put("gap_loss", mean(evals[0]) - mean(evals[2]));
        r.put("gap_accuracy", mean(evals[3]) - mean(evals[1]));
        r.put("final_test_loss", fin[0]);
        r.put("final_test_accuracy", fin[1]);
        r.put("directions", DIRECTIONS);
        r.put("variance", variance);
        r.put("mean_projection", mean);
        r.put("seconds", (System.nanoTime() - t0) / 1e9);
        return r;
    }

    /** (A + Aᵀ)/2: the Hessian in the span is symmetric up to the rounding of its products. */
    static double[][] symmetric(double[][] a) {
        double[][] out = new double[a.length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a.length; j++) {
                out[i][j] = 0.5 * (a[i][j] + a[j][i]);
            }
        }
        return out;
    }

    private static double mean(double[] v) {
        return Arrays.stream(v).average().orElse(Double.NaN);
    }

    /** The mean cross-entropy (no regularisation term) and the accuracy of the network on {@code data}. */
    static double[] lossAndAccuracy(MultiLayerNetwork net, DataSet data) {
        INDArray p = net.output(data.getFeatures(), false);
        INDArray y = data.getLabels();
        INDArray logp = Transforms.log(p.add(1e-30), false);
        double loss = -logp.muli(y).sumNumber().doubleValue() / data.numExamples();
        INDArray predicted = p.argMax(1);
        INDArray actual = y.argMax(1);
        double accuracy =
                predicted.eq(actual).castTo(DataType.DOUBLE).meanNumber().doubleValue();
        p.close();
        logp.close();
        return new double[] {loss, accuracy};
    }
}

package org.sgdnoise.spark;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.ExampleSubset;
import org.sgdnoise.data.ModelFiles;
import org.sgdnoise.diffusion.SpectrumReport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The Spark job: {@code spark-submit --class org.sgdnoise.spark.SparkSpectrumJob ... sgdnoise-spark.jar
 * --model M --data D --out F}. Writes the {@code spectrum} command's JSON, from the merged sketch.
 */
@Command(
        name = "sgdnoise-spark",
        mixinStandardHelpOptions = true,
        description = {
            "Computes the gradient-noise covariance D of a trained model over every example of a data set (or the "
                    + "subset --indices or --sample names) on Apache Spark: per-example gradients (EVAL mode) on "
                    + "each partition, one Frequent Directions sketch per partition, merged by tree aggregation "
                    + "with exact global centring.",
            "Writes the spectrum command's JSON report (eigenvalues with their merged certified intervals) to --out."
        })
public final class SparkSpectrumJob implements Callable<Integer> {

    private static final Logger log = LoggerFactory.getLogger(SparkSpectrumJob.class);

    @Option(
            names = "--model",
            required = true,
            description = "model zip written by ModelSerializer (a Hadoop path: local, hdfs://, s3a://, ...)")
    String model;

    @Option(
            names = "--params",
            description = "parameter vector (.npy, d values) to use instead of the model's own; a local file")
    java.nio.file.Path params;

    @Option(
            names = "--data",
            required = true,
            description = "Fashion-/MNIST IDX folder (training split) or CSV file (features..., integer label last); "
                    + "a Hadoop path")
    String data;

    @Option(names = "--limit", defaultValue = "0", description = "use only the first N examples; 0 = all")
    long limit;

    @Option(
            names = "--indices",
            description = "a local file of 0-based example indices to use, one per line (the training split of an IDX "
                    + "folder, the data rows of a CSV file: header and blank lines not counted; # comments)")
    java.nio.file.Path indices;

    @Option(
            names = "--sample",
            defaultValue = "0",
            description = "use N examples drawn at random with --seed; their indices are written beside --out "
                    + "(OUT-indices.txt)")
    int sample;

    @Option(names = "--seed", defaultValue = "1", description = "seed of --sample (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--sketch-size", defaultValue = "128", description = "sketch size l (default: ${DEFAULT-VALUE})")
    int ell;

    @Option(
            names = "--chunk",
            defaultValue = "256",
            description = "examples per gradient computation (default: ${DEFAULT-VALUE})")
    int chunk;

    @Option(
            names = "--partitions",
            defaultValue = "0",
            description = "partitions of the data; 0 = twice Spark's default parallelism")
    int partitions;

    @Option(
            names = "--tree-depth",
            defaultValue = "2",
            description = "depth of the merge tree (default: ${DEFAULT-VALUE})")
    int treeDepth;

    @Option(
            names = "--master",
            description = "Spark master when not run by spark-submit (default: spark-submit's, else local[*])")
    String master;

    @Option(
            names = "--out",
            defaultValue = "sgdnoise-out/spectrum.json",
            description = "JSON report: a local file on the driver, or a Hadoop URI such as hdfs://... "
                    + "(default: ${DEFAULT-VALUE})")
    String out;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /**
     * Runs the job and returns the exit code: 0 ok, 2 bad input (one {@code error:} line: a
     * {@link UserInputException} anywhere in the failure's causes, see {@link UserInputException#find}), 1 failure.
     *
     * @param args the command line
     * @return the exit code
     */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new SparkSpectrumJob());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            UserInputException bad = UserInputException.find(ex);
            if (bad != null) {
                cmd.getErr().println("error: " + bad.getMessage());
                return UserInputException.EXIT_CODE;
            }
            log.error("failed: {}", ex.toString(), ex);
            cmd.getErr().println("error: " + ex);
            return 1;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() throws IOException {
        SparkSpectrum.Options options = new SparkSpectrum.Options(ell, chunk, treeDepth);
        UserInputException.require(partitions >= 0, "partitions must be >= 0, got " + partitions);
        UserInputException.require(limit >= 0, "limit must be >= 0, got " + limit);
        ExampleSubset.checkOptions(indices, sample, limit > 0, "--limit");
        SparkSession.Builder builder = SparkSession.builder().appName("sgdnoise spectrum");
        if (master != null) {
            builder.master(master);
        } else if (!new SparkConf().contains("spark.master")) {
            log.info("no Spark master given: running in local[*]");
            builder.master("local[*]");
        }
        SparkSession spark = builder.getOrCreate();
        try {
            long t0 = System.nanoTime();
            Model m = loadModel(spark, model);
            INDArray p = null;
            if (params != null) {
                UserInputException.require(Files.isRegularFile(params), "parameter file " + params + " does not exist");
                try {
                    p = Nd4j.createFromNpyFile(params.toFile());
                } catch (RuntimeException e) {
                    throw new UserInputException(params + " is not a .npy array: " + e.getMessage(), e);
                }
                UserInputException.require(
                        p.length() == m.numParams(),
                        params + " holds " + p.length() + " values, the model has " + m.numParams() + " parameters");
            }
            int classes = ModelFiles.outputClasses(m);
            int parts = partitions > 0 ? partitions : 2 * spark.sparkContext().defaultParallelism();
            Examples.Input input = Examples.read(
                    spark, data, classes, limit, parts, n -> ExampleSubset.choose(indices, sample, seed, n));
            Map<String, Object> used = input.subset() == null ? null : subsetJson(spark, input.subset());
            SparkSpectrum.Result r =
                    SparkSpectrum.compute(input.rows(), ModelBroadcast.of(m, p), classes, input.count(), options);
            Map<String, Object> sparkInfo = new LinkedHashMap<>();
            sparkInfo.put("master", spark.sparkContext().master());
            sparkInfo.put("spark_version", spark.version());
            sparkInfo.put("default_parallelism", spark.sparkContext().defaultParallelism());
            sparkInfo.put("partitions", r.partitions());
            sparkInfo.put("sketched_partitions", r.sketchedPartitions());
            sparkInfo.put("tree_depth", treeDepth);
            sparkInfo.put("compute_s", r.seconds());
            sparkInfo.put("task_s", r.taskSeconds());
            sparkInfo.put("gradient_s", r.gradientSeconds());
            sparkInfo.put("examples_per_s", r.sketch().examples() / r.seconds());
            Map<String, Object> extra = new LinkedHashMap<>();
            extra.put(
                    "examples_used",
                    used != null ? used : ExampleSubset.whole((int) r.sketch().examples(), limit > 0));
            extra.put("gradient_path", r.gradientPath());
            extra.put("params", params == null ? null : params.toString());
            extra.put("spark", sparkInfo);
            writeReport(spark, r, extra, (System.nanoTime() - t0) / 1e9);
            return 0;
        } finally {
            spark.stop();
        }
    }

    /**
     * The report's {@code examples_used} for a subset; a sample's indices are first written beside --out
     * ({@code OUT-indices.txt}, through Hadoop when --out is a URI), and the entry names that file.
     */
    private Map<String, Object> subsetJson(SparkSession spark, ExampleSubset subset) throws IOException {
        if (subset.file() != null) {
            return subset.json(); // an --indices file
        }
        if (isLocal(out)) {
            return subset.writeTo(ExampleSubset.besideOutput(java.nio.file.Path.of(out)))
                    .json();
        }
        org.apache.hadoop.fs.Path report = new org.apache.hadoop.fs.Path(out);
        org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(
                report.getParent(),
                ExampleSubset.besideOutput(java.nio.file.Path.of(report.getName()))
                        .toString());
        write(spark, target.toString(), subset::writeTo);
        Map<String, Object> json = subset.json();
        json.put("indices_file", target.toString());
        return json;
    }

    /** Writes the JSON to --out: directly when it is a local path, else through a local temporary file and Hadoop. */
    private void writeReport(SparkSession spark, SparkSpectrum.Result r, Map<String, Object> extra, double seconds)
            throws IOException {
        write(
                spark,
                out,
                local -> SpectrumReport.write(SpectrumReport.of(r.sketch(), null, model, data, seconds, extra), local));
    }

    /** Writes a local file. */
    private interface LocalWriter {
        void write(java.nio.file.Path file) throws IOException;
    }

    /** True for a path on the driver's file system, false for a URI (hdfs://, s3a://, file:, ...). */
    private static boolean isLocal(String path) {
        return URI.create(path.replace(" ", "%20")).getScheme() == null;
    }

    /**
     * Writes {@code target}: directly when it is a local path, else to a local temporary file copied there through
     * Hadoop's file systems.
     */
    private static void write(SparkSession spark, String target, LocalWriter writer) throws IOException {
        if (isLocal(target)) {
            writer.write(java.nio.file.Path.of(target));
            return;
        }
        org.apache.hadoop.fs.Path dest = new org.apache.hadoop.fs.Path(target);
        java.nio.file.Path local = Files.createTempFile("sgdnoise-out", ".tmp");
        try {
            writer.write(local);
            FileSystem fs = dest.getFileSystem(spark.sparkContext().hadoopConfiguration());
            fs.copyFromLocalFile(false, true, new org.apache.hadoop.fs.Path(local.toUri()), dest);
        } finally {
            Files.deleteIfExists(local);
        }
    }

    /** Loads a model zip from a Hadoop path (copied to a local temporary file first when not local). */
    static Model loadModel(SparkSession spark, String path) throws IOException {
        org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(path);
        FileSystem fs = p.getFileSystem(spark.sparkContext().hadoopConfiguration());
        if (!fs.isFile(p)) {
            throw new UserInputException("model file " + path + " does not exist");
        }
        java.nio.file.Path local = Files.createTempFile("sgdnoise-model", ".zip");
        try (InputStream in = fs.open(p)) {
            Files.copy(in, local, StandardCopyOption.REPLACE_EXISTING);
            return ModelFiles.load(local);
        } catch (UserInputException e) {
            throw new UserInputException(e.getMessage().replace(local.toString(), path), e);
        } finally {
            Files.deleteIfExists(local);
        }
    }
}

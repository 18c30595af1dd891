package org.sgdnoise.spark;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.ByteType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.IntegerType;
import org.apache.spark.sql.types.LongType;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.ShortType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.UserInputException;
import org.sgdnoise.diffusion.DatasetSketch;
import org.sgdnoise.diffusion.DatasetSpectrum;
import org.sgdnoise.gradients.ProbeBatch;
import org.sgdnoise.gradients.ProbeMode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * D of a model over a whole data set on Spark (theory.md §2 and §4): the model's configuration and parameter
 * vector are broadcast; each partition computes its examples' gradients with the plugin (EVAL mode, the
 * batched fast path where the model allows it) and streams them into its own globally centred Frequent
 * Directions sketch ({@link DatasetSketch}); the partitions' sketches are merged by tree aggregation, each
 * merge adding Chan's correction row, so the result is a sketch of the exact global D with certified
 * eigenvalue intervals whose Δ is the sum of the partitions' and the merges'.
 *
 * <p>Memory per task: the model, one chunk of examples and its gradients (as in {@code spectrum}), and one
 * sketch ({@code 2ℓ·d} values plus 2d); a merge holds two sketches. The driver receives at most
 * {@code partitions^(1/depth)} serialized sketches of at most ℓ·d values each at the last level.
 */
public final class SparkSpectrum {

    private static final Logger log = LoggerFactory.getLogger(SparkSpectrum.class);

    /**
     * Settings.
     *
     * @param ell sketch size ℓ (≥ 2)
     * @param chunk examples per gradient computation (≥ 1)
     * @param treeDepth depth of the merge tree (≥ 1; 1 merges every partition on the driver)
     */
    public record Options(int ell, int chunk, int treeDepth) {
        public Options {
            UserInputException.require(ell >= 2, "sketch-size must be >= 2, got " + ell);
            UserInputException.require(chunk >= 1, "chunk must be >= 1, got " + chunk);
            UserInputException.require(treeDepth >= 1, "tree-depth must be >= 1, got " + treeDepth);
        }
    }

    /**
     * The merged sketch and how it was made.
     *
     * @param partitions the data set's partitions (each sketched by one task)
     * @param sketchedPartitions those that held examples
     * @param batchedPartitions those whose gradients took the batched fast path
     * @param seconds wall time of the distributed computation
     * @param taskSeconds the tasks' time, summed over tasks (restoring the model, reading rows, gradients, sketching)
     * @param gradientSeconds of which in gradients and sketch inserts ({@code DatasetSpectrum.add}), summed over tasks
     */
    public record Result(
            DatasetSketch sketch,
            int partitions,
            long sketchedPartitions,
            long batchedPartitions,
            double seconds,
            double taskSeconds,
            double gradientSeconds) {

        /** "batched" when every partition took the batched fast path, "exact" when none did, else "mixed". */
        public String gradientPath() {
            return batchedPartitions == sketchedPartitions ? "batched" : batchedPartitions == 0 ? "exact" : "mixed";
        }
    }

    private SparkSpectrum() {}

    /**
     * Computes the sketch of D over every row of {@code examples} ({@link Examples#SCHEMA}).
     *
     * @param model the model and its parameter vector, broadcast to the executors
     * @param classes the model's number of classes (labels are one-hot encoded to this width)
     * @param expected the number of examples, for progress lines (≤ 0 when unknown)
     * @throws UserInputException when there are fewer than two examples, or the model and the data do not fit
     */
    public static Result compute(Dataset<Row> examples, ModelBroadcast model, int classes, long expected, Options o) {
        JavaSparkContext jsc =
                JavaSparkContext.fromSparkContext(examples.sparkSession().sparkContext());
        Broadcast<ModelBroadcast> bc = jsc.broadcast(model);
        LongAccumulator done = jsc.sc().longAccumulator("sgdnoise examples");
        LongAccumulator sketched = jsc.sc().longAccumulator("sgdnoise sketched partitions");
        LongAccumulator batched = jsc.sc().longAccumulator("sgdnoise batched partitions");
        LongAccumulator taskNanos = jsc.sc().longAccumulator("sgdnoise task ns");
        LongAccumulator gradientNanos = jsc.sc().longAccumulator("sgdnoise gradient ns");
        int ell = o.ell();
        int chunk = o.chunk();
        JavaRDD<Row> rows = conform(examples).javaRDD();
        int partitions = rows.getNumPartitions();
        log.info(
                "spectrum on Spark: {} partitions, model with {} parameters, sketch l = {}, merge tree depth {}",
                partitions,
                model.numParams(),
                ell,
                o.treeDepth());
        long t0 = System.nanoTime();
        Thread progress = progress(done, expected, t0);
        try {
            JavaRDD<byte[]> parts = rows.mapPartitions(it -> sketchPartition(
                    it,
                    bc.value(),
                    classes,
                    ell,
                    chunk,
                    new Counters(done, sketched, batched, taskNanos, gradientNanos)));
            byte[] merged;
            try {
                merged = Causes.userErrors(() -> parts.treeReduce(SparkSpectrum::merge, o.treeDepth()));
            } catch (UnsupportedOperationException empty) {
                throw new UserInputException("the data holds no examples; D needs at least 2");
            }
            DatasetSketch sketch = read(merged);
            if (sketch.examples() < 2) {
                throw new UserInputException("the data holds " + sketch.examples() + " example(s); D needs at least 2");
            }
            return new Result(
                    sketch,
                    partitions,
                    sketched.value(),
                    batched.value(),
                    (System.nanoTime() - t0) / 1e9,
                    taskNanos.value() / 1e9,
                    gradientNanos.value() / 1e9);
        } finally {
            progress.interrupt();
            bc.destroy();
        }
    }

    /**
     * The data set's {@code features} and {@code label} columns as {@link Examples#SCHEMA}: features an array of any
     * numeric type (cast to double), label any integral type (cast to int).
     *
     * @throws UserInputException naming the columns and types found, when they do not fit
     */
    static Dataset<Row> conform(Dataset<Row> examples) {
        StructType schema = examples.schema();
        List<String> names = Arrays.asList(schema.fieldNames());
        UserInputException.require(
                names.contains("features") && names.contains("label"),
                "the data set needs the columns features (array of numbers) and label (integer class), it has "
                        + names);
        DataType f = schema.apply("features").dataType();
        DataType l = schema.apply("label").dataType();
        UserInputException.require(
                f instanceof ArrayType a && a.elementType() instanceof NumericType,
                "the column features must be an array of numbers, it is " + f.simpleString());
        UserInputException.require(
                l instanceof IntegerType || l instanceof LongType || l instanceof ShortType || l instanceof ByteType,
                "the column label must hold integer classes, it is " + l.simpleString());
        return examples.select(
                functions
                        .col("features")
                        .cast(DataTypes.createArrayType(DataTypes.DoubleType, true))
                        .as("features"),
                functions.col("label").cast(DataTypes.IntegerType).as("label"));
    }

    /** What the tasks report: examples done, partitions sketched and batched, time in tasks and in gradients. */
    record Counters(
            LongAccumulator done,
            LongAccumulator sketched,
            LongAccumulator batched,
            LongAccumulator taskNanos,
            LongAccumulator gradientNanos)
            implements Serializable {}

    /** One task: the sketch of a partition's examples, serialized (none for an empty partition). */
    static Iterator<byte[]> sketchPartition(
            Iterator<Row> rows, ModelBroadcast broadcast, int classes, int ell, int chunk, Counters c) {
        if (!rows.hasNext()) {
            return Collections.emptyIterator();
        }
        long start = System.nanoTime();
        Model model = broadcast.restore();
        org.nd4j.linalg.api.buffer.DataType type = model.params().dataType();
        DatasetSpectrum spectrum = new DatasetSpectrum(model, ProbeMode.EVAL, ell, false);
        double[][] x = new double[chunk][];
        double[][] y = new double[chunk][classes];
        int width = -1;
        while (rows.hasNext()) {
            int n = 0;
            while (n < chunk && rows.hasNext()) {
                Row r = rows.next();
                if (r.isNullAt(0) || r.isNullAt(1)) {
                    throw new UserInputException("an example has no " + (r.isNullAt(0) ? "features" : "label"));
                }
                List<Double> f = r.getList(0);
                int label = r.getInt(1);
                if (width < 0) {
                    width = f.size();
                } else if (f.size() != width) {
                    throw new UserInputException("an example has " + f.size() + " features, the others have " + width);
                }
                if (label < 0 || label >= classes) {
                    throw new UserInputException(
                            "label " + label + " is not a class of the model, [0, " + classes + ")");
                }
                x[n] = new double[width];
                for (int j = 0; j < width; j++) {
                    Double v = f.get(j);
                    if (v == null || !Double.isFinite(v)) {
                        throw new UserInputException("an example has the feature " + v + " at index " + j
                                + "; features must be finite numbers");
                    }
                    x[n][j] = v;
                }
                Arrays.fill(y[n], 0);
                y[n][label] = 1;
                n++;
            }
            DataSet ds = new DataSet(
                    Nd4j.createFromArray(Arrays.copyOf(x, n)).castTo(type),
                    Nd4j.createFromArray(Arrays.copyOf(y, n)).castTo(type));
            long g0 = System.nanoTime();
            try {
                spectrum.add(ProbeBatch.of(ds));
            } catch (UserInputException e) {
                throw e;
            } catch (RuntimeException e) { // a shape mismatch, from DL4J or ND4J
                throw new UserInputException("the model and the data do not fit: " + e.getMessage(), e);
            }
            c.gradientNanos().add(System.nanoTime() - g0);
            c.done().add(n);
        }
        c.sketched().add(1);
        if (spectrum.batched()) {
            c.batched().add(1);
        }
        byte[] out = write(spectrum.sketched());
        c.taskNanos().add(System.nanoTime() - start);
        return Collections.singletonList(out).iterator();
    }

    /** Merges two serialized sketches (disjoint examples, same weights) into one. */
    static byte[] merge(byte[] a, byte[] b) {
        DatasetSketch s = read(a);
        s.merge(read(b));
        return write(s);
    }

    // Sketches cross the wire as bytes of Java serialization, whatever spark.serializer says (Kryo would skip
    // the sketch's off-heap rows).
    static byte[] write(DatasetSketch s) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    static DatasetSketch read(byte[] b) {
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(b))) {
            return (DatasetSketch) in.readObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A daemon thread that logs the examples done every 10 s (tasks report when they finish). */
    private static Thread progress(LongAccumulator done, long expected, long t0) {
        Thread t = new Thread(
                () -> {
                    long last = -1;
                    try {
                        while (true) {
                            Thread.sleep(10_000);
                            long n = done.value();
                            if (n != last) {
                                last = n;
                                log.info(
                                        expected > 0
                                                ? String.format(
                                                        Locale.ROOT,
                                                        "spectrum on Spark: %d/%d examples (%.0f%%), %.0f s",
                                                        n,
                                                        expected,
                                                        100.0 * n / expected,
                                                        (System.nanoTime() - t0) / 1e9)
                                                : String.format(
                                                        Locale.ROOT,
                                                        "spectrum on Spark: %d examples, %.0f s",
                                                        n,
                                                        (System.nanoTime() - t0) / 1e9));
                            }
                        }
                    } catch (InterruptedException stop) {
                        // the computation ended
                    }
                },
                "sgdnoise-spark-progress");
        t.setDaemon(true);
        t.start();
        return t;
    }
}

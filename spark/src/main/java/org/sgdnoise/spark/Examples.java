package org.sgdnoise.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.IntFunction;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.CsvData;
import org.sgdnoise.data.ExampleSubset;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.data.Idx;
import scala.Tuple2;

/**
 * The {@code spectrum} command's data formats read as Spark datasets of examples, with the same rules and
 * messages as the single-machine readers ({@link CsvData}, {@link FashionMnist}): a Fashion-/MNIST IDX
 * folder (training split, plain or gzip) or a CSV file (features..., integer label last, optional header).
 * Paths are Hadoop paths: local files, {@code hdfs://}, {@code s3a://}, ...
 *
 * <p>A subset of the examples ({@link ExampleSubset}: {@code --indices}, {@code --sample}) is chosen once the data
 * set's size is known, and only its examples are read into the dataset: indices count the examples of the training
 * split of an IDX folder, or the data rows of a CSV file (header and blank lines not counted).
 *
 * <p>Rows follow {@link #SCHEMA}: {@code features} (array of double) and {@code label} (int). Any data set of
 * that schema can be given to {@link SparkSpectrum} directly (Parquet, a table, ...).
 */
public final class Examples {

    /** {@code features: array<double>, label: int}, neither null. */
    public static final StructType SCHEMA = new StructType()
            .add("features", DataTypes.createArrayType(DataTypes.DoubleType, false), false)
            .add("label", DataTypes.IntegerType, false);

    /**
     * A data set read for a spectrum.
     *
     * @param rows the examples, in file order across partitions (except a compressed CSV file, which is one
     *     Hadoop split, and a CSV subset: both are spread over the partitions by a shuffle)
     * @param count their number (every row already checked)
     * @param subset the examples kept, of the data set's; null when every example (up to the limit) is used
     */
    public record Input(Dataset<Row> rows, long count, ExampleSubset subset) {

        /** Every example (up to the limit). */
        public Input(Dataset<Row> rows, long count) {
            this(rows, count, null);
        }
    }

    private Examples() {}

    /**
     * Reads an IDX folder or a CSV file.
     *
     * @param classes the model's number of classes (labels must lie in [0, classes))
     * @param limit keep only the first {@code limit} examples; ≤ 0 for all
     * @param partitions the number of partitions to spread the examples over (at least)
     * @throws UserInputException for a missing path or malformed data (CSV rows are all checked here, in a
     *     first pass, so that a bad row fails before the gradients are computed)
     */
    public static Input read(SparkSession spark, String path, int classes, long limit, int partitions) {
        return read(spark, path, classes, limit, partitions, null);
    }

    /**
     * Reads an IDX folder or a CSV file, keeping only the examples of a subset.
     *
     * @param classes the model's number of classes (labels must lie in [0, classes))
     * @param limit keep only the first {@code limit} examples; ≤ 0 for all (the subset indexes those)
     * @param partitions the number of partitions to spread the examples over (at least)
     * @param subset given the number of examples N, the subset of them to keep (e.g. {@code n ->
     *     ExampleSubset.choose(file, sample, seed, n)}), or null for all; called once, on the driver, before any
     *     example is read into the dataset (a CSV file's rows are all checked first, to count them); null (or a null
     *     result) keeps every example
     * @throws UserInputException for a missing path or malformed data, or what {@code subset} throws
     */
    public static Input read(
            SparkSession spark,
            String path,
            int classes,
            long limit,
            int partitions,
            IntFunction<ExampleSubset> subset) {
        if (partitions < 1) {
            throw new UserInputException("partitions must be >= 1, got " + partitions);
        }
        try {
            Path p = new Path(path);
            FileSystem fs = p.getFileSystem(spark.sparkContext().hadoopConfiguration());
            if (!fs.exists(p)) {
                throw new UserInputException("data " + path + " does not exist");
            }
            return fs.getFileStatus(p).isDirectory()
                    ? idx(spark, fs, p, limit, partitions, subset)
                    : csv(spark, p, classes, limit, partitions, subset);
        } catch (IOException e) {
            throw new UserInputException("cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    private static Input idx(
            SparkSession spark, FileSystem fs, Path dir, long limit, int partitions, IntFunction<ExampleSubset> subset)
            throws IOException {
        Path images = find(fs, dir, FashionMnist.TRAIN_IMAGES);
        Path labels = find(fs, dir, FashionMnist.TRAIN_LABELS);
        if (images == null || labels == null) {
            throw new UserInputException(
                    dir + " has no " + (images == null ? FashionMnist.TRAIN_IMAGES : FashionMnist.TRAIN_LABELS)
                            + "[.gz]; expected the Fashion-MNIST training IDX files "
                            + "(apt-get install dataset-fashion-mnist)");
        }
        int[] imageDims;
        int[] labelDims;
        try (InputStream in = fs.open(images)) {
            imageDims = Idx.open(images.toString(), in).dims();
        }
        try (InputStream in = fs.open(labels)) {
            labelDims = Idx.open(labels.toString(), in).dims();
        }
        FashionMnist.checkPair(images.toString(), imageDims, labelDims);
        long n = limit > 0 ? Math.min(limit, imageDims[0]) : imageDims[0];
        if (n == 0) {
            throw new UserInputException(images + " holds no examples");
        }
        ExampleSubset chosen = choose(subset, n, images.toString());
        List<IdxTask> tasks = new ArrayList<>();
        if (chosen == null) {
            int parts = (int) Math.min(partitions, n);
            for (int i = 0; i < parts; i++) {
                tasks.add(new IdxTask(n * i / parts, n * (i + 1) / parts, null));
            }
        } else {
            // Each task reads a run of the sorted indices, in one pass over its streams, skipping the examples between.
            long[] wanted =
                    Arrays.stream(chosen.indices()).asLongStream().sorted().toArray();
            int parts = Math.min(partitions, wanted.length);
            for (int i = 0; i < parts; i++) {
                long[] picks = Arrays.copyOfRange(wanted, (int) ((long) wanted.length * i / parts), (int)
                        ((long) wanted.length * (i + 1) / parts));
                tasks.add(new IdxTask(picks[0], picks[picks.length - 1] + 1, picks));
            }
        }
        HadoopConf conf = new HadoopConf(fs.getConf());
        String ip = images.toString();
        String lp = labels.toString();
        JavaRDD<Row> rows = JavaSparkContext.fromSparkContext(spark.sparkContext())
                .parallelize(tasks, tasks.size())
                .flatMap(t -> new IdxRange(conf.get(), ip, lp, t));
        return new Input(spark.createDataFrame(rows, SCHEMA), chosen == null ? n : chosen.size(), chosen);
    }

    /** The subset of n examples, or null for all. */
    private static ExampleSubset choose(IntFunction<ExampleSubset> subset, long n, String name) {
        if (subset == null) {
            return null;
        }
        UserInputException.require(
                n <= Integer.MAX_VALUE, name + " holds " + n + " examples, too many to index (at most 2^31 - 1)");
        return subset.apply((int) n);
    }

    /**
     * One task's examples of an IDX pair: every one of [from, to), or only {@code picks} (sorted, within [from, to)).
     */
    private record IdxTask(long from, long to, long[] picks) implements Serializable {}

    private static Path find(FileSystem fs, Path dir, String base) throws IOException {
        for (String name : new String[] {base + ".gz", base}) {
            Path p = new Path(dir, name);
            if (fs.isFile(p)) {
                return p;
            }
        }
        return null;
    }

    /**
     * A task's examples of an IDX pair (those of [from, to), or the picks among them), read one at a time from their
     * own streams.
     */
    private static final class IdxRange implements Iterator<Row> {
        private final String name;
        private final InputStream imageStream;
        private final InputStream labelStream;
        private final Idx.Reader images;
        private final Idx.Reader labels;
        private final long to;
        private final long[] picks;
        private long next; // the example the readers are at
        private int picked; // the picks read so far

        IdxRange(Configuration conf, String imagePath, String labelPath, IdxTask task) throws IOException {
            this.name = imagePath;
            Path ip = new Path(imagePath);
            Path lp = new Path(labelPath);
            imageStream = ip.getFileSystem(conf).open(ip);
            labelStream = lp.getFileSystem(conf).open(lp);
            TaskContext context = TaskContext.get();
            if (context != null) {
                context.addTaskCompletionListener((TaskContext t) -> close());
            }
            images = Idx.open(imagePath, imageStream);
            labels = Idx.open(labelPath, labelStream);
            images.skip(task.from());
            labels.skip(task.from());
            this.next = task.from();
            this.to = task.to();
            this.picks = task.picks();
        }

        @Override
        public boolean hasNext() {
            if (picks == null ? next < to : picked < picks.length) {
                return true;
            }
            close();
            return false;
        }

        @Override
        public Row next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            try {
                long index = picks == null ? next : picks[picked++];
                if (index > next) {
                    images.skip(index - next);
                    labels.skip(index - next);
                }
                byte[] px = images.read(1);
                byte label = labels.read(1)[0];
                next = index + 1;
                double[] x = new double[px.length];
                for (int i = 0; i < px.length; i++) {
                    x[i] = FashionMnist.pixel(px[i]);
                }
                return RowFactory.create(x, FashionMnist.label(name, label, index));
            } catch (IOException e) {
                throw new UserInputException("cannot read " + name + ": " + e.getMessage(), e);
            }
        }

        private void close() {
            try {
                imageStream.close();
                labelStream.close();
            } catch (IOException ignored) {
                // read-only streams: nothing is lost
            }
        }
    }

    private static Input csv(
            SparkSession spark, Path file, int classes, long limit, int partitions, IntFunction<ExampleSubset> subset) {
        String name = file.toString();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        // Line numbers (1-based) travel with the lines, for messages and for the header, which only line 1 can be.
        JavaRDD<Tuple2<String, Long>> lines = jsc.textFile(name, partitions)
                .zipWithIndex()
                .map(t -> new Tuple2<>(t._1(), t._2() + 1))
                .filter(t -> !t._1().isBlank() && !CsvData.isHeader(t._2(), t._1()));
        JavaRDD<Tuple2<String, Long>> data = lines;
        List<Tuple2<String, Long>> first = Causes.userErrors(() -> data.take(1));
        if (first.isEmpty()) {
            throw new UserInputException(name + " holds no data rows");
        }
        int width = CsvData.width(name, first.get(0)._2(), first.get(0)._1().split(",", -1));
        if (limit > 0) {
            lines = lines.zipWithIndex().filter(t -> t._2() < limit).map(Tuple2::_1);
        }
        JavaRDD<Row> rows = lines.map(t -> row(name, t, width, classes));
        long n = Causes.userErrors(rows::count); // the first pass: every row is checked before any gradient is computed
        ExampleSubset chosen = choose(subset, n, name);
        if (chosen != null) {
            // Data rows numbered in file order (header and blank lines already gone), the wanted ones kept, then
            // spread over the partitions (they may bunch up in a few; D does not see the order).
            int[] wanted = chosen.indices();
            Arrays.sort(wanted);
            Broadcast<int[]> kept = jsc.broadcast(wanted);
            rows = lines.zipWithIndex()
                    .filter(t -> Arrays.binarySearch(kept.value(), (int) (long) t._2()) >= 0)
                    .map(t -> row(name, t._1(), width, classes))
                    .repartition(partitions);
            return new Input(spark.createDataFrame(rows, SCHEMA), chosen.size(), chosen);
        }
        if (rows.getNumPartitions() < partitions) {
            // A compressed file is one split: spread its rows (file order is lost, which D does not see).
            rows = rows.repartition(partitions);
        }
        return new Input(spark.createDataFrame(rows, SCHEMA), n);
    }

    /** A CSV data row (its text and 1-based line number) as an example row; checked as the single machine does. */
    private static Row row(String name, Tuple2<String, Long> line, int width, int classes) {
        CsvData.Example e = CsvData.parse(name, line._2(), line._1().split(",", -1), width, classes);
        return RowFactory.create(e.features(), e.label());
    }

    /** A Hadoop configuration that travels to the executors (the session's, with its credentials and settings). */
    static final class HadoopConf implements Serializable {
        private static final long serialVersionUID = 1L;
        private transient Configuration conf;

        HadoopConf(Configuration conf) {
            this.conf = conf;
        }

        Configuration get() {
            return conf;
        }

        private void writeObject(ObjectOutputStream out) throws IOException {
            out.defaultWriteObject();
            conf.write(out);
        }

        private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
            in.defaultReadObject();
            conf = new Configuration(false);
            conf.readFields(in);
        }
    }
}

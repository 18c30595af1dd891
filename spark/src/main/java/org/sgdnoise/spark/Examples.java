package org.sgdnoise.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sgdnoise.UserInputException;
import org.sgdnoise.data.CsvData;
import org.sgdnoise.data.FashionMnist;
import org.sgdnoise.data.Idx;
import scala.Tuple2;

/**
 * The {@code spectrum} command's data formats read as Spark datasets of examples, with the same rules and
 * messages as the single-machine readers ({@link CsvData}, {@link FashionMnist}): a Fashion-/MNIST IDX
 * folder (training split, plain or gzip) or a CSV file (features..., integer label last, optional header).
 * Paths are Hadoop paths: local files, {@code hdfs://}, {@code s3a://}, ...
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
     *     Hadoop split and is spread over the partitions by a shuffle)
     * @param count their number (every row already checked)
     */
    public record Input(Dataset<Row> rows, long count) {}

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
                    ? idx(spark, fs, p, limit, partitions)
                    : csv(spark, p, classes, limit, partitions);
        } catch (IOException e) {
            throw new UserInputException("cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    private static Input idx(SparkSession spark, FileSystem fs, Path dir, long limit, int partitions)
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
        int parts = (int) Math.min(partitions, n);
        List<long[]> ranges = new ArrayList<>();
        for (int i = 0; i < parts; i++) {
            ranges.add(new long[] {n * i / parts, n * (i + 1) / parts});
        }
        HadoopConf conf = new HadoopConf(fs.getConf());
        String ip = images.toString();
        String lp = labels.toString();
        JavaRDD<Row> rows = JavaSparkContext.fromSparkContext(spark.sparkContext())
                .parallelize(ranges, parts)
                .flatMap(r -> new IdxRange(conf.get(), ip, lp, r[0], r[1]));
        return new Input(spark.createDataFrame(rows, SCHEMA), n);
    }

    private static Path find(FileSystem fs, Path dir, String base) throws IOException {
        for (String name : new String[] {base + ".gz", base}) {
            Path p = new Path(dir, name);
            if (fs.isFile(p)) {
                return p;
            }
        }
        return null;
    }

    /** The examples [from, to) of an IDX pair, read one at a time from their own streams. */
    private static final class IdxRange implements Iterator<Row> {
        private final String name;
        private final InputStream imageStream;
        private final InputStream labelStream;
        private final Idx.Reader images;
        private final Idx.Reader labels;
        private final long to;
        private long next;

        IdxRange(Configuration conf, String imagePath, String labelPath, long from, long to) throws IOException {
            this.name = imagePath;
            Path ip = new Path(imagePath);
            Path lp = new Path(labelPath);
            imageStream = ip.getFileSystem(conf).open(ip);
            labelStream = lp.getFileSystem(conf).open(lp);
            TaskContext task = TaskContext.get();
            if (task != null) {
                task.addTaskCompletionListener((TaskContext t) -> close());
            }
            images = Idx.open(imagePath, imageStream);
            labels = Idx.open(labelPath, labelStream);
            images.skip(from);
            labels.skip(from);
            this.next = from;
            this.to = to;
        }

        @Override
        public boolean hasNext() {
            if (next < to) {
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
                byte[] px = images.read(1);
                byte label = labels.read(1)[0];
                double[] x = new double[px.length];
                for (int i = 0; i < px.length; i++) {
                    x[i] = FashionMnist.pixel(px[i]);
                }
                return RowFactory.create(x, FashionMnist.label(name, label, next++));
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

    private static Input csv(SparkSession spark, Path file, int classes, long limit, int partitions) {
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
        JavaRDD<Row> rows = lines.map(t -> {
            CsvData.Example e = CsvData.parse(name, t._2(), t._1().split(",", -1), width, classes);
            return RowFactory.create(e.features(), e.label());
        });
        long n = Causes.userErrors(rows::count); // the first pass: every row is checked before any gradient is computed
        if (rows.getNumPartitions() < partitions) {
            // A compressed file is one split: spread its rows (file order is lost, which D does not see).
            rows = rows.repartition(partitions);
        }
        return new Input(spark.createDataFrame(rows, SCHEMA), n);
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

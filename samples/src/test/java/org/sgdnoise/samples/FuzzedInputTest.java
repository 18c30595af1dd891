package org.sgdnoise.samples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.sgdnoise.samples.data.BuiltinData;

/**
 * The command-line readers (IDX folders, CSV data, trajectory files, model zips) fed truncated, mis-sized,
 * bit-flipped and garbage files: every run ends within its time limit with exit code 2 and exactly one
 * {@code error:} line on standard error, never a stack trace; a mutation that leaves the file valid may
 * succeed (exit 0). Seeded, so a failure reproduces.
 */
class FuzzedInputTest {

    private static final Duration LIMIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private Path idxModel;
    private Path csvModel;
    private final Random rnd = new Random(2026);

    @BeforeEach
    void models() throws Exception {
        idxModel = save(mlp(784, 10), "idx-model.zip");
        csvModel = save(mlp(4, 3), "csv-model.zip");
    }

    private static MultiLayerNetwork mlp(int in, int classes) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(3)
                .updater(new Sgd(0.1))
                .list()
                .layer(new DenseLayer.Builder()
                        .nIn(in)
                        .nOut(4)
                        .activation(Activation.TANH)
                        .build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nIn(4)
                        .nOut(classes)
                        .activation(Activation.SOFTMAX)
                        .build())
                .build());
        net.init();
        return net;
    }

    private Path save(MultiLayerNetwork net, String name) throws Exception {
        Path p = dir.resolve(name);
        ModelSerializer.writeModel(net, p.toFile(), true);
        return p;
    }

    /** Runs the command line; returns the exit code after checking the one-line contract. */
    private int run(boolean mustFail, String what, String... args) {
        return assertTimeoutPreemptively(
                LIMIT,
                () -> {
                    CommandRun run = CommandRun.of(args);
                    int code = run.code();
                    List<String> lines = run.stderr();
                    if (mustFail) {
                        assertThat(code)
                                .as("%s: exit code (stderr %s)", what, lines)
                                .isEqualTo(2);
                    } else {
                        assertThat(code)
                                .as("%s: exit code (stderr %s)", what, lines)
                                .isIn(0, 2);
                    }
                    if (code == 2) {
                        assertThat(lines).as("%s: stderr", what).hasSize(1);
                        assertThat(lines.get(0)).as(what).startsWith("error: ").doesNotContain("\tat ");
                    }
                    return code;
                },
                what);
    }

    // ---- mutations ----

    private byte[] truncated(byte[] b) {
        return Arrays.copyOf(b, rnd.nextInt(Math.max(1, b.length - 1)));
    }

    private byte[] flipped(byte[] b, int flips) {
        byte[] c = b.clone();
        for (int i = 0; i < flips; i++) {
            c[rnd.nextInt(c.length)] ^= (byte) (1 + rnd.nextInt(255));
        }
        return c;
    }

    private byte[] garbage() {
        byte[] g = new byte[rnd.nextInt(4096)];
        rnd.nextBytes(g);
        return g;
    }

    private static byte[] gzip(byte[] b) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(out)) {
            g.write(b);
        }
        return out.toByteArray();
    }

    private static byte[] idx(int magic, int[] dims, int payload) {
        ByteBuffer bb = ByteBuffer.allocate(4 + 4 * dims.length + payload);
        bb.putInt(magic);
        for (int d : dims) {
            bb.putInt(d);
        }
        return bb.array();
    }

    private static byte[] resource(String name) throws Exception {
        try (InputStream in = BuiltinData.class.getResourceAsStream(BuiltinData.FOLDER + name)) {
            return in.readAllBytes();
        }
    }

    // ---- readers ----

    @Test
    void idxFolders() throws Exception {
        String[] names = {
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz"
        };
        byte[][] good = new byte[names.length][];
        for (int i = 0; i < names.length; i++) {
            good[i] = resource(names[i]);
        }
        List<String> labels = new ArrayList<>();
        List<byte[]> images = new ArrayList<>();
        List<byte[]> labelFiles = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            labels.add("images truncated " + t);
            images.add(truncated(good[0]));
            labelFiles.add(good[1]);
        }
        labels.add("labels truncated");
        images.add(good[0]);
        labelFiles.add(truncated(good[1]));
        labels.add("images garbage");
        images.add(garbage());
        labelFiles.add(good[1]);
        labels.add("empty images");
        images.add(new byte[0]);
        labelFiles.add(good[1]);
        labels.add("bad magic");
        images.add(gzip(idx(0x00000D03, new int[] {2, 28, 28}, 2 * 784)));
        labelFiles.add(good[1]);
        labels.add("count claims 10^6 images, holds 3");
        images.add(gzip(idx(0x00000803, new int[] {1_000_000, 28, 28}, 3 * 784)));
        labelFiles.add(good[1]);
        labels.add("image side 10^5 (mis-sized)");
        images.add(gzip(idx(0x00000803, new int[] {5, 100_000, 100_000}, 0)));
        labelFiles.add(good[1]);
        labels.add("27x28 images: do not fit the model");
        images.add(gzip(idx(0x00000803, new int[] {30, 27, 28}, 30 * 27 * 28)));
        labelFiles.add(gzip(idx(0x00000801, new int[] {30}, 30)));
        labels.add("20 images, 30 labels");
        images.add(gzip(idx(0x00000803, new int[] {20, 28, 28}, 20 * 784)));
        labelFiles.add(gzip(idx(0x00000801, new int[] {30}, 30)));
        labels.add("label 200 of 10 classes");
        images.add(gzip(idx(0x00000803, new int[] {3, 28, 28}, 3 * 784)));
        byte[] l = idx(0x00000801, new int[] {3}, 3);
        l[l.length - 1] = (byte) 200;
        labelFiles.add(gzip(l));
        for (int c = 0; c < labels.size(); c++) {
            Path folder = Files.createDirectories(dir.resolve("idx" + c));
            Files.write(folder.resolve(names[0]), images.get(c));
            Files.write(folder.resolve(names[1]), labelFiles.get(c));
            Files.write(folder.resolve(names[2]), good[2]);
            Files.write(folder.resolve(names[3]), good[3]);
            // Every example is read (no --limit), so a cut anywhere in the data shows.
            run(
                    true,
                    labels.get(c),
                    "spectrum",
                    "--model",
                    idxModel.toString(),
                    "--data",
                    folder.toString(),
                    "--sketch-size",
                    "4",
                    "--chunk",
                    "1000",
                    "--out",
                    dir.resolve("s" + c + ".json").toString());
        }
        for (int t = 0; t < 3; t++) { // bit flips in compressed data: mostly a corrupt stream, sometimes still valid
            Path folder = Files.createDirectories(dir.resolve("flip" + t));
            Files.write(folder.resolve(names[0]), flipped(good[0], 1 + t));
            Files.write(folder.resolve(names[1]), good[1]);
            Files.write(folder.resolve(names[2]), good[2]);
            Files.write(folder.resolve(names[3]), good[3]);
            run(
                    false,
                    "images with " + (1 + t) + " flipped bytes",
                    "spectrum",
                    "--model",
                    idxModel.toString(),
                    "--data",
                    folder.toString(),
                    "--limit",
                    "20",
                    "--sketch-size",
                    "4",
                    "--out",
                    dir.resolve("f" + t + ".json").toString());
        }
    }

    @Test
    void csvData() throws Exception {
        StringBuilder sb = new StringBuilder("a,b,c,d,label\n");
        for (int i = 0; i < 30; i++) {
            sb.append(rnd.nextGaussian())
                    .append(',')
                    .append(rnd.nextGaussian())
                    .append(',')
                    .append(rnd.nextGaussian())
                    .append(',')
                    .append(rnd.nextGaussian())
                    .append(',')
                    .append(i % 3)
                    .append('\n');
        }
        byte[] good = sb.toString().getBytes(StandardCharsets.UTF_8);
        String[][] cases = {
            {"empty", ""},
            {"header only", "a,b,c,d,label\n"},
            {"non-numeric cell", "1,2,x,4,0\n1,2,3,4,1\n"},
            {"ragged", "1,2,3,4,0\n1,2,3,0\n"},
            {"infinite value", "1,2,1e999,4,0\n1,2,3,4,1\n"},
            {"NaN", "1,2,NaN,4,0\n1,2,3,4,1\n"},
            {"fractional label", "1,2,3,4,0.5\n1,2,3,4,1\n"},
            {"negative label", "1,2,3,4,-1\n1,2,3,4,1\n"},
            {"too many features for the model", "1,2,3,4,5,0\n1,2,3,4,5,1\n"},
            {"one example", "1,2,3,4,0\n"},
            {"unterminated quote", "\"1,2,3,4,0\n1,2,3,4,1\n"},
        };
        int c = 0;
        for (String[] k : cases) {
            Path f = Files.writeString(dir.resolve("c" + c++ + ".csv"), k[1]);
            run(
                    true,
                    k[0],
                    "spectrum",
                    "--model",
                    csvModel.toString(),
                    "--data",
                    f.toString(),
                    "--sketch-size",
                    "4",
                    "--out",
                    dir.resolve("c" + c + ".json").toString());
        }
        Path g = Files.write(dir.resolve("garbage.csv"), garbage());
        run(
                true,
                "garbage",
                "spectrum",
                "--model",
                csvModel.toString(),
                "--data",
                g.toString(),
                "--out",
                dir.resolve("g.json").toString());
        for (int t = 0; t < 4; t++) {
            Path f = Files.write(dir.resolve("t" + t + ".csv"), t % 2 == 0 ? truncated(good) : flipped(good, 3));
            run(
                    false,
                    "truncated or flipped " + t,
                    "spectrum",
                    "--model",
                    csvModel.toString(),
                    "--data",
                    f.toString(),
                    "--sketch-size",
                    "4",
                    "--out",
                    dir.resolve("t" + t + ".json").toString());
        }
    }

    @Test
    void trajectoryFiles() throws Exception {
        StringBuilder sb =
                new StringBuilder("iteration,epoch,segment,loss,distance,step,theta_dot_update,update_sq,y0,y1,y2\n");
        for (int i = 0; i < 400; i++) {
            sb.append(i)
                    .append(",0,0,1.0,1.0,0.1,0.01,0.01,")
                    .append(Math.cos(i / 5.0))
                    .append(',')
                    .append(Math.sin(i / 5.0))
                    .append(',')
                    .append(rnd.nextGaussian())
                    .append('\n');
        }
        byte[] good = sb.toString().getBytes(StandardCharsets.UTF_8);
        String[][] cases = {
            {"empty", ""},
            {"header only", "iteration,epoch,segment,loss,distance,step,theta_dot_update,update_sq,y0,y1\n"},
            {"one coordinate", "y0\n1\n2\n3\n"},
            {"non-numeric", "y0,y1\n1,2\nx,3\n"},
            {"ragged (not the last line)", "y0,y1\n1,2\n3\n4,5\n"},
            {"NaN coordinates", "y0,y1\n1,2\nNaN,3\n4,5\n"},
        };
        int c = 0;
        for (String[] k : cases) {
            Path f = Files.writeString(dir.resolve("tr" + c++ + ".csv"), k[1]);
            run(
                    true,
                    k[0],
                    "analyze-trajectory",
                    f.toString(),
                    "--out",
                    dir.resolve("tr" + c + ".json").toString());
        }
        Path g = Files.write(dir.resolve("tg.csv"), garbage());
        run(
                true,
                "garbage",
                "analyze-trajectory",
                g.toString(),
                "--out",
                dir.resolve("tg.json").toString());
        for (int t = 0; t < 4; t++) {
            Path f = Files.write(dir.resolve("tt" + t + ".csv"), t % 2 == 0 ? truncated(good) : flipped(good, 3));
            run(
                    false,
                    "truncated or flipped " + t,
                    "analyze-trajectory",
                    f.toString(),
                    "--out",
                    dir.resolve("tt" + t + ".json").toString());
        }
    }

    @Test
    void modelZips() throws Exception {
        byte[] good = Files.readAllBytes(csvModel);
        Path data = Files.writeString(dir.resolve("d.csv"), "1,2,3,4,0\n1,2,3,5,1\n2,2,3,4,2\n");
        List<byte[]> bad = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            bad.add(truncated(good));
        }
        bad.add(garbage());
        bad.add(new byte[0]);
        bad.add(zipWith("configuration.json", "{not json"));
        bad.add(zipWith("coefficients.bin", "xyz"));
        for (int c = 0; c < bad.size(); c++) {
            Path m = Files.write(dir.resolve("m" + c + ".zip"), bad.get(c));
            run(
                    true,
                    "model " + c,
                    "spectrum",
                    "--model",
                    m.toString(),
                    "--data",
                    data.toString(),
                    "--out",
                    dir.resolve("m" + c + ".json").toString());
        }
        for (int t = 0; t < 3; t++) {
            Path m = Files.write(dir.resolve("mf" + t + ".zip"), flipped(good, 2));
            run(
                    false,
                    "model with flipped bytes " + t,
                    "spectrum",
                    "--model",
                    m.toString(),
                    "--data",
                    data.toString(),
                    "--out",
                    dir.resolve("mf" + t + ".json").toString());
        }
    }

    private static byte[] zipWith(String entry, String content) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(out)) {
            z.putNextEntry(new ZipEntry(entry));
            z.write(content.getBytes(StandardCharsets.UTF_8));
            z.closeEntry();
        }
        return out.toByteArray();
    }
}

package org.sgdnoise.listeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.sun.management.ThreadMXBean;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.zip.CRC32;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.sketch.FrequentDirections;
import org.sgdnoise.testing.TestNetworks;
import org.sgdnoise.trajectory.LoopStatistics;

/**
 * State files that are damaged or crafted fail {@link ListenerCheckpoints#restore} with one
 * {@link IOException} naming the file, without allocating what they declare, and without changing the
 * listeners or the model; a file written by another format version says both versions.
 *
 * <p>Memory is checked with the JVM's count of bytes allocated by the test's own thread
 * ({@code com.sun.management.ThreadMXBean}) around each restore, rather than in a forked JVM with a small
 * heap: it is exact, needs no second JVM on a shared machine, and fails on an allocation that a large heap
 * would have survived (a 2^30-element {@code double[]} is 8 GiB; the bound is {@link #READ_ALLOCATION_BYTES}).
 */
class CheckpointStateFilesTest {

    /** What one failed restore of these tiny listeners may allocate on the heap: the caps are far below. */
    private static final long READ_ALLOCATION_BYTES = 64L << 20;

    @TempDir
    Path tmp;

    private Path saved;

    private static MultiLayerNetwork model() {
        return TestNetworks.mlp(DataType.FLOAT);
    }

    private static TrainingListener[] listeners() {
        DiffusionListener noise = new DiffusionListener.Builder()
                .overheadBudget(0)
                .probeEvery(2)
                .gradientsPerProbe(7)
                .selection(ExampleSelection.RANDOM)
                .sketchSize(4)
                .topR(3)
                .failFast(true)
                .build();
        TrajectoryListener loops = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .pcaBasis(4)
                .capacity(8)
                .analyzeEvery(3)
                .detector(new LoopStatistics(0.01, 4, 19, 2, 1.5, 1))
                .failFast(true)
                .build();
        return new TrainingListener[] {noise, loops};
    }

    /** A legitimate state file: both listeners after a few iterations, the sketch and the ring filled. */
    @BeforeEach
    void save() throws IOException {
        TrainingListener[] ls = listeners();
        MultiLayerNetwork net = model();
        net.setListeners(ls);
        for (DataSet b : TestNetworks.vectors(12 * 9, 17, DataType.FLOAT).batchBy(12)) {
            net.fit(b);
        }
        saved = tmp.resolve("legit.sgdnoise");
        ListenerCheckpoints.save(saved, net, ls);
    }

    /** Restores {@code file} into fresh listeners and a fresh model; checks the failure, memory and no change. */
    private static void assertRejected(Path file, String... phrases) {
        TrainingListener[] ls = listeners();
        MultiLayerNetwork net = model();
        long before = allocatedBytes();
        assertThatThrownBy(() -> ListenerCheckpoints.restore(file, net, ls))
                .isExactlyInstanceOf(IOException.class)
                .hasMessageStartingWith(file.toString())
                .satisfies(e -> assertThat(List.of(phrases))
                        .allSatisfy(p -> assertThat(e).hasMessageContaining(p)));
        assertThat(allocatedBytes() - before)
                .as("bytes allocated by the failed restore")
                .isLessThan(READ_ALLOCATION_BYTES);
        assertThat(((DiffusionListener) ls[0]).probeCount()).isZero();
        assertThat(((TrajectoryListener) ls[1]).recordedSteps()).isZero();
        assertThat(net.getIterationCount()).isZero();
    }

    private static long allocatedBytes() {
        ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeThat(threads.isThreadAllocatedMemorySupported()).isTrue();
        return threads.getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    /** Writes a file with the state format's header and checksum around {@code body}. */
    private Path craft(String name, int version, StateFiles.Body body) throws IOException {
        Path file = tmp.resolve(name);
        StateFiles.writeFile(file, version, body);
        return file;
    }

    /** A body that names one DiffusionListener and gives {@code state} as its state. */
    private static StateFiles.Body oneState(Object state) {
        return out -> {
            out.writeInt(5);
            out.writeInt(0);
            out.writeInt(1);
            out.writeUTF("DiffusionListener");
            out.writeObject(state);
        };
    }

    /** Replaces the checksum of {@code bytes} (a state file) by the right one, as an attacker would. */
    private static byte[] resealed(byte[] bytes) {
        CRC32 crc = new CRC32();
        crc.update(bytes, 0, bytes.length - StateFiles.TRAILER_BYTES);
        ByteBuffer.wrap(bytes).putLong(bytes.length - StateFiles.TRAILER_BYTES, crc.getValue());
        return bytes;
    }

    /** Replaces the first occurrence of {@code from} in {@code bytes} by {@code to} (same length). */
    private static byte[] patched(byte[] bytes, byte[] from, byte[] to) {
        for (int i = 0; i + from.length <= bytes.length; i++) {
            if (ByteBuffer.wrap(bytes, i, from.length).equals(ByteBuffer.wrap(from))) {
                System.arraycopy(to, 0, bytes, i, to.length);
                return bytes;
            }
        }
        throw new AssertionError("pattern not found");
    }

    @Test
    void aLegitimateStateIsRestoredAndStaysWellWithinEveryCap() throws Exception {
        TrainingListener[] ls = listeners();
        MultiLayerNetwork net = model();
        ListenerCheckpoints.restore(saved, net, ls);
        assertThat(((DiffusionListener) ls[0]).probeCount()).isPositive();
        assertThat(net.getIterationCount()).isEqualTo(9);

        // The same file through a filter that only watches: what a legitimate state needs.
        StateFilter.Limits caps =
                StateFiles.limits(Files.size(saved) - StateFiles.TRAILER_BYTES, net.numParams(), List.of(ls));
        StateFilter watch = new StateFilter(
                new StateFilter.Limits(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE),
                StateFiles.ALLOWED_CLASSES);
        try (ObjectInputStream in = new ObjectInputStream(Files.newInputStream(saved))) {
            in.setObjectInputFilter(watch);
            in.readUTF();
            in.readInt();
            in.readInt();
            in.readInt();
            int n = in.readInt();
            for (int i = 0; i < n; i++) {
                in.readUTF();
                in.readObject();
            }
        }
        assertThat(watch.rejection()).as("every class is allowed").isNull();
        assertThat(watch.deepest()).isLessThanOrEqualTo(caps.maxDepth() / 2);
        assertThat(watch.references()).isLessThan(caps.maxRefs() / 10);
        // The largest array is a sketch buffer, 2ℓ·d, and that is the cap: nothing larger passes.
        assertThat(watch.longestArray()).isEqualTo(caps.maxArray());
    }

    @Test
    void theArrayCapComesFromTheListenersConfigurationAndTheModel() {
        long d = 1000;
        DiffusionListener sketch =
                new DiffusionListener.Builder().overheadBudget(0).sketchSize(16).build();
        assertThat(StateFiles.limits(1, d, List.of(sketch)).maxArray()).isEqualTo(2 * 16 * d);
        TrajectoryListener ring = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .capacity(5000)
                .build();
        assertThat(StateFiles.limits(1, d, List.of(ring)).maxArray()).isEqualTo(5000);
        TrajectoryListener pca = new TrajectoryListener.Builder()
                .overheadBudget(0)
                .dimensions(3)
                .pcaBasis(10)
                .build();
        assertThat(StateFiles.limits(1, d, List.of(pca)).maxArray()).isEqualTo(2 * (2 * 3) * d);
        assertThat(StateFiles.limits(123, d, List.of(sketch)).maxBytes()).isEqualTo(123);
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.0, 0.01, 0.5, 0.99})
    void aTruncatedFileFailsNamingTheFile(double keep) throws IOException {
        byte[] all = Files.readAllBytes(saved);
        Path cut = Files.write(tmp.resolve("cut.sgdnoise"), Arrays.copyOf(all, (int) (all.length * keep)));
        assertRejected(cut);
        Path lastByte = Files.write(tmp.resolve("last.sgdnoise"), Arrays.copyOf(all, all.length - 1));
        assertRejected(lastByte, "damaged");
    }

    @Test
    void everyBitFlipFailsNamingTheFile() throws IOException {
        byte[] all = Files.readAllBytes(saved);
        SplittableRandom random = new SplittableRandom(20260415L);
        for (int trial = 0; trial < 40; trial++) {
            byte[] flipped = all.clone();
            int at = trial < 8 ? trial * 4 : random.nextInt(all.length); // the header, then anywhere
            flipped[at] ^= (byte) (1 << random.nextInt(8));
            Path file = Files.write(tmp.resolve("flip" + trial + ".sgdnoise"), flipped);
            assertRejected(file);
        }
    }

    @Test
    void aCraftedHugeArrayIsRejectedBeforeItIsAllocated() throws IOException {
        // A stream that declares a double[] of 2^30 elements (8 GiB), with a valid checksum.
        Path small = craft("small.sgdnoise", ListenerCheckpoints.FORMAT_VERSION, oneState(new double[0x1234]));
        byte[] bytes = patched(Files.readAllBytes(small), new byte[] {0, 0, 0x12, 0x34}, new byte[] {0x40, 0, 0, 0});
        Path huge = Files.write(tmp.resolve("huge.sgdnoise"), resealed(bytes));
        assertRejected(huge, "array of 1073741824 elements", "cap");
    }

    @Test
    void aCraftedSketchDimensionIsRejectedBeforeItsBufferIsAllocated() throws IOException {
        // A sketch whose d claims 2^40 parameters: 4·2^40 floats would be allocated off the heap.
        long d = 0x0A0B0C;
        FrequentDirections fd = new FrequentDirections(d, 2, 2, DataType.FLOAT);
        Path small = craft("sketch.sgdnoise", ListenerCheckpoints.FORMAT_VERSION, oneState(fd));
        byte[] bytes = patched(
                Files.readAllBytes(small),
                ByteBuffer.allocate(8).putLong(d).array(),
                ByteBuffer.allocate(8).putLong(1L << 40).array());
        Path huge = Files.write(tmp.resolve("hugesketch.sgdnoise"), resealed(bytes));
        assertRejected(huge, "cap");
    }

    @Test
    void aDeeplyNestedStateIsRejected() throws IOException {
        TreeMap<Integer, Object> nested = new TreeMap<>();
        for (int i = 0; i < 200; i++) {
            TreeMap<Integer, Object> outer = new TreeMap<>();
            outer.put(i, nested);
            nested = outer;
        }
        assertRejected(craft("deep.sgdnoise", ListenerCheckpoints.FORMAT_VERSION, oneState(nested)), "nested", "deep");
    }

    /** A class outside the allow-list that says when it is deserialised. */
    static final class Gadget implements Serializable {
        private static final long serialVersionUID = 1L;
        static volatile boolean instantiated;

        private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
            in.defaultReadObject();
            instantiated = true;
        }
    }

    @Test
    void aClassOutsideTheAllowListIsRejectedBeforeItIsInstantiated() throws IOException {
        assertRejected(
                craft("gadget.sgdnoise", ListenerCheckpoints.FORMAT_VERSION, oneState(new Gadget())),
                "class " + Gadget.class.getName());
        assertThat(Gadget.instantiated).isFalse();
        // java.util.* was allowed as a package before; now only the classes a state holds are.
        HashMap<String, String> map = new HashMap<>();
        map.put("a", "b");
        assertRejected(
                craft("map.sgdnoise", ListenerCheckpoints.FORMAT_VERSION, oneState(map)), "class java.util.HashMap");
    }

    @Test
    void anotherFormatVersionFailsNamingBothVersions() throws IOException {
        Path old = craft("v1.sgdnoise", 1, oneState(null));
        assertRejected(old, "version 1", "version " + ListenerCheckpoints.FORMAT_VERSION);
        Path newer = craft("v3.sgdnoise", ListenerCheckpoints.FORMAT_VERSION + 1, oneState(null));
        assertRejected(newer, "version " + (ListenerCheckpoints.FORMAT_VERSION + 1));
    }

    @Test
    void aWellFormedFileWithTheWrongStateTypeFailsNamingTheFile() throws IOException {
        assertRejected(
                craft("type.sgdnoise", ListenerCheckpoints.FORMAT_VERSION, oneState(new TreeMap<>())),
                "java.util.TreeMap");
        assertRejected(craft("garbage.sgdnoise", ListenerCheckpoints.FORMAT_VERSION, out -> out.writeInt(1)));
    }

    @Test
    void theHeaderIsReadWithoutDeserialisingAnything() throws IOException {
        // A file whose magic string is replaced: no object after it is read.
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(new Gadget());
        }
        Path notState = Files.write(tmp.resolve("object.sgdnoise"), bytes.toByteArray());
        assertRejected(notState, "not an sgdnoise listener state file");
        assertThat(Gadget.instantiated).isFalse();
    }
}

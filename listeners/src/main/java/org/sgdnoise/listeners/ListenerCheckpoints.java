package org.sgdnoise.listeners;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.File;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InvalidObjectException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.StreamCorruptedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.zip.CRC32;
import java.util.zip.CheckedOutputStream;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.optimize.listeners.Checkpoint;
import org.deeplearning4j.optimize.listeners.CheckpointListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.output.RecordSink;
import org.sgdnoise.probe.NoiseProbe;
import org.sgdnoise.sketch.DiffusionSketch;
import org.sgdnoise.sketch.FrequentDirections;
import org.sgdnoise.trajectory.LoopStatistics;
import org.sgdnoise.trajectory.TrajectoryRecorder;
import org.sgdnoise.trajectory.TrajectoryRow;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Saves the state of sgdnoise's listeners beside every checkpoint DL4J's {@link CheckpointListener} writes,
 * and restores it, so that a run stopped and resumed from a checkpoint produces the same records as a run
 * that was never stopped.
 *
 * <pre>{@code
 * CheckpointListener checkpoints = new CheckpointListener.Builder(dir).saveEveryNIterations(1000).build();
 * net.setListeners(noise, loops, checkpoints, new ListenerCheckpoints(dir, noise, loops)); // after checkpoints
 * ...
 * // to resume: the model from its checkpoint, new listeners built as before, then
 * MultiLayerNetwork net = CheckpointListener.loadCheckpointMLN(dir, n);
 * ListenerCheckpoints.restore(ListenerCheckpoints.stateFile(dir, n), net, noise, loops);
 * }</pre>
 *
 * <p>Beside {@code checkpoint_<n>_<type>.zip} it writes {@code checkpoint_<n>_<type>.zip.sgdnoise}: the
 * listeners' counters, sketches, trajectory buffers and bases, warnings given, and how many bytes of each
 * output file were written (a resumed run cuts the files back to that and appends). The file is written
 * to a temporary name and moved into place, so a killed process never leaves half a state. State files
 * whose checkpoint was deleted ({@code keepLast}) are deleted too. Memory: none beyond one serialised copy
 * of the state while it is written (the sketches, 2ℓ·d values each, and the trajectory buffers).
 *
 * <p>Format ({@link #FORMAT_VERSION}): a Java serialisation stream of a magic string, the format version, the
 * counts and each listener's state, then the CRC-32 of all of it. {@link #restore} reads the version first (a
 * file of another version fails, naming both), then checks the checksum (a cut or altered file fails before
 * anything in it is deserialised), then reads the state through a filter that allows only the classes a state
 * is made of and caps arrays, nesting, objects and bytes at what the listeners given to it can have saved
 * (the largest array: a sketch buffer, 2ℓ·d, or a ring buffer): a crafted file fails with one
 * {@link IOException} naming it instead of allocating what it declares. Restore only files you or your jobs
 * wrote: a checksum is no signature.
 *
 * <p>It must come last in the model's listener list, after the {@code CheckpointListener} and the listeners
 * it saves: it looks for a new checkpoint after each iteration and epoch, and saves the listeners' state as
 * it is at that moment. At its first call it checks the order; out of order it says so once and switches
 * itself off. If it finds a checkpoint written in another callback it warns once and saves nothing for it.
 *
 * <p>DL4J saves a checkpoint taken at the end of iteration t with the iteration count t (it is incremented
 * after the listeners run), and one taken at the end of an epoch with the old epoch count; the
 * uninterrupted run continues with t + 1 and the next epoch. {@link #restore} sets the model's counts to
 * those, so the iteration numbers, learning-rate schedules and probe times continue exactly.
 *
 * <p>One model per state file: under ParallelWrapper (where DL4J's own CheckpointListener is not
 * thread-safe) this is not supported. Failures here follow the listeners' policy: logged once, counted,
 * never thrown into {@code fit()} unless {@code failFast}.
 */
public final class ListenerCheckpoints extends BaseTrainingListener {

    /** The suffix of a state file, after the checkpoint's file name. */
    public static final String SUFFIX = ".sgdnoise";

    /**
     * The format of the state files this version writes and the only one it reads. 1: the first format; 2: a
     * CRC-32 trailer, and the state read through a filter with caps and an allow-list.
     */
    public static final int FORMAT_VERSION = 2;

    private static final Logger log = LoggerFactory.getLogger(ListenerCheckpoints.class);
    private static final String MAGIC = "sgdnoise-listener-state";
    /** Bytes after the serialised state: the CRC-32 of every byte before them, as a big-endian long. */
    static final int TRAILER_BYTES = Long.BYTES;
    /**
     * Deepest nesting of a legitimate state: 8 levels (State, TreeMap, NoiseProbe.State, DiffusionSketch,
     * FrequentDirections and its arrays, as the stream counts them; a trajectory state's TrajectoryRow
     * coordinates are as deep); twice that, so that a deeply nested crafted stream fails long before the stack does.
     */
    static final int MAX_DEPTH = 16;
    /** The most ParallelWrapper workers a saved state may hold (one state per worker, one worker per thread). */
    static final int MAX_WORKERS = 64;
    /** Objects of one worker's state besides its arrays: records, enum constants, boxed keys, descriptors. */
    static final int OBJECTS_PER_WORKER = 64;
    /** Objects of one listener's state besides its workers: records, enums, the configuration, descriptors. */
    static final int OBJECTS_PER_LISTENER = 64;
    /** Arrays that may always be this long: sink positions (one per sink), eigenvalue and eigenvector counts. */
    static final long SMALL_ARRAY = 1024;
    /**
     * The classes a state file may hold besides arrays of primitives, by name: the listeners' state records and
     * what they are made of. Anything else in a file is rejected before it is instantiated.
     */
    static final Set<String> ALLOWED_CLASSES = Set.of(
            DiffusionListener.State.class.getName(),
            DiffusionListener.Config.class.getName(),
            NoiseProbe.State.class.getName(),
            NoiseProbe.Config.class.getName(),
            TrajectoryListener.State.class.getName(),
            TrajectoryListener.WorkerState.class.getName(),
            TrajectoryListener.Config.class.getName(),
            TrajectoryRecorder.State.class.getName(),
            TrajectoryRecorder.Basis.class.getName(),
            TrajectoryRow.class.getName(),
            LoopStatistics.class.getName(),
            Failures.State.class.getName(),
            DiffusionSketch.class.getName(),
            DiffusionSketch.Centring.class.getName(),
            FrequentDirections.class.getName(),
            ProbeMode.class.getName(),
            ExampleSelection.class.getName(),
            SamplingScheme.class.getName(),
            DataType.class.getName(),
            TreeMap.class.getName(),
            Integer.class.getName(),
            Number.class.getName(),
            Enum.class.getName(),
            String.class.getName());

    private final Path dir;
    private final List<TrainingListener> listeners;
    private final Failures failures;
    private long infoSize = -1;
    private int lastSeen = -1;
    private boolean lateWarned;
    private boolean orderChecked;

    /**
     * @param checkpointDir the folder the CheckpointListener writes to
     * @param listeners the sgdnoise listeners whose state to save (DiffusionListener, TrajectoryListener)
     */
    public ListenerCheckpoints(Path checkpointDir, TrainingListener... listeners) {
        this(checkpointDir, false, listeners);
    }

    /** As {@link #ListenerCheckpoints(Path, TrainingListener...)}; with {@code failFast} a failed save is thrown. */
    public ListenerCheckpoints(Path checkpointDir, boolean failFast, TrainingListener... listeners) {
        if (checkpointDir == null) {
            throw new IllegalArgumentException("checkpointDir must not be null, got null");
        }
        this.dir = checkpointDir;
        this.listeners = checked(listeners);
        this.failures = new Failures(
                log,
                "saving the listeners' state beside a checkpoint",
                "Check that the checkpoint folder is writable.",
                failFast,
                0);
    }

    private static List<TrainingListener> checked(TrainingListener... listeners) {
        if (listeners == null || listeners.length == 0) {
            throw new IllegalArgumentException(
                    "listeners must name at least one DiffusionListener or TrajectoryListener, got none");
        }
        for (TrainingListener l : listeners) {
            if (!(l instanceof DiffusionListener || l instanceof TrajectoryListener)) {
                throw new IllegalArgumentException("listeners must be DiffusionListener or TrajectoryListener, got "
                        + (l == null ? "null" : l.getClass().getName()));
            }
        }
        return List.of(listeners);
    }

    /** The state file beside checkpoint {@code number} in {@code checkpointDir}. */
    public static Path stateFile(Path checkpointDir, int number) {
        File zip = CheckpointListener.getFileForCheckpoint(checkpointDir.toFile(), number);
        return zip.toPath().resolveSibling(zip.getName() + SUFFIX);
    }

    /** Failed saves so far. */
    public int failureCount() {
        return failures.total();
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        check(model, 1, 0); // the model's iteration count is incremented after the listeners run
    }

    @Override
    public void onEpochEnd(Model model) {
        check(model, 0, 1); // and its epoch count after onEpochEnd
    }

    /**
     * Saves the state beside a checkpoint written in this callback; the model's counts plus the increments
     * DL4J makes after the listeners are the counts training continues with.
     */
    private synchronized void check(Model model, int iterationStep, int epochStep) {
        if (failures.disabled()) {
            return;
        }
        int iteration = -1;
        try {
            if (Workers.parallel(Thread.currentThread())) {
                failures.fatal("ListenerCheckpoints does not support ParallelWrapper (one model per state file; DL4J's "
                        + "CheckpointListener does not support its workers either)");
                return;
            }
            int[] now = counts(model);
            iteration = now[0];
            if (!orderChecked) {
                orderChecked = true;
                String wrong = wrongOrder(model);
                if (wrong != null) {
                    failures.fatal(wrong);
                    return;
                }
            }
            long size;
            try {
                size = Files.size(dir.resolve("checkpointInfo.txt")); // one stat per iteration
            } catch (NoSuchFileException e) {
                return; // no checkpoint yet
            }
            if (size == infoSize) {
                return; // no new checkpoint
            }
            infoSize = size;
            Checkpoint c = CheckpointListener.lastCheckpoint(dir.toFile());
            if (c == null || c.getCheckpointNum() <= lastSeen) {
                return;
            }
            lastSeen = c.getCheckpointNum();
            if (c.getIteration() != now[0] || c.getEpoch() != now[1]) {
                if (!lateWarned) {
                    lateWarned = true;
                    log.warn(
                            "sgdnoise: checkpoint {} was written at iteration {} epoch {}, not in this callback "
                                    + "(iteration {} epoch {}): add ListenerCheckpoints after the CheckpointListener. "
                                    + "No state saved for it.",
                            c.getCheckpointNum(),
                            c.getIteration(),
                            c.getEpoch(),
                            now[0],
                            now[1]);
                }
                return;
            }
            write(stateFile(dir, c.getCheckpointNum()), now[0] + iterationStep, now[1] + epochStep, listeners);
            deleteOrphans();
            failures.success();
        } catch (IOException | RuntimeException e) {
            failures.fail(iteration, e);
        }
    }

    /**
     * Null when this saver comes after the CheckpointListener and after every listener it saves, so that the
     * state it saves is the state at the checkpoint; otherwise what is wrong.
     */
    private String wrongOrder(Model model) {
        List<TrainingListener> order = new ArrayList<>(
                model instanceof MultiLayerNetwork net
                        ? net.getListeners()
                        : ((ComputationGraph) model).getListeners());
        int self = order.indexOf(this);
        for (int i = self + 1; i < order.size(); i++) {
            TrainingListener l = order.get(i);
            if (l instanceof CheckpointListener || listeners.contains(l)) {
                return "it must come after the CheckpointListener and the listeners it saves, but "
                        + l.getClass().getSimpleName() + " comes after it: attach it last";
            }
        }
        return null;
    }

    /** Deletes the state files of checkpoints whose zip is gone (CheckpointListener's keepLast). */
    private void deleteOrphans() throws IOException {
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String name = p.getFileName().toString();
                if (name.matches("checkpoint_\\d+_.*\\.zip" + Pattern.quote(SUFFIX))
                        && !Files.exists(p.resolveSibling(name.substring(0, name.length() - SUFFIX.length())))) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /**
     * Saves the listeners' state to {@code file}, for a model between {@code fit} calls (its iteration and
     * epoch counts are the ones training continues with). For checkpoints, attach a ListenerCheckpoints instead.
     */
    public static void save(Path file, Model model, TrainingListener... listeners) throws IOException {
        int[] c = counts(model);
        write(file, c[0], c[1], checked(listeners));
    }

    private static void write(Path file, int nextIteration, int nextEpoch, List<TrainingListener> listeners)
            throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            writeTo(tmp, nextIteration, nextEpoch, listeners);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void writeTo(Path tmp, int nextIteration, int nextEpoch, List<TrainingListener> listeners)
            throws IOException {
        writeFile(tmp, FORMAT_VERSION, out -> {
            out.writeInt(nextIteration);
            out.writeInt(nextEpoch);
            out.writeInt(listeners.size());
            for (TrainingListener l : listeners) {
                out.writeUTF(l.getClass().getSimpleName());
                out.writeObject(l instanceof DiffusionListener d ? d.state() : ((TrajectoryListener) l).state());
            }
        });
    }

    /** What follows the header of a state file, written by {@link #writeFile}. */
    @FunctionalInterface
    interface Body {
        /** Writes the body. */
        void write(ObjectOutputStream out) throws IOException;
    }

    /**
     * Writes a state file: a Java serialisation stream of the magic string, {@code version} and the body, then
     * the CRC-32 of all those bytes ({@link #TRAILER_BYTES}). Tests write crafted files with it.
     */
    static void writeFile(Path file, int version, Body body) throws IOException {
        try (OutputStream raw = new BufferedOutputStream(Files.newOutputStream(file))) {
            CheckedOutputStream checked = new CheckedOutputStream(raw, new CRC32());
            ObjectOutputStream out = new ObjectOutputStream(checked);
            out.writeUTF(MAGIC);
            out.writeInt(version);
            body.write(out);
            out.flush(); // everything through the checksum; not closed, that would close the file
            new DataOutputStream(raw).writeLong(checked.getChecksum().getValue());
        }
    }

    /**
     * Restores the listeners' state from {@code file} and sets the model's iteration and epoch counts to the
     * ones the uninterrupted run continued with. The listeners must be configured as the saved ones, with the
     * same sinks, and given in the same order.
     *
     * @throws IOException when the file cannot be read or is not an sgdnoise state file
     * @throws IllegalArgumentException when the listeners do not match the saved ones
     */
    public static void restore(Path file, Model model, TrainingListener... listeners) throws IOException {
        List<TrainingListener> ls = checked(listeners);
        counts(model); // a supported model, before anything is changed
        Saved saved = read(file, model.numParams(), ls);
        List<String> given = ls.stream().map(l -> l.getClass().getSimpleName()).toList();
        if (!saved.names().equals(given)) {
            throw new IllegalArgumentException(
                    file + " holds the state of " + saved.names() + ", in that order; got " + given);
        }
        List<Object> states = saved.states();
        try {
            for (int i = 0; i < ls.size(); i++) { // every check before anything changes
                if (ls.get(i) instanceof DiffusionListener d) {
                    d.checkRestorable((DiffusionListener.State) states.get(i));
                } else {
                    ((TrajectoryListener) ls.get(i)).checkRestorable((TrajectoryListener.State) states.get(i));
                }
            }
        } catch (NullPointerException | ClassCastException e) {
            throw new IOException(file + " holds an incomplete listener state: " + e, e);
        }
        for (int i = 0; i < ls.size(); i++) {
            if (ls.get(i) instanceof DiffusionListener d) {
                d.restore((DiffusionListener.State) states.get(i));
            } else {
                ((TrajectoryListener) ls.get(i)).restore((TrajectoryListener.State) states.get(i));
            }
        }
        setCounts(model, saved.nextIteration(), saved.nextEpoch());
    }

    /** The content of a state file. */
    record Saved(int nextIteration, int nextEpoch, List<String> names, List<Object> states) {}

    /**
     * Reads a state file for {@code listeners} on a model of {@code d} parameters, in four steps, each failing
     * with one {@link IOException} that names the file: the header (magic string and {@link #FORMAT_VERSION});
     * the checksum over the whole file (truncated or altered files stop here, before anything is
     * deserialised); the state, through a {@link StateFilter} with the caps of {@link #limits}; the type of
     * each listener's state.
     */
    static Saved read(Path file, long d, List<TrainingListener> listeners) throws IOException {
        int version = version(file);
        if (version != FORMAT_VERSION) {
            throw new IOException(file + " has state format version " + version + "; this sgdnoise reads version "
                    + FORMAT_VERSION + " only (resume with the sgdnoise that wrote it, or start the listeners afresh)");
        }
        long body = Files.size(file) - TRAILER_BYTES;
        checkChecksum(file, body);
        StateFilter filter = new StateFilter(limits(body, d, listeners), ALLOWED_CLASSES);
        List<String> names = new ArrayList<>();
        List<Object> states = new ArrayList<>();
        int nextIteration;
        int nextEpoch;
        try (ObjectInputStream in =
                new ObjectInputStream(new BufferedInputStream(new Prefix(Files.newInputStream(file), body)))) {
            in.setObjectInputFilter(filter);
            in.readUTF(); // the header, checked above
            in.readInt();
            nextIteration = in.readInt();
            nextEpoch = in.readInt();
            int n = in.readInt();
            if (n < 0 || n > listeners.size()) {
                throw new InvalidObjectException("it names " + n + " listeners; " + listeners.size() + " were given");
            }
            for (int i = 0; i < n; i++) {
                names.add(in.readUTF());
                states.add(in.readObject());
            }
        } catch (IOException | ClassNotFoundException | RuntimeException e) {
            String why = filter.rejection() != null ? "it holds " + filter.rejection() : e.toString();
            throw new IOException(file + " is not a listener state file this sgdnoise can read: " + why, e);
        }
        for (int i = 0; i < names.size(); i++) {
            Class<?> expected = "DiffusionListener".equals(names.get(i))
                    ? DiffusionListener.State.class
                    : "TrajectoryListener".equals(names.get(i)) ? TrajectoryListener.State.class : null;
            if (expected == null || !expected.isInstance(states.get(i))) {
                throw new IOException(file + " is not a listener state file this sgdnoise can read: listener "
                        + names.get(i) + " has a state of type "
                        + (states.get(i) == null
                                ? "null"
                                : states.get(i).getClass().getName()));
            }
        }
        return new Saved(nextIteration, nextEpoch, names, states);
    }

    /** The format version in the header of {@code file}. */
    private static int version(Path file) throws IOException {
        try (ObjectInputStream in = new ObjectInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
            in.setObjectInputFilter(info -> ObjectInputFilter.Status.REJECTED); // the header holds no objects
            if (!MAGIC.equals(in.readUTF())) {
                throw new StreamCorruptedException("no " + MAGIC + " header");
            }
            return in.readInt();
        } catch (NoSuchFileException e) {
            throw e;
        } catch (IOException e) {
            throw new IOException(file + " is not an sgdnoise listener state file: " + e, e);
        }
    }

    /** Throws unless the last {@link #TRAILER_BYTES} of {@code file} are the CRC-32 of the {@code body} before. */
    private static void checkChecksum(Path file, long body) throws IOException {
        if (body < 0) {
            throw new IOException(
                    file + " is damaged: " + (body + TRAILER_BYTES) + " bytes, too short for its checksum");
        }
        CRC32 crc = new CRC32();
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            byte[] buffer = new byte[1 << 16];
            for (long left = body; left > 0; ) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
                if (n < 0) {
                    throw new EOFException("the file shrank while it was read");
                }
                crc.update(buffer, 0, n);
                left -= n;
            }
            if (new DataInputStream(in).readLong() != crc.getValue()) {
                throw new IOException("its CRC-32 does not match");
            }
        } catch (IOException e) {
            throw new IOException(
                    file + " is damaged (cut short or altered since it was written): " + e.getMessage(), e);
        }
    }

    /**
     * The caps of the filter a state file is read through, from the file and the live listeners that will
     * take the state, for a model of {@code d} parameters (every vector in a state has at most d entries):
     * <ul>
     *   <li>array length: the largest of d, a DiffusionListener's sketch buffer 2ℓ·d (checked by the sketch as
     *       one array), the trajectory's PCA sketch buffer 2ℓ·d (ℓ = 2m), its ring buffer's rows and row
     *       length, and {@link #SMALL_ARRAY};
     *   <li>depth: {@link #MAX_DEPTH};
     *   <li>references: per listener {@link #OBJECTS_PER_LISTENER}, plus per worker ({@link #MAX_WORKERS} at
     *       most) {@link #OBJECTS_PER_WORKER} and one per array row the worker's state holds;
     *   <li>bytes: {@code streamBytes}, the file without its checksum.
     * </ul>
     */
    static StateFilter.Limits limits(long streamBytes, long d, List<TrainingListener> listeners) {
        long maxArray = Math.max(SMALL_ARRAY, d);
        long perWorker = 0;
        for (TrainingListener l : listeners) {
            perWorker += OBJECTS_PER_WORKER;
            if (l instanceof DiffusionListener dl) {
                NoiseProbe.Config c = dl.config().probe();
                long sketchRows = 2L * c.sketchSize(); // a DiffusionSketch's buffer holds ℓ + ℓ rows
                maxArray = Math.max(maxArray, Math.max(Math.multiplyExact(sketchRows, d), c.topR()));
                perWorker += 2 * sketchRows + c.topR(); // sketch rows, Gram rows, eigenvectors
            } else {
                int[] sizes = ((TrajectoryListener) l).stateSizes(); // ring rows, row length, PCA ℓ
                long pcaRows = 2L * sizes[2];
                maxArray = Math.max(maxArray, Math.max(Math.multiplyExact(pcaRows, d), Math.max(sizes[0], sizes[1])));
                // Ring rows (a TrajectoryRow and its coordinates each), basis rows (m), PCA rows.
                perWorker += 2L * sizes[0] + sizes[1] + 2 * pcaRows;
            }
        }
        long refs = OBJECTS_PER_LISTENER * (long) listeners.size() + MAX_WORKERS * perWorker;
        return new StateFilter.Limits(maxArray, MAX_DEPTH, refs, streamBytes);
    }

    /** The first {@code limit} bytes of a stream: the state without its checksum. */
    private static final class Prefix extends FilterInputStream {
        private long left;

        Prefix(InputStream in, long limit) {
            super(in);
            this.left = limit;
        }

        @Override
        public int read() throws IOException {
            if (left <= 0) {
                return -1;
            }
            int b = super.read();
            if (b >= 0) {
                left--;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left <= 0) {
                return -1;
            }
            int n = super.read(b, off, (int) Math.min(len, left));
            if (n > 0) {
                left -= n;
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = super.skip(Math.min(n, left));
            left -= skipped;
            return skipped;
        }

        @Override
        public int available() throws IOException {
            return (int) Math.min(super.available(), left);
        }
    }

    /** Throws when a saved state's configuration or number of sinks differs from the listener's. */
    static void checkSame(String listener, Object savedConfig, Object config, int savedSinks, int sinks) {
        if (!savedConfig.equals(config)) {
            throw new IllegalArgumentException(
                    "the saved " + listener + " state was made with " + savedConfig + "; this listener has " + config);
        }
        if (savedSinks != sinks) {
            throw new IllegalArgumentException(
                    "the saved " + listener + " state has " + savedSinks + " sinks; this listener has " + sinks);
        }
    }

    /** Each sink's byte position, for the state: -1 for a sink that cannot resume. */
    static long[] positions(List<RecordSink> sinks) throws IOException {
        long[] p = new long[sinks.size()];
        for (int i = 0; i < p.length; i++) {
            p[i] = sinks.get(i).position();
        }
        return p;
    }

    /** Cuts each resumable sink back to its saved position. */
    static void resume(List<RecordSink> sinks, long[] positions) throws IOException {
        for (int i = 0; i < sinks.size(); i++) {
            if (positions[i] >= 0) {
                sinks.get(i).resumeAt(positions[i]);
            }
        }
    }

    private static int[] counts(Model model) {
        if (model instanceof MultiLayerNetwork net) {
            MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
            return new int[] {conf.getIterationCount(), conf.getEpochCount()};
        }
        if (model instanceof ComputationGraph cg) {
            return new int[] {
                cg.getConfiguration().getIterationCount(), cg.getConfiguration().getEpochCount()
            };
        }
        throw new IllegalArgumentException("model must be a MultiLayerNetwork or ComputationGraph, got "
                + (model == null ? "null" : model.getClass().getName()));
    }

    private static void setCounts(Model model, int iteration, int epoch) {
        if (model instanceof MultiLayerNetwork net) {
            net.getLayerWiseConfigurations().setIterationCount(iteration);
            net.getLayerWiseConfigurations().setEpochCount(epoch);
        } else if (model instanceof ComputationGraph cg) {
            cg.getConfiguration().setIterationCount(iteration);
            cg.getConfiguration().setEpochCount(epoch);
        } else {
            counts(model); // throws
        }
    }
}

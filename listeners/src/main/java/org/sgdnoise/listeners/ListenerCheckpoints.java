package org.sgdnoise.listeners;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InvalidClassException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.optimize.listeners.CheckpointListener;
import org.deeplearning4j.optimize.listeners.Checkpoint;
import org.sgdnoise.output.RecordSink;
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

    private static final Logger log = LoggerFactory.getLogger(ListenerCheckpoints.class);
    private static final String MAGIC = "sgdnoise-listener-state";
    private static final int VERSION = 1;
    private static final ObjectInputFilter FILTER = ObjectInputFilter.Config.createFilter(
            "maxdepth=20;org.sgdnoise.**;java.lang.*;java.util.*;org.nd4j.linalg.api.buffer.DataType;!*");

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
        this.failures = new Failures(log, "saving the listeners' state beside a checkpoint",
                "Check that the checkpoint folder is writable.", failFast, 0);
    }

    private static List<TrainingListener> checked(TrainingListener... listeners) {
        if (listeners == null || listeners.length == 0) {
            throw new IllegalArgumentException("listeners must name at least one DiffusionListener or TrajectoryListener, got none");
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
        return CheckpointListener.getFileForCheckpoint(checkpointDir.toFile(), number).toPath()
                .resolveSibling(CheckpointListener.getFileForCheckpoint(checkpointDir.toFile(), number).getName() + SUFFIX);
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
            } catch (java.nio.file.NoSuchFileException e) {
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
                    log.warn("sgdnoise: checkpoint {} was written at iteration {} epoch {}, not in this callback "
                                    + "(iteration {} epoch {}): add ListenerCheckpoints after the CheckpointListener. No "
                                    + "state saved for it.", c.getCheckpointNum(), c.getIteration(), c.getEpoch(), now[0], now[1]);
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
        List<TrainingListener> order = new ArrayList<>(model instanceof MultiLayerNetwork net ? net.getListeners()
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
                if (name.matches("checkpoint_\\d+_.*\\.zip" + java.util.regex.Pattern.quote(SUFFIX)) && !Files.exists(p.resolveSibling(name.substring(0, name.length() - SUFFIX.length())))) {
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

    private static void write(Path file, int nextIteration, int nextEpoch, List<TrainingListener> listeners) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            writeTo(tmp, nextIteration, nextEpoch, listeners);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void writeTo(Path tmp, int nextIteration, int nextEpoch, List<TrainingListener> listeners) throws IOException {
        try (ObjectOutputStream out = new ObjectOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp)))) {
            out.writeUTF(MAGIC);
            out.writeInt(VERSION);
            out.writeInt(nextIteration);
            out.writeInt(nextEpoch);
            out.writeInt(listeners.size());
            for (TrainingListener l : listeners) {
                out.writeUTF(l.getClass().getSimpleName());
                out.writeObject(l instanceof DiffusionListener d ? d.state() : ((TrajectoryListener) l).state());
            }
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
        List<Serializable> states = new ArrayList<>();
        int nextIteration;
        int nextEpoch;
        try (ObjectInputStream in = new ObjectInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
            in.setObjectInputFilter(FILTER);
            if (!MAGIC.equals(in.readUTF())) {
                throw new IOException(file + " is not an sgdnoise listener state file");
            }
            int version = in.readInt();
            if (version != VERSION) {
                throw new IOException(file + " has state format " + version + "; this sgdnoise reads " + VERSION);
            }
            nextIteration = in.readInt();
            nextEpoch = in.readInt();
            int n = in.readInt();
            List<String> names = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                names.add(in.readUTF());
                states.add((Serializable) in.readObject());
            }
            List<String> given = ls.stream().map(l -> l.getClass().getSimpleName()).toList();
            if (!names.equals(given)) {
                throw new IllegalArgumentException(file + " holds the state of " + names + ", in that order; got " + given);
            }
        } catch (ClassNotFoundException | InvalidClassException | ClassCastException e) {
            throw new IOException(file + " is not a state file this sgdnoise can read: " + e.getMessage(), e);
        }
        for (int i = 0; i < ls.size(); i++) { // every check before anything changes
            if (ls.get(i) instanceof DiffusionListener d) {
                d.checkRestorable((DiffusionListener.State) states.get(i));
            } else {
                ((TrajectoryListener) ls.get(i)).checkRestorable((TrajectoryListener.State) states.get(i));
            }
        }
        for (int i = 0; i < ls.size(); i++) {
            if (ls.get(i) instanceof DiffusionListener d) {
                d.restore((DiffusionListener.State) states.get(i));
            } else {
                ((TrajectoryListener) ls.get(i)).restore((TrajectoryListener.State) states.get(i));
            }
        }
        setCounts(model, nextIteration, nextEpoch);
    }

    /** Throws when a saved state's configuration or number of sinks differs from the listener's. */
    static void checkSame(String listener, Object savedConfig, Object config, int savedSinks, int sinks) {
        if (!savedConfig.equals(config)) {
            throw new IllegalArgumentException("the saved " + listener + " state was made with " + savedConfig
                    + "; this listener has " + config);
        }
        if (savedSinks != sinks) {
            throw new IllegalArgumentException("the saved " + listener + " state has " + savedSinks
                    + " sinks; this listener has " + sinks);
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
            return new int[] {net.getLayerWiseConfigurations().getIterationCount(), net.getLayerWiseConfigurations().getEpochCount()};
        }
        if (model instanceof ComputationGraph cg) {
            return new int[] {cg.getConfiguration().getIterationCount(), cg.getConfiguration().getEpochCount()};
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

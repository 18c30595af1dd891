package org.sgdnoise.listeners;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.optimize.listeners.Checkpoint;
import org.deeplearning4j.optimize.listeners.CheckpointListener;
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
    public static final int FORMAT_VERSION = StateFiles.FORMAT_VERSION;

    private static final Logger log = LoggerFactory.getLogger(ListenerCheckpoints.class);

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
            StateFiles.write(tmp, nextIteration, nextEpoch, listeners);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
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
        StateFiles.Saved saved = StateFiles.read(file, model.numParams(), ls);
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

package org.sgdnoise.listeners;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.zip.CRC32;
import java.util.zip.CheckedOutputStream;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.sgdnoise.diffusion.SamplingScheme;
import org.sgdnoise.gradients.ExampleSelection;
import org.sgdnoise.gradients.ProbeMode;
import org.sgdnoise.probe.NoiseProbe;
import org.sgdnoise.sketch.DiffusionSketch;
import org.sgdnoise.sketch.FrequentDirections;
import org.sgdnoise.trajectory.LoopStatistics;
import org.sgdnoise.trajectory.TrajectoryRecorder;
import org.sgdnoise.trajectory.TrajectoryRow;

/**
 * The listeners' state file format: a Java serialisation stream of a magic string, {@link #FORMAT_VERSION}, the
 * model's next counts and each listener's state, then the CRC-32 of all of it. Read in four checked steps
 * ({@link #read}); a crafted file fails with one {@link IOException} naming it, in bounded memory, through a
 * {@link StateFilter} whose caps come from the listeners that will take the state ({@link #limits}).
 */
final class StateFiles {

    /** The format written and the only one read. 1: the first format; 2: a CRC-32 trailer, a filter with caps. */
    static final int FORMAT_VERSION = 2;

    static final String MAGIC = "sgdnoise-listener-state";
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

    private StateFiles() {}

    /** Writes the listeners' state to {@code tmp}. */
    static void write(Path tmp, int nextIteration, int nextEpoch, List<TrainingListener> listeners) throws IOException {
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
}

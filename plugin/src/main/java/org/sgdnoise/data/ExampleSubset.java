package org.sgdnoise.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.CRC32;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.sgdnoise.UserInputException;
import org.sgdnoise.output.JsonDocument;

/**
 * Which examples of a data set a computation used: 0-based indices into it (the training split of an IDX folder,
 * the data rows of a CSV file, header and blank lines not counted), from a file ({@code --indices}) or drawn at
 * random with a seed ({@code --sample N --seed S}). Indices are distinct and in range; they keep the file's order,
 * or the order drawn.
 *
 * @param indices the examples, in order (a copy is kept)
 * @param datasetSize N, the number of examples the indices point into
 * @param file the indices file read, or the one a sample was written to; null before a sample is written
 * @param seed the sample's seed, or null for a file
 */
public record ExampleSubset(int[] indices, int datasetSize, Path file, Long seed) {

    /** Validates and copies. */
    public ExampleSubset {
        indices = indices.clone();
        if (indices.length < 2) {
            throw new IllegalArgumentException("a subset needs at least 2 examples, got " + indices.length);
        }
        boolean[] seen = new boolean[datasetSize];
        for (int i : indices) {
            if (i < 0 || i >= datasetSize || seen[i]) {
                throw new IllegalArgumentException("index " + i + " repeats or is outside [0, " + datasetSize + ")");
            }
            seen[i] = true;
        }
    }

    /** The indices, in order (a copy). */
    @Override
    public int[] indices() {
        return indices.clone();
    }

    /** The number of examples. */
    public int size() {
        return indices.length;
    }

    /**
     * Reads an indices file: one 0-based index per line; blank lines and lines starting with {@code #} are skipped.
     *
     * @throws UserInputException naming the file and line when it is missing or unreadable, a line is not a whole
     *     number, an index is out of range or repeats, or fewer than 2 examples are named
     */
    public static ExampleSubset read(Path file, int datasetSize) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UserInputException("indices file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new UserInputException("cannot read " + file + ": " + JsonDocument.reason(e), e);
        }
        List<Integer> rows = new ArrayList<>();
        Map<Integer, Integer> lineOf = new HashMap<>();
        for (int line = 1; line <= lines.size(); line++) {
            String t = lines.get(line - 1).strip();
            if (line == 1 && t.startsWith("\uFEFF")) {
                t = t.substring(1).strip();
            }
            if (t.isEmpty() || t.startsWith("#")) {
                continue;
            }
            long i;
            try {
                i = Long.parseLong(t);
            } catch (NumberFormatException e) {
                throw new UserInputException(file + " line " + line + ": not an index: " + t, e);
            }
            UserInputException.require(
                    i >= 0 && i < datasetSize,
                    file + " line " + line + ": index " + i + " is outside [0, " + datasetSize + ")");
            Integer before = lineOf.putIfAbsent((int) i, line);
            UserInputException.require(
                    before == null, file + " line " + line + ": index " + i + " repeats line " + before);
            rows.add((int) i);
        }
        UserInputException.require(rows.size() >= 2, file + " must name at least 2 examples, got " + rows.size());
        return new ExampleSubset(rows.stream().mapToInt(Integer::intValue).toArray(), datasetSize, file, null);
    }

    /**
     * {@code count} distinct examples of {@code datasetSize} drawn at random: a partial Fisher–Yates shuffle driven
     * by {@code new SplittableRandom(seed)} (never ND4J's generator), in the order drawn; O(count) memory.
     *
     * @throws UserInputException if count is below 2 or above the data set's size
     */
    public static ExampleSubset sample(int count, long seed, int datasetSize) {
        UserInputException.require(count >= 2, "sample must be >= 2, got " + count);
        UserInputException.require(
                count <= datasetSize, "sample must be <= the number of examples " + datasetSize + ", got " + count);
        SplittableRandom r = new SplittableRandom(seed);
        Map<Integer, Integer> swapped = new HashMap<>(); // position -> value, where it differs from the identity
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            int j = i + r.nextInt(datasetSize - i);
            int vj = swapped.getOrDefault(j, j);
            int vi = swapped.getOrDefault(i, i);
            swapped.put(j, vi);
            out[i] = vj;
        }
        return new ExampleSubset(out, datasetSize, null, seed);
    }

    /**
     * The subset the options ask for: the file's, a sample of {@code sample} examples, or null for neither.
     *
     * @param indices an indices file, or null
     * @param sample a sample size, 0 for none
     * @throws UserInputException if both are given
     */
    public static ExampleSubset choose(Path indices, int sample, long seed, int datasetSize) {
        UserInputException.require(
                indices == null || sample == 0, "--indices and --sample exclude each other: give one");
        if (indices != null) {
            return read(indices, datasetSize);
        }
        return sample > 0 ? sample(sample, seed, datasetSize) : null;
    }

    /**
     * Checks the options before any data is read: {@code --indices} and {@code --sample} exclude each other, and a
     * first-N limit cannot be combined with either (they index the whole data set).
     *
     * @param limitName the limit option's name, e.g. {@code --limit}
     */
    public static void checkOptions(Path indices, int sample, boolean limitGiven, String limitName) {
        UserInputException.require(sample >= 0, "sample must be >= 0 (0: none), got " + sample);
        UserInputException.require(
                indices == null || sample == 0, "--indices and --sample exclude each other: give one");
        UserInputException.require(
                !limitGiven || (indices == null && sample == 0),
                limitName + " cannot be combined with --indices or --sample: they index the whole data set");
    }

    /**
     * The chosen examples of {@code data} (features, labels and masks), in this subset's order. {@code data} must hold
     * the whole data set with one example per row of 2-d features (flat rows, before any reshaping for a CNN).
     */
    public DataSet select(DataSet data) {
        if (data.numExamples() != datasetSize) {
            throw new IllegalArgumentException(
                    "the subset indexes " + datasetSize + " examples, the data has " + data.numExamples());
        }
        return new DataSet(
                rows(data.getFeatures()),
                rows(data.getLabels()),
                rows(data.getFeaturesMaskArray()),
                rows(data.getLabelsMaskArray()));
    }

    private INDArray rows(INDArray a) {
        if (a == null) {
            return null;
        }
        if (a.rank() != 2) {
            throw new IllegalArgumentException(
                    "select needs 2-d rows (select before reshaping), got shape " + Arrays.toString(a.shape()));
        }
        return Nd4j.pullRows(a, 1, indices);
    }

    /** The file text: a comment saying where the subset came from, then one index per line; {@link #read} reads it. */
    public String fileText() {
        StringBuilder sb = new StringBuilder();
        sb.append("# sgdnoise: ")
                .append(seed != null ? "--sample " + indices.length + " --seed " + seed : "indices")
                .append(" of ")
                .append(datasetSize)
                .append(" examples (0-based)\n");
        for (int i : indices) {
            sb.append(i).append('\n');
        }
        return sb.toString();
    }

    /**
     * Writes {@link #fileText} to {@code path} (creating folders) and returns this subset with {@code file} set.
     *
     * @throws UserInputException if it cannot be written
     */
    public ExampleSubset writeTo(Path path) {
        try {
            Path parent = path.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(path, fileText(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UserInputException("cannot write " + path + ": " + JsonDocument.reason(e), e);
        }
        return new ExampleSubset(indices, datasetSize, path, seed);
    }

    /** Where a sample's indices go beside a JSON output: {@code x.json} → {@code x-indices.txt}. */
    public static Path besideOutput(Path out) {
        String name = out.getFileName().toString().replaceFirst("\\.json$", "");
        return out.resolveSibling(name + "-indices.txt");
    }

    /** CRC-32 of the indices in order, as 8 hex digits: tells two subsets apart in a results file. */
    public String checksum() {
        CRC32 crc = new CRC32();
        for (int i : indices) {
            crc.update(new byte[] {(byte) (i >>> 24), (byte) (i >>> 16), (byte) (i >>> 8), (byte) i});
        }
        return String.format("%08x", crc.getValue());
    }

    /**
     * The JSON entry {@code examples_used}: {@code selection} ({@code indices} or {@code sample}), {@code count},
     * {@code of} (N), {@code indices_file}, {@code seed} (null for a file) and {@code checksum}.
     */
    public Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("selection", seed != null ? "sample" : "indices");
        m.put("count", indices.length);
        m.put("of", datasetSize);
        m.put("indices_file", file == null ? null : file.toString());
        m.put("seed", seed);
        m.put("checksum", checksum());
        return m;
    }

    /**
     * The JSON entry {@code examples_used} without a subset: all {@code count} examples, or the first {@code count}
     * when a limit cut them ({@code limited}).
     */
    public static Map<String, Object> whole(int count, boolean limited) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("selection", limited ? "first" : "all");
        m.put("count", count);
        return m;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ExampleSubset s
                && Arrays.equals(indices, s.indices)
                && datasetSize == s.datasetSize
                && java.util.Objects.equals(file, s.file)
                && java.util.Objects.equals(seed, s.seed);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(indices) + datasetSize;
    }

    @Override
    public String toString() {
        return "ExampleSubset[" + indices.length + " of " + datasetSize
                + (seed != null ? ", seed " + seed : file != null ? ", " + file : "") + "]";
    }
}
